//! Basalt's executors alone: the same DAG run in-process by `DagRunner` over the rows held in
//! memory (no RocksDB, no MVCC, no gRPC). Next to the coprocessor path it tells how much of a
//! query's time the executors take and how much the storage path and the RPC add.

use std::sync::Arc;

use basalt_chunk::codec::table;
use basalt_copr::source::ScanSource;
use basalt_copr::DagRunner;
use basalt_proto::tipb;

use crate::dag::Query;
use crate::lineitem::TABLE_ID;

/// Rows sorted by key, found by binary search, cloned as a snapshot scan returns them.
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
    fn scan(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
    ) -> basalt_copr::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let from = self
            .pairs
            .partition_point(|(key, _)| key.as_slice() < lower);
        let to = if upper.is_empty() {
            self.pairs.len()
        } else {
            self.pairs
                .partition_point(|(key, _)| key.as_slice() < upper)
        };
        let inside = &self.pairs[from..to.max(from)];
        Ok(if desc {
            inside.iter().rev().take(limit).cloned().collect()
        } else {
            inside.iter().take(limit).cloned().collect()
        })
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
