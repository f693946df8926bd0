//! Aggregate functions with the partial results TiDB merges: COUNT → BIGINT; SUM → DECIMAL for
//! integer and decimal arguments, DOUBLE for reals; AVG → two columns, the count then the sum;
//! MIN / MAX / FIRST_ROW → the argument's type; BIT_AND / BIT_OR / BIT_XOR → BIGINT UNSIGNED.
//! NULL arguments are skipped; a SUM/MIN/MAX/AVG over no values is NULL (AVG: count 0, sum NULL).

use std::cmp::Ordering;

use basalt_chunk::collation::Collation;
use basalt_chunk::column::Column;
use basalt_chunk::types::{flag, EvalType, FieldType, FieldTypeTp};
use basalt_chunk::Decimal;
use basalt_proto::tipb::{self, ExprType};

use crate::context::EvalContext;
use crate::error::{Error, Result};
use crate::rpn::RpnExpression;

/// Which aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggrKind {
    /// COUNT.
    Count,
    /// SUM.
    Sum,
    /// AVG (partial: count and sum).
    Avg,
    /// MIN.
    Min,
    /// MAX.
    Max,
    /// FIRST_ROW.
    FirstRow,
    /// BIT_AND.
    BitAnd,
    /// BIT_OR.
    BitOr,
    /// BIT_XOR.
    BitXor,
    /// VARIANCE / VAR_POP / STD / STDDEV / STDDEV_POP (`sample` false) or VAR_SAMP /
    /// STDDEV_SAMP (`sample` true): partial results count, sum and the variance so far.
    Variance {
        /// Divide by count - 1 instead of count.
        sample: bool,
    },
}

/// A compiled aggregate call.
#[derive(Debug, Clone)]
pub struct AggrFunction {
    /// Which aggregate.
    pub kind: AggrKind,
    /// The argument.
    pub arg: RpnExpression,
    /// Types of the partial result columns.
    pub result_types: Vec<FieldType>,
}

fn decimal_type() -> FieldType {
    FieldType::new(FieldTypeTp::NewDecimal)
}

