//! `Storage`: the one entry point of the KV service. Transactional commands take latches on
//! their keys, read a snapshot through the `Engine` seam, run a pure action, and write its
//! changes back through the seam; reads raise `max_ts` and check memory locks first.

use std::collections::HashMap;
use std::sync::Arc;

use crate::concurrency::ConcurrencyManager;
use crate::engine::{Modify, Snapshot, CF_DEFAULT, CF_LOCK, CF_WRITE};
use crate::error::{Error, Result, TxnError};
use crate::kv::{ApiVersion, Engine, RequestContext};
use crate::mvcc::{
    self, check_lock_conflict, Key, Lock, LockType, MvccReader, MvccTxn, ScanOptions, ScannedEntry,
};
use crate::raw::{self, KeyMode, RawValue};
mod raw_kv;

use crate::txn::{
    self, CheckTxnStatusOptions, Latches, PessimisticLockOptions, PrewriteRequest,
    SecondaryLocksStatus, TxnStatus,
};

/// Upper bound of keys in one request, to refuse absurd batches before doing work.
pub const MAX_KEYS_PER_REQUEST: usize = 256 * 1024;
/// Upper bound of a scan limit.
pub const MAX_SCAN_LIMIT: usize = 1 << 20;
const RESOLVE_BATCH: usize = 1024;

/// The result of a prewrite as the service reports it.
#[derive(Debug, Default)]
pub struct PrewriteResult {
    /// Per-key lock conflicts (nothing was written when non-empty).
    pub locked: Vec<Error>,
    /// The async-commit min_commit_ts, or 0.
    pub min_commit_ts: u64,
    /// The 1PC commit timestamp, or 0.
    pub one_pc_commit_ts: u64,
}

/// Transactional and raw key-value storage over an `Engine`.
#[derive(Clone)]
pub struct Storage<E: Engine> {
    engine: E,
    latches: Latches,
    manager: Arc<ConcurrencyManager>,
}

fn check_count(what: &str, count: usize) -> Result<()> {
    if count > MAX_KEYS_PER_REQUEST {
        return Err(Error::InvalidRequest(format!(
            "{what}: {count} keys exceed the limit of {MAX_KEYS_PER_REQUEST}"
        )));
    }
    Ok(())
}

fn check_not_empty(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidRequest("key must not be empty".into()));
    }
    Ok(())
}

/// Reads of at most this many keys run on the caller's task: a few RocksDB lookups cost far
/// less than handing them to the blocking pool and back (two thread wake-ups).
const INLINE_READ_KEYS: usize = 16;

/// Runs a read of `keys` keys on the caller's task when it is small, on the blocking pool
/// otherwise.
async fn read_keys<T: Send + 'static>(
    keys: usize,
    task: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    if keys <= INLINE_READ_KEYS {
        task()
    } else {
        blocking(task).await
    }
}

async fn blocking<T: Send + 'static>(
    task: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(task)
        .await
        .map_err(|err| Error::Engine(format!("storage task failed: {err}")))?
}

impl<E: Engine> Storage<E> {
    /// Storage over `engine`, ordering timestamps with `manager`.
    pub fn new(engine: E, manager: Arc<ConcurrencyManager>) -> Self {
        Storage {
            engine,
            latches: Latches::new(4096),
            manager,
        }
    }

    /// The engine seam.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// The concurrency manager.
    pub fn concurrency_manager(&self) -> &Arc<ConcurrencyManager> {
        &self.manager
    }

    /// Checks that transactional user keys fit the request's API version and region.
    fn check_txn_keys(&self, ctx: &RequestContext, keys: &[Vec<u8>]) -> Result<()> {
        let mut encoded = Vec::with_capacity(keys.len());
        for key in keys {
            raw::check_key_mode(ctx.api_version, KeyMode::Txn, key)?;
            encoded.push(Key::from_raw(key).as_encoded().to_vec());
        }
        let refs: Vec<&[u8]> = encoded.iter().map(|key| key.as_slice()).collect();
        self.engine.check_keys_in_region(ctx, &refs)
    }

    /// Checks that raw user keys fit the request's API version and region; returns their
    /// stored forms.
    fn check_raw_keys(&self, ctx: &RequestContext, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
        check_count("raw request", keys.len())?;
        let mut stored = Vec::with_capacity(keys.len());
        for key in keys {
            check_not_empty(key)?;
            raw::check_key_mode(ctx.api_version, KeyMode::Raw, key)?;
            stored.push(raw::stored_key(ctx.api_version, key));
        }
        let refs: Vec<&[u8]> = stored.iter().map(|key| key.as_slice()).collect();
        self.engine.check_keys_in_region(ctx, &refs)?;
        Ok(stored)
    }

