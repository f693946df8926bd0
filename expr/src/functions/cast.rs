//! Scalar functions: CAST between INT, REAL, DECIMAL, STRING, TIME, DURATION and JSON.
//!
//! The target is described by the call's result field type (flen, decimal, unsigned flag,
//! fsp, time type, charset, collation), the source by the argument's field type, as TiKV's
//! `impl_cast.rs` does. Values that do not fit go through `ctx.handle`: overflow as
//! `Error::Overflow`, bad text as a truncation (`basalt_chunk::Error::Parse`), so the request
//! flags decide between an error and a warning. TiKV's `in_union` metadata is not carried by
//! this framework and so is treated as false.

use std::io::Write;

use basalt_chunk::column::{BytesColumn, Column, FixedColumn, FixedValue};
use basalt_chunk::decimal::RoundMode;
use basalt_chunk::json::JsonType;
use basalt_chunk::types::{flag as ft_flag, FieldType, FieldTypeTp};
use basalt_chunk::{DateTime, Decimal, Duration, Json, TimeType};
use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::{def, Arity, EvalFn, FnDef, FnMeta};
use crate::context::{flag, EvalContext};
use crate::error::{Error, Result};
use crate::value::{collect_decimal as c_dec, collect_int as c_int, collect_real as c_real};
use crate::value::{BytesView, FixedView, JsonView, StackValue};

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// `838:59:59` as the number `HHMMSS` (TiDB `TimeMaxValue`).
const TIME_MAX_NUMBER: i64 = 8_385_959;

/// Everything a cast needs to know about its target and its source, read once per call.
struct Spec {
    to_unsigned: bool,
    flen: i32,
    decimal: i32,
    fsp: i8,
    time_type: TimeType,
    /// The target counts its length in characters (a multi-byte charset).
    to_multibyte: bool,
    /// The target is BINARY(n): short values are padded with zero bytes.
    to_binary_char: bool,
    parse_to_json: bool,
    from_tp: FieldTypeTp,
    from_unsigned: bool,
    from_flen: i32,
    from_binary_string: bool,
    from_bool: bool,
}

fn is_binary_collation(ft: &FieldType) -> bool {
    ft.collate.abs() == 63
}

fn is_string_tp(tp: FieldTypeTp) -> bool {
    use FieldTypeTp::*;
    matches!(
        tp,
        VarChar | VarString | String | Blob | TinyBlob | MediumBlob | LongBlob
    )
}

impl Spec {
    fn new(meta: &FnMeta) -> Spec {
        let to = &meta.field_type;
        let null = FieldType::default();
        let from = meta.arg_types.first().unwrap_or(&null);
        let charset = to.charset.to_ascii_lowercase();
        let to_multibyte = matches!(charset.as_str(), "utf8" | "utf8mb4" | "gbk" | "gb18030")
            || (charset.is_empty() && !is_binary_collation(to));
        Spec {
            to_unsigned: to.is_unsigned(),
            flen: to.flen,
            decimal: to.decimal,
            fsp: to.fsp(),
            time_type: match to.tp {
                FieldTypeTp::Date | FieldTypeTp::NewDate => TimeType::Date,
                FieldTypeTp::Timestamp => TimeType::Timestamp,
                _ => TimeType::DateTime,
            },
            to_multibyte,
            to_binary_char: to.tp == FieldTypeTp::String && is_binary_collation(to),
            parse_to_json: (to.flag | from.flag) & ft_flag::PARSE_TO_JSON != 0,
            from_tp: from.tp,
            from_unsigned: from.is_unsigned(),
            from_flen: from.flen,
            from_binary_string: is_string_tp(from.tp) && is_binary_collation(from),
            from_bool: from.flag & ft_flag::IS_BOOLEAN != 0,
        }
    }
}

fn truncated(what: &'static str, input: impl Into<String>) -> Error {
    Error::Chunk(basalt_chunk::Error::parse(what, input))
}

/// A warning TiDB raises with code 1105 whatever the flags say.
fn note(ctx: &mut EvalContext, message: &str) {
    ctx.warn(&Error::Chunk(basalt_chunk::Error::Unsupported(
        message.into(),
    )));
}