impl AggrFunction {
    /// Compiles an aggregate `tipb.Expr` (tp Count, Sum, …) over `schema`.
    pub fn compile(expr: &tipb::Expr, schema: &[FieldType]) -> Result<AggrFunction> {
        let tp = ExprType::try_from(expr.tp.unwrap_or(0))
            .map_err(|_| Error::Unsupported(format!("aggregate type {}", expr.tp.unwrap_or(0))))?;
        let kind = match tp {
            ExprType::Count => AggrKind::Count,
            ExprType::Sum => AggrKind::Sum,
            ExprType::Avg => AggrKind::Avg,
            ExprType::Min => AggrKind::Min,
            ExprType::Max => AggrKind::Max,
            ExprType::First => AggrKind::FirstRow,
            ExprType::AggBitAnd => AggrKind::BitAnd,
            ExprType::AggBitOr => AggrKind::BitOr,
            ExprType::AggBitXor => AggrKind::BitXor,
            ExprType::Variance | ExprType::VarPop => AggrKind::Variance { sample: false },
            ExprType::VarSamp => AggrKind::Variance { sample: true },
            // TiDB's standard deviations share the variance's partial result (count, sum,
            // variance) and take the square root only when finishing; TiKV refuses them, TiDB
            // pushes them to TiFlash only, Basalt's SQL front pushes them here.
            ExprType::Std | ExprType::Stddev | ExprType::StddevPop => {
                AggrKind::Variance { sample: false }
            }
            ExprType::StddevSamp => AggrKind::Variance { sample: true },
            other => {
                return Err(Error::Unsupported(format!(
                    "aggregate {} is not implemented",
                    other.as_str_name()
                )))
            }
        };
        if expr.has_distinct() {
            return Err(Error::Unsupported("DISTINCT aggregates".into()));
        }
        if expr.children.len() != 1 {
            return Err(Error::InvalidExpr(format!(
                "{kind:?} takes one argument, got {}",
                expr.children.len()
            )));
        }
        let arg = RpnExpression::compile(&expr.children[0], schema)?;
        let declared = match &expr.field_type {
            Some(ft) => FieldType::from_tipb(ft)?,
            None => arg.field_type().clone(),
        };
        let arg_eval = arg.field_type().eval_type()?;
        let sum_type = |declared: &FieldType| match arg_eval {
            EvalType::Real => FieldType::new(FieldTypeTp::Double),
            EvalType::Int | EvalType::Decimal => {
                if declared.tp == FieldTypeTp::NewDecimal {
                    declared.clone()
                } else {
                    decimal_type()
                }
            }
            _ => declared.clone(),
        };
        let result_types = match kind {
            AggrKind::Count => vec![FieldType::new(FieldTypeTp::LongLong)],
            AggrKind::Sum => vec![sum_type(&declared)],
            AggrKind::Avg => vec![FieldType::new(FieldTypeTp::LongLong), sum_type(&declared)],
            AggrKind::Min | AggrKind::Max | AggrKind::FirstRow => vec![arg.field_type().clone()],
            AggrKind::BitAnd | AggrKind::BitOr | AggrKind::BitXor => {
                vec![FieldType::new(FieldTypeTp::LongLong).with_flag(flag::UNSIGNED)]
            }
            // As TiKV: (count BIGINT UNSIGNED, sum, variance), sum and variance in the declared
            // type, which must be the argument's (integers computed as DECIMAL).
            AggrKind::Variance { .. } => {
                let out = sum_type(&declared);
                vec![
                    FieldType::new(FieldTypeTp::LongLong).with_flag(flag::UNSIGNED),
                    out.clone(),
                    out,
                ]
            }
        };
        if matches!(
            kind,
            AggrKind::Sum | AggrKind::Avg | AggrKind::Variance { .. }
        ) && !matches!(arg_eval, EvalType::Int | EvalType::Real | EvalType::Decimal)
        {
            return Err(Error::Unsupported(format!("{kind:?} over {arg_eval:?}")));
        }
        Ok(AggrFunction {
            kind,
            arg,
            result_types,
        })
    }

    /// A fresh state.
    pub fn new_state(&self) -> AggrState {
        match self.kind {
            AggrKind::Count => AggrState::Count(0),
            AggrKind::BitAnd => AggrState::Bits(u64::MAX),
            AggrKind::BitOr | AggrKind::BitXor => AggrState::Bits(0),
            AggrKind::Variance { .. } => AggrState::Variance {
                count: 0,
                sum: None,
                variance: None,
            },
            _ => AggrState::Value {
                count: 0,
                sum: None,
                best: None,
            },
        }
    }

