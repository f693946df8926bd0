//! Client-side batching over `Tikv.BatchCommands`, as TiDB's client-go does it: one open stream
//! per channel; callers hand a command to a batcher task, which takes the first one waiting and
//! then everything else already waiting (up to a cap), tags each with the next request id, and
//! sends them as one `BatchCommandsRequest`; a receiver task hands each answer of the
//! server's `BatchCommandsResponse`s to the caller waiting on its id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use basalt_proto::tikvpb::batch_commands_request::{self, request::Cmd as RequestCmd};
use basalt_proto::tikvpb::batch_commands_response::response::Cmd as ResponseCmd;
use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::tikvpb::{BatchCommandsRequest, BatchCommandsResponse};
use futures::{Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tonic::transport::Channel;
use tonic::Status;

use super::REQUEST_TIMEOUT;

/// Batches waiting for the transport before the batcher pauses.
const OUTGOING_QUEUE: usize = 64;

/// Hands a caller its answer's command, or why there is none. The command is lent, not moved:
/// the enum is over 2 KiB, and the caller takes only its own (small) variant out of it.
type Reply = Box<dyn FnOnce(Result<&mut ResponseCmd, String>) + Send>;

/// A command handed to the batcher with the caller waiting for its answer. The command is
/// boxed: the enum is 600 bytes, and would otherwise be copied at every hand-over.
struct Submitted {
    cmd: Box<RequestCmd>,
    reply: Reply,
}

/// The callers waiting for answers, by request id; `None` once the stream has ended, so that
/// later batches fail at once rather than wait for answers that cannot come.
type Waiting = Arc<Mutex<Option<HashMap<u64, Reply>>>>;

/// One `BatchCommands` stream shared by many callers. Cloning shares the stream; it closes
/// when the last clone is dropped.
#[derive(Clone)]
pub(super) struct BatchClient {
    submit: mpsc::UnboundedSender<Submitted>,
}

impl BatchClient {
    /// Opens a `BatchCommands` stream on `channel`; batches carry at most `max_batch` commands.
    pub(super) async fn open(channel: Channel, max_batch: usize) -> Result<BatchClient, String> {
        let (outgoing, requests) = mpsc::channel(OUTGOING_QUEUE);
        let requests = futures::stream::unfold(requests, |mut requests| async move {
            requests.recv().await.map(|request| (request, requests))
        });
        let responses = TikvClient::new(channel)
            .batch_commands(requests)
            .await
            .map_err(|status| format!("opening BatchCommands: {status}"))?
            .into_inner();
        Ok(BatchClient::start(outgoing, responses, max_batch))
    }

    /// Batches submitted commands into `outgoing` and routes the answers of `incoming`.
    fn start(
        outgoing: mpsc::Sender<BatchCommandsRequest>,
        incoming: impl Stream<Item = Result<BatchCommandsResponse, Status>> + Send + Unpin + 'static,
        max_batch: usize,
    ) -> BatchClient {
        let waiting: Waiting = Arc::new(Mutex::new(Some(HashMap::new())));
        let (submit, submitted) = mpsc::unbounded_channel();
        tokio::spawn(send_batches(
            submitted,
            outgoing,
            waiting.clone(),
            max_batch.max(1),
        ));
        tokio::spawn(route_answers(incoming, waiting));
        BatchClient { submit }
    }

    /// Sends `cmd` in the next batch and waits for its answer, which `take` moves out of the
    /// response command (`None`: the server answered with another command).
    pub(super) async fn call<T: Send + 'static>(
        &self,
        cmd: Box<RequestCmd>,
        take: fn(&mut ResponseCmd) -> Option<T>,
    ) -> Result<T, String> {
        let (sender, answer) = oneshot::channel();
        let reply: Reply = Box::new(move |cmd| {
            let _ = sender.send(cmd.and_then(|cmd| {
                take(cmd).ok_or_else(|| "BatchCommands: answered with another command".into())
            }));
        });
        self.submit
            .send(Submitted { cmd, reply })
            .map_err(|_| "BatchCommands: the batcher has stopped".to_string())?;
        match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("BatchCommands: the request was dropped unanswered".into()),
            Err(_) => Err(format!(
                "BatchCommands: no answer within {REQUEST_TIMEOUT:?}"
            )),
        }
    }
}

