//! Basalt's executors alone: the same DAG run in-process by `DagRunner` over the rows held in
//! memory (no RocksDB, no MVCC, no gRPC). Next to the coprocessor path it tells how much of a
//! query's time the executors take and how much the storage path and the RPC add.

use std::sync::Arc;

use basalt_chunk::codec::table;
use basalt_copr::source::{scan_sorted, ScanSource, Visit};
use basalt_copr::DagRunner;
use basalt_proto::tipb;

use crate::dag::Query;
use crate::lineitem::TABLE_ID;

/// Rows sorted by key behind an `Arc` (a run's source is a cheap clone, unlike
/// `MemorySource`'s owned pairs), scanned with copr's `scan_sorted`.
#[derive(Clone)]
pub struct SortedRows {
    pairs: Arc<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl SortedRows {
    /// `pairs` must be sorted by key (the generator's order).
    pub fn new(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> SortedRows {
        SortedRows {
            pairs: Arc::new(pairs),
        }
    }
}

impl ScanSource for SortedRows {
    fn scan_each(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
        visit: Visit<'_>,
    ) -> basalt_copr::Result<usize> {
        scan_sorted(&self.pairs, lower, upper, desc, limit, visit)
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
