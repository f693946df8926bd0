//! `basalt-server`: a single-node Basalt store with an embedded PD.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use basalt_server::Config;
use clap::Parser;

/// Command-line flags; each overrides the config file.
#[derive(Debug, Parser)]
#[command(
    name = "basalt-server",
    version,
    about = "A TiKV-compatible store with an embedded PD"
)]
struct Flags {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (default ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// KV gRPC address (default 127.0.0.1:20160).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Address advertised to PD and clients (default: the bound KV address).
    #[arg(long)]
    advertise_addr: Option<String>,
    /// Where the embedded PD listens (default 127.0.0.1:2379).
    #[arg(long)]
    pd_addr: Option<SocketAddr>,
    /// Metrics HTTP address (default 127.0.0.1:20180).
    #[arg(long)]
    status_addr: Option<SocketAddr>,
    /// Sync the WAL on every write (default true).
    #[arg(long)]
    sync_log: Option<bool>,
    /// Join the cluster of the PD at this address (host:port) instead of embedding a PD.
    #[arg(long)]
    join_pd: Option<String>,
    /// Threads of the async runtime serving gRPC (default: one per core).
    #[arg(long)]
    worker_threads: Option<usize>,
    /// Log filter, e.g. `info` or `basalt_storage=debug` (default from RUST_LOG, else info).
    #[arg(long)]
    log: Option<String>,
}

/// mimalloc instead of glibc's malloc: the coprocessor's per-batch buffers made glibc's
/// allocator a quarter of the server's time in the analytic benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let flags = Flags::parse();
    let filter = flags
        .log
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .init();
    let mut config = match &flags.config {
        Some(path) => match Config::from_file(path) {
            Ok(config) => config,
            Err(err) => {
                eprintln!("basalt-server: {err}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if let Some(value) = flags.data_dir {
        config.data_dir = value;
    }
    if let Some(value) = flags.addr {
        config.addr = value;
    }
    if let Some(value) = flags.advertise_addr {
        config.advertise_addr = Some(value);
    }
    if let Some(value) = flags.pd_addr {
        config.pd_addr = value;
    }
    if let Some(value) = flags.status_addr {
        config.status_addr = value;
    }
    if let Some(value) = flags.join_pd {
        config.join_pd = Some(value);
    }
    if let Some(value) = flags.sync_log {
        config.sync_log = value;
    }
    if let Some(value) = flags.worker_threads {
        config.worker_threads = value;
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if config.worker_threads > 0 {
        runtime.worker_threads(config.worker_threads);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("basalt-server: starting the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(basalt_server::run(
        config,
        |addrs| {
            tracing::info!(kv = %addrs.kv, pd = %addrs.pd, status = %addrs.status, "basalt-server is ready");
            // One machine-readable line for scripts and tests.
            println!("READY kv={} pd={} status={}", addrs.kv, addrs.pd, addrs.status);
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        },
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("basalt-server: {err}");
            ExitCode::FAILURE
        }
    }
}
