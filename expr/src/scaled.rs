//! Decimal arithmetic as scaled integers, for values that only feed SUM and AVG.
//!
//! A decimal of at most 38 digits whose stored fraction fits its scale is exactly
//! `v / 10^frac` for an `i128` `v`. When every value of a column in a batch has the same scale,
//! `+`, `-`, unary `-` and `*` of such columns can run on the `i128`s: the sum of two scales is
//! the scale `Decimal::mul` gives, their larger one the scale of `Decimal::add`, so each result
//! is the value and scale the `Decimal` path computes, without building a `Decimal` per row.
//! SUM and AVG keep their running totals as scaled integers already (`aggr::Partial::Scaled`),
//! so the values never need to become `Decimal`s at all.
//!
//! The `Decimal` path also cuts fraction digits when a result would need more than 9 words of
//! 9 digits, counting the integer words by the operands' stored integer digits, leading zeros
//! included (TiDB's `DecimalAdd` and `DecimalMul`). So each operand carries a bound on those
//! digits, and a step that might need more than 9 words is not taken here.
//!
//! Anything outside this (another function, a column of mixed scales, a step that would not fit
//! an `i128` or might be cut, a product scale past `Decimal::MAX_SCALE`) makes `eval_scaled`
//! answer `None`, and the caller evaluates the expression the ordinary way, which also reports
//! any overflow. Evaluation here is pure: it never records a warning.

use basalt_chunk::codec::datum::Datum;
use basalt_chunk::column::Column;
use basalt_chunk::decimal::ScaledDecimals;
use basalt_chunk::Decimal;
use basalt_proto::tipb::ScalarFuncSig as Sig;

use crate::rpn::{RpnExpression, RpnNode};

/// The logical rows `rows` of a decimal column, when each value converts exactly and all of
/// them have one scale.
fn from_decimals(column: &Column, rows: &[usize]) -> Option<ScaledDecimals> {
    let Column::Decimal(decimals) = column else {
        return None;
    };
    let mut scaled = ScaledDecimals::with_capacity(rows.len());
    for &row in rows {
        let value = match decimals.get(row) {
            Some(decimal) => {
                let (v, frac) = decimal.to_scaled_i128()?;
                Some((v, frac, decimal.stored_int_digits()))
            }
            None => None,
        };
        scaled.push(value)?;
    }
    Some(scaled)
}

/// The scaled forms of a batch's decimal input columns, each converted at most once however
/// many expressions read it.
#[derive(Debug, Default)]
pub struct ScaledInputs {
    /// By column offset: not yet tried, not convertible, or converted.
    columns: Vec<Option<Option<ScaledDecimals>>>,
}

impl ScaledInputs {
    /// An empty cache for one batch.
    pub fn new() -> ScaledInputs {
        ScaledInputs::default()
    }

    /// Sets input column `offset` (of the batch's logical rows) to `scaled`, as read by the
    /// caller some other way (straight from row bytes).
    pub fn insert(&mut self, offset: usize, scaled: ScaledDecimals) {
        self.slot(offset).replace(Some(scaled));
    }

    /// Whether input column `offset` is converted.
    pub fn has(&self, offset: usize) -> bool {
        self.get(offset).is_some()
    }

    fn slot(&mut self, offset: usize) -> &mut Option<Option<ScaledDecimals>> {
        if self.columns.len() <= offset {
            self.columns.resize(offset + 1, None);
        }
        &mut self.columns[offset]
    }

    fn prepare(&mut self, offset: usize, columns: &[Option<&Column>], rows: &[usize]) {
        let slot = self.slot(offset);
        if slot.is_none() {
            let converted = columns
                .get(offset)
                .copied()
                .flatten()
                .and_then(|column| from_decimals(column, rows));
            *slot = Some(converted);
        }
    }

    fn get(&self, offset: usize) -> Option<&ScaledDecimals> {
        self.columns.get(offset)?.as_ref()?.as_ref()
    }
}

/// A constant: `(v, frac)` (`None`: NULL) and its stored integer digits.
type Constant = (Option<(i128, u8)>, usize);

