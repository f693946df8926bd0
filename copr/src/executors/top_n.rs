//! TopN: the first `limit` rows by the order-by expressions (with `partition_by`, the first
//! `limit` rows of each partition, as TiDB pushes for `ROW_NUMBER() ... <= n`). Rows are
//! buffered with their sort keys; whenever the buffer holds more than twice the limit (and at
//! least one batch), it is sorted and cut back to `limit`, so memory stays proportional to the
//! limit, not the input. Once `limit` rows are kept, only rows that sort before the last kept
//! one are buffered at all: the rest could never make the cut.

use std::cmp::Ordering;

use basalt_chunk::column::Column;
use basalt_chunk::types::FieldType;
use basalt_expr::{EvalContext, RpnExpression};

use super::aggregation::encode_group_key;
use super::util::compare_rows;
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
    /// Partition-by expressions and each buffered row's encoded partition key.
    partition_by: Vec<RpnExpression>,
    partitions: Vec<Vec<u8>>,
    /// Rows kept by the last compaction.
    kept: usize,
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
            partition_by: Vec::new(),
            partitions: Vec::new(),
            kept: 0,
            done: false,
        })
    }

    /// Keeps `limit` rows per partition of `partition_by` instead of overall.
    pub fn with_partitions(mut self, partition_by: Vec<RpnExpression>) -> Self {
        self.partition_by = partition_by;
        self
    }

    fn buffered(&self) -> usize {
        self.rows.first().map_or(0, Column::len)
    }

    /// The buffered rows' order, cut to `limit`.
    fn best_order(&self) -> Result<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.buffered()).collect();
        let mut failure = None;
        order.sort_by(|&a, &b| {
            if !self.partitions.is_empty() {
                match self.partitions[a].cmp(&self.partitions[b]) {
                    Ordering::Equal => {}
                    other => return other,
                }
            }
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
        if self.partitions.is_empty() {
            order.truncate(self.limit);
        } else {
            // The first `limit` rows of each partition (rows of a partition are adjacent now).
            let mut kept = Vec::with_capacity(order.len());
            let mut run = 0;
            for (i, &row) in order.iter().enumerate() {
                let same = i > 0 && self.partitions[order[i - 1]] == self.partitions[row];
                run = if same { run + 1 } else { 0 };
                if run < self.limit {
                    kept.push(row);
                }
            }
            order = kept;
        }
        Ok(order)
    }

    /// Positions of the batch's rows (`keys[item][i]`) that sort strictly before the last row
    /// kept by the last compaction, or all of them while fewer than `limit` rows are kept or
    /// rows are cut per partition. A row equal to the last kept one would lose to it (earlier
    /// input first), so it is dropped too.
    fn candidates(&self, keys: &[Column], rows: usize) -> Result<Vec<usize>> {
        if !self.partition_by.is_empty() || self.kept < self.limit || self.kept == 0 {
            return Ok((0..rows).collect());
        }
        let last = self.kept - 1;
        let mut out = Vec::new();
        'rows: for i in 0..rows {
            for ((new, kept), item) in keys.iter().zip(&self.keys).zip(&self.order_by) {
                let ordering = compare_rows(new, i, kept, last, item.expr.field_type())?;
                let ordering = if item.desc {
                    ordering.reverse()
                } else {
                    ordering
                };
                match ordering {
                    Ordering::Less => {
                        out.push(i);
                        continue 'rows;
                    }
                    Ordering::Greater => continue 'rows,
                    Ordering::Equal => {}
                }
            }
        }
        Ok(out)
    }

    fn compact(&mut self) -> Result<()> {
        let order = self.best_order()?;
        if !self.partitions.is_empty() {
            self.partitions = order
                .iter()
                .map(|&row| self.partitions[row].clone())
                .collect();
        }
        for columns in [&mut self.rows, &mut self.keys] {
            for column in columns.iter_mut() {
                let mut kept = empty_like(column);
                append_rows(&mut kept, column, &order)?;
                *column = kept;
            }
        }
        self.kept = order.len();
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
            let values = self
                .order_by
                .iter()
                .map(|item| Ok(item.expr.eval_to_column(ctx, &refs, &batch.logical_rows)?))
                .collect::<Result<Vec<_>>>()?;
            let chosen = self.candidates(&values, batch.logical_rows.len())?;
            for (key, values) in self.keys.iter_mut().zip(&values) {
                append_rows(key, values, &chosen)?;
            }
            let physical: Vec<usize> = chosen.iter().map(|&i| batch.logical_rows[i]).collect();
            for (column, from) in self.rows.iter_mut().zip(&batch.columns) {
                append_rows(column, from, &physical)?;
            }
            if !self.partition_by.is_empty() {
                let values = self
                    .partition_by
                    .iter()
                    .map(|p| Ok(p.eval_to_column(ctx, &refs, &batch.logical_rows)?))
                    .collect::<Result<Vec<_>>>()?;
                for i in 0..batch.logical_rows.len() {
                    let mut key = Vec::new();
                    for (column, p) in values.iter().zip(&self.partition_by) {
                        encode_group_key(&mut key, column, p.field_type(), i)?;
                    }
                    self.partitions.push(key);
                }
            }
            // Compact when the buffer doubled since the last compaction (partitions keep
            // `limit` rows each, so memory stays proportional to limit × partitions).
            if self.buffered()
                > self
                    .kept
                    .saturating_mul(2)
                    .max(self.limit.saturating_mul(2))
                    .max(1024)
            {
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
                deferred: None,
            },
            drained: true,
        })
    }

    fn collect_summaries(&self, out: &mut Vec<ExecSummary>) {
        self.child.collect_summaries(out);
    }
}
