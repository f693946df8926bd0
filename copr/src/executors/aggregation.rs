//! Aggregation (hash, stream and simple): folds its child's rows into one state per group and,
//! once the child is drained, outputs the partial results TiDB merges: the aggregate columns
//! (AVG as count then sum) followed by the group-by columns. Groups come out in the order they
//! were first seen, so sorted input (stream aggregation) keeps its order. A single integer
//! group-by key takes a fast path keyed by the integer itself; other keys are encoded
//! (strings by their collation's sort key, decimals canonically).
//!
//! Without group-by (simple aggregation) there is exactly one output row, even for no input.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use basalt_chunk::collation::Collation;
use basalt_chunk::column::Column;
use basalt_chunk::decimal::ScaledDecimals;
use basalt_chunk::types::{EvalType, FieldType};
use basalt_expr::aggr::{AggrFunction, AggrKind, AggrState};
use basalt_expr::rpn::materialize;
use basalt_expr::scaled::ScaledInputs;
use basalt_expr::value::StackValue;
use basalt_expr::{EvalContext, RpnExpression};

use super::util::empty_like;
use super::{append_rows, Batch, BatchExecutor, BatchResult, ExecSummary};
use crate::error::{Error, Result};

enum GroupIndex {
    /// No group-by: one group.
    Single,
    /// One integer key.
    Int(HashMap<Option<i64>, usize, RandomState>),
    /// Encoded keys.
    Encoded(HashMap<Vec<u8>, usize, RandomState>),
}

/// Aggregates its child's rows.
pub struct AggregationExecutor {
    child: Box<dyn BatchExecutor>,
    group_by: Vec<RpnExpression>,
    aggrs: Vec<AggrFunction>,
    /// Per aggregate, whether it is a SUM or AVG of a decimal, whose argument is first tried
    /// as scaled integers (`basalt_expr::scaled`).
    scaled: Vec<bool>,
    /// The input columns the group keys and the other aggregates read.
    plain_reads: Vec<usize>,
    /// The input columns the scaled arguments read.
    scaled_reads: Vec<usize>,
    schema: Vec<FieldType>,
    index: GroupIndex,
    /// Per group, one state per aggregate.
    states: Vec<Vec<AggrState>>,
    /// The group-by values of each group's first row.
    group_values: Vec<Column>,
    done: bool,
}

impl AggregationExecutor {
    /// Aggregates `child` by `group_by` with `aggrs`.
    pub fn new(
        child: Box<dyn BatchExecutor>,
        group_by: Vec<RpnExpression>,
        aggrs: Vec<AggrFunction>,
    ) -> Result<Self> {
        let mut schema: Vec<FieldType> =
            aggrs.iter().flat_map(|a| a.result_types.clone()).collect();
        schema.extend(group_by.iter().map(|g| g.field_type().clone()));
        let group_values = group_by
            .iter()
            .map(|g| Ok(Column::new(g.field_type(), 0)?))
            .collect::<Result<Vec<_>>>()?;
        let index = match group_by.as_slice() {
            [] => GroupIndex::Single,
            [only] if matches!(Column::new(only.field_type(), 0)?, Column::Int(_)) => {
                GroupIndex::Int(HashMap::default())
            }
            _ => GroupIndex::Encoded(HashMap::default()),
        };
        let states = if matches!(index, GroupIndex::Single) {
            vec![aggrs.iter().map(AggrFunction::new_state).collect()]
        } else {
            Vec::new()
        };
        let scaled: Vec<bool> = aggrs
            .iter()
            .map(|a| {
                matches!(a.kind, AggrKind::Sum | AggrKind::Avg)
                    && matches!(a.arg.field_type().eval_type(), Ok(EvalType::Decimal))
            })
            .collect();
        let reads = |exprs: &mut dyn Iterator<Item = &RpnExpression>| {
            let mut reads: Vec<usize> = exprs.flat_map(RpnExpression::column_refs).collect();
            reads.sort_unstable();
            reads.dedup();
            reads
        };
        let plain_reads = reads(
            &mut group_by.iter().chain(
                aggrs
                    .iter()
                    .zip(&scaled)
                    .filter(|(_, &s)| !s)
                    .map(|(a, _)| &a.arg),
            ),
        );
        let scaled_reads = reads(
            &mut aggrs
                .iter()
                .zip(&scaled)
                .filter(|(_, &s)| s)
                .map(|(a, _)| &a.arg),
        );
        Ok(AggregationExecutor {
            child,
            group_by,
            aggrs,
            scaled,
            plain_reads,
            scaled_reads,
            schema,
            index,
            states,
            group_values,
            done: false,
        })
    }

