//! Commit, rollback and resolve of single keys.

use crate::engine::Snapshot;
use crate::error::{Result, TxnError};
use crate::mvcc::{Key, Lock, LockType, MvccReader, MvccTxn, TxnCommitRecord, Write, WriteType};

/// Commits `key` of transaction `start_ts` at `commit_ts`. Committing twice is fine; committing
/// a transaction whose lock is gone and that did not commit is `TxnLockNotFound`.
pub fn commit<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    key: &Key,
    start_ts: u64,
    commit_ts: u64,
) -> Result<()> {
    if commit_ts <= start_ts {
        return Err(TxnError::InvalidTxnTso {
            start_ts,
            commit_ts,
        }
        .into());
    }
    match reader.load_lock(key)? {
        Some(lock) if lock.ts == start_ts => {
            if lock.is_pessimistic() {
                return Err(TxnError::LockTypeNotMatch {
                    start_ts,
                    key: key.to_raw()?,
                }
                .into());
            }
            if commit_ts < lock.min_commit_ts {
                return Err(TxnError::CommitTsExpired {
                    start_ts,
                    commit_ts,
                    key: key.to_raw()?,
                    min_commit_ts: lock.min_commit_ts,
                }
                .into());
            }
            let write_type = match lock.lock_type {
                LockType::Put => WriteType::Put,
                LockType::Delete => WriteType::Delete,
                LockType::Lock | LockType::Pessimistic => WriteType::Lock,
            };
            txn.put_write(
                key,
                commit_ts,
                &Write::new(write_type, start_ts, lock.short_value),
            );
            txn.unlock_key(key);
            Ok(())
        }
        _ => match reader.get_txn_commit_record(key, start_ts)? {
            TxnCommitRecord::Committed { .. } => Ok(()),
            TxnCommitRecord::RolledBack | TxnCommitRecord::None { .. } => {
                Err(TxnError::TxnLockNotFound {
                    start_ts,
                    commit_ts,
                    key: key.to_raw()?,
                }
                .into())
            }
        },
    }
}

/// Writes the rollback record of `start_ts` on `key`, folding it into another transaction's
/// commit record at the same timestamp when there is one.
pub(crate) fn put_rollback_record<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    key: &Key,
    start_ts: u64,
) -> Result<()> {
    match reader.get_txn_commit_record(key, start_ts)? {
        TxnCommitRecord::None {
            overlapped_write: Some(mut write),
        } => {
            write.has_overlapped_rollback = true;
            txn.put_write(key, start_ts, &write);
        }
        TxnCommitRecord::None {
            overlapped_write: None,
        } => {
            txn.put_write(
                key,
                start_ts,
                &Write::new(WriteType::Rollback, start_ts, None),
            );
        }
        TxnCommitRecord::RolledBack | TxnCommitRecord::Committed { .. } => {}
    }
    Ok(())
}

/// Removes `lock` (held by its own transaction on `key`) and leaves a rollback record.
pub(crate) fn rollback_lock<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    key: &Key,
    lock: &Lock,
) -> Result<()> {
    if lock.lock_type == LockType::Put && lock.short_value.is_none() {
        txn.delete_value(key, lock.ts);
    }
    put_rollback_record(txn, reader, key, lock.ts)?;
    txn.unlock_key(key);
    Ok(())
}

/// Rolls back transaction `start_ts` on `key`. Rolling back a committed key is `Committed`;
/// rolling back a key the transaction never reached leaves a rollback record so that a late
/// prewrite fails.
pub fn rollback_key<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    key: &Key,
    start_ts: u64,
) -> Result<()> {
    match reader.load_lock(key)? {
        Some(lock) if lock.ts == start_ts => rollback_lock(txn, reader, key, &lock),
        _ => match reader.get_txn_commit_record(key, start_ts)? {
            TxnCommitRecord::Committed { commit_ts, .. } => Err(TxnError::Committed {
                start_ts,
                commit_ts,
                key: key.to_raw()?,
            }
            .into()),
            TxnCommitRecord::RolledBack => Ok(()),
            TxnCommitRecord::None { .. } => put_rollback_record(txn, reader, key, start_ts),
        },
    }
}

/// Cleans up the primary `key` of transaction `start_ts`: like `rollback_key`, but a lock whose
/// TTL has not expired at `current_ts` (when non-zero) is reported as `KeyIsLocked`.
pub fn cleanup<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    key: &Key,
    start_ts: u64,
    current_ts: u64,
) -> Result<()> {
    if let Some(lock) = reader.load_lock(key)? {
        if lock.ts == start_ts && current_ts > 0 && !lock.is_expired(current_ts) {
            return Err(TxnError::KeyIsLocked(Box::new(lock), key.to_raw()?).into());
        }
    }
    rollback_key(txn, reader, key, start_ts)
}

/// Resolves the lock of transaction `start_ts` on `key`: commit at `commit_ts`, or roll back
/// when `commit_ts` is 0. Keys without this transaction's lock are left alone.
pub fn resolve_lock_key<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    key: &Key,
    start_ts: u64,
    commit_ts: u64,
) -> Result<()> {
    let Some(lock) = reader.load_lock(key)? else {
        return Ok(());
    };
    if lock.ts != start_ts {
        return Ok(());
    }
    if commit_ts == 0 {
        rollback_lock(txn, reader, key, &lock)
    } else if lock.is_pessimistic() {
        // The transaction committed without prewriting this key: the lock guarded nothing.
        txn.unlock_key(key);
        Ok(())
    } else {
        commit(txn, reader, key, start_ts, commit_ts)
    }
}
