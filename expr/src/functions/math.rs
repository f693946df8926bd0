//! Scalar functions: the math family. ABS, CEIL/FLOOR, ROUND/TRUNCATE (exact types round half
//! away from zero, doubles half to even as TiKV and TiDB do), POW/EXP/LOG*/SQRT, SIGN, PI,
//! the trigonometric functions and CRC32.
//!
//! Out-of-range results (`ABS(-9223372036854775808)`, `POW(10, 400)`, `EXP(1000)`, `COT(0)`) go
//! through `ctx.handle` as MySQL error 1690; a logarithm of a non-positive number is NULL with a
//! warning, square roots and inverse sines/cosines outside their domain are NULL. `RAND` is not
//! registered: its value is not a function of the row.

use basalt_chunk::column::Column;
use basalt_chunk::decimal::RoundMode;
use basalt_chunk::Decimal;
use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::{def, Arity, FnDef, FnMeta};
use crate::context::EvalContext;
use crate::error::{Error, Result};
use crate::value::{collect_decimal, collect_int, collect_real, StackValue};

/// The argument slice every body receives.
type Args<'a, 'b> = &'a [StackValue<'b>];

/// Applies `f` to every non-NULL row of a real argument.
fn map_real(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    mut f: impl FnMut(&mut EvalContext, f64) -> Result<Option<f64>>,
) -> Result<Column> {
    let a = args[0].real()?;
    collect_real(rows, |i| match a.get(i) {
        Some(x) => f(ctx, x),
        None => Ok(None),
    })
}

/// Applies `f` to every row where both real arguments are non-NULL.
fn map_real2(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    mut f: impl FnMut(&mut EvalContext, f64, f64) -> Result<Option<f64>>,
) -> Result<Column> {
    let (a, b) = (args[0].real()?, args[1].real()?);
    collect_real(rows, |i| match (a.get(i), b.get(i)) {
        (Some(x), Some(y)) => f(ctx, x, y),
        _ => Ok(None),
    })
}

/// A finite `value`, else MySQL's DOUBLE overflow (an error, or NULL and a warning).
fn finite_or_overflow(
    ctx: &mut EvalContext,
    value: f64,
    expr: impl FnOnce() -> String,
) -> Result<Option<f64>> {
    if value.is_finite() {
        Ok(Some(value))
    } else {
        ctx.handle(Error::overflow("DOUBLE", expr()))?;
        Ok(None)
    }
}

/// A finite `value` or NULL (NaN from a domain error).
fn finite_or_null(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// MySQL warns (error 3020 there) and returns NULL for the logarithm of a non-positive number.
fn bad_logarithm(ctx: &mut EvalContext) -> Result<Option<f64>> {
    ctx.warn(&Error::InvalidExpr("Invalid argument for logarithm".into()));
    Ok(None)
}

/// Maps a decimal library error: overflow goes through `ctx.handle`, the rest is an error.
fn decimal_result(
    ctx: &mut EvalContext,
    result: basalt_chunk::Result<Decimal>,
    expr: impl FnOnce() -> String,
) -> Result<Option<Decimal>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(basalt_chunk::Error::Overflow { .. }) => {
            ctx.handle(Error::overflow("DECIMAL", expr()))?;
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

fn abs_int(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    let a = args[0].int()?;
    collect_int(rows, |i| {
        let Some(x) = a.get(i) else { return Ok(None) };
        match x.checked_abs() {
            Some(v) => Ok(Some(v)),
            None => {
                ctx.handle(Error::overflow("BIGINT", format!("abs({x})")))?;
                Ok(None)
            }
        }
    })
}

fn identity_int(
    _: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let a = args[0].int()?;
    collect_int(rows, |i| Ok(a.get(i)))
}

fn abs_real(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |_, x| Ok(Some(x.abs())))
}

fn abs_decimal(_: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    let a = args[0].decimal()?;
    collect_decimal(rows, |i| {
        Ok(a.get(i).map(|x| if x.is_negative() { x.neg() } else { x }))
    })
}

fn ceil_real(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |_, x| Ok(Some(x.ceil())))
}

