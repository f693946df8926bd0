//! Point reads of MVCC state from a snapshot.

use super::{Key, Lock, LockType, Write, WriteType};
use crate::engine::{EngineIterator, IterOptions, Snapshot, CF_DEFAULT, CF_LOCK, CF_WRITE};
use crate::error::{Error, Result, TxnError};

/// What the write column family says about one transaction on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnCommitRecord {
    /// The transaction committed this key at `commit_ts`.
    Committed {
        /// The commit timestamp.
        commit_ts: u64,
        /// The record.
        write: Write,
    },
    /// The transaction was rolled back on this key (a rollback record or an overlapped one).
    RolledBack,
    /// Neither: the transaction never reached this key (or its records were collected). If
    /// another transaction committed at exactly our start_ts, its record is returned so that a
    /// rollback can be folded into it.
    None {
        /// A record of another transaction at `commit_ts == start_ts`, if any.
        overlapped_write: Option<Write>,
    },
}

/// Reads locks, commit records and values of single keys from one snapshot.
pub struct MvccReader<S: Snapshot> {
    snapshot: S,
    write_cursor: Option<S::Iter>,
}

impl<S: Snapshot> MvccReader<S> {
    /// A reader over `snapshot`.
    pub fn new(snapshot: S) -> Self {
        MvccReader {
            snapshot,
            write_cursor: None,
        }
    }

    /// The snapshot being read.
    pub fn snapshot(&self) -> &S {
        &self.snapshot
    }

    /// The lock on `key`, if any.
    pub fn load_lock(&self, key: &Key) -> Result<Option<Lock>> {
        match self.snapshot.get_cf(CF_LOCK, key.as_encoded())? {
            Some(bytes) => Ok(Some(Lock::parse(&bytes)?)),
            None => Ok(None),
        }
    }

    fn cursor(&mut self) -> Result<&mut S::Iter> {
        if self.write_cursor.is_none() {
            let iter = self
                .snapshot
                .iterator_cf(CF_WRITE, IterOptions::prefix_seek())?;
            self.write_cursor = Some(iter);
        }
        self.write_cursor
            .as_mut()
            .ok_or_else(|| Error::Engine("write cursor vanished".into()))
    }

    /// The newest write record of `key` with `commit_ts <= ts`.
    pub fn seek_write(&mut self, key: &Key, ts: u64) -> Result<Option<(u64, Write)>> {
        let cursor = self.cursor()?;
        if !cursor.seek(&key.append_ts(ts))? {
            return Ok(None);
        }
        let (found, commit_ts) = Key::split_on_ts(cursor.key())?;
        if found != key.as_encoded() {
            return Ok(None);
        }
        Ok(Some((commit_ts, Write::parse(cursor.value())?)))
    }

    /// Steps to the next older write record of `key` after a `seek_write` or `next_write`.
    fn next_write(&mut self, key: &Key) -> Result<Option<(u64, Write)>> {
        let cursor = self.cursor()?;
        if !cursor.next()? {
            return Ok(None);
        }
        let (found, commit_ts) = Key::split_on_ts(cursor.key())?;
        if found != key.as_encoded() {
            return Ok(None);
        }
        Ok(Some((commit_ts, Write::parse(cursor.value())?)))
    }

    /// The newest put or delete of `key` visible at `ts`, skipping lock and rollback records.
    pub fn get_write(&mut self, key: &Key, ts: u64) -> Result<Option<(u64, Write)>> {
        let mut current = self.seek_write(key, ts)?;
        while let Some((commit_ts, write)) = current {
            if write.is_data_change() {
                return Ok(Some((commit_ts, write)));
            }
            current = self.next_write(key)?;
        }
        Ok(None)
    }

