//! The RocksDB engine.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBRawIteratorWithThreadMode, Options,
    ReadOptions, SliceTransform, SnapshotWithThreadMode, WriteBatch, WriteOptions, DB,
};

use super::{
    EngineIterator, IterOptions, KvEngine, Modify, Snapshot, ALL_CFS, CF_LOCK, CF_RAFT, CF_WRITE,
};
use crate::error::{Error, Result};

/// Tuning knobs for the RocksDB instance.
#[derive(Debug, Clone)]
pub struct RocksOptions {
    /// Size of the shared block cache in bytes.
    pub block_cache_bytes: usize,
    /// Size of each memtable in bytes.
    pub write_buffer_bytes: usize,
    /// Background compaction and flush threads.
    pub background_jobs: i32,
}

impl Default for RocksOptions {
    fn default() -> Self {
        RocksOptions {
            block_cache_bytes: 256 << 20,
            write_buffer_bytes: 64 << 20,
            background_jobs: 2,
        }
    }
}

/// A RocksDB database with Basalt's column families, shared by reference counting.
#[derive(Clone)]
pub struct RocksEngine {
    db: Arc<DB>,
}

impl std::fmt::Debug for RocksEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksEngine")
            .field("path", &self.db.path())
            .finish()
    }
}

impl RocksEngine {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, options: &RocksOptions) -> Result<Self> {
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        let cf_options = |name: &str| {
            let mut block = BlockBasedOptions::default();
            block.set_block_cache(&cache);
            // TiKV's block sizes: 32 KiB for data and write records, 16 KiB for locks and
            // raft state. Larger blocks mean fewer block cache lookups per row on long scans.
            let small = name == CF_LOCK || name == CF_RAFT;
            block.set_block_size(if small { 16 << 10 } else { 32 << 10 });
            block.set_bloom_filter(10.0, false);
            // The write CF, like TiKV's, filters by user key (its keys without the commit
            // timestamp): MVCC point reads seek to a user key and want its versions, so a
            // filter of whole keys (timestamp included) could never answer them.
            let by_user_key = name == CF_WRITE;
            block.set_whole_key_filtering(!by_user_key);
            let mut cf = Options::default();
            if by_user_key {
                cf.set_prefix_extractor(SliceTransform::create(
                    "basalt.user_key",
                    user_key_prefix,
                    Some(has_timestamp),
                ));
                cf.set_memtable_prefix_bloom_ratio(0.1);
            }
            cf.set_block_based_table_factory(&block);
            cf.set_write_buffer_size(options.write_buffer_bytes);
            cf.set_compression_type(rocksdb::DBCompressionType::Lz4);
            cf
        };
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        db_options.set_max_background_jobs(options.background_jobs);
        db_options.set_keep_log_file_num(4);
        let descriptors = ALL_CFS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name)));
        let db = DB::open_cf_descriptors(&db_options, path, descriptors)?;
        Ok(RocksEngine { db: Arc::new(db) })
    }

    /// The underlying database, for tools and benchmarks.
    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        cf_handle(&self.db, name)
    }
}

/// Bytes of MVCC timestamp at the end of a write-CF key.
const TIMESTAMP_LEN: usize = 8;

/// The prefix the write CF's bloom filters are built on: the key without its timestamp.
fn user_key_prefix(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(TIMESTAMP_LEN)]
}

/// Keys too short to carry a timestamp are kept out of the prefix filters.
fn has_timestamp(key: &[u8]) -> bool {
    key.len() >= TIMESTAMP_LEN
}

fn cf_handle<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| Error::InvalidRequest(format!("unknown column family {name:?}")))
}

fn read_options(options: IterOptions) -> ReadOptions {
    let mut read = ReadOptions::default();
    if let Some(lower) = options.lower_bound {
        read.set_iterate_lower_bound(lower);
    }
    if let Some(upper) = options.upper_bound {
        read.set_iterate_upper_bound(upper);
    }
    read.fill_cache(options.fill_cache);
    if options.prefix_seek {
        read.set_prefix_same_as_start(true);
    } else {
        read.set_total_order_seek(true);
    }
    read
}

impl KvEngine for RocksEngine {
    type Snap = RocksSnapshot;

    fn snapshot(&self) -> RocksSnapshot {
        let snapshot = self.db.snapshot();
        // SAFETY: the snapshot borrows `*self.db`. We extend that borrow to 'static and keep an
        // `Arc<DB>` next to it in `SnapshotInner`, whose field order drops the snapshot before
        // the Arc, so the database outlives every use of the snapshot.
        let snapshot: SnapshotWithThreadMode<'static, DB> =
            unsafe { std::mem::transmute(snapshot) };
        RocksSnapshot {
            inner: Arc::new(SnapshotInner {
                snapshot,
                db: self.db.clone(),
            }),
        }
    }

