//! String functions: lengths, concatenation, substrings, case mapping, trimming, search,
//! reversal, repetition and comparison, in their byte (binary string) and UTF-8 (character)
//! variants, as TiDB pushes them down.
//!
//! Conventions shared by the family:
//! - A NULL argument gives NULL, except where MySQL says otherwise (`CONCAT_WS` skips NULL
//!   strings after its separator).
//! - The byte variants (`Left`, `Substring2Args`, `Locate2Args`, …) count bytes; the `*Utf8`
//!   variants count characters and reject invalid UTF-8 with a `Corrupted` error, as TiKV does.
//! - Integer length and position arguments are read as signed 64-bit values whatever their
//!   UNSIGNED flag, as both TiDB and TiKV do (a BIGINT UNSIGNED above `i64::MAX` counts as
//!   negative).
//! - Results that would exceed `max_allowed_packet` (`CONCAT`, `CONCAT_WS`, `REPEAT`, `SPACE`)
//!   are NULL with a warning, as in TiDB; `REPLACE` too, as in MySQL (TiDB does not check it).
//!   The limit is [`MAX_ALLOWED_PACKET`] (the TiDB default, 64 MiB) until the DAG request
//!   carries the session's value. The warning has code 1105 until the error type has a variant
//!   for MySQL's ER_WARN_ALLOWED_PACKET_OVERFLOWED (1301).
//! - `LOWER`/`UPPER` of binary strings return them unchanged; the UTF-8 variants map each
//!   character to one character by Unicode's simple case mapping (what TiDB's Go runtime does;
//!   `ß` stays `ß`, `İ` lowers to `i`).
//! - The UTF-8 searches (`LOCATE`, `INSTR`) compare the lowercased strings under a
//!   case-insensitive collation of the call and the exact strings otherwise: TiKV's rule for
//!   `LOCATE`, TiDB's for `INSTR` (TiKV's `INSTR` lowercases under every collation).

use basalt_chunk::collation::Collation;
use basalt_chunk::column::{BytesColumn, Column};
use basalt_proto::tipb::ScalarFuncSig as Sig;

use super::{def, Arity, FnDef, FnMeta};
use crate::context::EvalContext;
use crate::error::{Error, Result};
use crate::value::{collect_int, BytesView, StackValue};

/// The longest string result, in bytes, before it becomes NULL with a warning: TiDB's default
/// `max_allowed_packet` (64 MiB). To be taken from the request once the DAG carries it.
pub const MAX_ALLOWED_PACKET: usize = 64 << 20;

/// MySQL's longest BLOB (16 MiB): `SPACE` beyond it is NULL (without a warning), as in TiDB.
const MAX_BLOB_WIDTH: i64 = 16 << 20;

/// Builds a string result column of `rows` values: `f(i, buf)` writes row `i` into `buf`
/// (cleared before each row) and returns whether the row is non-NULL. One buffer serves every
/// row, so rows allocate nothing once it has grown.
fn collect_bytes(
    rows: usize,
    mut f: impl FnMut(usize, &mut Vec<u8>) -> Result<bool>,
) -> Result<Column> {
    let mut column = BytesColumn::with_capacity(rows);
    let mut buf = Vec::new();
    for i in 0..rows {
        buf.clear();
        let valid = f(i, &mut buf)?;
        column.push(valid.then_some(buf.as_slice()));
    }
    Ok(Column::Bytes(column))
}

/// Builds a string result column whose values are slices of the arguments (substrings, trims).
fn collect_slices<'a>(
    rows: usize,
    mut f: impl FnMut(usize) -> Result<Option<&'a [u8]>>,
) -> Result<Column> {
    let mut column = BytesColumn::with_capacity(rows);
    for i in 0..rows {
        column.push(f(i)?);
    }
    Ok(Column::Bytes(column))
}

/// `s` as UTF-8, or the `Corrupted` error TiKV's UTF-8 functions raise.
fn utf8(s: &[u8]) -> Result<&str> {
    std::str::from_utf8(s).map_err(|e| {
        Error::Chunk(basalt_chunk::Error::corrupted(
            "utf-8 string",
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        ))
    })
}

