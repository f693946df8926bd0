//! TiDB's datum codec: a flag byte then a payload, in a comparable form (index keys, common
//! handles) or a value form (old-format rows, default values). Time values travel as the UINT
//! flag with their packed u64 and are told apart from integers by the column's field type.
//!
//! Flags: NIL 0, BYTES 1 (memcomparable), COMPACT_BYTES 2, INT 3, UINT 4, FLOAT 5, DECIMAL 6,
//! DURATION 7, VAR_INT 8, VAR_UINT 9, JSON 10, MAX 250 (facts from TiDB `util/codec/codec.go`).

use crate::codec::{number, row_v2};
use crate::error::{Error, Result};
use crate::types::{EvalType, FieldType, FieldTypeTp};
use crate::{DateTime, Decimal, Duration, Json, TimeType};

/// Datum flag bytes.
pub mod flag {
    /// NULL.
    pub const NIL: u8 = 0;
    /// Bytes in memcomparable form.
    pub const BYTES: u8 = 1;
    /// Bytes in compact form.
    pub const COMPACT_BYTES: u8 = 2;
    /// i64, comparable.
    pub const INT: u8 = 3;
    /// u64, comparable.
    pub const UINT: u8 = 4;
    /// f64, comparable.
    pub const FLOAT: u8 = 5;
    /// Decimal: precision, frac, binary.
    pub const DECIMAL: u8 = 6;
    /// Duration: i64 nanoseconds, comparable.
    pub const DURATION: u8 = 7;
    /// i64 varint.
    pub const VAR_INT: u8 = 8;
    /// u64 varint.
    pub const VAR_UINT: u8 = 9;
    /// JSON: type byte and binary value.
    pub const JSON: u8 = 10;
    /// The greatest value (range ends).
    pub const MAX: u8 = 250;
}

/// One value of any type, as the datum codec sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    /// NULL.
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (also a packed time before it is typed).
    Uint(u64),
    /// A double.
    Real(f64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A decimal.
    Decimal(Decimal),
    /// A duration.
    Duration(Duration),
    /// A date or time.
    Time(DateTime),
    /// A JSON document.
    Json(Json),
    /// Greater than every value (only in range bounds).
    Max,
}

/// Appends `datum` in comparable form.
pub fn encode_key(out: &mut Vec<u8>, datum: &Datum) -> Result<()> {
    match datum {
        Datum::Bytes(bytes) => {
            out.push(flag::BYTES);
            number::encode_bytes(out, bytes);
            Ok(())
        }
        other => encode_common(out, other),
    }
}

/// Appends `datum` in value form.
pub fn encode_value(out: &mut Vec<u8>, datum: &Datum) -> Result<()> {
    match datum {
        Datum::Int(value) => {
            out.push(flag::VAR_INT);
            number::encode_var_i64(out, *value);
            Ok(())
        }
        Datum::Uint(value) => {
            out.push(flag::VAR_UINT);
            number::encode_var_u64(out, *value);
            Ok(())
        }
        Datum::Bytes(bytes) => {
            out.push(flag::COMPACT_BYTES);
            number::encode_compact_bytes(out, bytes);
            Ok(())
        }
        other => encode_common(out, other),
    }
}

/// The forms the comparable and value encodings share.
fn encode_common(out: &mut Vec<u8>, datum: &Datum) -> Result<()> {
    match datum {
        Datum::Null => out.push(flag::NIL),
        Datum::Int(value) => {
            out.push(flag::INT);
            number::encode_i64(out, *value);
        }
        Datum::Uint(value) => {
            out.push(flag::UINT);
            number::encode_u64(out, *value);
        }
        Datum::Real(value) => {
            out.push(flag::FLOAT);
            number::encode_f64(out, *value);
        }
        Datum::Bytes(bytes) => {
            out.push(flag::BYTES);
            number::encode_bytes(out, bytes);
        }
        Datum::Decimal(value) => {
            out.push(flag::DECIMAL);
            value.encode_datum_payload(out)?;
        }
        Datum::Duration(value) => {
            out.push(flag::DURATION);
            number::encode_i64(out, value.nanos());
        }
        Datum::Time(value) => {
            out.push(flag::UINT);
            number::encode_u64(out, value.to_packed_u64());
        }
        Datum::Json(value) => {
            out.push(flag::JSON);
            value.encode_datum_payload(out);
        }
        Datum::Max => out.push(flag::MAX),
    }
    Ok(())
}

