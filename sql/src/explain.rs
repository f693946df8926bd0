//! EXPLAIN and EXPLAIN ANALYZE in TiDB's shape: one row per operator with `id`, `estRows`,
//! `task` (`root` when the SQL front runs it, `cop[basalt]` when Basalt runs it pushed down),
//! `operator info`, and with ANALYZE `actRows`, `time` and `loops`. Pushed-down operators'
//! real counts are the coprocessor's execution summaries summed over every region.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::{displayable, ExecutionPlan};

use crate::error::Result;
use crate::provider::BasaltScanExec;

struct Line {
    id: String,
    est_rows: String,
    act_rows: String,
    task: String,
    info: String,
    time: String,
    loops: String,
}

fn format_duration(ns: u64) -> String {
    if ns >= 1_000_000_000 {
        format!("{:.2}s", ns as f64 / 1e9)
    } else if ns >= 1_000_000 {
        format!("{:.2}ms", ns as f64 / 1e6)
    } else {
        format!("{:.2}µs", ns as f64 / 1e3)
    }
}

fn walk(plan: &Arc<dyn ExecutionPlan>, depth: usize, analyze: bool, out: &mut Vec<Line>) {
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}└─", "  ".repeat(depth - 1))
    };
    let any: &dyn std::any::Any = plan.as_ref();
    let scan = any.downcast_ref::<BasaltScanExec>();
    // A scan's estimate is its last pushed-down executor's; other operators show what
    // DataFusion's statistics know.
    #[allow(deprecated)]
    let est_rows = match scan.and_then(|s| s.cop_operators().last()) {
        Some(last) => format!("{:.2}", last.estimated_rows),
        None => plan
            .partition_statistics(None)
            .ok()
            .and_then(|s| s.num_rows.get_value().copied())
            .map_or_else(|| "N/A".to_string(), |n| format!("{n}.00")),
    };
    let metrics = plan.metrics();
    let (act_rows, time) = match (&metrics, analyze) {
        (Some(m), true) => (
            m.output_rows().map_or("N/A".into(), |r| r.to_string()),
            m.elapsed_compute()
                .map_or("N/A".into(), |t| format_duration(t as u64)),
        ),
        _ => (String::new(), String::new()),
    };
    let info = displayable(plan.as_ref()).one_line().to_string();
    let info = info.trim().to_string();
    let loops = if analyze {
        "1".to_string()
    } else {
        String::new()
    };
    out.push(Line {
        id: format!("{indent}{}", plan.name()),
        est_rows,
        act_rows,
        task: "root".into(),
        info,
        time,
        loops,
    });
    if let Some(scan) = scan {
        let runtime = scan.runtime();
        let runtime = runtime.lock();
        let operators = scan.cop_operators();
        // TiDB prints the pushed-down chain top-down: the last executor first.
        for (level, (index, op)) in operators.iter().enumerate().rev().enumerate() {
            let stats = runtime.operators.get(index).cloned().unwrap_or_default();
            out.push(Line {
                id: format!("{}└─{}", "  ".repeat(depth + level), op.name),
                est_rows: format!("{:.2}", op.estimated_rows),
                act_rows: if analyze {
                    stats.rows.to_string()
                } else {
                    String::new()
                },
                task: "cop[basalt]".into(),
                info: op.detail.clone(),
                time: if analyze {
                    format_duration(stats.time_ns)
                } else {
                    String::new()
                },
                loops: if analyze {
                    stats.loops.to_string()
                } else {
                    String::new()
                },
            });
        }
    }
    for child in plan.children() {
        walk(child, depth + 1, analyze, out);
    }
}

/// The EXPLAIN table of a physical plan; with `analyze` the plan must have run.
pub fn explain_table(
    plan: &Arc<dyn ExecutionPlan>,
    analyze: bool,
) -> Result<(SchemaRef, RecordBatch)> {
    let mut lines = Vec::new();
    walk(plan, 0, analyze, &mut lines);
    let mut names = vec!["id", "estRows"];
    if analyze {
        names.push("actRows");
    }
    names.push("task");
    if analyze {
        names.extend(["time", "loops"]);
    }
    names.push("operator info");
    let schema: SchemaRef = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let column = |f: &dyn Fn(&Line) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(lines.iter().map(f)))
    };
    let mut columns = vec![column(&|l| &l.id), column(&|l| &l.est_rows)];
    if analyze {
        columns.push(column(&|l| &l.act_rows));
    }
    columns.push(column(&|l| &l.task));
    if analyze {
        columns.push(column(&|l| &l.time));
        columns.push(column(&|l| &l.loops));
    }
    columns.push(column(&|l| &l.info));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
        .map_err(datafusion::error::DataFusionError::from)?;
    Ok((schema, batch))
}
