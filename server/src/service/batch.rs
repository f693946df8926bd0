//! `BatchCommands`: a bidirectional stream carrying many requests, each tagged with an id.
//!
//! The response stream does the work: when the transport polls it for the next message, it
//! reads whatever requests have arrived, runs the point and batch reads among them (`Get`,
//! `BatchGet`, `RawGet`, `RawBatchGet`) right there, answers an `Empty` probe at once, and
//! answers with every answer ready by then (up to `MAX_RESPONSES_PER_MESSAGE`) in one `BatchCommandsResponse`, each tagged with
//! its request's id. A read that cannot finish at once (it waits for a raft peer or a blocking
//! thread) is kept and polled again with the stream; every other command runs on a task of its
//! own, so a slow write or coprocessor request holds up nothing else, and its answer joins a
//! later message. No task and no queue stand between a read and its answer, and a client that
//! stops reading its answers stops the reading of its requests (transport flow control).
//!
//! The `RawGet`s of one request message run together (`KvHandlers::raw_get_each`), as TiKV's
//! batcher runs them: consecutive ones addressed to the same region share one snapshot, and
//! they cost one future between them rather than one each.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use basalt_proto::kvrpcpb;
use basalt_proto::tikvpb::batch_commands_request::request::Cmd as RequestCmd;
use basalt_proto::tikvpb::batch_commands_response::response::Cmd as ResponseCmd;
use basalt_proto::tikvpb::{self, batch_commands_response};
use basalt_storage::Engine;
use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};
use tonic::{Status, Streaming};

use super::KvHandlers;

/// The most answers one `BatchCommandsResponse` carries.
const MAX_RESPONSES_PER_MESSAGE: usize = 256;
/// The most requests one poll of the stream starts, so that a client sending without pause
/// cannot keep the stream from answering (or its task from yielding).
const MAX_STARTED_PER_POLL: usize = 1024;

type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<tikvpb::BatchCommandsResponse, Status>> + Send + 'static>>;

/// The answer to the request with this id (its command's variants are boxed: see
/// `basalt-proto`'s build script).
type Answer = (u64, Option<ResponseCmd>);

/// The answers of a request, or of several run together.
enum Answers {
    One(Answer),
    Many(Vec<Answer>),
}

impl Answers {
    fn add_to(self, ready: &mut Vec<Answer>) {
        match self {
            Answers::One(answer) => ready.push(answer),
            Answers::Many(answers) => ready.extend(answers),
        }
    }
}

/// Requests still running: a read that did not finish on its first poll, or a command on a
/// task of its own.
type Pending = Pin<Box<dyn Future<Output = Answers> + Send>>;

/// Answers the requests of `incoming` until the client closes it and every request is answered.
pub fn serve<E: Engine>(
    handlers: KvHandlers<E>,
    incoming: Streaming<tikvpb::BatchCommandsRequest>,
) -> ResponseStream {
    Box::pin(Responses {
        handlers: Arc::new(handlers),
        incoming: Some(incoming),
        pending: FuturesUnordered::new(),
        ready: Vec::new(),
        done: false,
    })
}

/// A read cheap enough to run on the stream itself.
enum PointRead {
    Get(Box<kvrpcpb::GetRequest>),
    BatchGet(Box<kvrpcpb::BatchGetRequest>),
    RawGet(Box<kvrpcpb::RawGetRequest>),
    RawBatchGet(Box<kvrpcpb::RawBatchGetRequest>),
}

/// Where a request runs.
enum Work {
    /// Nowhere: its answer is known at once.
    Answered(ResponseCmd),
    /// On the stream.
    Read(PointRead),
    /// On a task of its own.
    Task(Option<RequestCmd>),
}