    /// Folds row `row` of the evaluated argument column into `state`.
    pub fn update(
        &self,
        ctx: &mut EvalContext,
        state: &mut AggrState,
        values: &Column,
        row: usize,
    ) -> Result<()> {
        let unsigned = self.arg.field_type().is_unsigned();
        match (self.kind, state) {
            (AggrKind::Count, AggrState::Count(count)) => {
                if values.validity().is_valid(row) {
                    *count += 1;
                }
            }
            (AggrKind::BitAnd | AggrKind::BitOr | AggrKind::BitXor, AggrState::Bits(bits)) => {
                let Column::Int(c) = values else {
                    return Err(Error::Unsupported(
                        "bit aggregates over non-integers".into(),
                    ));
                };
                if let Some(v) = c.get(row) {
                    let v = v as u64;
                    match self.kind {
                        AggrKind::BitAnd => *bits &= v,
                        AggrKind::BitOr => *bits |= v,
                        _ => *bits ^= v,
                    }
                }
            }
            (AggrKind::Sum | AggrKind::Avg, AggrState::Value { count, sum, .. }) => {
                // The common case first: a decimal added to an exact scaled sum in place.
                if let (Column::Decimal(c), Some(Partial::Scaled(acc, frac))) =
                    (values, sum.as_mut())
                {
                    let Some(value) = c.get(row) else {
                        return Ok(());
                    };
                    if let Some((total, scale)) = value.add_to_scaled((*acc, *frac)) {
                        (*acc, *frac) = (total, scale);
                        *count += 1;
                        return Ok(());
                    }
                }
                let added = match values {
                    Column::Int(c) => c.get(row).map(|v| {
                        Partial::Decimal(if unsigned {
                            Decimal::from_u64(v as u64)
                        } else {
                            Decimal::from_i64(v)
                        })
                    }),
                    Column::Decimal(c) => c.get(row).map(Partial::Decimal),
                    Column::Real(c) => c.get(row).map(Partial::Real),
                    _ => return Err(Error::Unsupported("SUM over this type".into())),
                };
                if let Some(value) = added {
                    *count += 1;
                    *sum = Some(match (sum.take(), value) {
                        (previous, Partial::Decimal(b))
                            if !matches!(previous, Some(Partial::Real(_))) =>
                        {
                            add_decimal_or_warn(ctx, previous, b)?
                        }
                        (None, value) => value,
                        (Some(Partial::Real(a)), Partial::Real(b)) => Partial::Real(a + b),
                        _ => return Err(Error::InvalidExpr("SUM over mixed types".into())),
                    });
                }
            }
            (
                AggrKind::Variance { .. },
                AggrState::Variance {
                    count,
                    sum,
                    variance,
                },
            ) => {
                let Some(value) = partial_at(values, row, unsigned)? else {
                    return Ok(());
                };
                *count += 1;
                let total = match sum.take() {
                    None => value.clone(),
                    Some(previous) => previous.add(&value)?,
                };
                if *count > 1 {
                    // t = value * count - sum; variance += t * t / (count * (count - 1))
                    let n = *count;
                    let t = value.mul_count(n)?.sub(&total)?;
                    let step = t.mul(&t)?.div_count(n * (n - 1))?;
                    *variance = Some(match variance.take() {
                        None => step,
                        Some(v) => v.add(&step)?,
                    });
                }
                *sum = Some(total);
            }
            (
                AggrKind::Min | AggrKind::Max | AggrKind::FirstRow,
                AggrState::Value { count, best, .. },
            ) => {
                if self.kind == AggrKind::FirstRow {
                    if *count == 0 {
                        *count = 1;
                        *best = Some(single(values, row));
                    }
                    return Ok(());
                }
                if !values.validity().is_valid(row) {
                    return Ok(());
                }
                let candidate = single(values, row);
                let replace = match best {
                    None => true,
                    Some(current) => {
                        let ordering = compare_singles(&candidate, current, self.arg.field_type())?;
                        (self.kind == AggrKind::Min && ordering == Ordering::Less)
                            || (self.kind == AggrKind::Max && ordering == Ordering::Greater)
                    }
                };
                if replace {
                    *best = Some(candidate);
                }
                *count += 1;
            }
            (kind, state) => {
                return Err(Error::InvalidExpr(format!("{kind:?} with state {state:?}")))
            }
        }
        Ok(())
    }

    /// Folds one value of a decimal argument evaluated as a scaled integer
    /// (`RpnExpression::eval_scaled`; `None`: NULL) into a SUM or AVG `state`, exactly as
    /// `update` folds the `Decimal` it stands for.
    pub fn update_scaled(
        &self,
        ctx: &mut EvalContext,
        state: &mut AggrState,
        value: Option<(i128, u8)>,
    ) -> Result<()> {
        let (AggrKind::Sum | AggrKind::Avg, AggrState::Value { count, sum, .. }) =
            (self.kind, state)
        else {
            return Err(Error::InvalidExpr(format!(
                "{:?} over a scaled decimal",
                self.kind
            )));
        };
        let Some((v, frac)) = value else {
            return Ok(());
        };
        *count += 1;
        match sum {
            None => *sum = Some(Partial::Scaled(v, frac)),
            Some(Partial::Scaled(acc, acc_frac)) if *acc_frac == frac => {
                if let Some(total) = acc.checked_add(v) {
                    *acc = total;
                    return Ok(());
                }
                let decimal = Decimal::from_scaled_i128(v, frac)?;
                *sum = Some(add_decimal_or_warn(ctx, sum.take(), decimal)?);
            }
            Some(Partial::Real(_)) => {
                return Err(Error::InvalidExpr("SUM over mixed types".into()))
            }
            Some(_) => {
                let decimal = Decimal::from_scaled_i128(v, frac)?;
                *sum = Some(add_decimal_or_warn(ctx, sum.take(), decimal)?);
            }
        }
        Ok(())
    }

