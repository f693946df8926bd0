//! Basalt's Rust client: transactions, snapshot reads and coprocessor fan-out against a
//! Basalt (or TiKV) cluster, speaking the kvproto wire protocol directly.
//!
//! It owns the PD conversation (cluster id, TSO, ids, region and store lookups), a region
//! cache that follows region errors, Percolator two-phase commit with lock resolution for
//! readers, and splitting coprocessor requests by region. It does not own SQL, row formats or
//! DAG building: callers bring keys and tipb payloads. Pessimistic transactions, async commit
//! and 1PC are not implemented; the client writes only with optimistic 2PC.
//!
//! Start with [`Cluster`]: `Cluster::connect(pd)` then `begin()` for a [`Transaction`],
//! `snapshot(ts)` for a [`Snapshot`], or `coprocessor(request)`.
//!
//! Keys are user keys throughout (API V1): PD's memcomparable region boundaries are decoded
//! in the region cache, so [`RegionInfo`] boundaries are user keys too.
//!
//! Modules: `pd` (PD calls), `region_cache` (regions and stores), `rpc` (routing requests to
//! regions, retries), `lock_resolver`, `txn` (snapshots, transactions, 2PC), `copr`.

#![deny(missing_docs)]
// `Error::Grpc` holds a `tonic::Status` by value, as the API promises; it is large, but errors
// are the slow path.
#![allow(clippy::result_large_err)]

// The integration tests' server harness names the crate `basalt_client`; the fault tests
// below reuse it from inside the crate.
#[cfg(test)]
extern crate self as basalt_client;

mod codec;
mod copr;
mod error;
#[cfg(test)]
mod fault_tests;
mod lock_resolver;
mod pd;
mod region_cache;
mod rpc;
mod txn;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

pub use copr::{CopRequest, CopResponse};
pub use error::{Error, Result};
pub use region_cache::RegionInfo;
pub use txn::{Snapshot, Transaction};

use pd::PdClient;
use region_cache::RegionCache;
use rpc::Connections;

/// A connection to a cluster: PD, the region cache and the store connections, shared by
/// every clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    pd: Arc<PdClient>,
    cache: RegionCache,
    connections: Connections,
    /// Final statuses of transactions whose locks were met: start_ts to commit_ts (0: rolled
    /// back).
    txn_status: Mutex<HashMap<u64, u64>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("cluster_id", &self.inner.pd.cluster_id())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to PD at `pd` (`"127.0.0.1:2379"` or `"http://127.0.0.1:2379"`) and learns
    /// the cluster id with GetMembers.
    pub async fn connect(pd: &str) -> Result<Cluster> {
        let pd = Arc::new(PdClient::connect(pd).await?);
        Ok(Cluster {
            inner: Arc::new(Inner {
                cache: RegionCache::new(pd.clone()),
                pd,
                connections: Connections::default(),
                txn_status: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The cluster id PD reported.
    pub fn cluster_id(&self) -> u64 {
        self.inner.pd.cluster_id()
    }

    /// A fresh TSO timestamp (`physical << 18 | logical`).
    pub async fn timestamp(&self) -> Result<u64> {
        self.inner.pd.timestamp().await
    }

    /// A unique id from PD.
    pub async fn alloc_id(&self) -> Result<u64> {
        self.inner.pd.alloc_id().await
    }

    /// The regions covering `[start, end)` (empty end: unbounded), in key order, with user-key
    /// boundaries.
    pub async fn regions(&self, start: &[u8], end: &[u8]) -> Result<Vec<RegionInfo>> {
        self.inner.cache.regions(start, end).await
    }

    /// Begins an optimistic transaction at a fresh start_ts.
    pub async fn begin(&self) -> Result<Transaction> {
        let start_ts = self.timestamp().await?;
        tracing::debug!(start_ts, "transaction begins");
        Ok(Transaction::new(self.clone(), start_ts))
    }

    /// A read-only snapshot at `ts`.
    pub fn snapshot(&self, ts: u64) -> Snapshot {
        Snapshot::new(self.clone(), ts)
    }

    /// Sends one coprocessor request per region overlapping `request.ranges` (clipped to the
    /// region), at most `request.concurrency` at a time, and returns the responses in key
    /// order (with paging, every page of a region in scan order). Region errors refresh the
    /// cache and re-split the ranges, locks are resolved, and `other_error` fails the call
    /// with `Error::Coprocessor`. Errors inside the DAG's evaluation come back in the
    /// `SelectResponse` itself.
    pub async fn coprocessor(&self, request: CopRequest) -> Result<Vec<CopResponse>> {
        self.run_coprocessor(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync + Clone>() {}

    /// The SQL layer drives these futures from DataFusion streams, which need `Send`.
    #[allow(dead_code, unused_must_use)]
    fn futures_are_send(cluster: Cluster, mut txn: Transaction, snapshot: Snapshot) {
        assert_send_sync::<Cluster>();
        assert_send(&Cluster::connect("pd"));
        assert_send(&cluster.timestamp());
        assert_send(&cluster.alloc_id());
        assert_send(&cluster.regions(b"", b""));
        assert_send(&cluster.begin());
        assert_send(&cluster.coprocessor(CopRequest {
            tp: 103,
            data: Vec::new(),
            start_ts: 1,
            ranges: Vec::new(),
            paging_size: 0,
            max_paging_size: 0,
            concurrency: 1,
        }));
        assert_send(&snapshot.get(b"k"));
        assert_send(&snapshot.batch_get(Vec::new()));
        assert_send(&snapshot.scan(b"", b"", 1));
        assert_send(&txn.get(b"k"));
        assert_send(&txn.scan(b"", b"", 1));
        txn.put(Vec::new(), Vec::new());
        assert_send(&txn.commit());
    }
}
