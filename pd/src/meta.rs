//! Durable metadata: a small RocksDB holding the cluster id, the id allocator's high-water
//! mark, the TSO window, the GC safe points, stores and regions.

use std::path::Path;

use rocksdb::{Options, WriteBatch, WriteOptions, DB};

use crate::error::{Error, Result};

/// The PD's metadata database.
pub struct MetaStore {
    db: DB,
}

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
/// Prefix of stores (`store/{id:020}`).
pub const STORE_PREFIX: &[u8] = b"store/";
/// Prefix of regions (`region/{id:020}`).
pub const REGION_PREFIX: &[u8] = b"region/";
/// Prefix of service GC safe points (`service_gc/{service id}`).
pub const SERVICE_GC_PREFIX: &[u8] = b"service_gc/";

/// The key of an id under a prefix.
pub fn id_key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(format!("{id:020}").as_bytes());
    key
}

impl MetaStore {
    /// Opens (creating) the metadata database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_keep_log_file_num(2);
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
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => {
                let array: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                    Error::Corrupted(format!(
                        "{} holds {} bytes, want 8",
                        String::from_utf8_lossy(key),
                        bytes.len()
                    ))
                })?;
                Ok(Some(u64::from_be_bytes(array)))
            }
        }
    }

    /// Writes values atomically and durably.
    pub fn put_all(&self, pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for (key, value) in pairs {
            batch.put(key, value);
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        Ok(self.db.write_opt(batch, &options)?)
    }

    /// Writes one value durably.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_all(&[(key.to_vec(), value.to_vec())])
    }

    /// Writes a u64 durably.
    pub fn put_u64(&self, key: &[u8], value: u64) -> Result<()> {
        self.put(key, &value.to_be_bytes())
    }

    /// Every value under `prefix`, in key order.
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