/// The batcher. It waits for a command, lets the callers that are already runnable submit
/// theirs (one yield: no timer, no added wait when nothing else is runnable), takes every
/// command submitted by then (up to `max_batch`), and sends them as one batch.
async fn send_batches(
    mut submitted: mpsc::UnboundedReceiver<Submitted>,
    outgoing: mpsc::Sender<BatchCommandsRequest>,
    waiting: Waiting,
    max_batch: usize,
) {
    let mut next_id = 0u64;
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = submitted.recv().await {
        batch.push(first);
        tokio::task::yield_now().await;
        while batch.len() < max_batch {
            match submitted.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let mut request = BatchCommandsRequest {
            requests: Vec::with_capacity(batch.len()),
            request_ids: Vec::with_capacity(batch.len()),
            ..Default::default()
        };
        {
            let mut waiting = waiting.lock().expect("no panics while holding the lock");
            let Some(waiting) = waiting.as_mut() else {
                for submitted in batch.drain(..) {
                    (submitted.reply)(Err("BatchCommands: the stream has ended".into()));
                }
                continue;
            };
            for submitted in batch.drain(..) {
                next_id += 1;
                waiting.insert(next_id, submitted.reply);
                request.request_ids.push(next_id);
                request.requests.push(batch_commands_request::Request {
                    cmd: Some(*submitted.cmd),
                });
            }
        }
        let ids = request.request_ids.clone();
        if outgoing.send(request).await.is_err() {
            fail(&waiting, &ids, "BatchCommands: the stream has ended");
        }
    }
}

/// The receiver: hands each answer to the caller waiting on its id; when the stream ends,
/// fails every caller still waiting.
async fn route_answers(
    mut incoming: impl Stream<Item = Result<BatchCommandsResponse, Status>> + Unpin,
    waiting: Waiting,
) {
    let reason = loop {
        let mut message = match incoming.next().await {
            Some(Ok(message)) => message,
            Some(Err(status)) => break format!("BatchCommands: {status}"),
            None => break "BatchCommands: the server closed the stream".to_string(),
        };
        if message.request_ids.len() != message.responses.len() {
            break format!(
                "BatchCommands: {} answers but {} request ids",
                message.responses.len(),
                message.request_ids.len()
            );
        }
        let replies: Vec<Option<Reply>> = {
            let mut waiting = waiting.lock().expect("no panics while holding the lock");
            let Some(waiting) = waiting.as_mut() else {
                return;
            };
            message
                .request_ids
                .iter()
                .map(|id| waiting.remove(id))
                .collect()
        };
        for (reply, response) in replies.into_iter().zip(&mut message.responses) {
            // An answer to an id nobody waits for (a duplicate) is dropped.
            if let Some(reply) = reply {
                reply(
                    response
                        .cmd
                        .as_mut()
                        .ok_or_else(|| "BatchCommands: an answer without a command".to_string()),
                );
            }
        }
    };
    let pending = waiting
        .lock()
        .expect("no panics while holding the lock")
        .take();
    for (_, reply) in pending.into_iter().flatten() {
        reply(Err(reason.clone()));
    }
}

/// Fails the callers waiting on `ids`.
fn fail(waiting: &Waiting, ids: &[u64], reason: &str) {
    let replies: Vec<Reply> = {
        let mut waiting = waiting.lock().expect("no panics while holding the lock");
        match waiting.as_mut() {
            Some(waiting) => ids.iter().filter_map(|id| waiting.remove(id)).collect(),
            None => Vec::new(),
        }
    };
    for reply in replies {
        reply(Err(reason.to_string()));
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
    fn client(max_batch: usize) -> (BatchClient, mpsc::Receiver<BatchCommandsRequest>, Incoming) {
        let (outgoing, requests) = mpsc::channel(OUTGOING_QUEUE);
        let (answers, incoming) = mpsc::unbounded_channel();
        let incoming = futures::stream::unfold(incoming, |mut incoming| async move {
            incoming.recv().await.map(|answer| (answer, incoming))
        });
        let client = BatchClient::start(outgoing, Box::pin(incoming), max_batch);
        (client, requests, answers)
    }

    fn empty(test_id: u64) -> RequestCmd {
        RequestCmd::Empty(BatchCommandsEmptyRequest {
            test_id,
            ..Default::default()
        })
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
                    cmd: Some(ResponseCmd::Empty(BatchCommandsEmptyResponse { test_id })),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Calls with an `Empty` command carrying `test_id`; the answer's `test_id`.
    async fn call_empty(client: &BatchClient, test_id: u64) -> Result<u64, String> {
        client
            .call(Box::new(empty(test_id)), |cmd| match cmd {
                ResponseCmd::Empty(empty) => Some(empty.test_id),
                _ => None,
            })
            .await
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
            let request = requests.recv().await.expect("the batcher sends");
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
        let request = requests.recv().await.expect("the batcher sends");
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
        requests.recv().await.expect("the batcher sends");
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
