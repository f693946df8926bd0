//! Helpers shared by executors: appending selected rows of a column to another, and comparing
//! rows of a column for sorting.

use std::cmp::Ordering;

use basalt_chunk::collation::Collation;
use basalt_chunk::column::{BytesColumn, Column, FixedColumn, FixedValue};
use basalt_chunk::types::FieldType;

use crate::error::{Error, Result};

fn append_fixed<T: FixedValue>(to: &mut FixedColumn<T>, from: &FixedColumn<T>, rows: &[usize]) {
    for &row in rows {
        to.push(from.get(row));
    }
}

fn append_bytes(to: &mut BytesColumn, from: &BytesColumn, rows: &[usize]) {
    for &row in rows {
        to.push(from.get(row));
    }
}

/// Appends rows `rows` of `from` to `to`; both must be of the same kind.
pub fn append_rows(to: &mut Column, from: &Column, rows: &[usize]) -> Result<()> {
    match (to, from) {
        (Column::Int(to), Column::Int(from)) => append_fixed(to, from, rows),
        (Column::Real(to), Column::Real(from)) => append_fixed(to, from, rows),
        (Column::Decimal(to), Column::Decimal(from)) => append_fixed(to, from, rows),
        (Column::DateTime(to), Column::DateTime(from)) => append_fixed(to, from, rows),
        (Column::Duration(to), Column::Duration(from)) => append_fixed(to, from, rows),
        (Column::Bytes(to), Column::Bytes(from))
        | (Column::Json(to), Column::Json(from))
        | (Column::Named(to), Column::Named(from)) => append_bytes(to, from, rows),
        (to, from) => {
            return Err(Error::InvalidDag(format!(
                "cannot append {from:?} rows to {to:?}"
            )))
        }
    }
    Ok(())
}

/// Compares row `a` and row `b` of `column` (NULL first), strings under `field_type`'s
/// collation, integers by the UNSIGNED flag.
pub fn compare_column_rows(
    column: &Column,
    field_type: &FieldType,
    a: usize,
    b: usize,
) -> Result<Ordering> {
    compare_rows(column, a, column, b, field_type)
}

/// Compares row `a` of `left` with row `b` of `right`, two columns of the same kind and of
/// type `field_type`, as `compare_column_rows` does.
pub fn compare_rows(
    left: &Column,
    a: usize,
    right: &Column,
    b: usize,
    field_type: &FieldType,
) -> Result<Ordering> {
    fn nulls_first<T>(x: Option<T>, y: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
        match (x, y) {
            (Some(x), Some(y)) => cmp(x, y),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        }
    }
    Ok(match (left, right) {
        (Column::Int(l), Column::Int(r)) => {
            if field_type.is_unsigned() {
                nulls_first(l.get(a), r.get(b), |x, y| (x as u64).cmp(&(y as u64)))
            } else {
                nulls_first(l.get(a), r.get(b), |x, y| x.cmp(&y))
            }
        }
        (Column::Real(l), Column::Real(r)) => {
            nulls_first(l.get(a), r.get(b), |x, y| x.total_cmp(&y))
        }
        (Column::Decimal(l), Column::Decimal(r)) => {
            nulls_first(l.get(a), r.get(b), |x, y| x.cmp(&y))
        }
        (Column::DateTime(l), Column::DateTime(r)) => {
            nulls_first(l.get(a), r.get(b), |x, y| x.cmp(&y))
        }
        (Column::Duration(l), Column::Duration(r)) => {
            nulls_first(l.get(a), r.get(b), |x, y| x.cmp(&y))
        }
        (Column::Bytes(l), Column::Bytes(r)) => {
            let collation = Collation::from_i32(field_type.collate).unwrap_or(Collation::Binary);
            match (l.get(a), r.get(b)) {
                (Some(x), Some(y)) => collation.compare(x, y)?,
                (x, y) => nulls_first(x, y, |_, _| Ordering::Equal),
            }
        }
        (Column::Json(l), Column::Json(r)) | (Column::Named(l), Column::Named(r)) => {
            nulls_first(l.get(a), r.get(b), |x, y| x.cmp(y))
        }
        _ => {
            return Err(Error::InvalidDag(
                "cannot compare rows of columns of different kinds".into(),
            ))
        }
    })
}

/// An empty column of the same kind as `column`.
pub fn empty_like(column: &Column) -> Column {
    match column {
        Column::Int(_) => Column::Int(FixedColumn::default()),
        Column::Real(_) => Column::Real(FixedColumn::default()),
        Column::Decimal(_) => Column::Decimal(FixedColumn::default()),
        Column::DateTime(_) => Column::DateTime(FixedColumn::default()),
        Column::Duration(_) => Column::Duration(FixedColumn::default()),
        Column::Bytes(_) => Column::Bytes(BytesColumn::default()),
        Column::Json(_) => Column::Json(BytesColumn::default()),
        Column::Named(_) => Column::Named(BytesColumn::default()),
    }
}

/// Row `row` of `column` as a datum of `field_type`.
pub fn datum_at(
    column: &Column,
    field_type: &FieldType,
    row: usize,
) -> Result<basalt_chunk::codec::datum::Datum> {
    use basalt_chunk::codec::datum::Datum;
    Ok(match column {
        Column::Int(c) => match c.get(row) {
            Some(v) if field_type.is_unsigned() => Datum::Uint(v as u64),
            Some(v) => Datum::Int(v),
            None => Datum::Null,
        },
        Column::Real(c) => c.get(row).map_or(Datum::Null, Datum::Real),
        Column::Decimal(c) => c.get(row).map_or(Datum::Null, Datum::Decimal),
        Column::DateTime(c) => c.get(row).map_or(Datum::Null, Datum::Time),
        Column::Duration(c) => c.get(row).map_or(Datum::Null, Datum::Duration),
        Column::Bytes(c) => c.get(row).map_or(Datum::Null, |v| Datum::Bytes(v.to_vec())),
        Column::Json(c) => match c.get(row) {
            Some(v) => Datum::Json(basalt_chunk::Json::from_bytes(v)?),
            None => Datum::Null,
        },
        // ENUM/SET travel as their u64 value in the datum encoding.
        Column::Named(c) => match c.get(row) {
            Some(v) => {
                let mut value = [0u8; 8];
                value.copy_from_slice(
                    v.get(..8)
                        .ok_or_else(|| Error::InvalidDag("short enum element".into()))?,
                );
                Datum::Uint(u64::from_le_bytes(value))
            }
            None => Datum::Null,
        },
    })
}
