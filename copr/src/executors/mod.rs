//! Batch executors. The contract (as TiKV's `BatchExecutor`):
//! - `next_batch(scan_rows)` returns physical columns plus `logical_rows`, the indexes of the
//!   physical rows that are part of the result, in order. Filters only shorten `logical_rows`;
//!   they never copy column data.
//! - `drained` says the executor has nothing more; a drained batch may still hold rows.
//! - `scan_rows` is a hint for how many rows the leaf should read; it grows from 32 to 8192.

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
use basalt_chunk::decimal::ScaledDecimals;
use basalt_chunk::lazy::{
    decode_columns_and_scaled, decode_scaled_decimals, ColumnSchema, RawRows,
};
use basalt_chunk::types::FieldType;
use basalt_expr::EvalContext;

use crate::error::{Error, Result};

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
    /// Columns a table scan left undecoded for its Selection parent (late materialization):
    /// their entries in `columns` are empty until `decode_deferred` fills them.
    pub deferred: Option<Box<Deferred>>,
}

/// The raw rows behind a batch's undecoded columns.
#[derive(Debug)]
pub struct Deferred {
    /// The row values.
    pub rows: RawRows,
    /// Each undecoded column: its index in the batch and how to decode it.
    pub columns: Vec<(usize, ColumnSchema)>,
}

impl Batch {
    /// Decodes the deferred columns among `wanted` (batch column indexes) for the logical
    /// rows only; other rows are NULL placeholders. A no-op without deferred columns.
    pub fn decode_deferred(&mut self, wanted: &[usize]) -> Result<()> {
        self.decode_deferred_and_scaled(wanted, &[]).map(drop)
    }

    /// `decode_deferred(wanted)`, and in the same pass over the rows `deferred_scaled(scaled)`
    /// (for the deferred columns among `scaled` not in `wanted`).
    pub fn decode_deferred_and_scaled(
        &mut self,
        wanted: &[usize],
        scaled: &[usize],
    ) -> Result<Vec<(usize, ScaledDecimals)>> {
        // One pass gives the scaled values in row order, which must be the logical order.
        if !scaled.is_empty() && !self.logical_rows.windows(2).all(|w| w[0] < w[1]) {
            self.decode_deferred(wanted)?;
            return Ok(self.deferred_scaled(scaled));
        }
        let Some(deferred) = self.deferred.as_mut() else {
            return Ok(Vec::new());
        };
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut deferred.columns)
            .into_iter()
            .partition(|(index, _)| wanted.contains(index));
        deferred.columns = later;
        let (scaled_indexes, scaled_schema): (Vec<usize>, Vec<ColumnSchema>) = deferred
            .columns
            .iter()
            .filter(|(index, _)| scaled.contains(index))
            .cloned()
            .unzip();
        let mut read = Vec::new();
        if !now.is_empty() || !scaled_indexes.is_empty() {
            let mut mask = vec![false; deferred.rows.len()];
            for &row in &self.logical_rows {
                if let Some(slot) = mask.get_mut(row) {
                    *slot = true;
                }
            }
            let schema: Vec<ColumnSchema> = now.iter().map(|(_, s)| s.clone()).collect();
            let (decoded, scaled_columns) =
                decode_columns_and_scaled(&deferred.rows, &schema, Some(&mask), &scaled_schema)?;
            for ((index, _), column) in now.into_iter().zip(decoded) {
                let slot = self.columns.get_mut(index).ok_or_else(|| {
                    Error::InvalidDag(format!("deferred column {index} outside the batch"))
                })?;
                *slot = column;
            }
            read = scaled_indexes
                .into_iter()
                .zip(scaled_columns)
                .filter_map(|(index, column)| Some((index, column?)))
                .collect();
        }
        if deferred.columns.is_empty() {
            self.deferred = None;
        }
        Ok(read)
    }

    /// The deferred decimal columns among `wanted` that read straight into scaled integers
    /// (`decode_scaled_decimals`), for the logical rows, by batch column index. They stay
    /// deferred, to be decoded as usual should anything need them as columns.
    pub fn deferred_scaled(&self, wanted: &[usize]) -> Vec<(usize, ScaledDecimals)> {
        let Some(deferred) = &self.deferred else {
            return Vec::new();
        };
        let (indexes, schema): (Vec<usize>, Vec<ColumnSchema>) = deferred
            .columns
            .iter()
            .filter(|(index, _)| wanted.contains(index))
            .cloned()
            .unzip();
        if indexes.is_empty() {
            return Vec::new();
        }
        indexes
            .into_iter()
            .zip(decode_scaled_decimals(
                &deferred.rows,
                &schema,
                &self.logical_rows,
            ))
            .filter_map(|(index, scaled)| Some((index, scaled?)))
            .collect()
    }

    /// Decodes every deferred column for the logical rows.
    pub fn decode_all_deferred(&mut self) -> Result<()> {
        let all: Vec<usize> = match &self.deferred {
            Some(deferred) => deferred.columns.iter().map(|(index, _)| *index).collect(),
            None => return Ok(()),
        };
        self.decode_deferred(&all)
    }

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
