//! `basalt`: the command line of Basalt's SQL front. Every subcommand talks to a cluster
//! through its PD (`--pd`, default 127.0.0.1:2379):
//!
//! - `basalt sql [-e SQL] [--format table|csv|json]`: run statements, or an interactive shell;
//! - `basalt load tpch --sf N`: generate and load TPC-H;
//! - `basalt playground`: start a single node with embedded PD, load TPC-H, show a few queries
//!   with EXPLAIN ANALYZE, and keep serving until Ctrl-C;
//! - `basalt tpch-check [--dir sql-tests/tpch]`: run the 22 TPC-H queries and compare with
//!   DuckDB's answers;
//! - `basalt slt FILE...`: run sqllogictest files, ending with `N passed, M failed`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Instant;

use basalt_sql::format::{render, Format};
use basalt_sql::{slt, tpch, tpch_check, Output, Session};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "basalt", version, about = "Basalt's SQL front")]
struct Cli {
    /// The PD of the cluster.
    #[arg(long, global = true, default_value = "127.0.0.1:2379")]
    pd: String,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run SQL: the statements of `-e`, or an interactive shell.
    Sql {
        /// Statements to run instead of the shell.
        #[arg(short = 'e', long = "execute")]
        execute: Option<String>,
        /// How results are printed.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Generate and load a data set.
    Load {
        #[command(subcommand)]
        dataset: Dataset,
    },
    /// Start a single node, load TPC-H, run sample queries, and serve until Ctrl-C.
    Playground {
        /// Data directory (default: a new temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// TPC-H scale factor to load.
        #[arg(long, default_value = "0.01")]
        sf: f64,
    },
    /// Run the TPC-H queries of DIR/queries and compare with DIR/answers (load TPC-H first).
    TpchCheck {
        /// The directory holding `queries/qNN.sql` and `answers/qNN.csv`.
        #[arg(long, default_value = "sql-tests/tpch")]
        dir: PathBuf,
    },
    /// Run sqllogictest files.
    Slt {
        /// `.slt` / `.test` files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Failures to print per file.
        #[arg(long, default_value = "5")]
        show: usize,
        /// Seconds a record may run before it counts as failed.
        #[arg(long, default_value = "30")]
        record_timeout: u64,
    },
}

#[derive(Subcommand)]
enum Dataset {
    /// TPC-H, generated with tpchgen.
    Tpch {
        /// Scale factor (1 = about 1 GB).
        #[arg(long, default_value = "0.01")]
        sf: f64,
    },
}

fn print_output(output: Output, format: Format, started: Instant) -> basalt_sql::Result<()> {
    match output {
        Output::Rows { schema, batches } => {
            let text = render(&schema, &batches, format)?;
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            if format == Format::Table {
                let _ = writeln!(stdout, "({:.3} sec)", started.elapsed().as_secs_f64());
            }
        }
        Output::Affected(rows) if format == Format::Table => {
            println!(
                "Query OK, {rows} row(s) affected ({:.3} sec)",
                started.elapsed().as_secs_f64()
            );
        }
        Output::Done if format == Format::Table => {
            println!("Query OK ({:.3} sec)", started.elapsed().as_secs_f64());
        }
        _ => {}
    }
    Ok(())
}

/// Runs the statements of `sql` one by one, printing each result as it completes; stops at
/// the first error.
async fn run_statements(session: &Session, sql: &str, format: Format) -> basalt_sql::Result<()> {
    for statement in basalt_sql::session::parse(sql)? {
        let started = Instant::now();
        let output = session.execute_statement(statement).await?;
        print_output(output, format, started)?;
    }
    Ok(())
}

async fn shell(session: &Session, format: Format) -> basalt_sql::Result<()> {
    let mut editor = rustyline::DefaultEditor::new()
        .map_err(|e| basalt_sql::Error::InvalidValue(format!("terminal: {e}")))?;
    let history = std::env::var_os("HOME").map(|h| Path::new(&h).join(".basalt_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "basalt> "
        } else {
            "     -> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && matches!(trimmed, "exit" | "quit" | "\\q") {
                    break;
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if !trimmed.ends_with(';') {
                    continue;
                }
                let _ = editor.add_history_entry(buffer.trim());
                if let Err(err) = run_statements(session, &buffer, format).await {
                    eprintln!("ERROR: {err}");
                }
                buffer.clear();
            }
            Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
            Err(_) => break,
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

/// The `basalt-server` binary: `$BASALT_SERVER`, or next to this executable.
fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BASALT_SERVER") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .map(|exe| exe.with_file_name("basalt-server"))
        .unwrap_or_else(|_| PathBuf::from("basalt-server"))
}

/// Starts a server on `data_dir` and waits for its READY line; returns it and its PD address.
fn start_server(data_dir: &Path) -> Result<(Child, String), String> {
    let binary = server_binary();
    let mut child = Command::new(&binary)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--log", "warn"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("no server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(rest) = line.strip_prefix("READY ") {
            let pd = rest
                .split_whitespace()
                .find_map(|field| field.strip_prefix("pd="))
                .ok_or("READY line without pd=")?
                .to_string();
            // Keep draining the server's stdout so it never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Ok((child, pd));
        }
    }
    let _ = child.kill();
    Err("basalt-server exited before it was ready".into())
}

const SAMPLE_QUERIES: [&str; 3] = [
    "SELECT l_returnflag, l_linestatus, SUM(l_quantity) AS sum_qty, SUM(l_extendedprice) AS sum_base_price, COUNT(*) AS count_order FROM lineitem WHERE l_shipdate <= DATE '1998-09-02' GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus",
    "SELECT SUM(l_extendedprice * l_discount) AS revenue FROM lineitem WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24",
    "SELECT o_orderpriority, COUNT(*) AS order_count FROM orders WHERE o_orderdate >= DATE '1993-07-01' AND o_orderdate < DATE '1993-10-01' GROUP BY o_orderpriority ORDER BY o_orderpriority",
];

async fn playground(data_dir: Option<PathBuf>, sf: f64) -> Result<(), String> {
    let temp;
    let dir = match data_dir {
        Some(dir) => dir,
        None => {
            temp = std::env::temp_dir().join(format!("basalt-playground-{}", std::process::id()));
            temp.clone()
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (mut child, pd) = start_server(&dir)?;
    println!("Basalt is up: PD at {pd}, data in {}", dir.display());
    let result = async {
        let session = Session::connect(&pd).await.map_err(|e| e.to_string())?;
        println!("Loading TPC-H at scale factor {sf}…");
        tpch::load(&session, sf, false)
            .await
            .map_err(|e| e.to_string())?;
        for query in SAMPLE_QUERIES {
            println!("\n{query};");
            let started = Instant::now();
            let output = session.execute(query).await.map_err(|e| e.to_string())?;
            print_output(output, Format::Table, started).map_err(|e| e.to_string())?;
            println!("EXPLAIN ANALYZE:");
            let started = Instant::now();
            let output = session
                .execute(&format!("EXPLAIN ANALYZE {query}"))
                .await
                .map_err(|e| e.to_string())?;
            print_output(output, Format::Table, started).map_err(|e| e.to_string())?;
        }
        println!(
            "\nServing until Ctrl-C. Try: basalt sql --pd {pd} -e \"SELECT COUNT(*) FROM lineitem\""
        );
        let _ = tokio::signal::ctrl_c().await;
        Ok::<(), String>(())
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // DataFusion plans recursively; give every thread room for deep queries.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ERROR: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match tokio::spawn(run_cli(cli)).await {
            Ok(code) => code,
            Err(err) => {
                eprintln!("ERROR: {err}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run_cli(cli: Cli) -> ExitCode {
    let outcome: Result<(), String> = match cli.command {
        Commands::Playground { data_dir, sf } => playground(data_dir, sf).await,
        command => {
            let session = match Session::connect(&cli.pd).await {
                Ok(session) => session,
                Err(err) => {
                    eprintln!("ERROR: cannot reach PD at {}: {err}", cli.pd);
                    return ExitCode::FAILURE;
                }
            };
            run(&session, command).await
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !err.is_empty() {
                eprintln!("ERROR: {err}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(session: &Session, command: Commands) -> Result<(), String> {
    match command {
        Commands::Sql {
            execute: Some(sql),
            format,
        } => run_statements(session, &sql, format)
            .await
            .map_err(|e| e.to_string()),
        Commands::Sql {
            execute: None,
            format,
        } => shell(session, format).await.map_err(|e| e.to_string()),
        Commands::Load {
            dataset: Dataset::Tpch { sf },
        } => {
            let started = Instant::now();
            let loaded = tpch::load(session, sf, false)
                .await
                .map_err(|e| e.to_string())?;
            let total: u64 = loaded.iter().map(|(_, rows)| rows).sum();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "loaded {total} rows in {secs:.1} s ({:.0} rows/s)",
                total as f64 / secs.max(1e-3)
            );
            Ok(())
        }
        Commands::TpchCheck { dir } => {
            let outcomes = tpch_check::check(session, &dir)
                .await
                .map_err(|e| e.to_string())?;
            let failed = outcomes.iter().filter(|o| !o.passed).count();
            for outcome in &outcomes {
                let verdict = if outcome.passed { "ok" } else { "FAILED" };
                println!(
                    "{}: {verdict} ({} ms) {}",
                    outcome.name, outcome.millis, outcome.detail
                );
            }
            println!("{} passed, {failed} failed", outcomes.len() - failed);
            if failed > 0 {
                return Err(format!("{failed} TPC-H queries differ from the answers"));
            }
            Ok(())
        }
        Commands::Slt {
            files,
            show,
            record_timeout,
        } => {
            let (mut passed, mut failed) = (0, 0);
            for file in &files {
                let timeout = std::time::Duration::from_secs(record_timeout.max(1));
                let result = slt::run_file(session, file, show, timeout)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "{}: {} passed, {} failed",
                    file.display(),
                    result.passed,
                    result.failed
                );
                passed += result.passed;
                failed += result.failed;
            }
            println!("{passed} passed, {failed} failed");
            if failed > 0 {
                // The counts above are the report; the exit status says whether all passed.
                return Err(String::new());
            }
            Ok(())
        }
        Commands::Playground { .. } => unreachable!("handled before connecting"),
    }
}
