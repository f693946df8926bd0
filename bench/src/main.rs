//! `basalt-bench`: Basalt side by side with what a user would pick instead, in one run on one
//! machine, written as Markdown to stdout and `bench/results/latest.md` with a scaling plot.
//!
//! - Analytic: TPC-H lineitem at `--sf` bulk-loaded into a single-node store; TPC-H Q1 and Q6,
//!   a selective `count(*)`, a `GROUP BY l_orderkey` sum and a top-N, pushed down as TiDB
//!   does, through the `Coprocessor` RPC over one region and over `--regions` regions; next to
//!   a bare RocksDB iterator over the same keys in the same store (the row path's limit),
//!   DuckDB with one thread on the same rows, and a plain Rust loop over in-memory columns
//!   (the compute limit). Every path's answer is checked against the plain loop's.
//! - KV: raw and transactional operations through gRPC next to RocksDB in-process.
//! - Scaling: the pushed-down queries at several scale factors, as a table and a PNG.
//! - The user's path: TPC-H written through transactions by the SQL front's loader, some rows
//!   updated and deleted, and queries asked through the SQL front (`user_path`).
//!
//! ```text
//! cargo build --release -p basalt-server -p basalt-bench
//! target/release/basalt-bench                       # SF 1, scaling 0.1,0.3,1,3
//! target/release/basalt-bench --sf 0.1 --scaling 0.01,0.1 --runs 3 --skip-kv
//! ```

mod answer;
mod compute;
mod copr;
mod dag;
mod duckdb;
mod exec;
mod kv;
mod lineitem;
mod load;
mod plot;
mod report;
mod server;
#[cfg(test)]
mod testing;
mod user_path;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

use crate::answer::Answer;
use crate::dag::{Kind, Query};
use crate::report::{mib, mrows, ratio, table, Samples};

/// The same allocator as `basalt-server`, so "executors alone" compares like with like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Flags {
    /// TPC-H scale factor of the main analytic run.
    #[arg(long, default_value_t = 1.0)]
    sf: f64,
    /// Timed runs per measurement (after one warm-up run); the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Regions the table is split into for the second coprocessor measurement.
    #[arg(long, default_value_t = 16)]
    regions: usize,
    /// Coprocessor requests in flight at once (TiDB's distsql concurrency).
    #[arg(long, default_value_t = 4)]
    copr_concurrency: usize,
    /// Scale factors of the scaling run, comma-separated; empty skips it.
    #[arg(long, default_value = "0.1,0.3,1,3")]
    scaling: String,
    /// Scale factors of the user's path (TPC-H loaded by transactions through the SQL front,
    /// queried through it), comma-separated; empty skips it.
    #[arg(long, default_value = "0.01,0.1")]
    user_path: String,
    /// Only run the user's path (`--user-path`) and print its table.
    #[arg(long)]
    user_path_only: bool,
    /// Skip DuckDB.
    #[arg(long)]
    skip_duckdb: bool,
    /// Skip the KV measurements.
    #[arg(long)]
    skip_kv: bool,
    /// KV operations per measurement.
    #[arg(long, default_value_t = 20_000)]
    kv_ops: u64,
    /// Concurrent KV clients.
    #[arg(long, default_value_t = 16)]
    kv_concurrency: u64,
    /// Worker threads of the server's runtime; the KV clients run on a runtime of their own
    /// with the rest of the cores (0: half the cores each, at least one).
    #[arg(long, default_value_t = 0)]
    server_threads: usize,
    /// Where latest.md and the plot go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Where data directories are made (a temporary directory inside it).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Only run the executors in-process over generated rows at `--sf` (no RocksDB, server,
    /// DuckDB or KV) and print their rates: the quick loop for profiling the executors.
    #[arg(long)]
    executors_only: bool,
    /// Only the queries whose name contains this text (for profiling one query).
    #[arg(long, default_value = "")]
    query: String,
    /// Only the KV phases whose name contains this text, each `--runs` times (for profiling
    /// one operation; the writes whose keys the reads check run too).
    #[arg(long, default_value = "")]
    kv_phase: String,
}

