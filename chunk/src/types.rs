//! Field types as TiDB describes columns and expression results (`tipb.FieldType`,
//! `tipb.ColumnInfo`): the MySQL type code, flags, length, decimal digits, collation and the
//! elements of ENUM/SET; and the evaluation type that decides how a value is computed on.

use basalt_proto::tipb;

use crate::error::{Error, Result};

/// MySQL type codes (TiDB's `mysql.Type*`), as they travel in `tp` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FieldTypeTp {
    /// Old DECIMAL; TiDB never sends it for new tables (0 also means "unspecified").
    Unspecified = 0,
    /// TINYINT.
    Tiny = 1,
    /// SMALLINT.
    Short = 2,
    /// INT.
    Long = 3,
    /// FLOAT.
    Float = 4,
    /// DOUBLE.
    Double = 5,
    /// NULL literal.
    Null = 6,
    /// TIMESTAMP.
    Timestamp = 7,
    /// BIGINT.
    LongLong = 8,
    /// MEDIUMINT.
    Int24 = 9,
    /// DATE.
    Date = 10,
    /// TIME.
    Duration = 11,
    /// DATETIME.
    DateTime = 12,
    /// YEAR.
    Year = 13,
    /// Internal new DATE.
    NewDate = 14,
    /// VARCHAR.
    VarChar = 15,
    /// BIT.
    Bit = 16,
    /// TiDB's VECTOR(FLOAT32).
    VectorFloat32 = 225,
    /// JSON.
    Json = 245,
    /// DECIMAL.
    NewDecimal = 246,
    /// ENUM.
    Enum = 247,
    /// SET.
    Set = 248,
    /// TINYBLOB / TINYTEXT.
    TinyBlob = 249,
    /// MEDIUMBLOB / MEDIUMTEXT.
    MediumBlob = 250,
    /// LONGBLOB / LONGTEXT.
    LongBlob = 251,
    /// BLOB / TEXT.
    Blob = 252,
    /// VARBINARY / VARCHAR in some paths.
    VarString = 253,
    /// CHAR / BINARY.
    String = 254,
    /// GEOMETRY.
    Geometry = 255,
}

impl FieldTypeTp {
    /// Whether values are byte strings (the character, binary, BLOB and geometry types).
    pub fn is_string_like(self) -> bool {
        use FieldTypeTp::*;
        matches!(
            self,
            VarChar | VarString | String | TinyBlob | MediumBlob | LongBlob | Blob | Geometry
        )
    }

    /// The type of a wire code.
    pub fn from_i32(code: i32) -> Result<FieldTypeTp> {
        use FieldTypeTp::*;
        Ok(match code {
            0 => Unspecified,
            1 => Tiny,
            2 => Short,
            3 => Long,
            4 => Float,
            5 => Double,
            6 => Null,
            7 => Timestamp,
            8 => LongLong,
            9 => Int24,
            10 => Date,
            11 => Duration,
            12 => DateTime,
            13 => Year,
            14 => NewDate,
            15 => VarChar,
            16 => Bit,
            225 => VectorFloat32,
            245 => Json,
            246 => NewDecimal,
            247 => Enum,
            248 => Set,
            249 => TinyBlob,
            250 => MediumBlob,
            251 => LongBlob,
            252 => Blob,
            253 => VarString,
            254 => String,
            255 => Geometry,
            other => return Err(Error::Unsupported(format!("MySQL field type code {other}"))),
        })
    }
}

/// Column and expression flags (TiDB's `mysql.*Flag`).
pub mod flag {
    /// NOT NULL.
    pub const NOT_NULL: u32 = 1;
    /// Part of the primary key.
    pub const PRI_KEY: u32 = 1 << 1;
    /// Part of a unique key.
    pub const UNIQUE_KEY: u32 = 1 << 2;
    /// Part of a non-unique key.
    pub const MULTIPLE_KEY: u32 = 1 << 3;
    /// BLOB or TEXT.
    pub const BLOB: u32 = 1 << 4;
    /// UNSIGNED.
    pub const UNSIGNED: u32 = 1 << 5;
    /// ZEROFILL.
    pub const ZEROFILL: u32 = 1 << 6;
    /// Binary string.
    pub const BINARY: u32 = 1 << 7;
    /// ENUM.
    pub const ENUM: u32 = 1 << 8;
    /// AUTO_INCREMENT.
    pub const AUTO_INCREMENT: u32 = 1 << 9;
    /// TIMESTAMP.
    pub const TIMESTAMP: u32 = 1 << 10;
    /// SET.
    pub const SET: u32 = 1 << 11;
    /// No default value.
    pub const NO_DEFAULT_VALUE: u32 = 1 << 12;
    /// ON UPDATE NOW().
    pub const ON_UPDATE_NOW: u32 = 1 << 13;
    /// Numeric.
    pub const NUM: u32 = 1 << 15;
    /// The expression's result should be parsed as JSON.
    pub const PARSE_TO_JSON: u32 = 1 << 18;
    /// A boolean-valued expression.
    pub const IS_BOOLEAN: u32 = 1 << 19;
}

