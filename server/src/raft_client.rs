//! How raft messages leave this store: [`RaftClient`], the raft store's
//! `basalt_raftstore::Transport` over gRPC.
//!
//! `send` puts a message on the bounded queue of its destination store and returns; it never
//! waits for the network. One task per destination store owns that queue: it resolves the
//! store's address with a [`StoreResolver`], connects, and forwards the queue on one `BatchRaft`
//! stream, batching whatever is already queued. Snapshot messages go by the `Snapshot` RPC
//! instead, in chunks, and their outcome is reported to the raft store.
//!
//! Delivery is best effort, as Raft expects (it retransmits): what cannot be delivered is
//! dropped and reported, so that the leader probes the peer again instead of waiting on it.
//!
//! - A full queue drops the message in `send` and reports the peer unreachable.
//! - A connection that cannot be made or breaks reports unreachable every region whose messages
//!   were lost with it: those sent on the broken stream (any of them may still have been in
//!   flight), those queued, and those arriving while the task backs off (100 ms, doubling to
//!   2 s) before it resolves the address again and reconnects. Each region is reported at most
//!   once per failure.
//! - A snapshot message that is dropped, or whose RPC fails, is reported as a failed snapshot.
//!
//! Dropping every clone of the client closes the queues, and the tasks end.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use basalt_proto::eraftpb::MessageType;
use basalt_proto::raft_serverpb::{Done, RaftMessage};
use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::tikvpb::BatchRaftMessage;
use basalt_raftstore::{DeliveryReport, Transport};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use parking_lot::Mutex;
use prost::Message as _;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

use crate::error::Result;
use crate::service::snapshot_chunks::{split_snapshot, SNAPSHOT_CHUNK_BYTES};

/// Finds the address (`host:port`, or a URL) at which a store serves raft messages.
pub trait StoreResolver: Clone + Send + Sync + 'static {
    /// The address of `store_id`.
    fn resolve(&self, store_id: u64) -> impl Future<Output = Result<String>> + Send;

    /// A connection to `store_id` failed: forget whatever was remembered about its address, so
    /// that the next `resolve` asks afresh. Does nothing by default.
    fn invalidate(&self, _store_id: u64) {}
}

/// Tuning of a [`RaftClient`]. `Default` gives the values below.
#[derive(Debug, Clone)]
pub struct RaftClientConfig {
    /// Messages waiting per destination store before `send` drops them: 4096.
    pub queue_capacity: usize,
    /// Messages per `BatchRaftMessage`: 128.
    pub max_batch_messages: usize,
    /// Encoded bytes per `BatchRaftMessage` beyond its first message: 10 MiB (TiKV's
    /// `max-grpc-send-msg-len`).
    pub max_batch_bytes: usize,
    /// The largest gRPC message sent or received: 128 MiB.
    pub max_grpc_message_bytes: usize,
    /// Snapshot data per `SnapshotChunk`: 1 MiB.
    pub snapshot_chunk_bytes: usize,
    /// The first wait before reconnecting: 100 ms. It doubles with every failure in a row.
    pub initial_backoff: Duration,
    /// The longest wait before reconnecting: 2 s.
    pub max_backoff: Duration,
    /// How long resolving the address, and then connecting, may take each: 5 s.
    pub connect_timeout: Duration,
    /// How often an HTTP/2 ping checks that the connection is alive: 10 s.
    pub keep_alive_interval: Duration,
    /// How long a ping may stay unanswered before the connection counts as broken: 3 s.
    pub keep_alive_timeout: Duration,
}

impl Default for RaftClientConfig {
    fn default() -> Self {
        RaftClientConfig {
            queue_capacity: 4096,
            max_batch_messages: 128,
            max_batch_bytes: 10 << 20,
            max_grpc_message_bytes: 128 << 20,
            snapshot_chunk_bytes: SNAPSHOT_CHUNK_BYTES,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            keep_alive_interval: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(3),
        }
    }
}

