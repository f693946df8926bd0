//! `basalt-pd`: a standalone placement driver for a multi-store Basalt cluster. It serves
//! `pdpb.PD`, the keyspace service and PD's HTTP API on one port, keeps its state under
//! `--data-dir`, schedules replicas and leaders across the stores, and merges small regions.
//!
//! Prints one line, `READY pd=<bound address>`, on stdout once it listens (logs go to
//! stderr), and runs until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use basalt_pd::{PdConfig, PdServer, ScheduleConfig};
use clap::Parser;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "basalt-pd",
    version,
    about = "Basalt's placement driver (PD) for a multi-store cluster"
)]
struct Flags {
    /// Where PD keeps its state (cluster id, ids, stores, regions, GC safe point).
    #[arg(long, default_value = "./pd-data")]
    data_dir: PathBuf,
    /// Address to listen on for gRPC and HTTP (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:2379")]
    addr: SocketAddr,
    /// URL clients reach this PD at (default: http:// and the bound address).
    #[arg(long)]
    advertise_url: Option<String>,
    /// Voters per region.
    #[arg(long, default_value_t = ScheduleConfig::default().max_replicas)]
    max_replicas: usize,
    /// Seconds without a store heartbeat before the store is down and its peers are replaced.
    #[arg(long, default_value_t = ScheduleConfig::default().max_store_down_time.as_secs())]
    max_store_down_time_secs: u64,
    /// Milliseconds between scheduling passes (balancers and the replica patrol).
    #[arg(long, default_value_t = millis(ScheduleConfig::default().schedule_interval))]
    schedule_interval_ms: u64,
    /// Regions of at most this many MiB merge into a neighbour (0 turns merging off).
    #[arg(long, default_value_t = ScheduleConfig::default().max_merge_region_size / MIB)]
    max_merge_region_size_mb: u64,
    /// A region must also have at most this many keys to merge.
    #[arg(long, default_value_t = ScheduleConfig::default().max_merge_region_keys)]
    max_merge_region_keys: u64,
    /// Seconds after a region's split (and after PD starts) before it may merge.
    #[arg(long, default_value_t = ScheduleConfig::default().split_merge_interval.as_secs())]
    split_merge_interval_secs: u64,
    /// Log filter, e.g. `info` or `basalt_pd=debug` (default from RUST_LOG, else info).
    #[arg(long)]
    log: Option<String>,
}

/// Bytes in a MiB.
const MIB: u64 = 1024 * 1024;

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot watch SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}

async fn run(flags: Flags) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(flags.addr)
        .await
        .map_err(|err| format!("binding {}: {err}", flags.addr))?;
    let bound = listener
        .local_addr()
        .map_err(|err| format!("reading the bound address: {err}"))?;
    let config = PdConfig {
        advertise_url: flags
            .advertise_url
            .unwrap_or_else(|| format!("http://{bound}")),
        schedule: ScheduleConfig {
            max_replicas: flags.max_replicas,
            max_store_down_time: Duration::from_secs(flags.max_store_down_time_secs),
            schedule_interval: Duration::from_millis(flags.schedule_interval_ms),
            max_merge_region_size: flags.max_merge_region_size_mb.saturating_mul(MIB),
            max_merge_region_keys: flags.max_merge_region_keys,
            split_merge_interval: Duration::from_secs(flags.split_merge_interval_secs),
            ..Default::default()
        },
        ..Default::default()
    };
    tracing::info!(data_dir = %flags.data_dir.display(), ?config, "starting PD");
    let pd = PdServer::open(&flags.data_dir, config).map_err(|err| err.to_string())?;
    tracing::info!(pd = %bound, cluster_id = pd.cluster_id(), "basalt-pd is ready");
    // One machine-readable line for scripts and tests.
    println!("READY pd={bound}");
    pd.serve(listener, shutdown_signal())
        .await
        .map_err(|err| err.to_string())
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let filter = flags
        .log
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("basalt-pd: starting the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("basalt-pd: {err}");
            ExitCode::FAILURE
        }
    }
}
