//! Basalt's executors alone: the same DAG run in-process by `DagRunner` over the rows held in
//! memory (no RocksDB, no MVCC, no gRPC). Next to the coprocessor path it tells how much of a
//! query's time the executors take and how much the storage path and the RPC add.

use std::sync::Arc;

use basalt_chunk::codec::table;
use basalt_copr::source::{RowKey, ScanSource, SortedScan};
use basalt_copr::DagRunner;
use basalt_proto::tipb;

use crate::dag::Query;
use crate::lineitem::TABLE_ID;

/// Rows sorted by key behind an `Arc` (a run's source is a cheap clone, unlike
/// `MemorySource`'s owned pairs), scanned with copr's `SortedScan`.
#[derive(Clone)]
pub struct SortedRows {
    pairs: Arc<Vec<(Vec<u8>, Vec<u8>)>>,
    scan: SortedScan,
}

impl SortedRows {
    /// `pairs` must be sorted by key (the generator's order).
    pub fn new(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> SortedRows {
        SortedRows {
            pairs: Arc::new(pairs),
            scan: SortedScan::default(),
        }
    }
}

impl ScanSource for SortedRows {
    fn begin_scan(&mut self, lower: &[u8], upper: &[u8], desc: bool) -> basalt_copr::Result<()> {
        self.scan = SortedScan::begin(&self.pairs, lower, upper, desc);
        Ok(())
    }

    fn scan_next<F>(&mut self, limit: usize, visit: F) -> basalt_copr::Result<usize>
    where
        F: FnMut(RowKey<'_>, &[u8]) -> basalt_copr::Result<()>,
    {
        self.scan.next(&self.pairs, limit, visit)
    }
}

/// Runs `query` over all of `rows` in this process.
pub fn run(query: &Query, rows: &SortedRows) -> Result<tipb::SelectResponse, String> {
    let runner = DagRunner::build(
        &query.dag,
        vec![table::record_range(TABLE_ID)],
        rows.clone(),
        0,
    )
    .map_err(|e| format!("building the DAG: {e}"))?;
    runner.run().map_err(|e| format!("running the DAG: {e}"))
}
