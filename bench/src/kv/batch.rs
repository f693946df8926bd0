//! Client-side batching over `Tikv.BatchCommands`, as TiDB's client-go does it: one open stream
//! per channel; callers hand a command to the batcher (the stream of request messages the
//! transport polls), which takes the first one waiting and then everything else already
//! waiting (up to a cap), tags each with the next request id, and sends them as one
//! `BatchCommandsRequest`; a receiver task hands each answer of the server's
//! `BatchCommandsResponse`s to the caller waiting on its id.
//!
//! The per-command cost is kept low, since it is paid by every operation: ids are consecutive,
//! so the callers waiting are a deque indexed by id (no hashing); the batcher reads the clock
//! once per batch; and overdue callers are failed by a sweep once a second rather than by a
//! timer per call.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use basalt_proto::tikvpb::batch_commands_request::{self, request::Cmd as RequestCmd};
use basalt_proto::tikvpb::batch_commands_response::response::Cmd as ResponseCmd;
use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::tikvpb::{BatchCommandsRequest, BatchCommandsResponse};
use futures::{Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tonic::transport::Channel;
use tonic::Status;

use super::REQUEST_TIMEOUT;

/// How often callers waiting past `REQUEST_TIMEOUT` are looked for.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Hands a caller its answer's command, or why there is none.
type Reply = Box<dyn FnOnce(Result<ResponseCmd, String>) + Send>;

/// A command handed to the batcher with the caller waiting for its answer.
struct Submitted {
    cmd: RequestCmd,
    reply: Reply,
}

/// A caller waiting for the answer to its request.
struct Waiter {
    reply: Reply,
    /// When the caller is failed if no answer came.
    deadline: Instant,
}

/// The callers waiting for answers, by request id. Ids are handed out consecutively, so this
/// is a deque whose front slot is id `first`; a slot is emptied when its answer arrives (or
/// its caller is failed), and empty slots at the front are dropped.
#[derive(Default)]
struct Waiters {
    first: u64,
    slots: VecDeque<Option<Waiter>>,
}

impl Waiters {
    /// Waits for the answer to request `id`, the next id after every one added before.
    fn push(&mut self, id: u64, waiter: Waiter) {
        if self.slots.is_empty() {
            self.first = id;
        }
        debug_assert_eq!(id, self.first + self.slots.len() as u64);
        self.slots.push_back(Some(waiter));
    }

    /// The caller waiting on `id`, if any (none for an id never sent or already answered).
    fn take(&mut self, id: u64) -> Option<Waiter> {
        let index = usize::try_from(id.checked_sub(self.first)?).ok()?;
        let waiter = self.slots.get_mut(index)?.take();
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
        waiter
    }

    /// Takes every caller whose deadline is before `now`.
    fn overdue(&mut self, now: Instant) -> Vec<Waiter> {
        let first = self.first;
        let ids: Vec<u64> = (first..)
            .zip(&self.slots)
            .filter(|(_, slot)| slot.as_ref().is_some_and(|waiter| waiter.deadline < now))
            .map(|(id, _)| id)
            .collect();
        ids.into_iter().filter_map(|id| self.take(id)).collect()
    }

    /// Takes every caller.
    fn drain(&mut self) -> impl Iterator<Item = Waiter> + '_ {
        self.slots.drain(..).flatten()
    }
}

/// The callers waiting for answers; `None` once the stream has ended, so that later batches
/// fail at once rather than wait for answers that cannot come.
type Waiting = Arc<Mutex<Option<Waiters>>>;

/// One `BatchCommands` stream shared by many callers. Cloning shares the stream; it closes
/// when the last clone is dropped.
#[derive(Clone)]
pub(super) struct BatchClient {
    submit: mpsc::UnboundedSender<Submitted>,
    counts: Arc<MessageCounts>,
    /// Set when the answers' stream has ended: later calls fail at once, since the transport
    /// may no longer poll the batcher that would fail them.
    ended: Arc<AtomicBool>,
}

/// What a stream has carried so far, to tell how well commands are batched.
#[derive(Debug, Default)]
pub(super) struct MessageCounts {
    /// `BatchCommandsRequest`s sent.
    pub(super) requests: AtomicU64,
    /// Commands sent in them.
    pub(super) commands: AtomicU64,
    /// `BatchCommandsResponse`s received.
    pub(super) responses: AtomicU64,
}

impl MessageCounts {
    /// `(request messages, commands, response messages)` so far.
    pub(super) fn get(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.commands.load(Ordering::Relaxed),
            self.responses.load(Ordering::Relaxed),
        )
    }
}

