//! TiDB's chunk wire format (`EncodeType::TypeChunk`): how a batch of columns travels in
//! `tipb.Chunk.rows_data`. Columns follow one another; each is
//!
//! `u32 LE rows ‖ u32 LE null count ‖ null bitmap (ceil(rows / 8) bytes, bit set = not NULL,
//! LSB first; only when the null count is non-zero) ‖ offsets ((rows + 1) i64 LE, variable-width
//! types only) ‖ data`.
//!
//! Fixed widths: 8 bytes for integers, DOUBLE, TIME (i64 ns) and DATE/DATETIME/TIMESTAMP (packed
//! u64); 4 for FLOAT; 40 for DECIMAL. NULL rows of fixed-width columns still take their width.
//! (Facts from TiDB `util/chunk/codec.go` and TiKV `codec/chunk/column.rs`.)

use crate::codec::number;
use crate::column::{BytesColumn, Column, FixedColumn, FixedValue, LogicalRows, Validity};
use crate::error::{Error, Result};
use crate::types::{FieldType, FieldTypeTp};
use crate::{DateTime, Decimal, Duration, Json};

fn write_header(out: &mut Vec<u8>, validity: &Validity, rows: &LogicalRows) -> Result<()> {
    let count = u32::try_from(rows.len()).map_err(|_| Error::overflow("chunk rows", rows.len()))?;
    let nulls = rows.iter().filter(|&&row| !validity.is_valid(row)).count();
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(nulls as u32).to_le_bytes());
    if nulls > 0 {
        let start = out.len();
        out.resize(start + rows.len().div_ceil(8), 0);
        for (i, &row) in rows.iter().enumerate() {
            if validity.is_valid(row) {
                out[start + i / 8] |= 1 << (i % 8);
            }
        }
    }
    Ok(())
}

fn check_rows(len: usize, rows: &LogicalRows) -> Result<()> {
    match rows.iter().find(|&&row| row >= len) {
        Some(row) => Err(Error::overflow(
            "logical row",
            format!("{row} of a {len}-row column"),
        )),
        None => Ok(()),
    }
}

fn encode_fixed<T: FixedValue>(
    column: &FixedColumn<T>,
    rows: &LogicalRows,
    out: &mut Vec<u8>,
) -> Result<()> {
    check_rows(column.len(), rows)?;
    write_header(out, column.validity(), rows)?;
    out.reserve(rows.len() * T::WIDTH);
    let values = column.values();
    for &row in rows {
        values[row].write_chunk(out);
    }
    Ok(())
}

/// Appends column `column` of type `field_type`, rows `rows` in that order.
pub fn encode_column(
    column: &Column,
    field_type: &FieldType,
    rows: &LogicalRows,
    out: &mut Vec<u8>,
) -> Result<()> {
    match column {
        Column::Int(column) => encode_fixed(column, rows, out),
        Column::Real(column) if field_type.tp == FieldTypeTp::Float => {
            check_rows(column.len(), rows)?;
            write_header(out, column.validity(), rows)?;
            let values = column.values();
            for &row in rows {
                out.extend_from_slice(&(values[row] as f32).to_le_bytes());
            }
            Ok(())
        }
        Column::Real(column) => encode_fixed(column, rows, out),
        Column::DateTime(column) => encode_fixed(column, rows, out),
        Column::Duration(column) => encode_fixed(column, rows, out),
        Column::Decimal(column) => encode_fixed(column, rows, out),
        Column::Bytes(column) | Column::Json(column) | Column::Named(column) => {
            check_rows(column.len(), rows)?;
            write_header(out, column.validity(), rows)?;
            let mut end = 0i64;
            out.extend_from_slice(&end.to_le_bytes());
            for &row in rows {
                end += column.get(row).map_or(0, <[u8]>::len) as i64;
                out.extend_from_slice(&end.to_le_bytes());
            }
            for &row in rows {
                out.extend_from_slice(column.get(row).unwrap_or_default());
            }
            Ok(())
        }
    }
}

