//! Rows as TiDB writes them: the record key `t{id}_r{handle}` with a row v2 value, and one
//! entry per index, `t{id}_i{index id}{datums}[handle]`, whose value holds what the key lacks
//! (facts from TiDB `tablecodec`): a unique index with a non-NULL key keeps the int handle in an
//! 8-byte value (or a clustered table's common handle in a version-1 value); other entries append
//! the handle to the key and store `'0'`.

use basalt_chunk::codec::datum::{self, Datum};
use basalt_chunk::codec::index::{COMMON_HANDLE_FLAG, INDEX_VERSION_FLAG};
use basalt_chunk::codec::row_v2;
use basalt_chunk::codec::table::{self, Handle};
use basalt_chunk::decimal::RoundMode;

use crate::catalog::{IndexInfo, PrimaryKey, TableInfo};
use crate::error::{Error, Result};
use crate::types::SqlType;

/// The key-value pairs of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedRow {
    /// The record key.
    pub key: Vec<u8>,
    /// The row v2 value.
    pub value: Vec<u8>,
    /// Index entries: (key, value, whether the key must not exist yet).
    pub indexes: Vec<(Vec<u8>, Vec<u8>, bool)>,
}

/// Checks and normalizes a datum for its column: NOT NULL, string lengths, decimal scale.
pub fn normalize(table: &TableInfo, offset: usize, datum: Datum) -> Result<Datum> {
    let column = &table.columns[offset];
    match (&column.ty, datum) {
        (_, Datum::Null) if column.not_null => Err(Error::InvalidValue(format!(
            "Column '{}' cannot be null",
            column.name
        ))),
        (SqlType::Char(len) | SqlType::Varchar(len), Datum::Bytes(bytes)) => {
            let chars = String::from_utf8_lossy(&bytes).chars().count();
            if chars > *len as usize {
                return Err(Error::InvalidValue(format!(
                    "Data too long for column '{}' ({chars} > {len} characters)",
                    column.name
                )));
            }
            Ok(Datum::Bytes(bytes))
        }
        (SqlType::Decimal { precision, scale }, Datum::Decimal(d)) => {
            let rounded = d.round(*scale as i8, RoundMode::HalfUp)?;
            let (digits, frac) = rounded.precision_and_frac();
            if i32::from(digits) - i32::from(frac) > i32::from(*precision) - i32::from(*scale) {
                return Err(Error::InvalidValue(format!(
                    "Out of range value for column '{}': {d}",
                    column.name
                )));
            }
            Ok(Datum::Decimal(rounded))
        }
        (SqlType::Int { bytes, unsigned }, Datum::Int(v)) if !unsigned => {
            let bits = u32::from(*bytes) * 8;
            let (min, max) = if bits >= 64 {
                (i64::MIN, i64::MAX)
            } else {
                (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
            };
            if v < min || v > max {
                return Err(Error::InvalidValue(format!(
                    "Out of range value for column '{}': {v}",
                    column.name
                )));
            }
            Ok(Datum::Int(v))
        }
        (SqlType::Int { bytes, .. }, Datum::Uint(v)) => {
            if *bytes < 8 && v >= 1u64 << (u32::from(*bytes) * 8) {
                return Err(Error::InvalidValue(format!(
                    "Out of range value for column '{}': {v}",
                    column.name
                )));
            }
            Ok(Datum::Uint(v))
        }
        (_, other) => Ok(other),
    }
}

/// The row's handle: its int primary key, the given hidden row id, or the encoded clustered key.
pub fn handle_of(table: &TableInfo, datums: &[Datum], row_id: Option<i64>) -> Result<Handle> {
    match &table.primary {
        PrimaryKey::IntHandle(offset) => match &datums[*offset] {
            Datum::Int(v) => Ok(Handle::Int(*v)),
            Datum::Uint(v) => Ok(Handle::Int(*v as i64)),
            other => Err(Error::InvalidValue(format!(
                "primary key value {other:?} is not an integer"
            ))),
        },
        PrimaryKey::Hidden => row_id
            .map(Handle::Int)
            .ok_or_else(|| Error::InvalidValue("a row without its row id".into())),
        PrimaryKey::Common(offsets) => {
            let mut bytes = Vec::new();
            for &offset in offsets {
                datum::encode_key(&mut bytes, &datums[offset])?;
            }
            Ok(Handle::Common(bytes))
        }
    }
}

/// The record key of a handle.
pub fn record_key(table: &TableInfo, handle: &Handle) -> Vec<u8> {
    table::encode_row_key(table.id, handle)
}

/// Encodes a row (datums already normalized, one per column).
pub fn encode_row(table: &TableInfo, datums: &[Datum], handle: &Handle) -> Result<EncodedRow> {
    let mut values: Vec<(i64, Option<Vec<u8>>)> = Vec::with_capacity(datums.len());
    for (offset, (column, datum)) in table.columns.iter().zip(datums).enumerate() {
        // An int handle column lives in the key only, as TiDB stores it.
        if table.primary == PrimaryKey::IntHandle(offset) {
            continue;
        }
        values.push((column.id, datum::to_row_v2(datum)?));
    }
    let refs: Vec<(i64, Option<&[u8]>)> = values
        .iter()
        .map(|(id, value)| (*id, value.as_deref()))
        .collect();
    let value = row_v2::encode_row(&refs)?;
    let indexes = table
        .indexes
        .iter()
        .map(|index| index_entry(table, index, datums, handle))
        .collect::<Result<Vec<_>>>()?;
    Ok(EncodedRow {
        key: record_key(table, handle),
        value,
        indexes,
    })
}

/// The entry of `index` for a row: (key, value, whether the key must not exist yet).
pub fn index_entry(
    table: &TableInfo,
    index: &IndexInfo,
    datums: &[Datum],
    handle: &Handle,
) -> Result<(Vec<u8>, Vec<u8>, bool)> {
    let mut key_datums = Vec::new();
    let mut has_null = false;
    for &offset in &index.columns {
        has_null |= datums[offset] == Datum::Null;
        datum::encode_key(&mut key_datums, &datums[offset])?;
    }
    if index.unique && !has_null {
        let value = match handle {
            Handle::Int(h) => h.to_be_bytes().to_vec(),
            Handle::Common(bytes) => common_handle_value(bytes)?,
        };
        return Ok((
            table::encode_index_key(table.id, index.id, &key_datums),
            value,
            true,
        ));
    }
    match handle {
        Handle::Int(h) => datum::encode_key(&mut key_datums, &Datum::Int(*h))?,
        Handle::Common(bytes) => key_datums.extend_from_slice(bytes),
    }
    Ok((
        table::encode_index_key(table.id, index.id, &key_datums),
        b"0".to_vec(),
        false,
    ))
}

/// Decodes a stored row (record key and row v2 value) into its handle and one datum per
/// column.
pub fn decode_row(table: &TableInfo, key: &[u8], value: &[u8]) -> Result<(Handle, Vec<Datum>)> {
    let common = matches!(table.primary, PrimaryKey::Common(_));
    let (_, handle) = table::decode_row_key(key, common)?;
    let row = row_v2::RowSlice::parse(value)?;
    let mut datums = Vec::with_capacity(table.columns.len());
    for (offset, column) in table.columns.iter().enumerate() {
        let datum = match (&table.primary, &handle) {
            (PrimaryKey::IntHandle(pk), Handle::Int(h)) if *pk == offset => Datum::Int(*h),
            _ => match row.search(column.id) {
                Some(row_v2::ColumnValue::Value(bytes)) => {
                    datum::from_row_v2(bytes, &table.field_type(offset))?
                }
                _ => Datum::Null,
            },
        };
        datums.push(datum);
    }
    Ok((handle, datums))
}

/// A unique index value of a clustered table: version 1 layout with the common handle.
fn common_handle_value(handle: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(handle.len())
        .map_err(|_| Error::InvalidValue("primary key too long".into()))?;
    let mut value = vec![0, INDEX_VERSION_FLAG, 1, COMMON_HANDLE_FLAG];
    value.extend_from_slice(&len.to_be_bytes());
    value.extend_from_slice(handle);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ColumnInfo;
    use basalt_chunk::codec::index::split_index_value;

    fn table(primary: PrimaryKey) -> TableInfo {
        let column = |id: i64, name: &str, ty: SqlType| ColumnInfo {
            id,
            name: name.into(),
            ty,
            not_null: id == 1,
            default: None,
            auto_increment: false,
        };
        TableInfo {
            id: 50,
            name: "t".into(),
            columns: vec![
                column(
                    1,
                    "id",
                    SqlType::Int {
                        bytes: 8,
                        unsigned: false,
                    },
                ),
                column(2, "name", SqlType::Varchar(4)),
            ],
            primary,
            indexes: vec![
                IndexInfo {
                    id: 1,
                    name: "n".into(),
                    columns: vec![1],
                    unique: false,
                },
                IndexInfo {
                    id: 2,
                    name: "u".into(),
                    columns: vec![1],
                    unique: true,
                },
            ],
        }
    }

    #[test]
    fn int_handle_rows_keep_the_key_column_out_of_the_value() {
        let t = table(PrimaryKey::IntHandle(0));
        let datums = vec![Datum::Int(7), Datum::Bytes(b"ab".to_vec())];
        let handle = handle_of(&t, &datums, None).unwrap();
        let row = encode_row(&t, &datums, &handle).unwrap();
        assert_eq!(row.key, table::encode_row_key(50, &Handle::Int(7)));
        let parsed = row_v2::RowSlice::parse(&row.value).unwrap();
        assert!(parsed.search(1).is_none());
        assert!(parsed.search(2).is_some());
        // Non-unique: handle appended, value '0'; unique: handle in the value.
        assert_eq!(row.indexes[0].1, b"0");
        assert!(!row.indexes[0].2);
        assert_eq!(
            split_index_value(&row.indexes[1].1).unwrap().int_handle,
            Some(7)
        );
        assert!(row.indexes[1].2);
    }

    #[test]
    fn clustered_rows_and_constraints() {
        let t = table(PrimaryKey::Common(vec![1]));
        let datums = vec![Datum::Int(7), Datum::Bytes(b"ab".to_vec())];
        let handle = handle_of(&t, &datums, None).unwrap();
        let row = encode_row(&t, &datums, &handle).unwrap();
        let Handle::Common(bytes) = &handle else {
            panic!("common")
        };
        let parts = split_index_value(&row.indexes[1].1).unwrap();
        assert_eq!(parts.common_handle, Some(bytes.as_slice()));
        assert!(normalize(&t, 0, Datum::Null).is_err());
        assert!(normalize(&t, 1, Datum::Bytes(b"abcde".to_vec())).is_err());
        assert!(normalize(&t, 1, Datum::Bytes("ééé".as_bytes().to_vec())).is_ok());
    }
}