/// One stack entry.
enum Operand<'a> {
    /// The same value for every row.
    Const(Constant),
    Input(&'a ScaledDecimals),
    Owned(ScaledDecimals),
}

/// An operand's scale, stored integer digits (bound), per row values and validity (`None` for
/// a constant), and a constant's value.
type Parts<'a> = (u8, usize, Option<(&'a [i128], &'a [bool])>, i128);

impl Operand<'_> {
    fn parts(&self) -> Parts<'_> {
        match self {
            Operand::Const((value, int_digits)) => {
                let (v, frac) = value.unwrap_or((0, 0));
                (frac, *int_digits, None, v)
            }
            Operand::Input(column) => parts(column),
            Operand::Owned(column) => parts(column),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Operand::Const((None, _)))
    }
}

fn parts(column: &ScaledDecimals) -> Parts<'_> {
    (
        column.frac(),
        column.int_digits(),
        Some((column.values(), column.valid())),
        0,
    )
}

fn nulls(rows: usize) -> ScaledDecimals {
    ScaledDecimals::from_parts(vec![0; rows], vec![false; rows], 0, 0)
}

/// A binary operation on scaled values.
#[derive(Clone, Copy)]
enum Op {
    Plus,
    Minus,
    Multiply,
}

impl RpnExpression {
    /// Evaluates a decimal expression over `logical_rows` as scaled integers, when it is made of
    /// decimal columns, decimal constants, `+`, `-` and `*` only and every value fits (see the
    /// module's comment); `None` otherwise. `inputs` caches the converted input columns of this
    /// batch across expressions.
    pub fn eval_scaled(
        &self,
        inputs: &mut ScaledInputs,
        columns: &[Option<&Column>],
        logical_rows: &[usize],
    ) -> Option<ScaledDecimals> {
        for node in self.nodes() {
            if let RpnNode::ColumnRef { offset, .. } = node {
                inputs.prepare(*offset, columns, logical_rows);
            }
        }
        let rows = logical_rows.len();
        let mut stack: Vec<Operand<'_>> = Vec::with_capacity(self.nodes().len());
        for node in self.nodes() {
            let operand = match node {
                RpnNode::Constant { value, .. } => Operand::Const(match value {
                    Datum::Null => (None, 0),
                    Datum::Decimal(decimal) => (
                        Some(decimal.to_scaled_i128()?),
                        usize::from(decimal.stored_int_digits()),
                    ),
                    _ => return None,
                }),
                RpnNode::ColumnRef { offset, .. } => Operand::Input(inputs.get(*offset)?),
                RpnNode::Function { meta, .. } => match meta.sig {
                    Sig::PlusDecimal | Sig::MinusDecimal | Sig::MultiplyDecimal => {
                        let b = stack.pop()?;
                        let a = stack.pop()?;
                        let op = match meta.sig {
                            Sig::PlusDecimal => Op::Plus,
                            Sig::MinusDecimal => Op::Minus,
                            _ => Op::Multiply,
                        };
                        Operand::Owned(binary(op, &a, &b, rows)?)
                    }
                    Sig::UnaryMinusDecimal => negate(stack.pop()?)?,
                    _ => return None,
                },
            };
            stack.push(operand);
        }
        let result = stack.pop()?;
        if !stack.is_empty() {
            return None;
        }
        match result {
            Operand::Owned(column) => Some(column),
            Operand::Input(column) => Some(column.clone()),
            Operand::Const((value, int_digits)) => Some(ScaledDecimals::from_parts(
                vec![value.map_or(0, |(v, _)| v); rows],
                vec![value.is_some(); rows],
                value.map_or(0, |(_, frac)| frac),
                int_digits,
            )),
        }
    }
}

fn pow10(n: u8) -> Option<i128> {
    10i128.checked_pow(u32::from(n))
}

/// Words of 9 digits a `Decimal` holds.
const WORDS: usize = 9;

fn words(digits: usize) -> usize {
    digits.div_ceil(9)
}