    /// Folds a batch's logical rows into the groups. Columns a table scan deferred are
    /// decoded here as needed: the decimals that SUM and AVG read as scaled integers straight
    /// from the row bytes, the rest as columns.
    fn fold(&mut self, ctx: &mut EvalContext, batch: &mut Batch) -> Result<()> {
        if batch.logical_rows.is_empty() {
            return Ok(());
        }
        let mut inputs = ScaledInputs::new();
        for (offset, scaled) in
            batch.decode_deferred_and_scaled(&self.plain_reads, &self.scaled_reads)?
        {
            inputs.insert(offset, scaled);
        }
        let unread: Vec<usize> = (self.scaled_reads.iter().copied())
            .filter(|&offset| !inputs.has(offset))
            .collect();
        batch.decode_deferred(&unread)?;
        let mut scaled_args: Vec<Option<ScaledDecimals>> = {
            let refs = batch.column_refs();
            (self.aggrs.iter().zip(&self.scaled))
                .map(|(a, &scaled)| {
                    scaled
                        .then(|| a.arg.eval_scaled(&mut inputs, &refs, &batch.logical_rows))
                        .flatten()
                })
                .collect()
        };
        // Arguments that did not evaluate as scaled integers need their columns decoded.
        let fallback: Vec<usize> = (self.aggrs.iter().zip(&scaled_args))
            .filter(|(_, scaled)| scaled.is_none())
            .flat_map(|(a, _)| a.arg.column_refs())
            .collect();
        batch.decode_deferred(&fallback)?;
        let batch = &*batch;
        let rows = &batch.logical_rows;
        let refs = batch.column_refs();
        let keys = self
            .group_by
            .iter()
            .map(|g| evaluated(g, ctx, &refs, rows))
            .collect::<Result<Vec<_>>>()?;
        let args = (self.aggrs.iter().zip(&mut scaled_args))
            .map(|(a, scaled)| match scaled.take() {
                Some(values) => Ok(Argument::Scaled(values)),
                None => Ok(Argument::Column(evaluated(&a.arg, ctx, &refs, rows)?)),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut key = Vec::new();
        let mut scratch = Vec::new();
        // Each row's group first, then each aggregate over all rows.
        let mut groups = Vec::with_capacity(rows.len());
        for i in 0..rows.len() {
            let group = match &mut self.index {
                GroupIndex::Single => 0,
                GroupIndex::Int(map) => {
                    let (column, at) = keys[0].row(i);
                    let Column::Int(ints) = column else {
                        return Err(Error::InvalidDag("integer group key expected".into()));
                    };
                    let next = self.states.len();
                    let group = *map.entry(ints.get(at)).or_insert(next);
                    if group == next {
                        self.states
                            .push(self.aggrs.iter().map(AggrFunction::new_state).collect());
                        append_rows(&mut self.group_values[0], column, &[at])?;
                    }
                    group
                }
                GroupIndex::Encoded(map) => {
                    key.clear();
                    for (value, g) in keys.iter().zip(&self.group_by) {
                        let (column, at) = value.row(i);
                        encode_group_key_with(&mut key, column, g.field_type(), at, &mut scratch)?;
                    }
                    let next = self.states.len();
                    let group = match map.get(&key) {
                        Some(&group) => group,
                        None => {
                            map.insert(key.clone(), next);
                            next
                        }
                    };
                    if group == next {
                        self.states
                            .push(self.aggrs.iter().map(AggrFunction::new_state).collect());
                        for (to, from) in self.group_values.iter_mut().zip(&keys) {
                            let (column, at) = from.row(i);
                            append_rows(to, column, &[at])?;
                        }
                    }
                    group
                }
            };
            groups.push(group);
        }
        for (at, (aggr, values)) in self.aggrs.iter().zip(&args).enumerate() {
            // Every group has one state per aggregate (pushed together above).
            let states = &mut self.states;
            match values {
                Argument::Scaled(scaled) => {
                    for (i, &group) in groups.iter().enumerate() {
                        aggr.update_scaled(ctx, &mut states[group][at], scaled.get(i))?;
                    }
                }
                Argument::Column(evaluated) => {
                    for (i, &group) in groups.iter().enumerate() {
                        let (column, row) = evaluated.row(i);
                        aggr.update(ctx, &mut states[group][at], column, row)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn output(&mut self) -> Result<Batch> {
        let mut columns = Vec::with_capacity(self.schema.len());
        for (at, aggr) in self.aggrs.iter().enumerate() {
            let mut result = aggr
                .result_types
                .iter()
                .map(|ft| Ok(Column::new(ft, self.states.len())?))
                .collect::<Result<Vec<_>>>()?;
            for group in &self.states {
                aggr.push_result(&group[at], &mut result)?;
            }
            columns.extend(result);
        }
        for values in &mut self.group_values {
            let taken = std::mem::replace(values, empty_like(values));
            columns.push(taken);
        }
        Ok(Batch {
            logical_rows: (0..self.states.len()).collect(),
            deferred: None,
            columns,
        })
    }
}

/// Appends row `row` of `column` to a group key, so equal values (under the collation, and
/// decimals of any scale) give equal bytes.
/// An evaluated group key or aggregate argument. An input column is read in place through
/// the batch's logical rows rather than copied out.
enum Evaluated<'a> {
    /// Row `i` is row `rows[i]` of the input column.
    Input(&'a Column, &'a [usize]),
    /// Row `i` is row `i`.
    Dense(Column),
}

/// An evaluated aggregate argument.
enum Argument<'a> {
    /// As a column.
    Column(Evaluated<'a>),
    /// A SUM or AVG argument as scaled decimals; row `i` is row `i`.
    Scaled(ScaledDecimals),
}

impl Evaluated<'_> {
    /// The column holding row `i` and that row's index in it.
    #[inline]
    fn row(&self, i: usize) -> (&Column, usize) {
        match self {
            Evaluated::Input(column, rows) => (column, rows[i]),
            Evaluated::Dense(column) => (column, i),
        }
    }
}

fn evaluated<'a>(
    expr: &'a RpnExpression,
    ctx: &mut EvalContext,
    refs: &'a [Option<&'a Column>],
    rows: &'a [usize],
) -> Result<Evaluated<'a>> {
    Ok(match expr.eval(ctx, refs, rows)? {
        StackValue::Input(column, rows) => Evaluated::Input(column, rows),
        other => Evaluated::Dense(materialize(other, expr.field_type(), rows.len())?),
    })
}

pub(crate) fn encode_group_key(
    key: &mut Vec<u8>,
    column: &Column,
    field_type: &FieldType,
    row: usize,
) -> Result<()> {
    encode_group_key_with(key, column, field_type, row, &mut Vec::new())
}

/// As `encode_group_key`, with `scratch` (reused across rows) for collation sort keys.
fn encode_group_key_with(
    key: &mut Vec<u8>,
    column: &Column,
    field_type: &FieldType,
    row: usize,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    if !column.validity().is_valid(row) {
        key.push(0);
        return Ok(());
    }
    key.push(1);
    match column {
        Column::Int(c) => key.extend_from_slice(&c.get(row).unwrap_or(0).to_be_bytes()),
        Column::Real(c) => {
            let v = c.get(row).unwrap_or(0.0);
            // 0.0 and -0.0 group together.
            let v = if v == 0.0 { 0.0 } else { v };
            key.extend_from_slice(&v.to_bits().to_be_bytes());
        }
        Column::Decimal(c) => {
            let text = c
                .get(row)
                .map(|d| d.to_unrounded_string())
                .unwrap_or_default();
            let canonical = if text.contains('.') {
                text.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                text
            };
            let canonical = if canonical == "-0" {
                "0".to_string()
            } else {
                canonical
            };
            basalt_chunk::codec::number::encode_bytes(key, canonical.as_bytes());
        }
        Column::DateTime(c) => {
            key.extend_from_slice(&c.get(row).map_or(0, |t| t.to_packed_u64()).to_be_bytes())
        }
        Column::Duration(c) => {
            key.extend_from_slice(&c.get(row).map_or(0, |d| d.nanos()).to_be_bytes())
        }
        Column::Bytes(c) => {
            let collation = Collation::from_i32(field_type.collate).unwrap_or(Collation::Binary);
            let value = c.get(row).unwrap_or_default();
            if matches!(
                collation,
                Collation::Binary | Collation::Utf8Mb4BinNoPadding | Collation::Utf8Mb40900Bin
            ) {
                basalt_chunk::codec::number::encode_bytes(key, value);
            } else {
                scratch.clear();
                collation.sort_key(value, scratch)?;
                basalt_chunk::codec::number::encode_bytes(key, scratch);
            }
        }
        Column::Json(c) | Column::Named(c) => {
            basalt_chunk::codec::number::encode_bytes(key, c.get(row).unwrap_or_default())
        }
    }
    Ok(())
}

impl BatchExecutor for AggregationExecutor {
    fn schema(&self) -> &[FieldType] {
        &self.schema
    }

    fn next_batch(&mut self, ctx: &mut EvalContext, scan_rows: usize) -> Result<BatchResult> {
        if self.done {
            return Ok(BatchResult {
                drained: true,
                ..Default::default()
            });
        }
        let mut result = self.child.next_batch(ctx, scan_rows)?;
        self.fold(ctx, &mut result.batch)?;
        if !result.drained {
            return Ok(BatchResult::default());
        }
        self.done = true;
        Ok(BatchResult {
            batch: self.output()?,
            drained: true,
        })
    }

    fn collect_summaries(&self, out: &mut Vec<ExecSummary>) {
        self.child.collect_summaries(out);
    }
}
