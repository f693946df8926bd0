//! Limit: passes on at most `limit` rows, then reports drained without asking its child again.

use basalt_chunk::types::FieldType;
use basalt_expr::EvalContext;

use super::{BatchExecutor, BatchResult, ExecSummary};
use crate::error::Result;

/// Stops after `limit` rows.
pub struct LimitExecutor {
    child: Box<dyn BatchExecutor>,
    remaining: usize,
}

impl LimitExecutor {
    /// The first `limit` rows of `child`.
    pub fn new(child: Box<dyn BatchExecutor>, limit: usize) -> Self {
        LimitExecutor {
            child,
            remaining: limit,
        }
    }
}

impl BatchExecutor for LimitExecutor {
    fn schema(&self) -> &[FieldType] {
        self.child.schema()
    }

    fn next_batch(&mut self, ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        if self.remaining == 0 {
            return Ok(BatchResult {
                drained: true,
                ..Default::default()
            });
        }
        // Ask for no more rows than are still wanted.
        let mut result = self
            .child
            .next_batch(ctx, scan_rows.min(self.remaining.max(1)))?;
        let rows = &mut result.batch.logical_rows;
        if rows.len() >= self.remaining {
            rows.truncate(self.remaining);
            result.drained = true;
        }
        self.remaining -= rows.len();
        Ok(result)
    }

    fn collect_summaries(&self, out: &mut Vec<ExecSummary>) {
        self.child.collect_summaries(out);
    }
}
