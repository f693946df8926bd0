//! End-to-end tests: a real `basalt-server` process driven by the official `tikv-client` crate
//! (and, where the client offers no handle, by raw gRPC calls with Basalt's own protos).

mod common;

use std::time::Duration;

use basalt_proto::{kvrpcpb, tikvpb};
use common::{client_config, kv_client, memcomparable, region_context, txn_client, ServerProcess};
use tikv_client::{CheckLevel, RawClient, TimestampExt, TransactionOptions};

async fn raw_client(server: &ServerProcess) -> RawClient {
    RawClient::new_with_config(vec![server.pd.clone()], client_config())
        .await
        .expect("raw client")
}

fn optimistic() -> TransactionOptions {
    TransactionOptions::new_optimistic().drop_check(CheckLevel::Warn)
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_kv_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = raw_client(&server).await;

    client.put("k1".to_owned(), "v1".to_owned()).await.unwrap();
    assert_eq!(
        client.get("k1".to_owned()).await.unwrap(),
        Some(b"v1".to_vec())
    );
    assert_eq!(client.get("missing".to_owned()).await.unwrap(), None);

    let pairs: Vec<(String, String)> = (0..10)
        .map(|i| (format!("r{i:02}"), format!("value{i}")))
        .collect();
    client.batch_put(pairs.clone()).await.unwrap();
    let got = client
        .batch_get(vec!["r03".to_owned(), "r07".to_owned(), "nope".to_owned()])
        .await
        .unwrap();
    let mut got: Vec<(Vec<u8>, Vec<u8>)> = got
        .into_iter()
        .map(|pair| (Vec::<u8>::from(pair.key().clone()), pair.value().clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (b"r03".to_vec(), b"value3".to_vec()),
            (b"r07".to_vec(), b"value7".to_vec())
        ]
    );

    // tikv-client 0.4 keeps scanning a region whose end key is empty until the limit is
    // filled, so every scan here asks for at most what exists.
    let scanned = client
        .scan("r00".to_owned().."r99".to_owned(), 10)
        .await
        .unwrap();
    let keys: Vec<Vec<u8>> = scanned
        .iter()
        .map(|pair| Vec::<u8>::from(pair.key().clone()))
        .collect();
    assert_eq!(
        keys,
        (0..10)
            .map(|i| format!("r{i:02}").into_bytes())
            .collect::<Vec<_>>()
    );
    let first_three = client.scan("r00".to_owned().., 3).await.unwrap();
    assert_eq!(first_three.len(), 3);
    assert_eq!(
        Vec::<u8>::from(first_three[2].key().clone()),
        b"r02".to_vec()
    );

    client
        .delete_range("r02".to_owned().."r08".to_owned())
        .await
        .unwrap();
    let left = client
        .scan("r00".to_owned().."r99".to_owned(), 4)
        .await
        .unwrap();
    let keys: Vec<Vec<u8>> = left
        .iter()
        .map(|pair| Vec::<u8>::from(pair.key().clone()))
        .collect();
    assert_eq!(
        keys,
        vec![
            b"r00".to_vec(),
            b"r01".to_vec(),
            b"r08".to_vec(),
            b"r09".to_vec()
        ]
    );

    client.delete("k1".to_owned()).await.unwrap();
    assert_eq!(client.get("k1".to_owned()).await.unwrap(), None);
    client
        .batch_delete(vec!["r00".to_owned(), "r01".to_owned()])
        .await
        .unwrap();
    assert_eq!(client.get("r00".to_owned()).await.unwrap(), None);
    assert_eq!(
        client.get("r08".to_owned()).await.unwrap(),
        Some(b"value8".to_vec())
    );

    // Compare-and-swap.
    let cas = client.with_atomic_for_cas();
    let (previous, swapped) = cas
        .compare_and_swap("cas".to_owned(), None, "one".to_owned())
        .await
        .unwrap();
    assert_eq!((previous, swapped), (None, true));
    let (previous, swapped) = cas
        .compare_and_swap("cas".to_owned(), None, "two".to_owned())
        .await
        .unwrap();
    assert_eq!((previous, swapped), (Some(b"one".to_vec()), false));
    let (_, swapped) = cas
        .compare_and_swap("cas".to_owned(), Some(b"one".to_vec()), "two".to_owned())
        .await
        .unwrap();
    assert!(swapped);
    assert_eq!(
        cas.get("cas".to_owned()).await.unwrap(),
        Some(b"two".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn optimistic_transactions_and_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = txn_client(&server).await;

    let mut txn = client.begin_with_options(optimistic()).await.unwrap();
    txn.put("a".to_owned(), "1".to_owned()).await.unwrap();
    txn.put("b".to_owned(), vec![7u8; 1000]).await.unwrap();
    txn.put("c".to_owned(), "3".to_owned()).await.unwrap();
    txn.commit().await.unwrap();

    let mut reader = client.begin_with_options(optimistic()).await.unwrap();
    assert_eq!(
        reader.get("a".to_owned()).await.unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(
        reader.get("b".to_owned()).await.unwrap(),
        Some(vec![7u8; 1000])
    );
    let scanned: Vec<Vec<u8>> = reader
        .scan("a".to_owned().."z".to_owned(), 10)
        .await
        .unwrap()
        .map(|pair| Vec::<u8>::from(pair.key().clone()))
        .collect();
    assert_eq!(scanned, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    reader.rollback().await.unwrap();

    // Two clients write the same key from overlapping transactions: exactly one wins.
    let other = txn_client(&server).await;
    let mut first = client.begin_with_options(optimistic()).await.unwrap();
    let mut second = other.begin_with_options(optimistic()).await.unwrap();
    first
        .put("contended".to_owned(), "first".to_owned())
        .await
        .unwrap();
    second
        .put("contended".to_owned(), "second".to_owned())
        .await
        .unwrap();
    let first_result = first.commit().await;
    let second_result = second.commit().await;
    assert!(first_result.is_ok(), "{first_result:?}");
    assert!(
        second_result.is_err(),
        "the later committer must fail: {second_result:?}"
    );
    let mut check = client.begin_with_options(optimistic()).await.unwrap();
    assert_eq!(
        check.get("contended".to_owned()).await.unwrap(),
        Some(b"first".to_vec())
    );

    // A transaction sees a snapshot: a commit after its start is invisible to it.
    let mut old_reader = client.begin_with_options(optimistic()).await.unwrap();
    let mut writer = client.begin_with_options(optimistic()).await.unwrap();
    writer
        .put("a".to_owned(), "changed".to_owned())
        .await
        .unwrap();
    writer.commit().await.unwrap();
    assert_eq!(
        old_reader.get("a".to_owned()).await.unwrap(),
        Some(b"1".to_vec())
    );
    old_reader.rollback().await.unwrap();

    // Insert of an existing key fails.
    let mut inserter = client.begin_with_options(optimistic()).await.unwrap();
    inserter
        .insert("a".to_owned(), "again".to_owned())
        .await
        .unwrap();
    assert!(inserter.commit().await.is_err());
    check.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn pessimistic_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = txn_client(&server).await;

    let mut setup = client.begin_with_options(optimistic()).await.unwrap();
    setup
        .put("counter".to_owned(), "10".to_owned())
        .await
        .unwrap();
    setup.commit().await.unwrap();

    let mut txn = client
        .begin_with_options(TransactionOptions::new_pessimistic().drop_check(CheckLevel::Warn))
        .await
        .unwrap();
    let value = txn.get_for_update("counter".to_owned()).await.unwrap();
    assert_eq!(value, Some(b"10".to_vec()));
    txn.put("counter".to_owned(), "11".to_owned())
        .await
        .unwrap();
    txn.lock_keys(vec!["guard".to_owned()]).await.unwrap();

    // While the pessimistic lock is held, an optimistic writer of the same key cannot commit
    // before it: its prewrite meets the lock.
    let mut rival = client
        .begin_with_options(optimistic().retry_options(tikv_client::RetryOptions::none()))
        .await
        .unwrap();
    rival
        .put("counter".to_owned(), "99".to_owned())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert!(
        rival.commit().await.is_err(),
        "the rival started before the commit and must conflict"
    );

    let mut reader = client.begin_with_options(optimistic()).await.unwrap();
    assert_eq!(
        reader.get("counter".to_owned()).await.unwrap(),
        Some(b"11".to_vec())
    );
    assert_eq!(reader.get("guard".to_owned()).await.unwrap(), None);
    reader.rollback().await.unwrap();

    // A pessimistic transaction that rolls back leaves nothing behind.
    let mut abandoned = client
        .begin_with_options(TransactionOptions::new_pessimistic().drop_check(CheckLevel::Warn))
        .await
        .unwrap();
    abandoned
        .get_for_update("counter".to_owned())
        .await
        .unwrap();
    abandoned
        .put("counter".to_owned(), "12".to_owned())
        .await
        .unwrap();
    abandoned.rollback().await.unwrap();
    let mut next = client
        .begin_with_options(TransactionOptions::new_pessimistic().drop_check(CheckLevel::Warn))
        .await
        .unwrap();
    assert_eq!(
        next.get_for_update("counter".to_owned()).await.unwrap(),
        Some(b"11".to_vec())
    );
    next.put("counter".to_owned(), "13".to_owned())
        .await
        .unwrap();
    next.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn async_commit_and_one_pc() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = txn_client(&server).await;

    let mut txn = client
        .begin_with_options(optimistic().use_async_commit())
        .await
        .unwrap();
    for i in 0..5 {
        txn.put(format!("async{i}"), format!("v{i}")).await.unwrap();
    }
    let commit_ts = txn.commit().await.unwrap().expect("commit ts");
    assert!(commit_ts.version() > txn.start_timestamp().version());

    let mut txn = client
        .begin_with_options(optimistic().try_one_pc())
        .await
        .unwrap();
    txn.put("onepc".to_owned(), "single".to_owned())
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let mut reader = client.begin_with_options(optimistic()).await.unwrap();
    for i in 0..5 {
        assert_eq!(
            reader.get(format!("async{i}")).await.unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
    assert_eq!(
        reader.get("onepc".to_owned()).await.unwrap(),
        Some(b"single".to_vec())
    );
    reader.rollback().await.unwrap();

    // No locks are left behind by either.
    let ts = client.current_timestamp().await.unwrap();
    let locks = client.scan_locks(&ts, vec![].., 100).await.unwrap();
    assert!(locks.is_empty(), "{locks:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn abandoned_locks_are_resolved_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = txn_client(&server).await;

    let mut setup = client.begin_with_options(optimistic()).await.unwrap();
    setup
        .put("dead".to_owned(), "old".to_owned())
        .await
        .unwrap();
    setup
        .put("half-primary".to_owned(), "old".to_owned())
        .await
        .unwrap();
    setup
        .put("half-secondary".to_owned(), "old".to_owned())
        .await
        .unwrap();
    setup.commit().await.unwrap();

    // A writer prewrites and dies: nothing commits it and its TTL is short.
    let mut kv = kv_client(&server).await;
    let context = region_context(&server, b"").await;
    let start = client.current_timestamp().await.unwrap().version();
    let prewrite = kvrpcpb::PrewriteRequest {
        context: Some(context.clone()),
        mutations: vec![kvrpcpb::Mutation {
            op: kvrpcpb::Op::Put as i32,
            key: b"dead".to_vec(),
            value: b"never".to_vec(),
            ..Default::default()
        }],
        primary_lock: b"dead".to_vec(),
        start_version: start,
        lock_ttl: 50,
        ..Default::default()
    };
    let response = kv.kv_prewrite(prewrite).await.unwrap().into_inner();
    assert!(
        response.errors.is_empty() && response.region_error.is_none(),
        "{response:?}"
    );

    // Another dies after committing its primary but before its secondary.
    let start2 = client.current_timestamp().await.unwrap().version();
    let prewrite = kvrpcpb::PrewriteRequest {
        context: Some(context.clone()),
        mutations: vec![
            kvrpcpb::Mutation {
                op: kvrpcpb::Op::Put as i32,
                key: b"half-primary".to_vec(),
                value: b"new".to_vec(),
                ..Default::default()
            },
            kvrpcpb::Mutation {
                op: kvrpcpb::Op::Put as i32,
                key: b"half-secondary".to_vec(),
                value: b"new".to_vec(),
                ..Default::default()
            },
        ],
        primary_lock: b"half-primary".to_vec(),
        start_version: start2,
        lock_ttl: 50,
        ..Default::default()
    };
    assert!(kv
        .kv_prewrite(prewrite)
        .await
        .unwrap()
        .into_inner()
        .errors
        .is_empty());
    let commit_ts = client.current_timestamp().await.unwrap().version();
    let commit = kvrpcpb::CommitRequest {
        context: Some(context.clone()),
        start_version: start2,
        keys: vec![b"half-primary".to_vec()],
        commit_version: commit_ts,
        ..Default::default()
    };
    let response = kv.kv_commit(commit).await.unwrap().into_inner();
    assert!(response.error.is_none(), "{response:?}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut reader = client.begin_with_options(optimistic()).await.unwrap();
    assert_eq!(
        reader.get("dead".to_owned()).await.unwrap(),
        Some(b"old".to_vec())
    );
    assert_eq!(
        reader.get("half-secondary".to_owned()).await.unwrap(),
        Some(b"new".to_vec())
    );
    reader.rollback().await.unwrap();

    // The dead writer cannot come back and commit.
    let commit = kvrpcpb::CommitRequest {
        context: Some(context),
        start_version: start,
        keys: vec![b"dead".to_vec()],
        commit_version: client.current_timestamp().await.unwrap().version(),
        ..Default::default()
    };
    let response = kv.kv_commit(commit).await.unwrap().into_inner();
    assert!(
        response.error.is_some(),
        "committing a rolled-back transaction must fail"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_kill_nine() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    {
        let raw = raw_client(&server).await;
        let txn = txn_client(&server).await;
        for i in 0..50 {
            raw.put(format!("raw{i:03}"), format!("v{i}"))
                .await
                .unwrap();
        }
        let mut t = txn.begin_with_options(optimistic()).await.unwrap();
        for i in 0..50 {
            t.put(format!("txn{i:03}"), format!("v{i}")).await.unwrap();
        }
        t.commit().await.unwrap();
    }
    let data_dir = server.kill();
    let server = ServerProcess::start(&data_dir);
    let raw = raw_client(&server).await;
    let txn = txn_client(&server).await;
    for i in 0..50 {
        assert_eq!(
            raw.get(format!("raw{i:03}")).await.unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
    let mut reader = txn.begin_with_options(optimistic()).await.unwrap();
    for i in 0..50 {
        assert_eq!(
            reader.get(format!("txn{i:03}")).await.unwrap(),
            Some(format!("v{i}").into_bytes())
        );
    }
    // Timestamps keep increasing across the restart.
    let after = txn.current_timestamp().await.unwrap().version();
    assert!(after > reader.start_timestamp().version() - 1);
    reader.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_commands_stream_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let context = region_context(&server, b"").await;
    let mut kv = kv_client(&server).await;

    use tikvpb::batch_commands_request::request::Cmd;
    let requests = vec![
        tikvpb::batch_commands_request::Request {
            cmd: Some(Cmd::RawPut(Box::new(kvrpcpb::RawPutRequest {
                context: Some(context.clone()),
                key: b"bk".to_vec(),
                value: b"bv".to_vec(),
                ..Default::default()
            }))),
        },
        tikvpb::batch_commands_request::Request {
            cmd: Some(Cmd::Empty(Box::new(tikvpb::BatchCommandsEmptyRequest {
                test_id: 42,
                ..Default::default()
            }))),
        },
    ];
    let batch = tikvpb::BatchCommandsRequest {
        requests,
        request_ids: vec![1, 2],
        ..Default::default()
    };
    let mut responses = kv
        .batch_commands(futures::stream::iter(vec![batch]))
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(10), responses.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        for (id, response) in message.request_ids.iter().zip(message.responses) {
            seen.push((*id, response.cmd));
        }
    }
    seen.sort_by_key(|(id, _)| *id);
    use tikvpb::batch_commands_response::response::Cmd as Out;
    assert!(
        matches!(&seen[0].1, Some(Out::RawPut(r)) if r.error.is_empty() && r.region_error.is_none())
    );
    assert!(matches!(&seen[1].1, Some(Out::Empty(r)) if r.test_id == 42));
    let got = kv
        .raw_get(kvrpcpb::RawGetRequest {
            context: Some(context.clone()),
            key: b"bk".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.value, b"bv".to_vec());

    // Wrong region id: RegionNotFound. Stale epoch: EpochNotMatch with the current region.
    let mut wrong = context.clone();
    wrong.region_id += 1000;
    let got = kv
        .kv_get(kvrpcpb::GetRequest {
            context: Some(wrong),
            key: b"bk".to_vec(),
            version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        got.region_error
            .as_ref()
            .and_then(|e| e.region_not_found.as_ref())
            .is_some(),
        "{got:?}"
    );
    let mut stale = context.clone();
    if let Some(epoch) = stale.region_epoch.as_mut() {
        epoch.version += 5;
    }
    let got = kv
        .kv_get(kvrpcpb::GetRequest {
            context: Some(stale),
            key: b"bk".to_vec(),
            version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let epoch = got
        .region_error
        .and_then(|e| e.epoch_not_match)
        .expect("epoch not match");
    // The region itself first, then its neighbour: "bk" lies in the first region, which ends
    // where the API V2 raw keyspace region starts.
    assert_eq!(epoch.current_regions.len(), 2);
    assert_eq!(epoch.current_regions[0].id, context.region_id);
    assert_eq!(
        epoch.current_regions[1].start_key,
        epoch.current_regions[0].end_key
    );

    // Empty keys and start_ts >= commit_ts are rejected with key errors.
    let got = kv
        .kv_get(kvrpcpb::GetRequest {
            context: Some(context.clone()),
            key: Vec::new(),
            version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(got.error.is_some());
    let got = kv
        .kv_commit(kvrpcpb::CommitRequest {
            context: Some(context.clone()),
            start_version: 10,
            keys: vec![b"k".to_vec()],
            commit_version: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(got.error.is_some());
    // Absurd limits get an error, not an allocation.
    let got = kv
        .raw_scan(kvrpcpb::RawScanRequest {
            context: Some(context.clone()),
            start_key: b"a".to_vec(),
            limit: u32::MAX,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // As upstream, the error travels as the only pair, with a `KeyError`.
    assert!(got.region_error.is_none());
    assert_eq!(got.kvs.len(), 1, "{got:?}");
    let abort = got.kvs[0].error.as_ref().map(|e| e.abort.clone());
    assert!(abort.is_some_and(|m| m.contains("limit")), "{got:?}");

    // Malformed protobuf bytes: a gRPC status, and the server keeps serving.
    let status = send_garbage(
        &server.kv,
        "/tikvpb.Tikv/KvGet",
        vec![0xFF, 0xFF, 0xFF, 0x0F, 0x01],
    )
    .await;
    assert!(status.is_err(), "garbage must be refused");
    let status = send_garbage(&server.kv, "/tikvpb.Tikv/NoSuchMethod", vec![]).await;
    assert_eq!(
        status.err().map(|s| s.code()),
        Some(tonic::Code::Unimplemented)
    );
    let got = kv
        .raw_get(kvrpcpb::RawGetRequest {
            context: Some(context),
            key: b"bk".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.value, b"bv".to_vec());
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_endpoint_counts_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = raw_client(&server).await;
    client.put("m".to_owned(), "1".to_owned()).await.unwrap();
    client.get("m".to_owned()).await.unwrap();
    let body = http_get(&server.status, "/metrics").await;
    let line = body
        .lines()
        .find(|line| {
            line.starts_with("basalt_grpc_requests_total")
                && line.contains("method=\"raw_put\"")
                && line.contains("result=\"ok\"")
        })
        .unwrap_or_else(|| panic!("no raw_put counter in:\n{body}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{line}");
    assert!(body.contains("basalt_grpc_request_duration_seconds_bucket"));
    assert!(http_get(&server.status, "/nope")
        .await
        .starts_with("HTTP/1.1 404"));
}

/// A minimal HTTP/1.1 GET returning the whole response text.
async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// Sends `payload` as the body of a unary gRPC call to `path`, bypassing protobuf encoding.
async fn send_garbage(
    addr: &str,
    path: &'static str,
    payload: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(payload), path, RawCodec)
        .await
        .map(|response| response.into_inner())
}

#[derive(Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        buffer: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        buffer.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        buffer: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let mut out = vec![0u8; buffer.remaining()];
        buffer.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_v2_keyspace_regions_ttl_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());

    // The default keyspace's raw and transactional ranges are regions of their own.
    let body = http_get(&server.pd, "/pd/api/v1/regions").await;
    assert!(body.contains("\"count\":5"), "{body}");
    assert!(body.contains("\"7200000000000000FB\""), "{body}");

    // tikv-client in API V2: TTLs round-trip and V1 data is not visible through the keyspace.
    let config = client_config().with_default_keyspace();
    let v2 = RawClient::new_with_config(vec![server.pd.clone()], config)
        .await
        .unwrap();
    v2.put_with_ttl(b"t".to_vec(), b"1".to_vec(), 60)
        .await
        .unwrap();
    let ttl = v2.get_key_ttl_secs(b"t".to_vec()).await.unwrap();
    assert!(
        matches!(ttl, Some(left) if left > 50 && left <= 60),
        "{ttl:?}"
    );
    let v1 = raw_client(&server).await;
    v1.put(b"t".to_vec(), b"v1".to_vec()).await.unwrap();
    assert_eq!(v2.get(b"t".to_vec()).await.unwrap(), Some(b"1".to_vec()));
    assert_eq!(v1.get(b"t".to_vec()).await.unwrap(), Some(b"v1".to_vec()));

    // Straight gRPC: a V2 raw request whose key lacks the `r` prefix, and a V1 request asking
    // for a TTL, are refused with an error message; a V2 key outside the addressed region is a
    // region error.
    let mut kv = kv_client(&server).await;
    let mut context = region_context(&server, &memcomparable(b"r\0\0\0k")).await;
    context.api_version = kvrpcpb::ApiVersion::V2 as i32;
    let got = kv
        .raw_put(kvrpcpb::RawPutRequest {
            context: Some(context.clone()),
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(got.error.contains("key mode"), "{got:?}");
    let got = kv
        .raw_get(kvrpcpb::RawGetRequest {
            context: Some(context.clone()),
            key: b"r\0\0\x05k".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        got.region_error
            .as_ref()
            .is_some_and(|e| e.key_not_in_region.is_some()),
        "{got:?}"
    );
    let mut v1_context = region_context(&server, b"k").await;
    v1_context.api_version = kvrpcpb::ApiVersion::V1 as i32;
    let got = kv
        .raw_put(kvrpcpb::RawPutRequest {
            context: Some(v1_context),
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ttl: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(got.error.contains("TTL"), "{got:?}");
}