/// One query's measurements at one scale factor.
#[derive(Clone)]
struct Measured {
    name: &'static str,
    kind: Kind,
    one_region: Samples,
    many_regions: Option<Samples>,
    /// Server CPU seconds per run over one region.
    cpu_per_run: Option<f64>,
    peak_rss: Option<u64>,
    compute: Samples,
    /// Basalt's executors in-process over rows in memory (main run only).
    executors: Option<Samples>,
    duckdb: Option<Samples>,
    /// The plain loop's answer, which every path must give.
    expected: Answer,
    /// Every path's answer agrees with the plain loop's, or where it does not.
    agree: Result<(), String>,
}

/// One scale factor's analytic run.
#[derive(Clone)]
struct Analytic {
    sf: f64,
    rows: u64,
    load: Duration,
    scan: Samples,
    regions: usize,
    queries: Vec<Measured>,
}

fn now_ts() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // A minute ago: below any timestamp the server's PD hands out.
    (ms - 60_000) << 18
}

async fn measure_async<T, F, Fut>(runs: usize, mut f: F) -> Result<(Samples, T), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut last = f().await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        last = f().await?;
        times.push(started.elapsed());
    }
    Ok((Samples { times }, last))
}

/// Runs `query` over `tasks`: timings, server CPU per run, peak RSS, and the merged answer.
async fn run_copr(
    client: &mut copr::Client,
    server: &server::Server,
    query: &Query,
    tasks: &[copr::Task],
    flags: &Flags,
) -> Result<(Samples, Option<f64>, Option<u64>, Answer), String> {
    let ts = client.tso().await?;
    server.reset_peak_rss();
    let cpu_before = server.cpu_seconds();
    let client_ref = &*client;
    let (samples, responses) = measure_async(flags.runs, || {
        client_ref.run(query, tasks, ts, flags.copr_concurrency)
    })
    .await?;
    let cpu = match (cpu_before, server.cpu_seconds()) {
        (Some(before), Some(after)) => Some((after - before) / (flags.runs + 1) as f64),
        _ => None,
    };
    let answer = answer::merge(query.kind, &responses, &query.output)?;
    Ok((samples, cpu, server.peak_rss(), answer))
}

fn agree_all(checks: &[(&str, Result<(), String>)]) -> Result<(), String> {
    let failures: Vec<String> = checks
        .iter()
        .filter_map(|(path, check)| check.as_ref().err().map(|e| format!("{path}: {e}")))
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// Loads SF `sf`, measures the bare scan, the compute limit and the coprocessor paths; with
/// `kv`, the KV measurements too (on the same server).
async fn analytic(
    flags: &Flags,
    sf: f64,
    many: bool,
    kv: bool,
) -> Result<(Analytic, Option<String>), String> {
    let work = match &flags.work_dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .map_err(|e| format!("a work directory: {e}"))?;
    let data_dir = work.path().join("store");
    let mut loaded = load::load(&data_dir, sf, now_ts(), many)?;
    let in_memory = loaded.pairs.take().map(exec::SortedRows::new);
    let rows = loaded.data.len() as u64;
    eprintln!(
        "SF {sf}: loaded {rows} rows ({:.0} MiB) in {:.1?}",
        loaded.bytes as f64 / (1 << 20) as f64,
        loaded.took
    );
    let scan = {
        let engine = load::open(&data_dir)?;
        let (scan, (seen, _)) = Samples::measure(flags.runs, || load::bare_scan(&engine))?;
        if seen != rows {
            return Err(format!("the bare scan saw {seen} rows, not {rows}"));
        }
        scan
    };
    let queries = selected_queries(flags);
    let server = server::Server::start(&data_dir, threads(flags).server)?;
    let mut client = copr::Client::connect(&server.kv, &server.pd).await?;
    let one = client.tasks().await?;
    let mut measured = Vec::new();
    for query in &queries {
        let (compute, expected) =
            Samples::measure(flags.runs, || Ok(compute::run(query.kind, &loaded.data)))?;
        let (one_region, cpu_per_run, peak_rss, got) =
            run_copr(&mut client, &server, query, &one, flags).await?;
        eprintln!("SF {sf}: {} over one region: {}", query.name, got.summary());
        let mut checks = vec![("one region", answer::check(&got, &expected))];
        let executors = match &in_memory {
            Some(rows) => {
                let (samples, response) = Samples::measure(flags.runs, || exec::run(query, rows))?;
                let local = answer::merge(query.kind, &[response], &query.output)?;
                checks.push(("executors alone", answer::check(&local, &expected)));
                Some(samples)
            }
            None => None,
        };
        measured.push(Measured {
            name: query.name,
            kind: query.kind,
            one_region,
            many_regions: None,
            cpu_per_run,
            peak_rss,
            compute,
            executors,
            duckdb: None,
            agree: agree_all(&checks),
            expected,
        });
    }
    let mut regions = one.len();
    if many && flags.regions > 1 {
        client.split_table(flags.regions, rows).await?;
        let tasks = client.tasks().await?;
        regions = tasks.len();
        for (query, slot) in queries.iter().zip(measured.iter_mut()) {
            let (samples, _, _, got) = run_copr(&mut client, &server, query, &tasks, flags).await?;
            let before = std::mem::replace(&mut slot.agree, Ok(()));
            slot.agree = agree_all(&[
                ("one region", before),
                ("many regions", answer::check(&got, &slot.expected)),
            ]);
            slot.many_regions = Some(samples);
        }
    }
    let kv_report = if kv {
        Some(kv_part(flags, &server, work.path()).await?)
    } else {
        None
    };
    drop(server);
    Ok((
        Analytic {
            sf,
            rows,
            load: loaded.took,
            scan,
            regions,
            queries: measured,
        },
        kv_report,
    ))
}

async fn kv_part(
    flags: &Flags,
    server: &server::Server,
    work: &std::path::Path,
) -> Result<String, String> {
    let options = kv::KvOptions {
        ops: flags.kv_ops,
        concurrency: flags.kv_concurrency,
        value_size: 100,
        sync_log: true,
        batch: 10,
    };
    let (kv_addr, pd_addr) = (server.kv.clone(), server.pd.clone());
    let client_threads = threads(flags).clients;
    let (only, repeat) = (flags.kv_phase.clone(), flags.runs);
    let grpc = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(client_threads)
            .enable_all()
            .build()
            .map_err(|e| format!("the KV clients' runtime: {e}"))?
            .block_on(kv::grpc(&kv_addr, &pd_addr, &options, &only, repeat))
    })
    .await
    .map_err(|e| format!("the KV clients' runtime: {e}"))??;
    let rocks = kv::rocksdb_baseline(&work.join("rocksdb-baseline"), &options)?;
    Ok(kv::markdown(&rocks, &grpc, &options))
}

