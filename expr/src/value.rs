//! What evaluation passes around: a constant, a column of the input batch seen through the
//! batch's logical rows, or a dense column computed by an earlier function. Functions read their
//! arguments through typed views chosen once per call, then loop over plain values.

use basalt_chunk::codec::datum::Datum;
use basalt_chunk::column::{BytesColumn, Column, FixedColumn, FixedValue, Validity};
use basalt_chunk::{DateTime, Decimal, Duration};

use crate::error::{Error, Result};

/// One argument of a function call, for the rows being evaluated.
#[derive(Debug)]
pub enum StackValue<'a> {
    /// The same value for every row.
    Const(&'a Datum),
    /// An input column; row `i` of the evaluation is physical row `rows[i]`.
    Input(&'a Column, &'a [usize]),
    /// A computed column; row `i` of the evaluation is row `i`.
    Owned(Column),
}

/// A typed view of a fixed-width argument.
pub enum FixedView<'a, T: FixedValue> {
    /// A constant (`None`: NULL).
    Const(Option<T>),
    /// A column and the row mapping (`None`: identity).
    Column(&'a FixedColumn<T>, Option<&'a [usize]>),
}

impl<T: FixedValue> FixedView<'_, T> {
    /// The value of evaluation row `i` (`None`: NULL).
    #[inline]
    pub fn get(&self, i: usize) -> Option<T> {
        match self {
            FixedView::Const(value) => *value,
            FixedView::Column(column, None) => column.get(i),
            FixedView::Column(column, Some(rows)) => column.get(rows[i]),
        }
    }

    /// Whether the view is a NULL constant (every row NULL).
    pub fn is_null_const(&self) -> bool {
        matches!(self, FixedView::Const(None))
    }

    /// The values and validity when the view is a column read in order.
    pub fn dense(&self) -> Option<(&[T], &Validity)> {
        match self {
            FixedView::Column(column, None) => Some((column.values(), column.validity())),
            _ => None,
        }
    }
}

/// Applies an infallible `f` to two fixed-width arguments over `rows` rows with plain loops:
/// when both are columns read in order (validity combined a byte at a time) or one is a
/// non-NULL constant. `None` when no fast path applies; the caller then goes row by row.
pub fn map2_dense<A: FixedValue, B: FixedValue, R: FixedValue>(
    a: &FixedView<'_, A>,
    b: &FixedView<'_, B>,
    rows: usize,
    f: impl Fn(A, B) -> R,
) -> Option<Result<FixedColumn<R>>> {
    let (values, validity) = match (a.dense(), b.dense(), a, b) {
        (Some((xs, xv)), Some((ys, yv)), _, _) if xs.len() == rows && ys.len() == rows => {
            let values: Vec<R> = xs.iter().zip(ys).map(|(&x, &y)| f(x, y)).collect();
            (values, xv.and(yv))
        }
        (Some((xs, xv)), None, _, FixedView::Const(Some(y))) if xs.len() == rows => {
            (xs.iter().map(|&x| f(x, *y)).collect(), xv.clone())
        }
        (None, Some((ys, yv)), FixedView::Const(Some(x)), _) if ys.len() == rows => {
            (ys.iter().map(|&y| f(*x, y)).collect(), yv.clone())
        }
        _ => return None,
    };
    Some(FixedColumn::from_parts(values, validity).map_err(Error::from))
}

/// A typed view of a byte-string argument.
pub enum BytesView<'a> {
    /// A constant (`None`: NULL).
    Const(Option<&'a [u8]>),
    /// A column and the row mapping (`None`: identity).
    Column(&'a BytesColumn, Option<&'a [usize]>),
}

impl<'a> BytesView<'a> {
    /// The value of evaluation row `i` (`None`: NULL).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        match self {
            BytesView::Const(value) => *value,
            BytesView::Column(column, None) => column.get(i),
            BytesView::Column(column, Some(rows)) => column.get(rows[i]),
        }
    }
}

/// Whether `rows` is `0..len` (every physical row, in order), so a column can be read directly.
fn is_identity(rows: &[usize], len: usize) -> bool {
    rows.len() == len && rows.iter().enumerate().all(|(i, &row)| i == row)
}

/// A typed view of a JSON argument: each row's chunk element (type code + binary value).
pub enum JsonView<'a> {
    /// A constant (`None`: NULL).
    Const(Option<Vec<u8>>),
    /// A column and the row mapping (`None`: identity).
    Column(&'a BytesColumn, Option<&'a [usize]>),
}

