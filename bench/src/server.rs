//! A `basalt-server` process for the benchmark (single node, embedded PD), and its memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    /// Its KV gRPC address.
    pub kv: String,
    /// Its embedded PD's address.
    pub pd: String,
}

/// `basalt-server` next to this binary (the same build profile).
pub fn server_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = me
        .parent()
        .map(|dir| dir.join("basalt-server"))
        .ok_or("no directory around the running binary")?;
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build --release -p basalt-server`",
            path.display()
        ))
    }
}

impl Server {
    /// Starts a server on `data_dir` with free loopback ports and `worker_threads` runtime
    /// threads, and waits for its READY line.
    pub fn start(data_dir: &Path, worker_threads: usize) -> Result<Server, String> {
        let mut child = Command::new(server_binary()?)
            .args(["--data-dir", &data_dir.display().to_string()])
            .args(["--worker-threads", &worker_threads.to_string()])
            .args(["--addr", "127.0.0.1:0", "--pd-addr", "127.0.0.1:0"])
            .args(["--status-addr", "127.0.0.1:0", "--log", "warn"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting basalt-server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = sender.send(line);
                }
            }
        });
        let line = match receiver.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                return Err("basalt-server did not become ready".into());
            }
        };
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")).map(str::to_string))
                .ok_or_else(|| format!("READY line without {name}: {line}"))
        };
        Ok(Server {
            kv: field("kv")?,
            pd: field("pd")?,
            child,
        })
    }

    /// Forgets the peak resident set size so far (Linux `clear_refs` 5).
    pub fn reset_peak_rss(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    /// The peak resident set size since the last reset, in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// CPU seconds (user + system) the server used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the parenthesized command name; utime and stime are the 14th and 15th.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }
}
