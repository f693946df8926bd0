//! The RPCs other stores call to deliver raft messages: `Raft` and `BatchRaft` (streams of
//! messages) and `Snapshot` (one snapshot message in chunks, see [`super::snapshot_chunks`]).
//! Each hands what it receives to the local raft store through a [`RaftMessageSink`], in
//! production `basalt_raftstore::RaftRouter`. Delivery is best effort, as Raft expects: a message
//! the store does not take is logged and dropped, and the stream goes on.

use basalt_proto::raft_serverpb::{Done, RaftMessage, SnapshotChunk};
use basalt_proto::tikvpb::BatchRaftMessage;
use basalt_raftstore::RaftRouter;
use futures::{Stream, StreamExt};
use tonic::Status;

use super::snapshot_chunks::SnapshotAssembler;

/// What the raft RPCs answer on a store that has no raft store.
pub(super) const NO_RAFT: &str = "this store runs without Raft";

/// Where the raft RPCs hand the messages they receive: the local raft store.
pub trait RaftMessageSink: Send + Sync + 'static {
    /// Hands `message` to the peer it is addressed to. Must not block.
    fn send_raft_message(&self, message: RaftMessage) -> basalt_storage::Result<()>;
}

impl RaftMessageSink for RaftRouter {
    fn send_raft_message(&self, message: RaftMessage) -> basalt_storage::Result<()> {
        RaftRouter::send_raft_message(self, message)
    }
}

fn deliver(sink: &dyn RaftMessageSink, message: RaftMessage) {
    let region_id = message.region_id;
    let to_peer_id = message.to_peer.as_ref().map_or(0, |peer| peer.id);
    if let Err(err) = sink.send_raft_message(message) {
        tracing::debug!(%err, region_id, to_peer_id, "the store did not take a raft message");
    }
}

/// `Raft`: delivers every message of `incoming` until the sender closes it.
pub(super) async fn receive_messages(
    sink: &dyn RaftMessageSink,
    incoming: impl Stream<Item = Result<RaftMessage, Status>>,
) -> Result<Done, Status> {
    let mut incoming = std::pin::pin!(incoming);
    while let Some(message) = incoming.next().await {
        deliver(sink, message?);
    }
    Ok(Done {})
}

/// `BatchRaft`: delivers every message of every batch of `incoming` until the sender closes it.
pub(super) async fn receive_batches(
    sink: &dyn RaftMessageSink,
    incoming: impl Stream<Item = Result<BatchRaftMessage, Status>>,
) -> Result<Done, Status> {
    let mut incoming = std::pin::pin!(incoming);
    while let Some(batch) = incoming.next().await {
        for message in batch?.msgs {
            deliver(sink, message);
        }
    }
    Ok(Done {})
}

