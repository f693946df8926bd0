//! Handlers of the transactional KV RPCs (raw ones are in `raw`). Each takes the request message and returns
//! the response message; the tonic service and `BatchCommands` both call them.

use std::collections::HashMap;

use basalt_proto::kvrpcpb;
use basalt_storage::mvcc::{ScanOptions, ScannedEntry};
use basalt_storage::txn::{
    CheckTxnStatusOptions, Mutation, MutationOp, PessimisticAction, PessimisticLockOptions,
    PrewriteRequest, SecondaryLocksStatus, TxnStatus,
};
use basalt_storage::{Engine, Error, Storage, TxnError};

use super::convert::{key_error, lock_info, raw_error, request_context, wire_error, WireError};
use crate::metrics::RequestTimer;

/// The KV handlers over a `Storage`.
#[derive(Clone)]
pub struct KvHandlers<E: Engine> {
    storage: Storage<E>,
}

/// Sets `region_error` or `error` of a transactional response from `err`; returns the label.
macro_rules! set_txn_error {
    ($response:expr, $err:expr) => {{
        match wire_error($err) {
            WireError::Region(region) => {
                $response.region_error = Some(*region);
                "region_error"
            }
            WireError::Key(key) => {
                $response.error = Some(*key);
                "key_error"
            }
        }
    }};
}

fn kv_pairs(entries: Vec<ScannedEntry>) -> Vec<kvrpcpb::KvPair> {
    entries
        .into_iter()
        .map(|entry| match entry.value {
            Ok(value) => kvrpcpb::KvPair {
                key: entry.key,
                value,
                ..Default::default()
            },
            Err(err) => kvrpcpb::KvPair {
                key: entry.key,
                error: Some(key_error(err)),
                ..Default::default()
            },
        })
        .collect()
}

fn mutation(m: &kvrpcpb::Mutation) -> Result<Mutation, Error> {
    let op = match kvrpcpb::Op::try_from(m.op) {
        Ok(kvrpcpb::Op::Put) => MutationOp::Put,
        Ok(kvrpcpb::Op::Del) => MutationOp::Delete,
        Ok(kvrpcpb::Op::Lock) => MutationOp::Lock,
        Ok(kvrpcpb::Op::Insert) => MutationOp::Insert,
        Ok(kvrpcpb::Op::CheckNotExists) => MutationOp::CheckNotExists,
        _ => {
            return Err(Error::InvalidRequest(format!(
                "mutation op {} is not valid in prewrite",
                m.op
            )))
        }
    };
    Ok(Mutation {
        op,
        key: m.key.clone(),
        value: m.value.clone(),
    })
}

fn pessimistic_action(value: i32) -> PessimisticAction {
    match value {
        1 => PessimisticAction::DoPessimisticCheck,
        2 => PessimisticAction::DoConstraintCheck,
        _ => PessimisticAction::SkipPessimisticCheck,
    }
}

pub(super) fn check_limit(limit: u32) -> Result<usize, Error> {
    let limit = limit as usize;
    if limit > basalt_storage::MAX_SCAN_LIMIT {
        return Err(Error::InvalidRequest(format!(
            "limit {limit} exceeds {}",
            basalt_storage::MAX_SCAN_LIMIT
        )));
    }
    Ok(limit)
}

impl<E: Engine> KvHandlers<E> {
    /// Handlers over `storage`.
    pub fn new(storage: Storage<E>) -> Self {
        KvHandlers { storage }
    }

    /// The storage.
    pub fn storage(&self) -> &Storage<E> {
        &self.storage
    }