impl Work {
    fn of(cmd: Option<RequestCmd>) -> Work {
        match cmd {
            Some(RequestCmd::Get(request)) => Work::Read(PointRead::Get(request)),
            Some(RequestCmd::BatchGet(request)) => Work::Read(PointRead::BatchGet(request)),
            Some(RequestCmd::RawGet(request)) => Work::Read(PointRead::RawGet(request)),
            Some(RequestCmd::RawBatchGet(request)) => Work::Read(PointRead::RawBatchGet(request)),
            // A probe of the stream itself (its `delay_time` is not honoured).
            Some(RequestCmd::Empty(request)) => Work::Answered(ResponseCmd::Empty(Box::new(
                tikvpb::BatchCommandsEmptyResponse {
                    test_id: request.test_id,
                },
            ))),
            other => Work::Task(other),
        }
    }
}

impl PointRead {
    /// Runs the read; the answer is boxed once it is ready (not held in the future).
    async fn run<E: Engine>(self, handlers: &KvHandlers<E>) -> ResponseCmd {
        match self {
            PointRead::Get(request) => {
                let response = handlers.kv_get(*request).await;
                ResponseCmd::Get(Box::new(response))
            }
            PointRead::BatchGet(request) => {
                let response = handlers.kv_batch_get(*request).await;
                ResponseCmd::BatchGet(Box::new(response))
            }
            PointRead::RawGet(request) => {
                let response = handlers.raw_get(*request).await;
                ResponseCmd::RawGet(Box::new(response))
            }
            PointRead::RawBatchGet(request) => {
                let response = handlers.raw_batch_get(*request).await;
                ResponseCmd::RawBatchGet(Box::new(response))
            }
        }
    }
}

/// The response stream, which also reads the requests (see the module doc).
struct Responses<E: Engine> {
    handlers: Arc<KvHandlers<E>>,
    /// The client's requests; `None` once the client has closed them.
    incoming: Option<Streaming<tikvpb::BatchCommandsRequest>>,
    /// Requests started and not yet answered.
    pending: FuturesUnordered<Pending>,
    /// Answers for the next message.
    ready: Vec<Answer>,
    done: bool,
}

impl<E: Engine> Responses<E> {
    /// Starts answering request `id`: a point read runs now (and is kept if it cannot finish
    /// yet), anything else on a task of its own.
    fn start(&mut self, id: u64, cmd: Option<RequestCmd>, cx: &mut Context<'_>) {
        match Work::of(cmd) {
            Work::Answered(answer) => self.ready.push((id, Some(answer))),
            Work::Read(read) => {
                let handlers = self.handlers.clone();
                let read: Pending =
                    Box::pin(async move { Answers::One((id, Some(read.run(&handlers).await))) });
                self.poll_first(read, cx);
            }
            Work::Task(cmd) => {
                let handlers = self.handlers.clone();
                let task = tokio::spawn(async move { dispatch(&handlers, cmd).await });
                // A task that panicked is answered without a command.
                self.pending.push(Box::pin(async move {
                    Answers::One((id, task.await.ok().flatten()))
                }));
            }
        }
    }

    /// Starts answering the `RawGet`s taken from `gets` (request id and request) together.
    fn start_raw_gets(
        &mut self,
        gets: &mut Vec<(u64, Box<kvrpcpb::RawGetRequest>)>,
        cx: &mut Context<'_>,
    ) {
        match gets.len() {
            0 => {}
            1 => {
                if let Some((id, get)) = gets.pop() {
                    self.start(id, Some(RequestCmd::RawGet(get)), cx);
                }
            }
            _ => {
                let (ids, requests): (Vec<u64>, Vec<_>) =
                    gets.drain(..).map(|(id, get)| (id, *get)).unzip();
                let handlers = self.handlers.clone();
                let reads: Pending = Box::pin(async move {
                    let responses = handlers.raw_get_each(requests).await;
                    let answers = ids
                        .into_iter()
                        .zip(responses)
                        .map(|(id, response)| (id, Some(ResponseCmd::RawGet(Box::new(response)))))
                        .collect();
                    Answers::Many(answers)
                });
                self.poll_first(reads, cx);
            }
        }
    }

