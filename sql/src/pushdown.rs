//! DataFusion expressions that Basalt can evaluate, translated to `tipb.Expr` trees with the
//! ScalarFuncSig TiDB would choose. What cannot be translated exactly (a function Basalt lacks,
//! semantics that differ between MySQL and DataFusion, like integer `/`) is not pushed down and
//! DataFusion evaluates it at the root.

use basalt_chunk::codec::number;
use basalt_chunk::types::{flag, FieldType, FieldTypeTp};
use basalt_proto::tipb::{self, ExprType, ScalarFuncSig as Sig};
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Like, Operator};
use datafusion::scalar::ScalarValue;

use crate::convert::{days_to_date, i128_to_decimal, micros_to_datetime};
use basalt_chunk::TimeType;

/// The evaluation class of a pushed-down value, which picks the function signature.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    Int { unsigned: bool },
    Real,
    Decimal { precision: u8, scale: u8 },
    String,
    Date,
    Datetime,
}

impl Class {
    fn of(data_type: &DataType) -> Option<Class> {
        Some(match data_type {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Boolean => Class::Int { unsigned: false },
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                Class::Int { unsigned: true }
            }
            DataType::Float32 | DataType::Float64 => Class::Real,
            DataType::Decimal128(p, s) if *s >= 0 => Class::Decimal {
                precision: *p,
                scale: *s as u8,
            },
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Class::String,
            DataType::Date32 => Class::Date,
            DataType::Timestamp(_, None) => Class::Datetime,
            _ => return None,
        })
    }

    fn arrow_type(self) -> DataType {
        match self {
            Class::Int { unsigned: false } => DataType::Int64,
            Class::Int { unsigned: true } => DataType::UInt64,
            Class::Real => DataType::Float64,
            Class::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
            Class::String => DataType::Utf8,
            Class::Date => DataType::Date32,
            Class::Datetime => {
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None)
            }
        }
    }

    fn field_type(self) -> FieldType {
        match self {
            Class::Int { unsigned } => {
                let ft = FieldType::new(FieldTypeTp::LongLong);
                if unsigned {
                    ft.with_flag(flag::UNSIGNED)
                } else {
                    ft
                }
            }
            Class::Real => FieldType::new(FieldTypeTp::Double),
            Class::Decimal { precision, scale } => {
                let mut ft = FieldType::new(FieldTypeTp::NewDecimal);
                ft.flen = i32::from(precision);
                ft.decimal = i32::from(scale);
                ft
            }
            Class::String => FieldType::new(FieldTypeTp::VarString),
            Class::Date => FieldType::new(FieldTypeTp::Date).with_decimal(0),
            Class::Datetime => FieldType::new(FieldTypeTp::DateTime).with_decimal(6),
        }
    }
}

/// Maps a DataFusion column to its offset among the scan's output columns and its Arrow type.
pub trait ColumnResolver {
    /// The offset and type of `name`, if the scan reads it.
    fn resolve(&self, name: &str) -> Option<(usize, DataType)>;
}

/// A translated expression and its class.
struct Pushed {
    expr: tipb::Expr,
    class: Class,
}

fn bool_type() -> FieldType {
    FieldType::new(FieldTypeTp::LongLong)
}

fn call(sig: Sig, children: Vec<tipb::Expr>, result: &FieldType) -> tipb::Expr {
    tipb::Expr {
        tp: Some(ExprType::ScalarFunc as i32),
        sig: Some(sig as i32),
        children,
        field_type: Some(result.to_tipb()),
        ..Default::default()
    }
}

fn constant(tp: ExprType, val: Vec<u8>, ft: &FieldType) -> tipb::Expr {
    tipb::Expr {
        tp: Some(tp as i32),
        val: Some(val),
        field_type: Some(ft.to_tipb()),
        ..Default::default()
    }
}

/// The tipb form of a column reference to scan output `offset`.
pub fn column_ref(offset: usize, ft: &FieldType) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, offset as i64);
    constant(ExprType::ColumnRef, val, ft)
}