/// Batches that may wait between the forwarding task and the gRPC stream; beyond this,
/// messages wait in the store's queue, where `send` sees it fill up.
const BATCHES_IN_FLIGHT: usize = 2;

/// How long a closing task waits for the receiver to acknowledge the end of its stream.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

type StartQueue = dyn Fn(u64) -> mpsc::Sender<RaftMessage> + Send + Sync;

/// Sends raft messages to other stores over gRPC; see the module documentation. Cheap to clone.
pub struct RaftClient<R: DeliveryReport> {
    shared: Arc<Shared<R>>,
}

struct Shared<R> {
    /// The queue of every destination store a message was sent to.
    queues: Mutex<HashMap<u64, mpsc::Sender<RaftMessage>>>,
    reporter: R,
    /// Makes a store's queue and spawns the task that forwards it.
    start_queue: Box<StartQueue>,
}

impl<R: DeliveryReport> Clone for RaftClient<R> {
    fn clone(&self) -> Self {
        RaftClient {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<R: DeliveryReport> RaftClient<R> {
    /// A client with the default configuration whose tasks run on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn new(resolver: impl StoreResolver, reporter: R) -> Self {
        Self::with_config(
            resolver,
            reporter,
            RaftClientConfig::default(),
            tokio::runtime::Handle::current(),
        )
    }

    /// A client whose per-store tasks run on `runtime`, finding stores with `resolver` and
    /// telling `reporter` what could not be delivered.
    pub fn with_config(
        resolver: impl StoreResolver,
        reporter: R,
        config: RaftClientConfig,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let task_reporter = reporter.clone();
        let start_queue = move |store_id: u64| {
            let (sender, receiver) = mpsc::channel(config.queue_capacity.max(1));
            let task = StoreSender {
                store_id,
                resolver: resolver.clone(),
                reporter: task_reporter.clone(),
                config: config.clone(),
                snapshots: FuturesUnordered::new(),
            };
            runtime.spawn(task.run(receiver));
            sender
        };
        RaftClient {
            shared: Arc::new(Shared {
                queues: Mutex::new(HashMap::new()),
                reporter,
                start_queue: Box::new(start_queue),
            }),
        }
    }
}

impl<R: DeliveryReport> Transport for RaftClient<R> {
    fn send(&self, message: RaftMessage) {
        let Some(store_id) = message
            .to_peer
            .as_ref()
            .map(|peer| peer.store_id)
            .filter(|&store_id| store_id != 0)
        else {
            tracing::warn!(
                region_id = message.region_id,
                "dropped a raft message without a destination store"
            );
            DroppedMessages::default().drop_message(&self.shared.reporter, &message);
            return;
        };
        let refused = {
            let mut queues = self.shared.queues.lock();
            let queue = queues
                .entry(store_id)
                .or_insert_with(|| (self.shared.start_queue)(store_id));
            match queue.try_send(message) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(message)) => Some(message),
                Err(mpsc::error::TrySendError::Closed(message)) => {
                    // The store's task is gone, which only a panic does: start another.
                    tracing::error!(store_id, "the raft sender of a store ended; restarting it");
                    let queue = (self.shared.start_queue)(store_id);
                    let refused = queue.try_send(message).err().map(|err| err.into_inner());
                    queues.insert(store_id, queue);
                    refused
                }
            }
        };
        if let Some(message) = refused {
            tracing::debug!(
                store_id,
                region_id = message.region_id,
                "the raft queue of a store is full; dropped a message"
            );
            DroppedMessages::default().drop_message(&self.shared.reporter, &message);
        }
    }
}

fn is_snapshot(message: &RaftMessage) -> bool {
    message
        .message
        .as_ref()
        .is_some_and(|raft| raft.msg_type == MessageType::MsgSnapshot as i32)
}

fn to_peer_id(message: &RaftMessage) -> u64 {
    message.to_peer.as_ref().map_or(0, |peer| peer.id)
}

