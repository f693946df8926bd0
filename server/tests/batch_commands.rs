//! `BatchCommands` on a single-node server started in-process on loopback ports: every request
//! of a batch is answered exactly once under its own id, with the answer its command calls for,
//! even when other requests of the batch fail; a batch whose ids do not match its requests ends
//! the stream with `InvalidArgument`.

use std::collections::HashMap;
use std::time::Duration;

use basalt_proto::tikvpb::batch_commands_request::request::Cmd as RequestCmd;
use basalt_proto::tikvpb::batch_commands_response::response::Cmd as ResponseCmd;
use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::tikvpb::{self, batch_commands_request};
use basalt_proto::{kvrpcpb, metapb, pdpb};
use basalt_server::node::PdConnection;
use basalt_server::BoundAddrs;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Streaming};

mod common;
use common::start_server;

/// How long the test waits for any one answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The context of the region holding raw key `key`, as PD knows it.
async fn raw_context(addrs: &BoundAddrs, key: &[u8]) -> kvrpcpb::Context {
    let tso = PdConnection::connect(&addrs.pd.to_string(), Duration::from_secs(10))
        .await
        .expect("PD reachable");
    let mut pd = pdpb::pd_client::PdClient::connect(format!("http://{}", addrs.pd))
        .await
        .expect("PD reachable");
    let answer = pd
        .get_region(pdpb::GetRegionRequest {
            header: Some(pdpb::RequestHeader {
                cluster_id: tso.cluster_id(),
                ..Default::default()
            }),
            region_key: key.to_vec(),
            ..Default::default()
        })
        .await
        .expect("GetRegion")
        .into_inner();
    let region: metapb::Region = answer.region.expect("PD knows the region");
    kvrpcpb::Context {
        region_id: region.id,
        region_epoch: region.region_epoch,
        peer: answer.leader,
        ..Default::default()
    }
}

/// An open `BatchCommands` stream.
struct Stream {
    requests: mpsc::Sender<tikvpb::BatchCommandsRequest>,
    responses: Streaming<tikvpb::BatchCommandsResponse>,
}

impl Stream {
    async fn open(addrs: &BoundAddrs) -> Stream {
        let mut kv = TikvClient::connect(format!("http://{}", addrs.kv))
            .await
            .expect("KV service reachable");
        let (requests, outgoing) = mpsc::channel(16);
        let responses = kv
            .batch_commands(ReceiverStream::new(outgoing))
            .await
            .expect("BatchCommands opens")
            .into_inner();
        Stream {
            requests,
            responses,
        }
    }

    /// Sends one batch of `(id, command)`.
    async fn send(&self, commands: Vec<(u64, RequestCmd)>) {
        let (request_ids, cmds): (Vec<u64>, Vec<RequestCmd>) = commands.into_iter().unzip();
        let requests = cmds
            .into_iter()
            .map(|cmd| batch_commands_request::Request { cmd: Some(cmd) })
            .collect();
        self.requests
            .send(tikvpb::BatchCommandsRequest {
                requests,
                request_ids,
                ..Default::default()
            })
            .await
            .expect("the stream is open");
    }

    /// Answers until `count` have arrived, by request id; panics on a duplicate id.
    async fn answers(&mut self, count: usize) -> HashMap<u64, ResponseCmd> {
        let mut answers = HashMap::new();
        while answers.len() < count {
            let message = tokio::time::timeout(ANSWER_TIMEOUT, self.responses.message())
                .await
                .expect("answers arrive in time")
                .expect("the stream is healthy")
                .expect("the stream stays open");
            assert_eq!(message.request_ids.len(), message.responses.len());
            // The server's cap on answers per message (`MAX_RESPONSES_PER_MESSAGE`).
            assert!(
                message.responses.len() <= 256,
                "{}",
                message.responses.len()
            );
            for (id, response) in message.request_ids.into_iter().zip(message.responses) {
                let cmd = response.cmd.expect("every answer carries a command");
                assert!(answers.insert(id, cmd).is_none(), "id {id} answered twice");
            }
        }
        answers
    }
}

