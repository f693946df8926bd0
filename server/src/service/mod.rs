//! The `tikvpb.Tikv` gRPC service.

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

mod batch;
pub mod convert;
mod copr;
mod kv;
mod raft;
mod raw;
pub mod snapshot_chunks;
pub mod split;

use std::pin::Pin;
use std::sync::Arc;

use basalt_proto::tikvpb::tikv_server::Tikv;
use basalt_proto::{coprocessor, kvrpcpb, raft_serverpb, tikvpb};
use basalt_raftstore::RaftRouter;
use basalt_storage::Engine;
use futures::Stream;
use tonic::{Request, Response, Status, Streaming};

pub use kv::KvHandlers;
pub use raft::RaftMessageSink;
pub use split::RegionSplitter;

/// The KV service: unary RPCs, `BatchCommands`, the coprocessor entry points, `SplitRegion`,
/// and the raft RPCs other stores use to reach this store's peers.
#[derive(Clone)]
pub struct TikvService<E: Engine> {
    handlers: KvHandlers<E>,
    raft: Option<Arc<dyn RaftMessageSink>>,
    splitter: Option<Arc<dyn RegionSplitter>>,
}

impl<E: Engine> TikvService<E> {
    /// A service over `handlers`. Without a raft router (see `with_raft_router`) the raft RPCs
    /// answer `unimplemented`, and so does `SplitRegion` without a splitter
    /// (`with_region_splitter`).
    pub fn new(handlers: KvHandlers<E>) -> Self {
        TikvService {
            handlers,
            raft: None,
            splitter: None,
        }
    }

    /// Carries out `SplitRegion` with `splitter`.
    pub fn with_region_splitter(mut self, splitter: impl RegionSplitter) -> Self {
        self.splitter = Some(Arc::new(splitter));
        self
    }

    /// Delivers the messages of the raft RPCs (`Raft`, `BatchRaft`, `Snapshot`) to `router`.
    pub fn with_raft_router(self, router: RaftRouter) -> Self {
        self.with_raft_sink(router)
    }

    /// Delivers the messages of the raft RPCs to `sink` (a test double, or a filter in front
    /// of the router).
    pub fn with_raft_sink(mut self, sink: impl RaftMessageSink) -> Self {
        self.raft = Some(Arc::new(sink));
        self
    }

    fn raft_sink(&self) -> Result<&dyn RaftMessageSink, Status> {
        self.raft
            .as_deref()
            .ok_or_else(|| Status::unimplemented(raft::NO_RAFT))
    }
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

macro_rules! unary {
    ($($method:ident($request:ty) -> $response:ty;)*) => {
        $(
            // Spelled out as `async_trait` expands, since the attribute cannot see inside macros.
            fn $method<'life0, 'async_trait>(
                &'life0 self,
                request: Request<$request>,
            ) -> Pin<Box<dyn std::future::Future<Output = Result<Response<$response>, Status>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async move { Ok(Response::new(self.handlers.$method(request.into_inner()).await)) })
            }
        )*
    };
}

