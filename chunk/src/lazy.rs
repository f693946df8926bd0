//! Rows kept as their raw bytes until a column is needed: a scan collects row values, and the
//! columns an expression or the output actually uses are decoded, each once, for all rows.

use crate::codec::datum::{self, Datum};
use crate::codec::row_v2::{self, ColumnValue, RowSlice};
use crate::column::Column;
use crate::decimal::{Decimal, ScaledDecimals};
use crate::error::{Error, Result};
use crate::time::DateTime;
use crate::types::{FieldType, FieldTypeTp};

/// Row values back to back.
#[derive(Debug, Clone, Default)]
pub struct RawRows {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl RawRows {
    /// Room for `rows` rows of `bytes` bytes in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> RawRows {
        RawRows {
            data: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(rows),
        }
    }

    /// Bytes of all rows.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Appends one row's value bytes.
    pub fn push(&mut self, row: &[u8]) {
        self.data.extend_from_slice(row);
        self.ends.push(self.data.len());
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Row `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let start = if index == 0 {
            0
        } else {
            *self.ends.get(index - 1)?
        };
        self.data.get(start..*self.ends.get(index)?)
    }
}

/// What the decoder needs to know of a stored column.
#[derive(Debug, Clone)]
pub struct ColumnSchema {
    /// The column id in rows.
    pub column_id: i64,
    /// Its type.
    pub field_type: FieldType,
    /// The value of rows written before the column existed (`Datum::Null` if none).
    pub default: Datum,
}

/// A batch of raw rows with columns decoded on first use.
#[derive(Debug, Clone)]
pub struct LazyBatch {
    rows: RawRows,
    schema: Vec<ColumnSchema>,
    decoded: Vec<Option<Column>>,
}

impl LazyBatch {
    /// A batch over `rows` (row v2 or old-format values) with columns `schema`.
    pub fn new(rows: RawRows, schema: Vec<ColumnSchema>) -> LazyBatch {
        let decoded = vec![None; schema.len()];
        LazyBatch {
            rows,
            schema,
            decoded,
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Column `index` of the schema, decoded for every row on first call.
    pub fn column(&mut self, index: usize) -> Result<&Column> {
        let schema = self
            .schema
            .get(index)
            .ok_or_else(|| Error::overflow("column index", index))?;
        if self.decoded[index].is_none() {
            self.decoded[index] = Some(decode_column(&self.rows, schema)?);
        }
        self.decoded[index]
            .as_ref()
            .ok_or_else(|| Error::corrupted("lazy column", "not decoded"))
    }
}

/// Decodes every column of `schema` for every row, reading each row's header once.
pub fn decode_columns(rows: &RawRows, schema: &[ColumnSchema]) -> Result<Vec<Column>> {
    decode_columns_of(rows, schema, None)
}

/// Decodes the columns of `schema` for the rows marked in `wanted` (all rows when `None`);
/// the other rows are NULL placeholders, so the columns keep every row's position.
pub fn decode_columns_of(
    rows: &RawRows,
    schema: &[ColumnSchema],
    wanted: Option<&[bool]>,
) -> Result<Vec<Column>> {
    Ok(decode_columns_and_scaled(rows, schema, wanted, &[])?.0)
}

/// `decode_columns_of`, and in the same pass over each row the decimal columns of `scaled` as
/// `decode_scaled_decimals` reads them, for the wanted rows in row order.
pub fn decode_columns_and_scaled(
    rows: &RawRows,
    schema: &[ColumnSchema],
    wanted: Option<&[bool]>,
    scaled: &[ColumnSchema],
) -> Result<(Vec<Column>, Vec<Option<ScaledDecimals>>)> {
    let mut columns = schema
        .iter()
        .map(|column| Column::new(&column.field_type, rows.len()))
        .collect::<Result<Vec<_>>>()?;
    let mut scaled_columns = scaled_columns_for(scaled, rows.len());
    let mut hints = vec![0usize; schema.len()];
    let mut scaled_hints = vec![0usize; scaled.len()];
    for index in 0..rows.len() {
        if wanted.is_some_and(|wanted| !wanted.get(index).copied().unwrap_or(false)) {
            for column in columns.iter_mut() {
                column.push_null();
            }
            continue;
        }
        let row = rows.get(index).unwrap_or_default();
        if row_v2::is_row_v2(row) {
            let slice = RowSlice::parse(row)?;
            for ((column, schema), hint) in columns.iter_mut().zip(schema).zip(&mut hints) {
                match slice.search_hinted(schema.column_id, hint) {
                    Some(ColumnValue::Value(bytes)) => push_v2(column, bytes, &schema.field_type)?,
                    Some(ColumnValue::Null) => {
                        column.push_datum(&Datum::Null, &schema.field_type)?
                    }
                    None => column.push_datum(&schema.default, &schema.field_type)?,
                }
            }
            push_scaled(&slice, scaled, &mut scaled_columns, &mut scaled_hints);
        } else {
            scaled_columns.iter_mut().for_each(|column| *column = None);
            let mut values = datum::decode_old_row(row)?;
            for (column, schema) in columns.iter_mut().zip(schema) {
                let datum = match values.iter().position(|(id, _)| *id == schema.column_id) {
                    Some(at) => datum::typed(values.swap_remove(at).1, &schema.field_type)?,
                    None => schema.default.clone(),
                };
                column.push_datum(&datum, &schema.field_type)?;
            }
        }
    }
    Ok((columns, scaled_columns))
}

/// Empty scaled columns for the decimal columns of `schema` (`None` for other types).
fn scaled_columns_for(schema: &[ColumnSchema], rows: usize) -> Vec<Option<ScaledDecimals>> {
    schema
        .iter()
        .map(|column| {
            (column.field_type.tp == FieldTypeTp::NewDecimal)
                .then(|| ScaledDecimals::with_capacity(rows))
        })
        .collect()
}

/// Appends one row's values of the `schema` columns to `columns`; a column that cannot be
/// read as scaled integers becomes `None`.
fn push_scaled(
    slice: &RowSlice<'_>,
    schema: &[ColumnSchema],
    columns: &mut [Option<ScaledDecimals>],
    hints: &mut [usize],
) {
    for ((scaled, column), hint) in columns.iter_mut().zip(schema).zip(hints) {
        let Some(values) = scaled else {
            continue;
        };
        let pushed = match slice.search_hinted(column.column_id, hint) {
            Some(ColumnValue::Value(bytes)) => {
                Decimal::scaled_from_payload(bytes).and_then(|value| values.push(Some(value)))
            }
            Some(ColumnValue::Null) => values.push(None),
            None => None,
        };
        if pushed.is_none() {
            *scaled = None;
        }
    }
}

/// Appends a row v2 value of `field_type` to `column`: the common kinds straight into the
/// column (strings without a copy into a `Datum`), the rest through `datum::from_row_v2`.
#[inline]
fn push_v2(column: &mut Column, bytes: &[u8], field_type: &FieldType) -> Result<()> {
    match (column, field_type.tp) {
        (
            Column::Int(c),
            FieldTypeTp::Tiny
            | FieldTypeTp::Short
            | FieldTypeTp::Int24
            | FieldTypeTp::Long
            | FieldTypeTp::LongLong,
        ) => c.push(Some(if field_type.is_unsigned() {
            row_v2::decode_u64(bytes)? as i64
        } else {
            row_v2::decode_i64(bytes)?
        })),
        (Column::Bytes(c), tp) if tp.is_string_like() => c.push(Some(bytes)),
        (Column::Decimal(c), FieldTypeTp::NewDecimal) => {
            let mut input = bytes;
            let decimal = Decimal::decode_datum_payload(&mut input)?;
            if !input.is_empty() {
                return Err(Error::corrupted(
                    "row v2 decimal",
                    format!("{} bytes after the value", input.len()),
                ));
            }
            c.push(Some(decimal));
        }
        (
            Column::DateTime(c),
            FieldTypeTp::Date
            | FieldTypeTp::NewDate
            | FieldTypeTp::DateTime
            | FieldTypeTp::Timestamp,
        ) => c.push(Some(DateTime::from_packed_u64(
            row_v2::decode_u64(bytes)?,
            datum::time_type(field_type.tp),
            field_type.fsp(),
        )?)),
        (column, _) => column.push_datum(&datum::from_row_v2(bytes, field_type)?, field_type)?,
    }
    Ok(())
}

/// The decimal columns of `schema` for the rows `logical_rows`, read from row v2 bytes
/// straight into scaled integers (`Decimal::scaled_from_payload`), one parse of each row for
/// all of them. A column comes back `None` unless every value is one of at most 38 digits and
/// all have one scale (another type, an old-format row, a row without the column, mixed
/// scales, bad bytes): decode it as usual then.
pub fn decode_scaled_decimals(
    rows: &RawRows,
    schema: &[ColumnSchema],
    logical_rows: &[usize],
) -> Vec<Option<ScaledDecimals>> {
    let mut columns = scaled_columns_for(schema, logical_rows.len());
    let mut hints = vec![0usize; schema.len()];
    for &index in logical_rows {
        let slice = rows
            .get(index)
            .filter(|row| row_v2::is_row_v2(row))
            .and_then(|row| RowSlice::parse(row).ok());
        let Some(slice) = slice else {
            return schema.iter().map(|_| None).collect();
        };
        push_scaled(&slice, schema, &mut columns, &mut hints);
    }
    columns
}

/// Decodes one column of every row.
pub fn decode_column(rows: &RawRows, schema: &ColumnSchema) -> Result<Column> {
    let mut column = Column::new(&schema.field_type, rows.len())?;
    for index in 0..rows.len() {
        let row = rows.get(index).unwrap_or_default();
        if row_v2::is_row_v2(row) {
            let slice = RowSlice::parse(row)?;
            match slice.search(schema.column_id) {
                Some(ColumnValue::Value(bytes)) => column.push_datum(
                    &datum::from_row_v2(bytes, &schema.field_type)?,
                    &schema.field_type,
                )?,
                Some(ColumnValue::Null) => column.push_datum(&Datum::Null, &schema.field_type)?,
                None => column.push_datum(&schema.default, &schema.field_type)?,
            }
        } else {
            let found = datum::decode_old_row(row)?
                .into_iter()
                .find(|(id, _)| *id == schema.column_id);
            match found {
                Some((_, value)) => column.push_datum(
                    &datum::typed(value, &schema.field_type)?,
                    &schema.field_type,
                )?,
                None => column.push_datum(&schema.default, &schema.field_type)?,
            }
        }
    }
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::datum::{encode_row_default, to_row_v2};
    use crate::types::FieldTypeTp;

    #[test]
    fn columns_decode_from_v2_and_old_rows_with_defaults() {
        let int_type = FieldType::new(FieldTypeTp::LongLong);
        let text_type = FieldType::new(FieldTypeTp::VarChar);
        let mut rows = RawRows::default();
        // Row 0: v2 with both columns; row 1: v2 with column 2 NULL and column 3 absent;
        // row 2: old format with only column 1.
        let v = |d: Datum| to_row_v2(&d).unwrap().unwrap();
        let (one, abc) = (v(Datum::Int(1)), v(Datum::Bytes(b"abc".to_vec())));
        rows.push(&row_v2::encode_row(&[(1, Some(&one)), (2, Some(&abc))]).unwrap());
        rows.push(&row_v2::encode_row(&[(1, Some(&one)), (2, None)]).unwrap());
        let mut old = Vec::new();
        encode_row_default(&mut old, &[Datum::Int(1), Datum::Int(7)]).unwrap();
        rows.push(&old);
        let schema = vec![
            ColumnSchema {
                column_id: 1,
                field_type: int_type,
                default: Datum::Null,
            },
            ColumnSchema {
                column_id: 2,
                field_type: text_type,
                default: Datum::Bytes(b"dflt".to_vec()),
            },
        ];
        let mut batch = LazyBatch::new(rows, schema);
        let Column::Bytes(texts) = batch.column(1).unwrap() else {
            panic!("bytes column")
        };
        assert_eq!(
            (texts.get(0), texts.get(1), texts.get(2)),
            (Some(&b"abc"[..]), None, Some(&b"dflt"[..]))
        );
        let Column::Int(ints) = batch.column(0).unwrap() else {
            panic!("int column")
        };
        assert_eq!(
            (ints.get(0), ints.get(1), ints.get(2)),
            (Some(1), Some(1), Some(7))
        );
        assert!(batch.column(2).is_err());
    }

    #[test]
    fn corrupted_rows_fail_the_column() {
        let mut rows = RawRows::default();
        rows.push(&[128, 0, 1, 0]);
        let schema = vec![ColumnSchema {
            column_id: 1,
            field_type: FieldType::new(FieldTypeTp::LongLong),
            default: Datum::Null,
        }];
        assert!(LazyBatch::new(rows, schema).column(0).is_err());
    }
}
