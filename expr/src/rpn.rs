//! Compiling `tipb.Expr` trees into RPN (postfix) once per request, and evaluating the RPN over
//! a batch: constants and column references go on a stack, each function pops its arguments and
//! pushes one computed column.

use basalt_chunk::codec::datum::Datum;
use basalt_chunk::codec::number;
use basalt_chunk::column::{Column, FixedColumn};
use basalt_chunk::types::{FieldType, FieldTypeTp};
use basalt_chunk::{DateTime, Decimal, Duration, Json, TimeType};
use basalt_proto::tipb::{self, ExprType, ScalarFuncSig};

use crate::context::EvalContext;
use crate::error::{Error, Result};
use crate::functions::{self, FnDef, FnMeta};
use crate::value::StackValue;

/// How deep an expression tree may nest.
pub const MAX_DEPTH: usize = 256;

/// One step of an RPN expression.
#[derive(Debug, Clone)]
pub enum RpnNode {
    /// A constant.
    Constant {
        /// The value, typed for `field_type`.
        value: Datum,
        /// Its type.
        field_type: FieldType,
    },
    /// A column of the input batch.
    ColumnRef {
        /// Offset in the input schema.
        offset: usize,
        /// Its type.
        field_type: FieldType,
    },
    /// A function applied to the values on top of the stack.
    Function {
        /// The implementation.
        def: FnDef,
        /// Types and settings of the call.
        meta: FnMeta,
    },
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct RpnExpression {
    nodes: Vec<RpnNode>,
    field_type: FieldType,
}

impl RpnExpression {
    /// Compiles `expr` over an input whose columns have `schema` types.
    pub fn compile(expr: &tipb::Expr, schema: &[FieldType]) -> Result<RpnExpression> {
        let mut nodes = Vec::new();
        let field_type = append(expr, schema, &mut nodes, 0)?;
        Ok(RpnExpression { nodes, field_type })
    }

    /// The result type.
    pub fn field_type(&self) -> &FieldType {
        &self.field_type
    }

    /// The steps.
    pub fn nodes(&self) -> &[RpnNode] {
        &self.nodes
    }

    /// Offsets of the input columns the expression reads.
    pub fn column_refs(&self) -> Vec<usize> {
        let mut refs: Vec<usize> = self
            .nodes
            .iter()
            .filter_map(|node| match node {
                RpnNode::ColumnRef { offset, .. } => Some(*offset),
                _ => None,
            })
            .collect();
        refs.sort_unstable();
        refs.dedup();
        refs
    }

    /// Evaluates over `logical_rows` of `columns` (which must hold every referenced column).
    pub fn eval<'a>(
        &'a self,
        ctx: &mut EvalContext,
        columns: &'a [Option<&'a Column>],
        logical_rows: &'a [usize],
    ) -> Result<StackValue<'a>> {
        let mut stack: Vec<StackValue<'a>> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            match node {
                RpnNode::Constant { value, .. } => stack.push(StackValue::Const(value)),
                RpnNode::ColumnRef { offset, .. } => {
                    let column = columns.get(*offset).copied().flatten().ok_or_else(|| {
                        Error::InvalidExpr(format!("column {offset} was not decoded"))
                    })?;
                    stack.push(StackValue::Input(column, logical_rows));
                }
                RpnNode::Function { def, meta } => {
                    let at = stack
                        .len()
                        .checked_sub(meta.arg_types.len())
                        .ok_or_else(|| {
                            Error::InvalidExpr(format!("{} lacks arguments", def.name))
                        })?;
                    let args = stack.split_off(at);
                    let result = (def.eval)(ctx, &args, logical_rows.len(), meta)?;
                    stack.push(StackValue::Owned(result));
                }
            }
        }
        match (stack.pop(), stack.is_empty()) {
            (Some(value), true) => Ok(value),
            _ => Err(Error::InvalidExpr(
                "expression does not reduce to one value".into(),
            )),
        }
    }

    /// Evaluates and returns a dense column of `logical_rows.len()` rows.
    pub fn eval_to_column(
        &self,
        ctx: &mut EvalContext,
        columns: &[Option<&Column>],
        logical_rows: &[usize],
    ) -> Result<Column> {
        let value = self.eval(ctx, columns, logical_rows)?;
        materialize(value, &self.field_type, logical_rows.len())
    }
}