#[tonic::async_trait]
impl<E: Engine> Tikv for TikvService<E> {
    unary! {
        kv_get(kvrpcpb::GetRequest) -> kvrpcpb::GetResponse;
        kv_scan(kvrpcpb::ScanRequest) -> kvrpcpb::ScanResponse;
        kv_prewrite(kvrpcpb::PrewriteRequest) -> kvrpcpb::PrewriteResponse;
        kv_pessimistic_lock(kvrpcpb::PessimisticLockRequest) -> kvrpcpb::PessimisticLockResponse;
        kv_pessimistic_rollback(kvrpcpb::PessimisticRollbackRequest) -> kvrpcpb::PessimisticRollbackResponse;
        kv_txn_heart_beat(kvrpcpb::TxnHeartBeatRequest) -> kvrpcpb::TxnHeartBeatResponse;
        kv_check_txn_status(kvrpcpb::CheckTxnStatusRequest) -> kvrpcpb::CheckTxnStatusResponse;
        kv_check_secondary_locks(kvrpcpb::CheckSecondaryLocksRequest) -> kvrpcpb::CheckSecondaryLocksResponse;
        kv_commit(kvrpcpb::CommitRequest) -> kvrpcpb::CommitResponse;
        kv_cleanup(kvrpcpb::CleanupRequest) -> kvrpcpb::CleanupResponse;
        kv_batch_get(kvrpcpb::BatchGetRequest) -> kvrpcpb::BatchGetResponse;
        kv_batch_rollback(kvrpcpb::BatchRollbackRequest) -> kvrpcpb::BatchRollbackResponse;
        kv_scan_lock(kvrpcpb::ScanLockRequest) -> kvrpcpb::ScanLockResponse;
        kv_resolve_lock(kvrpcpb::ResolveLockRequest) -> kvrpcpb::ResolveLockResponse;
        kv_gc(kvrpcpb::GcRequest) -> kvrpcpb::GcResponse;
        kv_delete_range(kvrpcpb::DeleteRangeRequest) -> kvrpcpb::DeleteRangeResponse;
        raw_get(kvrpcpb::RawGetRequest) -> kvrpcpb::RawGetResponse;
        raw_batch_get(kvrpcpb::RawBatchGetRequest) -> kvrpcpb::RawBatchGetResponse;
        raw_put(kvrpcpb::RawPutRequest) -> kvrpcpb::RawPutResponse;
        raw_batch_put(kvrpcpb::RawBatchPutRequest) -> kvrpcpb::RawBatchPutResponse;
        raw_delete(kvrpcpb::RawDeleteRequest) -> kvrpcpb::RawDeleteResponse;
        raw_batch_delete(kvrpcpb::RawBatchDeleteRequest) -> kvrpcpb::RawBatchDeleteResponse;
        raw_scan(kvrpcpb::RawScanRequest) -> kvrpcpb::RawScanResponse;
        raw_delete_range(kvrpcpb::RawDeleteRangeRequest) -> kvrpcpb::RawDeleteRangeResponse;
        raw_batch_scan(kvrpcpb::RawBatchScanRequest) -> kvrpcpb::RawBatchScanResponse;
        raw_get_key_ttl(kvrpcpb::RawGetKeyTtlRequest) -> kvrpcpb::RawGetKeyTtlResponse;
        raw_compare_and_swap(kvrpcpb::RawCasRequest) -> kvrpcpb::RawCasResponse;
        unsafe_destroy_range(kvrpcpb::UnsafeDestroyRangeRequest) -> kvrpcpb::UnsafeDestroyRangeResponse;
    }

    async fn coprocessor(
        &self,
        request: Request<coprocessor::Request>,
    ) -> Result<Response<coprocessor::Response>, Status> {
        Ok(Response::new(
            self.handlers.coprocessor(request.into_inner()).await,
        ))
    }

    type CoprocessorStreamStream = ResponseStream<coprocessor::Response>;

    async fn coprocessor_stream(
        &self,
        request: Request<coprocessor::Request>,
    ) -> Result<Response<Self::CoprocessorStreamStream>, Status> {
        // One response carrying the whole result; streaming in pieces comes with paging.
        let response = self.handlers.coprocessor(request.into_inner()).await;
        Ok(Response::new(Box::pin(futures::stream::once(async move {
            Ok(response)
        }))))
    }

    async fn split_region(
        &self,
        request: Request<kvrpcpb::SplitRegionRequest>,
    ) -> Result<Response<kvrpcpb::SplitRegionResponse>, Status> {
        let splitter = self
            .splitter
            .as_deref()
            .ok_or_else(|| Status::unimplemented(split::NO_SPLITTER))?;
        Ok(Response::new(
            split::split_region(splitter, request.into_inner()).await,
        ))
    }

    type BatchCommandsStream = ResponseStream<tikvpb::BatchCommandsResponse>;

    async fn batch_commands(
        &self,
        request: Request<Streaming<tikvpb::BatchCommandsRequest>>,
    ) -> Result<Response<Self::BatchCommandsStream>, Status> {
        let stream = batch::serve(self.handlers.clone(), request.into_inner());
        Ok(Response::new(stream))
    }

    async fn raft(
        &self,
        request: Request<Streaming<raft_serverpb::RaftMessage>>,
    ) -> Result<Response<raft_serverpb::Done>, Status> {
        let sink = self.raft_sink()?;
        raft::receive_messages(sink, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn batch_raft(
        &self,
        request: Request<Streaming<tikvpb::BatchRaftMessage>>,
    ) -> Result<Response<raft_serverpb::Done>, Status> {
        let sink = self.raft_sink()?;
        raft::receive_batches(sink, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn snapshot(
        &self,
        request: Request<Streaming<raft_serverpb::SnapshotChunk>>,
    ) -> Result<Response<raft_serverpb::Done>, Status> {
        let sink = self.raft_sink()?;
        raft::receive_snapshot(sink, request.into_inner())
            .await
            .map(Response::new)
    }
}
