//! Garbage collection of old versions: after GC at `safe_point`, every read at a timestamp
//! `>= safe_point` returns what it returned before, and versions no such read can see are gone.

use crate::engine::{EngineIterator, IterOptions, Modify, Snapshot, CF_WRITE};
use crate::error::Result;
use crate::mvcc::{Key, MvccTxn, Write, WriteType};

/// What a GC pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcStats {
    /// User keys looked at.
    pub keys: u64,
    /// Write records deleted.
    pub deleted_writes: u64,
    /// Long values deleted from the default column family.
    pub deleted_values: u64,
}

const BATCH_KEYS: usize = 512;

/// Collects garbage in `[start, end)` (user keys; empty `end` is unbounded) of `snapshot`,
/// handing the deletions to `apply` in batches.
pub fn gc_range<S: Snapshot>(
    snapshot: &S,
    start: &[u8],
    end: &[u8],
    safe_point: u64,
    mut apply: impl FnMut(Vec<Modify>) -> Result<()>,
) -> Result<GcStats> {
    let lower = Key::from_raw(start);
    let upper = (!end.is_empty()).then(|| Key::from_raw(end));
    let upper_bytes = upper
        .as_ref()
        .map(|key| key.as_encoded())
        .unwrap_or_default();
    let mut iter = snapshot.iterator_cf(
        CF_WRITE,
        // One pass over the range: keep the point reads' blocks in the cache.
        IterOptions::bounded(lower.as_encoded(), upper_bytes).fill_cache(false),
    )?;
    let mut stats = GcStats::default();
    let mut txn = MvccTxn::new();
    let mut current: Option<Vec<u8>> = None;
    // Whether the newest version at or below the safe point was already decided for `current`.
    let mut found_base = false;
    let mut keys_in_batch = 0;
    let mut valid = iter.seek_to_first()?;
    while valid {
        let (user, commit_ts) = Key::split_on_ts(iter.key())?;
        if current.as_deref() != Some(user) {
            current = Some(user.to_vec());
            found_base = false;
            stats.keys += 1;
            keys_in_batch += 1;
            if keys_in_batch >= BATCH_KEYS {
                apply(std::mem::take(&mut txn).into_modifies())?;
                keys_in_batch = 0;
            }
        }
        if commit_ts <= safe_point {
            let write = Write::parse(iter.value())?;
            let key = Key::from_encoded(user.to_vec());
            let remove = if found_base {
                true
            } else {
                match write.write_type {
                    WriteType::Put => {
                        found_base = true;
                        false
                    }
                    WriteType::Delete => {
                        found_base = true;
                        true
                    }
                    WriteType::Lock | WriteType::Rollback => true,
                }
            };
            if remove {
                txn.delete_write(&key, commit_ts);
                stats.deleted_writes += 1;
                if write.write_type == WriteType::Put && write.short_value.is_none() {
                    txn.delete_value(&key, write.start_ts);
                    stats.deleted_values += 1;
                }
            }
        }
        valid = iter.next()?;
    }
    if !txn.is_empty() {
        apply(txn.into_modifies())?;
    }
    Ok(stats)
}
