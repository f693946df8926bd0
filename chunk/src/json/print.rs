//! Canonical text as TiDB prints JSON (`BinaryJSON.MarshalJSON` in `pkg/types/json_binary.go`):
//! `", "` and `": "` separators, keys in stored order, Go `encoding/json` string escaping (without
//! HTML escaping), doubles in shortest form with `.0` kept and exponents outside
//! `[1e-15, 1e15)`, opaque values as `"base64:type<N>:<base64>"`, and time values as strings
//! with six fractional digits.

use std::fmt::{self, Write};

use super::decode;
use super::{Json, JsonRef, JsonType, HEADER_LEN, LITERAL_FALSE, LITERAL_TRUE, VALUE_ENTRY_LEN};

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_ref(), f)
    }
}

impl fmt::Display for JsonRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(self.value.len() * 3 / 2 + 8);
        write_value(&mut s, *self)?;
        f.write_str(&s)
    }
}

fn write_value(out: &mut String, v: JsonRef<'_>) -> fmt::Result {
    let err = |_| fmt::Error;
    match v.type_code {
        JsonType::Literal => out.push_str(match v.value.first() {
            Some(&LITERAL_TRUE) => "true",
            Some(&LITERAL_FALSE) => "false",
            _ => "null",
        }),
        JsonType::I64 => write!(out, "{}", v.as_i64().map_err(err)?.unwrap_or(0))?,
        JsonType::U64 => write!(out, "{}", v.as_u64().map_err(err)?.unwrap_or(0))?,
        JsonType::Double => write_f64(out, v.as_f64().map_err(err)?.unwrap_or(0.0)),
        JsonType::String => write_string(out, v.as_str_bytes().map_err(err)?.unwrap_or(b"")),
        JsonType::Opaque => {
            let (field_type, bytes) = v.as_opaque().map_err(err)?.unwrap_or((0, b""));
            write!(out, "\"base64:type{field_type}:")?;
            write_base64(out, bytes);
            out.push('"');
        }
        JsonType::Date | JsonType::Datetime | JsonType::Timestamp => {
            let t = v.as_core_time().map_err(err)?.unwrap_or(0);
            write_core_time(out, v.type_code, t)?;
        }
        JsonType::Time => {
            let (nanos, _) = v.as_duration().map_err(err)?.unwrap_or((0, 0));
            write_duration(out, nanos)?;
        }
        JsonType::Array => {
            let count = v.array_len().map_err(err)?.unwrap_or(0);
            out.push('[');
            for i in 0..count {
                if i > 0 {
                    out.push_str(", ");
                }
                let e = decode::entry_value(v.value, HEADER_LEN + i * VALUE_ENTRY_LEN);
                write_value(out, e.map_err(err)?)?;
            }
            out.push(']');
        }
        JsonType::Object => {
            let count = v.object_len().map_err(err)?.unwrap_or(0);
            out.push('{');
            for i in 0..count {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, decode::object_key(v.value, i).map_err(err)?);
                out.push_str(": ");
                let e = decode::entry_value(v.value, decode::object_value_entry(count, i));
                write_value(out, e.map_err(err)?)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A double as TiDB prints it (`marshalFloat64To`): shortest round-trip digits, plain notation
/// with at least one fractional digit when `1e-15 <= |f| < 1e15` (or zero), otherwise
/// `d.ddde[-]x` without `+` or exponent padding. NaN and infinities, which TiDB refuses to
/// print, come out as `null`.
pub(super) fn write_f64(out: &mut String, f: f64) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-15..1e15).contains(&abs) {
        // Rust's `{:e}` is the shortest round-trip mantissa with a bare exponent: the same text
        // Go's 'e' format gives after TiDB strips the '+' and the exponent's leading zero.
        let _ = write!(out, "{f:e}");
    } else {
        let start = out.len();
        let _ = write!(out, "{f}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A JSON string literal with Go `encoding/json` escaping (HTML-safe characters left alone):
/// `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other control bytes as `\u00xx`, U+2028/U+2029
/// escaped, and each byte of invalid UTF-8 as `\ufffd`.
pub(super) fn write_string(out: &mut String, s: &[u8]) {
    out.push('"');
    let mut rest = s;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(v) => (v, false),
            Err(e) => {
                let (v, _) = rest.split_at(e.valid_up_to());
                (std::str::from_utf8(v).unwrap_or(""), true)
            }
        };
        for c in valid.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    out.push_str("\\u00");
                    out.push(HEX[(c as usize) >> 4] as char);
                    out.push(HEX[(c as usize) & 0xf] as char);
                }
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        rest = &rest[valid.len()..];
        if bad {
            // Go's `utf8.DecodeRune` consumes one byte of an invalid sequence at a time.
            out.push_str("\\ufffd");
            rest = &rest[1..];
        }
    }
    out.push('"');
}

fn write_base64(out: &mut String, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// A packed `CoreTime` (TiDB `pkg/types/core_time.go` bit fields) as TiDB prints a JSON time:
/// `"YYYY-MM-DD"` for DATE, `"YYYY-MM-DD HH:MM:SS.ffffff"` otherwise (fsp forced to 6).
fn write_core_time(out: &mut String, ty: JsonType, t: u64) -> fmt::Result {
    let field = |offset: u32, width: u32| (t >> offset) & ((1u64 << width) - 1);
    let (year, month, day) = (field(50, 14), field(46, 4), field(41, 5));
    write!(out, "\"{year:04}-{month:02}-{day:02}")?;
    if ty != JsonType::Date {
        let (hour, minute, second, micro) =
            (field(36, 5), field(30, 6), field(24, 6), field(4, 20));
        write!(out, " {hour:02}:{minute:02}:{second:02}.{micro:06}")?;
    }
    out.push('"');
    Ok(())
}

/// A duration in nanoseconds as TiDB prints a JSON time: `"[-]HH:MM:SS.ffffff"` (fsp forced to
/// 6, hours may exceed two digits).
fn write_duration(out: &mut String, nanos: i64) -> fmt::Result {
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    let secs = abs / 1_000_000_000;
    let micro = abs % 1_000_000_000 / 1_000;
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    write!(
        out,
        "\"{sign}{hours:02}:{minutes:02}:{seconds:02}.{micro:06}\""
    )
}
