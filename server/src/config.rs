//! Server configuration: a serde struct loadable from TOML, every field overridable by a flag.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The `basalt-server` configuration. Defaults are what a newcomer on one machine wants.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Where the store (and the embedded PD, under `pd/`) keep their data. Default `./data`.
    pub data_dir: PathBuf,
    /// Address of the KV gRPC service (`tikvpb.Tikv`). Default `127.0.0.1:20160`.
    pub addr: SocketAddr,
    /// Address the store advertises to PD and clients; defaults to `addr`.
    pub advertise_addr: Option<String>,
    /// Where the embedded PD listens. Default `127.0.0.1:2379`.
    pub pd_addr: SocketAddr,
    /// HTTP address of `/metrics` (Prometheus). Default `127.0.0.1:20180`.
    pub status_addr: SocketAddr,
    /// Sync the RocksDB WAL before acknowledging writes (survives power loss, not only
    /// process crashes). Default `true`.
    pub sync_log: bool,
    /// Block cache size in MiB. Default 256.
    pub block_cache_mb: usize,
    /// How often the GC worker polls PD's GC safe point, in seconds. Default 10.
    pub gc_interval_secs: u64,
    /// Region and store heartbeat interval to PD, in seconds. Default 10.
    pub heartbeat_interval_secs: u64,
    /// Largest gRPC message accepted or sent, in MiB. Default 128.
    pub max_grpc_message_mb: usize,
    /// Join the cluster whose PD listens here (`host:port`) instead of embedding a PD: the
    /// store then replicates its regions with Raft. Default: none (single node, embedded PD).
    pub join_pd: Option<String>,
    /// One raft tick in milliseconds (multi-store mode). Default 100.
    pub raft_tick_ms: u64,
    /// Region size in MiB past which a region splits (multi-store mode). Default 96.
    pub region_split_mb: u64,
    /// Threads of the async runtime that serves gRPC (KV, PD, raft) and drives raft; 0 means
    /// one per core. Coprocessor requests and writes run on a blocking pool beside it, so this
    /// bounds only the request handling and point reads. Default 0.
    pub worker_threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            addr: SocketAddr::from(([127, 0, 0, 1], 20160)),
            advertise_addr: None,
            pd_addr: SocketAddr::from(([127, 0, 0, 1], 2379)),
            status_addr: SocketAddr::from(([127, 0, 0, 1], 20180)),
            sync_log: true,
            block_cache_mb: 256,
            gc_interval_secs: 10,
            heartbeat_interval_secs: 10,
            max_grpc_message_mb: 128,
            join_pd: None,
            raft_tick_ms: 100,
            region_split_mb: 96,
            worker_threads: 0,
        }
    }
}

/// Errors reading a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for `Config`.
    #[error("parsing {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: toml::de::Error,
    },
}

impl Config {
    /// Loads a TOML file; fields it leaves out keep their defaults.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The address the store advertises.
    pub fn advertise_addr(&self) -> String {
        self.advertise_addr
            .clone()
            .unwrap_or_else(|| self.addr.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_toml_keeps_defaults_and_unknown_fields_fail() {
        let config: Config =
            toml::from_str("addr = \"127.0.0.1:30160\"\nsync-log = false\n").unwrap();
        assert_eq!(config.addr.port(), 30160);
        assert!(!config.sync_log);
        assert_eq!(config.pd_addr, Config::default().pd_addr);
        assert!(toml::from_str::<Config>("no-such-field = 1").is_err());
    }
}