macro_rules! views {
    ($($name:ident: $method:ident -> $view:ty),*) => {
        $(fn $name<'a>(arg: &'a StackValue<'_>) -> Result<$view> {
            arg.$method()
        })*
    };
}
views!(v_int: int -> FixedView<'a, i64>, v_real: real -> FixedView<'a, f64>,
    v_dec: decimal -> FixedView<'a, Decimal>, v_time: time -> FixedView<'a, DateTime>,
    v_dur: duration -> FixedView<'a, Duration>, v_str: bytes -> BytesView<'a>,
    v_json: json -> JsonView<'a>);

/// Builds a string (or, with `wrap`, JSON) column; `f(i, buf)` writes row `i` into the
/// cleared `buf` and says whether it is non-NULL.
fn collect_bytes(
    rows: usize,
    wrap: fn(BytesColumn) -> Column,
    mut f: impl FnMut(usize, &mut Vec<u8>) -> Result<bool>,
) -> Result<Column> {
    let mut column = BytesColumn::with_capacity(rows);
    let mut buf = Vec::new();
    for i in 0..rows {
        buf.clear();
        let valid = f(i, &mut buf)?;
        column.push(valid.then_some(buf.as_slice()));
    }
    Ok(wrap(column))
}

fn c_json(rows: usize, mut f: impl FnMut(usize) -> Out<Json>) -> Result<Column> {
    collect_bytes(rows, Column::Json, |i, buf| {
        Ok(f(i)?.map(|json| json.encode_datum_payload(buf)).is_some())
    })
}

fn collect_fixed<T: FixedValue>(
    rows: usize,
    wrap: fn(FixedColumn<T>) -> Column,
    mut f: impl FnMut(usize) -> Result<Option<T>>,
) -> Result<Column> {
    let mut column = FixedColumn::with_capacity(rows);
    for i in 0..rows {
        column.push(f(i)?);
    }
    Ok(wrap(column))
}

fn c_time(rows: usize, f: impl FnMut(usize) -> Out<DateTime>) -> Result<Column> {
    collect_fixed(rows, Column::DateTime, f)
}

fn c_dur(rows: usize, f: impl FnMut(usize) -> Out<Duration>) -> Result<Column> {
    collect_fixed(rows, Column::Duration, f)
}

/// f64 to BIGINT as TiKV's `ToInt for f64`: round half to even, clamp with an overflow.
fn real_to_i64(ctx: &mut EvalContext, v: f64) -> Result<i64> {
    let r = v.round_ties_even();
    if r < i64::MIN as f64 || r > i64::MAX as f64 {
        ctx.handle(Error::overflow("BIGINT", format!("{v}")))?;
    }
    // `as` saturates, which is the clamping wanted.
    Ok(r as i64)
}

/// f64 to BIGINT UNSIGNED as TiKV's `to_uint`: round half away from zero; a negative value
/// overflows and keeps its two's complement (or becomes 0 inside an INSERT).
fn real_to_u64(ctx: &mut EvalContext, v: f64) -> Result<u64> {
    let r = v.round();
    if r < 0.0 || r > u64::MAX as f64 {
        ctx.handle(Error::overflow("BIGINT UNSIGNED", format!("{v}")))?;
    }
    if r < 0.0 && ctx.flags & flag::IN_INSERT_STMT == 0 {
        return Ok(r as i64 as u64);
    }
    Ok(r as u64)
}

/// DECIMAL to BIGINT [UNSIGNED], rounding half up; out of range clamps with an overflow.
fn dec_to_int(ctx: &mut EvalContext, d: &Decimal, unsigned: bool) -> Result<i64> {
    let neg = d.is_negative();
    match (unsigned, unsigned.then(|| d.as_u64())) {
        (true, Some(Ok(v))) => Ok(v as i64),
        (true, _) => ctx
            .handle(Error::overflow("BIGINT UNSIGNED", d.to_string()))
            .map(|_| -i64::from(!neg)),
        (false, _) => d.as_i64().or_else(|_| {
            ctx.handle(Error::overflow("BIGINT", d.to_string()))?;
            Ok(if neg { i64::MIN } else { i64::MAX })
        }),
    }
}

/// The longest prefix of `s` that reads as a float (TiDB `getValidFloatPrefix`); a shorter
/// prefix than `s` is a truncation.
fn float_prefix<'a>(ctx: &mut EvalContext, s: &'a str, what: &'static str) -> Result<&'a str> {
    let b = s.as_bytes();
    let (mut saw_dot, mut saw_digit, mut valid, mut e_at) = (false, false, 0, 0);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'+' | b'-' if i == 0 || (e_at > 0 && i == e_at + 1) => {}
            b'+' | b'-' => break,
            b'.' if saw_dot || e_at > 0 => break,
            b'.' => {
                saw_dot = true;
                if saw_digit {
                    valid = i + 1;
                }
            }
            b'e' | b'E' if !saw_digit || e_at != 0 => break,
            b'e' | b'E' => e_at = i,
            b'0'..=b'9' => {
                saw_digit = true;
                valid = i + 1;
            }
            _ => break,
        }
    }
    if valid == 0 || valid < b.len() {
        ctx.handle(truncated(what, s))?;
    }
    Ok(if valid == 0 { "0" } else { &s[..valid] })
}

fn valid_utf8_prefix<'a>(ctx: &mut EvalContext, bytes: &'a [u8]) -> Result<&'a str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            ctx.handle(truncated("string", String::from_utf8_lossy(bytes)))?;
            Ok(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""))
        }
    }
}

/// TiDB `StrToFloat`: the valid float prefix; out-of-range text is a truncation giving ±MAX.
fn str_to_f64(ctx: &mut EvalContext, bytes: &[u8]) -> Result<f64> {
    let s = valid_utf8_prefix(ctx, bytes)?.trim();
    let prefix = float_prefix(ctx, s, "DOUBLE")?;
    let v: f64 = prefix.parse().unwrap_or(0.0);
    if v.is_infinite() {
        ctx.handle(truncated("DOUBLE", prefix))?;
        return Ok(if v < 0.0 { f64::MIN } else { f64::MAX });
    }
    Ok(v)
}

/// TiDB `StrToInt`/`StrToUint` (not the CAST path): the float prefix, rounded when it is not
/// a plain integer (integers past BIGINT go through DOUBLE).
fn str_to_int(ctx: &mut EvalContext, bytes: &[u8], unsigned: bool) -> Result<i64> {
    let s = valid_utf8_prefix(ctx, bytes)?.trim();
    let prefix = float_prefix(ctx, s, "INTEGER")?;
    match prefix.trim_start_matches('+').parse::<i64>() {
        Ok(v) if !unsigned || v >= 0 => Ok(v),
        _ => {
            let v: f64 = prefix.parse().unwrap_or(0.0);
            Ok(if unsigned {
                real_to_u64(ctx, v)? as i64
            } else {
                real_to_i64(ctx, v)?
            })
        }
    }
}

