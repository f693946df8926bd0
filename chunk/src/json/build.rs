//! Writing objects and arrays in TiDB's layout (TiDB `appendBinaryObject` / `appendBinaryArray`):
//! header, zeroed entry table, keys, then each value appended and its entry patched; literals are
//! inlined into their entry.

use super::decode::{self, too_deep, MAX_DEPTH};
use super::{Json, JsonType, HEADER_LEN, KEY_ENTRY_LEN, VALUE_ENTRY_LEN};
use crate::error::{Error, Result};

/// Appends `v` as an unsigned LEB128 varint (Go `binary.PutUvarint`).
pub(super) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn too_large() -> Error {
    Error::overflow("JSON document", "larger than 4 GiB")
}

fn to_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| too_large())
}

/// A container being written into a buffer.
pub(super) struct Container {
    doc_off: usize,
    value_entries: usize,
}

impl Container {
    /// Writes the header and a zeroed entry table for `count` members (`object` adds key entries).
    pub(super) fn start(out: &mut Vec<u8>, count: usize, object: bool) -> Result<Container> {
        let doc_off = out.len();
        out.extend_from_slice(&to_u32(count)?.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        let key_table = if object { count * KEY_ENTRY_LEN } else { 0 };
        let table = key_table + count * VALUE_ENTRY_LEN;
        to_u32(HEADER_LEN + table)?;
        out.resize(out.len() + table, 0);
        Ok(Container {
            doc_off,
            value_entries: doc_off + HEADER_LEN + key_table,
        })
    }

    /// Appends key `i` and fills its key entry. Keys of 65536 bytes or more are refused, as TiDB
    /// does (`ErrJSONObjectKeyTooLong`).
    pub(super) fn put_key(&self, out: &mut Vec<u8>, i: usize, key: &[u8]) -> Result<()> {
        let len = u16::try_from(key.len())
            .map_err(|_| Error::overflow("JSON object key", "length >= 65536 is not supported"))?;
        let off = to_u32(out.len() - self.doc_off)?;
        let e = self.doc_off + HEADER_LEN + i * KEY_ENTRY_LEN;
        out[e..e + 4].copy_from_slice(&off.to_le_bytes());
        out[e + 4..e + 6].copy_from_slice(&len.to_le_bytes());
        out.extend_from_slice(key);
        Ok(())
    }

    /// Fills value entry `i` for the value of type `ty` that was appended at `child_start`; a
    /// literal is moved into the entry.
    pub(super) fn finish_child(
        &self,
        out: &mut Vec<u8>,
        i: usize,
        ty: JsonType,
        child_start: usize,
    ) -> Result<()> {
        let e = self.value_entries + i * VALUE_ENTRY_LEN;
        out[e] = ty as u8;
        if ty == JsonType::Literal {
            let lit = out[child_start];
            out.truncate(child_start);
            out[e + 1] = lit;
        } else {
            let off = to_u32(child_start - self.doc_off)?;
            out[e + 1..e + 5].copy_from_slice(&off.to_le_bytes());
        }
        Ok(())
    }

    /// Writes the container's total size into its header.
    pub(super) fn end(self, out: &mut [u8]) -> Result<()> {
        let size = to_u32(out.len() - self.doc_off)?;
        out[self.doc_off + 4..self.doc_off + 8].copy_from_slice(&size.to_le_bytes());
        Ok(())
    }
}

/// Sorts by key bytes (stable) and keeps the last of equal keys.
pub(super) fn sort_dedup_last<K: AsRef<[u8]>, V>(mut entries: Vec<(K, V)>) -> Vec<(K, V)> {
    entries.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    let mut kept: Vec<(K, V)> = Vec::with_capacity(entries.len());
    for e in entries {
        if kept.last().is_some_and(|l| l.0.as_ref() == e.0.as_ref()) {
            kept.pop();
        }
        kept.push(e);
    }
    kept
}

fn check_child_depths<'a>(children: impl Iterator<Item = &'a Json>) -> Result<()> {
    for c in children {
        if decode::depth(c.as_ref())? + 1 > MAX_DEPTH + 1 {
            return Err(too_deep());
        }
    }
    Ok(())
}

pub(super) fn object(entries: Vec<(String, Json)>) -> Result<Json> {
    let entries = sort_dedup_last(entries);
    check_child_depths(entries.iter().map(|(_, v)| v))?;
    let mut out = Vec::new();
    let c = Container::start(&mut out, entries.len(), true)?;
    for (i, (k, _)) in entries.iter().enumerate() {
        c.put_key(&mut out, i, k.as_bytes())?;
    }
    for (i, (_, v)) in entries.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(&v.value);
        c.finish_child(&mut out, i, v.type_code, start)?;
    }
    c.end(&mut out)?;
    Ok(Json {
        type_code: JsonType::Object,
        value: out,
    })
}

pub(super) fn array(items: Vec<Json>) -> Result<Json> {
    check_child_depths(items.iter())?;
    let mut out = Vec::new();
    let c = Container::start(&mut out, items.len(), false)?;
    for (i, v) in items.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(&v.value);
        c.finish_child(&mut out, i, v.type_code, start)?;
    }
    c.end(&mut out)?;
    Ok(Json {
        type_code: JsonType::Array,
        value: out,
    })
}
