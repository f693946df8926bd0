//! TiDB's binary JSON: the value layout TiDB writes into rows, datums and chunk columns, byte for
//! byte.
//!
//! A document is a one-byte type code plus the value bytes (all integers little-endian):
//!
//! * object: `count: u32, size: u32, key-entry * count, value-entry * count, keys, values`, where a
//!   key entry is `offset: u32, length: u16` and a value entry is `type: u8, offset-or-inline: u32`;
//!   offsets count from the start of the container, `size` is the container's whole length. Keys
//!   are sorted by their bytes and unique.
//! * array: `count: u32, size: u32, value-entry * count, values`.
//! * literal: one byte, `0` null, `1` true, `2` false; inside a container it is inlined into the
//!   value entry (the byte after the type, the other three bytes zero).
//! * int64 / uint64 / double: eight bytes.
//! * string: unsigned LEB128 length (Go's `binary.Uvarint`) then the bytes.
//! * opaque: MySQL field type byte, LEB128 length, bytes.
//! * date / datetime / timestamp: TiDB's packed `CoreTime` as a u64.
//! * time (duration): nanoseconds as i64, then the fsp as u32.
//!
//! Layout facts come from TiDB `pkg/types/json_binary.go` (the grammar comment and the
//! `appendBinary*` functions) and TiKV `components/tidb_query_datatype/src/codec/mysql/json/`.
//!
//! Every [`Json`] is validated when it is made (decoders check all offsets and lengths, the
//! nesting depth, and that sibling values do not overlap), so reading one never fails in practice;
//! the readers still return `Result` and check bounds instead of indexing blindly.

mod build;
mod decode;
mod parse;
mod print;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};

pub use decode::MAX_DEPTH;

/// Size of the `count` + `size` header of objects and arrays.
const HEADER_LEN: usize = 8;
/// Size of an object key entry: offset u32 + length u16.
const KEY_ENTRY_LEN: usize = 6;
/// Size of a value entry: type u8 + offset-or-inline u32.
const VALUE_ENTRY_LEN: usize = 5;

/// The literal byte of JSON `null`.
pub const LITERAL_NULL: u8 = 0x00;
/// The literal byte of JSON `true`.
pub const LITERAL_TRUE: u8 = 0x01;
/// The literal byte of JSON `false`.
pub const LITERAL_FALSE: u8 = 0x02;

/// The type code of a binary JSON value (TiDB `JSONTypeCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum JsonType {
    /// An object.
    Object = 0x01,
    /// An array.
    Array = 0x03,
    /// `null`, `true` or `false`.
    Literal = 0x04,
    /// A signed 64-bit integer.
    I64 = 0x09,
    /// An unsigned 64-bit integer.
    U64 = 0x0a,
    /// A double.
    Double = 0x0b,
    /// A UTF-8 string.
    String = 0x0c,
    /// Raw bytes tagged with a MySQL field type.
    Opaque = 0x0d,
    /// A DATE, as TiDB's packed `CoreTime`.
    Date = 0x0e,
    /// A DATETIME, as TiDB's packed `CoreTime`.
    Datetime = 0x0f,
    /// A TIMESTAMP, as TiDB's packed `CoreTime`.
    Timestamp = 0x10,
    /// A TIME (duration): nanoseconds and fsp.
    Time = 0x11,
}

impl JsonType {
    /// The type for a type code byte.
    pub fn from_u8(code: u8) -> Result<JsonType> {
        Ok(match code {
            0x01 => JsonType::Object,
            0x03 => JsonType::Array,
            0x04 => JsonType::Literal,
            0x09 => JsonType::I64,
            0x0a => JsonType::U64,
            0x0b => JsonType::Double,
            0x0c => JsonType::String,
            0x0d => JsonType::Opaque,
            0x0e => JsonType::Date,
            0x0f => JsonType::Datetime,
            0x10 => JsonType::Timestamp,
            0x11 => JsonType::Time,
            other => {
                return Err(Error::corrupted(
                    "JSON",
                    format!("unknown type code {other:#04x}"),
                ))
            }
        })
    }
}

/// An owned JSON document in TiDB's binary layout (type code + value bytes), always valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Json {
    type_code: JsonType,
    value: Vec<u8>,
}

/// A borrowed, validated JSON value: a type code and its value bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonRef<'a> {
    type_code: JsonType,
    value: &'a [u8],
}