/// The messages lost in one failure, reporting each region unreachable once.
#[derive(Default)]
struct DroppedMessages {
    regions: HashSet<u64>,
}

impl DroppedMessages {
    fn drop_region<R: DeliveryReport>(&mut self, reporter: &R, region_id: u64, to_peer_id: u64) {
        if self.regions.insert(region_id) {
            reporter.report_unreachable(region_id, to_peer_id);
        }
    }

    fn drop_message<R: DeliveryReport>(&mut self, reporter: &R, message: &RaftMessage) {
        let to_peer_id = to_peer_id(message);
        if is_snapshot(message) {
            reporter.report_snapshot(message.region_id, to_peer_id, false);
        }
        self.drop_region(reporter, message.region_id, to_peer_id);
    }
}

/// Reports the outcome of one snapshot exactly once: failed, unless `finish` says otherwise
/// before it is dropped.
struct SnapshotReport<R: DeliveryReport> {
    reporter: R,
    region_id: u64,
    to_peer_id: u64,
    pending: bool,
}

impl<R: DeliveryReport> SnapshotReport<R> {
    fn finish(mut self, ok: bool) {
        self.pending = false;
        self.reporter
            .report_snapshot(self.region_id, self.to_peer_id, ok);
    }
}

impl<R: DeliveryReport> Drop for SnapshotReport<R> {
    fn drop(&mut self) {
        if self.pending {
            self.reporter
                .report_snapshot(self.region_id, self.to_peer_id, false);
        }
    }
}

/// Why a connection to a store could not be made or broke.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("resolving the store's address: {0}")]
    Resolve(crate::Error),
    #[error("resolving the store's address timed out")]
    ResolveTimeout,
    #[error("the store's address {address:?} is not a URI: {source}")]
    Address {
        address: String,
        source: tonic::transport::Error,
    },
    #[error("connecting to {address}: {source}")]
    Connect {
        address: String,
        source: tonic::transport::Error,
    },
    #[error("the raft stream failed: {0}")]
    Stream(Status),
    #[error("the store closed the raft stream")]
    StreamClosed,
}

/// How forwarding on one connection ended.
enum Ended {
    /// Every client is gone and the queue is drained.
    Shutdown,
    /// The connection broke; `sent` holds the regions (and their peers) sent on it.
    Broken {
        error: ConnectionError,
        sent: HashMap<u64, u64>,
    },
}

type SnapshotSends = FuturesUnordered<Pin<Box<dyn Future<Output = ()> + Send>>>;

/// The task that owns one destination store's queue.
struct StoreSender<S, R: DeliveryReport> {
    store_id: u64,
    resolver: S,
    reporter: R,
    config: RaftClientConfig,
    /// Snapshots being sent; polled by the task alongside everything else.
    snapshots: SnapshotSends,
}

impl<S: StoreResolver, R: DeliveryReport> StoreSender<S, R> {
    async fn run(mut self, mut queue: mpsc::Receiver<RaftMessage>) {
        let store_id = self.store_id;
        let mut backoff = self.config.initial_backoff;
        let mut failures_in_row = 0u32;
        loop {
            let connecting = connect(store_id, &self.resolver, &self.config);
            let (error, sent) = match run_snapshots_while(&mut self.snapshots, connecting).await {
                Ok(client) => {
                    tracing::debug!(store_id, "raft connection established");
                    let connected_at = Instant::now();
                    match self.forward(client, &mut queue).await {
                        Ended::Shutdown => return,
                        Ended::Broken { error, sent } => {
                            // A connection that held up for a while starts the backoff over.
                            if connected_at.elapsed() >= self.config.max_backoff {
                                backoff = self.config.initial_backoff;
                                failures_in_row = 0;
                            }
                            (error, sent)
                        }
                    }
                }
                Err(error) => (error, HashMap::new()),
            };
            failures_in_row += 1;
            if failures_in_row == 1 {
                tracing::warn!(store_id, %error, "raft connection to a store failed; retrying");
            } else {
                tracing::debug!(store_id, %error, failures_in_row, "raft connection to a store failed again");
            }
            self.resolver.invalidate(store_id);

            let mut dropped = DroppedMessages::default();
            for (region_id, to_peer_id) in sent {
                dropped.drop_region(&self.reporter, region_id, to_peer_id);
            }
            let retry_at = Instant::now() + backoff;
            loop {
                tokio::select! {
                    biased;
                    _ = tokio::time::sleep_until(retry_at) => break,
                    Some(()) = self.snapshots.next(), if !self.snapshots.is_empty() => {}
                    message = queue.recv() => match message {
                        Some(message) => dropped.drop_message(&self.reporter, &message),
                        None => return,
                    },
                }
            }
            backoff = (backoff * 2).min(self.config.max_backoff);
        }
    }

