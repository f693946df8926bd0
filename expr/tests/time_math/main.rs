//! The time and math function families, evaluated through compiled `tipb.Expr` trees. Golden
//! values come from TiKV's `components/tidb_query_expr/src/impl_time.rs` and `impl_math.rs`
//! tests (named at each case) and MySQL's documented results.

use basalt_chunk::codec::number;
use basalt_chunk::column::{BytesColumn, Column, FixedColumn};
use basalt_chunk::time::Tz;
use basalt_chunk::types::{flag, FieldType, FieldTypeTp};
use basalt_chunk::{DateTime, Decimal, Duration, TimeType};
use basalt_expr::context::flag as ctx_flag;
use basalt_expr::{functions, Error, EvalContext, RpnExpression};
use basalt_proto::tipb::{self, ExprType, ScalarFuncSig as Sig};

fn ft(tp: FieldTypeTp) -> FieldType {
    FieldType::new(tp)
}

fn column_ref(offset: usize, field_type: &FieldType) -> tipb::Expr {
    let mut val = Vec::new();
    number::encode_i64(&mut val, offset as i64);
    tipb::Expr {
        tp: Some(ExprType::ColumnRef as i32),
        val: Some(val),
        field_type: Some(field_type.to_tipb()),
        ..Default::default()
    }
}

fn call(sig: Sig, result: &FieldType, children: Vec<tipb::Expr>) -> tipb::Expr {
    tipb::Expr {
        tp: Some(ExprType::ScalarFunc as i32),
        sig: Some(sig as i32),
        field_type: Some(result.to_tipb()),
        children,
        ..Default::default()
    }
}

/// An argument: its type and its column.
struct Arg(FieldType, Column);

fn fixed<T: basalt_chunk::column::FixedValue + Copy>(values: &[Option<T>]) -> FixedColumn<T> {
    let mut column = FixedColumn::with_capacity(values.len());
    for value in values {
        column.push(*value);
    }
    column
}

fn int_arg(values: &[Option<i64>]) -> Arg {
    Arg(ft(FieldTypeTp::LongLong), Column::Int(fixed(values)))
}

fn uint_arg(values: &[Option<i64>]) -> Arg {
    Arg(
        ft(FieldTypeTp::LongLong).with_flag(flag::UNSIGNED),
        Column::Int(fixed(values)),
    )
}

fn real_arg(values: &[Option<f64>]) -> Arg {
    Arg(ft(FieldTypeTp::Double), Column::Real(fixed(values)))
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn dec_arg(values: &[Option<&str>]) -> Arg {
    let values: Vec<Option<Decimal>> = values.iter().map(|v| v.map(dec)).collect();
    Arg(ft(FieldTypeTp::NewDecimal), Column::Decimal(fixed(&values)))
}

fn time(s: &str) -> DateTime {
    DateTime::parse(s, TimeType::DateTime, 6).unwrap()
}

fn time_arg(values: &[Option<&str>]) -> Arg {
    let values: Vec<Option<DateTime>> = values.iter().map(|v| v.map(time)).collect();
    Arg(
        ft(FieldTypeTp::DateTime).with_decimal(6),
        Column::DateTime(fixed(&values)),
    )
}

fn duration_arg(values: &[Option<(&str, i8)>]) -> Arg {
    let values: Vec<Option<Duration>> = values
        .iter()
        .map(|v| v.map(|(s, fsp)| Duration::parse(s, fsp).unwrap()))
        .collect();
    Arg(
        ft(FieldTypeTp::Duration).with_decimal(6),
        Column::Duration(fixed(&values)),
    )
}

fn bytes_arg(values: &[Option<&str>]) -> Arg {
    let mut column = BytesColumn::with_capacity(values.len());
    for value in values {
        column.push(value.map(str::as_bytes));
    }
    Arg(ft(FieldTypeTp::VarString), Column::Bytes(column))
}

/// Evaluates `sig(args…)` over all rows of the argument columns.
fn eval_in(
    ctx: &mut EvalContext,
    sig: Sig,
    result: &FieldType,
    args: Vec<Arg>,
) -> basalt_expr::Result<Column> {
    let schema: Vec<FieldType> = args.iter().map(|a| a.0.clone()).collect();
    let rows = args.first().map_or(1, |a| a.1.len());
    let children = schema
        .iter()
        .enumerate()
        .map(|(i, t)| column_ref(i, t))
        .collect();
    let expr = call(sig, result, children);
    let rpn = RpnExpression::compile(&expr, &schema)?;
    let refs: Vec<Option<&Column>> = args.iter().map(|a| Some(&a.1)).collect();
    let logical: Vec<usize> = (0..rows).collect();
    rpn.eval_to_column(ctx, &refs, &logical)
}

fn eval(sig: Sig, result: &FieldType, args: Vec<Arg>) -> Column {
    eval_in(&mut lenient(), sig, result, args).unwrap()
}

/// A SELECT's context: overflow and truncation are warnings.
fn lenient() -> EvalContext {
    EvalContext::new(
        ctx_flag::IN_SELECT_STMT | ctx_flag::OVERFLOW_AS_WARNING | ctx_flag::TRUNCATE_AS_WARNING,
        0,
        Tz::utc(),
    )
}

fn ints(column: &Column) -> Vec<Option<i64>> {
    let Column::Int(c) = column else {
        panic!("int column expected, got {column:?}")
    };
    (0..c.len()).map(|i| c.get(i)).collect()
}

fn reals(column: &Column) -> Vec<Option<f64>> {
    let Column::Real(c) = column else {
        panic!("real column expected, got {column:?}")
    };
    (0..c.len()).map(|i| c.get(i)).collect()
}

fn decimals(column: &Column) -> Vec<Option<String>> {
    let Column::Decimal(c) = column else {
        panic!("decimal column expected, got {column:?}")
    };
    (0..c.len())
        .map(|i| c.get(i).map(|d| d.to_string()))
        .collect()
}

fn strings(column: &Column) -> Vec<Option<String>> {
    let Column::Bytes(c) = column else {
        panic!("bytes column expected, got {column:?}")
    };
    (0..c.len())
        .map(|i| c.get(i).map(|b| String::from_utf8(b.to_vec()).unwrap()))
        .collect()
}

fn times(column: &Column) -> Vec<Option<String>> {
    let Column::DateTime(c) = column else {
        panic!("time column expected, got {column:?}")
    };
    (0..c.len())
        .map(|i| c.get(i).map(|t| t.to_string()))
        .collect()
}

fn int_type() -> FieldType {
    ft(FieldTypeTp::LongLong)
}
fn real_type() -> FieldType {
    ft(FieldTypeTp::Double)
}
fn dec_type(decimal: i32) -> FieldType {
    ft(FieldTypeTp::NewDecimal).with_decimal(decimal)
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|s| Some(s.to_string())).collect()
}

mod math;
mod props;
mod time;