    /// Polls reads just started: their answers are ready, or they are kept to poll again.
    fn poll_first(&mut self, mut reads: Pending, cx: &mut Context<'_>) {
        match reads.as_mut().poll(cx) {
            Poll::Ready(answers) => answers.add_to(&mut self.ready),
            Poll::Pending => self.pending.push(reads),
        }
    }

    /// Reads the requests that have arrived, starting each, until there are none, or enough
    /// answers for a message are ready, or enough requests were started for one poll; `true`
    /// in the last two cases (more requests may be waiting). A malformed batch ends the stream
    /// with its status.
    fn read_requests(&mut self, cx: &mut Context<'_>) -> Result<bool, Status> {
        let mut started = 0;
        while self.ready.len() < MAX_RESPONSES_PER_MESSAGE && started < MAX_STARTED_PER_POLL {
            let Some(incoming) = self.incoming.as_mut() else {
                return Ok(false);
            };
            let batch = match incoming.poll_next_unpin(cx) {
                Poll::Pending => return Ok(false),
                Poll::Ready(Some(Ok(batch))) => batch,
                Poll::Ready(Some(Err(status))) => {
                    tracing::debug!(%status, "batch commands stream ended with an error");
                    self.incoming = None;
                    return Ok(false);
                }
                Poll::Ready(None) => {
                    self.incoming = None;
                    return Ok(false);
                }
            };
            if batch.requests.len() != batch.request_ids.len() {
                return Err(Status::invalid_argument(format!(
                    "{} requests but {} request ids",
                    batch.requests.len(),
                    batch.request_ids.len()
                )));
            }
            started += batch.requests.len();
            let mut raw_gets = Vec::new();
            for (request, id) in batch.requests.into_iter().zip(batch.request_ids) {
                match request.cmd {
                    Some(RequestCmd::RawGet(get)) => raw_gets.push((id, get)),
                    cmd => {
                        self.start_raw_gets(&mut raw_gets, cx);
                        self.start(id, cmd, cx);
                    }
                }
            }
            self.start_raw_gets(&mut raw_gets, cx);
        }
        Ok(true)
    }

