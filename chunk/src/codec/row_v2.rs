//! TiDB's row format v2 ("rowcodec"): how a table row's columns are stored in one value.
//!
//! Layout: version byte 128, a flags byte (BIG = 1, WITH_CHECKSUM = 2), u16 LE count of
//! not-null columns, u16 LE count of null columns, the not-null column ids ascending, the null
//! column ids ascending, one end offset per not-null column, then the not-null values back to
//! back (and, with WITH_CHECKSUM, a checksum trailer after the last value). Small rows use u8 ids
//! and u16 offsets; BIG rows (an id above 255 or more than 65535 value bytes) use u32 for both.
//! All multi-byte numbers are little-endian.
//!
//! Values by type: integers in the fewest of 1, 2, 4 or 8 bytes (signed or unsigned per the
//! column; DATE/DATETIME/TIMESTAMP as their packed u64, ENUM/SET/BIT as u64, TIME as i64
//! nanoseconds, YEAR as i64); FLOAT/DOUBLE as the 8-byte memcomparable f64; strings as their
//! bytes; DECIMAL as precision, frac and the binary decimal; JSON as its type byte and binary.
//! (Facts from TiKV's `codec/row/v2` and TiDB's `util/rowcodec`.)

use crate::codec::number;
use crate::error::{Error, Result};

/// The version byte every v2 row starts with.
pub const CODEC_VERSION: u8 = 128;
/// Flag: ids are u32 and offsets u32.
pub const FLAG_BIG: u8 = 1;
/// Flag: a checksum trailer follows the values.
pub const FLAG_WITH_CHECKSUM: u8 = 2;
const KNOWN_FLAGS: u8 = FLAG_BIG | FLAG_WITH_CHECKSUM;

/// A fixed-width little-endian unsigned array inside the row.
#[derive(Debug, Clone, Copy)]
struct LeArray<'a> {
    bytes: &'a [u8],
    width: usize,
}

impl LeArray<'_> {
    fn len(&self) -> usize {
        self.bytes.len() / self.width
    }

    fn get(&self, index: usize) -> u64 {
        let start = index * self.width;
        match self.bytes.get(start..start + self.width) {
            Some([a]) => u64::from(*a),
            Some([a, b]) => u64::from(u16::from_le_bytes([*a, *b])),
            Some([a, b, c, d]) => u64::from(u32::from_le_bytes([*a, *b, *c, *d])),
            // Widths are 1, 2 or 4 by construction and indexes are below len().
            _ => 0,
        }
    }

    fn strictly_ascending(&self) -> bool {
        (1..self.len()).all(|i| self.get(i - 1) < self.get(i))
    }

    fn non_decreasing(&self) -> bool {
        (1..self.len()).all(|i| self.get(i - 1) <= self.get(i))
    }

    /// Binary search for `id` in ascending entries.
    fn find(&self, id: u64) -> Option<usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = (low + high) / 2;
            match self.get(mid).cmp(&id) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

/// A parsed (and validated) view of one v2 row; values are borrowed, not copied.
#[derive(Debug, Clone, Copy)]
pub struct RowSlice<'a> {
    non_null_ids: LeArray<'a>,
    null_ids: LeArray<'a>,
    offsets: LeArray<'a>,
    values: &'a [u8],
}

/// What a row holds for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnValue<'a> {
    /// The column is in the row's null list.
    Null,
    /// The column's encoded value.
    Value(&'a [u8]),
}

/// Whether `bytes` is a v2 row (rather than the old datum-pair format).
pub fn is_row_v2(bytes: &[u8]) -> bool {
    bytes.first() == Some(&CODEC_VERSION)
}