impl BatchClient {
    /// Opens a `BatchCommands` stream on `channel`; batches carry at most `max_batch` commands.
    pub(super) async fn open(channel: Channel, max_batch: usize) -> Result<BatchClient, String> {
        let (client, batches, waiting) = BatchClient::batcher(max_batch);
        let responses = TikvClient::new(channel)
            .batch_commands(batches)
            .await
            .map_err(|status| format!("opening BatchCommands: {status}"))?
            .into_inner();
        client.route(responses, waiting);
        Ok(client)
    }

    /// A client and the request messages it batches, with the callers waiting for answers.
    fn batcher(max_batch: usize) -> (BatchClient, Batches, Waiting) {
        let waiting: Waiting = Arc::new(Mutex::new(Some(Waiters::default())));
        let counts = Arc::new(MessageCounts::default());
        let (submit, submitted) = mpsc::unbounded_channel();
        tokio::spawn(sweep_overdue(Arc::downgrade(&waiting)));
        let batches = Batches {
            submitted,
            waiting: waiting.clone(),
            max_batch: max_batch.max(1),
            counts: counts.clone(),
            next_id: 0,
            yielded: false,
            batch: Vec::new(),
        };
        let client = BatchClient {
            submit,
            counts,
            ended: Arc::new(AtomicBool::new(false)),
        };
        (client, batches, waiting)
    }

    /// Routes the answers of `incoming` to the callers in `waiting`.
    fn route(
        &self,
        incoming: impl Stream<Item = Result<BatchCommandsResponse, Status>> + Send + Unpin + 'static,
        waiting: Waiting,
    ) {
        let (counts, ended) = (self.counts.clone(), self.ended.clone());
        tokio::spawn(route_answers(incoming, waiting, counts, ended));
    }

    /// What the stream has carried so far.
    pub(super) fn counts(&self) -> &MessageCounts {
        &self.counts
    }

    /// Sends `cmd` in the next batch and waits for its answer (at most `REQUEST_TIMEOUT`),
    /// which `take` moves out of the response command (`None`: the server answered with
    /// another command).
    pub(super) async fn call<T: Send + 'static>(
        &self,
        cmd: RequestCmd,
        take: fn(ResponseCmd) -> Option<T>,
    ) -> Result<T, String> {
        let (sender, answer) = oneshot::channel();
        let reply: Reply = Box::new(move |cmd| {
            let _ = sender.send(cmd.and_then(|cmd| {
                take(cmd).ok_or_else(|| "BatchCommands: answered with another command".into())
            }));
        });
        if self.ended.load(Ordering::Acquire) {
            return Err("BatchCommands: the stream has ended".into());
        }
        self.submit
            .send(Submitted { cmd, reply })
            .map_err(|_| "BatchCommands: the stream has stopped".to_string())?;
        answer
            .await
            .unwrap_or_else(|_| Err("BatchCommands: the request was dropped unanswered".into()))
    }
}

/// The batcher: the stream of request messages the transport sends, so that no task of its
/// own stands between the callers and the transport. When polled, it takes a command
/// submitted, lets the callers that are already runnable submit theirs (it yields once: no
/// timer, no added wait when nothing else is runnable), takes every command submitted by then
/// (up to `max_batch`), and makes them one message.
struct Batches {
    submitted: mpsc::UnboundedReceiver<Submitted>,
    waiting: Waiting,
    max_batch: usize,
    counts: Arc<MessageCounts>,
    /// The id of the last command sent.
    next_id: u64,
    /// Whether this batch has yielded once already.
    yielded: bool,
    /// The commands taken for the next message.
    batch: Vec<Submitted>,
}

impl Batches {
    /// The message of the commands in `batch`, their callers now waiting for answers; `None`
    /// (and the callers failed) once the answers' stream has ended.
    fn message(&mut self) -> Option<BatchCommandsRequest> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let mut request = BatchCommandsRequest {
            requests: Vec::with_capacity(self.batch.len()),
            request_ids: Vec::with_capacity(self.batch.len()),
            ..Default::default()
        };
        {
            let mut waiting = self
                .waiting
                .lock()
                .expect("no panics while holding the lock");
            if let Some(waiting) = waiting.as_mut() {
                for submitted in self.batch.drain(..) {
                    self.next_id += 1;
                    let waiter = Waiter {
                        reply: submitted.reply,
                        deadline,
                    };
                    waiting.push(self.next_id, waiter);
                    request.request_ids.push(self.next_id);
                    request.requests.push(batch_commands_request::Request {
                        cmd: Some(submitted.cmd),
                    });
                }
            }
        }
        for submitted in self.batch.drain(..) {
            (submitted.reply)(Err("BatchCommands: the stream has ended".into()));
        }
        if request.requests.is_empty() {
            return None;
        }
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        self.counts
            .commands
            .fetch_add(request.requests.len() as u64, Ordering::Relaxed);
        Some(request)
    }
}

