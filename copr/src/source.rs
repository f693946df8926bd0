//! The coprocessor's only view of storage: visible `(key, value)` pairs of a key range at the
//! request's `start_ts`, a batch at a time. Locks of other transactions that the reader must
//! respect come back as `basalt_storage::Error` (`KeyIsLocked`), which the endpoint turns into
//! `Response.locked`.

use basalt_storage::engine::Snapshot;
use basalt_storage::mvcc::{Key, MvccScanner, ScanOptions};

use crate::error::{Error, Result};

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

/// Reads visible rows of the request's snapshot, one range at a time, a batch at a time: a
/// scan begun on a range keeps its place between batches, so reading a range in many batches
/// costs what reading it at once does.
pub trait ScanSource: Send {
    /// Starts reading `[lower, upper)` (user keys; empty `upper` = unbounded) from the low end,
    /// or from the high end when `desc`, in place of any scan in progress.
    fn begin_scan(&mut self, lower: &[u8], upper: &[u8], desc: bool) -> Result<()>;

    /// Hands up to `limit` more pairs of the scan begun last to `visit` (the key and the row
    /// value, borrowed for the call only); answers how many. Fewer than `limit` means the
    /// range is done. An error from `visit` stops the scan and is returned.
    fn scan_next<F>(&mut self, limit: usize, visit: F) -> Result<usize>
    where
        F: FnMut(RowKey<'_>, &[u8]) -> Result<()>;
}

/// A `ScanSource` over an MVCC snapshot.
pub struct SnapshotSource<S: Snapshot> {
    snapshot: S,
    start_ts: u64,
    locks: LockPolicy,
    not_fill_cache: bool,
    scan: Option<MvccScanner<S>>,
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
            scan: None,
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
    fn begin_scan(&mut self, lower: &[u8], upper: &[u8], desc: bool) -> Result<()> {
        let options = ScanOptions {
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            limit: usize::MAX,
            read_ts: self.start_ts,
            key_only: false,
            reverse: desc,
            bypass_locks: self.locks.bypass.clone(),
            ignore_locks: self.locks.ignore_all,
            access_locks: self.locks.access.clone(),
            not_fill_cache: self.not_fill_cache,
            // A blocking lock fails the whole request (`Response.locked`) whichever key it is
            // on, so locks are read once per batch over the keys it covered.
            check_locks_per_batch: true,
        };
        self.scan = Some(MvccScanner::new(self.snapshot.clone(), options)?);
        Ok(())
    }

    fn scan_next<F>(&mut self, limit: usize, mut visit: F) -> Result<usize>
    where
        F: FnMut(RowKey<'_>, &[u8]) -> Result<()>,
    {
        let scan = self
            .scan
            .as_mut()
            .ok_or_else(|| Error::InvalidDag("scan_next before begin_scan".into()))?;
        scan.next_batch(limit, |key: &Key, value| {
            // A lock that blocks the reader fails the request (`Response.locked`).
            visit(RowKey::Encoded(key), value?)
        })
    }
}

/// A `ScanSource` over sorted in-memory pairs, for executor tests.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    /// The pairs, sorted by key (a test may change them before scanning).
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
    scan: SortedScan,
}

impl MemorySource {
    /// A source over `pairs`, sorted by key.
    pub fn new(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        MemorySource {
            pairs,
            scan: SortedScan::default(),
        }
    }
}

impl ScanSource for MemorySource {
    fn begin_scan(&mut self, lower: &[u8], upper: &[u8], desc: bool) -> Result<()> {
        self.scan = SortedScan::begin(&self.pairs, lower, upper, desc);
        Ok(())
    }

    fn scan_next<F>(&mut self, limit: usize, visit: F) -> Result<usize>
    where
        F: FnMut(RowKey<'_>, &[u8]) -> Result<()>,
    {
        self.scan.next(&self.pairs, limit, visit)
    }
}

/// A scan in progress over pairs sorted by key: the positions still to read, `[next, end)`,
/// read from the low end or, when `desc`, from the high end. The range is found by binary
/// search, so a scan costs its rows, not the whole slice.
#[derive(Debug, Clone, Copy, Default)]
pub struct SortedScan {
    next: usize,
    end: usize,
    desc: bool,
}

impl SortedScan {
    /// Starts reading the pairs of `pairs` (sorted by key) in `[lower, upper)` (empty `upper` =
    /// unbounded).
    pub fn begin<V>(pairs: &[(Vec<u8>, V)], lower: &[u8], upper: &[u8], desc: bool) -> Self {
        let start = pairs.partition_point(|(key, _)| key.as_slice() < lower);
        let end = if upper.is_empty() {
            pairs.len()
        } else {
            pairs.partition_point(|(key, _)| key.as_slice() < upper)
        };
        SortedScan {
            next: start,
            end: end.max(start),
            desc,
        }
    }

    /// Hands up to `limit` more pairs of `pairs` (the slice `begin` saw) to `visit`.
    pub fn next<V: AsRef<[u8]>, F>(
        &mut self,
        pairs: &[(Vec<u8>, V)],
        limit: usize,
        mut visit: F,
    ) -> Result<usize>
    where
        F: FnMut(RowKey<'_>, &[u8]) -> Result<()>,
    {
        let take = limit.min(self.end - self.next);
        let chunk = if self.desc {
            self.end -= take;
            pairs.get(self.end..self.end + take)
        } else {
            self.next += take;
            pairs.get(self.next - take..self.next)
        }
        .unwrap_or_default();
        let mut each = |(key, value): &(Vec<u8>, V)| visit(RowKey::Raw(key), value.as_ref());
        if self.desc {
            chunk.iter().rev().try_for_each(&mut each)?;
        } else {
            chunk.iter().try_for_each(&mut each)?;
        }
        Ok(chunk.len())
    }
}