    /// `KvGet`.
    pub async fn kv_get(&self, request: kvrpcpb::GetRequest) -> kvrpcpb::GetResponse {
        let timer = RequestTimer::start("kv_get");
        let ctx = request_context(request.context.as_ref());
        let result = self.storage.get(&ctx, request.key, request.version).await;
        // Built after the read, so the response is not part of the future's state.
        let mut response = kvrpcpb::GetResponse::default();
        let label = match result {
            Ok(Some(value)) => {
                response.value = value;
                "ok"
            }
            Ok(None) => {
                response.not_found = true;
                "ok"
            }
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvScan`.
    pub async fn kv_scan(&self, request: kvrpcpb::ScanRequest) -> kvrpcpb::ScanResponse {
        let timer = RequestTimer::start("kv_scan");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::ScanResponse::default();
        let (lower, upper) = if request.reverse {
            (request.end_key, request.start_key)
        } else {
            (request.start_key, request.end_key)
        };
        let result = match check_limit(request.limit) {
            Ok(limit) => {
                let options = ScanOptions {
                    lower,
                    upper,
                    limit,
                    read_ts: request.version,
                    key_only: request.key_only,
                    reverse: request.reverse,
                    ..ScanOptions::default()
                };
                self.storage.scan(&ctx, options).await
            }
            Err(err) => Err(err),
        };
        let label = match result {
            Ok(entries) => {
                response.pairs = kv_pairs(entries);
                "ok"
            }
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvBatchGet`.
    pub async fn kv_batch_get(
        &self,
        request: kvrpcpb::BatchGetRequest,
    ) -> kvrpcpb::BatchGetResponse {
        let timer = RequestTimer::start("kv_batch_get");
        let ctx = request_context(request.context.as_ref());
        let result = self
            .storage
            .batch_get(&ctx, request.keys, request.version)
            .await;
        let mut response = kvrpcpb::BatchGetResponse::default();
        let label = match result {
            Ok(entries) => {
                response.pairs = kv_pairs(entries);
                "ok"
            }
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvPrewrite`.
    pub async fn kv_prewrite(
        &self,
        request: kvrpcpb::PrewriteRequest,
    ) -> kvrpcpb::PrewriteResponse {
        let timer = RequestTimer::start("kv_prewrite");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::PrewriteResponse::default();
        let mutations: Result<Vec<Mutation>, Error> =
            request.mutations.iter().map(mutation).collect();
        let result = match mutations {
            Ok(mutations) => {
                let prewrite = PrewriteRequest {
                    mutations,
                    pessimistic_actions: request
                        .pessimistic_actions
                        .iter()
                        .map(|&a| pessimistic_action(a))
                        .collect(),
                    primary: request.primary_lock,
                    start_ts: request.start_version,
                    lock_ttl: request.lock_ttl,
                    txn_size: request.txn_size,
                    for_update_ts: request.for_update_ts,
                    min_commit_ts: request.min_commit_ts,
                    max_commit_ts: request.max_commit_ts,
                    secondaries: request.use_async_commit.then_some(request.secondaries),
                    try_one_pc: request.try_one_pc,
                };
                self.storage.prewrite(&ctx, prewrite).await
            }
            Err(err) => Err(err),
        };
        let label = match result {
            Ok(outcome) if outcome.locked.is_empty() => {
                response.min_commit_ts = outcome.min_commit_ts;
                response.one_pc_commit_ts = outcome.one_pc_commit_ts;
                "ok"
            }
            Ok(outcome) => {
                response.errors = outcome.locked.into_iter().map(key_error).collect();
                "key_error"
            }
            Err(err) => match wire_error(err) {
                WireError::Region(region) => {
                    response.region_error = Some(*region);
                    "region_error"
                }
                WireError::Key(key) => {
                    response.errors = vec![*key];
                    "key_error"
                }
            },
        };
        timer.finish(label);
        response
    }

    /// `KvCommit`.
    pub async fn kv_commit(&self, request: kvrpcpb::CommitRequest) -> kvrpcpb::CommitResponse {
        let timer = RequestTimer::start("kv_commit");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::CommitResponse::default();
        let label = match self
            .storage
            .commit(
                &ctx,
                request.keys,
                request.start_version,
                request.commit_version,
            )
            .await
        {
            Ok(()) => {
                response.commit_version = request.commit_version;
                "ok"
            }
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvCleanup`.
    pub async fn kv_cleanup(&self, request: kvrpcpb::CleanupRequest) -> kvrpcpb::CleanupResponse {
        let timer = RequestTimer::start("kv_cleanup");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::CleanupResponse::default();
        let label = match self
            .storage
            .cleanup(&ctx, request.key, request.start_version, request.current_ts)
            .await
        {
            Ok(()) => "ok",
            Err(Error::Txn(TxnError::Committed { commit_ts, .. })) => {
                response.commit_version = commit_ts;
                "ok"
            }
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvBatchRollback`.
    pub async fn kv_batch_rollback(
        &self,
        request: kvrpcpb::BatchRollbackRequest,
    ) -> kvrpcpb::BatchRollbackResponse {
        let timer = RequestTimer::start("kv_batch_rollback");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::BatchRollbackResponse::default();
        let label = match self
            .storage
            .batch_rollback(&ctx, request.keys, request.start_version)
            .await
        {
            Ok(()) => "ok",
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvCheckTxnStatus`.
    pub async fn kv_check_txn_status(
        &self,
        request: kvrpcpb::CheckTxnStatusRequest,
    ) -> kvrpcpb::CheckTxnStatusResponse {
        let timer = RequestTimer::start("kv_check_txn_status");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::CheckTxnStatusResponse::default();
        let options = CheckTxnStatusOptions {
            lock_ts: request.lock_ts,
            caller_start_ts: request.caller_start_ts,
            current_ts: request.current_ts,
            rollback_if_not_exist: request.rollback_if_not_exist,
            force_sync_commit: request.force_sync_commit,
            resolving_pessimistic_lock: request.resolving_pessimistic_lock,
            verify_is_primary: request.verify_is_primary,
        };
        let primary = request.primary_key;
        let label = match self
            .storage
            .check_txn_status(&ctx, primary.clone(), options)
            .await
        {
            Ok(status) => {
                response.action = status.action();
                match status {
                    TxnStatus::Committed(commit_ts) => response.commit_version = commit_ts,
                    TxnStatus::Uncommitted { lock, .. } => {
                        response.lock_ttl = lock.ttl;
                        response.lock_info = Some(lock_info(primary, &lock));
                    }
                    _ => {}
                }
                "ok"
            }
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvCheckSecondaryLocks`.
    pub async fn kv_check_secondary_locks(
        &self,
        request: kvrpcpb::CheckSecondaryLocksRequest,
    ) -> kvrpcpb::CheckSecondaryLocksResponse {
        let timer = RequestTimer::start("kv_check_secondary_locks");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::CheckSecondaryLocksResponse::default();
        let label = match self
            .storage
            .check_secondary_locks(&ctx, request.keys, request.start_version)
            .await
        {
            Ok(SecondaryLocksStatus::Locked(locks)) => {
                response.locks = locks
                    .into_iter()
                    .map(|(key, lock)| lock_info(key, &lock))
                    .collect();
                "ok"
            }
            Ok(SecondaryLocksStatus::Committed(commit_ts)) => {
                response.commit_ts = commit_ts;
                "ok"
            }
            Ok(SecondaryLocksStatus::RolledBack) => "ok",
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvTxnHeartBeat`.
    pub async fn kv_txn_heart_beat(
        &self,
        request: kvrpcpb::TxnHeartBeatRequest,
    ) -> kvrpcpb::TxnHeartBeatResponse {
        let timer = RequestTimer::start("kv_txn_heart_beat");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::TxnHeartBeatResponse::default();
        let label = match self
            .storage
            .txn_heart_beat(
                &ctx,
                request.primary_lock,
                request.start_version,
                request.advise_lock_ttl,
            )
            .await
        {
            Ok(ttl) => {
                response.lock_ttl = ttl;
                "ok"
            }
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvPessimisticLock`.
    pub async fn kv_pessimistic_lock(
        &self,
        request: kvrpcpb::PessimisticLockRequest,
    ) -> kvrpcpb::PessimisticLockResponse {
        let timer = RequestTimer::start("kv_pessimistic_lock");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::PessimisticLockResponse::default();
        let keys: Vec<Vec<u8>> = request.mutations.iter().map(|m| m.key.clone()).collect();
        let options = PessimisticLockOptions {
            primary: request.primary_lock,
            start_ts: request.start_version,
            lock_ttl: request.lock_ttl,
            for_update_ts: request.for_update_ts,
            min_commit_ts: request.min_commit_ts,
            return_values: request.return_values,
            check_existence: request.check_existence,
            lock_only_if_exists: request.lock_only_if_exists,
        };
        let label = match self.storage.pessimistic_lock(&ctx, keys, options).await {
            Ok(results) => {
                for (value, exists) in results {
                    response.not_founds.push(!exists);
                    response.results.push(kvrpcpb::PessimisticLockKeyResult {
                        r#type: kvrpcpb::PessimisticLockKeyResultType::LockResultNormal as i32,
                        value: value.clone().unwrap_or_default(),
                        existence: exists,
                        locked_with_conflict_ts: 0,
                        ..Default::default()
                    });
                    if request.return_values {
                        response.values.push(value.unwrap_or_default());
                    }
                }
                if !request.return_values && !request.check_existence {
                    response.not_founds.clear();
                }
                "ok"
            }
            Err(err) => match wire_error(err) {
                WireError::Region(region) => {
                    response.region_error = Some(*region);
                    "region_error"
                }
                WireError::Key(key) => {
                    response.errors = vec![*key];
                    "key_error"
                }
            },
        };
        timer.finish(label);
        response
    }

    /// `KVPessimisticRollback`.
    pub async fn kv_pessimistic_rollback(
        &self,
        request: kvrpcpb::PessimisticRollbackRequest,
    ) -> kvrpcpb::PessimisticRollbackResponse {
        let timer = RequestTimer::start("kv_pessimistic_rollback");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::PessimisticRollbackResponse::default();
        let label = match self
            .storage
            .pessimistic_rollback(
                &ctx,
                request.keys,
                request.start_version,
                request.for_update_ts,
            )
            .await
        {
            Ok(()) => "ok",
            Err(err) => match wire_error(err) {
                WireError::Region(region) => {
                    response.region_error = Some(*region);
                    "region_error"
                }
                WireError::Key(key) => {
                    response.errors = vec![*key];
                    "key_error"
                }
            },
        };
        timer.finish(label);
        response
    }

    /// `KvScanLock`.
    pub async fn kv_scan_lock(
        &self,
        request: kvrpcpb::ScanLockRequest,
    ) -> kvrpcpb::ScanLockResponse {
        let timer = RequestTimer::start("kv_scan_lock");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::ScanLockResponse::default();
        let result = match check_limit(request.limit) {
            Ok(limit) => {
                self.storage
                    .scan_lock(
                        &ctx,
                        request.max_version,
                        request.start_key,
                        request.end_key,
                        limit,
                    )
                    .await
            }
            Err(err) => Err(err),
        };
        let label = match result {
            Ok(locks) => {
                response.locks = locks
                    .into_iter()
                    .map(|(key, lock)| lock_info(key, &lock))
                    .collect();
                "ok"
            }
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvResolveLock`.
    pub async fn kv_resolve_lock(
        &self,
        request: kvrpcpb::ResolveLockRequest,
    ) -> kvrpcpb::ResolveLockResponse {
        let timer = RequestTimer::start("kv_resolve_lock");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::ResolveLockResponse::default();
        let mut status = HashMap::new();
        if request.txn_infos.is_empty() {
            status.insert(request.start_version, request.commit_version);
        } else {
            for info in &request.txn_infos {
                status.insert(info.txn, info.status);
            }
        }
        let label = match self.storage.resolve_lock(&ctx, status, request.keys).await {
            Ok(()) => "ok",
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvGC`: collects garbage below `safe_point` in the region.
    pub async fn kv_gc(&self, request: kvrpcpb::GcRequest) -> kvrpcpb::GcResponse {
        let timer = RequestTimer::start("kv_gc");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::GcResponse::default();
        let label = match self.storage.gc(&ctx, request.safe_point).await {
            Ok(_) => "ok",
            Err(err) => set_txn_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `KvDeleteRange`.
    pub async fn kv_delete_range(
        &self,
        request: kvrpcpb::DeleteRangeRequest,
    ) -> kvrpcpb::DeleteRangeResponse {
        let timer = RequestTimer::start("kv_delete_range");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::DeleteRangeResponse::default();
        let label = if request.notify_only {
            "ok"
        } else {
            match self
                .storage
                .delete_range(&ctx, request.start_key, request.end_key)
                .await
            {
                Ok(()) => "ok",
                Err(err) => set_raw_error!(response, err),
            }
        };
        timer.finish(label);
        response
    }
}