impl Default for Json {
    /// JSON `null`.
    fn default() -> Json {
        Json::none()
    }
}

impl Json {
    /// Parses JSON text the way TiDB does (`ParseBinaryJSONFromString`): integers that fit `i64`
    /// are INT64, larger ones up to `u64::MAX` UINT64, everything else DOUBLE; duplicate keys keep
    /// the last value; lone UTF-16 surrogate escapes become U+FFFD; the document may nest at most
    /// [`MAX_DEPTH`] levels. Errors are `Error::Parse` (bad text) or `Error::Overflow` (too deep,
    /// key too long, number out of range).
    pub fn parse(text: &str) -> Result<Json> {
        parse::parse(text)
    }

    /// A document from a type code and its value bytes, validated recursively.
    pub fn from_binary(type_code: u8, value: &[u8]) -> Result<Json> {
        let ty = JsonType::from_u8(type_code)?;
        decode::validate(ty, value, 1)?;
        Ok(Json {
            type_code: ty,
            value: value.to_vec(),
        })
    }

    /// Borrows the document.
    pub fn as_ref(&self) -> JsonRef<'_> {
        JsonRef {
            type_code: self.type_code,
            value: &self.value,
        }
    }

    /// The type code byte.
    pub fn type_code(&self) -> u8 {
        self.type_code as u8
    }

    /// The type.
    pub fn json_type(&self) -> JsonType {
        self.type_code
    }

    /// The value bytes (without the type code).
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// JSON `null`.
    pub fn none() -> Json {
        Json::literal(LITERAL_NULL)
    }

    /// JSON `true` or `false`.
    pub fn from_bool(b: bool) -> Json {
        Json::literal(if b { LITERAL_TRUE } else { LITERAL_FALSE })
    }

    fn literal(byte: u8) -> Json {
        Json {
            type_code: JsonType::Literal,
            value: vec![byte],
        }
    }

    /// A signed integer.
    pub fn from_i64(v: i64) -> Json {
        Json {
            type_code: JsonType::I64,
            value: v.to_le_bytes().to_vec(),
        }
    }

    /// An unsigned integer (stored as UINT64 whatever its size, as TiDB's `CreateBinaryJSON`).
    pub fn from_u64(v: u64) -> Json {
        Json {
            type_code: JsonType::U64,
            value: v.to_le_bytes().to_vec(),
        }
    }

    /// A double. TiDB refuses to print NaN and infinities; this type prints them as `null`.
    pub fn from_f64(v: f64) -> Json {
        Json {
            type_code: JsonType::Double,
            value: v.to_bits().to_le_bytes().to_vec(),
        }
    }

    /// A string.
    pub fn from_str_val(s: &str) -> Json {
        let mut value = Vec::with_capacity(s.len() + 2);
        build::put_uvarint(&mut value, s.len() as u64);
        value.extend_from_slice(s.as_bytes());
        Json {
            type_code: JsonType::String,
            value,
        }
    }

    /// An opaque value: raw bytes tagged with a MySQL field type byte (e.g. 0xfd VAR_STRING for
    /// binary strings cast to JSON).
    pub fn from_opaque(field_type: u8, bytes: &[u8]) -> Json {
        let mut value = Vec::with_capacity(bytes.len() + 3);
        value.push(field_type);
        build::put_uvarint(&mut value, bytes.len() as u64);
        value.extend_from_slice(bytes);
        Json {
            type_code: JsonType::Opaque,
            value,
        }
    }

    /// A DATE, DATETIME or TIMESTAMP from TiDB's packed `CoreTime` bits (year << 50 | month << 46 |
    /// day << 41 | hour << 36 | minute << 30 | second << 24 | microsecond << 4). Errors if `ty`
    /// is not one of the three time types.
    pub fn from_core_time(ty: JsonType, core_time: u64) -> Result<Json> {
        match ty {
            JsonType::Date | JsonType::Datetime | JsonType::Timestamp => Ok(Json {
                type_code: ty,
                value: core_time.to_le_bytes().to_vec(),
            }),
            other => Err(Error::Unsupported(format!(
                "JSON time value of type {other:?}"
            ))),
        }
    }

    /// A TIME (duration) from nanoseconds and fsp.
    pub fn from_duration(nanos: i64, fsp: u32) -> Json {
        let mut value = Vec::with_capacity(12);
        value.extend_from_slice(&nanos.to_le_bytes());
        value.extend_from_slice(&fsp.to_le_bytes());
        Json {
            type_code: JsonType::Time,
            value,
        }
    }

    /// An object. Keys are sorted by their bytes; of duplicate keys the last one wins (as when
    /// TiDB builds from a Go map filled in order). Errors when a key is 65536 bytes or longer,
    /// the object is larger than 4 GiB, or it would nest deeper than [`MAX_DEPTH`].
    pub fn object(entries: Vec<(String, Json)>) -> Result<Json> {
        build::object(entries)
    }

    /// An array. Errors when larger than 4 GiB or deeper than [`MAX_DEPTH`].
    pub fn array(items: Vec<Json>) -> Result<Json> {
        build::array(items)
    }

    /// Appends the datum-codec payload (what follows TiDB's datum flag 10): type code, value.
    pub fn encode_datum_payload(&self, out: &mut Vec<u8>) {
        out.push(self.type_code as u8);
        out.extend_from_slice(&self.value);
    }

    /// Decodes a datum-codec payload from the front of `input`, working out the value's length
    /// from its structure (TiDB `PeekBytesAsJSON`), and advances `input` past it.
    pub fn decode_datum_payload(input: &mut &[u8]) -> Result<Json> {
        let (&code, rest) = input
            .split_first()
            .ok_or_else(|| Error::truncated("JSON datum", 1, 0))?;
        let ty = JsonType::from_u8(code)?;
        let len = decode::value_len(ty, rest)?;
        let json = Json::from_binary(code, &rest[..len])?;
        *input = &rest[len..];
        Ok(json)
    }

    /// The chunk-column / row-format-v2 form: type code followed by the value bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.value.len());
        self.encode_datum_payload(&mut out);
        out
    }

    /// Reads the chunk-column / row-format-v2 form; the value must fill the rest of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Json> {
        let (&code, value) = bytes
            .split_first()
            .ok_or_else(|| Error::truncated("JSON value", 1, 0))?;
        Json::from_binary(code, value)
    }
}

