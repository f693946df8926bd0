//! `basalt-bench-raft`: raw put and get through gRPC on a cluster of real processes with one
//! replica per region and with three, side by side in one run. Each cluster is a `basalt-pd`
//! and `basalt-server --join-pd` stores on 127.0.0.x; requests go to the region's leader.
//!
//! Usage: `cargo build --release -p basalt-server --bins && target/release/basalt-bench-raft
//! [--ops N] [--concurrency C] [--value-size B]`

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::{kvrpcpb, metapb, pdpb};
use clap::Parser;
use tonic::transport::Channel;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Parser)]
struct Flags {
    /// Operations per measurement.
    #[arg(long, default_value_t = 20_000)]
    ops: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `binary` and waits for its `READY` line.
fn spawn_ready(binary: &Path, args: &[String]) -> Result<(Process, String), BoxError> {
    let mut child = Command::new(binary)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("starting {}: {err}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let process = Process(child);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("READY ") {
                let _ = sender.send(line);
            }
        }
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| format!("{} did not start", binary.display()))?;
    Ok((process, line))
}

fn field(line: &str, name: &str) -> Result<String, BoxError> {
    line.split_whitespace()
        .find_map(|part| part.strip_prefix(&format!("{name}=")))
        .map(str::to_string)
        .ok_or_else(|| format!("no {name}= in {line:?}").into())
}

struct Cluster {
    _processes: Vec<Process>,
    leader_addr: String,
    context: kvrpcpb::Context,
}

