//! Resolving the Percolator locks a request ran into. The lock's primary tells the fate of its
//! transaction (`KvCheckTxnStatus`, which also rolls back an expired lock); a committed or
//! rolled-back transaction's locks in the locked key's region are then cleaned up
//! (`KvResolveLock`), and a live one is waited for with backoff. Final statuses are cached per
//! cluster, since a transaction that committed or rolled back never changes its mind.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use basalt_proto::kvrpcpb;

use crate::error::{describe_lock, key_error, Error, Result};
use crate::rpc::Backoff;
use crate::Cluster;

/// How long a reader waits for live locks before failing with `Error::Locked`.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Final transaction statuses kept before the cache is cleared.
const STATUS_CACHE_SIZE: usize = 4096;

/// What became of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnStatus {
    /// Committed at this commit_ts.
    Committed(u64),
    /// Rolled back (or never prewritten its primary, and now never will).
    RolledBack,
    /// Still running: its primary lock is alive.
    Alive,
}

/// The locks one read or write has waited on: a deadline, a backoff, and the transactions
/// whose locks it may skip (`Context.resolved_locks`).
pub(crate) struct LockWait {
    caller_start_ts: u64,
    deadline: Instant,
    backoff: Backoff,
    resolved: Vec<u64>,
}

impl LockWait {
    /// For a reader at `read_ts`.
    pub(crate) fn for_read(read_ts: u64) -> Self {
        LockWait::new(read_ts)
    }

    /// For a writer (prewrite): locks are resolved without pushing their min_commit_ts.
    pub(crate) fn for_write() -> Self {
        LockWait::new(0)
    }

    fn new(caller_start_ts: u64) -> Self {
        LockWait {
            caller_start_ts,
            deadline: Instant::now() + LOCK_WAIT,
            backoff: Backoff::new(Duration::from_millis(10), Duration::from_millis(500)),
            resolved: Vec::new(),
        }
    }

    /// Transactions whose locks the next attempt may skip: rolled back, or committed after the
    /// reader's timestamp.
    pub(crate) fn resolved(&self) -> &[u64] {
        &self.resolved
    }

    /// Resolves `locks`; if some belong to live transactions, waits (backoff) before the
    /// caller retries, or fails with `Error::Locked` once the wait is over.
    pub(crate) async fn resolve(
        &mut self,
        cluster: &Cluster,
        locks: Vec<kvrpcpb::LockInfo>,
    ) -> Result<()> {
        let mut alive = None;
        let mut cleaned: HashSet<(u64, u64)> = HashSet::new();
        for lock in locks {
            match self.resolve_one(cluster, &lock, &mut cleaned).await? {
                TxnStatus::Alive => {
                    alive.get_or_insert(lock);
                }
                TxnStatus::Committed(_) | TxnStatus::RolledBack => {}
            }
        }
        if let Some(lock) = alive {
            if Instant::now() >= self.deadline {
                return Err(Error::Locked(format!(
                    "{} (gave up after {} s)",
                    describe_lock(&lock),
                    LOCK_WAIT.as_secs()
                )));
            }
            tracing::debug!(lock = %describe_lock(&lock), "waiting for a live lock");
            self.backoff.sleep().await;
        }
        Ok(())
    }

    async fn resolve_one(
        &mut self,
        cluster: &Cluster,
        lock: &kvrpcpb::LockInfo,
        cleaned: &mut HashSet<(u64, u64)>,
    ) -> Result<TxnStatus> {
        let status = match cluster.cached_txn_status(lock.lock_version) {
            Some(0) => TxnStatus::RolledBack,
            Some(commit_ts) => TxnStatus::Committed(commit_ts),
            None => {
                let status = check_txn_status(cluster, lock, self.caller_start_ts).await?;
                match status {
                    TxnStatus::Committed(commit_ts) => {
                        cluster.cache_txn_status(lock.lock_version, commit_ts)
                    }
                    TxnStatus::RolledBack => cluster.cache_txn_status(lock.lock_version, 0),
                    TxnStatus::Alive => {}
                }
                status
            }
        };
        let commit_ts = match status {
            TxnStatus::Alive => return Ok(status),
            TxnStatus::Committed(commit_ts) => {
                if self.caller_start_ts != 0 && commit_ts > self.caller_start_ts {
                    self.resolved.push(lock.lock_version);
                }
                commit_ts
            }
            TxnStatus::RolledBack => {
                self.resolved.push(lock.lock_version);
                0
            }
        };
        let region = cluster.inner.cache.locate(&lock.key).await?;
        if cleaned.insert((lock.lock_version, region.id())) {
            resolve_region(cluster, lock, commit_ts).await?;
        }
        Ok(status)
    }
}

/// Asks the primary of `lock`'s transaction what became of it, rolling it back if expired.
async fn check_txn_status(
    cluster: &Cluster,
    lock: &kvrpcpb::LockInfo,
    caller_start_ts: u64,
) -> Result<TxnStatus> {
    let current_ts = cluster.timestamp().await?;
    let request = kvrpcpb::CheckTxnStatusRequest {
        primary_key: lock.primary_lock.clone(),
        lock_ts: lock.lock_version,
        caller_start_ts,
        current_ts,
        rollback_if_not_exist: true,
        ..Default::default()
    };
    let response = cluster
        .request_for_key(&lock.primary_lock, request, &[])
        .await?;
    if let Some(error) = response.error {
        return Err(key_error(error));
    }
    let status = if response.commit_version > 0 {
        TxnStatus::Committed(response.commit_version)
    } else if response.lock_ttl == 0 {
        // TTLExpireRollback, LockNotExistRollback, or NoAction for an earlier rollback.
        TxnStatus::RolledBack
    } else {
        TxnStatus::Alive
    };
    tracing::debug!(
        lock_ts = lock.lock_version,
        action = response.action,
        ?status,
        "checked transaction status"
    );
    Ok(status)
}

/// Commits (commit_ts > 0) or rolls back the locks of `lock`'s transaction in the region
/// holding `lock.key`.
async fn resolve_region(cluster: &Cluster, lock: &kvrpcpb::LockInfo, commit_ts: u64) -> Result<()> {
    let request = kvrpcpb::ResolveLockRequest {
        start_version: lock.lock_version,
        commit_version: commit_ts,
        ..Default::default()
    };
    let response = cluster.request_for_key(&lock.key, request, &[]).await?;
    if let Some(error) = response.error {
        return Err(key_error(error));
    }
    Ok(())
}

impl Cluster {
    /// The cached final status of the transaction started at `start_ts`: its commit_ts, or 0
    /// when rolled back.
    fn cached_txn_status(&self, start_ts: u64) -> Option<u64> {
        self.inner.txn_status.lock().get(&start_ts).copied()
    }

    fn cache_txn_status(&self, start_ts: u64, commit_ts: u64) {
        let mut statuses = self.inner.txn_status.lock();
        if statuses.len() >= STATUS_CACHE_SIZE {
            statuses.clear();
        }
        statuses.insert(start_ts, commit_ts);
    }
}