/// Translates a boolean filter, or `None` when Basalt cannot evaluate it exactly.
pub fn filter_to_tipb(expr: &Expr, columns: &dyn ColumnResolver) -> Option<tipb::Expr> {
    let pushed = translate(expr, columns)?;
    matches!(pushed.class, Class::Int { .. }).then_some(pushed.expr)
}

/// A translated value expression (an aggregate argument, a group key, a sort key).
pub struct PushedValue {
    /// The expression.
    pub expr: tipb::Expr,
    /// Its TiDB type.
    pub field_type: FieldType,
    /// The Arrow type of its values.
    pub data_type: DataType,
}

/// Translates a value expression.
pub fn value_to_tipb(expr: &Expr, columns: &dyn ColumnResolver) -> Option<PushedValue> {
    let pushed = translate(expr, columns)?;
    Some(PushedValue {
        expr: pushed.expr,
        field_type: pushed.class.field_type(),
        data_type: pushed.class.arrow_type(),
    })
}

fn literal(value: &ScalarValue) -> Option<Pushed> {
    let (class, expr) = match value {
        ScalarValue::Int64(Some(v)) => (Class::Int { unsigned: false }, {
            let mut val = Vec::new();
            number::encode_i64(&mut val, *v);
            constant(ExprType::Int64, val, &bool_type())
        }),
        ScalarValue::Int32(Some(v)) => return literal(&ScalarValue::Int64(Some(i64::from(*v)))),
        ScalarValue::Boolean(Some(v)) => return literal(&ScalarValue::Int64(Some(i64::from(*v)))),
        ScalarValue::UInt64(Some(v)) => {
            let class = Class::Int { unsigned: true };
            let mut val = Vec::new();
            number::encode_u64(&mut val, *v);
            (class, constant(ExprType::Uint64, val, &class.field_type()))
        }
        ScalarValue::Float64(Some(v)) => {
            let mut val = Vec::new();
            number::encode_f64(&mut val, *v);
            (
                Class::Real,
                constant(ExprType::Float64, val, &Class::Real.field_type()),
            )
        }
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => (
            Class::String,
            constant(
                ExprType::String,
                s.as_bytes().to_vec(),
                &Class::String.field_type(),
            ),
        ),
        ScalarValue::Decimal128(Some(v), p, s) if *s >= 0 => {
            let class = Class::Decimal {
                precision: *p,
                scale: *s as u8,
            };
            let decimal = i128_to_decimal(*v, *s as u8).ok()?;
            let mut val = Vec::new();
            decimal.encode_datum_payload(&mut val).ok()?;
            (
                class,
                constant(ExprType::MysqlDecimal, val, &class.field_type()),
            )
        }
        ScalarValue::Date32(Some(days)) => {
            let date = days_to_date(*days).ok()?;
            let mut val = Vec::new();
            number::encode_u64(&mut val, date.to_packed_u64());
            (
                Class::Date,
                constant(ExprType::MysqlTime, val, &Class::Date.field_type()),
            )
        }
        ScalarValue::TimestampMicrosecond(Some(micros), None) => {
            let t = micros_to_datetime(*micros, TimeType::DateTime, 6).ok()?;
            let mut val = Vec::new();
            number::encode_u64(&mut val, t.to_packed_u64());
            (
                Class::Datetime,
                constant(ExprType::MysqlTime, val, &Class::Datetime.field_type()),
            )
        }
        _ => return None,
    };
    Some(Pushed { expr, class })
}

