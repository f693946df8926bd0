//! Index values as TiDB writes them (`tablecodec.GenIndexValuePortal`): what an index entry's
//! value holds besides the key's datums: the row handle of a unique index, a common handle, a
//! global index's partition id, restored data for new collations, and the "untouched" flag.
//!
//! Three layouts (facts from TiDB `tablecodec/tablecodec.go`):
//! - old (value length <= 9): `[int handle: 8 bytes BE] [untouched: '1']`, or the single byte
//!   `'0'` (or `'1'`) when there is neither;
//! - version 0 (longer values): `tail_len ‖ options ‖ padding ‖ [int handle 8 BE] ‖ [untouched]`,
//!   with `tail_len` counting padding, handle and flag;
//! - clustered version 1: `tail_len ‖ 125 ‖ 1 ‖ options ‖ [untouched]`.
//!
//! Options, in order, each optional: common handle `127 ‖ u16 BE length ‖ handle`, partition id
//! `126 ‖ comparable i64`, restored data (a v2 row, starting with its version byte 128).

use crate::codec::number;
use crate::error::{Error, Result};

/// The longest value in the old layout.
pub const MAX_OLD_ENCODE_VALUE_LEN: usize = 9;
/// Starts a common handle segment.
pub const COMMON_HANDLE_FLAG: u8 = 127;
/// Starts a partition id segment.
pub const PARTITION_ID_FLAG: u8 = 126;
/// Marks a versioned index value.
pub const INDEX_VERSION_FLAG: u8 = 125;
/// Starts restored data (the row v2 version byte).
pub const RESTORE_DATA_FLAG: u8 = 128;
/// The untouched-index flag byte.
pub const UNTOUCHED_FLAG: u8 = b'1';

/// The parts of an index value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexValue<'a> {
    /// The int handle of a unique index entry.
    pub int_handle: Option<i64>,
    /// The common handle (encoded datums) of a unique index entry.
    pub common_handle: Option<&'a [u8]>,
    /// A global index's partition id.
    pub partition_id: Option<i64>,
    /// Restored column values, as a v2 row keyed by column id.
    pub restored: Option<&'a [u8]>,
    /// Whether the entry carries the untouched flag.
    pub untouched: bool,
}

fn big_endian_i64(bytes: &[u8]) -> Result<i64> {
    let array: [u8; 8] = bytes
        .get(..8)
        .and_then(|head| head.try_into().ok())
        .ok_or_else(|| Error::truncated("index value handle", 8, bytes.len()))?;
    Ok(i64::from_be_bytes(array))
}

/// The layout version of an index value (0 for the old and version-0 layouts).
pub fn index_value_version(value: &[u8]) -> u8 {
    if value.len() <= MAX_OLD_ENCODE_VALUE_LEN {
        return 0;
    }
    match value {
        [tail_len, INDEX_VERSION_FLAG, version, ..] if *tail_len <= 1 => *version,
        _ => 0,
    }
}

/// Splits an index value into its parts.
pub fn split_index_value(value: &[u8]) -> Result<IndexValue<'_>> {
    if value.is_empty() {
        return Err(Error::truncated("index value", 1, 0));
    }
    if value.len() <= MAX_OLD_ENCODE_VALUE_LEN {
        return split_old(value);
    }
    let version = index_value_version(value);
    let tail_len = usize::from(value[0]);
    let header = if version == 0 { 1 } else { 3 };
    if version > 1 {
        return Err(Error::corrupted(
            "index value",
            format!("unknown version {version}"),
        ));
    }
    let body_end = value
        .len()
        .checked_sub(tail_len)
        .filter(|&end| end >= header)
        .ok_or_else(|| Error::corrupted("index value", format!("tail length {tail_len}")))?;
    let tail = &value[body_end..];
    let mut parts = IndexValue {
        untouched: tail.last() == Some(&UNTOUCHED_FLAG),
        ..Default::default()
    };
    if version == 0 && tail.len() >= 8 {
        parts.int_handle = Some(big_endian_i64(tail)?);
    }
    let mut body = &value[header..body_end];
    if body.first() == Some(&COMMON_HANDLE_FLAG) {
        body = &body[1..];
        let len = usize::from(u16::from_be_bytes([
            number::read_u8(&mut body, "common handle length")?,
            number::read_u8(&mut body, "common handle length")?,
        ]));
        parts.common_handle = Some(number::take(&mut body, len, "common handle")?);
    }
    if body.first() == Some(&PARTITION_ID_FLAG) {
        body = &body[1..];
        parts.partition_id = Some(number::decode_i64(&mut body)?);
    }
    match body.first() {
        Some(&RESTORE_DATA_FLAG) => parts.restored = Some(body),
        // Version-0 values may end in zero padding inside the body only if tail_len is wrong;
        // anything else left over is not a segment we know.
        Some(&other) => {
            return Err(Error::corrupted(
                "index value",
                format!("unknown segment flag {other}"),
            ))
        }
        None => {}
    }
    Ok(parts)
}