/// Starts PD and `replicas` stores, and waits until the first region has that many voters.
async fn start_cluster(bin: &Path, dir: &Path, replicas: usize) -> Result<Cluster, BoxError> {
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let pd_dir = dir.join("pd").display().to_string();
    let (pd_process, line) = spawn_ready(
        &bin.join("basalt-pd"),
        &args(&[
            "--data-dir",
            &pd_dir,
            "--addr",
            "127.0.0.1:0",
            "--max-replicas",
            &replicas.to_string(),
            "--schedule-interval-ms",
            "200",
            "--log",
            "error",
        ]),
    )?;
    let pd_addr = field(&line, "pd")?;
    let mut processes = vec![pd_process];
    for i in 0..replicas {
        let ip = format!("127.0.0.{}", i + 2);
        let store_dir = dir.join(format!("store-{i}")).display().to_string();
        let (process, _) = spawn_ready(
            &bin.join("basalt-server"),
            &args(&[
                "--join-pd",
                &pd_addr,
                "--data-dir",
                &store_dir,
                "--addr",
                &format!("{ip}:0"),
                "--status-addr",
                &format!("{ip}:0"),
                "--log",
                "error",
            ]),
        )?;
        processes.push(process);
    }
    let mut pd = pdpb::pd_client::PdClient::connect(format!("http://{pd_addr}")).await?;
    let cluster_id = pd
        .get_members(pdpb::GetMembersRequest::default())
        .await?
        .into_inner()
        .header
        .map(|h| h.cluster_id)
        .unwrap_or(0);
    let header = Some(pdpb::RequestHeader {
        cluster_id,
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = pd
            .get_region(pdpb::GetRegionRequest {
                header: header.clone(),
                region_key: Vec::new(),
                ..Default::default()
            })
            .await?
            .into_inner();
        if let (Some(region), Some(leader)) = (answer.region, answer.leader) {
            let voters = region
                .peers
                .iter()
                .filter(|peer| peer.role == metapb::PeerRole::Voter as i32)
                .count();
            // The first store splits the first region at the keyspace edges right after
            // bootstrap: wait for that too, so the request context stays valid.
            if voters == replicas && !region.end_key.is_empty() {
                let store = pd
                    .get_store(pdpb::GetStoreRequest {
                        header: header.clone(),
                        store_id: leader.store_id,
                    })
                    .await?
                    .into_inner()
                    .store
                    .ok_or("leader store unknown")?;
                return Ok(Cluster {
                    _processes: processes,
                    leader_addr: store.address,
                    context: kvrpcpb::Context {
                        region_id: region.id,
                        region_epoch: region.region_epoch,
                        peer: Some(leader),
                        ..Default::default()
                    },
                });
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the region never reached {replicas} voters").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Measured {
    ops_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
}

async fn measure(cluster: &Cluster, flags: &Flags, put: bool) -> Result<Measured, BoxError> {
    let channel = Channel::from_shared(format!("http://{}", cluster.leader_addr))?
        .tcp_nodelay(true)
        .connect()
        .await?;
    let value = vec![b'x'; flags.value_size];
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..flags.concurrency {
        let mut client = TikvClient::new(channel.clone());
        let context = cluster.context.clone();
        let value = value.clone();
        let (ops, concurrency) = (flags.ops, flags.concurrency);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity((ops / concurrency + 1) as usize);
            let mut errors = 0u64;
            let mut i = worker;
            while i < ops {
                let key = format!("bench{i:012}").into_bytes();
                let began = Instant::now();
                let failed = if put {
                    let request = kvrpcpb::RawPutRequest {
                        context: Some(context.clone()),
                        key,
                        value: value.clone(),
                        ..Default::default()
                    };
                    match client.raw_put(request).await {
                        Ok(answer) => {
                            let answer = answer.into_inner();
                            answer.region_error.is_some() || !answer.error.is_empty()
                        }
                        Err(_) => true,
                    }
                } else {
                    let request = kvrpcpb::RawGetRequest {
                        context: Some(context.clone()),
                        key,
                        ..Default::default()
                    };
                    match client.raw_get(request).await {
                        Ok(answer) => {
                            let answer = answer.into_inner();
                            answer.region_error.is_some() || answer.not_found
                        }
                        Err(_) => true,
                    }
                };
                latencies.push(began.elapsed());
                errors += u64::from(failed);
                i += concurrency;
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(flags.ops as usize);
    let mut errors = 0;
    for task in tasks {
        let (mine, failed) = task.await?;
        latencies.extend(mine);
        errors += failed;
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    Ok(Measured {
        ops_per_sec: flags.ops as f64 / elapsed.as_secs_f64(),
        p50_us: at(0.5),
        p99_us: at(0.99),
        errors,
    })
}

fn binaries() -> Result<PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("no binary directory")?.to_path_buf();
    for name in ["basalt-pd", "basalt-server"] {
        if !dir.join(name).exists() {
            return Err(format!(
                "{name} is not next to this binary: build with `cargo build --release -p basalt-server --bins`"
            )
            .into());
        }
    }
    Ok(dir)
}

fn main() -> Result<(), BoxError> {
    let flags = Flags::parse();
    let bin = binaries()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    for replicas in [1usize, 3] {
        let dir = tempfile::tempdir()?;
        let measured = runtime.block_on(async {
            let cluster = start_cluster(&bin, dir.path(), replicas).await?;
            let put = measure(&cluster, &flags, true).await?;
            let get = measure(&cluster, &flags, false).await?;
            Ok::<_, BoxError>((put, get))
        })?;
        results.push((replicas, measured));
    }
    println!(
        "raw KV through gRPC to the region leader: ops={} concurrency={} value={}B, sync_log=true, {} cores",
        flags.ops,
        flags.concurrency,
        flags.value_size,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| {:<10} | {:>8} | {:>12} | {:>10} | {:>10} | {:>7} |",
        "op", "replicas", "ops/s", "p50 us", "p99 us", "errors"
    );
    println!(
        "|{:-<12}|{:->10}|{:->14}|{:->12}|{:->12}|{:->9}|",
        "", "", "", "", "", ""
    );
    for (replicas, (put, get)) in &results {
        for (name, m) in [("raw put", put), ("raw get", get)] {
            println!(
                "| {:<10} | {:>8} | {:>12.0} | {:>10.0} | {:>10.0} | {:>7} |",
                name, replicas, m.ops_per_sec, m.p50_us, m.p99_us, m.errors
            );
        }
    }
    if let [(_, (put1, get1)), (_, (put3, get3))] = results.as_slice() {
        println!(
            "3 replicas / 1 replica: put {:.2}x, get {:.2}x",
            put3.ops_per_sec / put1.ops_per_sec,
            get3.ops_per_sec / get1.ops_per_sec
        );
    }
    Ok(())
}