/// A dense column of `rows` rows from a stack value.
pub fn materialize(value: StackValue<'_>, field_type: &FieldType, rows: usize) -> Result<Column> {
    match value {
        StackValue::Owned(column) => Ok(column),
        StackValue::Const(datum) => {
            let mut column = Column::new(field_type, rows)?;
            for _ in 0..rows {
                column.push_datum(datum, field_type)?;
            }
            Ok(column)
        }
        StackValue::Input(column, logical) => Ok(gather(column, logical)),
    }
}

fn gather_fixed<T: basalt_chunk::column::FixedValue>(
    column: &FixedColumn<T>,
    rows: &[usize],
) -> FixedColumn<T> {
    let mut out = FixedColumn::with_capacity(rows.len());
    for &row in rows {
        out.push(column.get(row));
    }
    out
}

/// The rows `rows` of `column`, in that order.
pub fn gather(column: &Column, rows: &[usize]) -> Column {
    let bytes = |c: &basalt_chunk::column::BytesColumn| {
        let mut out = basalt_chunk::column::BytesColumn::with_capacity(rows.len());
        for &row in rows {
            out.push(c.get(row));
        }
        out
    };
    match column {
        Column::Int(c) => Column::Int(gather_fixed(c, rows)),
        Column::Real(c) => Column::Real(gather_fixed(c, rows)),
        Column::Decimal(c) => Column::Decimal(gather_fixed(c, rows)),
        Column::DateTime(c) => Column::DateTime(gather_fixed(c, rows)),
        Column::Duration(c) => Column::Duration(gather_fixed(c, rows)),
        Column::Bytes(c) => Column::Bytes(bytes(c)),
        Column::Json(c) => Column::Json(bytes(c)),
        Column::Named(c) => Column::Named(bytes(c)),
    }
}

fn expr_field_type(expr: &tipb::Expr) -> Result<FieldType> {
    match &expr.field_type {
        Some(ft) => Ok(FieldType::from_tipb(ft)?),
        None => Err(Error::InvalidExpr("expression without a field type".into())),
    }
}

fn append(
    expr: &tipb::Expr,
    schema: &[FieldType],
    nodes: &mut Vec<RpnNode>,
    depth: usize,
) -> Result<FieldType> {
    if depth > MAX_DEPTH {
        return Err(Error::InvalidExpr(format!(
            "expression nests deeper than {MAX_DEPTH}"
        )));
    }
    let tp = ExprType::try_from(expr.tp.unwrap_or(0))
        .map_err(|_| Error::Unsupported(format!("expression type {}", expr.tp.unwrap_or(0))))?;
    match tp {
        ExprType::ScalarFunc => {
            let sig = ScalarFuncSig::try_from(expr.sig.unwrap_or(0))
                .map_err(|_| Error::Unsupported(format!("function {}", expr.sig.unwrap_or(0))))?;
            let def = functions::lookup(sig).ok_or_else(|| {
                Error::Unsupported(format!("function {} is not implemented", sig.as_str_name()))
            })?;
            if !def.arity.accepts(expr.children.len()) {
                return Err(Error::InvalidExpr(format!(
                    "{} takes {:?} arguments, got {}",
                    def.name,
                    def.arity,
                    expr.children.len()
                )));
            }
            let mut arg_types = Vec::with_capacity(expr.children.len());
            for child in &expr.children {
                arg_types.push(append(child, schema, nodes, depth + 1)?);
            }
            let field_type = expr_field_type(expr)?;
            let meta = FnMeta::new(sig, field_type.clone(), arg_types)?;
            nodes.push(RpnNode::Function { def, meta });
            Ok(field_type)
        }
        ExprType::ColumnRef => {
            let mut val = expr.val();
            let offset = number::decode_i64(&mut val)?;
            let field_type = usize::try_from(offset)
                .ok()
                .and_then(|offset| schema.get(offset))
                .cloned()
                .ok_or_else(|| {
                    Error::InvalidExpr(format!(
                        "column offset {offset} outside a {}-column input",
                        schema.len()
                    ))
                })?;
            nodes.push(RpnNode::ColumnRef {
                offset: offset as usize,
                field_type: field_type.clone(),
            });
            Ok(field_type)
        }
        _ => {
            let field_type = match &expr.field_type {
                Some(ft) => FieldType::from_tipb(ft)?,
                None => constant_default_type(tp),
            };
            let value = decode_constant(tp, expr.val(), &field_type)?;
            nodes.push(RpnNode::Constant {
                value,
                field_type: field_type.clone(),
            });
            Ok(field_type)
        }
    }
}

