//! Batch executors. The contract (as TiKV's `BatchExecutor`):
//! - `next_batch(scan_rows)` returns physical columns plus `logical_rows`, the indexes of the
//!   physical rows that are part of the result, in order. Filters only shorten `logical_rows`;
//!   they never copy column data.
//! - `drained` says the executor has nothing more; a drained batch may still hold rows.
//! - `scan_rows` is a hint for how many rows the leaf should read; it grows from 32 to 1024.

mod aggregation;
mod index_scan;
mod limit;
mod projection;
mod ranges;
mod selection;
mod table_scan;
mod top_n;
pub(crate) mod util;

use std::time::Instant;

use basalt_chunk::column::Column;
use basalt_chunk::types::FieldType;
use basalt_expr::EvalContext;

use crate::error::Result;

pub use aggregation::AggregationExecutor;
pub use index_scan::IndexScanExecutor;
pub use limit::LimitExecutor;
pub use projection::ProjectionExecutor;
pub use ranges::PageProgress;
pub use selection::SelectionExecutor;
pub use table_scan::TableScanExecutor;
pub use top_n::OrderBy;
pub use top_n::TopNExecutor;
pub use util::{append_rows, compare_column_rows, datum_at};

/// Columns and the rows of them that count.
#[derive(Debug, Default)]
pub struct Batch {
    /// Physical columns, one per schema entry.
    pub columns: Vec<Column>,
    /// Indexes of the physical rows in the result, in order.
    pub logical_rows: Vec<usize>,
}

impl Batch {
    /// The columns as the expression evaluator takes them.
    pub fn column_refs(&self) -> Vec<Option<&Column>> {
        self.columns.iter().map(Some).collect()
    }
}

/// One call's result.
#[derive(Debug, Default)]
pub struct BatchResult {
    /// The rows.
    pub batch: Batch,
    /// Whether the executor is exhausted.
    pub drained: bool,
}

/// What an executor reports for EXPLAIN ANALYZE (`tipb.ExecutorExecutionSummary`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecSummary {
    /// Time spent in this executor and its children.
    pub time_processed_ns: u64,
    /// Rows produced.
    pub num_produced_rows: u64,
    /// Calls of `next_batch`.
    pub num_iterations: u64,
}

/// A batch executor.
pub trait BatchExecutor: Send {
    /// The types of the columns this executor produces.
    fn schema(&self) -> &[FieldType];
    /// The next batch.
    fn next_batch(&mut self, ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult>;
    /// Appends the summaries of this executor's subtree, leaf first (a plain executor reports
    /// its children; `Summarized` adds its own).
    fn collect_summaries(&self, out: &mut Vec<ExecSummary>);
}

/// Wraps an executor to time it and count its output.
pub struct Summarized<E> {
    inner: E,
    summary: ExecSummary,
}

impl<E: BatchExecutor> Summarized<E> {
    /// Times `inner`.
    pub fn new(inner: E) -> Self {
        Summarized {
            inner,
            summary: ExecSummary::default(),
        }
    }
}

impl<E: BatchExecutor> BatchExecutor for Summarized<E> {
    fn schema(&self) -> &[FieldType] {
        self.inner.schema()
    }

    fn next_batch(&mut self, ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        let start = Instant::now();
        let result = self.inner.next_batch(ctx, scan_rows);
        self.summary.time_processed_ns += start.elapsed().as_nanos() as u64;
        self.summary.num_iterations += 1;
        if let Ok(result) = &result {
            self.summary.num_produced_rows += result.batch.logical_rows.len() as u64;
        }
        result
    }

    fn collect_summaries(&self, out: &mut Vec<ExecSummary>) {
        // The inner executor reports its children; this wrapper reports the executor itself.
        self.inner.collect_summaries(out);
        out.push(self.summary);
    }
}