    fn write(&self, batch: &[Modify], sync: bool) -> Result<()> {
        let mut write_batch = WriteBatch::default();
        for modify in batch {
            match modify {
                Modify::Put(cf, key, value) => write_batch.put_cf(self.cf(cf)?, key, value),
                Modify::Delete(cf, key) => write_batch.delete_cf(self.cf(cf)?, key),
                Modify::DeleteRange(cf, start, end) => {
                    write_batch.delete_range_cf(self.cf(cf)?, start, end)
                }
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.db.write_opt(write_batch, &options)?;
        Ok(())
    }

    fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf)?, key)?)
    }
}

struct SnapshotInner {
    // Declared first so it drops before `db`.
    snapshot: SnapshotWithThreadMode<'static, DB>,
    db: Arc<DB>,
}

/// A RocksDB snapshot that owns a reference to its database.
#[derive(Clone)]
pub struct RocksSnapshot {
    inner: Arc<SnapshotInner>,
}

impl Snapshot for RocksSnapshot {
    type Iter = RocksIterator;

    fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let handle = cf_handle(&self.inner.db, cf)?;
        Ok(self.inner.snapshot.get_cf(handle, key)?)
    }

    fn iterator_cf(&self, cf: &str, options: IterOptions) -> Result<RocksIterator> {
        let handle = cf_handle(&self.inner.db, cf)?;
        let iter = self
            .inner
            .snapshot
            .raw_iterator_cf_opt(handle, read_options(options));
        // SAFETY: the iterator borrows the snapshot (and through it the database). We keep an
        // `Arc<SnapshotInner>` in `RocksIterator`, declared after the iterator so the iterator
        // drops first, which keeps both alive for as long as the iterator exists.
        let iter: DBRawIteratorWithThreadMode<'static, DB> = unsafe { std::mem::transmute(iter) };
        Ok(RocksIterator {
            iter,
            _snapshot: self.inner.clone(),
        })
    }
}

/// A cursor over a RocksDB snapshot.
pub struct RocksIterator {
    // Declared first so it drops before the snapshot it reads.
    iter: DBRawIteratorWithThreadMode<'static, DB>,
    _snapshot: Arc<SnapshotInner>,
}

impl RocksIterator {
    fn status(&self) -> Result<bool> {
        if self.iter.valid() {
            return Ok(true);
        }
        self.iter.status()?;
        Ok(false)
    }
}

impl EngineIterator for RocksIterator {
    fn seek(&mut self, key: &[u8]) -> Result<bool> {
        self.iter.seek(key);
        self.status()
    }

    fn seek_for_prev(&mut self, key: &[u8]) -> Result<bool> {
        self.iter.seek_for_prev(key);
        self.status()
    }

    fn seek_to_first(&mut self) -> Result<bool> {
        self.iter.seek_to_first();
        self.status()
    }

    fn seek_to_last(&mut self) -> Result<bool> {
        self.iter.seek_to_last();
        self.status()
    }

    fn next(&mut self) -> Result<bool> {
        self.iter.next();
        self.status()
    }

    fn prev(&mut self) -> Result<bool> {
        self.iter.prev();
        self.status()
    }

    fn valid(&self) -> Result<bool> {
        self.status()
    }

    fn key(&self) -> &[u8] {
        self.iter.key().unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        self.iter.value().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{CF_LOCK, CF_WRITE};

    #[test]
    fn snapshots_iterators_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let engine = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        let batch: Vec<Modify> = (0u8..10)
            .map(|i| Modify::Put(CF_WRITE, vec![b'k', i], vec![i]))
            .chain([Modify::Put(CF_LOCK, b"lock".to_vec(), b"l".to_vec())])
            .collect();
        engine.write(&batch, true).unwrap();
        let snapshot = engine.snapshot();
        engine
            .write(
                &[Modify::DeleteRange(CF_WRITE, vec![b'k', 0], vec![b'k', 5])],
                true,
            )
            .unwrap();
        // The snapshot still sees everything; the engine does not.
        assert_eq!(
            snapshot.get_cf(CF_WRITE, &[b'k', 1]).unwrap(),
            Some(vec![1])
        );
        assert_eq!(engine.get_cf(CF_WRITE, &[b'k', 1]).unwrap(), None);
        let mut iter = snapshot
            .iterator_cf(CF_WRITE, IterOptions::bounded(&[b'k', 3], &[b'k', 6]))
            .unwrap();
        let mut keys = Vec::new();
        let mut valid = iter.seek_to_first().unwrap();
        while valid {
            keys.push(iter.key().to_vec());
            valid = iter.next().unwrap();
        }
        assert_eq!(keys, vec![vec![b'k', 3], vec![b'k', 4], vec![b'k', 5]]);
        assert!(iter.seek_for_prev(&[b'k', 9]).unwrap());
        assert_eq!(iter.key(), &[b'k', 5]);
        // The snapshot outlives the engine handle that made it.
        drop(engine);
        assert_eq!(
            snapshot.get_cf(CF_LOCK, b"lock").unwrap(),
            Some(b"l".to_vec())
        );
        assert!(snapshot.get_cf("nope", b"x").is_err());
        drop(iter);
        drop(snapshot);
        let engine = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        assert_eq!(engine.get_cf(CF_WRITE, &[b'k', 7]).unwrap(), Some(vec![7]));
        assert_eq!(engine.get_cf(CF_WRITE, &[b'k', 2]).unwrap(), None);
    }