impl JsonView<'_> {
    /// The value of evaluation row `i` (`None`: NULL).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            JsonView::Const(value) => value.as_deref(),
            JsonView::Column(column, None) => column.get(i),
            JsonView::Column(column, Some(rows)) => column.get(rows[i]),
        }
    }
}

fn mismatch(what: &str, got: &dyn std::fmt::Debug) -> Error {
    Error::InvalidExpr(format!("expected a {what} argument, got {got:?}"))
}

macro_rules! fixed_view {
    ($name:ident, $type:ty, $variant:ident, $what:literal, |$d:ident| $from:expr) => {
        /// A typed view of the argument.
        pub fn $name(&self) -> Result<FixedView<'_, $type>> {
            Ok(match self {
                StackValue::Const(Datum::Null) => FixedView::Const(None),
                StackValue::Const($d) => {
                    FixedView::Const(Some($from.ok_or_else(|| mismatch($what, $d))?))
                }
                StackValue::Input(Column::$variant(column), rows) => {
                    FixedView::Column(column, (!is_identity(rows, column.len())).then_some(*rows))
                }
                StackValue::Owned(Column::$variant(column)) => FixedView::Column(column, None),
                other => return Err(mismatch($what, other)),
            })
        }
    };
}

impl StackValue<'_> {
    fixed_view!(int, i64, Int, "int", |d| match d {
        Datum::Int(v) => Some(*v),
        Datum::Uint(v) => Some(*v as i64),
        _ => None,
    });
    fixed_view!(real, f64, Real, "real", |d| match d {
        Datum::Real(v) => Some(*v),
        _ => None,
    });
    fixed_view!(decimal, Decimal, Decimal, "decimal", |d| match d {
        Datum::Decimal(v) => Some(*v),
        _ => None,
    });
    fixed_view!(time, DateTime, DateTime, "time", |d| match d {
        Datum::Time(v) => Some(*v),
        _ => None,
    });
    fixed_view!(duration, Duration, Duration, "duration", |d| match d {
        Datum::Duration(v) => Some(*v),
        _ => None,
    });

    /// A JSON view of the argument.
    pub fn json(&self) -> Result<JsonView<'_>> {
        Ok(match self {
            StackValue::Const(Datum::Null) => JsonView::Const(None),
            StackValue::Const(Datum::Json(json)) => JsonView::Const(Some(json.to_bytes())),
            StackValue::Input(Column::Json(column), rows) => JsonView::Column(column, Some(rows)),
            StackValue::Owned(Column::Json(column)) => JsonView::Column(column, None),
            other => return Err(mismatch("json", other)),
        })
    }

    /// A byte-string view of the argument.
    pub fn bytes(&self) -> Result<BytesView<'_>> {
        Ok(match self {
            StackValue::Const(Datum::Null) => BytesView::Const(None),
            StackValue::Const(Datum::Bytes(value)) => BytesView::Const(Some(value)),
            StackValue::Input(Column::Bytes(column), rows) => BytesView::Column(column, Some(rows)),
            StackValue::Owned(Column::Bytes(column)) => BytesView::Column(column, None),
            other => return Err(mismatch("string", other)),
        })
    }
}

/// Builds an int result column of `rows` values from `f(i)`.
pub fn collect_int(rows: usize, mut f: impl FnMut(usize) -> Result<Option<i64>>) -> Result<Column> {
    let mut column = FixedColumn::with_capacity(rows);
    for i in 0..rows {
        column.push(f(i)?);
    }
    Ok(Column::Int(column))
}

/// Builds a real result column of `rows` values from `f(i)`.
pub fn collect_real(
    rows: usize,
    mut f: impl FnMut(usize) -> Result<Option<f64>>,
) -> Result<Column> {
    let mut column = FixedColumn::with_capacity(rows);
    for i in 0..rows {
        column.push(f(i)?);
    }
    Ok(Column::Real(column))
}

/// Builds a decimal result column of `rows` values from `f(i)`.
pub fn collect_decimal(
    rows: usize,
    mut f: impl FnMut(usize) -> Result<Option<Decimal>>,
) -> Result<Column> {
    let mut column = FixedColumn::with_capacity(rows);
    for i in 0..rows {
        column.push(f(i)?);
    }
    Ok(Column::Decimal(column))
}
