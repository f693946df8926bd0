//! The coprocessor's only view of storage: visible `(key, value)` pairs of a key range at the
//! request's `start_ts`, a batch at a time. Locks of other transactions that the reader must
//! respect come back as `basalt_storage::Error` (`KeyIsLocked`), which the endpoint turns into
//! `Response.locked`.

use basalt_storage::engine::Snapshot;
use basalt_storage::mvcc::{self, ScanOptions};

use crate::error::Result;

/// Reads visible rows of the request's snapshot.
pub trait ScanSource: Send {
    /// Up to `limit` pairs of `[lower, upper)` (user keys; empty `upper` = unbounded), from the
    /// low end, or from the high end when `desc`.
    fn scan(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
}

/// A `ScanSource` over an MVCC snapshot.
pub struct SnapshotSource<S: Snapshot> {
    snapshot: S,
    start_ts: u64,
    locks: LockPolicy,
}

/// Which locks a coprocessor read respects, from the request's context.
#[derive(Debug, Clone, Default)]
pub struct LockPolicy {
    /// Transactions whose locks are ignored (`resolved_locks`).
    pub bypass: Vec<u64>,
    /// Committed transactions whose locks are read through (`committed_locks`).
    pub access: Vec<u64>,
    /// Ignore every lock (read committed).
    pub ignore_all: bool,
}

impl<S: Snapshot + Clone> SnapshotSource<S> {
    /// Reads `snapshot` at `start_ts`, treating locks as `locks` says.
    pub fn new(snapshot: S, start_ts: u64, locks: LockPolicy) -> Self {
        SnapshotSource {
            snapshot,
            start_ts,
            locks,
        }
    }
}

impl<S: Snapshot + Clone + Send> ScanSource for SnapshotSource<S> {
    fn scan(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let options = ScanOptions {
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            limit,
            read_ts: self.start_ts,
            key_only: false,
            reverse: desc,
            bypass_locks: self.locks.bypass.clone(),
            ignore_locks: self.locks.ignore_all,
            access_locks: self.locks.access.clone(),
        };
        let entries = mvcc::scan(self.snapshot.clone(), &options)?;
        let mut pairs = Vec::with_capacity(entries.len());
        for entry in entries {
            pairs.push((entry.key, entry.value?));
        }
        Ok(pairs)
    }
}

/// A `ScanSource` over sorted in-memory pairs, for executor tests.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    /// The pairs, sorted by key.
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ScanSource for MemorySource {
    fn scan(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(scan_sorted(&self.pairs, lower, upper, desc, limit))
    }
}

/// Up to `limit` pairs of `pairs` (sorted by key) in `[lower, upper)` (empty `upper` =
/// unbounded), from the low end or, when `desc`, the high end. The range is found by binary
/// search, so a scan costs its rows, not the whole slice.
pub fn scan_sorted(
    pairs: &[(Vec<u8>, Vec<u8>)],
    lower: &[u8],
    upper: &[u8],
    desc: bool,
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let start = pairs.partition_point(|(key, _)| key.as_slice() < lower);
    let end = if upper.is_empty() {
        pairs.len()
    } else {
        pairs.partition_point(|(key, _)| key.as_slice() < upper)
    };
    let inside = pairs.get(start..end.max(start)).unwrap_or_default();
    if desc {
        inside.iter().rev().take(limit).cloned().collect()
    } else {
        inside.iter().take(limit).cloned().collect()
    }
}
