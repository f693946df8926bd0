//! Pessimistic locks: taken during a pessimistic transaction's execution, turned into normal
//! locks by prewrite, or rolled back.

use super::conflict_reason;
use crate::engine::Snapshot;
use crate::error::{Result, TxnError};
use crate::mvcc::{Key, Lock, LockType, MvccReader, MvccTxn, TxnCommitRecord};

/// Parameters of one pessimistic lock request, shared by its keys.
#[derive(Debug, Clone, Default)]
pub struct PessimisticLockOptions {
    /// The primary key.
    pub primary: Vec<u8>,
    /// The transaction's start timestamp.
    pub start_ts: u64,
    /// Lock TTL in milliseconds.
    pub lock_ttl: u64,
    /// The statement's `for_update_ts`: commits after it are conflicts.
    pub for_update_ts: u64,
    /// The lock's `min_commit_ts`.
    pub min_commit_ts: u64,
    /// Return the current value of each key.
    pub return_values: bool,
    /// Report whether each key has a value.
    pub check_existence: bool,
    /// Lock only keys that have a value.
    pub lock_only_if_exists: bool,
}

/// Locks `key` for the pessimistic transaction. Returns the key's value at `for_update_ts`
/// when asked (and `None` otherwise or when it has none) and whether it has one.
pub fn acquire_pessimistic_lock<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    raw_key: &[u8],
    options: &PessimisticLockOptions,
) -> Result<(Option<Vec<u8>>, bool)> {
    let key = Key::from_raw(raw_key);
    let start_ts = options.start_ts;
    let need_value =
        options.return_values || options.check_existence || options.lock_only_if_exists;
    if let Some(mut lock) = reader.load_lock(&key)? {
        if lock.ts != start_ts {
            return Err(TxnError::KeyIsLocked(Box::new(lock), raw_key.to_vec()).into());
        }
        if lock.is_pessimistic() && options.for_update_ts > lock.for_update_ts {
            lock.for_update_ts = options.for_update_ts;
            lock.ttl = lock.ttl.max(options.lock_ttl);
            txn.put_lock(&key, &lock);
        }
        let value = if need_value {
            reader.get_value(&key, options.for_update_ts.max(start_ts))?
        } else {
            None
        };
        let exists = value.is_some();
        return Ok((value.filter(|_| options.return_values), exists));
    }
    if let Some((commit_ts, write)) = reader.seek_write(&key, u64::MAX)? {
        if commit_ts > options.for_update_ts {
            return Err(TxnError::WriteConflict {
                start_ts,
                conflict_start_ts: write.start_ts,
                conflict_commit_ts: commit_ts,
                key: raw_key.to_vec(),
                primary: options.primary.clone(),
                reason: conflict_reason::PESSIMISTIC_RETRY,
            }
            .into());
        }
        if commit_ts >= start_ts {
            match reader.get_txn_commit_record(&key, start_ts)? {
                TxnCommitRecord::RolledBack => {
                    return Err(TxnError::PessimisticLockRolledBack {
                        start_ts,
                        key: raw_key.to_vec(),
                    }
                    .into())
                }
                TxnCommitRecord::Committed { commit_ts, .. } => {
                    return Err(TxnError::Committed {
                        start_ts,
                        commit_ts,
                        key: raw_key.to_vec(),
                    }
                    .into())
                }
                TxnCommitRecord::None { .. } => {}
            }
        }
    }
    let value = if need_value {
        reader.get_value(&key, options.for_update_ts.max(start_ts))?
    } else {
        None
    };
    let exists = value.is_some();
    if options.lock_only_if_exists && !exists {
        return Ok((None, false));
    }
    let mut lock = Lock::new(
        LockType::Pessimistic,
        options.primary.clone(),
        start_ts,
        options.lock_ttl,
    );
    lock.for_update_ts = options.for_update_ts;
    lock.min_commit_ts = options.min_commit_ts;
    txn.put_lock(&key, &lock);
    Ok((value.filter(|_| options.return_values), exists))
}

/// Removes the pessimistic lock of `start_ts` on `key` if its `for_update_ts` is at most
/// `for_update_ts` (0 matches any). Prewritten locks and other transactions' locks stay.
pub fn pessimistic_rollback<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    key: &Key,
    start_ts: u64,
    for_update_ts: u64,
) -> Result<()> {
    if let Some(lock) = reader.load_lock(key)? {
        if lock.ts == start_ts
            && lock.is_pessimistic()
            && (for_update_ts == 0 || lock.for_update_ts <= for_update_ts)
        {
            txn.unlock_key(key);
        }
    }
    Ok(())
}