impl std::str::FromStr for Json {
    type Err = Error;

    fn from_str(s: &str) -> Result<Json> {
        Json::parse(s)
    }
}

impl<'a> JsonRef<'a> {
    /// The type.
    pub fn json_type(&self) -> Result<JsonType> {
        Ok(self.type_code)
    }

    /// The type code byte.
    pub fn type_code(&self) -> u8 {
        self.type_code as u8
    }

    /// The value bytes (without the type code).
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Copies into an owned document.
    pub fn to_owned(&self) -> Json {
        Json {
            type_code: self.type_code,
            value: self.value.to_vec(),
        }
    }

    fn elem_count(&self) -> Result<usize> {
        Ok(decode::read_u32(self.value, 0)? as usize)
    }

    /// The number of members if this is an object, else `None`.
    pub fn object_len(&self) -> Result<Option<usize>> {
        match self.type_code {
            JsonType::Object => self.elem_count().map(Some),
            _ => Ok(None),
        }
    }

    /// The number of elements if this is an array, else `None`.
    pub fn array_len(&self) -> Result<Option<usize>> {
        match self.type_code {
            JsonType::Array => self.elem_count().map(Some),
            _ => Ok(None),
        }
    }

    /// The `i`th key and value of an object in key order; `None` if this is not an object or `i`
    /// is out of range.
    pub fn object_entry(&self, i: usize) -> Result<Option<(&'a [u8], JsonRef<'a>)>> {
        if self.type_code != JsonType::Object {
            return Ok(None);
        }
        let count = self.elem_count()?;
        if i >= count {
            return Ok(None);
        }
        let key = decode::object_key(self.value, i)?;
        let val = decode::entry_value(self.value, decode::object_value_entry(count, i))?;
        Ok(Some((key, val)))
    }