impl Stream for Batches {
    type Item = BatchCommandsRequest;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let mut closed = false;
            while this.batch.len() < this.max_batch {
                match this.submitted.poll_recv(cx) {
                    Poll::Ready(Some(submitted)) => this.batch.push(submitted),
                    Poll::Ready(None) => {
                        closed = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if this.batch.is_empty() {
                return if closed {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            }
            if !this.yielded && !closed && this.batch.len() < this.max_batch {
                this.yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.yielded = false;
            if let Some(message) = this.message() {
                return Poll::Ready(Some(message));
            }
        }
    }
}

/// The receiver: hands each answer to the caller waiting on its id; when the stream ends,
/// marks it `ended` and fails every caller still waiting.
async fn route_answers(
    mut incoming: impl Stream<Item = Result<BatchCommandsResponse, Status>> + Unpin,
    waiting: Waiting,
    counts: Arc<MessageCounts>,
    ended: Arc<AtomicBool>,
) {
    let mut waiters = Vec::new();
    let reason = loop {
        let mut message = match incoming.next().await {
            Some(Ok(message)) => message,
            Some(Err(status)) => break format!("BatchCommands: {status}"),
            None => break "BatchCommands: the server closed the stream".to_string(),
        };
        counts.responses.fetch_add(1, Ordering::Relaxed);
        if message.request_ids.len() != message.responses.len() {
            break format!(
                "BatchCommands: {} answers but {} request ids",
                message.responses.len(),
                message.request_ids.len()
            );
        }
        {
            let mut waiting = waiting.lock().expect("no panics while holding the lock");
            let Some(waiting) = waiting.as_mut() else {
                return;
            };
            waiters.extend(message.request_ids.iter().map(|&id| waiting.take(id)));
        }
        for (waiter, response) in waiters.drain(..).zip(&mut message.responses) {
            // An answer to an id nobody waits for (a duplicate, or one given up on) is dropped.
            if let Some(waiter) = waiter {
                (waiter.reply)(
                    response
                        .cmd
                        .take()
                        .ok_or_else(|| "BatchCommands: an answer without a command".to_string()),
                );
            }
        }
    };
    ended.store(true, Ordering::Release);
    let mut pending = waiting
        .lock()
        .expect("no panics while holding the lock")
        .take();
    for waiter in pending.iter_mut().flat_map(Waiters::drain) {
        (waiter.reply)(Err(reason.clone()));
    }
}

/// Fails, once a second, the callers that waited longer than `REQUEST_TIMEOUT`; ends when the
/// stream's tasks have.
async fn sweep_overdue(waiting: Weak<Mutex<Option<Waiters>>>) {
    loop {
        tokio::time::sleep(SWEEP_INTERVAL).await;
        let Some(waiting) = waiting.upgrade() else {
            return;
        };
        let overdue = match waiting
            .lock()
            .expect("no panics while holding the lock")
            .as_mut()
        {
            Some(waiters) => waiters.overdue(Instant::now()),
            None => return,
        };
        for waiter in overdue {
            (waiter.reply)(Err(format!(
                "BatchCommands: no answer within {REQUEST_TIMEOUT:?}"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use basalt_proto::tikvpb::batch_commands_response;
    use basalt_proto::tikvpb::{BatchCommandsEmptyRequest, BatchCommandsEmptyResponse};

    use super::*;

    type Incoming = mpsc::UnboundedSender<Result<BatchCommandsResponse, Status>>;

    /// A batch client whose stream ends in the test's hands: the requests it sends, and a
    /// sender of the answers it receives.
    fn client(max_batch: usize) -> (BatchClient, Batches, Incoming) {
        let (client, requests, waiting) = BatchClient::batcher(max_batch);
        let (answers, incoming) = mpsc::unbounded_channel();
        let incoming = futures::stream::unfold(incoming, |mut incoming| async move {
            incoming.recv().await.map(|answer| (answer, incoming))
        });
        client.route(Box::pin(incoming), waiting);
        (client, requests, answers)
    }

    fn empty(test_id: u64) -> RequestCmd {
        RequestCmd::Empty(Box::new(BatchCommandsEmptyRequest {
            test_id,
            ..Default::default()
        }))
    }

    fn test_id(cmd: &Option<RequestCmd>) -> u64 {
        match cmd {
            Some(RequestCmd::Empty(empty)) => empty.test_id,
            other => panic!("unexpected command {other:?}"),
        }
    }

    /// An answer echoing `test_id` under `id`.
    fn answer(ids_and_test_ids: &[(u64, u64)]) -> BatchCommandsResponse {
        BatchCommandsResponse {
            request_ids: ids_and_test_ids.iter().map(|&(id, _)| id).collect(),
            responses: ids_and_test_ids
                .iter()
                .map(|&(_, test_id)| batch_commands_response::Response {
                    cmd: Some(ResponseCmd::Empty(Box::new(BatchCommandsEmptyResponse {
                        test_id,
                    }))),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Calls with an `Empty` command carrying `test_id`; the answer's `test_id`.
    async fn call_empty(client: &BatchClient, test_id: u64) -> Result<u64, String> {
        client
            .call(empty(test_id), |cmd| match cmd {
                ResponseCmd::Empty(empty) => Some(empty.test_id),
                _ => None,
            })
            .await
    }

    #[test]
    fn waiters_are_found_by_id_in_any_order_and_failed_when_overdue() {
        let answered = Arc::new(Mutex::new(Vec::new()));
        let waiter = |n: u64, deadline: Instant| {
            let answered = answered.clone();
            Waiter {
                reply: Box::new(move |result| {
                    answered
                        .lock()
                        .unwrap()
                        .push((n, result.map(|_| ()).is_ok()))
                }),
                deadline,
            }
        };
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut waiters = Waiters::default();
        for id in 5..10 {
            waiters.push(id, waiter(id, if id == 8 { now } else { later }));
        }
        assert!(waiters.take(4).is_none() && waiters.take(10).is_none());
        for id in [6, 5] {
            let cmd = ResponseCmd::Empty(Box::default());
            (waiters.take(id).expect("waits").reply)(Ok(cmd));
        }
        assert!(waiters.take(6).is_none(), "answered once");
        assert_eq!((waiters.first, waiters.slots.len()), (7, 3));
        let overdue = waiters.overdue(now + Duration::from_millis(1));
        assert_eq!(overdue.len(), 1);
        (overdue.into_iter().next().expect("one").reply)(Err("late".into()));
        waiters.push(10, waiter(10, later));
        let rest: Vec<Waiter> = waiters.drain().collect();
        assert_eq!(rest.len(), 3);
        for waiter in rest {
            (waiter.reply)(Err("ended".into()));
        }
        let mut answered = answered.lock().unwrap().clone();
        answered.sort_unstable();
        assert_eq!(
            answered,
            [
                (5, true),
                (6, true),
                (7, false),
                (8, false),
                (9, false),
                (10, false)
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_reach_their_callers_whatever_the_order() {
        let (client, mut requests, answers) = client(8);
        let calls: Vec<_> = (0..50u64)
            .map(|n| {
                let client = client.clone();
                tokio::spawn(async move { (n, call_empty(&client, n).await) })
            })
            .collect();
        // Answer each batch backwards, in messages of at most three answers.
        let mut seen_ids = Vec::new();
        while seen_ids.len() < 50 {
            let request = requests.next().await.expect("the batcher sends");
            assert_eq!(request.request_ids.len(), request.requests.len());
            assert!(!request.requests.is_empty() && request.requests.len() <= 8);
            let mut pairs: Vec<(u64, u64)> = request
                .request_ids
                .iter()
                .zip(&request.requests)
                .map(|(&id, request)| (id, test_id(&request.cmd)))
                .collect();
            seen_ids.extend(pairs.iter().map(|&(id, _)| id));
            pairs.reverse();
            for chunk in pairs.chunks(3) {
                answers.send(Ok(answer(chunk))).expect("the receiver runs");
            }
        }
        // Ids are increasing, each used once.
        assert_eq!(seen_ids.len(), 50);
        assert!(seen_ids.windows(2).all(|pair| pair[0] < pair[1]));
        for call in calls {
            let (n, result) = call.await.expect("the call task finishes");
            assert_eq!(result, Ok(n));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_ids_are_ignored_and_an_ended_stream_fails_the_callers() {
        let (client, mut requests, answers) = client(128);
        let first = tokio::spawn({
            let client = client.clone();
            async move { call_empty(&client, 1).await }
        });
        let request = requests.next().await.expect("the batcher sends");
        let id = request.request_ids[0];
        // An answer for an id never sent, then the real one.
        answers
            .send(Ok(answer(&[(id + 1000, 9), (id, 1)])))
            .expect("the receiver runs");
        assert_eq!(first.await.expect("finishes"), Ok(1));

        let second = tokio::spawn({
            let client = client.clone();
            async move { call_empty(&client, 2).await }
        });
        requests.next().await.expect("the batcher sends");
        answers
            .send(Err(Status::unavailable("gone")))
            .expect("the receiver runs");
        let error = second
            .await
            .expect("finishes")
            .expect_err("the stream ended");
        assert!(error.contains("gone"), "{error}");
        // Later calls fail at once instead of waiting.
        let error = call_empty(&client, 3).await.expect_err("the stream ended");
        assert!(error.contains("ended"), "{error}");
    }
}
