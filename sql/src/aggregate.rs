//! Pushing aggregation down, the way TiDB splits it: `Aggregate` over a Basalt table scan
//! becomes a final `Aggregate` at the root over a scan whose DAG ends in a hash aggregation, so
//! each region returns one partial row per group (COUNT as a count, SUM as a sum, AVG as count
//! and sum, MIN/MAX as themselves) and the root merges them (counts and sums summed, AVG as
//! sum / count). A projection then restores the original aggregate's names and types, so the
//! plan above does not change. Anything Basalt cannot evaluate exactly leaves the plan as it was.

use std::sync::Arc;

use async_trait::async_trait;
use basalt_chunk::types::{flag, FieldType, FieldTypeTp};
use basalt_proto::tipb::{self, ExprType};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session as CatalogSession;
use datafusion::common::tree_node::Transformed;
use datafusion::datasource::{provider_as_source, TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    cast, col, Aggregate, Expr, LogicalPlan, LogicalPlanBuilder, TableScan,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::TableInfo;
use crate::dag::{push_aggregation, scan_dag, PushedDag};
use crate::provider::{
    on_basalt_scan, BasaltScanExec, BasaltTable, ClusterHandle, ScanColumns, ScanParts,
};
use crate::pushdown::value_to_tipb;

/// The optimizer rule.
#[derive(Debug, Default)]
pub struct PushDownAggregate;

/// How the root finishes one pushed aggregate.
enum Finish {
    /// A single partial column merged with `merge` (COUNT and SUM: sum; MIN; MAX).
    One {
        column: String,
        merge: fn(Expr) -> Expr,
    },
    /// AVG: sum of sums over sum of counts.
    Avg,
}

/// A table scan whose DAG is already built (an aggregation or a top-N pushed into it).
#[derive(Debug)]
pub(crate) struct PushedTable {
    pub(crate) cluster: ClusterHandle,
    pub(crate) table: Arc<TableInfo>,
    pub(crate) dag: PushedDag,
    pub(crate) output: Vec<(DataType, FieldType)>,
    pub(crate) schema: SchemaRef,
}

#[async_trait]
impl TableProvider for PushedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn CatalogSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        // The partial results are read whole; a narrower projection is applied above.
        let scan: Arc<dyn ExecutionPlan> = Arc::new(BasaltScanExec::new(
            self.cluster.clone(),
            Arc::clone(&self.table),
            self.dag.clone(),
            self.output.clone(),
            Arc::clone(&self.schema),
        ));
        match projection {
            Some(p) if p.len() != self.schema.fields().len() => {
                let exprs = p
                    .iter()
                    .map(|&i| {
                        let field = self.schema.field(i);
                        let column: Arc<dyn datafusion::physical_expr::PhysicalExpr> = Arc::new(
                            datafusion::physical_expr::expressions::Column::new(field.name(), i),
                        );
                        (column, field.name().clone())
                    })
                    .collect::<Vec<_>>();
                Ok(Arc::new(
                    datafusion::physical_plan::projection::ProjectionExec::try_new(exprs, scan)?,
                ))
            }
            _ => Ok(scan),
        }
    }
}

fn decimal_type(precision: i32, scale: i32) -> FieldType {
    let mut ft = FieldType::new(FieldTypeTp::NewDecimal);
    ft.flen = precision;
    ft.decimal = scale;
    ft
}

/// The partial column of a SUM over `arg_type`: its TiDB and Arrow types, or `None`.
fn sum_types(arg_type: &DataType) -> Option<(FieldType, DataType)> {
    match arg_type {
        DataType::Int64 | DataType::UInt64 => {
            Some((decimal_type(38, 0), DataType::Decimal128(38, 0)))
        }
        DataType::Decimal128(_, s) => Some((
            decimal_type(38, i32::from(*s)),
            DataType::Decimal128(38, *s),
        )),
        DataType::Float64 => Some((FieldType::new(FieldTypeTp::Double), DataType::Float64)),
        _ => None,
    }
}

fn agg_expr(tp: ExprType, arg: tipb::Expr, ft: &FieldType) -> tipb::Expr {
    tipb::Expr {
        tp: Some(tp as i32),
        children: vec![arg],
        field_type: Some(ft.to_tipb()),
        ..Default::default()
    }
}