/// Encodes a batch as one chunk: each column with its type, rows `rows`.
pub fn encode_chunk(columns: &[(&Column, &FieldType)], rows: &LogicalRows) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (column, field_type) in columns {
        encode_column(column, field_type, rows, &mut out)?;
    }
    Ok(out)
}

struct Header<'a> {
    rows: usize,
    bitmap: Option<&'a [u8]>,
}

impl Header<'_> {
    fn is_valid(&self, row: usize) -> bool {
        self.bitmap.is_none_or(|bits| {
            bits.get(row / 8)
                .is_some_and(|byte| byte & (1 << (row % 8)) != 0)
        })
    }
}

fn read_header<'a>(input: &mut &'a [u8]) -> Result<Header<'a>> {
    let rows = number::read_u32_le(input, "chunk column length")? as usize;
    let nulls = number::read_u32_le(input, "chunk null count")? as usize;
    if nulls > rows {
        return Err(Error::corrupted(
            "chunk column",
            format!("{nulls} nulls in {rows} rows"),
        ));
    }
    let bitmap = if nulls > 0 {
        let bits = number::take(input, rows.div_ceil(8), "chunk null bitmap")?;
        // Count only the bits of real rows; padding bits past the last row do not matter.
        let valid = (0..rows)
            .filter(|row| {
                bits.get(row / 8)
                    .is_some_and(|byte| byte & (1 << (row % 8)) != 0)
            })
            .count();
        if rows - valid != nulls {
            return Err(Error::corrupted(
                "chunk null bitmap",
                format!(
                    "says {} nulls, header says {nulls}",
                    rows.saturating_sub(valid)
                ),
            ));
        }
        Some(bits)
    } else {
        None
    };
    Ok(Header { rows, bitmap })
}

fn decode_fixed<T: FixedValue>(
    input: &mut &[u8],
    header: &Header<'_>,
    read: impl Fn(&[u8]) -> Result<T>,
    width: usize,
) -> Result<FixedColumn<T>> {
    let data = number::take(
        input,
        header.rows.saturating_mul(width),
        "chunk column data",
    )?;
    let mut column = FixedColumn::with_capacity(header.rows);
    for (row, bytes) in data.chunks_exact(width).enumerate() {
        let value = read(bytes)?;
        column.push(header.is_valid(row).then_some(value));
    }
    Ok(column)
}

/// Reads one column of type `field_type`; refuses lengths the input cannot hold before
/// allocating for them.
pub fn decode_column(input: &mut &[u8], field_type: &FieldType) -> Result<Column> {
    let header = read_header(input)?;
    let column = Column::new(field_type, 0)?;
    Ok(match column {
        Column::Int(_) => Column::Int(decode_fixed(input, &header, i64::read_chunk, 8)?),
        Column::Real(_) if field_type.tp == FieldTypeTp::Float => Column::Real(decode_fixed(
            input,
            &header,
            |bytes| {
                let array: [u8; 4] = bytes
                    .try_into()
                    .map_err(|_| Error::corrupted("chunk float", "width"))?;
                Ok(f64::from(f32::from_le_bytes(array)))
            },
            4,
        )?),
        Column::Real(_) => Column::Real(decode_fixed(input, &header, f64::read_chunk, 8)?),
        Column::DateTime(_) => {
            Column::DateTime(decode_fixed(input, &header, DateTime::read_chunk, 8)?)
        }
        Column::Duration(_) => {
            let fsp = field_type.fsp();
            Column::Duration(decode_fixed(
                input,
                &header,
                |bytes| Duration::from_nanos(i64::read_chunk(bytes)?, fsp),
                8,
            )?)
        }
        Column::Decimal(_) => {
            Column::Decimal(decode_fixed(input, &header, Decimal::from_chunk_bytes, 40)?)
        }
        Column::Bytes(_) => Column::Bytes(decode_var(input, &header, |_| Ok(()))?),
        Column::Json(_) => Column::Json(decode_var(input, &header, |bytes| {
            Json::from_bytes(bytes).map(|_| ())
        })?),
        Column::Named(_) => Column::Named(decode_var(input, &header, |bytes| {
            if bytes.len() < 8 {
                return Err(Error::corrupted(
                    "chunk enum/set",
                    "element shorter than 8 bytes",
                ));
            }
            Ok(())
        })?),
    })
}

