//! The engine trait layer: what storage needs from an ordered key-value engine with column
//! families, consistent snapshots and atomic write batches. RocksDB is the real engine;
//! `MemoryEngine` serves unit tests of the layers above.

mod memory;
mod rocks;

pub use memory::{MemoryEngine, MemorySnapshot};
pub use rocks::{RocksEngine, RocksOptions, RocksSnapshot};

use crate::error::Result;

/// Column family holding values too long to inline in a write record (`key@start_ts`), and raw KV.
pub const CF_DEFAULT: &str = "default";
/// Column family holding Percolator locks (`key`).
pub const CF_LOCK: &str = "lock";
/// Column family holding commit and rollback records (`key@commit_ts`).
pub const CF_WRITE: &str = "write";
/// Column family for the store's own metadata (region state, store identity).
pub const CF_RAFT: &str = "raft";
/// Every column family, in the order they are opened.
pub const ALL_CFS: &[&str] = &[CF_DEFAULT, CF_LOCK, CF_WRITE, CF_RAFT];

/// Returns `Ok(())` when `cf` names one of `ALL_CFS`.
pub fn check_cf(cf: &str) -> Result<()> {
    if ALL_CFS.contains(&cf) {
        Ok(())
    } else {
        Err(crate::Error::InvalidRequest(format!(
            "unknown column family {cf:?}"
        )))
    }
}

/// Bounds and hints for an iterator. Keys outside `[lower_bound, upper_bound)` are invisible.
#[derive(Debug, Clone)]
pub struct IterOptions {
    /// Inclusive lower bound, if any.
    pub lower_bound: Option<Vec<u8>>,
    /// Exclusive upper bound, if any.
    pub upper_bound: Option<Vec<u8>>,
    /// Whether blocks read by this iterator should enter the block cache.
    pub fill_cache: bool,
    /// Only the versions of the seek target's user key matter (an MVCC point read): the
    /// engine may stop at the last key sharing the target's prefix (the key without its 8-byte
    /// timestamp) and skip files whose prefix bloom filter rules the key out. A hint: the
    /// caller still checks which key the cursor is on.
    pub prefix_seek: bool,
}

/// Unbounded, filling the block cache: an iterator left at the default (a point read's cursor)
/// reads the blocks its neighbours will want, and must not decompress them again each time.
impl Default for IterOptions {
    fn default() -> Self {
        IterOptions {
            lower_bound: None,
            upper_bound: None,
            fill_cache: true,
            prefix_seek: false,
        }
    }
}

impl IterOptions {
    /// Options bounded to `[lower, upper)`; an empty `upper` means unbounded.
    pub fn bounded(lower: &[u8], upper: &[u8]) -> Self {
        IterOptions {
            lower_bound: if lower.is_empty() {
                None
            } else {
                Some(lower.to_vec())
            },
            upper_bound: if upper.is_empty() {
                None
            } else {
                Some(upper.to_vec())
            },
            fill_cache: true,
            prefix_seek: false,
        }
    }

    /// Options for the versions of one user key at a time (see `prefix_seek`).
    pub fn prefix_seek() -> Self {
        IterOptions {
            prefix_seek: true,
            ..IterOptions::default()
        }
    }

    /// The same options, with blocks read entering the block cache or not. A scan that reads
    /// a large range once (a coprocessor scan asked not to fill the cache, a raft snapshot, a
    /// GC pass) should not evict the blocks point reads keep coming back to.
    pub fn fill_cache(mut self, fill: bool) -> Self {
        self.fill_cache = fill;
        self
    }
}

/// A cursor over one column family of a snapshot. Positioning methods return whether the cursor
/// now points at an entry; `key`/`value` may only be called while it does.
pub trait EngineIterator: Send {
    /// Moves to the first key `>= key`.
    fn seek(&mut self, key: &[u8]) -> Result<bool>;
    /// Moves to the last key `<= key`.
    fn seek_for_prev(&mut self, key: &[u8]) -> Result<bool>;
    /// Moves to the first key within bounds.
    fn seek_to_first(&mut self) -> Result<bool>;
    /// Moves to the last key within bounds.
    fn seek_to_last(&mut self) -> Result<bool>;
    /// Steps forward.
    fn next(&mut self) -> Result<bool>;
    /// Steps backward.
    fn prev(&mut self) -> Result<bool>;
    /// Whether the cursor points at an entry.
    fn valid(&self) -> Result<bool>;
    /// The current key.
    fn key(&self) -> &[u8];
    /// The current value.
    fn value(&self) -> &[u8];
}

/// A consistent, read-only view of the engine at one moment.
pub trait Snapshot: Send + Sync + 'static {
    /// The iterator type.
    type Iter: EngineIterator;
    /// Point read in `cf`.
    fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// An iterator over `cf` within `options`' bounds.
    fn iterator_cf(&self, cf: &str, options: IterOptions) -> Result<Self::Iter>;
}

/// One change in a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modify {
    /// Put `key -> value` into a column family.
    Put(&'static str, Vec<u8>, Vec<u8>),
    /// Delete `key` from a column family.
    Delete(&'static str, Vec<u8>),
    /// Delete every key in `[start, end)` of a column family.
    DeleteRange(&'static str, Vec<u8>, Vec<u8>),
}

impl Modify {
    /// Rough number of bytes this change writes, for batch size accounting.
    pub fn size(&self) -> usize {
        match self {
            Modify::Put(_, key, value) => key.len() + value.len(),
            Modify::Delete(_, key) => key.len(),
            Modify::DeleteRange(_, start, end) => start.len() + end.len(),
        }
    }
}

/// A local ordered key-value engine with column families.
pub trait KvEngine: Clone + Send + Sync + 'static {
    /// The snapshot type.
    type Snap: Snapshot;
    /// Takes a consistent snapshot.
    fn snapshot(&self) -> Self::Snap;
    /// Applies `batch` atomically; durable on return when `sync` is set.
    fn write(&self, batch: &[Modify], sync: bool) -> Result<()>;
    /// Point read of the latest data, outside any snapshot.
    fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;
}