impl<'a> RowSlice<'a> {
    /// Parses and validates a row: lengths, ascending ids, non-decreasing offsets within the
    /// value area.
    pub fn parse(bytes: &'a [u8]) -> Result<RowSlice<'a>> {
        let mut input = bytes;
        let version = number::read_u8(&mut input, "row v2 version")?;
        if version != CODEC_VERSION {
            return Err(Error::corrupted(
                "row v2",
                format!("version byte {version}"),
            ));
        }
        let flags = number::read_u8(&mut input, "row v2 flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(Error::corrupted("row v2", format!("flags {flags:#04x}")));
        }
        let big = flags & FLAG_BIG != 0;
        let non_null = usize::from(number::read_u16_le(&mut input, "row v2 counts")?);
        let null = usize::from(number::read_u16_le(&mut input, "row v2 counts")?);
        let (id_width, offset_width) = if big { (4, 4) } else { (1, 2) };
        let array = |input: &mut &'a [u8], count: usize, width: usize| -> Result<LeArray<'a>> {
            let bytes = number::take(input, count * width, "row v2 header")?;
            Ok(LeArray { bytes, width })
        };
        let non_null_ids = array(&mut input, non_null, id_width)?;
        let null_ids = array(&mut input, null, id_width)?;
        let offsets = array(&mut input, non_null, offset_width)?;
        let values_len = if non_null == 0 {
            0
        } else {
            usize::try_from(offsets.get(non_null - 1))
                .map_err(|_| Error::corrupted("row v2", "offset overflow"))?
        };
        if values_len > input.len() {
            return Err(Error::truncated("row v2 values", values_len, input.len()));
        }
        if flags & FLAG_WITH_CHECKSUM == 0 && values_len != input.len() {
            return Err(Error::corrupted(
                "row v2",
                format!("{} bytes after the values", input.len() - values_len),
            ));
        }
        let values = &input[..values_len];
        // Small rows (the common case) have one-byte ids and two-byte offsets, checked without
        // early exits so the loops vectorize: a row is parsed once per decoded column.
        let ascending = if big {
            non_null_ids.strictly_ascending() && null_ids.strictly_ascending()
        } else {
            let strict = |ids: &[u8]| {
                ids.windows(2)
                    .fold(true, |ok, pair| ok & (pair[0] < pair[1]))
            };
            strict(non_null_ids.bytes) & strict(null_ids.bytes)
        };
        if !ascending {
            return Err(Error::corrupted("row v2", "column ids not ascending"));
        }
        let ordered = if big {
            offsets.non_decreasing()
        } else {
            let bytes = offsets.bytes;
            let mut ok = true;
            let mut at = 2;
            while at + 1 < bytes.len() {
                let previous = u16::from_le_bytes([bytes[at - 2], bytes[at - 1]]);
                ok &= previous <= u16::from_le_bytes([bytes[at], bytes[at + 1]]);
                at += 2;
            }
            ok
        };
        if !ordered {
            return Err(Error::corrupted("row v2", "offsets decrease"));
        }
        Ok(RowSlice {
            non_null_ids,
            null_ids,
            offsets,
            values,
        })
    }

    /// The value of column `column_id`, `Null`, or `None` when the row does not mention it
    /// (the column was added after the row was written: use its default).
    pub fn search(&self, column_id: i64) -> Option<ColumnValue<'a>> {
        let id = u64::try_from(column_id).ok()?;
        if let Some(index) = self.non_null_ids.find(id) {
            return Some(ColumnValue::Value(self.value_at(index)));
        }
        self.null_ids.find(id).map(|_| ColumnValue::Null)
    }

    /// As `search`, trying first the not-null position `hint` (where the column sat in the
    /// previous row of the same table) and leaving there where it was found this time: rows
    /// of a table mostly share one layout, so a scan skips the binary search.
    #[inline]
    pub fn search_hinted(&self, column_id: i64, hint: &mut usize) -> Option<ColumnValue<'a>> {
        let id = u64::try_from(column_id).ok()?;
        if *hint < self.non_null_ids.len() && self.non_null_ids.get(*hint) == id {
            return Some(ColumnValue::Value(self.value_at(*hint)));
        }
        if let Some(index) = self.non_null_ids.find(id) {
            *hint = index;
            return Some(ColumnValue::Value(self.value_at(index)));
        }
        self.null_ids.find(id).map(|_| ColumnValue::Null)
    }

    fn value_at(&self, index: usize) -> &'a [u8] {
        let start = if index == 0 {
            0
        } else {
            self.offsets.get(index - 1) as usize
        };
        let end = self.offsets.get(index) as usize;
        // Offsets were checked to be ascending and within the value area.
        self.values.get(start..end).unwrap_or_default()
    }

    /// Not-null columns as `(column_id, value)` in id order.
    pub fn values(&self) -> impl Iterator<Item = (i64, &'a [u8])> + '_ {
        (0..self.non_null_ids.len())
            .map(move |i| (self.non_null_ids.get(i) as i64, self.value_at(i)))
    }

    /// Ids of the null columns, ascending.
    pub fn null_column_ids(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.null_ids.len()).map(move |i| self.null_ids.get(i) as i64)
    }
}

