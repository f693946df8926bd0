//! A `basalt-server` started as a real process on free loopback ports.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::{kvrpcpb, pdpb};
use tikv_client::TransactionClient;

/// The `basalt-server` binary: `$BASALT_SERVER`, else the debug build in `$CARGO_TARGET_DIR` or
/// in the workspace's `target/`.
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

/// A binary next to `basalt-server` (`basalt-pd`).
pub fn sibling_binary(name: &str) -> PathBuf {
    server_binary().with_file_name(name)
}

/// Spawns `binary` with `args`, waits (up to a minute) for the `READY ...` line it prints on
/// stdout and returns the child and that line. Stderr goes to the test's output.
pub fn spawn_ready(binary: &Path, args: &[String]) -> (Child, String) {
    let mut child = Command::new(binary)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn {}: {err}", binary.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("READY ") {
                let _ = sender.send(line);
            }
        }
    });
    match receiver.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => (child, line),
        Err(_) => {
            let _ = child.kill();
            panic!("{} did not become ready", binary.display());
        }
    }
}

/// A running server process, killed (SIGKILL) when dropped.
pub struct ServerProcess {
    child: Child,
    /// The KV address.
    pub kv: String,
    /// The embedded PD address.
    pub pd: String,
    /// The metrics address.
    pub status: String,
    data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts a server on `data_dir` and waits until it prints its READY line.
    pub fn start(data_dir: &Path) -> ServerProcess {
        let args: Vec<String> = [
            "--data-dir",
            &data_dir.display().to_string(),
            "--addr",
            "127.0.0.1:0",
            "--pd-addr",
            "127.0.0.1:0",
            "--status-addr",
            "127.0.0.1:0",
            "--log",
            "warn",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        let (child, line) = spawn_ready(&server_binary(), &args);
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")).map(str::to_string))
                .expect("READY line names every address")
        };
        ServerProcess {
            kv: field("kv"),
            pd: field("pd"),
            status: field("status"),
            child,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.data_dir.clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tikv-client configuration with a short timeout, so a hang fails the test.
pub fn client_config() -> tikv_client::Config {
    tikv_client::Config::default().with_timeout(Duration::from_secs(10))
}

pub async fn txn_client(server: &ServerProcess) -> TransactionClient {
    TransactionClient::new_with_config(vec![server.pd.clone()], client_config())
        .await
        .expect("txn client")
}

/// The routing context of the region holding `key`, asked from PD directly.
pub async fn region_context(server: &ServerProcess, key: &[u8]) -> kvrpcpb::Context {
    let mut pd = pdpb::pd_client::PdClient::connect(format!("http://{}", server.pd))
        .await
        .expect("pd");
    let members = pd
        .get_members(pdpb::GetMembersRequest::default())
        .await
        .expect("members")
        .into_inner();
    let header = Some(pdpb::RequestHeader {
        cluster_id: members.header.map(|h| h.cluster_id).unwrap_or(0),
        ..Default::default()
    });
    let region = pd
        .get_region(pdpb::GetRegionRequest {
            header,
            region_key: key.to_vec(),
            ..Default::default()
        })
        .await
        .expect("get region")
        .into_inner();
    let meta = region.region.expect("region");
    kvrpcpb::Context {
        region_id: meta.id,
        region_epoch: meta.region_epoch,
        peer: region.leader,
        ..Default::default()
    }
}

pub async fn kv_client(server: &ServerProcess) -> TikvClient<tonic::transport::Channel> {
    TikvClient::connect(format!("http://{}", server.kv))
        .await
        .expect("kv client")
}

/// Memcomparable encoding of bytes (8-byte groups, each followed by 255 minus its padding), as
/// region boundaries hold API V2 keys.
pub fn memcomparable(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in key.chunks(8).chain(if key.len().is_multiple_of(8) {
        Some(&[][..])
    } else {
        None
    }) {
        let mut group = [0u8; 8];
        group[..chunk.len()].copy_from_slice(chunk);
        out.extend_from_slice(&group);
        out.push(255 - (8 - chunk.len()) as u8);
    }
    out
}