/// Records that `func`'s result exceeds `max_allowed_packet` (the row becomes NULL).
fn packet_overflow(ctx: &mut EvalContext, func: &'static str) {
    ctx.warn(&Error::Chunk(basalt_chunk::Error::overflow(
        func,
        format!("result larger than max_allowed_packet ({MAX_ALLOWED_PACKET})"),
    )));
}

/// Views of every argument as strings.
fn bytes_args<'a>(args: &'a [StackValue<'_>]) -> Result<Vec<BytesView<'a>>> {
    args.iter().map(StackValue::bytes).collect()
}

/// The byte offset of character `n` of `s` (`None` if `s` has fewer than `n` characters;
/// `Some(s.len())` when it has exactly `n`).
fn char_offset(s: &str, n: u64) -> Option<usize> {
    if n == 0 {
        return Some(0);
    }
    let mut seen = 0u64;
    for (i, _) in s.char_indices() {
        if seen == n {
            return Some(i);
        }
        seen += 1;
    }
    (seen == n).then_some(s.len())
}

/// The byte offset where the last `n` (≥ 1) characters of `s` start (`None`: fewer).
fn char_offset_from_end(s: &str, n: u64) -> Option<usize> {
    let n = usize::try_from(n - 1).ok()?;
    s.char_indices().rev().nth(n).map(|(i, _)| i)
}

/// The first occurrence of `needle` in `hay` (an empty needle is found at 0).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut from = 0;
    while from <= last_start {
        let i = from + hay[from..=last_start].iter().position(|&b| b == first)?;
        if &hay[i + 1..i + needle.len()] == rest {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The first occurrence of `needle` in `hay`, both as characters.
fn find_chars(hay: &[char], needle: &[char]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Unicode's simple (one-to-one) uppercase mapping, as Go's `unicode.ToUpper` (and so TiDB and
/// TiKV) applies it.
fn simple_upper(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut full = c.to_uppercase();
    match (full.next(), full.next()) {
        (Some(upper), None) => upper,
        // The full mapping expands (ß → SS, ŉ → ʼN, …): the simple mapping keeps the letter,
        // except Greek letters with ypogegrammeni, which map to their titlecase forms.
        _ => {
            let cp = u32::from(c);
            let simple = match cp {
                0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => cp + 8,
                0x1FB3 | 0x1FC3 | 0x1FF3 => cp + 9,
                _ => cp,
            };
            char::from_u32(simple).unwrap_or(c)
        }
    }
}

/// Unicode's simple (one-to-one) lowercase mapping (`İ` → `i`).
fn simple_lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    // Only U+0130 expands under the full mapping, to `i` + a combining dot.
    c.to_lowercase().next().unwrap_or(c)
}

/// Appends `s` with each character mapped by `map`.
fn push_mapped(out: &mut Vec<u8>, s: &str, map: fn(char) -> char) {
    out.reserve(s.len());
    let mut utf8_buf = [0u8; 4];
    for c in s.chars() {
        out.extend_from_slice(map(c).encode_utf8(&mut utf8_buf).as_bytes());
    }
}

/// Replaces the contents of `out` with the lowercased characters of `s`.
fn lower_chars(s: &str, out: &mut Vec<char>) {
    out.clear();
    out.extend(s.chars().map(simple_lower));
}

// ---- lengths and codes ----

fn unary_int(args: &[StackValue<'_>], rows: usize, f: fn(&[u8]) -> Result<i64>) -> Result<Column> {
    let s = args[0].bytes()?;
    collect_int(rows, |i| s.get(i).map(f).transpose())
}

fn byte_len(s: &[u8]) -> Result<i64> {
    Ok(s.len() as i64)
}

fn bit_len(s: &[u8]) -> Result<i64> {
    Ok(s.len() as i64 * 8)
}

fn char_len_utf8(s: &[u8]) -> Result<i64> {
    Ok(utf8(s)?.chars().count() as i64)
}

fn first_byte(s: &[u8]) -> Result<i64> {
    Ok(s.first().map_or(0, |&b| i64::from(b)))
}

fn length(_: &mut EvalContext, a: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    unary_int(a, rows, byte_len)
}

fn bit_length(
    _: &mut EvalContext,
    a: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    unary_int(a, rows, bit_len)
}

fn char_length_utf8(
    _: &mut EvalContext,
    a: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    unary_int(a, rows, char_len_utf8)
}

fn ascii(_: &mut EvalContext, a: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    unary_int(a, rows, first_byte)
}

/// STRCMP under the call's collation: -1, 0 or 1.
fn strcmp(_: &mut EvalContext, a: &[StackValue<'_>], rows: usize, meta: &FnMeta) -> Result<Column> {
    let (x, y) = (a[0].bytes()?, a[1].bytes()?);
    let collation = meta.collation;
    collect_int(rows, |i| {
        let (Some(x), Some(y)) = (x.get(i), y.get(i)) else {
            return Ok(None);
        };
        Ok(Some(collation.compare(x, y)? as i64))
    })
}

// ---- concatenation, repetition ----

/// CONCAT: NULL if any argument is.
fn concat(ctx: &mut EvalContext, a: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    let views = bytes_args(a)?;
    collect_bytes(rows, |i, out| {
        for view in &views {
            let Some(s) = view.get(i) else {
                return Ok(false);
            };
            if out.len() + s.len() > MAX_ALLOWED_PACKET {
                packet_overflow(ctx, "concat()");
                return Ok(false);
            }
            out.extend_from_slice(s);
        }
        Ok(true)
    })
}

/// CONCAT_WS: NULL when the separator is; NULL strings are skipped, empty ones are not.
fn concat_ws(
    ctx: &mut EvalContext,
    a: &[StackValue<'_>],
    rows: usize,
    _: &FnMeta,
) -> Result<Column> {
    let views = bytes_args(a)?;
    let (sep, strings) = views
        .split_first()
        .ok_or_else(|| Error::InvalidExpr("CONCAT_WS needs a separator".into()))?;
    collect_bytes(rows, |i, out| {
        let Some(sep) = sep.get(i) else {
            return Ok(false);
        };
        let mut first = true;
        for s in strings.iter().filter_map(|view| view.get(i)) {
            let sep_len = if first { 0 } else { sep.len() };
            if out.len() + sep_len + s.len() > MAX_ALLOWED_PACKET {
                packet_overflow(ctx, "concat_ws()");
                return Ok(false);
            }
            if !first {
                out.extend_from_slice(sep);
            }
            out.extend_from_slice(s);
            first = false;
        }
        Ok(true)
    })
}

/// REPEAT: empty for a count below 1; the count is capped at `i32::MAX` as in TiDB.
fn repeat(ctx: &mut EvalContext, a: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    let (s, count) = (a[0].bytes()?, a[1].int()?);
    collect_bytes(rows, |i, out| {
        let (Some(s), Some(count)) = (s.get(i), count.get(i)) else {
            return Ok(false);
        };
        if count < 1 || s.is_empty() {
            return Ok(true);
        }
        let count = count.min(i64::from(i32::MAX)) as usize;
        if s.len().saturating_mul(count) > MAX_ALLOWED_PACKET {
            packet_overflow(ctx, "repeat()");
            return Ok(false);
        }
        out.reserve(s.len() * count);
        for _ in 0..count {
            out.extend_from_slice(s);
        }
        Ok(true)
    })
}

/// SPACE: empty for a negative count; NULL with a warning beyond `max_allowed_packet`, NULL
/// beyond the longest BLOB.
fn space(ctx: &mut EvalContext, a: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    let count = a[0].int()?;
    collect_bytes(rows, |i, out| {
        let Some(count) = count.get(i) else {
            return Ok(false);
        };
        let count = count.max(0);
        if count as u64 > MAX_ALLOWED_PACKET as u64 {
            packet_overflow(ctx, "space()");
            return Ok(false);
        }
        if count > MAX_BLOB_WIDTH {
            return Ok(false);
        }
        out.resize(count as usize, b' ');
        Ok(true)
    })
}

/// REPLACE: every occurrence of `from` (case-sensitively, as bytes); an empty `from` changes
/// nothing.
fn replace(ctx: &mut EvalContext, a: &[StackValue<'_>], rows: usize, _: &FnMeta) -> Result<Column> {
    let (s, from, to) = (a[0].bytes()?, a[1].bytes()?, a[2].bytes()?);
    collect_bytes(rows, |i, out| {
        let (Some(mut s), Some(from), Some(to)) = (s.get(i), from.get(i), to.get(i)) else {
            return Ok(false);
        };
        if !from.is_empty() {
            while let Some(at) = find(s, from) {
                out.extend_from_slice(&s[..at]);
                out.extend_from_slice(to);
                s = &s[at + from.len()..];
                if out.len() > MAX_ALLOWED_PACKET {
                    break;
                }
            }
        }
        out.extend_from_slice(s);
        if out.len() > MAX_ALLOWED_PACKET {
            packet_overflow(ctx, "replace()");
            return Ok(false);
        }
        Ok(true)
    })
}

// ---- substrings ----

/// The `[start, end)` range, in units (bytes or characters) of a string of `n` units, that
/// SUBSTRING(s, pos[, len]) selects: 1-based `pos`, counted from the end when negative, empty
/// when 0 or beyond the string; a `len` below 1 selects nothing.
fn substring_range(n: usize, pos: i64, len: Option<i64>) -> (usize, usize) {
    let n64 = n as u64;
    let start = if pos > 0 {
        (pos as u64 - 1).min(n64)
    } else if pos < 0 && pos.unsigned_abs() <= n64 {
        n64 - pos.unsigned_abs()
    } else {
        n64
    };
    let end = match len {
        None => n64,
        Some(len) if len < 1 => start,
        Some(len) => start.saturating_add(len as u64).min(n64),
    };
    (start as usize, end as usize)
}

fn substring_bytes(s: &[u8], pos: i64, len: Option<i64>) -> &[u8] {
    let (start, end) = substring_range(s.len(), pos, len);
    &s[start..end]
}

fn substring_utf8(s: &[u8], pos: i64, len: Option<i64>) -> Result<&[u8]> {
    let text = utf8(s)?;
    if pos == 0 || len.is_some_and(|len| len < 1) {
        return Ok(&[]);
    }
    let start = if pos > 0 {
        char_offset(text, pos as u64 - 1).unwrap_or(text.len())
    } else {
        match char_offset_from_end(text, pos.unsigned_abs()) {
            Some(start) => start,
            None => return Ok(&[]),
        }
    };
    let rest = &text[start..];
    let end = match len {
        None => rest.len(),
        Some(len) => char_offset(rest, len as u64).unwrap_or(rest.len()),
    };
    Ok(&s[start..start + end])
}

/// A substring picker: the string, the position and the optional length → the slice.
type Substring = fn(&[u8], i64, Option<i64>) -> Result<&[u8]>;

fn substring(a: &[StackValue<'_>], rows: usize, with_len: bool, f: Substring) -> Result<Column> {
    let (s, pos) = (a[0].bytes()?, a[1].int()?);
    let len = if with_len { Some(a[2].int()?) } else { None };
    collect_slices(rows, |i| {
        let (Some(s), Some(pos)) = (s.get(i), pos.get(i)) else {
            return Ok(None);
        };
        let len = match &len {
            Some(view) => match view.get(i) {
                Some(len) => Some(len),
                None => return Ok(None),
            },
            None => None,
        };
        f(s, pos, len).map(Some)
    })
}

fn substring_bytes_checked(s: &[u8], pos: i64, len: Option<i64>) -> Result<&[u8]> {
    Ok(substring_bytes(s, pos, len))
}

fn substring_2(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    substring(a, r, false, substring_bytes_checked)
}

fn substring_3(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    substring(a, r, true, substring_bytes_checked)
}

fn substring_2_utf8(
    _: &mut EvalContext,
    a: &[StackValue<'_>],
    r: usize,
    _: &FnMeta,
) -> Result<Column> {
    substring(a, r, false, substring_utf8)
}

fn substring_3_utf8(
    _: &mut EvalContext,
    a: &[StackValue<'_>],
    r: usize,
    _: &FnMeta,
) -> Result<Column> {
    substring(a, r, true, substring_utf8)
}

fn left_bytes(s: &[u8], n: i64) -> Result<&[u8]> {
    Ok(&s[..(n.max(0) as u64).min(s.len() as u64) as usize])
}

fn right_bytes(s: &[u8], n: i64) -> Result<&[u8]> {
    Ok(&s[s.len() - (n.max(0) as u64).min(s.len() as u64) as usize..])
}

fn left_utf8_chars(s: &[u8], n: i64) -> Result<&[u8]> {
    let text = utf8(s)?;
    if n < 1 {
        return Ok(&[]);
    }
    Ok(&s[..char_offset(text, n as u64).unwrap_or(s.len())])
}

fn right_utf8_chars(s: &[u8], n: i64) -> Result<&[u8]> {
    let text = utf8(s)?;
    if n < 1 {
        return Ok(&[]);
    }
    Ok(&s[char_offset_from_end(text, n as u64).unwrap_or(0)..])
}

fn left_right(
    a: &[StackValue<'_>],
    rows: usize,
    f: fn(&[u8], i64) -> Result<&[u8]>,
) -> Result<Column> {
    let (s, n) = (a[0].bytes()?, a[1].int()?);
    collect_slices(rows, |i| match (s.get(i), n.get(i)) {
        (Some(s), Some(n)) => f(s, n).map(Some),
        _ => Ok(None),
    })
}

fn left(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    left_right(a, r, left_bytes)
}

fn right(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    left_right(a, r, right_bytes)
}

fn left_utf8(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    left_right(a, r, left_utf8_chars)
}

fn right_utf8(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    left_right(a, r, right_utf8_chars)
}

// ---- trimming ----

fn trim_leading<'a>(mut s: &'a [u8], pat: &[u8]) -> &'a [u8] {
    if !pat.is_empty() {
        while let Some(rest) = s.strip_prefix(pat) {
            s = rest;
        }
    }
    s
}

fn trim_trailing<'a>(mut s: &'a [u8], pat: &[u8]) -> &'a [u8] {
    if !pat.is_empty() {
        while let Some(rest) = s.strip_suffix(pat) {
            s = rest;
        }
    }
    s
}

fn spaces(
    a: &[StackValue<'_>],
    rows: usize,
    f: for<'x> fn(&'x [u8], &[u8]) -> &'x [u8],
) -> Result<Column> {
    let s = a[0].bytes()?;
    collect_slices(rows, |i| Ok(s.get(i).map(|s| f(s, b" "))))
}

fn trim_both<'a>(s: &'a [u8], pat: &[u8]) -> &'a [u8] {
    // MySQL trims the leading occurrences first, then the trailing ones of what remains.
    trim_trailing(trim_leading(s, pat), pat)
}

fn trim_1(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    spaces(a, r, trim_both)
}

fn ltrim(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    spaces(a, r, trim_leading)
}

fn rtrim(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    spaces(a, r, trim_trailing)
}

fn trim_2(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    let (s, pat) = (a[0].bytes()?, a[1].bytes()?);
    collect_slices(r, |i| match (s.get(i), pat.get(i)) {
        (Some(s), Some(pat)) => Ok(Some(trim_both(s, pat))),
        _ => Ok(None),
    })
}

/// TRIM(direction remstr FROM str): TiDB's `ast.TrimDirectionType` — 2 LEADING, 3 TRAILING,
/// 1 BOTH and 0 (BOTH by default) trim both ends.
fn trim_3(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    let (s, pat, direction) = (a[0].bytes()?, a[1].bytes()?, a[2].int()?);
    collect_slices(r, |i| {
        let (Some(s), Some(pat), Some(direction)) = (s.get(i), pat.get(i), direction.get(i)) else {
            return Ok(None);
        };
        Ok(Some(match direction {
            2 => trim_leading(s, pat),
            3 => trim_trailing(s, pat),
            _ => trim_both(s, pat),
        }))
    })
}

// ---- case, reversal ----

/// LOWER/UPPER of a binary string: unchanged.
fn identity(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    let s = a[0].bytes()?;
    collect_slices(r, |i| Ok(s.get(i)))
}

fn map_case(a: &[StackValue<'_>], rows: usize, meta: &FnMeta, upper: bool) -> Result<Column> {
    // TiDB maps by the argument's character set; GBK and GB18030 have their own exceptions.
    let charset = meta.arg_types.first().map_or("", |t| t.charset.as_str());
    if charset.eq_ignore_ascii_case("gbk") || charset.eq_ignore_ascii_case("gb18030") {
        return Err(Error::Unsupported(format!(
            "LOWER/UPPER of a {charset} string"
        )));
    }
    let s = a[0].bytes()?;
    let map: fn(char) -> char = if upper { simple_upper } else { simple_lower };
    collect_bytes(rows, |i, out| {
        let Some(s) = s.get(i) else {
            return Ok(false);
        };
        if s.is_ascii() {
            out.extend(s.iter().map(|&b| map(char::from(b)) as u8));
        } else {
            push_mapped(out, utf8(s)?, map);
        }
        Ok(true)
    })
}

fn lower_utf8(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, m: &FnMeta) -> Result<Column> {
    map_case(a, r, m, false)
}

fn upper_utf8(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, m: &FnMeta) -> Result<Column> {
    map_case(a, r, m, true)
}

fn reverse(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    let s = a[0].bytes()?;
    collect_bytes(r, |i, out| {
        let Some(s) = s.get(i) else {
            return Ok(false);
        };
        out.extend(s.iter().rev());
        Ok(true)
    })
}

fn reverse_utf8(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, _: &FnMeta) -> Result<Column> {
    let s = a[0].bytes()?;
    collect_bytes(r, |i, out| {
        let Some(s) = s.get(i) else {
            return Ok(false);
        };
        let text = utf8(s)?;
        let mut utf8_buf = [0u8; 4];
        for c in text.chars().rev() {
            out.extend_from_slice(c.encode_utf8(&mut utf8_buf).as_bytes());
        }
        Ok(true)
    })
}

// ---- search ----

/// The 1-based byte position of `sub` in `s` from byte `pos` (1-based; 0 when `pos` is outside
/// `1..=len + 1` or `sub` does not occur).
fn locate_bytes(sub: &[u8], s: &[u8], pos: i64) -> i64 {
    if pos < 1 || pos as u64 > s.len() as u64 + 1 {
        return 0;
    }
    let from = pos as usize - 1;
    find(&s[from..], sub).map_or(0, |at| (from + at + 1) as i64)
}

/// Character search state for the UTF-8 variants: case-insensitive collations lowercase both
/// strings into reused buffers.
struct CharSearch {
    fold_case: bool,
    hay: Vec<char>,
    needle: Vec<char>,
}

impl CharSearch {
    fn new(collation: Collation) -> Self {
        CharSearch {
            fold_case: collation.is_case_insensitive(),
            hay: Vec::new(),
            needle: Vec::new(),
        }
    }

    /// The 1-based character position of `sub` in `s` from character `pos` (0: not found or
    /// `pos` outside `1..=chars + 1`).
    fn locate(&mut self, sub: &[u8], s: &[u8], pos: i64) -> Result<i64> {
        if pos < 1 {
            return Ok(0);
        }
        let (sub, s) = (utf8(sub)?, utf8(s)?);
        let skip = pos as u64 - 1;
        if self.fold_case {
            lower_chars(s, &mut self.hay);
            lower_chars(sub, &mut self.needle);
            if skip > self.hay.len() as u64 {
                return Ok(0);
            }
            let from = skip as usize;
            Ok(find_chars(&self.hay[from..], &self.needle).map_or(0, |at| (from + at + 1) as i64))
        } else {
            // UTF-8 is self-synchronizing: a byte match of valid strings is a character match.
            let Some(from) = char_offset(s, skip) else {
                return Ok(0);
            };
            Ok(find(&s.as_bytes()[from..], sub.as_bytes())
                .map_or(0, |at| pos + s[from..from + at].chars().count() as i64))
        }
    }
}

fn locate(a: &[StackValue<'_>], rows: usize, meta: &FnMeta, utf8_chars: bool) -> Result<Column> {
    let (sub, s) = (a[0].bytes()?, a[1].bytes()?);
    let pos = a.get(2).map(StackValue::int).transpose()?;
    let mut search = CharSearch::new(meta.collation);
    collect_int(rows, |i| {
        let (Some(sub), Some(s)) = (sub.get(i), s.get(i)) else {
            return Ok(None);
        };
        let pos = match &pos {
            Some(view) => match view.get(i) {
                Some(pos) => pos,
                None => return Ok(None),
            },
            None => 1,
        };
        if utf8_chars {
            search.locate(sub, s, pos).map(Some)
        } else {
            Ok(Some(locate_bytes(sub, s, pos)))
        }
    })
}

fn locate_b(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, m: &FnMeta) -> Result<Column> {
    locate(a, r, m, false)
}

fn locate_u(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, m: &FnMeta) -> Result<Column> {
    locate(a, r, m, true)
}

/// INSTR(str, substr): LOCATE with the arguments swapped.
fn instr(a: &[StackValue<'_>], rows: usize, meta: &FnMeta, utf8_chars: bool) -> Result<Column> {
    let (s, sub) = (a[0].bytes()?, a[1].bytes()?);
    let mut search = CharSearch::new(meta.collation);
    collect_int(rows, |i| {
        let (Some(s), Some(sub)) = (s.get(i), sub.get(i)) else {
            return Ok(None);
        };
        if utf8_chars {
            search.locate(sub, s, 1).map(Some)
        } else {
            Ok(Some(locate_bytes(sub, s, 1)))
        }
    })
}

fn instr_b(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, m: &FnMeta) -> Result<Column> {
    instr(a, r, m, false)
}

fn instr_u(_: &mut EvalContext, a: &[StackValue<'_>], r: usize, m: &FnMeta) -> Result<Column> {
    instr(a, r, m, true)
}

/// The string function implementing `sig`.
pub fn lookup(sig: Sig) -> Option<FnDef> {
    let name = sig.as_str_name();
    match sig {
        Sig::Length | Sig::CharLength => def!(name, Arity::Exact(1), length),
        Sig::BitLength => def!(name, Arity::Exact(1), bit_length),
        Sig::CharLengthUtf8 => def!(name, Arity::Exact(1), char_length_utf8),
        Sig::Ascii => def!(name, Arity::Exact(1), ascii),
        Sig::Strcmp => def!(name, Arity::Exact(2), strcmp),
        Sig::Concat => def!(name, Arity::AtLeast(1), concat),
        Sig::ConcatWs => def!(name, Arity::AtLeast(2), concat_ws),
        Sig::Repeat => def!(name, Arity::Exact(2), repeat),
        Sig::Space => def!(name, Arity::Exact(1), space),
        Sig::Replace => def!(name, Arity::Exact(3), replace),
        Sig::Substring2Args => def!(name, Arity::Exact(2), substring_2),
        Sig::Substring3Args => def!(name, Arity::Exact(3), substring_3),
        Sig::Substring2ArgsUtf8 => def!(name, Arity::Exact(2), substring_2_utf8),
        Sig::Substring3ArgsUtf8 => def!(name, Arity::Exact(3), substring_3_utf8),
        Sig::Left => def!(name, Arity::Exact(2), left),
        Sig::Right => def!(name, Arity::Exact(2), right),
        Sig::LeftUtf8 => def!(name, Arity::Exact(2), left_utf8),
        Sig::RightUtf8 => def!(name, Arity::Exact(2), right_utf8),
        Sig::Trim1Arg => def!(name, Arity::Exact(1), trim_1),
        Sig::Trim2Args => def!(name, Arity::Exact(2), trim_2),
        Sig::Trim3Args => def!(name, Arity::Exact(3), trim_3),
        Sig::LTrim => def!(name, Arity::Exact(1), ltrim),
        Sig::RTrim => def!(name, Arity::Exact(1), rtrim),
        Sig::Lower | Sig::Upper => def!(name, Arity::Exact(1), identity),
        Sig::LowerUtf8 => def!(name, Arity::Exact(1), lower_utf8),
        Sig::UpperUtf8 => def!(name, Arity::Exact(1), upper_utf8),
        Sig::Reverse => def!(name, Arity::Exact(1), reverse),
        Sig::ReverseUtf8 => def!(name, Arity::Exact(1), reverse_utf8),
        Sig::Locate2Args => def!(name, Arity::Exact(2), locate_b),
        Sig::Locate3Args => def!(name, Arity::Exact(3), locate_b),
        Sig::Locate2ArgsUtf8 => def!(name, Arity::Exact(2), locate_u),
        Sig::Locate3ArgsUtf8 => def!(name, Arity::Exact(3), locate_u),
        Sig::Instr => def!(name, Arity::Exact(2), instr_b),
        Sig::InstrUtf8 => def!(name, Arity::Exact(2), instr_u),
        _ => None,
    }
}