/// TiDB `ProduceFloatWithSpecifiedTp`: round to `decimal` digits and clamp to what
/// `(flen, decimal)` holds; negative values of an UNSIGNED target become 0. Both are
/// overflows.
fn produce_float(ctx: &mut EvalContext, spec: &Spec, v: f64) -> Result<f64> {
    let mut v = v;
    if spec.flen >= 0 && spec.decimal >= 0 && spec.flen >= spec.decimal {
        let shift = 10f64.powi(spec.decimal);
        let max = 10f64.powi(spec.flen - spec.decimal) - 1.0 / shift;
        if v.is_nan() {
            ctx.handle(Error::overflow("DOUBLE", "NaN"))?;
            v = 0.0;
        } else if (v * shift).is_finite() {
            v = (v * shift).round() / shift;
        }
        if v.abs() > max {
            ctx.handle(Error::overflow("DOUBLE", format!("{v}")))?;
            v = max.copysign(v);
        }
    }
    if spec.to_unsigned && v < 0.0 {
        ctx.handle(Error::overflow("DOUBLE UNSIGNED", format!("{v}")))?;
        return Ok(0.0);
    }
    Ok(v)
}

/// TiDB `ProduceDecWithSpecifiedTp`: fit `d` into `DECIMAL(flen, decimal)`.
fn produce_dec(ctx: &mut EvalContext, spec: &Spec, d: Decimal) -> Result<Option<Decimal>> {
    let mut d = d;
    let (flen, decimal) = (spec.flen, spec.decimal);
    if flen >= 0 && decimal >= 0 {
        if flen < decimal || decimal > i32::from(Decimal::MAX_SCALE) {
            return Err(Error::InvalidExpr(format!(
                "DECIMAL({flen}, {decimal}): M must be >= D"
            )));
        }
        let (prec, frac) = d.precision_and_frac();
        let (prec, frac) = (i32::from(prec), i32::from(frac));
        if !d.is_zero() && prec - frac > flen - decimal {
            ctx.handle(Error::overflow("DECIMAL", format!("({flen}, {decimal})")))?;
            d = max_decimal(d.is_negative(), flen as usize, decimal as usize)?;
        } else if frac != decimal {
            let rounded = match d.round(decimal as i8, RoundMode::HalfUp) {
                Ok(r) => r,
                Err(_) => {
                    ctx.handle(Error::overflow("DECIMAL", format!("({flen}, {decimal})")))?;
                    return Ok(None);
                }
            };
            if !rounded.is_zero() && frac > decimal && rounded != d {
                // TiDB only warns inside INSERT/UPDATE/DELETE and asks the flags elsewhere.
                let error = truncated("DECIMAL", d.to_unrounded_string());
                if ctx.flags & (flag::IN_INSERT_STMT | flag::IN_UPDATE_OR_DELETE_STMT) != 0 {
                    ctx.warn(&error);
                } else {
                    ctx.handle(error)?;
                }
            }
            d = rounded;
        }
    }
    if spec.to_unsigned && d.is_negative() {
        return Ok(Some(Decimal::zero()));
    }
    Ok(Some(d))
}

fn max_decimal(negative: bool, flen: usize, decimal: usize) -> Result<Decimal> {
    let mut s = String::with_capacity(flen + 2);
    if negative {
        s.push('-');
    }
    if flen == decimal {
        s.push('0');
    }
    s.extend(std::iter::repeat_n('9', flen - decimal));
    if decimal > 0 {
        s.push('.');
        s.extend(std::iter::repeat_n('9', decimal));
    }
    Ok(s.parse::<Decimal>()?)
}

/// TiDB `ProduceStrWithSpecifiedTp` plus `padZeroForBinaryType`: cut to `flen` characters
/// (bytes for binary charsets) with a truncation, pad BINARY(n) with zero bytes.
fn finish_str(ctx: &mut EvalContext, spec: &Spec, buf: &mut Vec<u8>) -> Result<()> {
    if spec.flen < 0 {
        return Ok(());
    }
    let flen = spec.flen as usize;
    // Multi-byte charsets count characters (text that is not UTF-8 counts bytes).
    let cut = match std::str::from_utf8(buf) {
        Ok(text) if spec.to_multibyte => text
            .char_indices()
            .nth(flen)
            .map(|(at, _)| (text.chars().count(), at)),
        _ => (buf.len() > flen).then_some((buf.len(), flen)),
    };
    if let Some((len, at)) = cut {
        ctx.handle(truncated(
            "string",
            format!("Data Too Long, field len {flen}, data len {len}"),
        ))?;
        buf.truncate(at);
    }
    if spec.to_binary_char && buf.len() < flen {
        buf.resize(flen, 0);
    }
    Ok(())
}

/// `YYYYMMDD` (DATE) or `YYYYMMDDHHMMSS` of a value.
fn time_number(t: &DateTime) -> u64 {
    let date = u64::from(t.year()) * 10000 + u64::from(t.month()) * 100 + u64::from(t.day());
    if t.time_type() == TimeType::Date {
        return date;
    }
    date * 1_000_000 + u64::from(t.hour() * 10000 + t.minute() * 100 + t.second())
}

