//! Basalt's multi-Raft store: every region is a raft group (raft-rs) replicated across stores.
//!
//! Start with `RaftStore::start` (store.rs): it loads the store's peers and starts the batch
//! system — a fixed pool of poller threads driving whichever peers have mail (`router.rs`),
//! writing all their raft logs in one batch per round (`ready.rs`) and applying committed
//! commands to the KV engine with the apply state in the same write (`apply.rs`). Requests
//! reach the store through `RaftKv` (`raftkv.rs`), the `basalt_storage::Engine` the
//! transaction layer is written against. Raft messages leave through a `Transport` and arrive
//! through `RaftRouter::send_raft_message`.
#![deny(missing_docs)]

mod apply;
mod convert;
pub mod errors;
pub mod keys;
pub mod log_store;
mod merge;
pub mod msg;
pub mod pd;
pub mod peer;
pub mod peer_storage;
mod raftkv;
mod ready;
mod router;
pub mod snapshot;
pub mod store;
pub mod transport;

use std::time::Duration;

pub use log_store::{KvRaftLog, RaftLogStore};
pub use peer_storage::Engines;
pub use raftkv::RaftKv;
pub use router::RaftRouter;
pub use store::{bootstrap_region, load_regions, RaftStore, StoreMeta};
pub use transport::{DeliveryReport, Transport};

/// Raft store settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// One raft tick.
    pub tick_interval: Duration,
    /// Ticks without a leader before a follower campaigns.
    pub election_ticks: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: usize,
    /// Poller threads.
    pub poll_threads: usize,
    /// Messages a peer's mailbox holds before senders get `ServerIsBusy`.
    pub mailbox_capacity: usize,
    /// How long a read waits for its ReadIndex round.
    pub read_timeout: Duration,
    /// Ticks between raft log compaction checks.
    pub log_gc_ticks: u64,
    /// Applied entries kept before the log is compacted.
    pub log_gc_threshold: u64,
    /// Entries a lagging follower may keep the leader from compacting.
    pub log_gc_limit: u64,
    /// Ticks between split checks.
    pub split_check_ticks: u64,
    /// Bytes past which a region splits.
    pub region_split_size: u64,
    /// Keys past which a region splits.
    pub region_split_keys: u64,
    /// Ticks between region heartbeats to PD.
    pub pd_heartbeat_ticks: u64,
    /// Silence after which PD is told a peer is down.
    pub down_peer_after: Duration,
    /// Ticks between a merging region's attempts to commit (or roll back) its merge, and a
    /// paused merge target's checks of its source.
    pub merge_check_ticks: u64,
    /// Entries a follower may lag behind the leader's last index for a merge to start (they
    /// travel inside the merge command).
    pub merge_max_log_gap: u64,
    /// Ticks between size checks of a leader's region that was written to (its size goes to
    /// PD, which merges small regions).
    pub size_check_ticks: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tick_interval: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 2,
            poll_threads: 2,
            mailbox_capacity: 4096,
            read_timeout: Duration::from_secs(3),
            log_gc_ticks: 50,
            log_gc_threshold: 64,
            log_gc_limit: 10_000,
            split_check_ticks: 50,
            region_split_size: 96 << 20,
            region_split_keys: 960_000,
            pd_heartbeat_ticks: 30,
            down_peer_after: Duration::from_secs(30),
            merge_check_ticks: 2,
            merge_max_log_gap: 128,
            size_check_ticks: 600,
        }
    }
}

impl Config {
    /// How long after a confirmed heartbeat round a leader may serve reads alone: less than the
    /// shortest election timeout, so no other leader can exist before it ends.
    pub fn max_lease(&self) -> Duration {
        self.tick_interval * (self.election_ticks as u32) * 4 / 5
    }
}
