//! The bulk load: lineitem's rows written straight into a store's RocksDB as committed
//! transactional data (a write record per row, holding the row when it is short, as
//! Percolator's commit leaves it), before the server starts on that directory. The bare scan
//! runs on the same files.

use std::path::Path;
use std::time::{Duration, Instant};

use basalt_chunk::codec::table;
use basalt_storage::engine::{
    EngineIterator, IterOptions, KvEngine, Modify, RocksEngine, RocksOptions, Snapshot, CF_DEFAULT,
    CF_WRITE,
};
use basalt_storage::kv::data_key;
use basalt_storage::mvcc::{Key, Write, WriteType, SHORT_VALUE_MAX_LEN};

use crate::lineitem::{self, Lineitem, TABLE_ID};

/// Rows per write batch.
const BATCH_ROWS: usize = 20_000;

/// What a load wrote.
pub struct Loaded {
    /// The plain columns of the same rows.
    pub data: Lineitem,
    /// Bytes of keys and values written.
    pub bytes: u64,
    /// How long generating and writing took.
    pub took: Duration,
    /// The rows (key, row-v2 value) in key order, when asked for.
    pub pairs: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// The RocksDB of a store's data directory, opened as the server opens it.
pub fn open(data_dir: &Path) -> Result<RocksEngine, String> {
    RocksEngine::open(&data_dir.join("db"), &RocksOptions::default()).map_err(|e| e.to_string())
}

/// Loads lineitem at `sf` into `data_dir`'s store, committed at `commit_ts` (started at
/// `commit_ts - 1`), and flushes and compacts it into SST files; with `keep_pairs` the rows are kept in memory
/// too.
pub fn load(data_dir: &Path, sf: f64, commit_ts: u64, keep_pairs: bool) -> Result<Loaded, String> {
    let started = Instant::now();
    let engine = open(data_dir)?;
    let mut batch: Vec<Modify> = Vec::with_capacity(BATCH_ROWS);
    let mut bytes = 0u64;
    let mut failed = None;
    let mut pairs = keep_pairs.then(Vec::new);
    let data = lineitem::generate(sf, |raw_key, row| {
        if failed.is_some() {
            return;
        }
        if let Some(pairs) = pairs.as_mut() {
            pairs.push((raw_key.clone(), row.clone()));
        }
        let key = Key::from_raw(&raw_key);
        let start_ts = commit_ts - 1;
        let write_key = data_key(&key.append_ts(commit_ts));
        bytes += (write_key.len() + row.len()) as u64;
        if row.len() <= SHORT_VALUE_MAX_LEN {
            let write = Write::new(WriteType::Put, start_ts, Some(row));
            batch.push(Modify::Put(CF_WRITE, write_key, write.to_bytes()));
        } else {
            let write = Write::new(WriteType::Put, start_ts, None);
            batch.push(Modify::Put(
                CF_DEFAULT,
                data_key(&key.append_ts(start_ts)),
                row,
            ));
            batch.push(Modify::Put(CF_WRITE, write_key, write.to_bytes()));
        }
        if batch.len() >= BATCH_ROWS {
            if let Err(err) = engine.write(&batch, false) {
                failed = Some(err.to_string());
            }
            batch.clear();
        }
    });
    if let Some(err) = failed {
        return Err(err);
    }
    engine.write(&batch, false).map_err(|e| e.to_string())?;
    for cf in [CF_DEFAULT, CF_WRITE] {
        let handle = engine
            .db()
            .cf_handle(cf)
            .ok_or_else(|| format!("no column family {cf}"))?;
        engine.db().flush_cf(&handle).map_err(|e| e.to_string())?;
        // One settled bottom level, as an import of sorted files leaves it: the scans measured
        // next do not race background compactions.
        engine
            .db()
            .compact_range_cf(&handle, None::<&[u8]>, None::<&[u8]>);
    }
    Ok(Loaded {
        data,
        bytes,
        took: started.elapsed(),
        pairs,
    })
}

/// The table's rows as the store keeps them: the write column family's keys from the first
/// row to past the last.
pub fn table_data_range() -> (Vec<u8>, Vec<u8>) {
    let (start, end) = table::record_range(TABLE_ID);
    (
        data_key(Key::from_raw(&start).as_encoded()),
        data_key(Key::from_raw(&end).as_encoded()),
    )
}

/// The row path's own limit: a bare iterator over the table's write records (each holding
/// its row), touching every key and value. Answers the rows and bytes seen.
pub fn bare_scan(engine: &RocksEngine) -> Result<(u64, u64), String> {
    let (start, end) = table_data_range();
    let snapshot = engine.snapshot();
    let mut iter = snapshot
        .iterator_cf(CF_WRITE, IterOptions::bounded(&start, &end))
        .map_err(|e| e.to_string())?;
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut valid = iter.seek_to_first().map_err(|e| e.to_string())?;
    while valid {
        rows += 1;
        bytes += (iter.key().len() + iter.value().len()) as u64;
        valid = iter.next().map_err(|e| e.to_string())?;
    }
    Ok((rows, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loaded_table_is_scanned_row_for_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let loaded = load(dir.path(), 0.001, 1000, true).expect("load");
        assert_eq!(loaded.pairs.as_ref().map(Vec::len), Some(loaded.data.len()));
        let engine = open(dir.path()).expect("reopen");
        let (rows, bytes) = bare_scan(&engine).expect("scan");
        assert_eq!(rows as usize, loaded.data.len());
        assert!(bytes >= loaded.bytes, "{bytes} < {}", loaded.bytes);
    }
}