    /// The value of `key` in an object (binary search over the sorted keys); `None` if this is not
    /// an object or the key is absent.
    pub fn object_get(&self, key: &[u8]) -> Result<Option<JsonRef<'a>>> {
        if self.type_code != JsonType::Object {
            return Ok(None);
        }
        let count = self.elem_count()?;
        let (mut lo, mut hi) = (0usize, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match decode::object_key(self.value, mid)?.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let entry = decode::object_value_entry(count, mid);
                    return decode::entry_value(self.value, entry).map(Some);
                }
            }
        }
        Ok(None)
    }

    /// The `i`th element of an array; `None` if this is not an array or `i` is out of range.
    pub fn array_get(&self, i: usize) -> Result<Option<JsonRef<'a>>> {
        if self.type_code != JsonType::Array {
            return Ok(None);
        }
        if i >= self.elem_count()? {
            return Ok(None);
        }
        decode::entry_value(self.value, HEADER_LEN + i * VALUE_ENTRY_LEN).map(Some)
    }

    fn eight_bytes(&self) -> Result<[u8; 8]> {
        self.value
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::truncated("JSON number", 8, self.value.len()))
    }

    /// The integer if this is an INT64.
    pub fn as_i64(&self) -> Result<Option<i64>> {
        match self.type_code {
            JsonType::I64 => Ok(Some(i64::from_le_bytes(self.eight_bytes()?))),
            _ => Ok(None),
        }
    }

    /// The integer if this is a UINT64.
    pub fn as_u64(&self) -> Result<Option<u64>> {
        match self.type_code {
            JsonType::U64 => Ok(Some(u64::from_le_bytes(self.eight_bytes()?))),
            _ => Ok(None),
        }
    }

    /// The number if this is a DOUBLE.
    pub fn as_f64(&self) -> Result<Option<f64>> {
        match self.type_code {
            JsonType::Double => Ok(Some(f64::from_le_bytes(self.eight_bytes()?))),
            _ => Ok(None),
        }
    }

    /// The raw bytes if this is a string (TiDB does not check them for UTF-8).
    pub fn as_str_bytes(&self) -> Result<Option<&'a [u8]>> {
        match self.type_code {
            JsonType::String => {
                let (len, n) = decode::read_uvarint(self.value)?;
                decode::slice(self.value, n, len, "JSON string").map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The text if this is a string; `Error::Corrupted` if its bytes are not UTF-8.
    pub fn as_str(&self) -> Result<Option<&'a str>> {
        match self.as_str_bytes()? {
            Some(b) => std::str::from_utf8(b)
                .map(Some)
                .map_err(|e| Error::corrupted("JSON string", e.to_string())),
            None => Ok(None),
        }
    }

    /// `true`/`false` if this is a boolean literal.
    pub fn as_bool(&self) -> Result<Option<bool>> {
        match (self.type_code, self.value.first()) {
            (JsonType::Literal, Some(&LITERAL_TRUE)) => Ok(Some(true)),
            (JsonType::Literal, Some(&LITERAL_FALSE)) => Ok(Some(false)),
            _ => Ok(None),
        }
    }

    /// Whether this is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.type_code == JsonType::Literal && self.value.first() == Some(&LITERAL_NULL)
    }

    /// The MySQL field type byte and the bytes if this is an opaque value.
    pub fn as_opaque(&self) -> Result<Option<(u8, &'a [u8])>> {
        match self.type_code {
            JsonType::Opaque => {
                let (&field_type, rest) = self
                    .value
                    .split_first()
                    .ok_or_else(|| Error::truncated("JSON opaque", 1, 0))?;
                let (len, n) = decode::read_uvarint(rest)?;
                Ok(Some((
                    field_type,
                    decode::slice(rest, n, len, "JSON opaque")?,
                )))
            }
            _ => Ok(None),
        }
    }

    /// The packed `CoreTime` bits if this is a DATE, DATETIME or TIMESTAMP.
    pub fn as_core_time(&self) -> Result<Option<u64>> {
        match self.type_code {
            JsonType::Date | JsonType::Datetime | JsonType::Timestamp => {
                Ok(Some(u64::from_le_bytes(self.eight_bytes()?)))
            }
            _ => Ok(None),
        }
    }

    /// Nanoseconds and fsp if this is a TIME (duration).
    pub fn as_duration(&self) -> Result<Option<(i64, u32)>> {
        match self.type_code {
            JsonType::Time => {
                let nanos = i64::from_le_bytes(self.eight_bytes()?);
                let fsp = decode::read_u32(self.value, 8)?;
                Ok(Some((nanos, fsp)))
            }
            _ => Ok(None),
        }
    }

    /// MySQL `JSON_DEPTH`: 1 for scalars and empty containers, else 1 + the deepest child.
    pub fn depth(&self) -> Result<usize> {
        decode::depth(*self)
    }
}