/// A signed integer in the fewest bytes (1, 2, 4 or 8) that hold it.
pub fn encode_i64(out: &mut Vec<u8>, value: i64) {
    if let Ok(v) = i8::try_from(value) {
        out.push(v as u8);
    } else if let Ok(v) = i16::try_from(value) {
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(value) {
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// An unsigned integer in the fewest bytes (1, 2, 4 or 8) that hold it.
pub fn encode_u64(out: &mut Vec<u8>, value: u64) {
    if let Ok(v) = u8::try_from(value) {
        out.push(v);
    } else if let Ok(v) = u16::try_from(value) {
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = u32::try_from(value) {
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// Reads a signed integer value (1, 2, 4 or 8 bytes).
pub fn decode_i64(value: &[u8]) -> Result<i64> {
    Ok(match *value {
        [a] => i64::from(a as i8),
        [a, b] => i64::from(i16::from_le_bytes([a, b])),
        [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => {
            return Err(Error::corrupted(
                "row v2 integer",
                format!("{} bytes", value.len()),
            ))
        }
    })
}

/// Reads an unsigned integer value (1, 2, 4 or 8 bytes).
pub fn decode_u64(value: &[u8]) -> Result<u64> {
    Ok(match *value {
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_le_bytes([a, b])),
        [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => {
            return Err(Error::corrupted(
                "row v2 unsigned integer",
                format!("{} bytes", value.len()),
            ))
        }
    })
}

/// Encodes a row from `(column_id, value)` pairs, `None` meaning NULL; values are already in
/// their v2 form. Ids need not be sorted; duplicates are refused.
pub fn encode_row(columns: &[(i64, Option<&[u8]>)]) -> Result<Vec<u8>> {
    let mut non_null: Vec<(u64, &[u8])> = Vec::new();
    let mut null: Vec<u64> = Vec::new();
    for &(id, value) in columns {
        let id = u64::try_from(id)
            .ok()
            .filter(|&id| id <= u64::from(u32::MAX))
            .ok_or_else(|| Error::overflow("row v2 column id", id))?;
        match value {
            Some(bytes) => non_null.push((id, bytes)),
            None => null.push(id),
        }
    }
    non_null.sort_by_key(|(id, _)| *id);
    null.sort_unstable();
    let mut all: Vec<u64> = non_null
        .iter()
        .map(|(id, _)| *id)
        .chain(null.iter().copied())
        .collect();
    all.sort_unstable();
    if all.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(Error::corrupted("row v2", "duplicate column id"));
    }
    if non_null.len() > usize::from(u16::MAX) || null.len() > usize::from(u16::MAX) {
        return Err(Error::overflow("row v2 column count", all.len()));
    }
    let values_len: usize = non_null.iter().map(|(_, value)| value.len()).sum();
    let big = all.last().is_some_and(|&id| id > 255) || values_len > usize::from(u16::MAX);
    if values_len > u32::MAX as usize {
        return Err(Error::overflow("row v2 size", values_len));
    }
    let mut out = Vec::with_capacity(6 + all.len() * 8 + values_len);
    out.push(CODEC_VERSION);
    out.push(if big { FLAG_BIG } else { 0 });
    out.extend_from_slice(&(non_null.len() as u16).to_le_bytes());
    out.extend_from_slice(&(null.len() as u16).to_le_bytes());
    let put_id = |out: &mut Vec<u8>, id: u64| {
        if big {
            out.extend_from_slice(&(id as u32).to_le_bytes());
        } else {
            out.push(id as u8);
        }
    };
    for &(id, _) in &non_null {
        put_id(&mut out, id);
    }
    for &id in &null {
        put_id(&mut out, id);
    }
    let mut end = 0usize;
    for &(_, value) in &non_null {
        end += value.len();
        if big {
            out.extend_from_slice(&(end as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(end as u16).to_le_bytes());
        }
    }
    for &(_, value) in &non_null {
        out.extend_from_slice(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_small_row() {
        // Worked out from the layout in TiDB docs/design/2018-07-19-row-format.md: columns
        // 1 = 1000 (int), 2 = NULL, 3 = "abc".
        let mut int_value = Vec::new();
        encode_i64(&mut int_value, 1000);
        assert_eq!(int_value, [0xE8, 0x03]);
        let row = encode_row(&[(3, Some(b"abc")), (1, Some(&int_value)), (2, None)]).unwrap();
        assert_eq!(
            row,
            [128, 0, 2, 0, 1, 0, 1, 3, 2, 2, 0, 5, 0, 0xE8, 0x03, b'a', b'b', b'c']
        );
        let slice = RowSlice::parse(&row).unwrap();
        assert_eq!(slice.search(1), Some(ColumnValue::Value(&[0xE8, 0x03][..])));
        assert_eq!(slice.search(2), Some(ColumnValue::Null));
        assert_eq!(slice.search(3), Some(ColumnValue::Value(&b"abc"[..])));
        assert_eq!(slice.search(4), None);
        assert_eq!(decode_i64(&[0xE8, 0x03]).unwrap(), 1000);
        assert_eq!(slice.null_column_ids().collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn big_rows_and_integer_widths() {
        let long = vec![7u8; 70_000];
        let row = encode_row(&[(300, Some(b"x")), (1, Some(&long))]).unwrap();
        assert_eq!(row[1], FLAG_BIG);
        let slice = RowSlice::parse(&row).unwrap();
        assert_eq!(slice.search(300), Some(ColumnValue::Value(&b"x"[..])));
        assert_eq!(slice.search(1), Some(ColumnValue::Value(long.as_slice())));
        for (value, width) in [(0i64, 1), (-129, 2), (40_000, 4), (i64::MIN, 8)] {
            let mut out = Vec::new();
            encode_i64(&mut out, value);
            assert_eq!(out.len(), width);
            assert_eq!(decode_i64(&out).unwrap(), value);
        }
        assert!(decode_i64(&[1, 2, 3]).is_err());
        assert!(encode_row(&[(1, None), (1, Some(b"a"))]).is_err());
    }

    #[test]
    fn corrupted_rows_are_refused() {
        let row = encode_row(&[(1, Some(b"ab")), (2, Some(b"c"))]).unwrap();
        assert!(RowSlice::parse(&row[..row.len() - 1]).is_err());
        let mut unsorted = row.clone();
        unsorted.swap(6, 7);
        assert!(RowSlice::parse(&unsorted).is_err());
        let mut bad_flags = row.clone();
        bad_flags[1] = 0x80;
        assert!(RowSlice::parse(&bad_flags).is_err());
        assert!(RowSlice::parse(&[128, 0, 0xFF, 0xFF, 0, 0]).is_err());
        assert!(RowSlice::parse(&[]).is_err());
        // Three columns whose end offsets go 2, 1, 3; then ids 1, 3, 2.
        let backwards = [
            128, 0, 3, 0, 0, 0, 1, 2, 3, 2, 0, 1, 0, 3, 0, b'a', b'b', b'c',
        ];
        let err = RowSlice::parse(&backwards).unwrap_err().to_string();
        assert!(err.contains("offsets decrease"), "{err}");
        let unordered = [
            128, 0, 3, 0, 0, 0, 1, 3, 2, 1, 0, 2, 0, 3, 0, b'a', b'b', b'c',
        ];
        let err = RowSlice::parse(&unordered).unwrap_err().to_string();
        assert!(err.contains("not ascending"), "{err}");
        let mut fine = backwards;
        fine[9..15].copy_from_slice(&[1, 0, 2, 0, 3, 0]);
        let row = RowSlice::parse(&fine).unwrap();
        assert_eq!(row.search(3), Some(ColumnValue::Value(&b"c"[..])));
    }

    proptest! {
        #[test]
        fn rows_round_trip(columns in proptest::collection::btree_map(0i64..400, proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)), 0..20)) {
            let input: Vec<(i64, Option<&[u8]>)> = columns.iter().map(|(id, v)| (*id, v.as_deref())).collect();
            let row = encode_row(&input).unwrap();
            let slice = RowSlice::parse(&row).unwrap();
            for (id, value) in &columns {
                let expected = match value { Some(v) => ColumnValue::Value(v.as_slice()), None => ColumnValue::Null };
                prop_assert_eq!(slice.search(*id), Some(expected));
            }
            prop_assert_eq!(slice.search(1000), None);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), flip in any::<usize>()) {
            let _ = RowSlice::parse(&bytes);
            let mut row = encode_row(&[(1, Some(b"abc")), (2, None), (5, Some(b"z"))]).unwrap();
            let i = flip % row.len();
            row[i] ^= 0x5A;
            if let Ok(slice) = RowSlice::parse(&row) {
                for id in 0..8 { let _ = slice.search(id); }
                let _ = slice.values().count();
            }
        }
    }
}
