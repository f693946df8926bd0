//! `basalt-bench-kv`: raw put/get and transactional commit throughput through gRPC on one
//! node, next to RocksDB's own put/get measured in the same run on the same machine.
//!
//! Usage: `cargo run --release -p basalt-server --bin basalt-bench-kv -- [--ops N] [--concurrency C] [--value-size B]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::{kvrpcpb, pdpb};
use basalt_server::Config;
use basalt_storage::engine::{KvEngine, Modify, RocksEngine, RocksOptions, Snapshot, CF_DEFAULT};
use clap::Parser;
use tonic::transport::Channel;

#[derive(Debug, Parser)]
struct Flags {
    /// Operations per measurement.
    #[arg(long, default_value_t = 20_000)]
    ops: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Sync the WAL on every write (the server default); off measures without fsync.
    #[arg(long, default_value_t = false)]
    sync_log: bool,
}

struct Row {
    name: &'static str,
    ops: u64,
    elapsed: Duration,
}

impl Row {
    fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("bench{i:012}").into_bytes()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flags = Flags::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let value = vec![b'x'; flags.value_size];

    // Baseline: RocksDB itself, same options, same WAL sync setting, one write per put.
    let rocks = RocksEngine::open(&dir.path().join("rocks-baseline"), &RocksOptions::default())?;
    let mut rows = Vec::new();
    let start = Instant::now();
    let threads: Vec<_> = (0..flags.concurrency)
        .map(|worker| {
            let rocks = rocks.clone();
            let value = value.clone();
            let (ops, concurrency, sync) = (flags.ops, flags.concurrency, flags.sync_log);
            std::thread::spawn(move || {
                let mut i = worker;
                while i < ops {
                    let _ = rocks.write(&[Modify::Put(CF_DEFAULT, key(i), value.clone())], sync);
                    i += concurrency;
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    rows.push(Row {
        name: "rocksdb put",
        ops: flags.ops,
        elapsed: start.elapsed(),
    });
    let start = Instant::now();
    let threads: Vec<_> = (0..flags.concurrency)
        .map(|worker| {
            let rocks = rocks.clone();
            let (ops, concurrency) = (flags.ops, flags.concurrency);
            std::thread::spawn(move || {
                let snapshot = rocks.snapshot();
                let mut i = worker;
                while i < ops {
                    let _ = snapshot.get_cf(CF_DEFAULT, &key(i));
                    i += concurrency;
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    rows.push(Row {
        name: "rocksdb get",
        ops: flags.ops,
        elapsed: start.elapsed(),
    });

    // Basalt through gRPC.
    let config = Config {
        data_dir: dir.path().join("basalt"),
        addr: "127.0.0.1:0".parse()?,
        pd_addr: "127.0.0.1:0".parse()?,
        status_addr: "127.0.0.1:0".parse()?,
        sync_log: flags.sync_log,
        ..Config::default()
    };
    let (ready_sender, ready_receiver) = std::sync::mpsc::channel();
    let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(basalt_server::run(
        config,
        move |addrs| {
            let _ = ready_sender.send(addrs);
        },
        async move {
            let _ = stop_receiver.await;
        },
    ));
    let addrs = ready_receiver.recv_timeout(Duration::from_secs(60))?;
    runtime.block_on(async {
        let channel = Channel::from_shared(format!("http://{}", addrs.kv))?
            .connect()
            .await?;
        let mut pd = pdpb::pd_client::PdClient::connect(format!("http://{}", addrs.pd)).await?;
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
        let region = pd
            .get_region(pdpb::GetRegionRequest {
                header: header.clone(),
                region_key: Vec::new(),
                ..Default::default()
            })
            .await?
            .into_inner();
        let meta = region.region.ok_or("no region")?;
        let context = kvrpcpb::Context {
            region_id: meta.id,
            region_epoch: meta.region_epoch,
            peer: region.leader,
            ..Default::default()
        };
        let next_ts = Arc::new(AtomicU64::new(
            (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as u64)
                << 18,
        ));

        for phase in ["raw put", "raw get", "txn commit"] {
            let start = Instant::now();
            let mut tasks = Vec::new();
            for worker in 0..flags.concurrency {
                let mut client = TikvClient::new(channel.clone());
                let context = context.clone();
                let value = value.clone();
                let next_ts = next_ts.clone();
                let (ops, concurrency) = (flags.ops, flags.concurrency);
                tasks.push(tokio::spawn(async move {
                    let mut i = worker;
                    while i < ops {
                        match phase {
                            "raw put" => {
                                let request = kvrpcpb::RawPutRequest {
                                    context: Some(context.clone()),
                                    key: key(i),
                                    value: value.clone(),
                                    ..Default::default()
                                };
                                let _ = client.raw_put(request).await;
                            }
                            "raw get" => {
                                let request = kvrpcpb::RawGetRequest {
                                    context: Some(context.clone()),
                                    key: key(i),
                                    ..Default::default()
                                };
                                let _ = client.raw_get(request).await;
                            }
                            _ => {
                                // Timestamps from a local counter: the benchmark measures the
                                // store, not PD round trips.
                                let start_ts = next_ts.fetch_add(2, Ordering::SeqCst);
                                let txn_key = format!("txn{i:012}").into_bytes();
                                let prewrite = kvrpcpb::PrewriteRequest {
                                    context: Some(context.clone()),
                                    mutations: vec![kvrpcpb::Mutation {
                                        op: kvrpcpb::Op::Put as i32,
                                        key: txn_key.clone(),
                                        value: value.clone(),
                                        ..Default::default()
                                    }],
                                    primary_lock: txn_key.clone(),
                                    start_version: start_ts,
                                    lock_ttl: 3000,
                                    ..Default::default()
                                };
                                let _ = client.kv_prewrite(prewrite).await;
                                let commit = kvrpcpb::CommitRequest {
                                    context: Some(context.clone()),
                                    start_version: start_ts,
                                    keys: vec![txn_key],
                                    commit_version: start_ts + 1,
                                    ..Default::default()
                                };
                                let _ = client.kv_commit(commit).await;
                            }
                        }
                        i += concurrency;
                    }
                }));
            }
            for task in tasks {
                let _ = task.await;
            }
            let name = match phase {
                "raw put" => "basalt raw put (gRPC)",
                "raw get" => "basalt raw get (gRPC)",
                _ => "basalt txn commit (gRPC, 2PC)",
            };
            rows.push(Row {
                name,
                ops: flags.ops,
                elapsed: start.elapsed(),
            });
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    let _ = stop_sender.send(());
    let _ = runtime.block_on(server);

    let rocks_put = rows[0].per_second();
    let rocks_get = rows[1].per_second();
    println!(
        "ops={} concurrency={} value={}B sync_log={}",
        flags.ops, flags.concurrency, flags.value_size, flags.sync_log
    );
    println!(
        "{:<32} {:>12} {:>12} {:>16}",
        "measurement", "ops/s", "us/op", "vs rocksdb"
    );
    for row in &rows {
        let baseline = if row.name.contains("get") {
            rocks_get
        } else {
            rocks_put
        };
        println!(
            "{:<32} {:>12.0} {:>12.1} {:>15.3}x",
            row.name,
            row.per_second(),
            row.elapsed.as_secs_f64() * 1e6 / row.ops as f64 * flags.concurrency as f64,
            row.per_second() / baseline
        );
    }
    Ok(())
}