fn split_old(value: &[u8]) -> Result<IndexValue<'_>> {
    match value.len() {
        1 => match value[0] {
            b'0' => Ok(IndexValue::default()),
            UNTOUCHED_FLAG => Ok(IndexValue {
                untouched: true,
                ..Default::default()
            }),
            other => Err(Error::corrupted(
                "index value",
                format!("single byte {other}"),
            )),
        },
        8 => Ok(IndexValue {
            int_handle: Some(big_endian_i64(value)?),
            ..Default::default()
        }),
        9 if value[8] == UNTOUCHED_FLAG => Ok(IndexValue {
            int_handle: Some(big_endian_i64(value)?),
            untouched: true,
            ..Default::default()
        }),
        len => Err(Error::corrupted(
            "index value",
            format!("{len} bytes in the old layout"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::row_v2;
    use proptest::prelude::*;

    #[test]
    fn old_layout() {
        assert_eq!(split_index_value(b"0").unwrap(), IndexValue::default());
        let mut unique = 42i64.to_be_bytes().to_vec();
        assert_eq!(split_index_value(&unique).unwrap().int_handle, Some(42));
        unique.push(UNTOUCHED_FLAG);
        let parts = split_index_value(&unique).unwrap();
        assert_eq!((parts.int_handle, parts.untouched), (Some(42), true));
        assert!(split_index_value(b"x").is_err());
        assert!(split_index_value(&[1, 2, 3]).is_err());
        assert!(split_index_value(&[]).is_err());
    }

    #[test]
    fn version_zero_with_restored_data_and_int_handle() {
        // tail_len ‖ restored row ‖ int handle (a unique index on a new-collation string).
        let restored = row_v2::encode_row(&[(2, Some(b"Abc"))]).unwrap();
        let mut value = vec![8];
        value.extend_from_slice(&restored);
        value.extend_from_slice(&7i64.to_be_bytes());
        let parts = split_index_value(&value).unwrap();
        assert_eq!(parts.int_handle, Some(7));
        assert_eq!(parts.restored, Some(restored.as_slice()));
        assert!(parts.common_handle.is_none() && !parts.untouched);
    }

    #[test]
    fn version_zero_common_handle_with_padding() {
        // tail_len 3 ‖ 127 ‖ len ‖ handle ‖ 3 bytes padding to reach 10 bytes... plus more.
        let handle = [3u8, 0x80, 0, 0, 0, 0, 0, 0, 9];
        let mut value = vec![0, COMMON_HANDLE_FLAG, 0, handle.len() as u8];
        value.extend_from_slice(&handle);
        let parts = split_index_value(&value).unwrap();
        assert_eq!(parts.common_handle, Some(&handle[..]));
        assert_eq!(parts.int_handle, None);
        // With a partition id after it.
        let mut global = vec![0, COMMON_HANDLE_FLAG, 0, 1, 9, PARTITION_ID_FLAG];
        number::encode_i64(&mut global, 77);
        let parts = split_index_value(&global).unwrap();
        assert_eq!(parts.partition_id, Some(77));
        assert_eq!(parts.common_handle, Some(&[9u8][..]));
    }

    #[test]
    fn clustered_version_one() {
        let handle = [1u8, b'a', 0, 0, 0, 0, 0, 0, 0, 0xF8];
        let mut value = vec![
            1,
            INDEX_VERSION_FLAG,
            1,
            COMMON_HANDLE_FLAG,
            0,
            handle.len() as u8,
        ];
        value.extend_from_slice(&handle);
        value.push(UNTOUCHED_FLAG);
        assert_eq!(index_value_version(&value), 1);
        let parts = split_index_value(&value).unwrap();
        assert_eq!(parts.common_handle, Some(&handle[..]));
        assert!(parts.untouched);
    }

    #[test]
    fn corrupted_values_are_refused() {
        // Tail longer than the value.
        assert!(split_index_value(&[200, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // Common handle length past the end.
        assert!(split_index_value(&[0, COMMON_HANDLE_FLAG, 0, 50, 1, 2, 3, 4, 5, 6]).is_err());
        // Unknown segment.
        assert!(split_index_value(&[0, 5, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = split_index_value(&bytes);
        }
    }
}
