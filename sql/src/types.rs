//! Column types: the MySQL type a user declares, the TiDB `FieldType` it is stored and pushed
//! down as, and the Arrow type DataFusion computes with.
//!
//! | SQL | TiDB field type | Arrow |
//! |---|---|---|
//! | TINYINT/SMALLINT/MEDIUMINT/INT/BIGINT [UNSIGNED], BOOL | Tiny/Short/Int24/Long/LongLong | Int64 / UInt64 |
//! | FLOAT, DOUBLE, REAL | Float / Double | Float64 |
//! | DECIMAL(p, s) (p <= 38) | NewDecimal | Decimal128(p, s) |
//! | CHAR(n), VARCHAR(n), TEXT | String / VarChar / Blob, binary collation | Utf8 |
//! | DATE | Date | Date32 |
//! | DATETIME(fsp), TIMESTAMP(fsp) | Datetime / Timestamp | Timestamp(µs) |
//!
//! Strings use the binary collation so that a filter compares the same way whether Basalt
//! evaluates it (pushed down) or DataFusion does (at the root).

use basalt_chunk::types::{flag, FieldType, FieldTypeTp};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A declared column type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlType {
    /// An integer of `bytes` bytes (1, 2, 3, 4 or 8).
    Int {
        /// Storage width in bytes.
        bytes: u8,
        /// UNSIGNED.
        unsigned: bool,
    },
    /// FLOAT.
    Float,
    /// DOUBLE.
    Double,
    /// DECIMAL(precision, scale).
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// CHAR(len).
    Char(u32),
    /// VARCHAR(len).
    Varchar(u32),
    /// TEXT.
    Text,
    /// DATE.
    Date,
    /// DATETIME(fsp).
    Datetime(u8),
    /// TIMESTAMP(fsp).
    Timestamp(u8),
}

/// The largest DECIMAL precision Arrow's Decimal128 holds.
const MAX_DECIMAL128_PRECISION: u64 = 38;

