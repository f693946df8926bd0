//! The path an analyst takes, measured as taken: a fresh single-node server, TPC-H written by
//! the SQL front's loader (what `basalt load tpch` runs: rows inserted by transactions, which
//! leave lock-CF tombstones behind), then some rows updated and deleted (several versions per
//! key), and the queries asked through the SQL front (what `basalt sql` runs: DataFusion
//! plans, the scan pushed down as paged coprocessor calls). The bulk-loaded tables elsewhere in
//! the bench hold one committed version per key and are read by raw coprocessor calls; this
//! section tells how far the user's path is from that.

use std::path::Path;
use std::time::{Duration, Instant};

use basalt_sql::session::{Output, Session};
use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::array_value_to_string;

use crate::measure_async;
use crate::report::{mrows, table, Samples};
use crate::server::Server;

/// The queries of this section: name and SQL.
const QUERIES: [(&str, &str); 3] = [
    (
        "TPC-H Q1",
        include_str!("../../sql-tests/tpch/queries/q01.sql"),
    ),
    (
        "TPC-H Q6",
        include_str!("../../sql-tests/tpch/queries/q06.sql"),
    ),
    (
        "count(*) where l_quantity < 2",
        "SELECT COUNT(*) FROM lineitem WHERE l_quantity < 2",
    ),
];

/// Rows rewritten after the load (a new version each), and rows deleted.
const UPDATE: &str = "UPDATE lineitem SET l_comment = 'rewritten' WHERE l_orderkey % 50 = 7";
const DELETE: &str = "DELETE FROM lineitem WHERE l_orderkey % 100 = 3";

