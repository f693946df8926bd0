//! Projection: computes new columns from expressions over its child's rows.

use basalt_chunk::types::FieldType;
use basalt_expr::{EvalContext, RpnExpression};

use super::{Batch, BatchExecutor, BatchResult, ExecSummary};
use crate::error::Result;

/// Computes expressions.
pub struct ProjectionExecutor {
    child: Box<dyn BatchExecutor>,
    exprs: Vec<RpnExpression>,
    schema: Vec<FieldType>,
}

impl ProjectionExecutor {
    /// Evaluates `exprs` over `child`.
    pub fn new(child: Box<dyn BatchExecutor>, exprs: Vec<RpnExpression>) -> Self {
        let schema = exprs.iter().map(|e| e.field_type().clone()).collect();
        ProjectionExecutor {
            child,
            exprs,
            schema,
        }
    }
}

impl BatchExecutor for ProjectionExecutor {
    fn schema(&self) -> &[FieldType] {
        &self.schema
    }

    fn next_batch(&mut self, ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        let result = self.child.next_batch(ctx, scan_rows)?;
        let refs = result.batch.column_refs();
        let rows = &result.batch.logical_rows;
        let columns = self
            .exprs
            .iter()
            .map(|expr| Ok(expr.eval_to_column(ctx, &refs, rows)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(BatchResult {
            batch: Batch {
                logical_rows: (0..rows.len()).collect(),
                deferred: None,
                columns,
            },
            drained: result.drained,
        })
    }

    fn collect_summaries(&self, out: &mut Vec<ExecSummary>) {
        self.child.collect_summaries(out);
    }
}