fn translate(expr: &Expr, columns: &dyn ColumnResolver) -> Option<Pushed> {
    match expr {
        Expr::Alias(alias) => translate(&alias.expr, columns),
        Expr::Column(column) => {
            let (offset, data_type) = columns.resolve(&column.name)?;
            let class = Class::of(&data_type)?;
            Some(Pushed {
                expr: column_ref(offset, &class.field_type()),
                class,
            })
        }
        Expr::Literal(value, _) => literal(value),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (l, r) = (translate(left, columns)?, translate(right, columns)?);
            binary(l, *op, r)
        }
        Expr::Not(inner) => {
            let inner = translate(inner, columns)?;
            matches!(inner.class, Class::Int { .. }).then(|| not(inner.expr))
        }
        Expr::IsNull(inner) => is_null(translate(inner, columns)?),
        Expr::IsNotNull(inner) => Some(not(is_null(translate(inner, columns)?)?.expr)),
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => {
            let value = translate(expr, columns)?;
            let low = binary(
                Pushed {
                    expr: value.expr.clone(),
                    class: value.class,
                },
                Operator::GtEq,
                translate(low, columns)?,
            )?;
            let high = binary(value, Operator::LtEq, translate(high, columns)?)?;
            let both = binary(low, Operator::And, high)?;
            Some(if *negated { not(both.expr) } else { both })
        }
        Expr::Like(Like {
            negated,
            expr,
            pattern,
            escape_char,
            case_insensitive: false,
        }) => {
            let value = translate(expr, columns)?;
            let pattern = translate(pattern, columns)?;
            if value.class != Class::String || pattern.class != Class::String {
                return None;
            }
            let escape = i64::from(u32::from(escape_char.unwrap_or('\\')));
            let escape = literal(&ScalarValue::Int64(Some(escape)))?;
            let like = Pushed {
                expr: call(
                    Sig::LikeSig,
                    vec![value.expr, pattern.expr, escape.expr],
                    &bool_type(),
                ),
                class: Class::Int { unsigned: false },
            };
            Some(if *negated { not(like.expr) } else { like })
        }
        Expr::InList(list) => {
            let value = translate(&list.expr, columns)?;
            let sig = match value.class {
                Class::Int { .. } => Sig::InInt,
                Class::Real => Sig::InReal,
                Class::Decimal { .. } => Sig::InDecimal,
                Class::String => Sig::InString,
                Class::Date | Class::Datetime => Sig::InTime,
            };
            let mut children = vec![value.expr];
            for item in &list.list {
                let item = translate(item, columns)?;
                if !same_family(value.class, item.class) {
                    return None;
                }
                children.push(item.expr);
            }
            let found = Pushed {
                expr: call(sig, children, &bool_type()),
                class: Class::Int { unsigned: false },
            };
            Some(if list.negated { not(found.expr) } else { found })
        }
        Expr::Cast(cast) => {
            let inner = translate(&cast.expr, columns)?;
            let target = Class::of(cast.field.data_type())?;
            let sig = match (inner.class, target) {
                (a, b) if a == b => return Some(inner),
                (Class::Int { .. }, Class::Real) => Sig::CastIntAsReal,
                (Class::Int { .. }, Class::Decimal { .. }) => Sig::CastIntAsDecimal,
                (Class::Decimal { .. }, Class::Real) => Sig::CastDecimalAsReal,
                (Class::Decimal { .. }, Class::Decimal { .. }) => Sig::CastDecimalAsDecimal,
                (Class::Date, Class::Datetime) => Sig::CastTimeAsTime,
                _ => return None,
            };
            Some(Pushed {
                expr: call(sig, vec![inner.expr], &target.field_type()),
                class: target,
            })
        }
        _ => None,
    }
}

fn same_family(a: Class, b: Class) -> bool {
    matches!(
        (a, b),
        (Class::Int { .. }, Class::Int { .. })
            | (Class::Real, Class::Real)
            | (Class::Decimal { .. }, Class::Decimal { .. })
            | (Class::String, Class::String)
            | (Class::Date | Class::Datetime, Class::Date | Class::Datetime)
    )
}

fn not(expr: tipb::Expr) -> Pushed {
    Pushed {
        expr: call(Sig::UnaryNotInt, vec![expr], &bool_type()),
        class: Class::Int { unsigned: false },
    }
}

