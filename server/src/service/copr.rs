//! The `Coprocessor` RPC: checks the region and locks, takes a snapshot at `start_ts`, runs the
//! DAG on a blocking thread, and splits failures the way TiDB expects them: a blocking lock in
//! `locked`, region problems in `region_error`, evaluation errors in `SelectResponse.error`,
//! everything else in `other_error`.

use basalt_copr::source::{LockPolicy, SnapshotSource};
use basalt_copr::{DagRunner, REQ_TYPE_DAG};
use basalt_proto::{coprocessor, tipb};
use basalt_storage::{Engine, Error as StorageError, TxnError};
use prost::Message;

use super::convert::{lock_info, request_context};
use super::KvHandlers;
use crate::metrics::RequestTimer;

fn storage_error(response: &mut coprocessor::Response, err: StorageError) -> &'static str {
    match err {
        StorageError::Region(region) => {
            response.region_error = Some(*region);
            "region_error"
        }
        StorageError::Txn(TxnError::KeyIsLocked(lock, key)) => {
            response.locked = Some(lock_info(key, &lock));
            "locked"
        }
        other => {
            response.other_error = other.to_string();
            "error"
        }
    }
}

impl<E: Engine> KvHandlers<E> {
    /// `Coprocessor`.
    pub async fn coprocessor(&self, request: coprocessor::Request) -> coprocessor::Response {
        let timer = RequestTimer::start("coprocessor");
        let mut response = coprocessor::Response::default();
        let label = self.run_coprocessor(request, &mut response).await;
        timer.finish(label);
        response
    }

    async fn run_coprocessor(
        &self,
        request: coprocessor::Request,
        response: &mut coprocessor::Response,
    ) -> &'static str {
        if request.tp != REQ_TYPE_DAG {
            response.other_error = format!(
                "coprocessor request type {} is not supported yet (only DAG, 103)",
                request.tp
            );
            return "error";
        }
        let dag = match tipb::DagRequest::decode(request.data.as_slice()) {
            Ok(dag) => dag,
            Err(err) => {
                response.other_error = format!("malformed DAG request: {err}");
                return "error";
            }
        };
        let ctx = request_context(request.context.as_ref());
        let max_execution_ms = request
            .context
            .as_ref()
            .map_or(0, |c| c.max_execution_duration_ms);
        let ranges: Vec<(Vec<u8>, Vec<u8>)> = request
            .ranges
            .into_iter()
            .map(|range| (range.start, range.end))
            .collect();
        let snapshot = match self
            .storage()
            .coprocessor_snapshot(&ctx, &ranges, request.start_ts)
            .await
        {
            Ok(snapshot) => snapshot,
            Err(err) => return storage_error(response, err),
        };
        let locks = LockPolicy {
            bypass: ctx.resolved_locks.clone(),
            access: ctx.committed_locks.clone(),
            ignore_all: ctx.read_committed,
        };
        let source = SnapshotSource::new(snapshot, request.start_ts, locks)
            .not_fill_cache(ctx.not_fill_cache);
        let paging_size = request.paging_size;
        let outcome = tokio::task::spawn_blocking(move || {
            DagRunner::build_paged(&dag, ranges, source, max_execution_ms, paging_size)?.run_paged()
        })
        .await;
        match outcome {
            Ok(Ok((select, covered))) => {
                response.data = select.encode_to_vec();
                // With paging, the range the page covered; the client resumes after it.
                response.range = covered.map(|(start, end)| coprocessor::KeyRange { start, end });
                "ok"
            }
            Ok(Err(basalt_copr::Error::Storage(err))) => storage_error(response, err),
            Ok(Err(basalt_copr::Error::Expr(err))) => {
                let select = tipb::SelectResponse {
                    error: Some(tipb::Error {
                        code: Some(err.code() as i32),
                        msg: Some(err.to_string()),
                    }),
                    ..Default::default()
                };
                response.data = select.encode_to_vec();
                "eval_error"
            }
            Ok(Err(err)) => {
                response.other_error = err.to_string();
                "error"
            }
            Err(err) => {
                response.other_error = format!("coprocessor task failed: {err}");
                "error"
            }
        }
    }
}