impl SqlType {
    /// Parses a type as sqlparser prints it (`INT UNSIGNED`, `DECIMAL(15,2)`, `VARCHAR(25)`).
    pub fn parse(text: &str) -> Result<SqlType> {
        let upper = text.trim().to_ascii_uppercase();
        let (name, args, rest) = match upper.find('(') {
            Some(open) => {
                let close = upper[open..]
                    .find(')')
                    .map(|i| open + i)
                    .ok_or_else(|| Error::Syntax(format!("type {text}")))?;
                (
                    upper[..open].trim().to_string(),
                    upper[open + 1..close].to_string(),
                    upper[close + 1..].trim().to_string(),
                )
            }
            None => {
                let mut words = upper.splitn(2, ' ');
                let name = words.next().unwrap_or_default().to_string();
                (name, String::new(), words.next().unwrap_or("").to_string())
            }
        };
        let numbers: Vec<u64> = args
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| Error::Syntax(format!("type {text}")))
            })
            .collect::<Result<_>>()?;
        let unsigned = rest.contains("UNSIGNED");
        let int = |bytes| Ok(SqlType::Int { bytes, unsigned });
        let fsp = || -> Result<u8> {
            match numbers.first() {
                None => Ok(0),
                Some(&f) if f <= 6 => Ok(f as u8),
                Some(f) => Err(Error::InvalidValue(format!(
                    "too big precision {f} for a time type (max 6)"
                ))),
            }
        };
        match name.as_str() {
            "TINYINT" | "BOOL" | "BOOLEAN" => int(1),
            "SMALLINT" => int(2),
            "MEDIUMINT" => int(3),
            "INT" | "INTEGER" => int(4),
            "BIGINT" => int(8),
            "INT UNSIGNED" | "INTEGER UNSIGNED" => Ok(SqlType::Int {
                bytes: 4,
                unsigned: true,
            }),
            "BIGINT UNSIGNED" => Ok(SqlType::Int {
                bytes: 8,
                unsigned: true,
            }),
            "FLOAT" => Ok(SqlType::Float),
            "DOUBLE" | "REAL" | "DOUBLE PRECISION" => Ok(SqlType::Double),
            "DECIMAL" | "NUMERIC" | "DEC" => {
                let precision = numbers.first().copied().unwrap_or(10);
                let scale = numbers.get(1).copied().unwrap_or(0);
                if precision == 0 || precision > MAX_DECIMAL128_PRECISION {
                    return Err(Error::Unsupported(format!(
                        "DECIMAL precision {precision} (1..={MAX_DECIMAL128_PRECISION})"
                    )));
                }
                if scale > precision || scale > 30 {
                    return Err(Error::InvalidValue(format!(
                        "DECIMAL scale {scale} must be <= precision {precision} and <= 30"
                    )));
                }
                Ok(SqlType::Decimal {
                    precision: precision as u8,
                    scale: scale as u8,
                })
            }
            "CHAR" | "CHARACTER" => Ok(SqlType::Char(numbers.first().copied().unwrap_or(1) as u32)),
            "VARCHAR" | "CHARACTER VARYING" => match numbers.first() {
                Some(&len) if len <= 65_535 => Ok(SqlType::Varchar(len as u32)),
                _ => Err(Error::InvalidValue(format!(
                    "VARCHAR needs a length: {text}"
                ))),
            },
            "TEXT" | "STRING" | "LONGTEXT" | "MEDIUMTEXT" | "TINYTEXT" => Ok(SqlType::Text),
            "DATE" => Ok(SqlType::Date),
            "DATETIME" => Ok(SqlType::Datetime(fsp()?)),
            "TIMESTAMP" => Ok(SqlType::Timestamp(fsp()?)),
            _ => Err(Error::Unsupported(format!("column type {text}"))),
        }
    }

    /// The TiDB field type (without the NOT NULL / primary key flags, which the column adds).
    pub fn field_type(&self) -> FieldType {
        match *self {
            SqlType::Int { bytes, unsigned } => {
                let (tp, flen) = match bytes {
                    1 => (FieldTypeTp::Tiny, 4),
                    2 => (FieldTypeTp::Short, 6),
                    3 => (FieldTypeTp::Int24, 9),
                    4 => (FieldTypeTp::Long, 11),
                    _ => (FieldTypeTp::LongLong, 20),
                };
                let mut ft = FieldType::new(tp);
                ft.flen = flen;
                ft.decimal = 0;
                if unsigned {
                    ft.flag |= flag::UNSIGNED;
                }
                ft
            }
            SqlType::Float => FieldType::new(FieldTypeTp::Float),
            SqlType::Double => FieldType::new(FieldTypeTp::Double),
            SqlType::Decimal { precision, scale } => {
                let mut ft = FieldType::new(FieldTypeTp::NewDecimal);
                ft.flen = i32::from(precision);
                ft.decimal = i32::from(scale);
                ft
            }
            SqlType::Char(len) => string_type(FieldTypeTp::String, len as i32),
            SqlType::Varchar(len) => string_type(FieldTypeTp::VarChar, len as i32),
            SqlType::Text => string_type(FieldTypeTp::Blob, 65_535),
            SqlType::Date => {
                let mut ft = FieldType::new(FieldTypeTp::Date);
                ft.decimal = 0;
                ft
            }
            SqlType::Datetime(fsp) => {
                FieldType::new(FieldTypeTp::DateTime).with_decimal(i32::from(fsp))
            }
            SqlType::Timestamp(fsp) => {
                FieldType::new(FieldTypeTp::Timestamp).with_decimal(i32::from(fsp))
            }
        }
    }

    /// The Arrow type DataFusion sees.
    pub fn arrow_type(&self) -> DataType {
        match *self {
            SqlType::Int {
                unsigned: false, ..
            } => DataType::Int64,
            SqlType::Int { unsigned: true, .. } => DataType::UInt64,
            SqlType::Float | SqlType::Double => DataType::Float64,
            SqlType::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
            SqlType::Char(_) | SqlType::Varchar(_) | SqlType::Text => DataType::Utf8,
            SqlType::Date => DataType::Date32,
            SqlType::Datetime(_) | SqlType::Timestamp(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
        }
    }

    /// Whether values are strings.
    pub fn is_string(&self) -> bool {
        matches!(self, SqlType::Char(_) | SqlType::Varchar(_) | SqlType::Text)
    }

    /// The MySQL spelling, for SHOW CREATE TABLE and DESCRIBE.
    pub fn to_sql(&self) -> String {
        match *self {
            SqlType::Int { bytes, unsigned } => {
                let name = match bytes {
                    1 => "TINYINT",
                    2 => "SMALLINT",
                    3 => "MEDIUMINT",
                    4 => "INT",
                    _ => "BIGINT",
                };
                if unsigned {
                    format!("{name} UNSIGNED")
                } else {
                    name.to_string()
                }
            }
            SqlType::Float => "FLOAT".into(),
            SqlType::Double => "DOUBLE".into(),
            SqlType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            SqlType::Char(len) => format!("CHAR({len})"),
            SqlType::Varchar(len) => format!("VARCHAR({len})"),
            SqlType::Text => "TEXT".into(),
            SqlType::Date => "DATE".into(),
            SqlType::Datetime(fsp) => format!("DATETIME({fsp})"),
            SqlType::Timestamp(fsp) => format!("TIMESTAMP({fsp})"),
        }
    }
}

fn string_type(tp: FieldTypeTp, flen: i32) -> FieldType {
    let mut ft = FieldType::new(tp);
    ft.flen = flen;
    ft
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mysql_type_spellings() {
        assert_eq!(
            SqlType::parse("INT UNSIGNED").unwrap(),
            SqlType::Int {
                bytes: 4,
                unsigned: true
            }
        );
        assert_eq!(
            SqlType::parse("decimal(15, 2)").unwrap(),
            SqlType::Decimal {
                precision: 15,
                scale: 2
            }
        );
        assert_eq!(SqlType::parse("VARCHAR(25)").unwrap(), SqlType::Varchar(25));
        assert_eq!(SqlType::parse("DATETIME(3)").unwrap(), SqlType::Datetime(3));
        assert_eq!(
            SqlType::parse("BIGINT(20) UNSIGNED").unwrap(),
            SqlType::Int {
                bytes: 8,
                unsigned: true
            }
        );
        assert!(SqlType::parse("DECIMAL(65,2)").is_err());
        assert!(SqlType::parse("GEOMETRY").is_err());
        assert!(SqlType::parse("DATETIME(9)").is_err());
    }
}