/// How values of a type are represented while computing (TiKV's evaluation types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvalType {
    /// i64 (u64 when the UNSIGNED flag is set).
    Int,
    /// f64.
    Real,
    /// `Decimal`.
    Decimal,
    /// Byte strings, compared with a collation.
    Bytes,
    /// `DateTime` (DATE, DATETIME, TIMESTAMP).
    DateTime,
    /// `Duration`.
    Duration,
    /// `Json`.
    Json,
    /// ENUM: a 1-based index and its name.
    Enum,
    /// SET: a bit set and its names.
    Set,
}

impl EvalType {
    /// The evaluation type of a MySQL type.
    pub fn of(tp: FieldTypeTp) -> Result<EvalType> {
        use FieldTypeTp::*;
        Ok(match tp {
            Tiny | Short | Int24 | Long | LongLong | Year | Bit | Null => EvalType::Int,
            Float | Double => EvalType::Real,
            NewDecimal => EvalType::Decimal,
            Timestamp | Date | DateTime | NewDate => EvalType::DateTime,
            Duration => EvalType::Duration,
            Json => EvalType::Json,
            Enum => EvalType::Enum,
            Set => EvalType::Set,
            VarChar | TinyBlob | MediumBlob | LongBlob | Blob | VarString | String | Geometry => {
                EvalType::Bytes
            }
            Unspecified | VectorFloat32 => {
                return Err(Error::Unsupported(format!(
                    "no evaluation type for MySQL type {tp:?}"
                )))
            }
        })
    }
}

/// The type of a column or an expression result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldType {
    /// The MySQL type.
    pub tp: FieldTypeTp,
    /// `flag::*` bits.
    pub flag: u32,
    /// Display length (-1: unspecified).
    pub flen: i32,
    /// Digits after the point for DECIMAL, fsp for time types (-1: unspecified).
    pub decimal: i32,
    /// Collation id as on the wire (negative under TiDB's new collation framework).
    pub collate: i32,
    /// Character set name.
    pub charset: String,
    /// Names of ENUM/SET members, in definition order.
    pub elems: Vec<String>,
}

impl Default for FieldType {
    fn default() -> Self {
        FieldType::new(FieldTypeTp::Null)
    }
}

impl FieldType {
    /// A type with unspecified length and decimals and the binary collation.
    pub fn new(tp: FieldTypeTp) -> FieldType {
        FieldType {
            tp,
            flag: 0,
            flen: -1,
            decimal: -1,
            collate: 63,
            charset: "binary".to_string(),
            elems: Vec::new(),
        }
    }

    /// The same type with `flags` added.
    pub fn with_flag(mut self, flags: u32) -> FieldType {
        self.flag |= flags;
        self
    }

    /// The same type with `decimal` digits (DECIMAL scale or time fsp).
    pub fn with_decimal(mut self, decimal: i32) -> FieldType {
        self.decimal = decimal;
        self
    }

    /// From an expression's `tipb.FieldType`.
    pub fn from_tipb(ft: &tipb::FieldType) -> Result<FieldType> {
        Ok(FieldType {
            tp: FieldTypeTp::from_i32(ft.tp())?,
            flag: ft.flag(),
            flen: ft.flen(),
            decimal: ft.decimal(),
            collate: ft.collate(),
            charset: ft.charset().to_string(),
            elems: ft.elems.clone(),
        })
    }

    /// From a scanned column's `tipb.ColumnInfo`.
    pub fn from_column_info(column: &tipb::ColumnInfo) -> Result<FieldType> {
        Ok(FieldType {
            tp: FieldTypeTp::from_i32(column.tp())?,
            // The flag travels as int32 in ColumnInfo; its bits are the same.
            flag: column.flag() as u32,
            flen: column.column_len(),
            decimal: column.decimal(),
            collate: column.collation(),
            charset: String::new(),
            elems: column.elems.clone(),
        })
    }