    /// The value of `key` visible at `ts`, ignoring locks.
    pub fn get_value(&mut self, key: &Key, ts: u64) -> Result<Option<Vec<u8>>> {
        match self.get_write(key, ts)? {
            Some((_, write)) if write.write_type == WriteType::Put => {
                self.load_data(key, &write).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// What a committed transaction's lock on `key` makes visible: the put value (inline or in
    /// the default column family at the lock's ts), or nothing for a delete. Only put and delete
    /// locks block readers, so only they are read through.
    pub fn load_from_lock(
        &self,
        key: &Key,
        lock: &Lock,
        key_only: bool,
    ) -> Result<Option<Vec<u8>>> {
        if lock.lock_type != LockType::Put {
            return Ok(None);
        }
        if key_only {
            return Ok(Some(Vec::new()));
        }
        if let Some(value) = &lock.short_value {
            return Ok(Some(value.clone()));
        }
        self.snapshot
            .get_cf(CF_DEFAULT, &key.append_ts(lock.ts))?
            .map(Some)
            .ok_or_else(|| {
                Error::Corrupted(format!("value of {key:?} locked at {} is missing", lock.ts))
            })
    }

    /// The value a put record points at: inline, or in the default column family.
    pub fn load_data(&self, key: &Key, write: &Write) -> Result<Vec<u8>> {
        if let Some(value) = &write.short_value {
            return Ok(value.clone());
        }
        self.snapshot
            .get_cf(CF_DEFAULT, &key.append_ts(write.start_ts))?
            .ok_or_else(|| {
                Error::Corrupted(format!(
                    "value of {key:?} written at {} is missing",
                    write.start_ts
                ))
            })
    }

    /// What happened to transaction `start_ts` on `key`.
    pub fn get_txn_commit_record(&mut self, key: &Key, start_ts: u64) -> Result<TxnCommitRecord> {
        let mut current = self.seek_write(key, u64::MAX)?;
        let mut overlapped_write = None;
        while let Some((commit_ts, write)) = current {
            if commit_ts < start_ts {
                break;
            }
            if write.start_ts == start_ts {
                return Ok(if write.write_type == WriteType::Rollback {
                    TxnCommitRecord::RolledBack
                } else {
                    TxnCommitRecord::Committed { commit_ts, write }
                });
            }
            if commit_ts == start_ts {
                if write.has_overlapped_rollback {
                    return Ok(TxnCommitRecord::RolledBack);
                }
                overlapped_write = Some(write);
            }
            current = self.next_write(key)?;
        }
        Ok(TxnCommitRecord::None { overlapped_write })
    }

    /// Locks with `ts <= max_ts` whose keys are in `[start, end)` (encoded keys; empty `end`
    /// means unbounded), at most `limit` of them (0 means no limit).
    pub fn scan_locks(
        &self,
        start: &Key,
        end: Option<&Key>,
        max_ts: u64,
        limit: usize,
    ) -> Result<Vec<(Key, Lock)>> {
        let upper = end.map(|key| key.as_encoded()).unwrap_or_default();
        let mut iter = self
            .snapshot
            .iterator_cf(CF_LOCK, IterOptions::bounded(start.as_encoded(), upper))?;
        let mut locks = Vec::new();
        let mut valid = iter.seek(start.as_encoded())?;
        while valid {
            let lock = Lock::parse(iter.value())?;
            if lock.ts <= max_ts {
                locks.push((Key::from_encoded(iter.key().to_vec()), lock));
                if limit > 0 && locks.len() >= limit {
                    break;
                }
            }
            valid = iter.next()?;
        }
        Ok(locks)
    }
}

/// Whether a reader at `read_ts` must stop at `lock` on `key`. Locks that only lock (no data
/// change), locks of transactions the reader was told to skip (`bypass`), and locks whose
/// transaction will commit after `read_ts` (`min_commit_ts > read_ts`) do not block.
pub fn check_lock_conflict(key: &Key, lock: &Lock, read_ts: u64, bypass: &[u64]) -> Result<()> {
    if lock.ts > read_ts
        || matches!(lock.lock_type, LockType::Lock | LockType::Pessimistic)
        || bypass.contains(&lock.ts)
        || lock.min_commit_ts > read_ts
    {
        return Ok(());
    }
    let raw = key.to_raw()?;
    if read_ts == u64::MAX && raw == lock.primary {
        // A point read at the maximum timestamp reads the latest committed version of a
        // primary key; the lock's transaction commits after it.
        return Ok(());
    }
    Err(TxnError::KeyIsLocked(Box::new(lock.clone()), raw).into())
}