fn rewrite(
    agg: &Aggregate,
    scan: &TableScan,
    table: &BasaltTable,
    parts: ScanParts,
) -> Option<LogicalPlan> {
    let info = &table.info;
    let ScanParts {
        offsets,
        conditions,
        ..
    } = parts;
    let resolver = ScanColumns {
        table: info,
        offsets: &offsets,
    };
    // Partial results first (as the coprocessor returns them), then group keys.
    let mut fields: Vec<Field> = Vec::new();
    let mut output: Vec<(DataType, FieldType)> = Vec::new();
    let mut pushed_aggs = Vec::new();
    let mut finishes = Vec::new();
    for (i, expr) in agg.aggr_expr.iter().enumerate() {
        let Expr::AggregateFunction(AggregateFunction { func, params }) = expr.clone().unalias()
        else {
            return None;
        };
        if params.distinct
            || params.filter.is_some()
            || !params.order_by.is_empty()
            || params.args.len() != 1
        {
            return None;
        }
        let arg = value_to_tipb(&params.args[0], &resolver)?;
        let name = func.name().to_ascii_lowercase();
        let mut partial = |suffix: &str, ft: FieldType, dt: DataType| {
            fields.push(Field::new(format!("p{i}_{suffix}"), dt.clone(), true));
            output.push((dt, ft));
        };
        let count_type = FieldType::new(FieldTypeTp::LongLong);
        match name.as_str() {
            "count" => {
                partial("count", count_type.clone(), DataType::Int64);
                pushed_aggs.push((
                    agg_expr(ExprType::Count, arg.expr, &count_type),
                    expr.to_string(),
                ));
                finishes.push(Finish::One {
                    column: format!("p{i}_count"),
                    merge: sum,
                });
            }
            "sum" => {
                let (ft, dt) = sum_types(&arg.data_type)?;
                partial("sum", ft.clone(), dt);
                pushed_aggs.push((agg_expr(ExprType::Sum, arg.expr, &ft), expr.to_string()));
                finishes.push(Finish::One {
                    column: format!("p{i}_sum"),
                    merge: sum,
                });
            }
            "avg" => {
                let (ft, dt) = sum_types(&arg.data_type)?;
                partial("count", count_type, DataType::Int64);
                partial("sum", ft.clone(), dt);
                pushed_aggs.push((agg_expr(ExprType::Avg, arg.expr, &ft), expr.to_string()));
                finishes.push(Finish::Avg);
            }
            "min" | "max" => {
                let mut ft = arg.field_type.clone();
                ft.flag &= !flag::NOT_NULL;
                partial("value", ft.clone(), arg.data_type.clone());
                let (tp, merge): (ExprType, fn(Expr) -> Expr) = if name == "min" {
                    (ExprType::Min, min)
                } else {
                    (ExprType::Max, max)
                };
                pushed_aggs.push((agg_expr(tp, arg.expr, &ft), expr.to_string()));
                finishes.push(Finish::One {
                    column: format!("p{i}_value"),
                    merge,
                });
            }
            _ => return None,
        }
    }
    let mut group_by = Vec::new();
    for (j, expr) in agg.group_expr.iter().enumerate() {
        let key = value_to_tipb(expr, &resolver)?;
        fields.push(Field::new(format!("g{j}"), key.data_type.clone(), true));
        output.push((key.data_type, key.field_type));
        group_by.push((key.expr, expr.to_string()));
    }
    let mut dag = scan_dag(
        info,
        &offsets,
        conditions,
        None,
        Vec::new(),
        table.row_count,
    );
    push_aggregation(&mut dag, group_by, pushed_aggs, output.len());
    let provider = PushedTable {
        cluster: table.cluster.clone(),
        table: Arc::clone(info),
        dag,
        output,
        schema: Arc::new(Schema::new(fields)),
    };
    let builder = LogicalPlanBuilder::scan(
        scan.table_name.clone(),
        provider_as_source(Arc::new(provider)),
        None,
    )
    .ok()?;
    let group_cols: Vec<Expr> = (0..agg.group_expr.len())
        .map(|j| col(format!("g{j}")))
        .collect();
    let mut final_aggs = Vec::new();
    for (i, finish) in finishes.iter().enumerate() {
        match finish {
            Finish::One { column, merge } => {
                final_aggs.push(merge(col(column.as_str())).alias(format!("f{i}")));
            }
            Finish::Avg => {
                final_aggs.push(sum(col(format!("p{i}_sum"))).alias(format!("f{i}_sum")));
                final_aggs.push(sum(col(format!("p{i}_count"))).alias(format!("f{i}_count")));
            }
        }
    }
    let merged = builder.aggregate(group_cols, final_aggs).ok()?;
    let schema = agg.schema.clone();
    let mut projection = Vec::new();
    for j in 0..agg.group_expr.len() {
        let (qualifier, field) = schema.qualified_field(j);
        projection.push(
            cast(col(format!("g{j}")), field.data_type().clone())
                .alias_qualified(qualifier.cloned(), field.name()),
        );
    }
    for (i, finish) in finishes.iter().enumerate() {
        let (qualifier, field) = schema.qualified_field(agg.group_expr.len() + i);
        let value = match finish {
            Finish::One { .. } => col(format!("f{i}")),
            Finish::Avg => {
                let count = col(format!("f{i}_count"));
                match field.data_type() {
                    DataType::Float64 => {
                        cast(col(format!("f{i}_sum")), DataType::Float64)
                            / cast(count, DataType::Float64)
                    }
                    // Arrow divides decimals at the dividend's scale + 4, DataFusion's AVG
                    // scale; 34 digits leave room for the 4 within Decimal128's 38.
                    DataType::Decimal128(_, s) => {
                        cast(col(format!("f{i}_sum")), DataType::Decimal128(34, *s - 4))
                            / cast(count, DataType::Decimal128(20, 0))
                    }
                    _ => return None,
                }
            }
        };
        projection.push(
            cast(value, field.data_type().clone())
                .alias_qualified(qualifier.cloned(), field.name()),
        );
    }
    merged.project(projection).ok()?.build().ok()
}

impl OptimizerRule for PushDownAggregate {
    fn name(&self) -> &str {
        "basalt_push_down_aggregate"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> DfResult<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(agg) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let rewritten = on_basalt_scan(&agg.input, |scan, table, parts| {
            rewrite(agg, scan, table, parts)
        });
        match rewritten {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(plan)),
        }
    }
}
