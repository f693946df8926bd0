//! How raft messages leave a store. The store hands every outgoing `RaftMessage` to a
//! `Transport`; delivery is best effort (Raft retransmits), so a transport drops what it cannot
//! deliver and tells the router when a peer is unreachable or a snapshot failed, so that the
//! leader probes again instead of waiting.

use basalt_proto::raft_serverpb::RaftMessage;

/// Sends raft messages to other stores.
pub trait Transport: Clone + Send + Sync + 'static {
    /// Queues `msg` for the store of `msg.to_peer`. Never blocks on the network.
    fn send(&self, msg: RaftMessage);
}

/// What a transport reports back about deliveries.
pub trait DeliveryReport: Clone + Send + Sync + 'static {
    /// The peer `to_peer_id` of `region_id` could not be reached.
    fn report_unreachable(&self, region_id: u64, to_peer_id: u64);
    /// A snapshot sent to `to_peer_id` of `region_id` was delivered (`ok`) or lost.
    fn report_snapshot(&self, region_id: u64, to_peer_id: u64, ok: bool);
}
