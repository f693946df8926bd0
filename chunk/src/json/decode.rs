//! Bounds-checked reading and recursive validation of binary JSON.

use super::{JsonRef, JsonType, HEADER_LEN, KEY_ENTRY_LEN, VALUE_ENTRY_LEN};
use crate::error::{Error, Result};

/// The most container levels below the root that TiDB accepts (its `maxJSONDepth`): a document's
/// `JSON_DEPTH` may be at most `MAX_DEPTH + 1` (e.g. 100 nested arrays around a scalar).
pub const MAX_DEPTH: usize = 100;

/// The error for a document nesting deeper than [`MAX_DEPTH`].
pub(super) fn too_deep() -> Error {
    Error::overflow(
        "JSON document depth",
        format!("deeper than the maximum of {MAX_DEPTH}"),
    )
}

/// A little-endian u32 at `off`.
pub(super) fn read_u32(buf: &[u8], off: usize) -> Result<u32> {
    let end = off.checked_add(4);
    match end.and_then(|end| buf.get(off..end)) {
        Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Error::truncated(
            "JSON u32",
            off.saturating_add(4).saturating_sub(buf.len()),
            buf.len().saturating_sub(off),
        )),
    }
}

/// A little-endian u16 at `off`.
pub(super) fn read_u16(buf: &[u8], off: usize) -> Result<u16> {
    let end = off.checked_add(2);
    match end.and_then(|end| buf.get(off..end)) {
        Some(b) => Ok(u16::from_le_bytes([b[0], b[1]])),
        None => Err(Error::truncated(
            "JSON u16",
            off.saturating_add(2).saturating_sub(buf.len()),
            buf.len().saturating_sub(off),
        )),
    }
}

/// An unsigned LEB128 varint at the start of `buf` with Go's `binary.Uvarint` rules (at most ten
/// bytes, the tenth at most 1; non-minimal forms accepted). Returns the value and its length.
pub(super) fn read_uvarint(buf: &[u8]) -> Result<(u64, usize)> {
    let mut x = 0u64;
    let mut shift = 0u32;
    for (i, &b) in buf.iter().enumerate() {
        if i == 10 {
            return Err(Error::overflow("JSON varint", "longer than 10 bytes"));
        }
        if b < 0x80 {
            if i == 9 && b > 1 {
                return Err(Error::overflow("JSON varint", "exceeds u64"));
            }
            return Ok((x | (u64::from(b) << shift), i + 1));
        }
        x |= u64::from(b & 0x7f) << shift;
        shift += 7;
    }
    Err(Error::truncated("JSON varint", 1, 0))
}

/// `buf[start..start + len]`, or a `Truncated` error.
pub(super) fn slice<'a>(
    buf: &'a [u8],
    start: usize,
    len: u64,
    what: &'static str,
) -> Result<&'a [u8]> {
    let have = buf.len().saturating_sub(start);
    match usize::try_from(len) {
        Ok(len) if len <= have => Ok(&buf[start..start + len]),
        _ => Err(Error::truncated(
            what,
            usize::try_from(len)
                .unwrap_or(usize::MAX)
                .saturating_sub(have),
            have,
        )),
    }
}

/// The length of the value of type `ty` that starts at `buf[0]`, from its structure; errors when
/// `buf` is shorter.
pub(super) fn value_len(ty: JsonType, buf: &[u8]) -> Result<usize> {
    let len: u64 = match ty {
        JsonType::Literal => 1,
        JsonType::I64
        | JsonType::U64
        | JsonType::Double
        | JsonType::Date
        | JsonType::Datetime
        | JsonType::Timestamp => 8,
        JsonType::Time => 12,
        JsonType::String => {
            let (len, n) = read_uvarint(buf)?;
            len.saturating_add(n as u64)
        }
        JsonType::Opaque => {
            let rest = buf
                .get(1..)
                .ok_or_else(|| Error::truncated("JSON opaque", 1, 0))?;
            let (len, n) = read_uvarint(rest)?;
            len.saturating_add(n as u64 + 1)
        }
        JsonType::Object | JsonType::Array => {
            let size = read_u32(buf, 4)?;
            if (size as usize) < HEADER_LEN {
                return Err(Error::corrupted(
                    "JSON container",
                    format!("size {size} smaller than its header"),
                ));
            }
            u64::from(size)
        }
    };
    match usize::try_from(len) {
        Ok(len) if len <= buf.len() => Ok(len),
        _ => Err(Error::truncated(
            "JSON value",
            usize::try_from(len)
                .unwrap_or(usize::MAX)
                .saturating_sub(buf.len()),
            buf.len(),
        )),
    }
}

