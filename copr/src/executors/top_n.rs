//! TopN: the first `limit` rows by the order-by expressions. Rows are buffered with their sort
//! keys; whenever the buffer holds more than twice the limit (and at least one batch), it is
//! sorted and cut back to `limit`, so memory stays proportional to the limit, not the input.

use std::cmp::Ordering;

use basalt_chunk::column::Column;
use basalt_chunk::types::FieldType;
use basalt_expr::{EvalContext, RpnExpression};

use super::util::empty_like;
use super::{append_rows, compare_column_rows, Batch, BatchExecutor, BatchResult, ExecSummary};
use crate::error::Result;

/// One ORDER BY item.
pub struct OrderBy {
    /// The key.
    pub expr: RpnExpression,
    /// Descending.
    pub desc: bool,
}

/// Sorts and cuts.
pub struct TopNExecutor {
    child: Box<dyn BatchExecutor>,
    order_by: Vec<OrderBy>,
    limit: usize,
    schema: Vec<FieldType>,
    rows: Vec<Column>,
    keys: Vec<Column>,
    done: bool,
}

impl TopNExecutor {
    /// The first `limit` rows of `child` ordered by `order_by`.
    pub fn new(
        child: Box<dyn BatchExecutor>,
        order_by: Vec<OrderBy>,
        limit: usize,
    ) -> Result<Self> {
        let schema = child.schema().to_vec();
        let rows = schema
            .iter()
            .map(|ft| Ok(Column::new(ft, 0)?))
            .collect::<Result<Vec<_>>>()?;
        let keys = order_by
            .iter()
            .map(|o| Ok(Column::new(o.expr.field_type(), 0)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(TopNExecutor {
            child,
            order_by,
            limit,
            schema,
            rows,
            keys,
            done: false,
        })
    }

    fn buffered(&self) -> usize {
        self.rows.first().map_or(0, Column::len)
    }

    /// The buffered rows' order, cut to `limit`.
    fn best_order(&self) -> Result<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.buffered()).collect();
        let mut failure = None;
        order.sort_by(|&a, &b| {
            for (key, item) in self.keys.iter().zip(&self.order_by) {
                match compare_column_rows(key, item.expr.field_type(), a, b) {
                    Ok(Ordering::Equal) => continue,
                    Ok(ordering) => {
                        return if item.desc {
                            ordering.reverse()
                        } else {
                            ordering
                        }
                    }
                    Err(err) => {
                        failure.get_or_insert(err);
                        return Ordering::Equal;
                    }
                }
            }
            // Stable among equals: earlier input first.
            a.cmp(&b)
        });
        if let Some(err) = failure {
            return Err(err);
        }
        order.truncate(self.limit);
        Ok(order)
    }

    fn compact(&mut self) -> Result<()> {
        let order = self.best_order()?;
        for columns in [&mut self.rows, &mut self.keys] {
            for column in columns.iter_mut() {
                let mut kept = empty_like(column);
                append_rows(&mut kept, column, &order)?;
                *column = kept;
            }
        }
        Ok(())
    }
}

impl BatchExecutor for TopNExecutor {
    fn schema(&self) -> &[FieldType] {
        &self.schema
    }

    fn next_batch(&mut self, ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        if self.done || self.limit == 0 {
            self.done = true;
            return Ok(BatchResult {
                drained: true,
                ..Default::default()
            });
        }
        let result = self.child.next_batch(ctx, scan_rows)?;
        let batch = &result.batch;
        if !batch.logical_rows.is_empty() {
            let refs = batch.column_refs();
            for (key, item) in self.keys.iter_mut().zip(&self.order_by) {
                let values = item.expr.eval_to_column(ctx, &refs, &batch.logical_rows)?;
                let all: Vec<usize> = (0..batch.logical_rows.len()).collect();
                append_rows(key, &values, &all)?;
            }
            for (column, from) in self.rows.iter_mut().zip(&batch.columns) {
                append_rows(column, from, &batch.logical_rows)?;
            }
            if self.buffered() > self.limit.saturating_mul(2).max(1024) {
                self.compact()?;
            }
        }
        if !result.drained {
            return Ok(BatchResult::default());
        }
        // The child is drained: hand out the best `limit` rows at once.
        self.done = true;
        let order = self.best_order()?;
        let columns = std::mem::take(&mut self.rows);
        Ok(BatchResult {
            batch: Batch {
                columns,
                logical_rows: order,
            },
            drained: true,
        })
    }

    fn collect_summaries(&self, out: &mut Vec<ExecSummary>) {
        self.child.collect_summaries(out);
    }
}
