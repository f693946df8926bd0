//! What a peer's mailbox carries, and how answers reach the caller.

use std::time::Instant;

use basalt_proto::metapb;
use basalt_proto::raft_cmdpb::{CommitMergeRequest, RaftCmdRequest};
use basalt_proto::raft_serverpb::RaftMessage;
use basalt_storage::Result;

/// What a command or read learns when it succeeds: the region as it was when the command
/// was applied or the read was confirmed.
#[derive(Debug, Clone)]
pub struct CmdOutcome {
    /// The region.
    pub region: metapb::Region,
}

/// Called once with the outcome, on the thread that drives the peer. For reads it runs at the
/// moment the read is confirmed, so an engine snapshot taken inside it is linearizable.
pub type Callback = Box<dyn FnOnce(Result<CmdOutcome>) + Send>;

/// A read's routing, checked by the peer before it serves the read.
#[derive(Debug, Clone, Default)]
pub struct ReadRequest {
    /// The epoch the client believes the region has.
    pub region_epoch: Option<metapb::RegionEpoch>,
    /// Serve from a follower (or learner) after a ReadIndex round to the leader.
    pub replica_read: bool,
}

/// A message to one peer.
pub enum PeerMsg {
    /// A raft message from another store.
    Raft(Box<RaftMessage>),
    /// A write or admin command to propose.
    Command {
        /// The command.
        cmd: Box<RaftCmdRequest>,
        /// Its answer.
        cb: Callback,
    },
    /// A read to confirm (lease or ReadIndex).
    Read {
        /// The request.
        req: ReadRequest,
        /// Called once the read is safe.
        cb: Callback,
    },
    /// Move leadership to a peer.
    TransferLeader(metapb::Peer),
    /// Time passes: one raft tick.
    Tick,
    /// A peer could not be reached.
    Unreachable(u64),
    /// A snapshot to a peer was delivered or lost.
    SnapshotStatus {
        /// The peer.
        to_peer_id: u64,
        /// Whether it arrived.
        ok: bool,
    },
    /// A size check finished (and PD answered the split request it made, if any): record the
    /// size, propose the split.
    Split {
        /// The epoch the split key was chosen at.
        region_epoch: metapb::RegionEpoch,
        /// Split keys (stored form) and the ids PD gave for each new region.
        splits: Vec<(Vec<u8>, u64, Vec<u64>)>,
        /// The region's approximate bytes and keys, when the check got that far.
        approximate: Option<(u64, u64)>,
    },
    /// A merge target waits for this (source) peer to apply the source log up to the merge:
    /// take the entries it carries if this peer's log lacks them.
    CatchUpLogs(Box<CommitMergeRequest>),
    /// This (source) peer's region was merged into the region with this id: go away, leaving
    /// the data, which the target now owns.
    MergedInto(u64),
    /// The peer starts: campaign at once if it is the only voter or was split from a leader.
    Campaign,
}

impl std::fmt::Debug for PeerMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            PeerMsg::Raft(_) => "Raft",
            PeerMsg::Command { .. } => "Command",
            PeerMsg::Read { .. } => "Read",
            PeerMsg::TransferLeader(_) => "TransferLeader",
            PeerMsg::Tick => "Tick",
            PeerMsg::Unreachable(_) => "Unreachable",
            PeerMsg::SnapshotStatus { .. } => "SnapshotStatus",
            PeerMsg::Split { .. } => "Split",
            PeerMsg::Campaign => "Campaign",
            PeerMsg::CatchUpLogs(_) => "CatchUpLogs",
            PeerMsg::MergedInto(_) => "MergedInto",
        };
        f.write_str(name)
    }
}

/// A read waiting for its ReadIndex round and then for apply to reach the index.
pub struct PendingRead {
    /// The ReadIndex request context.
    pub uuid: u64,
    /// The confirmed read index, once known.
    pub index: Option<u64>,
    /// When the ReadIndex was sent (a leader's lease is renewed from it).
    pub sent: Instant,
    /// Called once the read is safe.
    pub cb: Callback,
}

/// A proposed command waiting for apply.
pub struct Proposal {
    /// Its log index.
    pub index: u64,
    /// The term it was proposed in.
    pub term: u64,
    /// Its answer.
    pub cb: Callback,
}