    /// A store holding `batch`, flushed and reopened (so its block cache starts empty).
    fn flushed_store(dir: &std::path::Path, batch: &[Modify]) -> RocksEngine {
        {
            let engine = RocksEngine::open(dir, &RocksOptions::default()).unwrap();
            engine.write(batch, false).unwrap();
            for cf in [CF_WRITE, CF_LOCK] {
                engine.db().flush_cf(engine.cf(cf).unwrap()).unwrap();
            }
        }
        RocksEngine::open(dir, &RocksOptions::default()).unwrap()
    }

    fn cache_usage(engine: &RocksEngine) -> u64 {
        engine
            .db()
            .property_int_value("rocksdb.block-cache-usage")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn default_iterators_fill_the_block_cache() {
        let dir = tempfile::tempdir().unwrap();
        let batch: Vec<Modify> = (0u32..2000)
            .map(|i| Modify::Put(CF_WRITE, i.to_be_bytes().to_vec(), vec![7; 100]))
            .collect();
        let engine = flushed_store(dir.path(), &batch);
        let before = cache_usage(&engine);
        let snapshot = engine.snapshot();
        let seek = |options: IterOptions| {
            let mut iter = snapshot.iterator_cf(CF_WRITE, options).unwrap();
            assert!(iter.seek(&1000u32.to_be_bytes()).unwrap());
            assert_eq!(iter.value(), &[7; 100]);
        };
        seek(IterOptions::default().fill_cache(false));
        assert_eq!(
            cache_usage(&engine),
            before,
            "a fill_cache: false read left blocks in the cache"
        );
        seek(IterOptions::default());
        assert!(
            cache_usage(&engine) > before,
            "the default iterator did not fill the cache"
        );
    }

    #[test]
    fn scans_asked_not_to_fill_the_cache_leave_it_alone() {
        use crate::mvcc::{scan_each, Key, ScanOptions, Write, WriteType};
        let dir = tempfile::tempdir().unwrap();
        let batch: Vec<Modify> = (0u32..2000)
            .map(|i| {
                let key = Key::from_raw(format!("row{i:05}").as_bytes()).append_ts(20);
                let write = Write::new(WriteType::Put, 10, Some(vec![b'v'; 100]));
                Modify::Put(CF_WRITE, key, write.to_bytes())
            })
            .collect();
        let engine = flushed_store(dir.path(), &batch);
        let scan = |not_fill_cache: bool| {
            let options = ScanOptions {
                lower: b"row".to_vec(),
                upper: b"rox".to_vec(),
                limit: usize::MAX,
                read_ts: 30,
                not_fill_cache,
                ..ScanOptions::default()
            };
            let mut values = 0;
            scan_each(
                engine.snapshot(),
                &options,
                |_: &Key, value: crate::Result<&[u8]>| {
                    assert_eq!(value.unwrap(), &[b'v'; 100]);
                    values += 1;
                    Ok::<(), crate::Error>(())
                },
            )
            .unwrap();
            values
        };
        let before = cache_usage(&engine);
        assert_eq!(scan(true), 2000);
        assert_eq!(
            cache_usage(&engine),
            before,
            "a not_fill_cache scan left blocks in the cache"
        );
        assert_eq!(scan(false), 2000);
        assert!(cache_usage(&engine) > before, "a plain scan filled nothing");
    }

    /// Tombstones the lock column family's iterators skipped while `read` ran on this thread.
    fn lock_tombstones_skipped(read: impl FnOnce()) -> u64 {
        use rocksdb::perf::{set_perf_stats, PerfContext, PerfMetric, PerfStatsLevel};
        set_perf_stats(PerfStatsLevel::EnableCount);
        let mut context = PerfContext::default();
        context.reset();
        read();
        let skipped = context.metric(PerfMetric::InternalDeleteSkippedCount);
        set_perf_stats(PerfStatsLevel::Disable);
        skipped
    }

    #[test]
    fn a_scan_read_in_batches_walks_the_lock_tombstones_once() {
        use crate::mvcc::{Key, MvccScanner, ScanOptions, Write, WriteType};
        // What transactions leave behind: each key committed, its lock put and then deleted
        // (a tombstone in the lock CF until compaction drops it).
        const KEYS: u64 = 2000;
        let dir = tempfile::tempdir().unwrap();
        let engine = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        for i in 0..KEYS {
            let key = Key::from_raw(format!("row{i:05}").as_bytes());
            let write = Write::new(WriteType::Put, 10, Some(b"v".to_vec()));
            engine
                .write(
                    &[
                        Modify::Put(CF_LOCK, key.as_encoded().to_vec(), b"lock".to_vec()),
                        Modify::Put(CF_WRITE, key.append_ts(20), write.to_bytes()),
                    ],
                    false,
                )
                .unwrap();
            engine
                .write(&[Modify::Delete(CF_LOCK, key.as_encoded().to_vec())], false)
                .unwrap();
        }
        for per_batch in [false, true] {
            let options = ScanOptions {
                lower: b"row".to_vec(),
                upper: b"rox".to_vec(),
                read_ts: 30,
                check_locks_per_batch: per_batch,
                ..ScanOptions::default()
            };
            let mut rows = 0;
            let skipped = lock_tombstones_skipped(|| {
                let mut scanner = MvccScanner::new(engine.snapshot(), options).unwrap();
                while scanner
                    .next_batch(16, |_, value| value.map(|_| rows += 1))
                    .unwrap()
                    == 16
                {}
            });
            assert_eq!(rows, KEYS);
            // Once through the range.
            assert!(
                skipped <= 2 * KEYS,
                "per batch {per_batch}: {skipped} tombstones skipped for {KEYS} keys"
            );
        }
        // What the coprocessor did before: a new scanner per batch, resumed after the last key,
        // walks the lock tombstones from each batch's start to the range's end (about
        // KEYS² / 32 here).
        let mut lower = b"row".to_vec();
        let skipped = lock_tombstones_skipped(|| loop {
            let options = ScanOptions {
                lower: lower.clone(),
                upper: b"rox".to_vec(),
                read_ts: 30,
                ..ScanOptions::default()
            };
            let mut scanner = MvccScanner::new(engine.snapshot(), options).unwrap();
            let mut last = None;
            let got = scanner
                .next_batch(16, |key: &Key, _| {
                    last = Some(key.to_raw()?);
                    Ok::<(), crate::Error>(())
                })
                .unwrap();
            match last {
                Some(key) if got == 16 => lower = [key, vec![0]].concat(),
                _ => break,
            }
        });
        assert!(skipped > 20 * KEYS, "{skipped}");
    }

    #[test]
    fn prefix_seeks_keep_to_one_user_key_in_files_and_memtable() {
        use crate::mvcc::Key;
        let dir = tempfile::tempdir().unwrap();
        let version = |user: &str, ts: u64| Key::from_raw(user.as_bytes()).append_ts(ts);
        let put = |user: &str, ts: u64| Modify::Put(CF_WRITE, version(user, ts), vec![ts as u8]);
        // Two versions of "a" and one of "c" in a file, one more of "a" in the memtable.
        let engine = flushed_store(dir.path(), &[put("a", 10), put("a", 20), put("c", 5)]);
        engine.write(&[put("a", 30)], false).unwrap();
        let snapshot = engine.snapshot();
        let versions = |user: &str, options: IterOptions| {
            let mut iter = snapshot.iterator_cf(CF_WRITE, options).unwrap();
            let mut seen = Vec::new();
            let mut valid = iter.seek(&version(user, u64::MAX)).unwrap();
            while valid {
                seen.push(iter.value()[0]);
                valid = iter.next().unwrap();
            }
            seen
        };
        // Newest first (timestamps are stored inverted); a prefix seek stops at the last
        // version of its user key, a total-order one goes on to the next key.
        assert_eq!(versions("a", IterOptions::prefix_seek()), vec![30, 20, 10]);
        assert_eq!(versions("a", IterOptions::default()), vec![30, 20, 10, 5]);
        assert_eq!(versions("c", IterOptions::prefix_seek()), vec![5]);
        assert!(versions("b", IterOptions::prefix_seek()).is_empty());
        // Keys too short for a timestamp stay readable.
        engine
            .write(&[Modify::Put(CF_WRITE, b"k".to_vec(), vec![1])], false)
            .unwrap();
        assert_eq!(engine.get_cf(CF_WRITE, b"k").unwrap(), Some(vec![1]));
    }
}