fn is_null(inner: Pushed) -> Option<Pushed> {
    let sig = match inner.class {
        Class::Int { .. } => Sig::IntIsNull,
        Class::Real => Sig::RealIsNull,
        Class::Decimal { .. } => Sig::DecimalIsNull,
        Class::String => Sig::StringIsNull,
        Class::Date | Class::Datetime => Sig::TimeIsNull,
    };
    Some(Pushed {
        expr: call(sig, vec![inner.expr], &bool_type()),
        class: Class::Int { unsigned: false },
    })
}

fn binary(l: Pushed, op: Operator, r: Pushed) -> Option<Pushed> {
    let boolean = Class::Int { unsigned: false };
    if matches!(op, Operator::And | Operator::Or) {
        if !matches!(l.class, Class::Int { .. }) || !matches!(r.class, Class::Int { .. }) {
            return None;
        }
        let sig = if op == Operator::And {
            Sig::LogicalAnd
        } else {
            Sig::LogicalOr
        };
        return Some(Pushed {
            expr: call(sig, vec![l.expr, r.expr], &bool_type()),
            class: boolean,
        });
    }
    if !same_family(l.class, r.class) {
        return None;
    }
    let compare = |int, real, decimal, string, time| match l.class {
        Class::Int { .. } => int,
        Class::Real => real,
        Class::Decimal { .. } => decimal,
        Class::String => string,
        Class::Date | Class::Datetime => time,
    };
    let sig = match op {
        Operator::Eq => compare(
            Sig::EqInt,
            Sig::EqReal,
            Sig::EqDecimal,
            Sig::EqString,
            Sig::EqTime,
        ),
        Operator::NotEq => compare(
            Sig::NeInt,
            Sig::NeReal,
            Sig::NeDecimal,
            Sig::NeString,
            Sig::NeTime,
        ),
        Operator::Lt => compare(
            Sig::LtInt,
            Sig::LtReal,
            Sig::LtDecimal,
            Sig::LtString,
            Sig::LtTime,
        ),
        Operator::LtEq => compare(
            Sig::LeInt,
            Sig::LeReal,
            Sig::LeDecimal,
            Sig::LeString,
            Sig::LeTime,
        ),
        Operator::Gt => compare(
            Sig::GtInt,
            Sig::GtReal,
            Sig::GtDecimal,
            Sig::GtString,
            Sig::GtTime,
        ),
        Operator::GtEq => compare(
            Sig::GeInt,
            Sig::GeReal,
            Sig::GeDecimal,
            Sig::GeString,
            Sig::GeTime,
        ),
        Operator::Plus | Operator::Minus | Operator::Multiply => {
            return arithmetic(l, op, r);
        }
        _ => return None,
    };
    Some(Pushed {
        expr: call(sig, vec![l.expr, r.expr], &bool_type()),
        class: boolean,
    })
}

/// `+ - *` where MySQL and DataFusion agree on the result: reals, and decimals whose result
/// scale both compute the same way (max of scales for +/-, sum for *). Integers are left to
/// DataFusion, whose overflow behaviour differs from MySQL's error.
fn arithmetic(l: Pushed, op: Operator, r: Pushed) -> Option<Pushed> {
    let (sig, class) = match (l.class, r.class) {
        (Class::Real, Class::Real) => (
            match op {
                Operator::Plus => Sig::PlusReal,
                Operator::Minus => Sig::MinusReal,
                _ => Sig::MultiplyReal,
            },
            Class::Real,
        ),
        (
            Class::Decimal {
                precision: p1,
                scale: s1,
            },
            Class::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => {
            let (scale, int_digits) = match op {
                Operator::Multiply => (s1 + s2, (p1 - s1) + (p2 - s2)),
                _ => (s1.max(s2), (p1 - s1).max(p2 - s2) + 1),
            };
            let precision = (int_digits + scale).min(38);
            let sig = match op {
                Operator::Plus => Sig::PlusDecimal,
                Operator::Minus => Sig::MinusDecimal,
                _ => Sig::MultiplyDecimal,
            };
            (sig, Class::Decimal { precision, scale })
        }
        _ => return None,
    };
    Some(Pushed {
        expr: call(sig, vec![l.expr, r.expr], &class.field_type()),
        class,
    })
}