/// How the machine's cores are shared between the server and the KV clients.
struct Threads {
    /// Worker threads of the server's runtime.
    server: usize,
    /// Worker threads of the KV clients' runtime.
    clients: usize,
}

/// The server gets `--server-threads` (default half the cores) and the KV clients the rest,
/// at least one each: both run on this machine, and a runtime with a thread per core on each
/// side makes them preempt each other (and sleep and wake more) rather than overlap.
fn threads(flags: &Flags) -> Threads {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server = match flags.server_threads {
        0 => (cores / 2).max(1),
        n => n,
    };
    Threads {
        server,
        clients: cores.saturating_sub(server).max(1),
    }
}

/// DuckDB's timings joined to `run`'s queries; DuckDB's scalar answers are checked too.
fn add_duckdb(run: &mut Analytic, flags: &Flags) -> Result<(), String> {
    let queries = dag::queries();
    let duck = duckdb::run(run.sf, flags.runs, &queries)?;
    if duck.rows != run.rows {
        return Err(format!(
            "DuckDB generated {} rows, Basalt {}",
            duck.rows, run.rows
        ));
    }
    for measured in &mut run.queries {
        let Some(times) = duck.queries.get(measured.name) else {
            continue;
        };
        measured.duckdb = Some(Samples {
            times: times.samples.clone(),
        });
        if matches!(measured.kind, Kind::Q6 | Kind::CountFiltered) {
            let value = times
                .answer
                .first()
                .and_then(|row| row.first())
                .map(|v| v.to_string().trim_matches('"').to_string());
            let check = match value.as_deref().map(answer::millionths) {
                Some(Ok(v)) => {
                    let reference = compute_scalar(measured);
                    (Some(v) == reference)
                        .then_some(())
                        .ok_or(format!("DuckDB answered {v}, expected {reference:?}"))
                }
                _ => Err("DuckDB gave no number".to_string()),
            };
            let previous = std::mem::replace(&mut measured.agree, Ok(()));
            measured.agree = agree_all(&[("basalt", previous), ("duckdb", check)]);
        }
    }
    Ok(())
}