/// `-a`: the same stored integer digits, as `Decimal::neg` keeps them.
fn negate(a: Operand<'_>) -> Option<Operand<'_>> {
    let mut column = match a {
        Operand::Const((Some((v, frac)), int_digits)) => {
            return Some(Operand::Const((Some((v.checked_neg()?, frac)), int_digits)))
        }
        Operand::Const(null) => return Some(Operand::Const(null)),
        Operand::Input(column) => column.clone(),
        Operand::Owned(column) => column,
    };
    for v in column.values_mut() {
        *v = v.checked_neg()?;
    }
    Some(Operand::Owned(column))
}

/// `a op b` row by row; `None` when a step does not fit an `i128`, the `Decimal` path might
/// cut the result, or the scale would pass `Decimal::MAX_SCALE`.
fn binary(op: Op, a: &Operand<'_>, b: &Operand<'_>, rows: usize) -> Option<ScaledDecimals> {
    if a.is_null() || b.is_null() {
        return Some(nulls(rows));
    }
    let (fa, ia, va, ca) = a.parts();
    let (fb, ib, vb, cb) = b.parts();
    // Integer words of the result as the `Decimal` path sizes them (a possible carry
    // included), which must leave room for the fraction words.
    let (frac, ma, mb, int_words) = match op {
        Op::Plus | Op::Minus => {
            let frac = fa.max(fb);
            let int_words = words(ia).max(words(ib)) + 1;
            if int_words + words(usize::from(frac)) > WORDS {
                return None;
            }
            (frac, pow10(frac - fa)?, pow10(frac - fb)?, int_words)
        }
        Op::Multiply => {
            let int_words = words(ia + ib);
            if int_words + words(usize::from(fa)) + words(usize::from(fb)) > WORDS {
                return None;
            }
            (fa.checked_add(fb)?, 1, 1, int_words)
        }
    };
    if frac > Decimal::MAX_SCALE {
        return None;
    }
    let (values, valid) = match (op, ma, mb) {
        (Op::Plus, 1, 1) => rows_of((va, ca), (vb, cb), rows, |x, y| x.checked_add(y))?,
        (Op::Minus, 1, 1) => rows_of((va, ca), (vb, cb), rows, |x, y| x.checked_sub(y))?,
        (Op::Plus, _, _) => rows_of((va, ca), (vb, cb), rows, |x, y| {
            x.checked_mul(ma)?.checked_add(y.checked_mul(mb)?)
        })?,
        (Op::Minus, _, _) => rows_of((va, ca), (vb, cb), rows, |x, y| {
            x.checked_mul(ma)?.checked_sub(y.checked_mul(mb)?)
        })?,
        (Op::Multiply, _, _) => rows_of((va, ca), (vb, cb), rows, multiply)?,
    };
    Some(ScaledDecimals::from_parts(
        values,
        valid,
        frac,
        WORDS * int_words,
    ))
}

/// An operand's rows (values and validity) or, for a constant, its value.
type Side<'a> = (Option<(&'a [i128], &'a [bool])>, i128);

/// `f(a, b)` for each of `rows` rows (NULL where either is); `None` as soon as `f` is.
#[inline]
fn rows_of(
    a: Side<'_>,
    b: Side<'_>,
    rows: usize,
    f: impl Fn(i128, i128) -> Option<i128>,
) -> Option<(Vec<i128>, Vec<bool>)> {
    let at = |(values, constant): Side<'_>, i: usize| match values {
        Some((values, valid)) => (values[i], valid[i]),
        None => (constant, true),
    };
    let mut values = Vec::with_capacity(rows);
    let mut valid = Vec::with_capacity(rows);
    for i in 0..rows {
        let ((x, x_valid), (y, y_valid)) = (at(a, i), at(b, i));
        if x_valid && y_valid {
            values.push(f(x, y)?);
            valid.push(true);
        } else {
            values.push(0);
            valid.push(false);
        }
    }
    Some((values, valid))
}

/// `x * y`, with no overflow check needed when both fit an `i64`.
#[inline]
fn multiply(x: i128, y: i128) -> Option<i128> {
    match (i64::try_from(x), i64::try_from(y)) {
        (Ok(x), Ok(y)) => Some(i128::from(x) * i128::from(y)),
        _ => x.checked_mul(y),
    }
}