/// The value as a decimal number with its fsp digits, e.g. `20121231235959.123`.
fn time_decimal_text(t: &DateTime) -> String {
    let mut s = time_number(t).to_string();
    push_frac(&mut s, t.micro(), t.fsp());
    s
}

fn push_frac(s: &mut String, micro: u32, fsp: i8) {
    if fsp > 0 {
        s.push_str(&format!(".{micro:06}")[..fsp as usize + 1]);
    }
}

/// `[-]HHMMSS[.frac]` of a duration.
fn duration_decimal_text(d: &Duration) -> String {
    let mut s = duration_number(d).to_string();
    if d.is_negative() && !s.starts_with('-') {
        s.insert(0, '-');
    }
    push_frac(&mut s, d.micros(), d.fsp());
    s
}

fn duration_number(d: &Duration) -> i64 {
    let n = i64::from(d.hours()) * 10000 + i64::from(d.minutes()) * 100 + i64::from(d.secs());
    n * if d.is_negative() { -1 } else { 1 }
}

fn time_of_day_nanos(t: &DateTime) -> i64 {
    i64::from(t.hour() * 3600 + t.minute() * 60 + t.second()) * NANOS_PER_SEC
        + i64::from(t.micro()) * 1000
}

/// The fields year .. microsecond of a value.
fn parts(t: &DateTime) -> [u32; 7] {
    let (d, h) = (
        [t.year(), t.month(), t.day()],
        [t.hour(), t.minute(), t.second()],
    );
    [d[0], d[1], d[2], h[0], h[1], h[2], t.micro()]
}

fn make(p: [u32; 7], tp: TimeType, fsp: i8) -> basalt_chunk::Result<DateTime> {
    DateTime::new(p[0], p[1], p[2], p[3], p[4], p[5], p[6], tp, fsp)
}

/// Rebuilds `t` as a value of type `tp` rounded to `fsp` (DATE drops the time of day).
fn retype(t: &DateTime, tp: TimeType, fsp: i8) -> basalt_chunk::Result<DateTime> {
    let t = if tp == TimeType::Date {
        *t
    } else {
        t.round_frac(fsp)?
    };
    if t.is_zero() {
        return Ok(DateTime::zero(tp, fsp));
    }
    make(parts(&t), tp, fsp)
}

/// A number as a time, with TiKV's `parse_from_i64` ranges: `YYMMDD`, `YYYYMMDD`,
/// `YYMMDDHHMMSS`, `YYYYMMDDHHMMSS` (two-digit years 00..69 are 20xx, 70..99 are 19xx).
/// `None`: not a valid date.
fn time_from_num(n: i64, tp: TimeType, fsp: i8) -> Option<DateTime> {
    if n == 0 {
        return Some(DateTime::zero(tp, fsp));
    }
    let full = match n {
        101..=691_231 => (n + 20_000_000) * 1_000_000,
        700_101..=991_231 => (n + 19_000_000) * 1_000_000,
        991_232..=99_991_231 => n * 1_000_000,
        101_000_000..=691_231_235_959 => n + 20_000_000_000_000,
        700_101_000_000..=991_231_235_959 => n + 19_000_000_000_000,
        1_000_000_000_000..=i64::MAX => n,
        _ => return None,
    };
    let (ymd, hms) = (full / 1_000_000, full % 1_000_000);
    let (d, h) = (
        [ymd / 10000, ymd / 100 % 100, ymd % 100],
        [hms / 10000, hms / 100 % 100],
    );
    let p = [d[0], d[1], d[2], h[0], h[1], hms % 100, 0];
    make(p.map(|v| u32::try_from(v).unwrap_or(u32::MAX)), tp, fsp).ok()
}

/// A number with a fraction (`20121231235959.5`) as a time: the integer part as
/// [`time_from_num`], the fraction rounded to the fsp.
fn time_from_decimal_text(text: &str, tp: TimeType, fsp: i8) -> Option<DateTime> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let n: i64 = int.parse().ok()?;
    let t = time_from_num(n, tp, 6)?;
    if tp == TimeType::Date || frac.is_empty() || t.is_zero() {
        return retype(&t, tp, fsp).ok();
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    let mut p = parts(&t);
    p[6] = digits.parse().ok()?;
    make(p, tp, 6).and_then(|t| t.round_frac(fsp)).ok()
}

/// JSON time values carry TiDB's `CoreTime` bits (the chunk form without the fsp/type tag).
fn time_from_core(bits: u64, tp: TimeType, fsp: i8) -> basalt_chunk::Result<DateTime> {
    retype(&DateTime::from_chunk_u64(bits & !0xf)?, tp, fsp)
}

fn core_time_bits(t: &DateTime) -> u64 {
    t.to_chunk_u64() & !0xf
}

fn time_error(ctx: &mut EvalContext, input: impl Into<String>) -> Result<Option<DateTime>> {
    ctx.handle(truncated("datetime", input))?;
    Ok(None)
}