/// The plain loop's answer of a one-number query.
fn compute_scalar(measured: &Measured) -> Option<i128> {
    match measured.expected {
        Answer::Scalar(value) => Some(value),
        _ => None,
    }
}

fn analytic_table(run: &Analytic) -> String {
    let mut rows = Vec::new();
    let scan_rate = run.scan.rates(run.rows).0;
    for q in &run.queries {
        let basalt = q.one_region.rates(run.rows).0;
        let compute = q.compute.rates(run.rows).0;
        let duck = q.duckdb.as_ref().map_or(0.0, |d| d.rates(run.rows).0);
        let per_cpu = q
            .cpu_per_run
            .filter(|cpu| *cpu > 0.0)
            .map_or("–".into(), |cpu| {
                format!("{:.2}", run.rows as f64 / cpu / 1e6)
            });
        rows.push(vec![
            q.name.to_string(),
            mrows(&q.one_region, run.rows),
            q.many_regions
                .as_ref()
                .map_or("–".into(), |s| mrows(s, run.rows)),
            per_cpu,
            q.executors
                .as_ref()
                .map_or("–".into(), |s| mrows(s, run.rows)),
            mrows(&run.scan, run.rows),
            q.duckdb.as_ref().map_or("–".into(), |s| mrows(s, run.rows)),
            mrows(&q.compute, run.rows),
            ratio(basalt, scan_rate),
            ratio(basalt, duck),
            ratio(basalt, compute),
            mib(q.peak_rss),
            match &q.agree {
                Ok(()) => "yes".into(),
                Err(e) => format!("NO: {e}"),
            },
        ]);
    }
    let header = [
        "query",
        "Basalt, 1 region",
        &format!("Basalt, {} regions", run.regions),
        "Basalt per server CPU-second",
        "Basalt executors alone",
        "bare RocksDB scan",
        "DuckDB, 1 thread",
        "compute limit",
        "Basalt / scan",
        "Basalt / DuckDB",
        "Basalt / compute",
        "server peak RSS MiB",
        "same answer",
    ];
    table(&header, &rows)
}

fn main() {
    let flags = Flags::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("basalt-bench: {err}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(run(&flags)) {
        eprintln!("basalt-bench: {err}");
        std::process::exit(1);
    }
}

fn scale_factors(list: &str) -> Result<Vec<f64>, String> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| format!("scale factor {s:?}"))
        })
        .collect()
}

/// The user's path at each of `--user-path`'s scale factors.
async fn user_path_runs(flags: &Flags) -> Result<Vec<user_path::UserPathRun>, String> {
    let work_dir = flags.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut runs = Vec::new();
    for sf in scale_factors(&flags.user_path)? {
        runs.push(user_path::run(sf, flags.runs, threads(flags).server, &work_dir).await?);
    }
    Ok(runs)
}

/// The queries `--query` selects (all by default).
fn selected_queries(flags: &Flags) -> Vec<Query> {
    dag::queries()
        .into_iter()
        .filter(|q| q.name.contains(flags.query.as_str()))
        .collect()
}

/// `--executors-only`: each query through `DagRunner` over rows in memory, next to the plain
/// loop, answers checked.
fn executors_only(flags: &Flags) -> Result<(), String> {
    let mut pairs = Vec::new();
    let data = lineitem::generate(flags.sf, |key, row| pairs.push((key, row)));
    let rows = exec::SortedRows::new(pairs);
    let count = data.len() as u64;
    let mut table_rows = Vec::new();
    for query in &selected_queries(flags) {
        let (compute, expected) =
            Samples::measure(flags.runs, || Ok(compute::run(query.kind, &data)))?;
        let (samples, response) = Samples::measure(flags.runs, || exec::run(query, &rows))?;
        let local = answer::merge(query.kind, &[response], &query.output)?;
        table_rows.push(vec![
            query.name.to_string(),
            mrows(&samples, count),
            mrows(&compute, count),
            match answer::check(&local, &expected) {
                Ok(()) => "yes".into(),
                Err(e) => format!("NO: {e}"),
            },
        ]);
    }
    println!(
        "SF {} ({count} rows), executors alone, M rows/s\n\n{}",
        flags.sf,
        table(
            &["query", "executors alone", "compute limit", "same answer"],
            &table_rows
        )
    );
    Ok(())
}