    /// Collects the answers of requests that have finished, until enough for a message.
    fn collect_answers(&mut self, cx: &mut Context<'_>) {
        while self.ready.len() < MAX_RESPONSES_PER_MESSAGE {
            match self.pending.poll_next_unpin(cx) {
                Poll::Ready(Some(answers)) => answers.add_to(&mut self.ready),
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
    }

    /// A message of the ready answers (at most `MAX_RESPONSES_PER_MESSAGE`, oldest first).
    fn message(&mut self) -> tikvpb::BatchCommandsResponse {
        let count = self.ready.len().min(MAX_RESPONSES_PER_MESSAGE);
        let mut message = tikvpb::BatchCommandsResponse {
            request_ids: Vec::with_capacity(count),
            responses: Vec::with_capacity(count),
            ..Default::default()
        };
        for (id, cmd) in self.ready.drain(..count) {
            message.request_ids.push(id);
            message
                .responses
                .push(batch_commands_response::Response { cmd });
        }
        message
    }
}

impl<E: Engine> Stream for Responses<E> {
    type Item = Result<tikvpb::BatchCommandsResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let more_requests = match this.read_requests(cx) {
            Ok(more_requests) => more_requests,
            Err(status) => {
                this.done = true;
                return Poll::Ready(Some(Err(status)));
            }
        };
        this.collect_answers(cx);
        if !this.ready.is_empty() {
            return Poll::Ready(Some(Ok(this.message())));
        }
        if this.incoming.is_none() && this.pending.is_empty() {
            this.done = true;
            return Poll::Ready(None);
        }
        if more_requests {
            // Requests are waiting but no waker was registered for them: poll again soon.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

async fn dispatch<E: Engine>(
    handlers: &KvHandlers<E>,
    cmd: Option<RequestCmd>,
) -> Option<ResponseCmd> {
    let cmd = cmd?;
    Some(match cmd {
        RequestCmd::Get(r) => ResponseCmd::Get(Box::new(handlers.kv_get(*r).await)),
        RequestCmd::Scan(r) => ResponseCmd::Scan(Box::new(handlers.kv_scan(*r).await)),
        RequestCmd::Prewrite(r) => ResponseCmd::Prewrite(Box::new(handlers.kv_prewrite(*r).await)),
        RequestCmd::Commit(r) => ResponseCmd::Commit(Box::new(handlers.kv_commit(*r).await)),
        RequestCmd::Cleanup(r) => ResponseCmd::Cleanup(Box::new(handlers.kv_cleanup(*r).await)),
        RequestCmd::BatchGet(r) => ResponseCmd::BatchGet(Box::new(handlers.kv_batch_get(*r).await)),
        RequestCmd::BatchRollback(r) => {
            ResponseCmd::BatchRollback(Box::new(handlers.kv_batch_rollback(*r).await))
        }
        RequestCmd::ScanLock(r) => ResponseCmd::ScanLock(Box::new(handlers.kv_scan_lock(*r).await)),
        RequestCmd::ResolveLock(r) => {
            ResponseCmd::ResolveLock(Box::new(handlers.kv_resolve_lock(*r).await))
        }
        RequestCmd::Gc(r) => ResponseCmd::Gc(Box::new(handlers.kv_gc(*r).await)),
        RequestCmd::DeleteRange(r) => {
            ResponseCmd::DeleteRange(Box::new(handlers.kv_delete_range(*r).await))
        }
        RequestCmd::RawGet(r) => ResponseCmd::RawGet(Box::new(handlers.raw_get(*r).await)),
        RequestCmd::RawBatchGet(r) => {
            ResponseCmd::RawBatchGet(Box::new(handlers.raw_batch_get(*r).await))
        }
        RequestCmd::RawPut(r) => ResponseCmd::RawPut(Box::new(handlers.raw_put(*r).await)),
        RequestCmd::RawBatchPut(r) => {
            ResponseCmd::RawBatchPut(Box::new(handlers.raw_batch_put(*r).await))
        }
        RequestCmd::RawDelete(r) => ResponseCmd::RawDelete(Box::new(handlers.raw_delete(*r).await)),
        RequestCmd::RawBatchDelete(r) => {
            ResponseCmd::RawBatchDelete(Box::new(handlers.raw_batch_delete(*r).await))
        }
        RequestCmd::RawScan(r) => ResponseCmd::RawScan(Box::new(handlers.raw_scan(*r).await)),
        RequestCmd::RawDeleteRange(r) => {
            ResponseCmd::RawDeleteRange(Box::new(handlers.raw_delete_range(*r).await))
        }
        RequestCmd::RawBatchScan(r) => {
            ResponseCmd::RawBatchScan(Box::new(handlers.raw_batch_scan(*r).await))
        }
        RequestCmd::Coprocessor(r) => {
            ResponseCmd::Coprocessor(Box::new(handlers.coprocessor(*r).await))
        }
        RequestCmd::PessimisticLock(r) => {
            ResponseCmd::PessimisticLock(Box::new(handlers.kv_pessimistic_lock(*r).await))
        }
        RequestCmd::PessimisticRollback(r) => {
            ResponseCmd::PessimisticRollback(Box::new(handlers.kv_pessimistic_rollback(*r).await))
        }
        RequestCmd::CheckTxnStatus(r) => {
            ResponseCmd::CheckTxnStatus(Box::new(handlers.kv_check_txn_status(*r).await))
        }
        RequestCmd::TxnHeartBeat(r) => {
            ResponseCmd::TxnHeartBeat(Box::new(handlers.kv_txn_heart_beat(*r).await))
        }
        RequestCmd::CheckSecondaryLocks(r) => {
            ResponseCmd::CheckSecondaryLocks(Box::new(handlers.kv_check_secondary_locks(*r).await))
        }
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}
