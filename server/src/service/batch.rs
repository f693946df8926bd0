//! `BatchCommands`: a bidirectional stream carrying many requests, each tagged with an id.
//! Every request runs concurrently; each answer goes back as soon as it is ready, tagged with
//! the request's id.

use std::pin::Pin;

use basalt_proto::tikvpb::batch_commands_request::request::Cmd as RequestCmd;
use basalt_proto::tikvpb::batch_commands_response::response::Cmd as ResponseCmd;
use basalt_proto::tikvpb::{self, batch_commands_response};
use basalt_storage::Engine;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::KvHandlers;

type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<tikvpb::BatchCommandsResponse, Status>> + Send + 'static>>;

/// Answers the requests of `incoming` until the client closes it.
pub fn serve<E: Engine>(
    handlers: KvHandlers<E>,
    mut incoming: Streaming<tikvpb::BatchCommandsRequest>,
) -> ResponseStream {
    let (sender, receiver) = mpsc::channel::<Result<tikvpb::BatchCommandsResponse, Status>>(1024);
    tokio::spawn(async move {
        while let Some(message) = incoming.next().await {
            let batch = match message {
                Ok(batch) => batch,
                Err(status) => {
                    tracing::debug!(%status, "batch commands stream ended with an error");
                    break;
                }
            };
            if batch.requests.len() != batch.request_ids.len() {
                let status = Status::invalid_argument(format!(
                    "{} requests but {} request ids",
                    batch.requests.len(),
                    batch.request_ids.len()
                ));
                let _ = sender.send(Err(status)).await;
                break;
            }
            for (request, id) in batch.requests.into_iter().zip(batch.request_ids) {
                let handlers = handlers.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    let cmd = dispatch(&handlers, request.cmd).await;
                    let response = tikvpb::BatchCommandsResponse {
                        responses: vec![batch_commands_response::Response { cmd }],
                        request_ids: vec![id],
                        ..Default::default()
                    };
                    let _ = sender.send(Ok(response)).await;
                });
            }
        }
    });
    Box::pin(ReceiverStream::new(receiver))
}

async fn dispatch<E: Engine>(
    handlers: &KvHandlers<E>,
    cmd: Option<RequestCmd>,
) -> Option<ResponseCmd> {
    let cmd = cmd?;
    Some(match cmd {
        RequestCmd::Get(r) => ResponseCmd::Get(handlers.kv_get(r).await),
        RequestCmd::Scan(r) => ResponseCmd::Scan(handlers.kv_scan(r).await),
        RequestCmd::Prewrite(r) => ResponseCmd::Prewrite(handlers.kv_prewrite(r).await),
        RequestCmd::Commit(r) => ResponseCmd::Commit(handlers.kv_commit(r).await),
        RequestCmd::Cleanup(r) => ResponseCmd::Cleanup(handlers.kv_cleanup(r).await),
        RequestCmd::BatchGet(r) => ResponseCmd::BatchGet(handlers.kv_batch_get(r).await),
        RequestCmd::BatchRollback(r) => {
            ResponseCmd::BatchRollback(handlers.kv_batch_rollback(r).await)
        }
        RequestCmd::ScanLock(r) => ResponseCmd::ScanLock(handlers.kv_scan_lock(r).await),
        RequestCmd::ResolveLock(r) => ResponseCmd::ResolveLock(handlers.kv_resolve_lock(r).await),
        RequestCmd::Gc(r) => ResponseCmd::Gc(handlers.kv_gc(r).await),
        RequestCmd::DeleteRange(r) => ResponseCmd::DeleteRange(handlers.kv_delete_range(r).await),
        RequestCmd::RawGet(r) => ResponseCmd::RawGet(handlers.raw_get(r).await),
        RequestCmd::RawBatchGet(r) => ResponseCmd::RawBatchGet(handlers.raw_batch_get(r).await),
        RequestCmd::RawPut(r) => ResponseCmd::RawPut(handlers.raw_put(r).await),
        RequestCmd::RawBatchPut(r) => ResponseCmd::RawBatchPut(handlers.raw_batch_put(r).await),
        RequestCmd::RawDelete(r) => ResponseCmd::RawDelete(handlers.raw_delete(r).await),
        RequestCmd::RawBatchDelete(r) => {
            ResponseCmd::RawBatchDelete(handlers.raw_batch_delete(r).await)
        }
        RequestCmd::RawScan(r) => ResponseCmd::RawScan(handlers.raw_scan(r).await),
        RequestCmd::RawDeleteRange(r) => {
            ResponseCmd::RawDeleteRange(handlers.raw_delete_range(r).await)
        }
        RequestCmd::RawBatchScan(r) => ResponseCmd::RawBatchScan(handlers.raw_batch_scan(r).await),
        RequestCmd::Coprocessor(r) => ResponseCmd::Coprocessor(handlers.coprocessor(r).await),
        RequestCmd::PessimisticLock(r) => {
            ResponseCmd::PessimisticLock(handlers.kv_pessimistic_lock(r).await)
        }
        RequestCmd::PessimisticRollback(r) => {
            ResponseCmd::PessimisticRollback(handlers.kv_pessimistic_rollback(r).await)
        }
        RequestCmd::CheckTxnStatus(r) => {
            ResponseCmd::CheckTxnStatus(handlers.kv_check_txn_status(r).await)
        }
        RequestCmd::TxnHeartBeat(r) => {
            ResponseCmd::TxnHeartBeat(handlers.kv_txn_heart_beat(r).await)
        }
        RequestCmd::CheckSecondaryLocks(r) => {
            ResponseCmd::CheckSecondaryLocks(handlers.kv_check_secondary_locks(r).await)
        }
        RequestCmd::Empty(r) => {
            ResponseCmd::Empty(tikvpb::BatchCommandsEmptyResponse { test_id: r.test_id })
        }
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}