async fn run(flags: &Flags) -> Result<(), String> {
    if flags.executors_only {
        return executors_only(flags);
    }
    if flags.user_path_only {
        let markdown = user_path::render(&user_path_runs(flags).await?);
        println!("{markdown}");
        return Ok(());
    }
    let factors = scale_factors(&flags.scaling)?;
    let (mut main_run, kv_report) = analytic(flags, flags.sf, true, !flags.skip_kv).await?;
    if !flags.skip_duckdb {
        add_duckdb(&mut main_run, flags)?;
    }
    let mut scaling = Vec::new();
    for sf in factors {
        if (sf - flags.sf).abs() < 1e-9 {
            continue;
        }
        let (run, _) = analytic(flags, sf, false, false).await?;
        scaling.push(run);
    }
    let user_runs = user_path_runs(flags).await?;
    let mut markdown = render(flags, &main_run, kv_report.as_deref(), &mut scaling)?;
    if !user_runs.is_empty() {
        markdown.push_str(&user_path::render(&user_runs));
    }
    println!("{markdown}");
    std::fs::create_dir_all(&flags.out).map_err(|e| format!("{}: {e}", flags.out.display()))?;
    let path = flags.out.join("latest.md");
    std::fs::write(&path, &markdown).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("written to {}", path.display());
    Ok(())
}

fn render(
    flags: &Flags,
    main_run: &Analytic,
    kv_report: Option<&str>,
    scaling: &mut Vec<Analytic>,
) -> Result<String, String> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = format!(
        "# basalt-bench\n\n{} on a {cores}-core machine; medians of {} warm runs \
         [slowest–fastest]; rates in millions of lineitem rows per second.\n\n",
        date(),
        flags.runs
    );
    out.push_str(&format!(
        "## Analytic: TPC-H SF {} lineitem, {} rows (bulk load {:.1?})\n\n",
        main_run.sf, main_run.rows, main_run.load
    ));
    out.push_str(&analytic_table(main_run));
    out.push_str(&format!(
        "\nCoprocessor requests: {} at a time. \"Per server CPU-second\": rows over the \
         server's user+system CPU time of one run over one region (one core's worth of \
         work). Executors alone: the same DAG run in-process by `DagRunner` over the rows \
         held in memory (no RocksDB, MVCC or gRPC). Bare scan: one iterator over the \
         table's write records in the same RocksDB (rows are inlined there). Compute \
         limit: a plain loop over in-memory integer columns, one thread.\n",
        flags.copr_concurrency
    ));
    if let Some(kv) = kv_report {
        let threads = threads(flags);
        out.push_str(&format!(
            "\n## KV\n\nThreads: the server's runtime {}, the gRPC clients' runtime {} (the \
             machine's cores split between them); RocksDB one per client.\n\n",
            threads.server, threads.clients
        ));
        out.push_str(kv);
    }
    if !scaling.is_empty() {
        scaling.push(main_run.clone());
        scaling.sort_by(|a, b| a.sf.total_cmp(&b.sf));
        out.push_str(&scaling_section(flags, scaling)?);
    }
    Ok(out)
}

fn scaling_section(flags: &Flags, runs: &[Analytic]) -> Result<String, String> {
    let mut header = vec!["query".to_string()];
    header.extend(
        runs.iter()
            .map(|r| format!("SF {} ({} rows)", r.sf, r.rows)),
    );
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let names: Vec<&'static str> = runs[0].queries.iter().map(|q| q.name).collect();
    let mut rows = Vec::new();
    let mut series = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut row = vec![name.to_string()];
        let mut points = Vec::new();
        for run in runs {
            let seconds = run.queries[i].one_region.median().as_secs_f64();
            row.push(format!("{seconds:.3} s"));
            points.push((run.sf, seconds));
        }
        rows.push(row);
        series.push(plot::Series {
            label: format!("Basalt {name}"),
            points,
        });
    }
    let png = flags.out.join("scaling.png");
    std::fs::create_dir_all(&flags.out).map_err(|e| format!("{}: {e}", flags.out.display()))?;
    plot::scaling_png(
        &png,
        "Pushed-down queries over one region: time by scale factor",
        &series,
    )?;
    Ok(format!(
        "\n## Scaling: median time over one region\n\n{}\n![scaling](scaling.png)\n",
        table(&header_refs, &rows)
    ))
}

fn date() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map_or_else(|| "today".into(), |s| s.trim().to_string())
}