    /// The wire form.
    pub fn to_tipb(&self) -> tipb::FieldType {
        tipb::FieldType {
            tp: Some(self.tp as i32),
            flag: Some(self.flag),
            flen: Some(self.flen),
            decimal: Some(self.decimal),
            collate: Some(self.collate),
            charset: Some(self.charset.clone()),
            elems: self.elems.clone(),
            array: None,
        }
    }

    /// The evaluation type.
    pub fn eval_type(&self) -> Result<EvalType> {
        EvalType::of(self.tp)
    }

    /// Whether the UNSIGNED flag is set.
    pub fn is_unsigned(&self) -> bool {
        self.flag & flag::UNSIGNED != 0
    }

    /// Whether the column is NOT NULL.
    pub fn is_not_null(&self) -> bool {
        self.flag & flag::NOT_NULL != 0
    }

    /// The fractional seconds precision of a time type (0 when unspecified).
    pub fn fsp(&self) -> i8 {
        self.decimal.clamp(0, 6) as i8
    }

    /// Whether values of this type have a fixed width in chunk columns (and no offsets).
    pub fn is_fixed_width_in_chunk(&self) -> bool {
        matches!(
            self.eval_type(),
            Ok(EvalType::Int
                | EvalType::Real
                | EvalType::Decimal
                | EvalType::DateTime
                | EvalType::Duration)
        )
    }

    /// The width of one value in a chunk column, for fixed-width types: 4 for FLOAT, 40 for
    /// DECIMAL, 8 for the rest.
    pub fn chunk_fixed_width(&self) -> Option<usize> {
        match self.eval_type().ok()? {
            EvalType::Real if self.tp == FieldTypeTp::Float => Some(4),
            EvalType::Decimal => Some(40),
            EvalType::Int | EvalType::Real | EvalType::DateTime | EvalType::Duration => Some(8),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes_round_trip_and_map_to_eval_types() {
        for code in 0..=255 {
            if let Ok(tp) = FieldTypeTp::from_i32(code) {
                assert_eq!(tp as i32, code);
            }
        }
        assert!(FieldTypeTp::from_i32(17).is_err());
        assert!(FieldTypeTp::from_i32(-1).is_err());
        let cases = [
            (FieldTypeTp::LongLong, EvalType::Int),
            (FieldTypeTp::Year, EvalType::Int),
            (FieldTypeTp::Float, EvalType::Real),
            (FieldTypeTp::NewDecimal, EvalType::Decimal),
            (FieldTypeTp::Date, EvalType::DateTime),
            (FieldTypeTp::Timestamp, EvalType::DateTime),
            (FieldTypeTp::Duration, EvalType::Duration),
            (FieldTypeTp::VarString, EvalType::Bytes),
            (FieldTypeTp::Json, EvalType::Json),
            (FieldTypeTp::Enum, EvalType::Enum),
        ];
        for (tp, eval) in cases {
            assert_eq!(EvalType::of(tp).unwrap(), eval, "{tp:?}");
        }
    }

    #[test]
    fn tipb_round_trip_and_chunk_widths() {
        let ft = FieldType::new(FieldTypeTp::LongLong).with_flag(flag::UNSIGNED | flag::NOT_NULL);
        let back = FieldType::from_tipb(&ft.to_tipb()).unwrap();
        assert_eq!(back, ft);
        assert!(back.is_unsigned() && back.is_not_null());
        assert_eq!(
            FieldType::new(FieldTypeTp::Float).chunk_fixed_width(),
            Some(4)
        );
        assert_eq!(
            FieldType::new(FieldTypeTp::Double).chunk_fixed_width(),
            Some(8)
        );
        assert_eq!(
            FieldType::new(FieldTypeTp::NewDecimal).chunk_fixed_width(),
            Some(40)
        );
        assert_eq!(
            FieldType::new(FieldTypeTp::DateTime).chunk_fixed_width(),
            Some(8)
        );
        assert_eq!(
            FieldType::new(FieldTypeTp::VarChar).chunk_fixed_width(),
            None
        );
        assert_eq!(FieldType::new(FieldTypeTp::Json).chunk_fixed_width(), None);
    }
}
