//! A `basalt-server` started as a real process on free loopback ports.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
        let mut child = Command::new(server_binary())
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "--addr",
                "127.0.0.1:0",
                "--pd-addr",
                "127.0.0.1:0",
                "--status-addr",
                "127.0.0.1:0",
            ])
            .args(["--log", "warn"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn basalt-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = sender.send(line);
                }
            }
        });
        let line = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("basalt-server did not become ready");
            }
        };
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