fn floor_real(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    map_real(ctx, args, rows, |_, x| Ok(Some(x.floor())))
}

/// CEIL/FLOOR of an integer returning DECIMAL: the value itself, read with its signedness.
fn int_to_dec(
    _: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    meta: &FnMeta,
) -> Result<Column> {
    let unsigned = meta.arg_unsigned(0);
    let a = args[0].int()?;
    collect_decimal(rows, |i| {
        Ok(a.get(i).map(|x| {
            if unsigned {
                Decimal::from_u64(x as u64)
            } else {
                Decimal::from_i64(x)
            }
        }))
    })
}

/// The decimal rounded to an integer towards +inf (`up`) or -inf. The decimal library's
/// `Ceiling` mode moves away from zero, `Truncate` towards it.
fn dec_ceil_floor(x: &Decimal, up: bool) -> basalt_chunk::Result<Decimal> {
    let away = x.is_negative() != up;
    x.round(
        0,
        if away {
            RoundMode::Ceiling
        } else {
            RoundMode::Truncate
        },
    )
}

fn dec_to_dec(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, up: bool) -> Result<Column> {
    let a = args[0].decimal()?;
    let name = if up { "ceil" } else { "floor" };
    collect_decimal(rows, |i| {
        let Some(x) = a.get(i) else { return Ok(None) };
        decimal_result(ctx, dec_ceil_floor(&x, up), || format!("{name}({x})"))
    })
}

