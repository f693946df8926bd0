//! Table and index keys as TiDB writes them (`tablecodec`): row keys
//! `t{table_id}_r{handle}` and index keys `t{table_id}_i{index_id}{datums}`, where ids and int
//! handles are memcomparable i64s and common handles are memcomparable datums.

use crate::codec::number;
use crate::error::{Error, Result};

/// First byte of table keys.
pub const TABLE_PREFIX: u8 = b't';
/// Separator before a row handle.
pub const RECORD_PREFIX_SEP: &[u8] = b"_r";
/// Separator before an index id.
pub const INDEX_PREFIX_SEP: &[u8] = b"_i";
/// Length of `t{table_id}_r` / `t{table_id}_i`.
pub const PREFIX_LEN: usize = 1 + 8 + 2;
/// Length of a row key with an int handle.
pub const RECORD_ROW_KEY_LEN: usize = PREFIX_LEN + 8;

/// A row's handle: an int (the clustered int primary key or `_tidb_rowid`) or the encoded
/// datums of a clustered common primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Handle {
    /// An int handle.
    Int(i64),
    /// A common handle: memcomparable datums, as they appear in the key.
    Common(Vec<u8>),
}

/// `t{table_id}`.
pub fn table_prefix(table_id: i64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(TABLE_PREFIX);
    number::encode_i64(&mut key, table_id);
    key
}

/// `t{table_id}_r`: the prefix of every row key of the table.
pub fn record_prefix(table_id: i64) -> Vec<u8> {
    let mut key = table_prefix(table_id);
    key.extend_from_slice(RECORD_PREFIX_SEP);
    key
}

/// `t{table_id}_i{index_id}`: the prefix of every key of the index.
pub fn index_prefix(table_id: i64, index_id: i64) -> Vec<u8> {
    let mut key = table_prefix(table_id);
    key.extend_from_slice(INDEX_PREFIX_SEP);
    number::encode_i64(&mut key, index_id);
    key
}

/// The row key of `handle` in table `table_id`.
pub fn encode_row_key(table_id: i64, handle: &Handle) -> Vec<u8> {
    let mut key = record_prefix(table_id);
    match handle {
        Handle::Int(value) => number::encode_i64(&mut key, *value),
        Handle::Common(datums) => key.extend_from_slice(datums),
    }
    key
}

/// The `[start, end)` of all row keys of a table.
pub fn record_range(table_id: i64) -> (Vec<u8>, Vec<u8>) {
    let start = record_prefix(table_id);
    let mut end = table_prefix(table_id);
    end.extend_from_slice(b"_s");
    (start, end)
}

fn decode_prefix<'a>(key: &'a [u8], sep: &[u8], what: &'static str) -> Result<(i64, &'a [u8])> {
    let mut input = key;
    let first = number::read_u8(&mut input, what)?;
    if first != TABLE_PREFIX {
        return Err(Error::corrupted(what, format!("first byte {first:#04x}")));
    }
    let table_id = number::decode_i64(&mut input)?;
    let found = number::take(&mut input, 2, what)?;
    if found != sep {
        return Err(Error::corrupted(what, format!("separator {found:?}")));
    }
    Ok((table_id, input))
}

/// Splits a row key into its table id and handle; `common_handle` says how to read the handle.
pub fn decode_row_key(key: &[u8], common_handle: bool) -> Result<(i64, Handle)> {
    let (table_id, mut rest) = decode_prefix(key, RECORD_PREFIX_SEP, "row key")?;
    let handle = if common_handle {
        if rest.is_empty() {
            return Err(Error::corrupted("row key", "empty common handle"));
        }
        Handle::Common(rest.to_vec())
    } else {
        let handle = number::decode_i64(&mut rest)?;
        if !rest.is_empty() {
            return Err(Error::corrupted(
                "row key",
                format!("{} bytes after the int handle", rest.len()),
            ));
        }
        Handle::Int(handle)
    };
    Ok((table_id, handle))
}

/// The index key prefix with the given encoded datums (memcomparable, with their flags).
pub fn encode_index_key(table_id: i64, index_id: i64, encoded_datums: &[u8]) -> Vec<u8> {
    let mut key = index_prefix(table_id, index_id);
    key.extend_from_slice(encoded_datums);
    key
}

/// Splits an index key into table id, index id and the encoded datums after them.
pub fn decode_index_key(key: &[u8]) -> Result<(i64, i64, &[u8])> {
    let (table_id, mut rest) = decode_prefix(key, INDEX_PREFIX_SEP, "index key")?;
    let index_id = number::decode_i64(&mut rest)?;
    Ok((table_id, index_id, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_row_key() {
        // tablecodec: EncodeRowKeyWithHandle(1, IntHandle(1)) = "t" + 0x8000000000000001 + "_r"
        // + 0x8000000000000001.
        let key = encode_row_key(1, &Handle::Int(1));
        let mut expected = vec![b't', 0x80, 0, 0, 0, 0, 0, 0, 1, b'_', b'r'];
        expected.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(key, expected);
        assert_eq!(key.len(), RECORD_ROW_KEY_LEN);
        assert_eq!(decode_row_key(&key, false).unwrap(), (1, Handle::Int(1)));
        let (start, end) = record_range(1);
        assert!(start.as_slice() < key.as_slice() && key.as_slice() < end.as_slice());
    }

    #[test]
    fn bad_keys_are_refused() {
        let key = encode_row_key(5, &Handle::Int(-3));
        assert!(decode_row_key(&key[..key.len() - 1], false).is_err());
        assert!(decode_row_key(&key[..PREFIX_LEN], true).is_err());
        let mut wrong = key.clone();
        wrong[0] = b'm';
        assert!(decode_row_key(&wrong, false).is_err());
        let index = encode_index_key(5, 2, b"\x03abc");
        assert!(decode_row_key(&index, false).is_err());
        assert_eq!(decode_index_key(&index).unwrap(), (5, 2, &b"\x03abc"[..]));
    }

    proptest! {
        #[test]
        fn row_keys_round_trip_and_order(table in any::<i64>(), a in any::<i64>(), b in any::<i64>()) {
            let ka = encode_row_key(table, &Handle::Int(a));
            let kb = encode_row_key(table, &Handle::Int(b));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(decode_row_key(&ka, false).unwrap(), (table, Handle::Int(a)));
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_row_key(&bytes, false);
            let _ = decode_row_key(&bytes, true);
            let _ = decode_index_key(&bytes);
        }
    }
}
