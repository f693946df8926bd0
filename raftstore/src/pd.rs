//! What the raft store asks of PD. The server implements it over gRPC; tests of this crate
//! implement it in memory.

use std::future::Future;
use std::pin::Pin;

use basalt_proto::metapb;
use basalt_storage::Result;

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Per new region: its id and one peer id per peer of the split region.
pub type SplitIds = Vec<(u64, Vec<u64>)>;

/// A leader's report of its region.
#[derive(Debug, Clone, Default)]
pub struct RegionHeartbeat {
    /// The region.
    pub region: metapb::Region,
    /// The reporting leader.
    pub leader: metapb::Peer,
    /// The leader's term.
    pub term: u64,
    /// Peers not heard from for a while, with how many seconds.
    pub down_peers: Vec<(metapb::Peer, u64)>,
    /// Peers whose log is behind the leader's first index.
    pub pending_peers: Vec<metapb::Peer>,
    /// Approximate bytes in the region.
    pub approximate_size: u64,
    /// Approximate keys in the region.
    pub approximate_keys: u64,
}

/// PD, as the raft store uses it.
pub trait PdClient: Send + Sync + 'static {
    /// Ids for `count` new regions split from `region`: per region its id and one peer id per
    /// peer of `region`.
    fn ask_batch_split(&self, region: metapb::Region, count: usize) -> BoxFuture<Result<SplitIds>>;
    /// Reports the regions a split produced (the derived one first).
    fn report_batch_split(&self, regions: Vec<metapb::Region>) -> BoxFuture<Result<()>>;
    /// Reports a region from its leader.
    fn region_heartbeat(&self, heartbeat: RegionHeartbeat) -> BoxFuture<Result<()>>;
}