fn constant_default_type(tp: ExprType) -> FieldType {
    let mysql = match tp {
        ExprType::Int64 | ExprType::Uint64 => FieldTypeTp::LongLong,
        ExprType::Float32 | ExprType::Float64 => FieldTypeTp::Double,
        ExprType::String | ExprType::Bytes => FieldTypeTp::VarString,
        ExprType::MysqlDecimal => FieldTypeTp::NewDecimal,
        ExprType::MysqlDuration => FieldTypeTp::Duration,
        ExprType::MysqlTime => FieldTypeTp::DateTime,
        ExprType::MysqlJson => FieldTypeTp::Json,
        _ => FieldTypeTp::Null,
    };
    let ft = FieldType::new(mysql);
    if tp == ExprType::Uint64 {
        ft.with_flag(basalt_chunk::types::flag::UNSIGNED)
    } else {
        ft
    }
}

/// Decodes a constant's `val` bytes (TiDB's encodings per expression type).
pub fn decode_constant(tp: ExprType, val: &[u8], field_type: &FieldType) -> Result<Datum> {
    let mut input = val;
    let datum = match tp {
        ExprType::Null => Datum::Null,
        ExprType::Int64 => Datum::Int(number::decode_i64(&mut input)?),
        ExprType::Uint64 => Datum::Uint(number::decode_u64(&mut input)?),
        ExprType::Float32 | ExprType::Float64 => Datum::Real(number::decode_f64(&mut input)?),
        ExprType::String | ExprType::Bytes => {
            input = &[];
            Datum::Bytes(val.to_vec())
        }
        ExprType::MysqlDecimal => Datum::Decimal(Decimal::decode_datum_payload(&mut input)?),
        ExprType::MysqlDuration => Datum::Duration(Duration::from_nanos(
            number::decode_i64(&mut input)?,
            field_type.fsp(),
        )?),
        ExprType::MysqlTime => {
            let time_type = match field_type.tp {
                FieldTypeTp::Date => TimeType::Date,
                FieldTypeTp::Timestamp => TimeType::Timestamp,
                _ => TimeType::DateTime,
            };
            Datum::Time(DateTime::from_packed_u64(
                number::decode_u64(&mut input)?,
                time_type,
                field_type.fsp(),
            )?)
        }
        ExprType::MysqlJson => {
            input = &[];
            Datum::Json(Json::from_bytes(val)?)
        }
        other => {
            return Err(Error::Unsupported(format!(
                "constant of type {}",
                other.as_str_name()
            )))
        }
    };
    if !input.is_empty() {
        return Err(Error::InvalidExpr(format!(
            "{} trailing bytes after a {} constant",
            input.len(),
            tp.as_str_name()
        )));
    }
    Ok(datum)
}