/// TiDB `NumberToDuration`.
fn duration_from_num(ctx: &mut EvalContext, n: i64, fsp: i8) -> Result<Option<Duration>> {
    if !(-TIME_MAX_NUMBER..=TIME_MAX_NUMBER).contains(&n) {
        if n >= 10_000_000_000 {
            if let Some(t) = time_from_num(n, TimeType::DateTime, fsp) {
                return Ok(Some(Duration::from_nanos(time_of_day_nanos(&t), fsp)?));
            }
        }
        ctx.handle(Error::overflow("TIME", n.to_string()))?;
        return Ok(None);
    }
    let a = n.abs();
    if a % 100 >= 60 || a / 100 % 100 >= 60 {
        ctx.handle(truncated("time", n.to_string()))?;
        return Ok(None);
    }
    let nanos = ((a / 10000) * 3600 + (a / 100 % 100) * 60 + a % 100) * NANOS_PER_SEC;
    Ok(Some(Duration::from_nanos(n.signum() * nanos, fsp)?))
}

fn parse_duration(ctx: &mut EvalContext, text: &str, fsp: i8) -> Result<Option<Duration>> {
    match Duration::parse(text, fsp) {
        Ok(d) => Ok(Some(d)),
        Err(basalt_chunk::Error::Overflow { .. }) => {
            ctx.handle(Error::overflow("TIME", text))?;
            Ok(None)
        }
        Err(_) => {
            ctx.handle(truncated("time", text))?;
            Ok(None)
        }
    }
}

type Out<T> = Result<Option<T>>;

// Int source.
fn int_as_real(_: &mut EvalContext, s: &Spec, v: i64) -> Out<f64> {
    Ok(Some(if s.from_unsigned || s.to_unsigned {
        v as u64 as f64
    } else {
        v as f64
    }))
}
fn int_as_dec(ctx: &mut EvalContext, s: &Spec, v: i64) -> Out<Decimal> {
    let d = if s.from_unsigned || s.to_unsigned {
        Decimal::from_u64(v as u64)
    } else {
        Decimal::from_i64(v)
    };
    produce_dec(ctx, s, d)
}
fn int_as_str(_: &mut EvalContext, s: &Spec, v: i64, buf: &mut Vec<u8>) -> Result<bool> {
    match s.from_tp {
        FieldTypeTp::Year if v == 0 => buf.extend_from_slice(b"0000"),
        // BIT(n) as its big-endian bytes, as many as the target length says.
        FieldTypeTp::Bit if (1..=8).contains(&s.flen) => {
            buf.extend_from_slice(&v.to_be_bytes()[8 - s.flen as usize..])
        }
        FieldTypeTp::Bit => return Err(Error::InvalidExpr(format!("BIT as CHAR({})", s.flen))),
        _ if s.from_unsigned => write!(buf, "{}", v as u64).map_err(io_error)?,
        _ => write!(buf, "{v}").map_err(io_error)?,
    }
    Ok(true)
}
fn int_as_time(ctx: &mut EvalContext, s: &Spec, v: i64) -> Out<DateTime> {
    match time_from_num(v, s.time_type, s.fsp) {
        Some(t) => Ok(Some(t)),
        None => time_error(ctx, v.to_string()),
    }
}
fn int_as_json(_: &mut EvalContext, s: &Spec, v: i64) -> Out<Json> {
    Ok(Some(if s.from_bool {
        Json::from_bool(v != 0)
    } else if s.from_unsigned {
        Json::from_u64(v as u64)
    } else {
        Json::from_i64(v)
    }))
}

// Real source.
fn real_as_int(ctx: &mut EvalContext, s: &Spec, v: f64) -> Out<i64> {
    if s.to_unsigned {
        real_to_u64(ctx, v).map(|v| Some(v as i64))
    } else {
        real_to_i64(ctx, v).map(Some)
    }
}
fn real_as_dec(ctx: &mut EvalContext, s: &Spec, v: f64) -> Out<Decimal> {
    match Decimal::from_f64(v) {
        Ok(d) => produce_dec(ctx, s, d),
        Err(_) => {
            ctx.handle(Error::overflow("DECIMAL", format!("{v}")))?;
            Ok(None)
        }
    }
}
fn real_as_str(_: &mut EvalContext, s: &Spec, v: f64, buf: &mut Vec<u8>) -> Result<bool> {
    if s.from_tp == FieldTypeTp::Float {
        write!(buf, "{}", v as f32).map_err(io_error)?;
    } else {
        write!(buf, "{v}").map_err(io_error)?;
    }
    Ok(true)
}
fn real_as_time(ctx: &mut EvalContext, s: &Spec, v: f64) -> Out<DateTime> {
    if v == 0.0 {
        return Ok(Some(DateTime::zero(s.time_type, s.fsp)));
    }
    let text = v.to_string();
    match time_from_decimal_text(&text, s.time_type, s.fsp) {
        Some(t) => Ok(Some(t)),
        None => time_error(ctx, text),
    }
}

// Decimal source.
fn dec_as_str(_: &mut EvalContext, _: &Spec, v: Decimal, buf: &mut Vec<u8>) -> Result<bool> {
    buf.extend_from_slice(v.to_unrounded_string().as_bytes());
    Ok(true)
}
fn dec_as_time(ctx: &mut EvalContext, s: &Spec, v: Decimal) -> Out<DateTime> {
    let text = v.to_unrounded_string();
    match time_from_decimal_text(&text, s.time_type, s.fsp) {
        Some(t) => Ok(Some(t)),
        None => time_error(ctx, text),
    }
}

