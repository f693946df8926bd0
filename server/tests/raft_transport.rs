//! `RaftClient` against real `TikvService`s on localhost: messages and snapshots arrive whole
//! and in order, what cannot be delivered is reported, the client reconnects to a store that
//! came back elsewhere, and dropping the client ends its tasks. A "store" here is the KV service
//! with a sink collecting what its raft RPCs receive, on a runtime of its own so that a test
//! can crash it (every socket closes at once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use basalt_proto::raft_serverpb::RaftMessage;
use basalt_proto::tikvpb::tikv_server::TikvServer;
use basalt_proto::{eraftpb, metapb};
use basalt_raftstore::{DeliveryReport, Transport};
use basalt_server::raft_client::{RaftClient, RaftClientConfig, StoreResolver};
use basalt_server::service::{KvHandlers, RaftMessageSink, TikvService};
use basalt_storage::engine::MemoryEngine;
use basalt_storage::{ConcurrencyManager, LocalEngine, Storage};
use parking_lot::Mutex;
use tokio_stream::wrappers::TcpListenerStream;

/// Keeps every message a store's raft RPCs deliver.
#[derive(Clone, Default)]
struct Sink {
    messages: Arc<Mutex<Vec<RaftMessage>>>,
}

impl RaftMessageSink for Sink {
    fn send_raft_message(&self, message: RaftMessage) -> basalt_storage::Result<()> {
        self.messages.lock().push(message);
        Ok(())
    }
}

impl Sink {
    fn region_ids(&self) -> Vec<u64> {
        self.messages.lock().iter().map(|m| m.region_id).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Report {
    Unreachable {
        region_id: u64,
        to_peer_id: u64,
    },
    Snapshot {
        region_id: u64,
        to_peer_id: u64,
        ok: bool,
    },
}

/// Keeps every delivery report.
#[derive(Clone, Default)]
struct Reports {
    reports: Arc<Mutex<Vec<Report>>>,
}

impl DeliveryReport for Reports {
    fn report_unreachable(&self, region_id: u64, to_peer_id: u64) {
        self.reports.lock().push(Report::Unreachable {
            region_id,
            to_peer_id,
        });
    }

    fn report_snapshot(&self, region_id: u64, to_peer_id: u64, ok: bool) {
        self.reports.lock().push(Report::Snapshot {
            region_id,
            to_peer_id,
            ok,
        });
    }
}

impl Reports {
    fn sorted(&self) -> Vec<Report> {
        let mut reports = self.reports.lock().clone();
        reports.sort();
        reports
    }

    fn contains(&self, report: &Report) -> bool {
        self.reports.lock().contains(report)
    }
}

/// Addresses from a map the test edits; counts resolves and invalidations.
#[derive(Clone, Default)]
struct Resolver {
    addresses: Arc<Mutex<HashMap<u64, String>>>,
    resolves: Arc<AtomicUsize>,
    invalidations: Arc<AtomicUsize>,
}

impl StoreResolver for Resolver {
    async fn resolve(&self, store_id: u64) -> basalt_server::Result<String> {
        self.resolves.fetch_add(1, Ordering::SeqCst);
        let address = self.addresses.lock().get(&store_id).cloned();
        address.ok_or_else(|| basalt_server::Error::Pd(format!("no store {store_id}")))
    }

    fn invalidate(&self, _store_id: u64) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
    }
}

impl Resolver {
    fn with(self, store_id: u64, address: &str) -> Self {
        self.addresses.lock().insert(store_id, address.to_string());
        self
    }
}

/// A resolver that never answers.
#[derive(Clone)]
struct SilentResolver;

impl StoreResolver for SilentResolver {
    async fn resolve(&self, _store_id: u64) -> basalt_server::Result<String> {
        futures::future::pending().await
    }
}

struct TestStore {
    address: String,
    sink: Sink,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestStore {
    /// A store serving the raft RPCs, or (`with_raft` false) one answering them unimplemented.
    fn start(with_raft: bool) -> TestStore {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("store runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("address").to_string();
        let sink = Sink::default();
        let engine = LocalEngine::new(MemoryEngine::new(), 1, Vec::new(), false);
        let service = TikvService::new(KvHandlers::new(Storage::new(
            engine,
            ConcurrencyManager::new(1),
        )));
        let service = if with_raft {
            service.with_raft_sink(sink.clone())
        } else {
            service
        };
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let server = TikvServer::new(service)
                .max_decoding_message_size(128 << 20)
                .max_encoding_message_size(128 << 20);
            let _ = tonic::transport::Server::builder()
                .add_service(server)
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
        });
        TestStore {
            address,
            sink,
            runtime: Some(runtime),
        }
    }