/// `Snapshot`: puts the chunks of `incoming` back into one snapshot message and delivers it.
/// A malformed stream is `invalid_argument`; a store that does not take the message is
/// `unavailable`, so that the sender reports the snapshot as failed.
pub(super) async fn receive_snapshot(
    sink: &dyn RaftMessageSink,
    incoming: impl Stream<Item = Result<SnapshotChunk, Status>>,
) -> Result<Done, Status> {
    let mut incoming = std::pin::pin!(incoming);
    let mut assembler = SnapshotAssembler::new();
    while let Some(chunk) = incoming.next().await {
        assembler
            .push(chunk?)
            .map_err(|err| Status::invalid_argument(err.to_string()))?;
    }
    let message = assembler
        .finish()
        .map_err(|err| Status::invalid_argument(err.to_string()))?;
    let region_id = message.region_id;
    sink.send_raft_message(message).map_err(|err| {
        tracing::debug!(%err, region_id, "the store did not take a snapshot");
        Status::unavailable(format!(
            "region {region_id} did not take the snapshot: {err}"
        ))
    })?;
    Ok(Done {})
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use basalt_proto::eraftpb;
    use parking_lot::Mutex;
    use tonic::Code;

    use super::super::snapshot_chunks::split_snapshot;
    use super::*;

    /// A sink that keeps what it receives and refuses region 0.
    #[derive(Clone, Default)]
    pub(crate) struct CollectingSink {
        pub(crate) messages: Arc<Mutex<Vec<RaftMessage>>>,
    }

    impl RaftMessageSink for CollectingSink {
        fn send_raft_message(&self, message: RaftMessage) -> basalt_storage::Result<()> {
            if message.region_id == 0 {
                return Err(basalt_storage::Error::InvalidRequest("region 0".into()));
            }
            self.messages.lock().push(message);
            Ok(())
        }
    }

    fn message(region_id: u64) -> RaftMessage {
        RaftMessage {
            region_id,
            ..Default::default()
        }
    }

    fn region_ids(sink: &CollectingSink) -> Vec<u64> {
        sink.messages.lock().iter().map(|m| m.region_id).collect()
    }

    fn snapshot(region_id: u64, data: Vec<u8>) -> RaftMessage {
        RaftMessage {
            region_id,
            message: Some(eraftpb::Message {
                msg_type: eraftpb::MessageType::MsgSnapshot as i32,
                snapshot: Some(eraftpb::Snapshot {
                    data,
                    metadata: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn messages_are_delivered_and_refusals_skipped() {
        let sink = CollectingSink::default();
        let incoming = futures::stream::iter([1, 0, 2].map(|id| Ok(message(id))));
        receive_messages(&sink, incoming)
            .await
            .expect("stream accepted");
        assert_eq!(region_ids(&sink), [1, 2]);
    }

    #[tokio::test]
    async fn batches_are_delivered_in_order() {
        let sink = CollectingSink::default();
        let batches = [vec![1, 2], vec![], vec![0, 3]].map(|ids| {
            Ok(BatchRaftMessage {
                msgs: ids.into_iter().map(message).collect(),
                last_observed_time: 0,
            })
        });
        receive_batches(&sink, futures::stream::iter(batches))
            .await
            .expect("stream accepted");
        assert_eq!(region_ids(&sink), [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_broken_stream_ends_the_call() {
        let sink = CollectingSink::default();
        let incoming = futures::stream::iter([
            Ok(message(1)),
            Err(Status::cancelled("gone")),
            Ok(message(2)),
        ]);
        let status = receive_messages(&sink, incoming)
            .await
            .expect_err("error passed on");
        assert_eq!(status.code(), Code::Cancelled);
        assert_eq!(region_ids(&sink), [1]);
    }

    #[tokio::test]
    async fn a_snapshot_is_reassembled_and_delivered() {
        let sink = CollectingSink::default();
        let sent = snapshot(5, (0..100u8).collect());
        let chunks = split_snapshot(sent.clone(), 7).map(Ok);
        receive_snapshot(&sink, futures::stream::iter(chunks))
            .await
            .expect("snapshot accepted");
        assert_eq!(*sink.messages.lock(), [sent]);
    }

    #[tokio::test]
    async fn malformed_snapshot_streams_are_invalid_arguments() {
        let sink = CollectingSink::default();
        let no_message = vec![Ok(SnapshotChunk {
            message: None,
            data: vec![1, 2, 3],
        })];
        let mut data_first: Vec<_> = split_snapshot(snapshot(5, vec![9; 10]), 4).collect();
        data_first.rotate_left(1);
        let cases = [
            Vec::new(),
            no_message,
            data_first.into_iter().map(Ok).collect(),
        ];
        for chunks in cases {
            let status = receive_snapshot(&sink, futures::stream::iter(chunks))
                .await
                .expect_err("malformed stream refused");
            assert_eq!(status.code(), Code::InvalidArgument, "{status}");
        }
        assert!(sink.messages.lock().is_empty());
    }

    #[tokio::test]
    async fn a_refused_snapshot_is_unavailable() {
        let sink = CollectingSink::default();
        let chunks = split_snapshot(snapshot(0, vec![1; 3]), 2).map(Ok);
        let status = receive_snapshot(&sink, futures::stream::iter(chunks))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unavailable);
    }
}
