//! Transaction status: check_txn_status on the primary, heartbeats, and check_secondary_locks
//! for async-commit transactions.

use super::actions::{put_rollback_record, rollback_lock};
use crate::engine::Snapshot;
use crate::error::{Result, TxnError};
use crate::mvcc::{Key, Lock, MvccReader, MvccTxn, TxnCommitRecord};

/// Parameters of `check_txn_status`.
#[derive(Debug, Clone, Default)]
pub struct CheckTxnStatusOptions {
    /// The transaction's start timestamp.
    pub lock_ts: u64,
    /// The start_ts of the reader or writer asking; its lock's `min_commit_ts` is pushed above.
    pub caller_start_ts: u64,
    /// The current timestamp, for TTL expiry.
    pub current_ts: u64,
    /// Write a rollback record when neither a lock nor a commit record exists.
    pub rollback_if_not_exist: bool,
    /// Treat an async-commit lock like a normal one (roll it back when expired).
    pub force_sync_commit: bool,
    /// The caller is resolving a pessimistic lock: only pessimistic-roll-back.
    pub resolving_pessimistic_lock: bool,
    /// Fail with `PrimaryMismatch` if the lock's primary is not this key.
    pub verify_is_primary: bool,
}

/// The status of a transaction, and what checking it did (`kvrpcpb.Action`).
#[derive(Debug, Clone, PartialEq)]
pub enum TxnStatus {
    /// Committed at `commit_ts`.
    Committed(u64),
    /// Already rolled back.
    RolledBack,
    /// The lock had expired and was rolled back now.
    TtlExpireRollback,
    /// The expired lock was pessimistic and was removed.
    TtlExpirePessimisticRollback,
    /// No lock and no record: a rollback record was written now.
    LockNotExistRollback,
    /// No lock and no record, and the caller resolves a pessimistic lock: nothing done.
    LockNotExistDoNothing,
    /// Still running; `min_commit_ts_pushed` says whether the check pushed its min_commit_ts.
    Uncommitted {
        /// The lock on the primary.
        lock: Box<Lock>,
        /// Whether the lock's `min_commit_ts` was raised above the caller's start_ts.
        min_commit_ts_pushed: bool,
    },
}

impl TxnStatus {
    /// The `kvrpcpb.Action` value.
    pub fn action(&self) -> i32 {
        match self {
            TxnStatus::Committed(_) | TxnStatus::RolledBack => 0,
            TxnStatus::Uncommitted {
                min_commit_ts_pushed,
                ..
            } => {
                if *min_commit_ts_pushed {
                    3
                } else {
                    0
                }
            }
            TxnStatus::TtlExpireRollback => 1,
            TxnStatus::LockNotExistRollback => 2,
            TxnStatus::TtlExpirePessimisticRollback => 4,
            TxnStatus::LockNotExistDoNothing => 5,
        }
    }
}

/// Checks (and if expired, rolls back) the transaction whose primary is `primary`.
pub fn check_txn_status<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    primary: &[u8],
    options: &CheckTxnStatusOptions,
) -> Result<TxnStatus> {
    let key = Key::from_raw(primary);
    if let Some(mut lock) = reader.load_lock(&key)? {
        if lock.ts == options.lock_ts {
            if options.verify_is_primary && lock.primary != primary {
                return Err(TxnError::PrimaryMismatch {
                    key: primary.to_vec(),
                    lock: Box::new(lock),
                }
                .into());
            }
            if lock.use_async_commit && !options.force_sync_commit {
                return Ok(TxnStatus::Uncommitted {
                    lock: Box::new(lock),
                    min_commit_ts_pushed: false,
                });
            }
            if lock.is_expired(options.current_ts) {
                if lock.is_pessimistic() && options.resolving_pessimistic_lock {
                    txn.unlock_key(&key);
                    return Ok(TxnStatus::TtlExpirePessimisticRollback);
                }
                rollback_lock(txn, reader, &key, &lock)?;
                return Ok(TxnStatus::TtlExpireRollback);
            }
            let caller = options.caller_start_ts;
            let mut pushed = false;
            if !lock.is_pessimistic()
                && caller != 0
                && caller != u64::MAX
                && lock.min_commit_ts <= caller
            {
                lock.min_commit_ts = caller + 1;
                txn.put_lock(&key, &lock);
                pushed = true;
            }
            return Ok(TxnStatus::Uncommitted {
                lock: Box::new(lock),
                min_commit_ts_pushed: pushed,
            });
        }
    }
    match reader.get_txn_commit_record(&key, options.lock_ts)? {
        TxnCommitRecord::Committed { commit_ts, .. } => Ok(TxnStatus::Committed(commit_ts)),
        TxnCommitRecord::RolledBack => Ok(TxnStatus::RolledBack),
        TxnCommitRecord::None { .. } => {
            if options.resolving_pessimistic_lock {
                Ok(TxnStatus::LockNotExistDoNothing)
            } else if options.rollback_if_not_exist {
                put_rollback_record(txn, reader, &key, options.lock_ts)?;
                Ok(TxnStatus::LockNotExistRollback)
            } else {
                Err(TxnError::TxnNotFound {
                    start_ts: options.lock_ts,
                    primary_key: primary.to_vec(),
                }
                .into())
            }
        }
    }
}

/// Extends the TTL of the primary lock to at least `advise_ttl`; returns the TTL now in force.
pub fn txn_heart_beat<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    primary: &[u8],
    start_ts: u64,
    advise_ttl: u64,
) -> Result<u64> {
    let key = Key::from_raw(primary);
    match reader.load_lock(&key)? {
        Some(mut lock) if lock.ts == start_ts => {
            if lock.ttl < advise_ttl {
                lock.ttl = advise_ttl;
                txn.put_lock(&key, &lock);
            }
            Ok(lock.ttl)
        }
        _ => Err(TxnError::TxnNotFound {
            start_ts,
            primary_key: primary.to_vec(),
        }
        .into()),
    }
}

/// What the secondaries of an async-commit transaction say about it.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondaryLocksStatus {
    /// Every key is still locked: these are the locks.
    Locked(Vec<(Vec<u8>, Lock)>),
    /// Some key was committed at this timestamp.
    Committed(u64),
    /// Some key was rolled back (or never prewritten, and a rollback is now recorded).
    RolledBack,
}

/// Checks the secondary `keys` of async-commit transaction `start_ts`.
pub fn check_secondary_locks<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    keys: &[Vec<u8>],
    start_ts: u64,
) -> Result<SecondaryLocksStatus> {
    let mut locks = Vec::with_capacity(keys.len());
    for raw in keys {
        let key = Key::from_raw(raw);
        match reader.load_lock(&key)? {
            Some(lock) if lock.ts == start_ts => {
                if lock.is_pessimistic() {
                    // Never prewritten: the transaction cannot have committed.
                    rollback_lock(txn, reader, &key, &lock)?;
                    return Ok(SecondaryLocksStatus::RolledBack);
                }
                locks.push((raw.clone(), lock));
            }
            _ => {
                return match reader.get_txn_commit_record(&key, start_ts)? {
                    TxnCommitRecord::Committed { commit_ts, .. } => {
                        Ok(SecondaryLocksStatus::Committed(commit_ts))
                    }
                    TxnCommitRecord::RolledBack => Ok(SecondaryLocksStatus::RolledBack),
                    TxnCommitRecord::None { .. } => {
                        put_rollback_record(txn, reader, &key, start_ts)?;
                        Ok(SecondaryLocksStatus::RolledBack)
                    }
                }
            }
        }
    }
    Ok(SecondaryLocksStatus::Locked(locks))
}