/// Reads one datum of either form, untyped: times come back as `Uint`, durations with fsp 6.
pub fn decode_one(input: &mut &[u8]) -> Result<Datum> {
    let flag = number::read_u8(input, "datum flag")?;
    Ok(match flag {
        flag::NIL => Datum::Null,
        flag::BYTES => Datum::Bytes(number::decode_bytes(input)?),
        flag::COMPACT_BYTES => Datum::Bytes(number::decode_compact_bytes(input)?.to_vec()),
        flag::INT => Datum::Int(number::decode_i64(input)?),
        flag::UINT => Datum::Uint(number::decode_u64(input)?),
        flag::FLOAT => Datum::Real(number::decode_f64(input)?),
        flag::DECIMAL => Datum::Decimal(Decimal::decode_datum_payload(input)?),
        flag::DURATION => Datum::Duration(Duration::from_nanos(number::decode_i64(input)?, 6)?),
        flag::VAR_INT => Datum::Int(number::decode_var_i64(input)?),
        flag::VAR_UINT => Datum::Uint(number::decode_var_u64(input)?),
        flag::JSON => Datum::Json(Json::decode_datum_payload(input)?),
        flag::MAX => Datum::Max,
        other => return Err(Error::corrupted("datum", format!("flag {other}"))),
    })
}

/// Reads every datum of `input`.
pub fn decode_all(mut input: &[u8]) -> Result<Vec<Datum>> {
    let mut datums = Vec::new();
    while !input.is_empty() {
        datums.push(decode_one(&mut input)?);
    }
    Ok(datums)
}

/// The kind of time a column of type `tp` holds.
pub fn time_type(tp: FieldTypeTp) -> TimeType {
    match tp {
        FieldTypeTp::Date | FieldTypeTp::NewDate => TimeType::Date,
        FieldTypeTp::Timestamp => TimeType::Timestamp,
        _ => TimeType::DateTime,
    }
}

/// Gives an untyped datum the representation of `field_type`: packed u64 to `Time`, integers to
/// the signedness of the column, durations to the column's fsp.
pub fn typed(datum: Datum, field_type: &FieldType) -> Result<Datum> {
    let mismatch = |datum: &Datum| {
        Error::corrupted(
            "datum",
            format!("{datum:?} for a column of type {:?}", field_type.tp),
        )
    };
    Ok(match (field_type.eval_type()?, datum) {
        (_, Datum::Null) => Datum::Null,
        (EvalType::Int | EvalType::Enum | EvalType::Set, Datum::Int(v)) => {
            if field_type.is_unsigned() {
                Datum::Uint(v as u64)
            } else {
                Datum::Int(v)
            }
        }
        (EvalType::Int | EvalType::Enum | EvalType::Set, Datum::Uint(v)) => {
            if field_type.is_unsigned() {
                Datum::Uint(v)
            } else {
                Datum::Int(v as i64)
            }
        }
        (EvalType::Real, Datum::Real(v)) => Datum::Real(v),
        (EvalType::Bytes, Datum::Bytes(v)) => Datum::Bytes(v),
        (EvalType::Decimal, Datum::Decimal(v)) => Datum::Decimal(v),
        (EvalType::DateTime, Datum::Uint(packed)) => Datum::Time(DateTime::from_packed_u64(
            packed,
            time_type(field_type.tp),
            field_type.fsp(),
        )?),
        (EvalType::DateTime, Datum::Time(v)) => Datum::Time(v),
        (EvalType::Duration, Datum::Duration(v)) => {
            Datum::Duration(Duration::from_nanos(v.nanos(), field_type.fsp())?)
        }
        (EvalType::Duration, Datum::Int(nanos)) => {
            Datum::Duration(Duration::from_nanos(nanos, field_type.fsp())?)
        }
        (EvalType::Json, Datum::Json(v)) => Datum::Json(v),
        (_, other) => return Err(mismatch(&other)),
    })
}

