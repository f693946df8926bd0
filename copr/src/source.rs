//! The coprocessor's only view of storage: visible `(key, value)` pairs of a key range at the
//! request's `start_ts`, a batch at a time. Locks of other transactions that the reader must
//! respect come back as `basalt_storage::Error` (`KeyIsLocked`), which the endpoint turns into
//! `Response.locked`.

use basalt_storage::engine::Snapshot;
use basalt_storage::mvcc::{self, Key, ScanOptions};

use crate::error::Result;

/// What a scan hands each visible pair to: the key and the row value, borrowed for the call
/// only. An error stops the scan.
pub type Visit<'a> = &'a mut dyn FnMut(RowKey<'_>, &[u8]) -> Result<()>;

/// A scanned pair's key: the user key, or its memcomparable encoding as stored (decoded only
/// by visitors that need it).
#[derive(Debug, Clone, Copy)]
pub enum RowKey<'a> {
    /// The user key.
    Raw(&'a [u8]),
    /// The stored (memcomparable-encoded) user key.
    Encoded(&'a Key),
}

impl<'a> RowKey<'a> {
    /// The user key, decoded into `buf` if it is encoded.
    pub fn user_key<'b>(&self, buf: &'b mut Vec<u8>) -> Result<&'b [u8]>
    where
        'a: 'b,
    {
        match *self {
            RowKey::Raw(raw) => Ok(raw),
            RowKey::Encoded(key) => {
                key.to_raw_into(buf)?;
                Ok(buf.as_slice())
            }
        }
    }
}

/// Reads visible rows of the request's snapshot.
pub trait ScanSource: Send {
    /// Hands up to `limit` pairs of `[lower, upper)` (user keys; empty `upper` = unbounded) to
    /// `visit`, from the low end, or from the high end when `desc`; answers how many.
    fn scan_each(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
        visit: Visit<'_>,
    ) -> Result<usize>;

    /// Up to `limit` pairs, collected.
    fn scan(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut pairs = Vec::new();
        let mut buf = Vec::new();
        self.scan_each(lower, upper, desc, limit, &mut |key, value| {
            pairs.push((key.user_key(&mut buf)?.to_vec(), value.to_vec()));
            Ok(())
        })?;
        Ok(pairs)
    }
}

/// A `ScanSource` over an MVCC snapshot.
pub struct SnapshotSource<S: Snapshot> {
    snapshot: S,
    start_ts: u64,
    locks: LockPolicy,
    not_fill_cache: bool,
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
            not_fill_cache: false,
        }
    }

    /// Keeps the blocks the scans read out of the block cache (the context's
    /// `not_fill_cache`), so one analytic pass does not evict the point reads' working set.
    pub fn not_fill_cache(mut self, not_fill_cache: bool) -> Self {
        self.not_fill_cache = not_fill_cache;
        self
    }
}

impl<S: Snapshot + Clone + Send> ScanSource for SnapshotSource<S> {
    fn scan_each(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
        visit: Visit<'_>,
    ) -> Result<usize> {
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
            not_fill_cache: self.not_fill_cache,
        };
        // The visitor's own errors cross the storage layer as a marker and come back whole.
        let mut failure = None;
        let scanned = mvcc::scan_each(self.snapshot.clone(), &options, &mut |key, value| {
            // A lock that blocks the reader fails the request (`Response.locked`).
            let value = value?;
            visit(RowKey::Encoded(key), value).map_err(|err| {
                failure = Some(err);
                basalt_storage::Error::Closed
            })
        });
        match (scanned, failure) {
            (_, Some(err)) => Err(err),
            (Ok(scanned), None) => Ok(scanned),
            (Err(err), None) => Err(err.into()),
        }
    }
}

/// A `ScanSource` over sorted in-memory pairs, for executor tests.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    /// The pairs, sorted by key.
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ScanSource for MemorySource {
    fn scan_each(
        &mut self,
        lower: &[u8],
        upper: &[u8],
        desc: bool,
        limit: usize,
        visit: Visit<'_>,
    ) -> Result<usize> {
        scan_sorted(&self.pairs, lower, upper, desc, limit, visit)
    }
}

/// Hands up to `limit` pairs of `pairs` (sorted by key) in `[lower, upper)` (empty `upper` =
/// unbounded) to `visit`, from the low end or, when `desc`, the high end. The range is found
/// by binary search, so a scan costs its rows, not the whole slice.
pub fn scan_sorted(
    pairs: &[(Vec<u8>, Vec<u8>)],
    lower: &[u8],
    upper: &[u8],
    desc: bool,
    limit: usize,
    visit: Visit<'_>,
) -> Result<usize> {
    let start = pairs.partition_point(|(key, _)| key.as_slice() < lower);
    let end = if upper.is_empty() {
        pairs.len()
    } else {
        pairs.partition_point(|(key, _)| key.as_slice() < upper)
    };
    let inside = pairs.get(start..end.max(start)).unwrap_or_default();
    let mut visited = 0;
    let mut each = |(key, value): &(Vec<u8>, Vec<u8>)| {
        visited += 1;
        visit(RowKey::Raw(key), value)
    };
    if desc {
        inside.iter().rev().take(limit).try_for_each(&mut each)?;
    } else {
        inside.iter().take(limit).try_for_each(&mut each)?;
    }
    Ok(visited)
}