    /// Appends the partial result of `state` to `columns` (one per result type).
    pub fn push_result(&self, state: &AggrState, columns: &mut [Column]) -> Result<()> {
        let types = &self.result_types;
        match (self.kind, state) {
            (AggrKind::Count, AggrState::Count(count)) => {
                push_int(&mut columns[0], Some(*count as i64))
            }
            (_, AggrState::Bits(bits)) => push_int(&mut columns[0], Some(*bits as i64)),
            (AggrKind::Sum, AggrState::Value { sum, .. }) => {
                push_partial(&mut columns[0], sum, &types[0])
            }
            (AggrKind::Avg, AggrState::Value { count, sum, .. }) => {
                push_int(&mut columns[0], Some(*count as i64))?;
                push_partial(&mut columns[1], sum, &types[1])
            }
            (
                AggrKind::Variance { sample },
                AggrState::Variance {
                    count,
                    sum,
                    variance,
                },
            ) => {
                push_int(&mut columns[0], Some(*count as i64))?;
                push_partial(&mut columns[1], sum, &types[1])?;
                let divisor = if sample {
                    count.saturating_sub(1)
                } else {
                    *count
                };
                let result = match (divisor, variance) {
                    (0, _) => None,
                    (_, None) => sum.as_ref().map(|s| s.zero_like()),
                    (d, Some(v)) => Some(v.div_count(d)?),
                };
                push_partial(&mut columns[2], &result, &types[2])
            }
            (_, AggrState::Value { best, .. }) => match best {
                Some(value) => append_single(&mut columns[0], value),
                None => push_null(&mut columns[0]),
            },
            (kind, state) => Err(Error::InvalidExpr(format!("{kind:?} with state {state:?}"))),
        }
    }
}

/// A running SUM.
#[derive(Debug, Clone)]
pub enum Partial {
    /// Exact sum.
    Decimal(Decimal),
    /// Exact sum kept as `v / 10^frac` in an `i128` while it fits (SUM's fast path); it turns
    /// into a `Decimal` before anything else is done with it.
    Scaled(i128, u8),
    /// Floating sum.
    Real(f64),
}

impl Partial {
    /// A `Scaled` sum as the `Decimal` it stands for; other values unchanged.
    fn settled(&self) -> Result<Partial> {
        Ok(match self {
            Partial::Scaled(v, frac) => Partial::Decimal(
                Decimal::from_scaled_i128(*v, *frac)
                    .map_err(|_| Error::overflow("DECIMAL", "SUM"))?,
            ),
            other => other.clone(),
        })
    }

    /// Folds `value` (a row's decimal) into a sum, on the scaled fast path while every step
    /// fits an `i128`.
    fn add_decimal(sum: Option<Partial>, value: Decimal) -> Result<Partial> {
        Ok(match sum {
            None => match value.to_scaled_i128() {
                Some((v, frac)) => Partial::Scaled(v, frac),
                None => Partial::Decimal(value),
            },
            Some(Partial::Scaled(acc, frac)) => match value.add_to_scaled((acc, frac)) {
                Some((v, frac)) => Partial::Scaled(v, frac),
                None => Partial::Scaled(acc, frac)
                    .settled()?
                    .add(&Partial::Decimal(value))?,
            },
            Some(other) => other.add(&Partial::Decimal(value))?,
        })
    }

