//! Durable metadata: a small RocksDB (PD's own, never the store's) holding the cluster id, the
//! bootstrapped cluster meta, the id allocator's high-water mark, the TSO window, the GC safe
//! points, stores and regions. Every write is synced.

use std::path::Path;

use rocksdb::{Options, WriteBatch, WriteOptions, DB};

use crate::error::{Error, Result};

/// Key of the cluster id.
pub const CLUSTER_ID: &[u8] = b"cluster_id";
/// Key of the bootstrapped cluster's `metapb.Cluster`.
pub const CLUSTER_META: &[u8] = b"cluster_meta";
/// Key of the id allocator's high-water mark.
pub const ALLOC_ID: &[u8] = b"alloc_id";
/// Key of the TSO window's end (physical milliseconds).
pub const TSO_WINDOW: &[u8] = b"tso_window";
/// Key of the GC safe point.
pub const GC_SAFE_POINT: &[u8] = b"gc_safe_point";
/// Prefix of stores (`store/{id:020}` → `metapb.Store`).
pub const STORE_PREFIX: &[u8] = b"store/";
/// Prefix of regions (`region/{id:020}` → `metapb.Region`).
pub const REGION_PREFIX: &[u8] = b"region/";
/// Prefix of service GC safe points (`service_gc/{service id}` → safe point, expiry).
pub const SERVICE_GC_PREFIX: &[u8] = b"service_gc/";

/// The key of an id under a prefix.
pub fn id_key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(format!("{id:020}").as_bytes());
    key
}

/// Reads a big-endian u64 stored under `what`.
pub fn decode_u64(what: &str, bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupted(format!("{what} holds {} bytes, want 8", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}

/// Ids reserved on disk ahead of use, so most allocations do not write.
const ID_BATCH: u64 = 1000;

/// The id allocator: ids up to `limit` are reserved on disk (`ALLOC_ID`), so ids never repeat,
/// also across restarts.
pub struct IdAllocator {
    next: u64,
    limit: u64,
}

impl IdAllocator {
    /// An allocator continuing after the stored high-water mark `limit`.
    pub fn starting_at(limit: u64) -> IdAllocator {
        IdAllocator { next: limit, limit }
    }

    /// Allocates `count` (at least 1) consecutive ids and returns the last.
    pub fn alloc(&mut self, meta: &MetaStore, count: u64) -> Result<u64> {
        let last = self
            .next
            .checked_add(count.max(1))
            .ok_or_else(|| Error::InvalidArgument("id space exhausted".into()))?;
        if last > self.limit {
            let limit = last.saturating_add(ID_BATCH);
            meta.put_u64(ALLOC_ID, limit)?;
            self.limit = limit;
        }
        self.next = last;
        Ok(last)
    }
}

/// A set of puts and deletes applied atomically.
#[derive(Default)]
pub struct Changes {
    batch: WriteBatch,
}

impl Changes {
    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.batch.put(key, value);
        self
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: &[u8]) -> &mut Self {
        self.batch.delete(key);
        self
    }
}

/// The PD's metadata database.
pub struct MetaStore {
    db: DB,
}

impl MetaStore {
    /// Opens (creating) the metadata database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_keep_log_file_num(2);
        options.set_max_total_wal_size(16 << 20);
        Ok(MetaStore {
            db: DB::open(&options, path)?,
        })
    }

    /// Reads a value.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?)
    }

    /// Reads a u64 written by `put_u64`.
    pub fn get_u64(&self, key: &[u8]) -> Result<Option<u64>> {
        self.get(key)?
            .map(|bytes| decode_u64(&String::from_utf8_lossy(key), &bytes))
            .transpose()
    }

    /// Applies `changes` atomically and durably.
    pub fn write(&self, changes: Changes) -> Result<()> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        Ok(self.db.write_opt(changes.batch, &options)?)
    }

    /// Writes one value durably.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut changes = Changes::default();
        changes.put(key, value);
        self.write(changes)
    }

    /// Writes a u64 durably.
    pub fn put_u64(&self, key: &[u8], value: u64) -> Result<()> {
        self.put(key, &value.to_be_bytes())
    }

    /// Every pair under `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut iter = self.db.raw_iterator();
        iter.seek(prefix);
        while iter.valid() {
            let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                break;
            };
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_vec(), value.to_vec()));
            iter.next();
        }
        iter.status()?;
        Ok(out)
    }
}
