//! The DAG a table scan pushes to Basalt: TableScan, then optional Selection, TopN, Limit,
//! as TiDB builds them, plus a description of each executor for EXPLAIN.

use basalt_chunk::codec::table;
use basalt_proto::tipb::{self, EncodeType, ExecType};

use crate::catalog::TableInfo;

/// DAG flags of a SELECT, as TiDB sets them for a non-strict read (TiDB `stmtctx` bits):
/// in a SELECT, truncation, overflow and division by zero give warnings.
pub const SELECT_FLAGS: u64 = 32 | 2 | 64 | 256;

/// One pushed-down executor, for EXPLAIN.
#[derive(Debug, Clone)]
pub struct CopOperator {
    /// `TableScan`, `Selection`, `Limit`, …
    pub name: &'static str,
    /// What it does (columns, conditions, count).
    pub detail: String,
    /// Estimated output rows.
    pub estimated_rows: f64,
}

/// TiDB's default selectivity of a condition without statistics.
pub const DEFAULT_SELECTIVITY: f64 = 0.8;

/// A pushed-down plan for one table.
#[derive(Debug, Clone)]
pub struct PushedDag {
    /// The request (start_ts comes per execution).
    pub request: tipb::DagRequest,
    /// The key ranges to read.
    pub ranges: Vec<(Vec<u8>, Vec<u8>)>,
    /// The executors, for EXPLAIN.
    pub operators: Vec<CopOperator>,
}

/// Builds the scan DAG of `table` over `columns` (offsets; `None` = the hidden handle).
pub fn scan_dag(
    table: &TableInfo,
    columns: &[Option<usize>],
    conditions: Vec<(tipb::Expr, String)>,
    limit: Option<usize>,
    output_offsets: Vec<u32>,
    row_count: u64,
) -> PushedDag {
    let infos = columns
        .iter()
        .map(|c| match c {
            Some(offset) => table.column_info(*offset),
            None => TableInfo::hidden_handle_info(),
        })
        .collect();
    let names: Vec<String> = columns
        .iter()
        .map(|c| match c {
            Some(offset) => table.columns[*offset].name.clone(),
            None => "_tidb_rowid".to_string(),
        })
        .collect();
    let mut rows = row_count as f64;
    let mut operators = vec![CopOperator {
        name: "TableScan",
        detail: format!("table:{}, columns:[{}]", table.name, names.join(", ")),
        estimated_rows: rows,
    }];
    let mut executors = vec![tipb::Executor {
        tp: Some(ExecType::TypeTableScan as i32),
        tbl_scan: Some(tipb::TableScan {
            table_id: Some(table.id),
            columns: infos,
            primary_column_ids: table.primary_column_ids(),
            ..Default::default()
        }),
        ..Default::default()
    }];
    if !conditions.is_empty() {
        rows *= DEFAULT_SELECTIVITY.powi(conditions.len() as i32);
        let described: Vec<String> = conditions.iter().map(|(_, text)| text.clone()).collect();
        operators.push(CopOperator {
            name: "Selection",
            detail: described.join(" AND "),
            estimated_rows: rows,
        });
        executors.push(tipb::Executor {
            tp: Some(ExecType::TypeSelection as i32),
            selection: Some(Box::new(tipb::Selection {
                conditions: conditions.into_iter().map(|(expr, _)| expr).collect(),
                ..Default::default()
            })),
            ..Default::default()
        });
    }
    if let Some(limit) = limit {
        rows = rows.min(limit as f64);
        operators.push(CopOperator {
            name: "Limit",
            detail: format!("limit:{limit}"),
            estimated_rows: rows,
        });
        executors.push(tipb::Executor {
            tp: Some(ExecType::TypeLimit as i32),
            limit: Some(Box::new(tipb::Limit {
                limit: Some(limit as u64),
                ..Default::default()
            })),
            ..Default::default()
        });
    }
    let request = tipb::DagRequest {
        executors,
        output_offsets,
        encode_type: Some(EncodeType::TypeChunk as i32),
        flags: Some(SELECT_FLAGS),
        time_zone_offset: Some(0),
        time_zone_name: Some("UTC".into()),
        collect_execution_summaries: Some(true),
        ..Default::default()
    };
    PushedDag {
        request,
        ranges: vec![table::record_range(table.id)],
        operators,
    }
}

/// Appends a hash aggregation: its output is the aggregates' partial results, then the group
/// keys, as TiDB expects them.
pub fn push_aggregation(
    dag: &mut PushedDag,
    group_by: Vec<(tipb::Expr, String)>,
    aggregates: Vec<(tipb::Expr, String)>,
    output_columns: usize,
) {
    let rows = dag.operators.last().map_or(0.0, |op| op.estimated_rows);
    // TiDB's estimate without statistics: a group per ten rows, at least one.
    let groups = if group_by.is_empty() {
        1.0
    } else {
        (rows / 10.0).max(1.0)
    };
    let mut detail = Vec::new();
    if !group_by.is_empty() {
        let keys: Vec<&str> = group_by.iter().map(|(_, t)| t.as_str()).collect();
        detail.push(format!("group by:{}", keys.join(", ")));
    }
    let funcs: Vec<&str> = aggregates.iter().map(|(_, t)| t.as_str()).collect();
    detail.push(format!("funcs:{}", funcs.join(", ")));
    dag.operators.push(CopOperator {
        name: "HashAgg",
        detail: detail.join(", "),
        estimated_rows: groups,
    });
    dag.request.executors.push(tipb::Executor {
        tp: Some(ExecType::TypeAggregation as i32),
        aggregation: Some(Box::new(tipb::Aggregation {
            group_by: group_by.into_iter().map(|(e, _)| e).collect(),
            agg_func: aggregates.into_iter().map(|(e, _)| e).collect(),
            ..Default::default()
        })),
        ..Default::default()
    });
    dag.request.output_offsets = (0..output_columns as u32).collect();
}

/// Appends a top-N: the first `limit` rows in `order_by` order (each key with its direction).
pub fn push_top_n(dag: &mut PushedDag, order_by: Vec<(tipb::Expr, bool, String)>, limit: usize) {
    let rows = dag.operators.last().map_or(0.0, |op| op.estimated_rows);
    let keys: Vec<String> = order_by
        .iter()
        .map(|(_, desc, text)| format!("{text}{}", if *desc { " desc" } else { "" }))
        .collect();
    dag.operators.push(CopOperator {
        name: "TopN",
        detail: format!("{}, offset:0, count:{limit}", keys.join(", ")),
        estimated_rows: rows.min(limit as f64),
    });
    dag.request.executors.push(tipb::Executor {
        tp: Some(ExecType::TypeTopN as i32),
        top_n: Some(Box::new(tipb::TopN {
            order_by: order_by
                .into_iter()
                .map(|(expr, desc, _)| tipb::ByItem {
                    expr: Some(expr),
                    desc: Some(desc),
                    ..Default::default()
                })
                .collect(),
            limit: Some(limit as u64),
            ..Default::default()
        })),
        ..Default::default()
    });
}