    /// Forwards the queue on one `BatchRaft` stream of `client` until the stream breaks or every
    /// client is gone.
    async fn forward(
        &mut self,
        client: TikvClient<Channel>,
        queue: &mut mpsc::Receiver<RaftMessage>,
    ) -> Ended {
        let (batches, batch_stream) = mpsc::channel::<BatchRaftMessage>(BATCHES_IN_FLIGHT);
        let mut stream_client = client.clone();
        let call = async move {
            stream_client
                .batch_raft(ReceiverStream::new(batch_stream))
                .await
        };
        let mut call = std::pin::pin!(call);
        let mut sent = HashMap::new();
        // A message that did not fit in the last batch.
        let mut left_over = None;
        loop {
            // Room on the stream first, then a message: until there is room, messages wait in
            // the queue.
            let permit = loop {
                tokio::select! {
                    result = &mut call => return broken(result, sent),
                    Some(()) = self.snapshots.next(), if !self.snapshots.is_empty() => {}
                    permit = batches.reserve() => match permit {
                        Ok(permit) => break permit,
                        Err(_) => return Ended::Broken { error: ConnectionError::StreamClosed, sent },
                    },
                }
            };
            let first = if let Some(message) = left_over.take() {
                message
            } else {
                loop {
                    tokio::select! {
                        result = &mut call => return broken(result, sent),
                        Some(()) = self.snapshots.next(), if !self.snapshots.is_empty() => {}
                        message = queue.recv() => match message {
                            Some(message) => break message,
                            None => {
                                // Every client is gone: end the stream and let the receiver take
                                // what is in flight.
                                drop(permit);
                                drop(batches);
                                let _ = tokio::time::timeout(CLOSE_TIMEOUT, call).await;
                                return Ended::Shutdown;
                            }
                        },
                    }
                }
            };
            let batch = take_batch(first, queue, &self.config);
            for message in batch.snapshots {
                self.send_snapshot(&client, message);
            }
            for message in batch.too_large {
                tracing::warn!(
                    store_id = self.store_id,
                    region_id = message.region_id,
                    bytes = message.encoded_len(),
                    "dropped a raft message larger than a gRPC message may be"
                );
                DroppedMessages::default().drop_message(&self.reporter, &message);
            }
            for message in batch.messages.iter().chain(&batch.left_over) {
                sent.insert(message.region_id, to_peer_id(message));
            }
            left_over = batch.left_over;
            if !batch.messages.is_empty() {
                permit.send(BatchRaftMessage {
                    msgs: batch.messages,
                    last_observed_time: 0,
                });
            }
        }
    }

