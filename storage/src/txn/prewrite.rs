//! Prewrite: the first phase of Percolator, optimistic and pessimistic, with async commit and
//! one-phase commit (1PC).

use std::sync::Arc;

use super::{conflict_reason, Mutation, MutationOp, PessimisticAction};
use crate::concurrency::{ConcurrencyManager, MemoryLockGuard};
use crate::engine::Snapshot;
use crate::error::{Error, Result, TxnError};
use crate::mvcc::{
    Key, Lock, LockType, MvccReader, MvccTxn, TxnCommitRecord, Write, WriteType,
    SHORT_VALUE_MAX_LEN,
};

/// A prewrite command.
#[derive(Debug, Clone, Default)]
pub struct PrewriteRequest {
    /// The keys and their operations.
    pub mutations: Vec<Mutation>,
    /// Per mutation, for pessimistic transactions; empty means all `SkipPessimisticCheck`.
    pub pessimistic_actions: Vec<PessimisticAction>,
    /// The primary key.
    pub primary: Vec<u8>,
    /// The transaction's start timestamp.
    pub start_ts: u64,
    /// Lock TTL in milliseconds.
    pub lock_ttl: u64,
    /// Number of keys in the whole transaction.
    pub txn_size: u64,
    /// Non-zero for pessimistic transactions.
    pub for_update_ts: u64,
    /// Lower bound for the commit timestamp.
    pub min_commit_ts: u64,
    /// Upper bound for async commit / 1PC commit timestamps (0: none).
    pub max_commit_ts: u64,
    /// With async commit, the secondary keys (`Some` enables async commit).
    pub secondaries: Option<Vec<Vec<u8>>>,
    /// Commit in one phase if possible.
    pub try_one_pc: bool,
}

/// The result of a prewrite.
pub struct PrewriteOutcome {
    /// Per-key lock conflicts; when non-empty nothing is written.
    pub locked: Vec<Error>,
    /// The async-commit `min_commit_ts` (0 when not async commit, or after falling back).
    pub min_commit_ts: u64,
    /// The 1PC commit timestamp (0 when not committed in one phase).
    pub one_pc_commit_ts: u64,
    /// Changes to apply.
    pub txn: MvccTxn,
    /// Memory locks to hold until the changes are applied.
    pub guard: Option<MemoryLockGuard>,
}

enum KeyOutcome {
    /// A lock to write (the value, if long, is already in the txn).
    Lock(Key, Lock, bool /* replaces a pessimistic lock */),
    /// The key was prewritten before by this transaction.
    AlreadyDone(u64 /* its min_commit_ts */),
    /// Nothing to write (`CheckNotExists`).
    Nothing,
}

/// Runs a prewrite.
pub fn prewrite<S: Snapshot>(
    reader: &mut MvccReader<S>,
    manager: &Arc<ConcurrencyManager>,
    request: &PrewriteRequest,
) -> Result<PrewriteOutcome> {
    if request.mutations.is_empty() {
        return Err(Error::InvalidRequest("prewrite without mutations".into()));
    }
    if !request.pessimistic_actions.is_empty()
        && request.pessimistic_actions.len() != request.mutations.len()
    {
        return Err(Error::InvalidRequest(format!(
            "{} pessimistic actions for {} mutations",
            request.pessimistic_actions.len(),
            request.mutations.len()
        )));
    }
    let mut txn = MvccTxn::new();
    let mut locked = Vec::new();
    let mut locks = Vec::new();
    let mut previous_min_commit_ts = 0;
    for (index, mutation) in request.mutations.iter().enumerate() {
        if mutation.key.is_empty() {
            return Err(Error::InvalidRequest("empty key in prewrite".into()));
        }
        let action = request
            .pessimistic_actions
            .get(index)
            .copied()
            .unwrap_or(PessimisticAction::SkipPessimisticCheck);
        match prewrite_key(&mut txn, reader, request, mutation, action) {
            Ok(KeyOutcome::Lock(key, lock, replaces)) => locks.push((key, lock, replaces)),
            Ok(KeyOutcome::AlreadyDone(min_commit_ts)) => {
                previous_min_commit_ts = previous_min_commit_ts.max(min_commit_ts)
            }
            Ok(KeyOutcome::Nothing) => {}
            Err(err @ Error::Txn(TxnError::KeyIsLocked(..))) => locked.push(err),
            Err(err) => return Err(err),
        }
    }
    let mut outcome = PrewriteOutcome {
        locked,
        min_commit_ts: 0,
        one_pc_commit_ts: 0,
        txn: MvccTxn::new(),
        guard: None,
    };
    if !outcome.locked.is_empty() {
        return Ok(outcome);
    }
    let async_commit = request.secondaries.is_some() || request.try_one_pc;
    if async_commit && !locks.is_empty() {
        let floor = (request.start_ts + 1)
            .max(request.for_update_ts + 1)
            .max(request.min_commit_ts)
            .max(previous_min_commit_ts);
        let memory_locks = locks
            .iter()
            .map(|(key, lock, _)| (key.clone(), lock.clone()))
            .collect();
        let (min_commit_ts, guard) = manager.lock_for_async_commit(memory_locks, floor);
        if request.max_commit_ts == 0 || min_commit_ts <= request.max_commit_ts {
            outcome.guard = Some(guard);
            if request.try_one_pc {
                for (key, lock, replaces) in &locks {
                    commit_in_one_phase(&mut txn, key, lock, *replaces, min_commit_ts);
                }
                outcome.one_pc_commit_ts = min_commit_ts;
            } else {
                for (key, lock, _) in &mut locks {
                    lock.min_commit_ts = min_commit_ts;
                    txn.put_lock(key, lock);
                }
                outcome.min_commit_ts = min_commit_ts;
            }
            outcome.txn = txn;
            return Ok(outcome);
        }
        // The commit timestamp would exceed what the client allows: fall back to 2PC.
        drop(guard);
        for (_, lock, _) in &mut locks {
            lock.use_async_commit = false;
            lock.secondaries.clear();
        }
    } else if async_commit {
        outcome.min_commit_ts = previous_min_commit_ts;
    }
    for (key, lock, _) in &locks {
        txn.put_lock(key, lock);
    }
    outcome.txn = txn;
    Ok(outcome)
}

