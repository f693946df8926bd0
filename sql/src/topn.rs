//! Pushing ORDER BY … LIMIT down: a `Sort` with a fetch directly over a Basalt table scan gets
//! a TopN in the scan's DAG, so each region returns at most `limit` rows; the root still sorts
//! and limits the union. Pushed only when Basalt orders exactly as the root does: keys Basalt
//! evaluates, and NULLs where MySQL puts them (first ascending, last descending), which the
//! session's default null ordering gives, or a column that cannot be NULL.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::datasource::provider_as_source;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, Sort, TableScan};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::aggregate::PushedTable;
use crate::dag::{push_top_n, scan_dag};
use crate::provider::{on_basalt_scan, scan_output, BasaltTable, ScanColumns, ScanParts};
use crate::pushdown::value_to_tipb;

/// The optimizer rule.
#[derive(Debug, Default)]
pub struct PushDownTopN;

fn rewrite(
    sort: &Sort,
    scan: &TableScan,
    table: &BasaltTable,
    parts: ScanParts,
    limit: usize,
) -> Option<LogicalPlan> {
    let info = &table.info;
    let ScanParts {
        projected,
        offsets,
        conditions,
    } = parts;
    let resolver = ScanColumns {
        table: info,
        offsets: &offsets,
    };
    let mut order_by = Vec::with_capacity(sort.expr.len());
    for key in &sort.expr {
        let mysql_nulls = key.asc == key.nulls_first;
        let never_null = match &key.expr {
            Expr::Column(column) => scan
                .projected_schema
                .field_with_unqualified_name(&column.name)
                .is_ok_and(|f| !f.is_nullable()),
            _ => false,
        };
        if !mysql_nulls && !never_null {
            return None;
        }
        let value = value_to_tipb(&key.expr, &resolver)?;
        order_by.push((value.expr, !key.asc, key.expr.to_string()));
    }
    let output_offsets = (0..projected.len().max(1) as u32).collect();
    let mut dag = scan_dag(
        info,
        &offsets,
        conditions,
        None,
        output_offsets,
        table.row_count,
    );
    push_top_n(&mut dag, order_by, limit);
    let output = scan_output(info, &projected, &offsets);
    let provider = PushedTable {
        cluster: table.cluster.clone(),
        table: Arc::clone(info),
        dag,
        output,
        schema: Arc::clone(scan.projected_schema.inner()),
    };
    let new_scan = LogicalPlanBuilder::scan(
        scan.table_name.clone(),
        provider_as_source(Arc::new(provider)),
        None,
    )
    .ok()?
    .build()
    .ok()?;
    Some(LogicalPlan::Sort(Sort {
        expr: sort.expr.clone(),
        input: Arc::new(new_scan),
        fetch: sort.fetch,
    }))
}

impl OptimizerRule for PushDownTopN {
    fn name(&self) -> &str {
        "basalt_push_down_top_n"
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
        let LogicalPlan::Sort(sort) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let Some(limit) = sort.fetch else {
            return Ok(Transformed::no(plan));
        };
        let rewritten = on_basalt_scan(&sort.input, |scan, table, parts| {
            rewrite(sort, scan, table, parts, limit)
        });
        match rewritten {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(plan)),
        }
    }
}
