//! Values between the coprocessor's columns (TiDB chunk format, decoded by `basalt-chunk`) and
//! DataFusion's Arrow arrays, and from Arrow back to datums for writes.

use std::sync::Arc;

use basalt_chunk::codec::datum::Datum;
use basalt_chunk::column::{Column, Validity};
use basalt_chunk::decimal::RoundMode;
use basalt_chunk::{DateTime, Decimal, TimeType};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    StringBuilder, TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float64Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, UInt64Type,
};

use crate::error::{Error, Result};
use crate::types::SqlType;

/// Days from 0000-03-01-based civil counting to 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A date's days since 1970-01-01; `None` for dates with zero parts (`0000-00-00`).
pub fn date_to_days(t: &DateTime) -> Option<i32> {
    if t.month() == 0 || t.day() == 0 {
        return None;
    }
    i32::try_from(days_from_civil(
        i64::from(t.year()),
        i64::from(t.month()),
        i64::from(t.day()),
    ))
    .ok()
}

/// A datetime's microseconds since 1970-01-01 00:00:00 (no zone).
pub fn datetime_to_micros(t: &DateTime) -> Option<i64> {
    let days = i64::from(date_to_days(t)?);
    let seconds = days * 86_400
        + i64::from(t.hour()) * 3600
        + i64::from(t.minute()) * 60
        + i64::from(t.second());
    Some(seconds * 1_000_000 + i64::from(t.micro()))
}

/// The DATE of `days` since the epoch.
pub fn days_to_date(days: i32) -> Result<DateTime> {
    let (year, month, day) = civil_from_days(i64::from(days));
    let year = u32::try_from(year)
        .ok()
        .filter(|y| *y <= 9999)
        .ok_or_else(|| Error::InvalidValue(format!("date out of range: {days} days")))?;
    Ok(DateTime::new(
        year,
        month,
        day,
        0,
        0,
        0,
        0,
        TimeType::Date,
        0,
    )?)
}

/// The DATETIME/TIMESTAMP of `micros` since the epoch.
pub fn micros_to_datetime(micros: i64, tp: TimeType, fsp: u8) -> Result<DateTime> {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let (year, month, day) = civil_from_days(days);
    let year = u32::try_from(year)
        .ok()
        .filter(|y| *y <= 9999)
        .ok_or_else(|| Error::InvalidValue(format!("datetime out of range: {micros} µs")))?;
    let seconds = rest / 1_000_000;
    let t = DateTime::new(
        year,
        month,
        day,
        (seconds / 3600) as u32,
        (seconds / 60 % 60) as u32,
        (seconds % 60) as u32,
        (rest % 1_000_000) as u32,
        tp,
        6,
    )?;
    Ok(t.round_frac(fsp as i8)?)
}

/// A decimal as Arrow's scaled i128 at `scale` (rounded half up).
pub fn decimal_to_i128(d: &Decimal, scale: u8) -> Result<i128> {
    let rounded = d.round(scale as i8, RoundMode::HalfUp)?;
    let text = rounded.to_string();
    let digits: String = text.chars().filter(|c| *c != '.').collect();
    let mut value: i128 = digits
        .trim_start_matches('-')
        .parse()
        .map_err(|_| Error::InvalidValue(format!("decimal {text} does not fit DECIMAL(38)")))?;
    let shown_frac = text.split('.').nth(1).map_or(0, str::len);
    for _ in shown_frac..scale as usize {
        value = value
            .checked_mul(10)
            .ok_or_else(|| Error::InvalidValue(format!("decimal {text} out of range")))?;
    }
    Ok(if text.starts_with('-') { -value } else { value })
}

/// Arrow's scaled i128 as a decimal.
pub fn i128_to_decimal(value: i128, scale: u8) -> Result<Decimal> {
    let negative = value < 0;
    let digits = value.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    let text = match (negative, scale) {
        (false, 0) => int.to_string(),
        (true, 0) => format!("-{int}"),
        (false, _) => format!("{int}.{frac}"),
        (true, _) => format!("-{int}.{frac}"),
    };
    Ok(text.parse()?)
}

fn nulls(validity: &Validity) -> Option<NullBuffer> {
    if validity.null_count() == 0 {
        return None;
    }
    let bits = BooleanBuffer::new(Buffer::from(validity.as_bytes()), 0, validity.len());
    Some(NullBuffer::new(bits))
}