// String source.
/// TiKV `cast_string_as_int`: sign and digits only, a longer text is a truncation; a value
/// past the signed (or unsigned) range keeps its bits with a 1105 note; beyond 64 bits it
/// clamps, as a truncation warning under OVERFLOW_AS_WARNING and an overflow error otherwise.
fn str_as_int(ctx: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<i64> {
    let text = valid_utf8_prefix(ctx, v)?.trim();
    let negative = text.starts_with('-');
    let sign = usize::from(negative || text.starts_with('+'));
    let digits = text[sign..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || sign + digits < text.len() {
        ctx.handle(truncated("INTEGER", text))?;
    }
    let prefix = if digits == 0 {
        "0"
    } else {
        &text[..sign + digits]
    };
    let parsed = match negative {
        true => prefix.parse::<i64>().ok(),
        false => prefix
            .trim_start_matches('+')
            .parse::<u64>()
            .ok()
            .map(|v| v as i64),
    };
    let Some(x) = parsed else {
        if ctx.flags & flag::OVERFLOW_AS_WARNING == 0 {
            return Err(Error::overflow(
                if negative {
                    "BIGINT"
                } else {
                    "BIGINT UNSIGNED"
                },
                prefix,
            ));
        }
        ctx.warn(&truncated("INTEGER", text));
        return Ok(Some(if negative { i64::MIN } else { -1 }));
    };
    if !negative && !s.to_unsigned && x < 0 {
        note(
            ctx,
            "Cast to signed converted positive out-of-range integer to its negative complement",
        );
    } else if negative && s.to_unsigned {
        note(
            ctx,
            "Cast to unsigned converted negative integer to its positive complement",
        );
    }
    Ok(Some(x))
}
fn str_as_real(ctx: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<f64> {
    let r = if v.is_empty() {
        0.0
    } else {
        str_to_f64(ctx, v)?
    };
    produce_float(ctx, s, r).map(Some)
}
fn str_as_dec(ctx: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<Decimal> {
    let d = match Decimal::from_bytes_lossy(v) {
        Ok((d, garbage)) => {
            if garbage {
                ctx.handle(truncated("DECIMAL", String::from_utf8_lossy(v)))?;
            }
            d
        }
        Err(basalt_chunk::Error::Overflow { .. }) => {
            ctx.handle(Error::overflow("DECIMAL", String::from_utf8_lossy(v)))?;
            return Ok(None);
        }
        Err(_) => {
            ctx.handle(truncated("DECIMAL", String::from_utf8_lossy(v)))?;
            Decimal::zero()
        }
    };
    produce_dec(ctx, s, d)
}
fn str_as_str(_: &mut EvalContext, _: &Spec, v: &[u8], buf: &mut Vec<u8>) -> Result<bool> {
    buf.extend_from_slice(v);
    Ok(true)
}
fn str_as_time(ctx: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<DateTime> {
    let text = String::from_utf8_lossy(v);
    match DateTime::parse_in_tz(&text, s.time_type, s.fsp, &ctx.tz) {
        Ok(t) => Ok(Some(t)),
        Err(_) => time_error(ctx, text),
    }
}
/// Binary strings become opaque JSON (CHAR(n) padded to n); with PARSE_TO_JSON the text is
/// parsed (bad JSON is an error, as in TiDB); otherwise it becomes a JSON string.
fn str_as_json(_: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<Json> {
    if s.from_binary_string {
        let mut bytes = v.to_vec();
        if s.from_tp == FieldTypeTp::String && s.from_flen > 0 {
            bytes.resize(bytes.len().max(s.from_flen as usize), 0);
        }
        return Ok(Some(Json::from_opaque(s.from_tp as u8, &bytes)));
    }
    if s.parse_to_json {
        let text =
            std::str::from_utf8(v).map_err(|_| truncated("JSON", String::from_utf8_lossy(v)))?;
        return Ok(Some(Json::parse(text)?));
    }
    Ok(Some(Json::from_str_val(&String::from_utf8_lossy(v))))
}

// Time source.
fn time_as_str(_: &mut EvalContext, _: &Spec, v: DateTime, buf: &mut Vec<u8>) -> Result<bool> {
    write!(buf, "{v}").map_err(io_error)?;
    Ok(true)
}
fn time_as_time(ctx: &mut EvalContext, s: &Spec, v: DateTime) -> Out<DateTime> {
    match retype(&v, s.time_type, s.fsp) {
        Ok(t) => Ok(Some(t)),
        Err(_) => time_error(ctx, v.to_string()),
    }
}
fn time_as_json(_: &mut EvalContext, _: &Spec, v: DateTime) -> Out<Json> {
    let ty = match v.time_type() {
        TimeType::Date => JsonType::Date,
        TimeType::DateTime => JsonType::Datetime,
        TimeType::Timestamp => JsonType::Timestamp,
    };
    Ok(Some(Json::from_core_time(ty, core_time_bits(&v))?))
}

// Duration source.
fn dur_as_str(_: &mut EvalContext, _: &Spec, v: Duration, buf: &mut Vec<u8>) -> Result<bool> {
    write!(buf, "{v}").map_err(io_error)?;
    Ok(true)
}

// JSON source (the binary form of one row).
fn json_as_int(ctx: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<i64> {
    let j = Json::from_bytes(v)?;
    let j = j.as_ref();
    Ok(Some(match j.json_type()? {
        JsonType::Literal => i64::from(j.as_bool()? == Some(true)),
        JsonType::I64 => j.as_i64()?.unwrap_or(0),
        JsonType::U64 => j.as_u64()?.unwrap_or(0) as i64,
        JsonType::Double => real_as_int(ctx, s, j.as_f64()?.unwrap_or(0.0))?.unwrap_or(0),
        JsonType::String => str_to_int(ctx, j.as_str_bytes()?.unwrap_or(b""), s.to_unsigned)?,
        _ => {
            ctx.handle(truncated("INTEGER", j.to_string()))?;
            0
        }
    }))
}
fn json_to_f64(ctx: &mut EvalContext, v: &[u8]) -> Result<f64> {
    let j = Json::from_bytes(v)?;
    let j = j.as_ref();
    Ok(match j.json_type()? {
        JsonType::Literal => f64::from(u8::from(j.as_bool()? == Some(true))),
        JsonType::I64 => j.as_i64()?.unwrap_or(0) as f64,
        JsonType::U64 => j.as_u64()?.unwrap_or(0) as f64,
        JsonType::Double => j.as_f64()?.unwrap_or(0.0),
        JsonType::String => str_to_f64(ctx, j.as_str_bytes()?.unwrap_or(b""))?,
        _ => {
            ctx.handle(truncated("DOUBLE", j.to_string()))?;
            0.0
        }
    })
}
fn json_as_dec(ctx: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<Decimal> {
    let j = Json::from_bytes(v)?;
    if let Some(text) = j.as_ref().as_str_bytes()? {
        let text = String::from_utf8_lossy(text);
        let d = match text.parse::<Decimal>() {
            Ok(d) => d,
            Err(_) => {
                ctx.handle(truncated("DECIMAL", text))?;
                Decimal::zero()
            }
        };
        return produce_dec(ctx, s, d);
    }
    let r = json_to_f64(ctx, v)?;
    real_as_dec(ctx, s, r)
}
fn json_as_str(_: &mut EvalContext, _: &Spec, v: &[u8], buf: &mut Vec<u8>) -> Result<bool> {
    write!(buf, "{}", Json::from_bytes(v)?).map_err(io_error)?;
    Ok(true)
}
fn json_as_time(ctx: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<DateTime> {
    let j = Json::from_bytes(v)?;
    let j = j.as_ref();
    if let Some(bits) = j.as_core_time()? {
        return match time_from_core(bits, s.time_type, s.fsp) {
            Ok(t) => Ok(Some(t)),
            Err(_) => time_error(ctx, j.to_string()),
        };
    }
    match j.as_str_bytes()? {
        Some(text) => str_as_time(ctx, s, text),
        None => time_error(ctx, j.to_string()),
    }
}
fn json_as_dur(ctx: &mut EvalContext, s: &Spec, v: &[u8]) -> Out<Duration> {
    let j = Json::from_bytes(v)?;
    let j = j.as_ref();
    if let Some(bits) = j.as_core_time()? {
        let t = time_from_core(bits, TimeType::DateTime, 6)?;
        return Ok(Some(Duration::from_nanos(time_of_day_nanos(&t), s.fsp)?));
    }
    if let Some((nanos, _)) = j.as_duration()? {
        return Ok(Some(Duration::from_nanos(nanos, s.fsp)?));
    }
    match j.as_str_bytes()? {
        Some(text) => parse_duration(ctx, &String::from_utf8_lossy(text), s.fsp),
        None => {
            ctx.handle(truncated("TIME", j.to_string()))?;
            Ok(None)
        }
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::InvalidExpr(format!("formatting a cast result: {e}"))
}

/// An `EvalFn` reading argument 0 through the view `$from` and converting each non-NULL row
/// with `$conv` (or the body of a closure-like `|ctx, spec, value| body`) into the collector
/// `$to`; `str` targets write into a reused buffer and are then fitted to the target length.
macro_rules! cast {
    ($from:ident => str, $conv:path) => {
        (|ctx: &mut EvalContext, args: &[StackValue<'_>], rows: usize, meta: &FnMeta| {
            let spec = Spec::new(meta);
            let view = $from(&args[0])?;
            collect_bytes(rows, Column::Bytes, |i, buf| match view.get(i) {
                None => Ok(false),
                Some(v) => {
                    let valid = $conv(ctx, &spec, v, buf)?;
                    finish_str(ctx, &spec, buf)?;
                    Ok(valid)
                }
            })
        }) as EvalFn
    };
    ($from:ident => $to:ident, |$c:tt, $s:tt, $v:tt| $body:expr) => {
        (|ctx: &mut EvalContext, args: &[StackValue<'_>], rows: usize, meta: &FnMeta| {
            let spec = Spec::new(meta);
            let view = $from(&args[0])?;
            $to(rows, |i| match view.get(i) {
                None => Ok(None),
                Some($v) => {
                    let ($c, $s) = (&mut *ctx, &spec);
                    $body
                }
            })
        }) as EvalFn
    };
    ($from:ident => $to:ident, $conv:path) => {
        cast!($from => $to, |c, s, v| $conv(c, s, v))
    };
}

/// The cast function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let eval = match sig {
        Sig::CastIntAsInt => cast!(v_int => c_int, |_, _, v| Ok(Some(v))),
        Sig::CastIntAsReal => cast!(v_int => c_real, int_as_real),
        Sig::CastIntAsString => cast!(v_int => str, int_as_str),
        Sig::CastIntAsDecimal => cast!(v_int => c_dec, int_as_dec),
        Sig::CastIntAsTime => cast!(v_int => c_time, int_as_time),
        Sig::CastIntAsDuration => cast!(v_int => c_dur, |c, s, v| duration_from_num(c, v, s.fsp)),
        Sig::CastIntAsJson => cast!(v_int => c_json, int_as_json),
        Sig::CastRealAsInt => cast!(v_real => c_int, real_as_int),
        Sig::CastRealAsReal => cast!(v_real => c_real, |_, _, v| Ok(Some(v))),
        Sig::CastRealAsString => cast!(v_real => str, real_as_str),
        Sig::CastRealAsDecimal => cast!(v_real => c_dec, real_as_dec),
        Sig::CastRealAsTime => cast!(v_real => c_time, real_as_time),
        Sig::CastRealAsDuration => {
            cast!(v_real => c_dur, |c, s, v| parse_duration(c, &v.to_string(), s.fsp))
        }
        Sig::CastRealAsJson => cast!(v_real => c_json, |_, _, v| Ok(Some(Json::from_f64(v)))),
        Sig::CastDecimalAsInt => {
            cast!(v_dec => c_int, |c, s, v| dec_to_int(c, &v, s.to_unsigned).map(Some))
        }
        Sig::CastDecimalAsReal => cast!(v_dec => c_real, |_, _, v| Ok(Some(v.as_f64()))),
        Sig::CastDecimalAsString => cast!(v_dec => str, dec_as_str),
        Sig::CastDecimalAsDecimal => cast!(v_dec => c_dec, produce_dec),
        Sig::CastDecimalAsTime => cast!(v_dec => c_time, dec_as_time),
        Sig::CastDecimalAsDuration => {
            cast!(v_dec => c_dur, |c, s, v| parse_duration(c, &v.to_string(), s.fsp))
        }
        Sig::CastDecimalAsJson => {
            cast!(v_dec => c_json, |_, _, v| Ok(Some(Json::from_f64(v.as_f64()))))
        }
        Sig::CastStringAsInt => cast!(v_str => c_int, str_as_int),
        Sig::CastStringAsReal => cast!(v_str => c_real, str_as_real),
        Sig::CastStringAsString => cast!(v_str => str, str_as_str),
        Sig::CastStringAsDecimal => cast!(v_str => c_dec, str_as_dec),
        Sig::CastStringAsTime => cast!(v_str => c_time, str_as_time),
        Sig::CastStringAsDuration => {
            cast!(v_str => c_dur, |c, s, v| parse_duration(c, &String::from_utf8_lossy(v), s.fsp))
        }
        Sig::CastStringAsJson => cast!(v_str => c_json, str_as_json),
        Sig::CastTimeAsInt => {
            cast!(v_time => c_int, |_, _, v| Ok(Some(time_number(&v.round_frac(0)?) as i64)))
        }
        Sig::CastTimeAsReal => {
            cast!(v_time => c_real, |_, _, v| Ok(time_decimal_text(&v).parse().ok()))
        }
        Sig::CastTimeAsString => cast!(v_time => str, time_as_str),
        Sig::CastTimeAsDecimal => {
            cast!(v_time => c_dec, |c, s, v| produce_dec(c, s, time_decimal_text(&v).parse()?))
        }
        Sig::CastTimeAsTime => cast!(v_time => c_time, time_as_time),
        Sig::CastTimeAsDuration => {
            cast!(v_time => c_dur, |_, s, v| Ok(Some(Duration::from_nanos(time_of_day_nanos(&v), s.fsp)?)))
        }
        Sig::CastTimeAsJson => cast!(v_time => c_json, time_as_json),
        Sig::CastDurationAsInt => {
            cast!(v_dur => c_int, |_, _, v| Ok(Some(duration_number(&v.round_frac(0)?))))
        }
        Sig::CastDurationAsReal => {
            cast!(v_dur => c_real, |_, _, v| Ok(duration_decimal_text(&v).parse().ok()))
        }
        Sig::CastDurationAsString => cast!(v_dur => str, dur_as_str),
        Sig::CastDurationAsDecimal => {
            cast!(v_dur => c_dec, |c, s, v| produce_dec(c, s, duration_decimal_text(&v).parse()?))
        }
        Sig::CastDurationAsDuration => {
            cast!(v_dur => c_dur, |_, s, v| Ok(Some(v.round_frac(s.fsp)?)))
        }
        Sig::CastDurationAsJson => {
            cast!(v_dur => c_json, |_, _, v| Ok(Some(Json::from_duration(v.nanos(), v.fsp() as u32))))
        }
        Sig::CastJsonAsInt => cast!(v_json => c_int, json_as_int),
        Sig::CastJsonAsReal => cast!(v_json => c_real, |c, _, v| json_to_f64(c, v).map(Some)),
        Sig::CastJsonAsString => cast!(v_json => str, json_as_str),
        Sig::CastJsonAsDecimal => cast!(v_json => c_dec, json_as_dec),
        Sig::CastJsonAsTime => cast!(v_json => c_time, json_as_time),
        Sig::CastJsonAsDuration => cast!(v_json => c_dur, json_as_dur),
        Sig::CastJsonAsJson => cast!(v_json => c_json, |_, _, v| Ok(Some(Json::from_bytes(v)?))),
        _ => return None,
    };
    def!(sig.as_str_name(), Arity::Exact(1), eval)
}