    fn add(&self, other: &Partial) -> Result<Partial> {
        if matches!(self, Partial::Scaled(..)) || matches!(other, Partial::Scaled(..)) {
            return self.settled()?.add(&other.settled()?);
        }
        Ok(match (self, other) {
            (Partial::Decimal(a), Partial::Decimal(b)) => Partial::Decimal(a.add(b)?),
            (Partial::Real(a), Partial::Real(b)) => Partial::Real(a + b),
            _ => return Err(Error::InvalidExpr("mixed partial types".into())),
        })
    }

    fn sub(&self, other: &Partial) -> Result<Partial> {
        let (this, other) = (self.settled()?, other.settled()?);
        Ok(match (&this, &other) {
            (Partial::Decimal(a), Partial::Decimal(b)) => Partial::Decimal(a.sub(b)?),
            (Partial::Real(a), Partial::Real(b)) => Partial::Real(a - b),
            _ => return Err(Error::InvalidExpr("mixed partial types".into())),
        })
    }

    fn mul(&self, other: &Partial) -> Result<Partial> {
        let (this, other) = (self.settled()?, other.settled()?);
        Ok(match (&this, &other) {
            (Partial::Decimal(a), Partial::Decimal(b)) => Partial::Decimal(a.mul(b)?),
            (Partial::Real(a), Partial::Real(b)) => Partial::Real(a * b),
            _ => return Err(Error::InvalidExpr("mixed partial types".into())),
        })
    }

    fn mul_count(&self, n: u64) -> Result<Partial> {
        Ok(match self.settled()? {
            Partial::Decimal(a) => Partial::Decimal(a.mul(&Decimal::from_u64(n))?),
            Partial::Real(a) => Partial::Real(a * n as f64),
            Partial::Scaled(..) => unreachable!("settled above"),
        })
    }

    fn div_count(&self, n: u64) -> Result<Partial> {
        Ok(match self.settled()? {
            Partial::Decimal(a) => {
                Partial::Decimal(a.div(&Decimal::from_u64(n), Decimal::DIV_FRAC_INCR)?)
            }
            Partial::Real(a) => Partial::Real(a / n as f64),
            Partial::Scaled(..) => unreachable!("settled above"),
        })
    }

    fn zero_like(&self) -> Partial {
        match self {
            Partial::Decimal(_) | Partial::Scaled(..) => Partial::Decimal(Decimal::zero()),
            Partial::Real(_) => Partial::Real(0.0),
        }
    }
}

/// `previous + value` for a decimal SUM; on overflow, a warning (or the error, in strict
/// mode) and the sum so far.
fn add_decimal_or_warn(
    ctx: &mut EvalContext,
    previous: Option<Partial>,
    value: Decimal,
) -> Result<Partial> {
    let kept = previous.clone();
    match Partial::add_decimal(previous, value) {
        Ok(total) => Ok(total),
        Err(_) => {
            ctx.handle(Error::overflow("DECIMAL", "SUM"))?;
            Ok(kept.unwrap_or(Partial::Decimal(Decimal::zero())))
        }
    }
}

/// Row `row` of a numeric column as a partial-sum value (integers as decimals).
fn partial_at(values: &Column, row: usize, unsigned: bool) -> Result<Option<Partial>> {
    Ok(match values {
        Column::Int(c) => c.get(row).map(|v| {
            Partial::Decimal(if unsigned {
                Decimal::from_u64(v as u64)
            } else {
                Decimal::from_i64(v)
            })
        }),
        Column::Decimal(c) => c.get(row).map(Partial::Decimal),
        Column::Real(c) => c.get(row).map(Partial::Real),
        _ => return Err(Error::Unsupported("VARIANCE over this type".into())),
    })
}

/// The state of one aggregate for one group.
#[derive(Debug, Clone)]
pub enum AggrState {
    /// COUNT so far.
    Count(u64),
    /// BIT_* so far.
    Bits(u64),
    /// VARIANCE so far: values folded in, their sum, and the running sum of squared deviations.
    Variance {
        /// Values folded in.
        count: u64,
        /// Their sum.
        sum: Option<Partial>,
        /// The running sum of squared deviations from the mean.
        variance: Option<Partial>,
    },
    /// SUM/AVG/MIN/MAX/FIRST_ROW so far.
    Value {
        /// Values folded in.
        count: u64,
        /// SUM/AVG.
        sum: Option<Partial>,
        /// MIN/MAX/FIRST_ROW: a one-row column holding the value.
        best: Option<Column>,
    },
}

