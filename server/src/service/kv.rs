//! Handlers of the transactional and raw KV RPCs. Each takes the request message and returns
//! the response message; the tonic service and `BatchCommands` both call them.

use std::collections::HashMap;
use std::future::Future;

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

/// Sets `region_error` or `error` (a string) of a raw response from `err`.
macro_rules! set_raw_error {
    ($response:expr, $err:expr) => {{
        match raw_error($err) {
            Err(region) => {
                $response.region_error = Some(*region);
                "region_error"
            }
            Ok(message) => {
                $response.error = message;
                "error"
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

fn check_limit(limit: u32) -> Result<usize, Error> {
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
        let mut response = kvrpcpb::GetResponse::default();
        let label = match self.storage.get(&ctx, request.key, request.version).await {
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
                    bypass_locks: Vec::new(),
                    ignore_locks: false,
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
        let mut response = kvrpcpb::BatchGetResponse::default();
        let label = match self
            .storage
            .batch_get(&ctx, request.keys, request.version)
            .await
        {
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

    /// `RawGet`.
    pub async fn raw_get(&self, request: kvrpcpb::RawGetRequest) -> kvrpcpb::RawGetResponse {
        let timer = RequestTimer::start("raw_get");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::RawGetResponse::default();
        let label = match self.storage.raw_get(&ctx, &request.cf, request.key).await {
            Ok(Some(value)) => {
                response.value = value;
                "ok"
            }
            Ok(None) => {
                response.not_found = true;
                "ok"
            }
            Err(err) => set_raw_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `RawBatchGet`.
    pub async fn raw_batch_get(
        &self,
        request: kvrpcpb::RawBatchGetRequest,
    ) -> kvrpcpb::RawBatchGetResponse {
        let timer = RequestTimer::start("raw_batch_get");
        let ctx = request_context(request.context.as_ref());
        let result = self
            .storage
            .raw_batch_get(&ctx, &request.cf, request.keys)
            .await;
        let (region_error, pairs, label) = raw_pairs(result);
        timer.finish(label);
        kvrpcpb::RawBatchGetResponse {
            region_error,
            pairs,
        }
    }

    /// Runs a raw write and fills the `(region_error, error)` of its response.
    async fn raw_write(
        &self,
        method: &'static str,
        write: impl Future<Output = Result<(), Error>>,
    ) -> (Option<basalt_proto::errorpb::Error>, String) {
        let timer = RequestTimer::start(method);
        let (region, message, label) = match write.await {
            Ok(()) => (None, String::new(), "ok"),
            Err(err) => match raw_error(err) {
                Err(region) => (Some(*region), String::new(), "region_error"),
                Ok(message) => (None, message, "error"),
            },
        };
        timer.finish(label);
        (region, message)
    }

    /// `RawPut`.
    pub async fn raw_put(&self, request: kvrpcpb::RawPutRequest) -> kvrpcpb::RawPutResponse {
        let ctx = request_context(request.context.as_ref());
        let ttls = [request.ttl];
        let write =
            self.storage
                .raw_put(&ctx, &request.cf, vec![(request.key, request.value)], &ttls);
        let (region_error, error) = self.raw_write("raw_put", write).await;
        kvrpcpb::RawPutResponse {
            region_error,
            error,
        }
    }

    /// `RawBatchPut`.
    pub async fn raw_batch_put(
        &self,
        request: kvrpcpb::RawBatchPutRequest,
    ) -> kvrpcpb::RawBatchPutResponse {
        let ctx = request_context(request.context.as_ref());
        // Old clients send one `ttl` for the batch, newer ones `ttls` per pair.
        #[allow(deprecated)]
        let ttls = if request.ttls.is_empty() {
            vec![request.ttl]
        } else {
            request.ttls
        };
        let pairs = request
            .pairs
            .into_iter()
            .map(|pair| (pair.key, pair.value))
            .collect();
        let write = self.storage.raw_put(&ctx, &request.cf, pairs, &ttls);
        let (region_error, error) = self.raw_write("raw_batch_put", write).await;
        kvrpcpb::RawBatchPutResponse {
            region_error,
            error,
        }
    }

    /// `RawDelete`.
    pub async fn raw_delete(
        &self,
        request: kvrpcpb::RawDeleteRequest,
    ) -> kvrpcpb::RawDeleteResponse {
        let ctx = request_context(request.context.as_ref());
        let write = self
            .storage
            .raw_delete(&ctx, &request.cf, vec![request.key]);
        let (region_error, error) = self.raw_write("raw_delete", write).await;
        kvrpcpb::RawDeleteResponse {
            region_error,
            error,
        }
    }

    /// `RawBatchDelete`.
    pub async fn raw_batch_delete(
        &self,
        request: kvrpcpb::RawBatchDeleteRequest,
    ) -> kvrpcpb::RawBatchDeleteResponse {
        let ctx = request_context(request.context.as_ref());
        let write = self.storage.raw_delete(&ctx, &request.cf, request.keys);
        let (region_error, error) = self.raw_write("raw_batch_delete", write).await;
        kvrpcpb::RawBatchDeleteResponse {
            region_error,
            error,
        }
    }

    /// `RawDeleteRange`.
    pub async fn raw_delete_range(
        &self,
        request: kvrpcpb::RawDeleteRangeRequest,
    ) -> kvrpcpb::RawDeleteRangeResponse {
        let ctx = request_context(request.context.as_ref());
        let write =
            self.storage
                .raw_delete_range(&ctx, &request.cf, request.start_key, request.end_key);
        let (region_error, error) = self.raw_write("raw_delete_range", write).await;
        kvrpcpb::RawDeleteRangeResponse {
            region_error,
            error,
        }
    }

    /// `RawScan`.
    pub async fn raw_scan(&self, request: kvrpcpb::RawScanRequest) -> kvrpcpb::RawScanResponse {
        let timer = RequestTimer::start("raw_scan");
        let ctx = request_context(request.context.as_ref());
        let result = match check_limit(request.limit) {
            Ok(limit) => {
                self.storage
                    .raw_scan(
                        &ctx,
                        &request.cf,
                        request.start_key,
                        request.end_key,
                        limit,
                        request.key_only,
                        request.reverse,
                    )
                    .await
            }
            Err(err) => Err(err),
        };
        let (region_error, kvs, label) = raw_pairs(result);
        timer.finish(label);
        kvrpcpb::RawScanResponse { region_error, kvs }
    }

    /// `RawBatchScan`: each range scanned with `each_limit`.
    pub async fn raw_batch_scan(
        &self,
        request: kvrpcpb::RawBatchScanRequest,
    ) -> kvrpcpb::RawBatchScanResponse {
        let timer = RequestTimer::start("raw_batch_scan");
        let ctx = request_context(request.context.as_ref());
        let result = async {
            let limit = check_limit(request.each_limit)?;
            let mut pairs = Vec::new();
            for range in request.ranges {
                let (start, end) = if request.reverse {
                    (range.end_key, range.start_key)
                } else {
                    (range.start_key, range.end_key)
                };
                pairs.extend(
                    self.storage
                        .raw_scan(
                            &ctx,
                            &request.cf,
                            start,
                            end,
                            limit,
                            request.key_only,
                            request.reverse,
                        )
                        .await?,
                );
            }
            Ok(pairs)
        }
        .await;
        let (region_error, kvs, label) = raw_pairs(result);
        timer.finish(label);
        kvrpcpb::RawBatchScanResponse { region_error, kvs }
    }

    /// `RawGetKeyTTL`: the seconds a key has left (0: no TTL), or `not_found`.
    pub async fn raw_get_key_ttl(
        &self,
        request: kvrpcpb::RawGetKeyTtlRequest,
    ) -> kvrpcpb::RawGetKeyTtlResponse {
        let timer = RequestTimer::start("raw_get_key_ttl");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::RawGetKeyTtlResponse::default();
        let label = match self
            .storage
            .raw_get_key_ttl(&ctx, &request.cf, request.key)
            .await
        {
            Ok(Some(ttl)) => {
                response.ttl = ttl;
                "ok"
            }
            Ok(None) => {
                response.not_found = true;
                "ok"
            }
            Err(err) => set_raw_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `RawCompareAndSwap`.
    pub async fn raw_compare_and_swap(
        &self,
        request: kvrpcpb::RawCasRequest,
    ) -> kvrpcpb::RawCasResponse {
        let timer = RequestTimer::start("raw_compare_and_swap");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::RawCasResponse::default();
        let expected = (!request.previous_not_exist).then_some(request.previous_value);
        let result = self
            .storage
            .raw_compare_and_swap(
                &ctx,
                &request.cf,
                request.key,
                expected,
                request.value,
                request.delete,
                request.ttl,
            )
            .await;
        let label = match result {
            Ok((succeed, previous)) => {
                response.succeed = succeed;
                response.previous_not_exist = previous.is_none();
                response.previous_value = previous.unwrap_or_default();
                "ok"
            }
            Err(err) => set_raw_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `UnsafeDestroyRange`: drops every transactional key of the range on this store, without
    /// regard to regions (the context is not checked, as upstream).
    pub async fn unsafe_destroy_range(
        &self,
        request: kvrpcpb::UnsafeDestroyRangeRequest,
    ) -> kvrpcpb::UnsafeDestroyRangeResponse {
        let timer = RequestTimer::start("unsafe_destroy_range");
        let mut response = kvrpcpb::UnsafeDestroyRangeResponse::default();
        let label = match self
            .storage
            .unsafe_destroy_range(request.start_key, request.end_key)
            .await
        {
            Ok(()) => "ok",
            Err(err) => set_raw_error!(response, err),
        };
        timer.finish(label);
        response
    }
}

/// A raw key and value.
type RawPair = (Vec<u8>, Vec<u8>);
/// The region error, pairs and metrics label of a raw read's response.
type RawReadReply = (
    Option<basalt_proto::errorpb::Error>,
    Vec<kvrpcpb::KvPair>,
    &'static str,
);

/// The `(region_error, pairs, label)` of a raw read. Upstream reports other errors as one pair
/// carrying a `KeyError`, since these responses have no error field.
fn raw_pairs(result: Result<Vec<RawPair>, Error>) -> RawReadReply {
    match result {
        Ok(pairs) => (
            None,
            pairs
                .into_iter()
                .map(|(key, value)| kvrpcpb::KvPair {
                    key,
                    value,
                    ..Default::default()
                })
                .collect(),
            "ok",
        ),
        Err(err) => match wire_error(err) {
            WireError::Region(region) => (Some(*region), Vec::new(), "region_error"),
            WireError::Key(key) => (
                None,
                vec![kvrpcpb::KvPair {
                    error: Some(*key),
                    ..Default::default()
                }],
                "error",
            ),
        },
    }
}