    /// Stops the store at once, closing every connection.
    fn crash(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        self.crash();
    }
}

fn message(region_id: u64, store_id: u64) -> RaftMessage {
    RaftMessage {
        region_id,
        from_peer: Some(metapb::Peer {
            id: region_id * 10,
            store_id: 1,
            ..Default::default()
        }),
        to_peer: Some(metapb::Peer {
            id: region_id * 10 + 1,
            store_id,
            ..Default::default()
        }),
        message: Some(eraftpb::Message {
            msg_type: eraftpb::MessageType::MsgAppend as i32,
            index: region_id,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn snapshot(region_id: u64, store_id: u64, data: Vec<u8>) -> RaftMessage {
    let mut message = message(region_id, store_id);
    if let Some(raft) = message.message.as_mut() {
        raft.msg_type = eraftpb::MessageType::MsgSnapshot as i32;
        raft.snapshot = Some(eraftpb::Snapshot {
            data,
            metadata: Some(eraftpb::SnapshotMetadata {
                index: 5,
                term: 2,
                ..Default::default()
            }),
        });
    }
    message
}

fn unreachable(region_id: u64) -> Report {
    Report::Unreachable {
        region_id,
        to_peer_id: region_id * 10 + 1,
    }
}

fn snapshot_report(region_id: u64, ok: bool) -> Report {
    Report::Snapshot {
        region_id,
        to_peer_id: region_id * 10 + 1,
        ok,
    }
}

/// Waits (at most 10 s) until `condition` holds.
async fn must_wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A port nothing listens on.
fn closed_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").to_string()
}

#[tokio::test]
async fn messages_reach_the_store_in_order() {
    let store = TestStore::start(true);
    let reports = Reports::default();
    let client = RaftClient::new(Resolver::default().with(2, &store.address), reports.clone());
    for region_id in 1..=2000 {
        client.send(message(region_id, 2));
    }
    must_wait_until("every message arrived", || {
        store.sink.messages.lock().len() >= 2000
    })
    .await;
    assert_eq!(store.sink.region_ids(), (1..=2000).collect::<Vec<_>>());
    assert_eq!(
        *store.sink.messages.lock().last().expect("some"),
        message(2000, 2)
    );
    assert!(reports.sorted().is_empty(), "{:?}", reports.sorted());
}

#[tokio::test]
async fn messages_to_several_stores_each_reach_theirs() {
    let stores = [TestStore::start(true), TestStore::start(true)];
    let resolver = Resolver::default()
        .with(2, &stores[0].address)
        .with(3, &stores[1].address);
    let client = RaftClient::new(resolver, Reports::default());
    for region_id in 1..=100 {
        client.send(message(region_id, 2 + region_id % 2));
    }
    for (store, parity) in stores.iter().zip([0, 1]) {
        must_wait_until("the store's messages arrived", || {
            store.sink.messages.lock().len() >= 50
        })
        .await;
        let expected: Vec<u64> = (1..=100).filter(|id| id % 2 == parity).collect();
        assert_eq!(store.sink.region_ids(), expected);
    }
}

#[tokio::test]
async fn a_snapshot_goes_in_chunks_and_is_reported() {
    let store = TestStore::start(true);
    let reports = Reports::default();
    let client = RaftClient::new(Resolver::default().with(2, &store.address), reports.clone());
    let data: Vec<u8> = (0..(5 << 19) + 1).map(|i| (i % 251) as u8).collect();
    let sent = snapshot(7, 2, data);
    client.send(message(1, 2));
    client.send(sent.clone());
    client.send(message(2, 2));
    must_wait_until("the snapshot was reported", || {
        reports.contains(&snapshot_report(7, true))
    })
    .await;
    must_wait_until("every message arrived", || {
        store.sink.messages.lock().len() >= 3
    })
    .await;
    let received = store.sink.messages.lock().clone();
    assert!(received.contains(&sent), "the snapshot arrived whole");
    assert_eq!(reports.sorted(), [snapshot_report(7, true)]);
}

#[tokio::test]
async fn a_store_without_raft_fails_snapshots_and_messages() {
    let store = TestStore::start(false);
    let reports = Reports::default();
    let client = RaftClient::new(Resolver::default().with(2, &store.address), reports.clone());
    client.send(snapshot(7, 2, vec![1; 1000]));
    client.send(message(1, 2));
    must_wait_until("the snapshot failed", || {
        reports.contains(&snapshot_report(7, false))
    })
    .await;
    must_wait_until("the region was reported unreachable", || {
        reports.contains(&unreachable(1))
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_store_is_reported_once_per_region_per_failure() {
    let reports = Reports::default();
    let resolver = Resolver::default().with(2, &closed_address());
    let config = RaftClientConfig {
        // Long enough that the test runs inside the first failure.
        initial_backoff: Duration::from_secs(5),
        ..Default::default()
    };
    let client = RaftClient::with_config(
        resolver.clone(),
        reports.clone(),
        config,
        tokio::runtime::Handle::current(),
    );
    // Queued before the task first runs (the test runtime has one thread).
    client.send(message(1, 2));
    client.send(message(1, 2));
    client.send(message(2, 2));
    client.send(snapshot(3, 2, vec![1; 10]));
    must_wait_until("the failure was reported", || {
        reports.reports.lock().len() >= 4
    })
    .await;
    // Messages arriving while the client backs off are dropped and reported the same way.
    client.send(message(2, 2));
    client.send(message(4, 2));
    must_wait_until("the later drop was reported", || {
        reports.contains(&unreachable(4))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut expected = vec![
        unreachable(1),
        unreachable(2),
        unreachable(3),
        snapshot_report(3, false),
        unreachable(4),
    ];
    expected.sort();
    assert_eq!(reports.sorted(), expected);
    assert_eq!(resolver.invalidations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unknown_store_is_reported_unreachable() {
    let reports = Reports::default();
    let client = RaftClient::new(Resolver::default(), reports.clone());
    client.send(message(1, 9));
    must_wait_until("the region was reported unreachable", || {
        reports.contains(&unreachable(1))
    })
    .await;
}

#[tokio::test]
async fn a_full_queue_drops_and_reports_at_once() {
    let reports = Reports::default();
    let config = RaftClientConfig {
        queue_capacity: 2,
        connect_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let client = RaftClient::with_config(
        SilentResolver,
        reports.clone(),
        config,
        tokio::runtime::Handle::current(),
    );
    for region_id in 1..=4 {
        client.send(message(region_id, 2));
    }
    client.send(snapshot(5, 2, vec![1]));
    let mut expected = vec![
        unreachable(3),
        unreachable(4),
        unreachable(5),
        snapshot_report(5, false),
    ];
    expected.sort();
    assert_eq!(reports.sorted(), expected);
}

#[tokio::test]
async fn the_client_reconnects_to_a_store_that_moved() {
    let mut first = TestStore::start(true);
    let reports = Reports::default();
    let resolver = Resolver::default().with(2, &first.address);
    let client = RaftClient::new(resolver.clone(), reports.clone());
    client.send(message(1, 2));
    must_wait_until("the first message arrived", || {
        first.sink.messages.lock().len() == 1
    })
    .await;

    first.crash();
    must_wait_until("the region sent on the broken stream was reported", || {
        reports.contains(&unreachable(1))
    })
    .await;

    let second = TestStore::start(true);
    resolver.addresses.lock().insert(2, second.address.clone());
    // Messages sent while the client backs off are dropped: keep sending until one arrives.
    must_wait_until("a message reached the moved store", || {
        client.send(message(2, 2));
        !second.sink.messages.lock().is_empty()
    })
    .await;
    assert!(second.sink.region_ids().iter().all(|&id| id == 2));
    assert!(resolver.invalidations.load(Ordering::SeqCst) >= 1);
    assert!(resolver.resolves.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn dropping_the_client_ends_its_tasks() {
    let store = TestStore::start(true);
    let resolver = Resolver::default()
        .with(2, &store.address)
        .with(3, &closed_address());
    let held = || Arc::strong_count(&resolver.addresses);
    let client = RaftClient::new(resolver.clone(), Reports::default());
    let other = client.clone();
    client.send(message(1, 2));
    other.send(message(2, 3));
    must_wait_until("the message arrived", || {
        store.sink.messages.lock().len() == 1
    })
    .await;
    assert!(held() > 2, "the tasks hold the resolver");
    drop(client);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(held() > 2, "a clone keeps the tasks");
    drop(other);
    must_wait_until("every task ended", || held() == 1).await;
}