    /// Starts sending one snapshot message by the `Snapshot` RPC; the task polls it.
    fn send_snapshot(&mut self, client: &TikvClient<Channel>, message: RaftMessage) {
        let report = SnapshotReport {
            reporter: self.reporter.clone(),
            region_id: message.region_id,
            to_peer_id: to_peer_id(&message),
            pending: true,
        };
        let store_id = self.store_id;
        let chunks = split_snapshot(message, self.config.snapshot_chunk_bytes);
        let bytes = chunks.data_len();
        let mut client = client.clone();
        self.snapshots.push(Box::pin(async move {
            let result = client.snapshot(futures::stream::iter(chunks)).await;
            let (region_id, to_peer_id) = (report.region_id, report.to_peer_id);
            match result {
                Ok(_) => {
                    tracing::info!(store_id, region_id, to_peer_id, bytes, "sent a snapshot");
                    report.finish(true);
                }
                Err(status) => {
                    tracing::warn!(store_id, region_id, to_peer_id, bytes, %status, "sending a snapshot failed");
                    report.finish(false);
                }
            }
        }));
    }
}

/// One batch for the `BatchRaft` stream and what else came off the queue with it.
#[derive(Debug, Default)]
struct Batch {
    /// For the stream.
    messages: Vec<RaftMessage>,
    /// Snapshot messages, which go by the `Snapshot` RPC instead.
    snapshots: Vec<RaftMessage>,
    /// Messages no gRPC message can carry.
    too_large: Vec<RaftMessage>,
    /// The message that would have made the batch too large; it starts the next one.
    left_over: Option<RaftMessage>,
}

/// Takes `first` and what is already queued after it, up to `config.max_batch_messages`
/// messages and `config.max_batch_bytes` bytes for the stream (the first message always fits).
fn take_batch(
    first: RaftMessage,
    queue: &mut mpsc::Receiver<RaftMessage>,
    config: &RaftClientConfig,
) -> Batch {
    // What a message may take in a batch of its own: the batch's field tag and length prefix
    // take at most 11 bytes.
    let max_message_bytes = config.max_grpc_message_bytes.saturating_sub(11);
    let mut batch = Batch::default();
    let mut bytes = 0;
    let mut next = Some(first);
    while let Some(message) = next {
        if is_snapshot(&message) {
            batch.snapshots.push(message);
        } else {
            let size = message.encoded_len();
            if size > max_message_bytes {
                batch.too_large.push(message);
            } else if !batch.messages.is_empty() && bytes + size > config.max_batch_bytes {
                batch.left_over = Some(message);
                break;
            } else {
                bytes += size;
                batch.messages.push(message);
            }
        }
        next = if batch.messages.len() < config.max_batch_messages {
            queue.try_recv().ok()
        } else {
            None
        };
    }
    batch
}

fn broken(
    result: std::result::Result<tonic::Response<Done>, Status>,
    sent: HashMap<u64, u64>,
) -> Ended {
    let error = match result {
        Ok(_) => ConnectionError::StreamClosed,
        Err(status) => ConnectionError::Stream(status),
    };
    Ended::Broken { error, sent }
}

/// Awaits `future` while driving the snapshots being sent.
async fn run_snapshots_while<F: Future>(snapshots: &mut SnapshotSends, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    loop {
        tokio::select! {
            output = &mut future => return output,
            Some(()) = snapshots.next(), if !snapshots.is_empty() => {}
        }
    }
}

/// Resolves `store_id` and connects to it.
async fn connect<S: StoreResolver>(
    store_id: u64,
    resolver: &S,
    config: &RaftClientConfig,
) -> std::result::Result<TikvClient<Channel>, ConnectionError> {
    let address = tokio::time::timeout(config.connect_timeout, resolver.resolve(store_id))
        .await
        .map_err(|_| ConnectionError::ResolveTimeout)?
        .map_err(ConnectionError::Resolve)?;
    let uri = if address.contains("://") {
        address.clone()
    } else {
        format!("http://{address}")
    };
    let endpoint = Endpoint::from_shared(uri)
        .map_err(|source| ConnectionError::Address {
            address: address.clone(),
            source,
        })?
        .tcp_nodelay(true)
        .connect_timeout(config.connect_timeout)
        .http2_keep_alive_interval(config.keep_alive_interval)
        .keep_alive_timeout(config.keep_alive_timeout)
        .keep_alive_while_idle(true);
    let channel = endpoint
        .connect()
        .await
        .map_err(|source| ConnectionError::Connect { address, source })?;
    Ok(TikvClient::new(channel)
        .max_decoding_message_size(config.max_grpc_message_bytes)
        .max_encoding_message_size(config.max_grpc_message_bytes))
}

