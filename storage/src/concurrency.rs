//! The concurrency manager: the largest timestamp any reader has used (`max_ts`) and in-memory
//! locks held while async-commit and 1PC prewrites are computed and written.
//!
//! Async commit picks `min_commit_ts > max_ts` when it prewrites. A reader must therefore
//! raise `max_ts` *before* looking for locks, and a prewrite must read `max_ts` and publish its
//! memory lock in one critical section; then every reader either sees the lock or is seen by
//! the prewrite's `max_ts`.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;
use crate::mvcc::{check_lock_conflict, Key, Lock};

/// Shared state of the store's timestamp ordering.
#[derive(Default)]
pub struct ConcurrencyManager {
    max_ts: AtomicU64,
    memory_locks: Mutex<BTreeMap<Vec<u8>, Lock>>,
}

impl ConcurrencyManager {
    /// A manager whose `max_ts` starts at `initial` (a fresh timestamp from PD at startup).
    pub fn new(initial: u64) -> Arc<Self> {
        Arc::new(ConcurrencyManager {
            max_ts: AtomicU64::new(initial),
            memory_locks: Mutex::new(BTreeMap::new()),
        })
    }

    /// The largest timestamp seen so far.
    pub fn max_ts(&self) -> u64 {
        self.max_ts.load(Ordering::SeqCst)
    }

    /// Records that a reader (or committer) used `ts`. `u64::MAX` is ignored: it is the "latest"
    /// marker, not a real timestamp.
    pub fn update_max_ts(&self, ts: u64) {
        if ts != u64::MAX {
            self.max_ts.fetch_max(ts, Ordering::SeqCst);
        }
    }

    /// Checks memory locks on one key for a reader at `read_ts`.
    pub fn check_key(&self, key: &Key, read_ts: u64, bypass: &[u64]) -> Result<()> {
        if let Some(lock) = self.memory_locks.lock().get(key.as_encoded()) {
            check_lock_conflict(key, lock, read_ts, bypass)?;
        }
        Ok(())
    }

    /// Checks memory locks in `[start, end)` (encoded keys; `None` is unbounded).
    pub fn check_range(
        &self,
        start: &Key,
        end: Option<&Key>,
        read_ts: u64,
        bypass: &[u64],
    ) -> Result<()> {
        let locks = self.memory_locks.lock();
        let upper = match end {
            Some(end) => Bound::Excluded(end.as_encoded()),
            None => Bound::Unbounded,
        };
        for (key, lock) in locks.range::<[u8], _>((Bound::Included(start.as_encoded()), upper)) {
            check_lock_conflict(&Key::from_encoded(key.clone()), lock, read_ts, bypass)?;
        }
        Ok(())
    }

    /// Publishes memory locks for `locks`, computing each lock's `min_commit_ts` as
    /// `max(floor, max_ts + 1)` inside the critical section. Returns the largest
    /// `min_commit_ts` and a guard that removes the memory locks when dropped.
    pub fn lock_for_async_commit(
        self: &Arc<Self>,
        locks: Vec<(Key, Lock)>,
        floor: u64,
    ) -> (u64, MemoryLockGuard) {
        let mut table = self.memory_locks.lock();
        let min_commit_ts = floor.max(self.max_ts().saturating_add(1));
        let mut keys = Vec::with_capacity(locks.len());
        for (key, mut lock) in locks {
            lock.min_commit_ts = min_commit_ts;
            table.insert(key.as_encoded().to_vec(), lock);
            keys.push(key.as_encoded().to_vec());
        }
        (
            min_commit_ts,
            MemoryLockGuard {
                manager: self.clone(),
                keys,
            },
        )
    }
}

/// Removes memory locks when dropped (after the real locks are written).
pub struct MemoryLockGuard {
    manager: Arc<ConcurrencyManager>,
    keys: Vec<Vec<u8>>,
}

impl Drop for MemoryLockGuard {
    fn drop(&mut self) {
        let mut table = self.manager.memory_locks.lock();
        for key in &self.keys {
            table.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvcc::LockType;

    #[test]
    fn async_commit_lock_is_above_max_ts_and_visible_until_dropped() {
        let manager = ConcurrencyManager::new(10);
        manager.update_max_ts(100);
        manager.update_max_ts(u64::MAX);
        assert_eq!(manager.max_ts(), 100);
        let key = Key::from_raw(b"k");
        let lock = Lock::new(LockType::Put, b"k".to_vec(), 50, 3000);
        let (min_commit_ts, guard) = manager.lock_for_async_commit(vec![(key.clone(), lock)], 51);
        assert_eq!(min_commit_ts, 101);
        // A reader above min_commit_ts must wait for the lock.
        assert!(manager.check_key(&key, 200, &[]).is_err());
        assert!(manager
            .check_range(&Key::from_raw(b""), None, 200, &[])
            .is_err());
        // A reader below it cannot be affected.
        assert!(manager.check_key(&key, 100, &[]).is_ok());
        drop(guard);
        assert!(manager.check_key(&key, 200, &[]).is_ok());
    }
}
