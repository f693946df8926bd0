//! A `basalt-server` started as a real process on free loopback ports, and raw KV calls that
//! leave transactions half-done for the lock resolution tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use basalt_client::Cluster;
use basalt_proto::kvrpcpb;
use basalt_proto::tikvpb::tikv_client::TikvClient;
use tonic::transport::Channel;

/// The `basalt-server` binary: `$BASALT_SERVER`, else the debug build in `$CARGO_TARGET_DIR`,
/// else in the workspace's `target/`.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BASALT_SERVER") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join("basalt-server");
    assert!(
        path.exists(),
        "{} does not exist: build it with `cargo build -p basalt-server` or set BASALT_SERVER",
        path.display()
    );
    path
}

/// A running server with its data directory, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// The KV address.
    pub kv: String,
    /// The embedded PD address.
    pub pd: String,
    _data_dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts a server on a fresh data directory and waits for its `READY` line.
    pub fn start() -> ServerProcess {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let mut child = Command::new(server_binary())
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--addr", "127.0.0.1:0"])
            .args(["--pd-addr", "127.0.0.1:0"])
            .args(["--status-addr", "127.0.0.1:0"])
            .args(["--log", "warn"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn basalt-server");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        // Keeps draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = sender.send(line);
                }
            }
        });
        let Ok(line) = receiver.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("basalt-server did not print READY within 60 s");
        };
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")).map(str::to_string))
                .unwrap_or_else(|| panic!("READY line {line:?} has no {name}="))
        };
        ServerProcess {
            kv: field("kv"),
            pd: field("pd"),
            child,
            _data_dir: data_dir,
        }
    }

    /// A client connected to this server's PD.
    pub async fn must_connect(&self) -> Cluster {
        Cluster::connect(&self.pd).await.expect("connect to PD")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw KV client for the store holding `key`, and the request context for its region.
pub async fn must_route(cluster: &Cluster, key: &[u8]) -> (TikvClient<Channel>, kvrpcpb::Context) {
    let mut end = key.to_vec();
    end.push(0);
    let regions = cluster.regions(key, &end).await.expect("regions");
    let region = regions
        .into_iter()
        .next()
        .expect("a region holds every key");
    let client = TikvClient::connect(format!("http://{}", region.store_addr))
        .await
        .expect("connect to the store");
    let context = kvrpcpb::Context {
        region_id: region.region.id,
        region_epoch: region.region.region_epoch,
        peer: Some(region.leader),
        ..Default::default()
    };
    (client, context)
}

/// Prewrites `pairs` (all in one region) with `primary` as primary at `start_ts`, and
/// nothing more: the transaction is left for readers to resolve.
pub async fn must_prewrite(
    cluster: &Cluster,
    pairs: &[(&[u8], &[u8])],
    primary: &[u8],
    start_ts: u64,
    lock_ttl: u64,
) {
    let (mut client, context) = must_route(cluster, pairs[0].0).await;
    let response = client
        .kv_prewrite(kvrpcpb::PrewriteRequest {
            context: Some(context),
            mutations: pairs
                .iter()
                .map(|(key, value)| kvrpcpb::Mutation {
                    op: kvrpcpb::Op::Put as i32,
                    key: key.to_vec(),
                    value: value.to_vec(),
                    ..Default::default()
                })
                .collect(),
            primary_lock: primary.to_vec(),
            start_version: start_ts,
            lock_ttl,
            txn_size: pairs.len() as u64,
            ..Default::default()
        })
        .await
        .expect("prewrite")
        .into_inner();
    assert!(
        response.region_error.is_none() && response.errors.is_empty(),
        "prewrite failed: {response:?}"
    );
}

/// Commits `keys` of the transaction `start_ts` at `commit_ts`.
pub async fn must_commit(cluster: &Cluster, keys: &[&[u8]], start_ts: u64, commit_ts: u64) {
    let (mut client, context) = must_route(cluster, keys[0]).await;
    let response = client
        .kv_commit(kvrpcpb::CommitRequest {
            context: Some(context),
            start_version: start_ts,
            keys: keys.iter().map(|key| key.to_vec()).collect(),
            commit_version: commit_ts,
            ..Default::default()
        })
        .await
        .expect("commit")
        .into_inner();
    assert!(
        response.region_error.is_none() && response.error.is_none(),
        "commit failed: {response:?}"
    );
}