fn commit_in_one_phase(txn: &mut MvccTxn, key: &Key, lock: &Lock, replaces: bool, commit_ts: u64) {
    let write_type = match lock.lock_type {
        LockType::Put => WriteType::Put,
        LockType::Delete => WriteType::Delete,
        LockType::Lock | LockType::Pessimistic => WriteType::Lock,
    };
    txn.put_write(
        key,
        commit_ts,
        &Write::new(write_type, lock.ts, lock.short_value.clone()),
    );
    if replaces {
        txn.unlock_key(key);
    }
}

fn prewrite_key<S: Snapshot>(
    txn: &mut MvccTxn,
    reader: &mut MvccReader<S>,
    request: &PrewriteRequest,
    mutation: &Mutation,
    action: PessimisticAction,
) -> Result<KeyOutcome> {
    let key = Key::from_raw(&mutation.key);
    let start_ts = request.start_ts;
    let mut replaces_pessimistic = false;
    match reader.load_lock(&key)? {
        Some(lock) if lock.ts != start_ts => {
            return Err(TxnError::KeyIsLocked(Box::new(lock), mutation.key.clone()).into())
        }
        Some(lock) if !lock.is_pessimistic() => {
            return Ok(KeyOutcome::AlreadyDone(lock.min_commit_ts));
        }
        Some(_) => replaces_pessimistic = true,
        None => {
            if action == PessimisticAction::DoPessimisticCheck {
                return match reader.get_txn_commit_record(&key, start_ts)? {
                    TxnCommitRecord::Committed { .. } => Ok(KeyOutcome::AlreadyDone(0)),
                    _ => Err(TxnError::PessimisticLockNotFound {
                        start_ts,
                        key: mutation.key.clone(),
                    }
                    .into()),
                };
            }
            check_newer_version(reader, &key, request, mutation, action)?;
        }
    }
    if mutation.op == MutationOp::CheckNotExists {
        return Ok(KeyOutcome::Nothing);
    }
    let lock_type = match mutation.op {
        MutationOp::Put | MutationOp::Insert => LockType::Put,
        MutationOp::Delete => LockType::Delete,
        MutationOp::Lock | MutationOp::CheckNotExists => LockType::Lock,
    };
    let mut lock = Lock::new(
        lock_type,
        request.primary.clone(),
        start_ts,
        request.lock_ttl,
    );
    lock.for_update_ts = request.for_update_ts;
    lock.txn_size = request.txn_size;
    lock.min_commit_ts = request.min_commit_ts;
    if lock_type == LockType::Put {
        if mutation.value.len() <= SHORT_VALUE_MAX_LEN {
            lock.short_value = Some(mutation.value.clone());
        } else {
            txn.put_value(&key, start_ts, mutation.value.clone());
        }
    }
    if let Some(secondaries) = &request.secondaries {
        lock.use_async_commit = true;
        if mutation.key == request.primary {
            lock.secondaries = secondaries.clone();
        }
    }
    Ok(KeyOutcome::Lock(key, lock, replaces_pessimistic))
}

/// Optimistic conflict and constraint checks of a key without a lock.
fn check_newer_version<S: Snapshot>(
    reader: &mut MvccReader<S>,
    key: &Key,
    request: &PrewriteRequest,
    mutation: &Mutation,
    action: PessimisticAction,
) -> Result<()> {
    let start_ts = request.start_ts;
    if let Some((commit_ts, write)) = reader.seek_write(key, u64::MAX)? {
        let self_rolled_back = commit_ts == start_ts
            && (write.write_type == WriteType::Rollback || write.has_overlapped_rollback);
        if commit_ts > start_ts || self_rolled_back {
            return Err(TxnError::WriteConflict {
                start_ts,
                conflict_start_ts: write.start_ts,
                conflict_commit_ts: commit_ts,
                key: mutation.key.clone(),
                primary: request.primary.clone(),
                reason: if self_rolled_back {
                    conflict_reason::SELF_ROLLED_BACK
                } else {
                    conflict_reason::OPTIMISTIC
                },
            }
            .into());
        }
    }
    let must_not_exist = matches!(mutation.op, MutationOp::Insert | MutationOp::CheckNotExists)
        || (action == PessimisticAction::DoConstraintCheck && mutation.op == MutationOp::Insert);
    if must_not_exist {
        if let Some((_, write)) = reader.get_write(key, u64::MAX)? {
            if write.write_type == WriteType::Put {
                return Err(TxnError::AlreadyExist {
                    key: mutation.key.clone(),
                }
                .into());
            }
        }
    }
    Ok(())
}