/// The datum a row v2 value of `field_type` holds.
pub fn from_row_v2(value: &[u8], field_type: &FieldType) -> Result<Datum> {
    let mut input = value;
    Ok(match field_type.tp {
        FieldTypeTp::Tiny
        | FieldTypeTp::Short
        | FieldTypeTp::Int24
        | FieldTypeTp::Long
        | FieldTypeTp::LongLong => {
            if field_type.is_unsigned() {
                Datum::Uint(row_v2::decode_u64(value)?)
            } else {
                Datum::Int(row_v2::decode_i64(value)?)
            }
        }
        FieldTypeTp::Year => Datum::Int(row_v2::decode_i64(value)?),
        FieldTypeTp::Float | FieldTypeTp::Double => {
            let real = number::decode_f64(&mut input)?;
            check_consumed(input, "row v2 float")?;
            Datum::Real(real)
        }
        tp if tp.is_string_like() => Datum::Bytes(value.to_vec()),
        FieldTypeTp::Date
        | FieldTypeTp::NewDate
        | FieldTypeTp::DateTime
        | FieldTypeTp::Timestamp => Datum::Time(DateTime::from_packed_u64(
            row_v2::decode_u64(value)?,
            time_type(field_type.tp),
            field_type.fsp(),
        )?),
        FieldTypeTp::Enum | FieldTypeTp::Set | FieldTypeTp::Bit => {
            Datum::Uint(row_v2::decode_u64(value)?)
        }
        FieldTypeTp::Duration => Datum::Duration(Duration::from_nanos(
            row_v2::decode_i64(value)?,
            field_type.fsp(),
        )?),
        FieldTypeTp::NewDecimal => {
            let decimal = Decimal::decode_datum_payload(&mut input)?;
            check_consumed(input, "row v2 decimal")?;
            Datum::Decimal(decimal)
        }
        FieldTypeTp::Json => {
            let json = Json::decode_datum_payload(&mut input)?;
            check_consumed(input, "row v2 json")?;
            Datum::Json(json)
        }
        FieldTypeTp::Null => Datum::Null,
        other => {
            return Err(Error::Unsupported(format!(
                "row v2 values of type {other:?}"
            )))
        }
    })
}

/// The row v2 value form of a typed `datum` (`None` for NULL).
pub fn to_row_v2(datum: &Datum) -> Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    match datum {
        Datum::Null => return Ok(None),
        Datum::Int(v) => row_v2::encode_i64(&mut out, *v),
        Datum::Uint(v) => row_v2::encode_u64(&mut out, *v),
        Datum::Real(v) => number::encode_f64(&mut out, *v),
        Datum::Bytes(v) => out.extend_from_slice(v),
        Datum::Decimal(v) => v.encode_datum_payload(&mut out)?,
        Datum::Duration(v) => row_v2::encode_i64(&mut out, v.nanos()),
        Datum::Time(v) => row_v2::encode_u64(&mut out, v.to_packed_u64()),
        Datum::Json(v) => v.encode_datum_payload(&mut out),
        Datum::Max => return Err(Error::corrupted("row v2", "MAX is not a column value")),
    }
    Ok(Some(out))
}

fn check_consumed(rest: &[u8], what: &'static str) -> Result<()> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Error::corrupted(
            what,
            format!("{} trailing bytes", rest.len()),
        ))
    }
}

/// Decodes an old-format row (datum pairs of column id and value) into `(column_id, datum)`.
pub fn decode_old_row(bytes: &[u8]) -> Result<Vec<(i64, Datum)>> {
    let mut input = bytes;
    let mut columns = Vec::new();
    while !input.is_empty() {
        let id = match decode_one(&mut input)? {
            Datum::Int(id) => id,
            Datum::Uint(id) => i64::try_from(id)
                .map_err(|_| Error::corrupted("old row", format!("column id {id}")))?,
            other => {
                return Err(Error::corrupted(
                    "old row",
                    format!("column id datum {other:?}"),
                ))
            }
        };
        let value = decode_one(&mut input)?;
        columns.push((id, value));
    }
    Ok(columns)
}