fn dec_to_int(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    meta: &FnMeta,
    up: bool,
) -> Result<Column> {
    let unsigned = meta.field_type.is_unsigned();
    let a = args[0].decimal()?;
    let name = if up { "ceil" } else { "floor" };
    collect_int(rows, |i| {
        let Some(x) = a.get(i) else { return Ok(None) };
        let converted = dec_ceil_floor(&x, up).and_then(|d| {
            if unsigned {
                d.as_u64().map(|v| v as i64)
            } else {
                d.as_i64()
            }
        });
        match converted {
            Ok(v) => Ok(Some(v)),
            Err(basalt_chunk::Error::Overflow { .. }) => {
                let ty = if unsigned {
                    "BIGINT UNSIGNED"
                } else {
                    "BIGINT"
                };
                ctx.handle(Error::overflow(ty, format!("{name}({x})")))?;
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    })
}

fn round_real(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    map_real(ctx, args, rows, |_, x| Ok(Some(x.round_ties_even())))
}

fn round_dec(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    let a = args[0].decimal()?;
    collect_decimal(rows, |i| {
        let Some(x) = a.get(i) else { return Ok(None) };
        decimal_result(ctx, x.round(0, RoundMode::HalfUp), || format!("round({x})"))
    })
}

/// The second argument of ROUND/TRUNCATE as a signed digit count (an UNSIGNED one above
/// `i64::MAX` saturates).
fn digits(value: i64, unsigned: bool) -> i64 {
    if unsigned && value < 0 {
        i64::MAX
    } else {
        value
    }
}

/// ROUND(x, d) of a double: TiDB's `types.Round` (scale, round half to even, scale back; an
/// infinite scaled value keeps `x`, NaN becomes 0).
fn round_real_to(x: f64, d: i64) -> f64 {
    let shift = 10f64.powi(d.clamp(-400, 400) as i32);
    let scaled = x * shift;
    if scaled.is_infinite() {
        return x;
    }
    let result = scaled.round_ties_even() / shift;
    if result.is_nan() {
        0.0
    } else {
        result
    }
}

fn round_frac_real(
    _: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    meta: &FnMeta,
) -> Result<Column> {
    let d_unsigned = meta.arg_unsigned(1);
    let (a, d) = (args[0].real()?, args[1].int()?);
    collect_real(rows, |i| match (a.get(i), d.get(i)) {
        (Some(x), Some(d)) => Ok(Some(round_real_to(x, digits(d, d_unsigned)))),
        _ => Ok(None),
    })
}

/// The integer `x` (as i128) with its last `-d` digits rounded away (half away from zero) or
/// truncated; `d >= 0` keeps `x`.
fn int_round_digits(x: i128, d: i64, truncate: bool) -> i128 {
    if d >= 0 {
        return x;
    }
    // 10^39 exceeds every 64-bit value: the result is 0.
    let Some(unit) = u32::try_from(d.unsigned_abs())
        .ok()
        .and_then(|n| 10i128.checked_pow(n))
    else {
        return 0;
    };
    let (q, r) = (x / unit, x % unit);
    if !truncate && r.abs() * 2 >= unit {
        (q + x.signum()) * unit
    } else {
        q * unit
    }
}

fn int_round_or_truncate(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    meta: &FnMeta,
    truncate: bool,
) -> Result<Column> {
    let (x_unsigned, d_unsigned) = (meta.arg_unsigned(0), meta.arg_unsigned(1));
    let (a, d) = (args[0].int()?, args[1].int()?);
    let name = if truncate { "truncate" } else { "round" };
    collect_int(rows, |i| {
        let (Some(x), Some(d)) = (a.get(i), d.get(i)) else {
            return Ok(None);
        };
        let wide = if x_unsigned {
            i128::from(x as u64)
        } else {
            i128::from(x)
        };
        let result = int_round_digits(wide, digits(d, d_unsigned), truncate);
        let fits = if x_unsigned {
            (0..=i128::from(u64::MAX)).contains(&result)
        } else {
            (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(&result)
        };
        if !fits {
            let ty = if x_unsigned {
                "BIGINT UNSIGNED"
            } else {
                "BIGINT"
            };
            ctx.handle(Error::overflow(ty, format!("{name}({wide}, {d})")))?;
            return Ok(None);
        }
        Ok(Some(result as i64))
    })
}

/// The scale a decimal ROUND/TRUNCATE rounds to: the asked digits, capped by the result type's
/// scale as TiDB does, within what the decimal library accepts.
fn decimal_scale(d: i64, meta: &FnMeta) -> i8 {
    let mut d = digits(d, meta.arg_unsigned(1));
    if meta.field_type.decimal >= 0 {
        d = d.min(i64::from(meta.field_type.decimal));
    }
    d.clamp(-128, i64::from(Decimal::MAX_SCALE)) as i8
}

fn dec_round_or_truncate(
    ctx: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    meta: &FnMeta,
    mode: RoundMode,
) -> Result<Column> {
    let (a, d) = (args[0].decimal()?, args[1].int()?);
    collect_decimal(rows, |i| {
        let (Some(x), Some(d)) = (a.get(i), d.get(i)) else {
            return Ok(None);
        };
        let scale = decimal_scale(d, meta);
        decimal_result(ctx, x.round(scale, mode), || format!("round({x}, {d})"))
    })
}

/// TRUNCATE(x, d) of a double, as TiKV: scale, drop the fraction, scale back; a scaled value of
/// zero is 0, an infinite one keeps `x`.
fn truncate_real_to(x: f64, d: i64) -> f64 {
    let shift = 10f64.powi(d.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
    let scaled = x * shift;
    if scaled == 0.0 {
        0.0
    } else if scaled.is_infinite() {
        x
    } else {
        scaled.trunc() / shift
    }
}

fn truncate_real(
    _: &mut EvalContext,
    args: Args<'_, '_>,
    rows: usize,
    meta: &FnMeta,
) -> Result<Column> {
    let d_unsigned = meta.arg_unsigned(1);
    let (a, d) = (args[0].real()?, args[1].int()?);
    collect_real(rows, |i| match (a.get(i), d.get(i)) {
        (Some(x), Some(d)) => Ok(Some(truncate_real_to(x, digits(d, d_unsigned)))),
        _ => Ok(None),
    })
}

fn sign(_: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    let a = args[0].real()?;
    collect_int(rows, |i| {
        Ok(a.get(i).map(|x| {
            if x > 0.0 {
                1
            } else if x < 0.0 {
                -1
            } else {
                0
            }
        }))
    })
}

fn pi(_: &mut EvalContext, _: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    collect_real(rows, |_| Ok(Some(std::f64::consts::PI)))
}

fn sqrt(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |_, x| Ok((x >= 0.0).then(|| x.sqrt())))
}

fn exp(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |ctx, x| {
        finite_or_overflow(ctx, x.exp(), || format!("exp({x})"))
    })
}

fn pow(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real2(ctx, args, rows, |ctx, x, y| {
        finite_or_overflow(ctx, x.powf(y), || format!("pow({x}, {y})"))
    })
}

fn ln(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |ctx, x| {
        if x <= 0.0 {
            bad_logarithm(ctx)
        } else {
            Ok(finite_or_null(x.ln()))
        }
    })
}

fn log2(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |ctx, x| {
        if x <= 0.0 {
            bad_logarithm(ctx)
        } else {
            Ok(finite_or_null(x.log2()))
        }
    })
}

