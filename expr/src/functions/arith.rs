//! Arithmetic on integers (signed and unsigned, with MySQL's overflow errors), doubles and
//! decimals; division by zero gives NULL and a warning, as in a SELECT.

use basalt_chunk::column::Column;
use basalt_chunk::decimal::RoundMode;
use basalt_chunk::Decimal;
use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::{def, Arity, FnDef, FnMeta};
use crate::context::EvalContext;
use crate::error::{Error, Result};
use crate::value::{collect_decimal, collect_int, collect_real, map2_dense, StackValue};

#[derive(Debug, Clone, Copy)]
enum Op {
    Plus,
    Minus,
    Multiply,
    Divide,
    IntDivide,
    Mod,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Multiply => "*",
            Op::Divide => "/",
            Op::IntDivide => "DIV",
            Op::Mod => "%",
        }
    }
}

fn widen(value: i64, unsigned: bool) -> i128 {
    if unsigned {
        i128::from(value as u64)
    } else {
        i128::from(value)
    }
}

/// Integer arithmetic in i128, then MySQL's range rule: the result is UNSIGNED when either side
/// is, and must fit it.
fn int_op(
    ctx: &mut EvalContext,
    op: Op,
    args: &[StackValue<'_>],
    rows: usize,
    meta: &FnMeta,
) -> Result<Column> {
    let (au, bu) = (meta.arg_unsigned(0), meta.arg_unsigned(1));
    let unsigned = au || bu || meta.field_type.is_unsigned();
    let (a, b) = (args[0].int()?, args[1].int()?);
    // Fast path for signed +, -, *: wrapping arithmetic in plain loops; an overflow anywhere
    // (NULL rows included, to stay conservative) sends the batch down the row-by-row path,
    // which reports it.
    if !unsigned {
        if let Some(column) = signed_fast(op, &a, &b, rows) {
            return Ok(Column::Int(column?));
        }
    }
    collect_int(rows, |i| {
        let (Some(x), Some(y)) = (a.get(i), b.get(i)) else {
            return Ok(None);
        };
        let (x, y) = (widen(x, au), widen(y, bu));
        let result = match op {
            Op::Plus => x + y,
            Op::Minus => x - y,
            Op::Multiply => x * y,
            Op::IntDivide | Op::Mod if y == 0 => {
                ctx.handle(Error::DivisionByZero)?;
                return Ok(None);
            }
            Op::IntDivide => x / y,
            // The sign of MOD follows the dividend.
            Op::Mod => x % y,
            Op::Divide => unreachable_divide()?,
        };
        let fits = if unsigned && !matches!(op, Op::Mod) {
            (0..=i128::from(u64::MAX)).contains(&result)
        } else if matches!(op, Op::Mod) && au {
            true
        } else {
            (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(&result)
        };
        if !fits {
            let ty = if unsigned {
                "BIGINT UNSIGNED"
            } else {
                "BIGINT"
            };
            ctx.handle(Error::overflow(ty, format!("{x} {} {y}", op.symbol())))?;
            return Ok(None);
        }
        Ok(Some(result as i64))
    })
}

fn signed_fast(
    op: Op,
    a: &crate::value::FixedView<'_, i64>,
    b: &crate::value::FixedView<'_, i64>,
    rows: usize,
) -> Option<Result<basalt_chunk::column::FixedColumn<i64>>> {
    let f: fn(i64, i64) -> (i64, bool) = match op {
        Op::Plus => i64::overflowing_add,
        Op::Minus => i64::overflowing_sub,
        Op::Multiply => i64::overflowing_mul,
        _ => return None,
    };
    let overflowed = std::cell::Cell::new(false);
    let column = map2_dense(a, b, rows, |x, y| {
        let (value, over) = f(x, y);
        if over {
            overflowed.set(true);
        }
        value
    })?;
    if overflowed.get() {
        return None;
    }
    Some(column)
}

fn unreachable_divide() -> Result<i128> {
    Err(Error::InvalidExpr(
        "integer '/' is evaluated as DECIMAL or REAL".into(),
    ))
}

fn real_op(ctx: &mut EvalContext, op: Op, args: &[StackValue<'_>], rows: usize) -> Result<Column> {
    let (a, b) = (args[0].real()?, args[1].real()?);
    // Fast path: plain loops; any non-finite result (overflow, or x/0 and x%0 which give inf or
    // NaN) sends the batch down the row-by-row path, which reports it.
    let fast = match op {
        Op::Plus => map2_dense(&a, &b, rows, |x: f64, y: f64| x + y),
        Op::Minus => map2_dense(&a, &b, rows, |x: f64, y: f64| x - y),
        Op::Multiply => map2_dense(&a, &b, rows, |x: f64, y: f64| x * y),
        Op::Divide => map2_dense(&a, &b, rows, |x: f64, y: f64| x / y),
        _ => None,
    };
    if let Some(column) = fast {
        let column = column?;
        let finite = column
            .values()
            .iter()
            .enumerate()
            .all(|(i, v)| v.is_finite() || !column.validity().is_valid(i));
        if finite {
            return Ok(Column::Real(column));
        }
    }
    collect_real(rows, |i| {
        let (Some(x), Some(y)) = (a.get(i), b.get(i)) else {
            return Ok(None);
        };
        let result = match op {
            Op::Plus => x + y,
            Op::Minus => x - y,
            Op::Multiply => x * y,
            Op::Divide | Op::Mod if y == 0.0 => {
                ctx.handle(Error::DivisionByZero)?;
                return Ok(None);
            }
            Op::Divide => x / y,
            Op::Mod => x % y,
            Op::IntDivide => return Err(Error::InvalidExpr("DIV over REAL".into())),
        };
        if !result.is_finite() {
            ctx.handle(Error::overflow(
                "DOUBLE",
                format!("{x} {} {y}", op.symbol()),
            ))?;
            return Ok(None);
        }
        Ok(Some(result))
    })
}

fn decimal_op(
    ctx: &mut EvalContext,
    op: Op,
    args: &[StackValue<'_>],
    rows: usize,
) -> Result<Column> {
    let (a, b) = (args[0].decimal()?, args[1].decimal()?);
    collect_decimal(rows, |i| {
        let (Some(x), Some(y)) = (a.get(i), b.get(i)) else {
            return Ok(None);
        };
        if matches!(op, Op::Divide | Op::Mod) && y.is_zero() {
            ctx.handle(Error::DivisionByZero)?;
            return Ok(None);
        }
        let result = match op {
            Op::Plus => x.add(&y),
            Op::Minus => x.sub(&y),
            Op::Multiply => x.mul(&y),
            Op::Divide => x.div(&y, Decimal::DIV_FRAC_INCR),
            Op::Mod => x.rem(&y),
            Op::IntDivide => return Err(Error::InvalidExpr("DIV returns an integer".into())),
        };
        match result {
            Ok(value) => Ok(Some(value)),
            Err(basalt_chunk::Error::Overflow { .. }) => {
                ctx.handle(Error::overflow(
                    "DECIMAL",
                    format!("{x} {} {y}", op.symbol()),
                ))?;
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    })
}

/// `x DIV y` over decimals: the quotient truncated toward zero, as a BIGINT.
fn int_divide_decimal(
    ctx: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let (a, b) = (args[0].decimal()?, args[1].decimal()?);
    collect_int(rows, |i| {
        let (Some(x), Some(y)) = (a.get(i), b.get(i)) else {
            return Ok(None);
        };
        if y.is_zero() {
            ctx.handle(Error::DivisionByZero)?;
            return Ok(None);
        }
        let quotient = x
            .div(&y, Decimal::DIV_FRAC_INCR)
            .and_then(|q| q.round(0, RoundMode::Truncate))
            .and_then(|q| q.as_i64());
        match quotient {
            Ok(value) => Ok(Some(value)),
            Err(basalt_chunk::Error::Overflow { .. }) => {
                ctx.handle(Error::overflow("BIGINT", format!("{x} DIV {y}")))?;
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    })
}

fn unary_minus_int(
    ctx: &mut EvalContext,
    args: &[StackValue<'_>],
    rows: usize,
    meta: &FnMeta,
) -> Result<Column> {
    let unsigned = meta.arg_unsigned(0);
    let a = args[0].int()?;
    collect_int(rows, |i| {
        let Some(x) = a.get(i) else { return Ok(None) };
        let negated = -widen(x, unsigned);
        if negated < i128::from(i64::MIN) || negated > i128::from(i64::MAX) {
            ctx.handle(Error::overflow(
                "BIGINT",
                format!("-{}", widen(x, unsigned)),
            ))?;
            return Ok(None);
        }
        Ok(Some(negated as i64))
    })
}

macro_rules! binary {
    ($kind:ident, $op:ident) => {
        |ctx: &mut EvalContext, args: &[StackValue<'_>], rows: usize, meta: &FnMeta| {
            binary!(@call $kind, ctx, Op::$op, args, rows, meta)
        }
    };
    (@call int, $ctx:ident, $op:expr, $args:ident, $rows:ident, $meta:ident) => { int_op($ctx, $op, $args, $rows, $meta) };
    (@call real, $ctx:ident, $op:expr, $args:ident, $rows:ident, $meta:ident) => {{ let _ = $meta; real_op($ctx, $op, $args, $rows) }};
    (@call decimal, $ctx:ident, $op:expr, $args:ident, $rows:ident, $meta:ident) => {{ let _ = $meta; decimal_op($ctx, $op, $args, $rows) }};
}

/// The arithmetic implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let name = sig.as_str_name();
    let two = Arity::Exact(2);
    match sig {
        Sig::PlusInt
        | Sig::PlusIntUnsignedUnsigned
        | Sig::PlusIntUnsignedSigned
        | Sig::PlusIntSignedUnsigned
        | Sig::PlusIntSignedSigned => def!(name, two, binary!(int, Plus)),
        Sig::MinusInt
        | Sig::MinusIntUnsignedUnsigned
        | Sig::MinusIntUnsignedSigned
        | Sig::MinusIntSignedUnsigned
        | Sig::MinusIntSignedSigned => def!(name, two, binary!(int, Minus)),
        Sig::MultiplyInt | Sig::MultiplyIntUnsigned => def!(name, two, binary!(int, Multiply)),
        Sig::IntDivideInt
        | Sig::IntDivideIntUnsignedUnsigned
        | Sig::IntDivideIntUnsignedSigned
        | Sig::IntDivideIntSignedSigned
        | Sig::IntDivideIntSignedUnsigned => {
            def!(name, two, binary!(int, IntDivide))
        }
        Sig::IntDivideDecimal => def!(name, two, int_divide_decimal),
        Sig::ModInt
        | Sig::ModIntUnsignedUnsigned
        | Sig::ModIntUnsignedSigned
        | Sig::ModIntSignedUnsigned
        | Sig::ModIntSignedSigned => def!(name, two, binary!(int, Mod)),
        Sig::PlusReal => def!(name, two, binary!(real, Plus)),
        Sig::MinusReal => def!(name, two, binary!(real, Minus)),
        Sig::MultiplyReal => def!(name, two, binary!(real, Multiply)),
        Sig::DivideReal => def!(name, two, binary!(real, Divide)),
        Sig::ModReal => def!(name, two, binary!(real, Mod)),
        Sig::PlusDecimal => def!(name, two, binary!(decimal, Plus)),
        Sig::MinusDecimal => def!(name, two, binary!(decimal, Minus)),
        Sig::MultiplyDecimal => def!(name, two, binary!(decimal, Multiply)),
        Sig::DivideDecimal => def!(name, two, binary!(decimal, Divide)),
        Sig::ModDecimal => def!(name, two, binary!(decimal, Mod)),
        Sig::UnaryMinusInt => def!(name, Arity::Exact(1), unary_minus_int),
        Sig::UnaryMinusReal => def!(
            name,
            Arity::Exact(1),
            |_ctx: &mut EvalContext, args: &[StackValue<'_>], rows: usize, _meta: &FnMeta| {
                let a = args[0].real()?;
                collect_real(rows, |i| Ok(a.get(i).map(|x| -x)))
            }
        ),
        Sig::UnaryMinusDecimal => def!(
            name,
            Arity::Exact(1),
            |_ctx: &mut EvalContext, args: &[StackValue<'_>], rows: usize, _meta: &FnMeta| {
                let a = args[0].decimal()?;
                collect_decimal(rows, |i| Ok(a.get(i).map(|x| x.neg())))
            }
        ),
        _ => None,
    }
}