fn single(values: &Column, row: usize) -> Column {
    crate::rpn::gather(values, &[row])
}

fn compare_singles(a: &Column, b: &Column, field_type: &FieldType) -> Result<Ordering> {
    Ok(match (a, b) {
        (Column::Int(x), Column::Int(y)) => {
            let (x, y) = (x.get(0).unwrap_or(0), y.get(0).unwrap_or(0));
            if field_type.is_unsigned() {
                (x as u64).cmp(&(y as u64))
            } else {
                x.cmp(&y)
            }
        }
        (Column::Real(x), Column::Real(y)) => {
            x.get(0).unwrap_or(0.0).total_cmp(&y.get(0).unwrap_or(0.0))
        }
        (Column::Decimal(x), Column::Decimal(y)) => x.get(0).cmp(&y.get(0)),
        (Column::DateTime(x), Column::DateTime(y)) => x.get(0).cmp(&y.get(0)),
        (Column::Duration(x), Column::Duration(y)) => x.get(0).cmp(&y.get(0)),
        (Column::Bytes(x), Column::Bytes(y)) => {
            let collation = Collation::from_i32(field_type.collate).unwrap_or(Collation::Binary);
            collation.compare(x.get(0).unwrap_or_default(), y.get(0).unwrap_or_default())?
        }
        (Column::Json(x), Column::Json(y)) | (Column::Named(x), Column::Named(y)) => {
            x.get(0).cmp(&y.get(0))
        }
        _ => return Err(Error::InvalidExpr("MIN/MAX over mixed types".into())),
    })
}

fn push_int(column: &mut Column, value: Option<i64>) -> Result<()> {
    match column {
        Column::Int(c) => {
            c.push(value);
            Ok(())
        }
        other => Err(Error::InvalidExpr(format!("int result into {other:?}"))),
    }
}

fn push_null(column: &mut Column) -> Result<()> {
    match column {
        Column::Int(c) => c.push(None),
        Column::Real(c) => c.push(None),
        Column::Decimal(c) => c.push(None),
        Column::DateTime(c) => c.push(None),
        Column::Duration(c) => c.push(None),
        Column::Bytes(c) | Column::Json(c) | Column::Named(c) => c.push(None),
    }
    Ok(())
}

fn push_partial(column: &mut Column, sum: &Option<Partial>, _ft: &FieldType) -> Result<()> {
    let sum = sum.as_ref().map(Partial::settled).transpose()?;
    match (column, &sum) {
        (Column::Decimal(c), Some(Partial::Decimal(v))) => c.push(Some(*v)),
        (Column::Real(c), Some(Partial::Real(v))) => c.push(Some(*v)),
        (column, None) => return push_null(column),
        (column, sum) => return Err(Error::InvalidExpr(format!("sum {sum:?} into {column:?}"))),
    }
    Ok(())
}

fn append_single(column: &mut Column, value: &Column) -> Result<()> {
    match (column, value) {
        (Column::Int(c), Column::Int(v)) => c.push(v.get(0)),
        (Column::Real(c), Column::Real(v)) => c.push(v.get(0)),
        (Column::Decimal(c), Column::Decimal(v)) => c.push(v.get(0)),
        (Column::DateTime(c), Column::DateTime(v)) => c.push(v.get(0)),
        (Column::Duration(c), Column::Duration(v)) => c.push(v.get(0)),
        (Column::Bytes(c), Column::Bytes(v))
        | (Column::Json(c), Column::Json(v))
        | (Column::Named(c), Column::Named(v)) => c.push(v.get(0)),
        (column, value) => return Err(Error::InvalidExpr(format!("{value:?} into {column:?}"))),
    }
    Ok(())
}