fn log10(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |ctx, x| {
        if x <= 0.0 {
            bad_logarithm(ctx)
        } else {
            Ok(finite_or_null(x.log10()))
        }
    })
}

/// LOG(b, x): the logarithm of `x` in base `b`.
fn log_base(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real2(ctx, args, rows, |ctx, b, x| {
        if b <= 0.0 || b == 1.0 || x <= 0.0 {
            bad_logarithm(ctx)
        } else {
            Ok(finite_or_null(x.ln() / b.ln()))
        }
    })
}

fn radians(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |_, x| {
        Ok(finite_or_null(x * (std::f64::consts::PI / 180.0)))
    })
}

fn degrees(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |ctx, x| {
        finite_or_overflow(ctx, x.to_degrees(), || format!("degrees({x})"))
    })
}

fn cot(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real(ctx, args, rows, |ctx, x| {
        finite_or_overflow(ctx, 1.0 / x.tan(), || format!("cot({x})"))
    })
}

fn atan2(ctx: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    map_real2(ctx, args, rows, |_, y, x| Ok(finite_or_null(y.atan2(x))))
}

/// A real function with no error cases: NaN (outside the domain) is NULL.
macro_rules! plain_real {
    ($name:ident, $f:expr) => {
        fn $name(
            ctx: &mut EvalContext,
            args: Args<'_, '_>,
            rows: usize,
            _: &FnMeta,
        ) -> Result<Column> {
            let f: fn(f64) -> f64 = $f;
            map_real(ctx, args, rows, |_, x| Ok(finite_or_null(f(x))))
        }
    };
}

plain_real!(sin, f64::sin);
plain_real!(cos, f64::cos);
plain_real!(tan, f64::tan);
plain_real!(asin, f64::asin);
plain_real!(acos, f64::acos);
plain_real!(atan, f64::atan);

