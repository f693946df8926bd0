//! DuckDB on the same rows: `scripts/duckdb_bench.py` generates lineitem with DuckDB's dbgen
//! (the rows `tpchgen` reproduces) and times each query with one thread.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::dag::Query;

/// DuckDB's timings of one query, and the first rows of its answer (as JSON values).
pub struct DuckTimes {
    pub samples: Vec<Duration>,
    pub answer: Vec<Vec<serde_json::Value>>,
}

/// What a DuckDB run measured.
pub struct DuckRun {
    pub rows: u64,
    pub queries: HashMap<String, DuckTimes>,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/duckdb_bench.py")
}

/// Runs every query `runs` times in DuckDB at `sf`.
pub fn run(sf: f64, runs: usize, queries: &[Query]) -> Result<DuckRun, String> {
    let list: Vec<serde_json::Value> = queries
        .iter()
        .map(|q| serde_json::json!({"name": q.name, "sql": q.sql}))
        .collect();
    let mut child = Command::new("python3")
        .arg(script())
        .args([sf.to_string(), runs.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting python3: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(serde_json::Value::Array(list).to_string().as_bytes())
        .map_err(|e| format!("writing the queries: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("running DuckDB: {e}"))?;
    if !output.status.success() {
        return Err(format!("the DuckDB script failed: {}", output.status));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("reading DuckDB's answer: {e}"))?;
    let rows = json["rows"]
        .as_u64()
        .ok_or("DuckDB reported no row count")?;
    let mut out = HashMap::new();
    let measured = json["queries"].as_object().ok_or("no queries measured")?;
    for (name, entry) in measured {
        let samples = entry["seconds"]
            .as_array()
            .ok_or("no timings")?
            .iter()
            .filter_map(serde_json::Value::as_f64)
            .map(Duration::from_secs_f64)
            .collect();
        let answer = entry["answer"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| row.as_array().cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        out.insert(name.clone(), DuckTimes { samples, answer });
    }
    Ok(DuckRun { rows, queries: out })
}