fn raw_put(context: &kvrpcpb::Context, key: &[u8], value: &[u8]) -> RequestCmd {
    RequestCmd::RawPut(Box::new(kvrpcpb::RawPutRequest {
        context: Some(context.clone()),
        key: key.to_vec(),
        value: value.to_vec(),
        ..Default::default()
    }))
}

fn raw_get(context: &kvrpcpb::Context, key: &[u8]) -> RequestCmd {
    RequestCmd::RawGet(Box::new(kvrpcpb::RawGetRequest {
        context: Some(context.clone()),
        key: key.to_vec(),
        ..Default::default()
    }))
}

fn empty(test_id: u64) -> RequestCmd {
    RequestCmd::Empty(Box::new(tikvpb::BatchCommandsEmptyRequest {
        test_id,
        ..Default::default()
    }))
}

fn must_raw_put_ok(answer: Option<ResponseCmd>) {
    match answer {
        Some(ResponseCmd::RawPut(put)) => {
            assert!(
                put.region_error.is_none() && put.error.is_empty(),
                "{put:?}"
            )
        }
        other => panic!("expected a RawPut answer, got {other:?}"),
    }
}

fn must_raw_get(answer: Option<ResponseCmd>) -> kvrpcpb::RawGetResponse {
    match answer {
        Some(ResponseCmd::RawGet(get)) => *get,
        other => panic!("expected a RawGet answer, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_answered_once_under_its_id() {
    let server = start_server().await;
    let context = raw_context(&server.addrs, b"batch/").await;
    let mut wrong_region = context.clone();
    wrong_region.region_id += 1_000_000;
    let mut stream = Stream::open(&server.addrs).await;

    // Writes, a read of a key nobody wrote, a read that fails, an empty request; ids are
    // arbitrary and out of order.
    stream
        .send(vec![
            (u64::MAX, raw_put(&context, b"batch/a", b"value-a")),
            (7, empty(42)),
            (3, raw_put(&context, b"batch/b", b"value-b")),
            (1_000, raw_get(&context, b"batch/missing")),
            (0, raw_get(&wrong_region, b"batch/a")),
            (5, empty(43)),
        ])
        .await;
    let mut answers = stream.answers(6).await;
    must_raw_put_ok(answers.remove(&u64::MAX));
    must_raw_put_ok(answers.remove(&3));
    let missing = must_raw_get(answers.remove(&1_000));
    assert!(
        missing.not_found && missing.region_error.is_none(),
        "{missing:?}"
    );
    let failed = must_raw_get(answers.remove(&0));
    assert!(failed.region_error.is_some(), "{failed:?}");
    for (id, test_id) in [(7, 42), (5, 43)] {
        match answers.remove(&id) {
            Some(ResponseCmd::Empty(empty)) => assert_eq!(empty.test_id, test_id),
            other => panic!("expected an Empty answer under {id}, got {other:?}"),
        }
    }
    assert!(answers.is_empty(), "unasked answers: {answers:?}");

    // Reads of what the first batch wrote, many to a batch.
    let reads: Vec<(u64, RequestCmd)> = (0..100)
        .map(|i| {
            let key: &[u8] = if i % 2 == 0 { b"batch/a" } else { b"batch/b" };
            (10_000 + i, raw_get(&context, key))
        })
        .collect();
    stream.send(reads).await;
    let answers = stream.answers(100).await;
    assert_eq!(answers.len(), 100);
    for (id, answer) in answers {
        let get = must_raw_get(Some(answer));
        let want: &[u8] = if (id - 10_000) % 2 == 0 {
            b"value-a"
        } else {
            b"value-b"
        };
        assert!(
            get.region_error.is_none() && get.error.is_empty(),
            "{get:?}"
        );
        assert_eq!(get.value, want, "answer to {id}");
    }
}

/// The `RawGet`s of one message run together, sharing a snapshot while they address the same
/// region; a failing one (another region, an empty key) fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_gets_of_one_message_are_answered_each_on_its_own() {
    let server = start_server().await;
    let context = raw_context(&server.addrs, b"batch/").await;
    let mut wrong_region = context.clone();
    wrong_region.region_id += 1_000_000;
    let mut stream = Stream::open(&server.addrs).await;
    stream
        .send(vec![(1, raw_put(&context, b"batch/shared", b"value"))])
        .await;
    must_raw_put_ok(stream.answers(1).await.remove(&1));

    stream
        .send(vec![
            (10, raw_get(&context, b"batch/shared")),
            (11, raw_get(&wrong_region, b"batch/shared")),
            (12, raw_get(&context, b"batch/shared")),
            (13, raw_get(&context, b"")),
            (14, raw_get(&context, b"batch/missing")),
            (15, raw_get(&wrong_region, b"batch/shared")),
            (16, raw_get(&context, b"batch/shared")),
        ])
        .await;
    let mut answers = stream.answers(7).await;
    for id in [10, 12, 16] {
        let get = must_raw_get(answers.remove(&id));
        assert!(
            get.region_error.is_none() && get.error.is_empty() && !get.not_found,
            "{id}: {get:?}"
        );
        assert_eq!(get.value, b"value", "answer to {id}");
    }
    for id in [11, 15] {
        let get = must_raw_get(answers.remove(&id));
        assert!(get.region_error.is_some(), "{id}: {get:?}");
    }
    let empty_key = must_raw_get(answers.remove(&13));
    assert!(!empty_key.error.is_empty(), "{empty_key:?}");
    let missing = must_raw_get(answers.remove(&14));
    assert!(
        missing.not_found && missing.region_error.is_none(),
        "{missing:?}"
    );
    assert!(answers.is_empty(), "unasked answers: {answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_answered_in_full() {
    let server = start_server().await;
    let context = raw_context(&server.addrs, b"batch/").await;
    let mut stream = Stream::open(&server.addrs).await;
    stream
        .send(vec![(1, raw_put(&context, b"batch/large", b"value"))])
        .await;
    must_raw_put_ok(stream.answers(1).await.remove(&1));

    // More requests than one message answers, and than one poll of the stream starts.
    let requests: Vec<(u64, RequestCmd)> = (0..3000u64)
        .map(|id| {
            let cmd = if id % 3 == 0 {
                empty(id)
            } else {
                raw_get(&context, b"batch/large")
            };
            (id, cmd)
        })
        .collect();
    stream.send(requests).await;
    let answers = stream.answers(3000).await;
    for (id, answer) in answers {
        match answer {
            ResponseCmd::Empty(empty) => assert_eq!(empty.test_id, id),
            ResponseCmd::RawGet(get) => {
                assert!(id % 3 != 0, "a RawGet answer under {id}");
                assert_eq!(get.value, b"value", "answer to {id}");
            }
            other => panic!("unexpected answer under {id}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_ids_end_the_stream_with_invalid_argument() {
    let server = start_server().await;
    let mut stream = Stream::open(&server.addrs).await;
    stream
        .requests
        .send(tikvpb::BatchCommandsRequest {
            requests: vec![
                batch_commands_request::Request {
                    cmd: Some(empty(1)),
                },
                batch_commands_request::Request {
                    cmd: Some(empty(2)),
                },
            ],
            request_ids: vec![1],
            ..Default::default()
        })
        .await
        .expect("the stream is open");
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, stream.responses.message())
        .await
        .expect("an answer arrives in time");
    match answer {
        Err(status) => assert_eq!(status.code(), Code::InvalidArgument, "{status}"),
        Ok(message) => panic!("expected an error status, got {message:?}"),
    }
}