/// The CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) lookup table.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 of `bytes`, as MySQL's `CRC32()` and Go's `crc32.ChecksumIEEE`.
fn crc32_of(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        CRC_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

fn crc32(_: &mut EvalContext, args: Args<'_, '_>, rows: usize, _: &FnMeta) -> Result<Column> {
    let a = args[0].bytes()?;
    collect_int(rows, |i| Ok(a.get(i).map(|s| i64::from(crc32_of(s)))))
}

/// The math function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let name = sig.as_str_name();
    let one = Arity::Exact(1);
    let two = Arity::Exact(2);
    match sig {
        Sig::AbsInt => def!(name, one, abs_int),
        Sig::AbsUInt | Sig::CeilIntToInt | Sig::FloorIntToInt | Sig::RoundInt => {
            def!(name, one, identity_int)
        }
        Sig::AbsReal => def!(name, one, abs_real),
        Sig::AbsDecimal => def!(name, one, abs_decimal),
        Sig::CeilReal => def!(name, one, ceil_real),
        Sig::FloorReal => def!(name, one, floor_real),
        Sig::CeilIntToDec | Sig::FloorIntToDec => def!(name, one, int_to_dec),
        Sig::CeilDecToDec => {
            def!(name, one, |ctx: &mut EvalContext,
                             args: Args<'_, '_>,
                             rows,
                             _: &FnMeta| {
                dec_to_dec(ctx, args, rows, true)
            })
        }
        Sig::FloorDecToDec => {
            def!(name, one, |ctx: &mut EvalContext,
                             args: Args<'_, '_>,
                             rows,
                             _: &FnMeta| {
                dec_to_dec(ctx, args, rows, false)
            })
        }
        Sig::CeilDecToInt => {
            def!(name, one, |ctx: &mut EvalContext,
                             args: Args<'_, '_>,
                             rows,
                             meta: &FnMeta| {
                dec_to_int(ctx, args, rows, meta, true)
            })
        }
        Sig::FloorDecToInt => {
            def!(name, one, |ctx: &mut EvalContext,
                             args: Args<'_, '_>,
                             rows,
                             meta: &FnMeta| {
                dec_to_int(ctx, args, rows, meta, false)
            })
        }
        Sig::RoundReal => def!(name, one, round_real),
        Sig::RoundDec => def!(name, one, round_dec),
        Sig::RoundWithFracReal => def!(name, two, round_frac_real),
        Sig::RoundWithFracInt => {
            def!(name, two, |ctx: &mut EvalContext,
                             args: Args<'_, '_>,
                             rows,
                             meta: &FnMeta| {
                int_round_or_truncate(ctx, args, rows, meta, false)
            })
        }
        Sig::RoundWithFracDec => {
            def!(name, two, |ctx: &mut EvalContext,
                             args: Args<'_, '_>,
                             rows,
                             meta: &FnMeta| {
                dec_round_or_truncate(ctx, args, rows, meta, RoundMode::HalfUp)
            })
        }
        Sig::TruncateInt | Sig::TruncateUint => {
            def!(name, two, |ctx: &mut EvalContext,
                             args: Args<'_, '_>,
                             rows,
                             meta: &FnMeta| {
                int_round_or_truncate(ctx, args, rows, meta, true)
            })
        }
        Sig::TruncateReal => def!(name, two, truncate_real),
        Sig::TruncateDecimal => {
            def!(name, two, |ctx: &mut EvalContext,
                             args: Args<'_, '_>,
                             rows,
                             meta: &FnMeta| {
                dec_round_or_truncate(ctx, args, rows, meta, RoundMode::Truncate)
            })
        }
        Sig::Sign => def!(name, one, sign),
        Sig::Pi => def!(name, Arity::Exact(0), pi),
        Sig::Sqrt => def!(name, one, sqrt),
        Sig::Exp => def!(name, one, exp),
        Sig::Pow => def!(name, two, pow),
        Sig::Log1Arg => def!(name, one, ln),
        Sig::Log2Args => def!(name, two, log_base),
        Sig::Log2 => def!(name, one, log2),
        Sig::Log10 => def!(name, one, log10),
        Sig::Radians => def!(name, one, radians),
        Sig::Degrees => def!(name, one, degrees),
        Sig::Sin => def!(name, one, sin),
        Sig::Cos => def!(name, one, cos),
        Sig::Tan => def!(name, one, tan),
        Sig::Cot => def!(name, one, cot),
        Sig::Asin => def!(name, one, asin),
        Sig::Acos => def!(name, one, acos),
        Sig::Atan1Arg => def!(name, one, atan),
        Sig::Atan2Args => def!(name, two, atan2),
        Sig::Crc32 => def!(name, one, crc32),
        _ => None,
    }
}