/// Reads offsets and data of a variable-width column, checking each element with `check`.
fn decode_var(
    input: &mut &[u8],
    header: &Header<'_>,
    check: impl Fn(&[u8]) -> Result<()>,
) -> Result<BytesColumn> {
    let offsets_len = header
        .rows
        .checked_add(1)
        .and_then(|n| n.checked_mul(8))
        .ok_or_else(|| Error::overflow("chunk column length", header.rows))?;
    let offsets = number::take(input, offsets_len, "chunk offsets")?;
    let offset = |i: usize| -> Result<usize> {
        let mut at = offsets.get(i * 8..i * 8 + 8).unwrap_or_default();
        let value = number::read_i64_le(&mut at, "chunk offset")?;
        usize::try_from(value)
            .map_err(|_| Error::corrupted("chunk offsets", format!("offset {value}")))
    };
    if offset(0)? != 0 {
        return Err(Error::corrupted("chunk offsets", "first offset is not 0"));
    }
    let total = offset(header.rows)?;
    let data = number::take(input, total, "chunk column data")?;
    let mut column = BytesColumn::with_capacity(header.rows);
    let mut start = 0;
    for row in 0..header.rows {
        let end = offset(row + 1)?;
        let value = data
            .get(start..end)
            .ok_or_else(|| Error::corrupted("chunk offsets", "not ascending"))?;
        let valid = header.is_valid(row);
        if valid {
            check(value)?;
        }
        column.push(valid.then_some(value));
        start = end;
    }
    Ok(column)
}