/// The Arrow array of `target` type of a decoded chunk column.
pub fn column_to_arrow(column: &Column, target: &DataType) -> Result<ArrayRef> {
    let mismatch = || Error::InvalidValue(format!("a {target} column came back as another type"));
    Ok(match (target.clone(), column) {
        (DataType::Int64, Column::Int(c)) => Arc::new(Int64Array::new(
            c.values().to_vec().into(),
            nulls(c.validity()),
        )),
        (DataType::UInt64, Column::Int(c)) => Arc::new(UInt64Array::new(
            c.values().iter().map(|v| *v as u64).collect(),
            nulls(c.validity()),
        )),
        (DataType::Float64, Column::Real(c)) => Arc::new(Float64Array::new(
            c.values().to_vec().into(),
            nulls(c.validity()),
        )),
        (DataType::Float64, Column::Decimal(c)) => Arc::new(
            (0..c.len())
                .map(|i| c.get(i).map(|d| d.as_f64()))
                .collect::<Float64Array>(),
        ),
        (DataType::Int64, Column::Decimal(c)) => Arc::new(
            (0..c.len())
                .map(|i| c.get(i).map(|d| d.as_i64()).transpose())
                .collect::<std::result::Result<Int64Array, _>>()?,
        ),
        (DataType::Decimal128(p, s), Column::Decimal(c)) => {
            let values = (0..c.len())
                .map(|i| c.get(i).map(|d| decimal_to_i128(&d, s as u8)).transpose())
                .collect::<Result<Vec<Option<i128>>>>()?;
            Arc::new(
                Decimal128Array::from(values)
                    .with_precision_and_scale(p, s)
                    .map_err(datafusion::error::DataFusionError::from)?,
            )
        }
        (DataType::Utf8, Column::Bytes(c)) => {
            let mut builder = StringBuilder::with_capacity(c.len(), c.len() * 8);
            for i in 0..c.len() {
                match c.get(i) {
                    Some(bytes) => builder.append_value(String::from_utf8_lossy(bytes)),
                    None => builder.append_null(),
                }
            }
            Arc::new(builder.finish())
        }
        (DataType::Date32, Column::DateTime(c)) => Arc::new(
            (0..c.len())
                .map(|i| c.get(i).and_then(|t| date_to_days(&t)))
                .collect::<Date32Array>(),
        ),
        (DataType::Timestamp(TimeUnit::Microsecond, None), Column::DateTime(c)) => Arc::new(
            (0..c.len())
                .map(|i| c.get(i).and_then(|t| datetime_to_micros(&t)))
                .collect::<TimestampMicrosecondArray>(),
        ),
        _ => return Err(mismatch()),
    })
}

/// Row `row` of `array` as a datum of a column of type `ty` (already cast to its Arrow type).
pub fn arrow_to_datum(array: &dyn Array, row: usize, ty: &SqlType) -> Result<Datum> {
    if array.is_null(row) {
        return Ok(Datum::Null);
    }
    Ok(match ty {
        SqlType::Int {
            unsigned: false, ..
        } => Datum::Int(array.as_primitive::<Int64Type>().value(row)),
        SqlType::Int { unsigned: true, .. } => {
            Datum::Uint(array.as_primitive::<UInt64Type>().value(row))
        }
        SqlType::Float | SqlType::Double => {
            Datum::Real(array.as_primitive::<Float64Type>().value(row))
        }
        SqlType::Decimal { scale, .. } => {
            let value = array.as_primitive::<Decimal128Type>().value(row);
            Datum::Decimal(i128_to_decimal(value, *scale)?)
        }
        SqlType::Char(_) | SqlType::Varchar(_) | SqlType::Text => {
            Datum::Bytes(array.as_string::<i32>().value(row).as_bytes().to_vec())
        }
        SqlType::Date => Datum::Time(days_to_date(array.as_primitive::<Date32Type>().value(row))?),
        SqlType::Datetime(fsp) | SqlType::Timestamp(fsp) => {
            let tp = if matches!(ty, SqlType::Timestamp(_)) {
                TimeType::Timestamp
            } else {
                TimeType::DateTime
            };
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            Datum::Time(micros_to_datetime(micros, tp, *fsp)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1998, 12, 1), 10_561);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        for days in [-719_162, -1, 0, 59, 10_561, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
    }

    #[test]
    fn decimals_convert_to_scaled_integers_and_back() {
        let d: Decimal = "-12.5".parse().unwrap();
        assert_eq!(decimal_to_i128(&d, 2).unwrap(), -1250);
        assert_eq!(i128_to_decimal(-1250, 2).unwrap().to_string(), "-12.50");
        assert_eq!(i128_to_decimal(5, 3).unwrap().to_string(), "0.005");
        assert_eq!(i128_to_decimal(42, 0).unwrap().to_string(), "42");
    }
}