/// One scale factor's run.
pub struct UserPathRun {
    /// The scale factor.
    pub sf: f64,
    /// lineitem's rows once loaded, updated and deleted.
    pub rows: u64,
    /// How long loading the eight tables took.
    pub load: Duration,
    /// lineitem rows updated.
    pub updated: u64,
    /// lineitem rows deleted.
    pub deleted: u64,
    /// Each query: its name, timings and answer (first row, printed).
    pub queries: Vec<(&'static str, Samples, String)>,
}

async fn affected(session: &Session, sql: &str) -> Result<u64, String> {
    match session
        .execute(sql)
        .await
        .map_err(|e| format!("{sql}: {e}"))?
    {
        Output::Affected(rows) => Ok(rows),
        _ => Err(format!("{sql}: no row count")),
    }
}

/// The first row of `sql`'s answer, printed, and how many rows it had.
async fn first_row(session: &Session, sql: &str) -> Result<(String, usize), String> {
    let Output::Rows { batches, .. } = session.execute(sql).await.map_err(|e| e.to_string())?
    else {
        return Err("a query without rows".into());
    };
    let count = batches.iter().map(|b| b.num_rows()).sum();
    let first = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|batch| {
            batch
                .columns()
                .iter()
                .map(|column| {
                    if column.is_null(0) {
                        Ok("NULL".to_string())
                    } else {
                        array_value_to_string(column, 0)
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|values| values.join(" | "))
        })
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    Ok((first, count))
}

/// Loads TPC-H at `sf` through the SQL front into a fresh server under `work_dir`, rewrites
/// and deletes some rows, and times `QUERIES` `runs` times each.
pub async fn run(
    sf: f64,
    runs: usize,
    worker_threads: usize,
    work_dir: &Path,
) -> Result<UserPathRun, String> {
    let dir = tempfile::tempdir_in(work_dir).map_err(|e| format!("a work directory: {e}"))?;
    let server = Server::start(&dir.path().join("store"), worker_threads)?;
    measure(&server.pd, sf, runs).await
}

/// `run` against the cluster whose PD is at `pd` (its TPC-H tables are replaced).
async fn measure(pd: &str, sf: f64, runs: usize) -> Result<UserPathRun, String> {
    let session = Session::connect(pd)
        .await
        .map_err(|e| format!("connecting the SQL front: {e}"))?;
    let started = Instant::now();
    let loaded = basalt_sql::tpch::load(&session, sf, true)
        .await
        .map_err(|e| format!("loading TPC-H SF {sf}: {e}"))?;
    let load = started.elapsed();
    let updated = affected(&session, UPDATE).await?;
    let deleted = affected(&session, DELETE).await?;
    let (count, _) = first_row(&session, "SELECT COUNT(*) FROM lineitem").await?;
    let rows: u64 = count
        .trim()
        .parse()
        .map_err(|_| format!("count(*) answered {count:?}"))?;
    let written = loaded
        .iter()
        .find(|(table, _)| table == "lineitem")
        .map_or(0, |(_, rows)| *rows);
    if rows + deleted != written {
        return Err(format!(
            "lineitem holds {rows} rows after {written} written and {deleted} deleted"
        ));
    }
    eprintln!(
        "user path SF {sf}: loaded in {load:.1?}, {updated} rows updated, {deleted} deleted, \
         {rows} left"
    );
    let mut queries = Vec::new();
    for (name, sql) in QUERIES {
        let (samples, (answer, answer_rows)) =
            measure_async(runs, || first_row(&session, sql)).await?;
        if answer_rows == 0 {
            return Err(format!("{name} answered no rows"));
        }
        eprintln!("user path SF {sf}: {name}: {:.3?}", samples.median());
        queries.push((name, samples, answer));
    }
    Ok(UserPathRun {
        sf,
        rows,
        load,
        updated,
        deleted,
        queries,
    })
}

/// The section's Markdown: one table of rates by scale factor, and how each store was made.
pub fn render(runs: &[UserPathRun]) -> String {
    let mut header = vec!["query".to_string()];
    header.extend(
        runs.iter()
            .map(|r| format!("SF {} ({} rows)", r.sf, r.rows)),
    );
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    if let Some(first) = runs.first() {
        for (at, (name, _, _)) in first.queries.iter().enumerate() {
            let mut row = vec![name.to_string()];
            for run in runs {
                row.push(match run.queries.get(at) {
                    Some((_, samples, _)) => format!(
                        "{} ({:.3} s)",
                        mrows(samples, run.rows),
                        samples.median().as_secs_f64()
                    ),
                    None => String::new(),
                });
            }
            rows.push(row);
        }
    }
    let mut out = format!(
        "\n## The user's path: `basalt load tpch`, then `basalt sql`\n\n\
         M lineitem rows/s (median time), each query planned by the SQL front and pushed \
         down as paged coprocessor calls, over tables written by transactions, with \
         `{UPDATE}` and `{DELETE}` run after the load.\n\n{}\n",
        table(&header_refs, &rows)
    );
    for run in runs {
        out.push_str(&format!(
            "- SF {}: the eight tables loaded in {:.1?}, {} lineitem rows updated, {} \
             deleted; answers: {}\n",
            run.sf,
            run.load,
            run.updated,
            run.deleted,
            run.queries
                .iter()
                .map(|(name, _, answer)| format!("{name} `{answer}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestServer;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_user_path_loads_rewrites_and_answers() {
        let server = TestServer::start().await;
        let run = measure(&server.pd(), 0.01, 1).await.unwrap();
        assert!(
            run.updated > 0 && run.deleted > 0,
            "{} / {}",
            run.updated,
            run.deleted
        );
        assert!(run.rows > 50_000, "{} rows", run.rows);
        let names: Vec<&str> = run.queries.iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names, QUERIES.map(|(name, _)| name));
        // Q1's first group is (A, F) with a quantity sum; Q6 and the count are numbers.
        assert!(
            run.queries[0].2.starts_with("A | F | "),
            "{}",
            run.queries[0].2
        );
        for (name, _, answer) in &run.queries[1..] {
            assert!(answer.trim().parse::<f64>().is_ok(), "{name}: {answer}");
        }
        let markdown = render(&[run]);
        assert!(markdown.contains("| TPC-H Q6 |"), "{markdown}");
        server.shut_down().await;
    }
}