/// Reads a chunk of columns of `types`; the whole input must be consumed.
pub fn decode_chunk(bytes: &[u8], types: &[FieldType]) -> Result<Vec<Column>> {
    let mut input = bytes;
    let columns = types
        .iter()
        .map(|field_type| decode_column(&mut input, field_type))
        .collect::<Result<Vec<_>>>()?;
    if !input.is_empty() {
        return Err(Error::corrupted(
            "chunk",
            format!("{} bytes after the last column", input.len()),
        ));
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::datum::Datum;
    use crate::types::flag;
    use proptest::prelude::*;

    fn int_type() -> FieldType {
        FieldType::new(FieldTypeTp::LongLong)
    }

    #[test]
    fn golden_int_and_bytes_columns() {
        // Layout per TiDB util/chunk codec: [len u32][nulls u32][bitmap][offsets][data].
        let mut ints = FixedColumn::with_capacity(3);
        ints.push(Some(1i64));
        ints.push(None);
        ints.push(Some(-2));
        let mut out = Vec::new();
        encode_column(&Column::Int(ints), &int_type(), &[0, 1, 2], &mut out).unwrap();
        let mut expected = vec![3, 0, 0, 0, 1, 0, 0, 0, 0b101];
        expected.extend_from_slice(&1i64.to_le_bytes());
        expected.extend_from_slice(&0i64.to_le_bytes());
        expected.extend_from_slice(&(-2i64).to_le_bytes());
        assert_eq!(out, expected);

        let mut strings = BytesColumn::with_capacity(2);
        strings.push(Some(b"ab"));
        strings.push(Some(b"c"));
        let string_type = FieldType::new(FieldTypeTp::VarChar);
        let mut out = Vec::new();
        // Logical rows reorder without copying the column.
        encode_column(&Column::Bytes(strings), &string_type, &[1, 0], &mut out).unwrap();
        let mut expected = vec![2, 0, 0, 0, 0, 0, 0, 0];
        for end in [0i64, 1, 3] {
            expected.extend_from_slice(&end.to_le_bytes());
        }
        expected.extend_from_slice(b"cab");
        assert_eq!(out, expected);
        let decoded = decode_chunk(&out, &[string_type]).unwrap();
        let Column::Bytes(back) = &decoded[0] else {
            panic!("bytes column expected")
        };
        assert_eq!(
            (back.get(0), back.get(1)),
            (Some(&b"c"[..]), Some(&b"ab"[..]))
        );
    }

    #[test]
    fn time_and_duration_columns_round_trip() {
        let mut times = FixedColumn::with_capacity(2);
        let when = DateTime::parse("2024-02-29 13:14:15.5", crate::TimeType::DateTime, 1).unwrap();
        times.push(Some(when));
        times.push(None);
        let datetime = FieldType::new(FieldTypeTp::DateTime).with_decimal(1);
        let mut durations = FixedColumn::with_capacity(2);
        let span = Duration::parse("-12:34:56.25", 2).unwrap();
        durations.push(None);
        durations.push(Some(span));
        let time_type = FieldType::new(FieldTypeTp::Duration).with_decimal(2);
        let chunk = encode_chunk(
            &[
                (&Column::DateTime(times), &datetime),
                (&Column::Duration(durations), &time_type),
            ],
            &[0, 1],
        )
        .unwrap();
        // Two columns of 2 rows, one null each: 8 header + 1 bitmap + 16 data bytes apiece.
        assert_eq!(chunk.len(), 2 * (8 + 1 + 16));
        let back = decode_chunk(&chunk, &[datetime, time_type]).unwrap();
        let (Column::DateTime(t), Column::Duration(d)) = (&back[0], &back[1]) else {
            panic!("types")
        };
        assert_eq!(
            t.get(0).map(|v| v.to_string()),
            Some("2024-02-29 13:14:15.5".into())
        );
        assert_eq!(t.get(1), None);
        assert_eq!(d.get(1).map(|v| v.to_string()), Some("-12:34:56.25".into()));
    }

    #[test]
    fn decimal_json_and_enum_columns_round_trip() {
        let decimal_type = FieldType::new(FieldTypeTp::NewDecimal).with_decimal(2);
        let json_type = FieldType::new(FieldTypeTp::Json);
        let mut enum_type = FieldType::new(FieldTypeTp::Enum);
        enum_type.elems = vec!["red".into(), "green".into()];
        let mut decimals = Column::new(&decimal_type, 2).unwrap();
        let price: Decimal = "-12.34".parse().unwrap();
        decimals
            .push_datum(&Datum::Decimal(price), &decimal_type)
            .unwrap();
        decimals.push_datum(&Datum::Null, &decimal_type).unwrap();
        let mut docs = Column::new(&json_type, 2).unwrap();
        let doc = Json::parse(r#"{"k": [1, true]}"#).unwrap();
        docs.push_datum(&Datum::Json(doc.clone()), &json_type)
            .unwrap();
        docs.push_datum(&Datum::Null, &json_type).unwrap();
        let mut colors = Column::new(&enum_type, 2).unwrap();
        colors.push_datum(&Datum::Uint(2), &enum_type).unwrap();
        colors.push_datum(&Datum::Uint(0), &enum_type).unwrap();
        assert!(colors.push_datum(&Datum::Uint(3), &enum_type).is_err());
        let chunk = encode_chunk(
            &[
                (&decimals, &decimal_type),
                (&docs, &json_type),
                (&colors, &enum_type),
            ],
            &[0, 1],
        )
        .unwrap();
        let back = decode_chunk(&chunk, &[decimal_type, json_type, enum_type]).unwrap();
        let (Column::Decimal(d), Column::Json(j), Column::Named(e)) =
            (&back[0], &back[1], &back[2])
        else {
            panic!("types")
        };
        assert_eq!(d.get(0), Some(price));
        assert_eq!(d.get(1), None);
        assert_eq!(j.get(0).map(|b| Json::from_bytes(b).unwrap()), Some(doc));
        let mut green = 2u64.to_le_bytes().to_vec();
        green.extend_from_slice(b"green");
        assert_eq!(e.get(0), Some(green.as_slice()));
        assert_eq!(e.get(1), Some(&0u64.to_le_bytes()[..]));
    }

    #[test]
    fn float_columns_use_four_bytes() {
        let mut reals = FixedColumn::with_capacity(1);
        reals.push(Some(1.5f64));
        let float = FieldType::new(FieldTypeTp::Float);
        let mut out = Vec::new();
        encode_column(&Column::Real(reals), &float, &[0], &mut out).unwrap();
        assert_eq!(out.len(), 8 + 4);
        let back = decode_chunk(&out, &[float]).unwrap();
        let Column::Real(back) = &back[0] else {
            panic!("real column expected")
        };
        assert_eq!(back.get(0), Some(1.5));
    }

    #[test]
    fn corrupted_chunks_are_refused() {
        let ft = int_type();
        // A length no input can hold: refused, not allocated.
        assert!(decode_chunk(
            &[0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0],
            std::slice::from_ref(&ft)
        )
        .is_err());
        // More nulls than rows.
        assert!(decode_chunk(&[1, 0, 0, 0, 2, 0, 0, 0, 0], std::slice::from_ref(&ft)).is_err());
        // Bitmap disagreeing with the null count.
        let mut bad = vec![1, 0, 0, 0, 1, 0, 0, 0, 1];
        bad.extend_from_slice(&5i64.to_le_bytes());
        assert!(decode_chunk(&bad, std::slice::from_ref(&ft)).is_err());
        // Trailing bytes.
        let mut ok = vec![0, 0, 0, 0, 0, 0, 0, 0];
        assert!(decode_chunk(&ok, std::slice::from_ref(&ft)).is_ok());
        ok.push(1);
        assert!(decode_chunk(&ok, &[ft]).is_err());
        // Offsets that go backwards.
        let mut backwards = vec![2, 0, 0, 0, 0, 0, 0, 0];
        for end in [0i64, 2, 1] {
            backwards.extend_from_slice(&end.to_le_bytes());
        }
        backwards.extend_from_slice(b"ab");
        assert!(decode_chunk(&backwards, &[FieldType::new(FieldTypeTp::VarChar)]).is_err());
        let mut ints = FixedColumn::with_capacity(1);
        ints.push(Some(1i64));
        assert!(encode_column(&Column::Int(ints), &int_type(), &[3], &mut Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn columns_round_trip(ints in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..40),
                              strings in proptest::collection::vec(proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)), 0..40),
                              pick in proptest::collection::vec(any::<usize>(), 0..20)) {
            let mut int_column = FixedColumn::with_capacity(ints.len());
            for value in &ints { int_column.push(*value); }
            let mut byte_column = BytesColumn::with_capacity(strings.len());
            for value in &strings { byte_column.push(value.as_deref()); }
            let unsigned = int_type().with_flag(flag::UNSIGNED);
            let string_type = FieldType::new(FieldTypeTp::Blob);
            let int_rows: Vec<usize> = if ints.is_empty() { vec![] } else { pick.iter().map(|p| p % ints.len()).collect() };
            let mut out = Vec::new();
            encode_column(&Column::Int(int_column), &unsigned, &int_rows, &mut out).unwrap();
            let all: Vec<usize> = (0..strings.len()).collect();
            encode_column(&Column::Bytes(byte_column), &string_type, &all, &mut out).unwrap();
            let back = decode_chunk(&out, &[unsigned, string_type]).unwrap();
            let (Column::Int(back_ints), Column::Bytes(back_strings)) = (&back[0], &back[1]) else { panic!("types") };
            for (i, &row) in int_rows.iter().enumerate() { prop_assert_eq!(back_ints.get(i), ints[row]); }
            for (i, value) in strings.iter().enumerate() { prop_assert_eq!(back_strings.get(i), value.as_deref()); }
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let types = [int_type(), FieldType::new(FieldTypeTp::VarChar), FieldType::new(FieldTypeTp::Float)];
            let _ = decode_chunk(&bytes, &types);
            let _ = decode_chunk(&bytes, &types[1..]);
        }
    }
}