#[cfg(test)]
mod tests {
    use basalt_proto::eraftpb;

    use super::*;

    fn message(region_id: u64, msg_type: eraftpb::MessageType) -> RaftMessage {
        RaftMessage {
            region_id,
            message: Some(eraftpb::Message {
                msg_type: msg_type as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn region_ids(messages: &[RaftMessage]) -> Vec<u64> {
        messages.iter().map(|m| m.region_id).collect()
    }

    #[test]
    fn batches_take_what_is_queued_up_to_the_limit_and_leave_snapshots_out() {
        let (sender, mut queue) = mpsc::channel(16);
        for region_id in 2..=6 {
            let msg_type = if region_id % 2 == 0 {
                eraftpb::MessageType::MsgSnapshot
            } else {
                eraftpb::MessageType::MsgAppend
            };
            sender.try_send(message(region_id, msg_type)).expect("room");
        }
        let config = RaftClientConfig {
            max_batch_messages: 2,
            ..Default::default()
        };
        let first = message(1, eraftpb::MessageType::MsgHeartbeat);
        let batch = take_batch(first, &mut queue, &config);
        assert_eq!(region_ids(&batch.messages), [1, 3]);
        assert_eq!(region_ids(&batch.snapshots), [2]);
        assert!(batch.left_over.is_none());
        let first = queue.try_recv().expect("queued");
        let batch = take_batch(first, &mut queue, &config);
        assert_eq!(region_ids(&batch.messages), [5]);
        assert_eq!(region_ids(&batch.snapshots), [4, 6]);
        assert!(queue.try_recv().is_err());
    }

    #[test]
    fn batches_stay_under_the_byte_limit() {
        let sized = |region_id, bytes| {
            let mut message = message(region_id, eraftpb::MessageType::MsgAppend);
            message.extra_ctx = vec![0; bytes];
            message
        };
        let (sender, mut queue) = mpsc::channel(16);
        for (region_id, bytes) in [(2, 400), (3, 400), (4, 5000), (5, 10)] {
            sender.try_send(sized(region_id, bytes)).expect("room");
        }
        let config = RaftClientConfig {
            max_batch_bytes: 1000,
            max_grpc_message_bytes: 2000,
            ..Default::default()
        };
        // A first message over the batch limit still goes, alone.
        let batch = take_batch(sized(1, 1500), &mut queue, &config);
        assert_eq!(region_ids(&batch.messages), [1]);
        assert_eq!(batch.left_over.as_ref().map(|m| m.region_id), Some(2));

        let first = batch.left_over.expect("left over");
        let batch = take_batch(first, &mut queue, &config);
        assert_eq!(region_ids(&batch.messages), [2, 3, 5]);
        assert_eq!(region_ids(&batch.too_large), [4]);
        assert!(batch.left_over.is_none());
    }

    #[test]
    fn a_dropped_snapshot_report_is_a_failure() {
        #[derive(Clone, Default)]
        struct Reports(Arc<Mutex<Vec<(u64, u64, bool)>>>);
        impl DeliveryReport for Reports {
            fn report_unreachable(&self, _: u64, _: u64) {}
            fn report_snapshot(&self, region_id: u64, to_peer_id: u64, ok: bool) {
                self.0.lock().push((region_id, to_peer_id, ok));
            }
        }
        let reports = Reports::default();
        let report = |region_id| SnapshotReport {
            reporter: reports.clone(),
            region_id,
            to_peer_id: 9,
            pending: true,
        };
        report(1).finish(true);
        drop(report(2));
        report(3).finish(false);
        assert_eq!(
            *reports.0.lock(),
            [(1, 9, true), (2, 9, false), (3, 9, false)]
        );
    }
}