/// Encodes a row for `EncodeType::TypeDefault`: each datum in value form, back to back.
pub fn encode_row_default(out: &mut Vec<u8>, datums: &[Datum]) -> Result<()> {
    for datum in datums {
        encode_value(out, datum)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::flag as type_flag;
    use proptest::prelude::*;

    #[test]
    fn golden_flags_and_forms() {
        // TiDB util/codec: EncodeKey(Int 1) = [3, 0x80, 0, 0, 0, 0, 0, 0, 1];
        // EncodeValue(Int 1) = [8, 2] (zigzag varint); EncodeValue("a") = [2, 2, 'a'].
        let mut key = Vec::new();
        encode_key(&mut key, &Datum::Int(1)).unwrap();
        assert_eq!(key, [3, 0x80, 0, 0, 0, 0, 0, 0, 1]);
        let mut value = Vec::new();
        encode_value(&mut value, &Datum::Int(1)).unwrap();
        assert_eq!(value, [8, 2]);
        value.clear();
        encode_value(&mut value, &Datum::Bytes(b"a".to_vec())).unwrap();
        assert_eq!(value, [2, 2, b'a']);
        value.clear();
        encode_value(&mut value, &Datum::Null).unwrap();
        assert_eq!(value, [0]);
    }

    #[test]
    fn every_type_round_trips_through_both_forms() {
        let datums = vec![
            Datum::Null,
            Datum::Int(-5),
            Datum::Uint(u64::MAX),
            Datum::Real(2.5),
            Datum::Bytes(b"hello world, longer than eight".to_vec()),
            Datum::Decimal("-123.4500".parse().unwrap()),
            Datum::Duration(Duration::parse("-01:02:03.5", 6).unwrap()),
            Datum::Json(Json::parse(r#"{"a": [1, 2.5, "x"]}"#).unwrap()),
        ];
        for datum in &datums {
            for comparable in [true, false] {
                let mut out = Vec::new();
                if comparable {
                    encode_key(&mut out, datum).unwrap();
                } else {
                    encode_value(&mut out, datum).unwrap();
                }
                let mut input = out.as_slice();
                assert_eq!(&decode_one(&mut input).unwrap(), datum, "{datum:?}");
                assert!(input.is_empty());
            }
        }
        // Times travel as UINT and come back typed by the column.
        let when = DateTime::parse("2019-09-16 10:11:12", TimeType::DateTime, 0).unwrap();
        let mut out = Vec::new();
        encode_key(&mut out, &Datum::Time(when)).unwrap();
        let raw = decode_one(&mut out.as_slice()).unwrap();
        assert_eq!(raw, Datum::Uint(when.to_packed_u64()));
        let ft = FieldType::new(FieldTypeTp::DateTime);
        assert_eq!(typed(raw, &ft).unwrap(), Datum::Time(when));
    }

    #[test]
    fn row_v2_values_by_type() {
        let unsigned = FieldType::new(FieldTypeTp::LongLong).with_flag(type_flag::UNSIGNED);
        let cases = vec![
            (FieldType::new(FieldTypeTp::Long), Datum::Int(-70_000)),
            (unsigned, Datum::Uint(300)),
            (FieldType::new(FieldTypeTp::Double), Datum::Real(-0.5)),
            (
                FieldType::new(FieldTypeTp::VarChar),
                Datum::Bytes(b"abc".to_vec()),
            ),
            (
                FieldType::new(FieldTypeTp::NewDecimal),
                Datum::Decimal("10.123".parse().unwrap()),
            ),
            (
                FieldType::new(FieldTypeTp::Date),
                Datum::Time(DateTime::parse("2019-12-31", TimeType::Date, 0).unwrap()),
            ),
            (
                FieldType::new(FieldTypeTp::Duration).with_decimal(4),
                Datum::Duration(Duration::parse("31 11:30:45.123", 4).unwrap()),
            ),
            (
                FieldType::new(FieldTypeTp::Json),
                Datum::Json(Json::parse(r#"[1,"sdf",2,[3,4]]"#).unwrap()),
            ),
        ];
        for (ft, datum) in cases {
            let bytes = to_row_v2(&datum).unwrap().unwrap();
            assert_eq!(from_row_v2(&bytes, &ft).unwrap(), datum, "{ft:?}");
        }
        assert_eq!(to_row_v2(&Datum::Null).unwrap(), None);
    }

    #[test]
    fn old_rows_decode_to_pairs() {
        let mut row = Vec::new();
        encode_row_default(
            &mut row,
            &[
                Datum::Int(1),
                Datum::Bytes(b"x".to_vec()),
                Datum::Int(3),
                Datum::Null,
            ],
        )
        .unwrap();
        assert_eq!(
            decode_old_row(&row).unwrap(),
            vec![(1, Datum::Bytes(b"x".to_vec())), (3, Datum::Null)]
        );
        assert!(decode_old_row(&row[..row.len() - 1]).is_err());
        assert!(decode_old_row(&[flag::BYTES]).is_err());
    }

    proptest! {
        #[test]
        fn comparable_keys_keep_order(a in any::<i64>(), b in any::<i64>(), s in proptest::collection::vec(any::<u8>(), 0..12), t in proptest::collection::vec(any::<u8>(), 0..12)) {
            let key = |datums: &[Datum]| { let mut out = Vec::new(); for d in datums { encode_key(&mut out, d).unwrap(); } out };
            let left = key(&[Datum::Int(a), Datum::Bytes(s.clone())]);
            let right = key(&[Datum::Int(b), Datum::Bytes(t.clone())]);
            prop_assert_eq!(left.cmp(&right), (a, s).cmp(&(b, t)));
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let _ = decode_all(&bytes);
            let _ = decode_old_row(&bytes);
            for tp in [FieldTypeTp::LongLong, FieldTypeTp::Double, FieldTypeTp::NewDecimal, FieldTypeTp::DateTime, FieldTypeTp::Duration, FieldTypeTp::Json] {
                let _ = from_row_v2(&bytes, &FieldType::new(tp));
            }
        }
    }
}