    /// Runs a write command: latches `keys`, runs `action` on a snapshot, applies its changes.
    async fn write_command<T, F>(
        &self,
        ctx: &RequestContext,
        keys: &[Vec<u8>],
        action: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut MvccReader<E::Snap>, &mut MvccTxn) -> Result<T> + Send + 'static,
    {
        self.check_txn_keys(ctx, keys)?;
        let _latch = self.latches.acquire(keys).await;
        let snapshot = self.engine.async_snapshot(ctx).await?;
        let (txn, result) = blocking(move || {
            let mut reader = MvccReader::new(snapshot);
            let mut txn = MvccTxn::new();
            let result = action(&mut reader, &mut txn)?;
            Ok((txn, result))
        })
        .await?;
        if !txn.is_empty() {
            self.engine.async_write(ctx, txn.into_modifies()).await?;
        }
        Ok(result)
    }

    // ---- transactional reads ----

    /// Reads `key` at `ts`.
    pub async fn get(
        &self,
        ctx: &RequestContext,
        key: Vec<u8>,
        ts: u64,
    ) -> Result<Option<Vec<u8>>> {
        check_not_empty(&key)?;
        self.check_txn_keys(ctx, std::slice::from_ref(&key))?;
        let encoded = Key::from_raw(&key);
        if !ctx.read_committed {
            self.manager.update_max_ts(ts);
            self.manager
                .check_key(&encoded, ts, &ctx.skipped_memory_locks())?;
        }
        let snapshot = self.engine.async_snapshot(ctx).await?;
        // A point read runs here, as `raw_get` does (see `INLINE_READ_KEYS`).
        let mut reader = MvccReader::new(snapshot);
        read_key(&mut reader, &encoded, ts, ctx)
    }

    /// Reads `keys` at `ts`; locked keys come back as per-key errors.
    pub async fn batch_get(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
        ts: u64,
    ) -> Result<Vec<ScannedEntry>> {
        check_count("batch_get", keys.len())?;
        self.check_txn_keys(ctx, &keys)?;
        if !ctx.read_committed {
            self.manager.update_max_ts(ts);
        }
        let snapshot = self.engine.async_snapshot(ctx).await?;
        let ctx = ctx.clone();
        let manager = self.manager.clone();
        read_keys(keys.len(), move || {
            let mut reader = MvccReader::new(snapshot);
            let mut entries = Vec::with_capacity(keys.len());
            for raw_key in keys {
                let encoded = Key::from_raw(&raw_key);
                let read = if ctx.read_committed {
                    Ok(())
                } else {
                    manager.check_key(&encoded, ts, &ctx.skipped_memory_locks())
                }
                .and_then(|()| read_key(&mut reader, &encoded, ts, &ctx));
                match read {
                    Err(err @ Error::Txn(_)) => entries.push(ScannedEntry {
                        key: raw_key,
                        value: Err(err),
                    }),
                    Err(err) => return Err(err),
                    Ok(Some(value)) => entries.push(ScannedEntry {
                        key: raw_key,
                        value: Ok(value),
                    }),
                    Ok(None) => {}
                }
            }
            Ok(entries)
        })
        .await
    }

    /// Scans at `options.read_ts`.
    pub async fn scan(
        &self,
        ctx: &RequestContext,
        mut options: ScanOptions,
    ) -> Result<Vec<ScannedEntry>> {
        if options.limit > MAX_SCAN_LIMIT {
            return Err(Error::InvalidRequest(format!(
                "scan limit {} exceeds {MAX_SCAN_LIMIT}",
                options.limit
            )));
        }
        if !options.upper.is_empty() && options.lower > options.upper {
            return Err(Error::InvalidRequest(
                "scan range start is after its end".into(),
            ));
        }
        options.bypass_locks.extend_from_slice(&ctx.resolved_locks);
        options.access_locks.extend_from_slice(&ctx.committed_locks);
        options.ignore_locks = ctx.read_committed;
        options.not_fill_cache = ctx.not_fill_cache;
        if !ctx.read_committed {
            self.manager.update_max_ts(options.read_ts);
            let lower = Key::from_raw(&options.lower);
            let upper = (!options.upper.is_empty()).then(|| Key::from_raw(&options.upper));
            let mut skip = options.bypass_locks.clone();
            skip.extend_from_slice(&options.access_locks);
            self.manager
                .check_range(&lower, upper.as_ref(), options.read_ts, &skip)?;
        }
        let snapshot = self.engine.async_snapshot(ctx).await?;
        blocking(move || mvcc::scan(snapshot, &options)).await
    }