/// Checks that `v` is exactly one well-formed value of type `ty` at nesting `level` (the root is
/// level 1), recursively.
pub(super) fn validate(ty: JsonType, v: &[u8], level: usize) -> Result<()> {
    if level > MAX_DEPTH + 1 {
        return Err(too_deep());
    }
    let len = value_len(ty, v)?;
    if len != v.len() {
        return Err(Error::corrupted(
            "JSON value",
            format!("{} trailing bytes after a {ty:?}", v.len() - len),
        ));
    }
    match ty {
        JsonType::Literal => check_literal(v[0]),
        JsonType::Object | JsonType::Array => validate_container(ty, v, level),
        _ => Ok(()),
    }
}

fn check_literal(b: u8) -> Result<()> {
    if b <= 2 {
        Ok(())
    } else {
        Err(Error::corrupted(
            "JSON literal",
            format!("unknown literal {b:#04x}"),
        ))
    }
}

fn validate_container(ty: JsonType, v: &[u8], level: usize) -> Result<()> {
    let count = read_u32(v, 0)? as usize;
    let per = if ty == JsonType::Object {
        KEY_ENTRY_LEN + VALUE_ENTRY_LEN
    } else {
        VALUE_ENTRY_LEN
    };
    let entries_end = count
        .checked_mul(per)
        .and_then(|n| n.checked_add(HEADER_LEN))
        .filter(|&end| end <= v.len())
        .ok_or_else(|| {
            Error::corrupted(
                "JSON container",
                format!("{count} entries do not fit in {} bytes", v.len()),
            )
        })?;
    let value_entries = if ty == JsonType::Object {
        for i in 0..count {
            object_key(v, i)?;
        }
        HEADER_LEN + count * KEY_ENTRY_LEN
    } else {
        HEADER_LEN
    };
    // Values must follow the entry table in entry order without overlapping, so every byte is
    // checked at most once per level (no shared sub-documents, no cycles).
    let mut next_free = entries_end;
    for i in 0..count {
        let e = value_entries + i * VALUE_ENTRY_LEN;
        let child_ty = JsonType::from_u8(v[e])?;
        if child_ty == JsonType::Literal {
            if level + 1 > MAX_DEPTH + 1 {
                return Err(too_deep());
            }
            check_literal(v[e + 1])?;
            continue;
        }
        let off = read_u32(v, e + 1)? as usize;
        if off < next_free || off > v.len() {
            return Err(Error::corrupted(
                "JSON container",
                format!("value offset {off} overlaps or is out of range"),
            ));
        }
        let child_len = value_len(child_ty, &v[off..])?;
        validate(child_ty, &v[off..off + child_len], level + 1)?;
        next_free = off + child_len;
    }
    Ok(())
}

/// The `i`th key of the object `v`.
pub(super) fn object_key(v: &[u8], i: usize) -> Result<&[u8]> {
    let e = i
        .checked_mul(KEY_ENTRY_LEN)
        .and_then(|n| n.checked_add(HEADER_LEN))
        .ok_or_else(|| Error::overflow("JSON key index", i))?;
    let off = read_u32(v, e)? as usize;
    let len = read_u16(v, e + 4)?;
    if off > v.len() {
        return Err(Error::truncated("JSON key", off - v.len(), 0));
    }
    slice(v, off, u64::from(len), "JSON key")
}

/// Offset of the `i`th value entry of an object with `count` members.
pub(super) fn object_value_entry(count: usize, i: usize) -> usize {
    HEADER_LEN + count * KEY_ENTRY_LEN + i * VALUE_ENTRY_LEN
}

/// The value a value entry at `entry` of the container `v` points to (or holds inline).
pub(super) fn entry_value(v: &[u8], entry: usize) -> Result<JsonRef<'_>> {
    let code = *v
        .get(entry)
        .ok_or_else(|| Error::truncated("JSON value entry", 1, 0))?;
    let ty = JsonType::from_u8(code)?;
    if ty == JsonType::Literal {
        let value = v
            .get(entry + 1..entry + 2)
            .ok_or_else(|| Error::truncated("JSON value entry", 1, 0))?;
        return Ok(JsonRef {
            type_code: ty,
            value,
        });
    }
    let off = read_u32(v, entry + 1)? as usize;
    let rest = v
        .get(off..)
        .ok_or_else(|| Error::corrupted("JSON value entry", "offset out of range"))?;
    let len = value_len(ty, rest)?;
    Ok(JsonRef {
        type_code: ty,
        value: &rest[..len],
    })
}

/// MySQL `JSON_DEPTH` of a value.
pub(super) fn depth(r: JsonRef<'_>) -> Result<usize> {
    let count = match r.type_code {
        JsonType::Object | JsonType::Array => read_u32(r.value, 0)? as usize,
        _ => return Ok(1),
    };
    let mut deepest = 0;
    for i in 0..count {
        let child = match r.type_code {
            JsonType::Object => entry_value(r.value, object_value_entry(count, i))?,
            _ => entry_value(r.value, HEADER_LEN + i * VALUE_ENTRY_LEN)?,
        };
        deepest = deepest.max(depth(child)?);
    }
    Ok(deepest + 1)
}
