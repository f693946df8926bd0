//! Selection: keeps the rows for which every condition is true (non-NULL and non-zero), by
//! narrowing the logical rows.

use basalt_chunk::column::Column;
use basalt_chunk::types::FieldType;
use basalt_expr::{EvalContext, RpnExpression};

use super::{BatchExecutor, BatchResult, ExecSummary};
use crate::error::{Error, Result};

/// Filters its child's rows.
pub struct SelectionExecutor {
    child: Box<dyn BatchExecutor>,
    conditions: Vec<RpnExpression>,
    /// The input columns each condition reads.
    reads: Vec<Vec<usize>>,
    /// Whether columns the conditions do not read stay deferred for the parent.
    passes_deferred: bool,
}

impl SelectionExecutor {
    /// Filters `child` by `conditions` (all must hold). When the child defers decoding
    /// (`TableScanExecutor::deferring`), each condition's columns are decoded just before it
    /// runs, for the rows the earlier conditions kept, and the rest once all have run (or by
    /// the parent, see `passing_deferred`).
    pub fn new(child: Box<dyn BatchExecutor>, conditions: Vec<RpnExpression>) -> Self {
        let reads = conditions.iter().map(RpnExpression::column_refs).collect();
        SelectionExecutor {
            child,
            conditions,
            reads,
            passes_deferred: false,
        }
    }

    /// Leaves the columns its conditions do not read undecoded, for a parent that decodes
    /// deferred columns itself (an aggregation).
    pub fn passing_deferred(mut self) -> Self {
        self.passes_deferred = true;
        self
    }
}

fn truth(column: &Column, i: usize) -> Result<bool> {
    Ok(match column {
        Column::Int(c) => c.get(i).is_some_and(|v| v != 0),
        Column::Real(c) => c.get(i).is_some_and(|v| v != 0.0),
        Column::Decimal(c) => c.get(i).is_some_and(|v| !v.is_zero()),
        other => {
            return Err(Error::Unsupported(format!(
                "a selection condition of {other:?}"
            )))
        }
    })
}

impl BatchExecutor for SelectionExecutor {
    fn schema(&self) -> &[FieldType] {
        self.child.schema()
    }

    fn next_batch(&mut self, ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        let mut result = self.child.next_batch(ctx, scan_rows)?;
        for (condition, reads) in self.conditions.iter().zip(&self.reads) {
            if result.batch.logical_rows.is_empty() {
                break;
            }
            result.batch.decode_deferred(reads)?;
            let values = {
                let refs = result.batch.column_refs();
                condition.eval_to_column(ctx, &refs, &result.batch.logical_rows)?
            };
            let mut kept = Vec::with_capacity(result.batch.logical_rows.len());
            for (i, &row) in result.batch.logical_rows.iter().enumerate() {
                if truth(&values, i)? {
                    kept.push(row);
                }
            }
            result.batch.logical_rows = kept;
        }
        if !self.passes_deferred {
            result.batch.decode_all_deferred()?;
        }
        Ok(result)
    }

    fn collect_summaries(&self, out: &mut Vec<ExecSummary>) {
        self.child.collect_summaries(out);
    }
}