    /// A snapshot of the request's region for reading `ranges` (user keys; empty end =
    /// unbounded) at `start_ts`, as the coprocessor needs: each range must start inside the
    /// region, `max_ts` is raised, and a lock of a concurrent async-commit/1PC transaction held
    /// in memory fails the read. Locks stored in the lock column family are found by the scan.
    pub async fn coprocessor_snapshot(
        &self,
        ctx: &RequestContext,
        ranges: &[(Vec<u8>, Vec<u8>)],
        start_ts: u64,
    ) -> Result<E::Snap> {
        check_count("coprocessor ranges", ranges.len())?;
        let mut encoded = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            if !end.is_empty() && start > end {
                return Err(Error::InvalidRequest(format!(
                    "range start {start:?} is after its end {end:?}"
                )));
            }
            encoded.push(Key::from_raw(start).as_encoded().to_vec());
        }
        let refs: Vec<&[u8]> = encoded.iter().map(|key| key.as_slice()).collect();
        self.engine.check_keys_in_region(ctx, &refs)?;
        if !ctx.read_committed {
            self.manager.update_max_ts(start_ts);
            for (start, end) in ranges {
                let lower = Key::from_raw(start);
                let upper = (!end.is_empty()).then(|| Key::from_raw(end));
                self.manager.check_range(
                    &lower,
                    upper.as_ref(),
                    start_ts,
                    &ctx.skipped_memory_locks(),
                )?;
            }
        }
        self.engine.async_snapshot(ctx).await
    }

    /// Locks with `ts <= max_ts` in `[start, end)`.
    pub async fn scan_lock(
        &self,
        ctx: &RequestContext,
        max_ts: u64,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Lock)>> {
        let snapshot = self.engine.async_snapshot(ctx).await?;
        blocking(move || {
            let reader = MvccReader::new(snapshot);
            let end_key = (!end.is_empty()).then(|| Key::from_raw(&end));
            let locks = reader.scan_locks(
                &Key::from_raw(&start),
                end_key.as_ref(),
                max_ts,
                limit.min(MAX_SCAN_LIMIT),
            )?;
            locks
                .into_iter()
                .map(|(key, lock)| Ok((key.to_raw()?, lock)))
                .collect()
        })
        .await
    }

    // ---- transactional writes ----

    /// Prewrites a transaction's mutations.
    pub async fn prewrite(
        &self,
        ctx: &RequestContext,
        request: PrewriteRequest,
    ) -> Result<PrewriteResult> {
        check_count("prewrite", request.mutations.len())?;
        let keys: Vec<Vec<u8>> = request.mutations.iter().map(|m| m.key.clone()).collect();
        let manager = self.manager.clone();
        let outcome = self
            .write_command(ctx, &keys, move |reader, txn| {
                let mut outcome = txn::prewrite(reader, &manager, &request)?;
                *txn = std::mem::take(&mut outcome.txn);
                Ok(outcome)
            })
            .await?;
        // The memory locks (outcome.guard) are released here, after the locks are written.
        Ok(PrewriteResult {
            locked: outcome.locked,
            min_commit_ts: outcome.min_commit_ts,
            one_pc_commit_ts: outcome.one_pc_commit_ts,
        })
    }

    /// Commits `keys` of `start_ts` at `commit_ts`.
    pub async fn commit(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
        start_ts: u64,
        commit_ts: u64,
    ) -> Result<()> {
        check_count("commit", keys.len())?;
        if commit_ts <= start_ts {
            return Err(TxnError::InvalidTxnTso {
                start_ts,
                commit_ts,
            }
            .into());
        }
        self.manager.update_max_ts(commit_ts);
        let latch_keys = keys.clone();
        self.write_command(ctx, &latch_keys, move |reader, txn| {
            for key in &keys {
                txn::commit(txn, reader, &Key::from_raw(key), start_ts, commit_ts)?;
            }
            Ok(())
        })
        .await
    }

    /// Rolls back the primary `key` if its lock expired (or `current_ts` is 0).
    pub async fn cleanup(
        &self,
        ctx: &RequestContext,
        key: Vec<u8>,
        start_ts: u64,
        current_ts: u64,
    ) -> Result<()> {
        check_not_empty(&key)?;
        let latch_keys = [key.clone()];
        self.write_command(ctx, &latch_keys, move |reader, txn| {
            txn::cleanup(txn, reader, &Key::from_raw(&key), start_ts, current_ts)
        })
        .await
    }

    /// Rolls back `keys` of `start_ts`.
    pub async fn batch_rollback(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
        start_ts: u64,
    ) -> Result<()> {
        check_count("batch_rollback", keys.len())?;
        let latch_keys = keys.clone();
        self.write_command(ctx, &latch_keys, move |reader, txn| {
            for key in &keys {
                txn::rollback_key(txn, reader, &Key::from_raw(key), start_ts)?;
            }
            Ok(())
        })
        .await
    }

    /// Checks the status of the transaction whose primary is `primary`.
    pub async fn check_txn_status(
        &self,
        ctx: &RequestContext,
        primary: Vec<u8>,
        options: CheckTxnStatusOptions,
    ) -> Result<TxnStatus> {
        check_not_empty(&primary)?;
        self.manager.update_max_ts(options.caller_start_ts);
        let latch_keys = [primary.clone()];
        self.write_command(ctx, &latch_keys, move |reader, txn| {
            txn::check_txn_status(txn, reader, &primary, &options)
        })
        .await
    }

    /// Checks the secondaries of an async-commit transaction.
    pub async fn check_secondary_locks(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
        start_ts: u64,
    ) -> Result<SecondaryLocksStatus> {
        check_count("check_secondary_locks", keys.len())?;
        let latch_keys = keys.clone();
        self.write_command(ctx, &latch_keys, move |reader, txn| {
            txn::check_secondary_locks(txn, reader, &keys, start_ts)
        })
        .await
    }

    /// Extends the TTL of a primary lock.
    pub async fn txn_heart_beat(
        &self,
        ctx: &RequestContext,
        primary: Vec<u8>,
        start_ts: u64,
        advise_ttl: u64,
    ) -> Result<u64> {
        check_not_empty(&primary)?;
        let latch_keys = [primary.clone()];
        self.write_command(ctx, &latch_keys, move |reader, txn| {
            txn::txn_heart_beat(txn, reader, &primary, start_ts, advise_ttl)
        })
        .await
    }

    /// Takes pessimistic locks on `keys`; returns per key its value (when asked) and existence.
    pub async fn pessimistic_lock(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
        options: PessimisticLockOptions,
    ) -> Result<Vec<(Option<Vec<u8>>, bool)>> {
        check_count("pessimistic_lock", keys.len())?;
        if options.for_update_ts < options.start_ts {
            return Err(Error::InvalidRequest(
                "for_update_ts is below start_ts".into(),
            ));
        }
        for key in &keys {
            check_not_empty(key)?;
        }
        self.manager.update_max_ts(options.for_update_ts);
        let latch_keys = keys.clone();
        self.write_command(ctx, &latch_keys, move |reader, txn| {
            keys.iter()
                .map(|key| txn::acquire_pessimistic_lock(txn, reader, key, &options))
                .collect()
        })
        .await
    }

    /// Removes the pessimistic locks of `start_ts` on `keys`.
    pub async fn pessimistic_rollback(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
        start_ts: u64,
        for_update_ts: u64,
    ) -> Result<()> {
        check_count("pessimistic_rollback", keys.len())?;
        let latch_keys = keys.clone();
        self.write_command(ctx, &latch_keys, move |reader, txn| {
            for key in &keys {
                txn::pessimistic_rollback(
                    txn,
                    reader,
                    &Key::from_raw(key),
                    start_ts,
                    for_update_ts,
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Resolves the locks of the transactions in `txn_status` (start_ts → commit_ts, 0 meaning
    /// rolled back): on `keys` if given, else on every lock of theirs in the region.
    pub async fn resolve_lock(
        &self,
        ctx: &RequestContext,
        txn_status: HashMap<u64, u64>,
        keys: Vec<Vec<u8>>,
    ) -> Result<()> {
        check_count("resolve_lock", keys.len())?;
        for (&start_ts, &commit_ts) in &txn_status {
            if commit_ts != 0 && commit_ts <= start_ts {
                return Err(TxnError::InvalidTxnTso {
                    start_ts,
                    commit_ts,
                }
                .into());
            }
        }
        if !keys.is_empty() {
            let status = txn_status.clone();
            let latch_keys = keys.clone();
            return self
                .write_command(ctx, &latch_keys, move |reader, txn| {
                    for (&start_ts, &commit_ts) in &status {
                        for key in &keys {
                            txn::resolve_lock_key(
                                txn,
                                reader,
                                &Key::from_raw(key),
                                start_ts,
                                commit_ts,
                            )?;
                        }
                    }
                    Ok(())
                })
                .await;
        }
        let mut start = Vec::new();
        loop {
            let snapshot = self.engine.async_snapshot(ctx).await?;
            let wanted = txn_status.clone();
            let scan_from = start.clone();
            let (batch, scanned_all) = blocking(move || {
                let reader = MvccReader::new(snapshot);
                let locks = reader.scan_locks(&Key::from_encoded(scan_from), None, u64::MAX, 0)?;
                let mut batch = Vec::new();
                let mut scanned_all = true;
                for (key, lock) in locks {
                    if wanted.contains_key(&lock.ts) {
                        batch.push(key);
                        if batch.len() >= RESOLVE_BATCH {
                            scanned_all = false;
                            break;
                        }
                    }
                }
                Ok((batch, scanned_all))
            })
            .await?;
            if batch.is_empty() {
                return Ok(());
            }
            let raw_keys = batch
                .iter()
                .map(|key| key.to_raw())
                .collect::<Result<Vec<_>>>()?;
            if let Some(last) = batch.last() {
                start = last.as_encoded().to_vec();
                start.push(0);
            }
            let status = txn_status.clone();
            let keys_for_action = raw_keys.clone();
            self.write_command(ctx, &raw_keys, move |reader, txn| {
                for key in &keys_for_action {
                    let encoded = Key::from_raw(key);
                    if let Some(lock) = reader.load_lock(&encoded)? {
                        if let Some(&commit_ts) = status.get(&lock.ts) {
                            txn::resolve_lock_key(txn, reader, &encoded, lock.ts, commit_ts)?;
                        }
                    }
                }
                Ok(())
            })
            .await?;
            if scanned_all {
                return Ok(());
            }
        }
    }

    /// Deletes every version, lock and value of the user keys in `[start, end)`.
    pub async fn delete_range(
        &self,
        ctx: &RequestContext,
        start: Vec<u8>,
        end: Vec<u8>,
    ) -> Result<()> {
        let lower = Key::from_raw(&start).as_encoded().to_vec();
        let upper = if end.is_empty() {
            Vec::new()
        } else {
            Key::from_raw(&end).as_encoded().to_vec()
        };
        if !upper.is_empty() && lower > upper {
            return Err(Error::InvalidRequest(
                "delete range start is after its end".into(),
            ));
        }
        let modifies = [CF_DEFAULT, CF_LOCK, CF_WRITE]
            .into_iter()
            .map(|cf| Modify::DeleteRange(cf, lower.clone(), upper.clone()))
            .collect();
        self.engine.async_write(ctx, modifies).await
    }

    /// Collects garbage below `safe_point` in the request's region.
    pub async fn gc(&self, ctx: &RequestContext, safe_point: u64) -> Result<txn::GcStats> {
        let snapshot = self.engine.async_snapshot(ctx).await?;
        let (stats, batches) = blocking(move || {
            let mut batches = Vec::new();
            let stats = txn::gc_range(&snapshot, b"", b"", safe_point, |batch| {
                batches.push(batch);
                Ok(())
            })?;
            Ok((stats, batches))
        })
        .await?;
        for batch in batches {
            self.engine.async_write(ctx, batch).await?;
        }
        Ok(stats)
    }

    /// Drops every version, lock and value of the user keys in `[start, end)` on this store,
    /// whatever region holds them (`UnsafeDestroyRange`).
    pub async fn unsafe_destroy_range(&self, start: Vec<u8>, end: Vec<u8>) -> Result<()> {
        let lower = Key::from_raw(&start).as_encoded().to_vec();
        let upper = if end.is_empty() {
            Vec::new()
        } else {
            Key::from_raw(&end).as_encoded().to_vec()
        };
        self.engine.unsafe_destroy_range(lower, upper).await
    }
}

/// `key`'s value at `ts` for a transactional read: a blocking lock is a `KeyIsLocked` error,
/// unless its transaction is among the context's committed locks, whose value it reads through.
fn read_key<S: Snapshot>(
    reader: &mut MvccReader<S>,
    key: &Key,
    ts: u64,
    ctx: &RequestContext,
) -> Result<Option<Vec<u8>>> {
    if !ctx.read_committed {
        if let Some(lock) = reader.load_lock(key)? {
            if let Err(err) = check_lock_conflict(key, &lock, ts, &ctx.resolved_locks) {
                if !ctx.committed_locks.contains(&lock.ts) {
                    return Err(err);
                }
                if lock.lock_type == LockType::Put || lock.lock_type == LockType::Delete {
                    return reader.load_from_lock(key, &lock, false);
                }
            }
        }
    }
    reader.get_value(key, ts)
}
