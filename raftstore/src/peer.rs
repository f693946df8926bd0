//! One region's peer on this store: its raft group, the commands and reads waiting on it, and
//! the handling of its messages. The ready/apply cycle is in `ready.rs`, the apply of
//! committed commands in `apply.rs`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use basalt_proto::metapb::{self, PeerRole};
use basalt_proto::raft_cmdpb::{AdminCmdType, ChangePeerRequest, RaftCmdRequest};
use basalt_proto::raft_serverpb::{MergeState, PeerState, RaftMessage, RegionLocalState};
use basalt_storage::engine::KvEngine;
use basalt_storage::Result;
use prost::Message as _;
use raft::eraftpb::{ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, Entry};
use raft::{RawNode, SnapshotStatus, StateRole};

use crate::convert;
use crate::errors;
use crate::keys;
use crate::log_store::RaftLogStore;
use crate::msg::{Callback, CmdOutcome, PeerMsg, PendingRead, Proposal, ReadRequest};
use crate::peer_storage::{read_record, Engines, PeerStorage};
use crate::store::StoreContext;
use crate::transport::Transport;

/// Largest command accepted in one raft entry.
pub const MAX_ENTRY_BYTES: usize = 8 << 20;

/// One region's peer.
pub struct Peer<K: KvEngine, L: RaftLogStore> {
    /// This peer.
    pub meta: metapb::Peer,
    /// The raft group.
    pub raft: RawNode<PeerStorage<K, L>>,
    /// Commands waiting for apply, by index.
    pub proposals: VecDeque<Proposal>,
    /// Reads waiting for a ReadIndex round or for apply.
    pub reads: VecDeque<PendingRead>,
    next_read_id: u64,
    /// Until when this leader may serve reads without a ReadIndex round.
    pub lease_until: Option<Instant>,
    /// Peers of this region (and senders seen) by id, to address messages.
    pub peer_cache: HashMap<u64, metapb::Peer>,
    /// Set once the peer was removed from its region or replaced: destroy after this round.
    pub pending_destroy: bool,
    /// Ticks since the peer started (drives periodic checks).
    pub ticks: u64,
    /// Bytes written to the region since its last split check.
    pub written_since_check: u64,
    /// Whether a split is being asked of PD (one at a time).
    pub splitting: bool,
    /// When each peer was last heard from (for PD's down-peer report).
    pub last_heard: HashMap<u64, Instant>,
    /// The region's approximate bytes and keys, once measured.
    pub approximate: Option<(u64, u64)>,
    /// The tick of the last size check.
    pub size_checked_at: u64,
    /// Set once this region applied a PrepareMerge: it waits to be merged or rolled back.
    pub pending_merge: Option<MergeState>,
    /// The index of a PrepareMerge this leader proposed: until it is applied, nothing else is
    /// proposed.
    pub prepare_merge_fence: u64,
    /// Committed entries held back while this (target) region waits for its merge source to
    /// catch up; the first one is the CommitMerge.
    pub paused_apply: Option<Vec<Entry>>,
    /// Set when apply meets a CommitMerge whose source is not ready here.
    pub merge_wait: bool,
    /// Set once this (source) region was merged away: destroying it leaves the data.
    pub merged: bool,
    role: StateRole,
}

/// Whether a command of `kind` must match the region's conf version as well as its version.
pub(crate) fn checks_conf_ver(kind: AdminCmdType) -> bool {
    matches!(
        kind,
        AdminCmdType::ChangePeer
            | AdminCmdType::ChangePeerV2
            | AdminCmdType::PrepareMerge
            | AdminCmdType::CommitMerge
            | AdminCmdType::RollbackMerge
    )
}

/// Whether `region` is between two configurations (joint consensus).
pub(crate) fn in_joint_state(region: &metapb::Region) -> bool {
    region.peers.iter().any(|peer| {
        peer.role == PeerRole::IncomingVoter as i32 || peer.role == PeerRole::DemotingVoter as i32
    })
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

impl<K: KvEngine, L: RaftLogStore> Peer<K, L> {
    /// Opens the peer `meta` of `region` (which may be uninitialized).
    pub fn open(
        engines: Engines<K, L>,
        region: metapb::Region,
        meta: metapb::Peer,
        config: &crate::Config,
    ) -> Result<Self> {
        let local: Option<RegionLocalState> = read_record(
            &engines.kv,
            &keys::region_state_key(region.id),
            "region state",
        )?;
        let pending_merge = local
            .filter(|local| local.state == PeerState::Merging as i32)
            .and_then(|local| local.merge_state);
        let storage = PeerStorage::open(engines, region)?;
        let raft_config = raft::Config {
            id: meta.id,
            election_tick: config.election_ticks,
            heartbeat_tick: config.heartbeat_ticks,
            applied: storage.applied_index(),
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            ..Default::default()
        };
        let peer_cache = storage
            .region
            .peers
            .iter()
            .map(|peer| (peer.id, *peer))
            .collect();
        let raft = RawNode::new(&raft_config, storage, &logger())
            .map_err(|err| basalt_storage::Error::Engine(format!("starting raft: {err}")))?;
        Ok(Peer {
            meta,
            raft,
            proposals: VecDeque::new(),
            reads: VecDeque::new(),
            next_read_id: 1,
            lease_until: None,
            peer_cache,
            pending_destroy: false,
            ticks: 0,
            written_since_check: 0,
            splitting: false,
            last_heard: HashMap::new(),
            approximate: None,
            size_checked_at: 0,
            pending_merge,
            prepare_merge_fence: 0,
            paused_apply: None,
            merge_wait: false,
            merged: false,
            role: StateRole::Follower,
        })
    }

    /// The region id.
    pub fn region_id(&self) -> u64 {
        self.region().id
    }

    /// The region as this peer knows it.
    pub fn region(&self) -> &metapb::Region {
        &self.raft.store().region
    }

    /// Whether this peer leads its region.
    pub fn is_leader(&self) -> bool {
        self.raft.raft.state == StateRole::Leader
    }

    /// The leader as far as this peer knows.
    pub fn leader(&self) -> Option<metapb::Peer> {
        let id = self.raft.raft.leader_id;
        self.peer_cache.get(&id).copied()
    }

    fn not_leader(&self) -> basalt_storage::Error {
        errors::not_leader(self.region_id(), self.leader())
    }

    /// Checks a request's epoch: the version must match for data commands and reads, the conf
    /// version as well for conf changes.
    fn check_epoch(&self, asked: Option<&metapb::RegionEpoch>, conf: bool) -> Result<()> {
        let Some(asked) = asked else {
            return Ok(());
        };
        let current = self.region().region_epoch.unwrap_or_default();
        if asked.version != current.version || (conf && asked.conf_ver != current.conf_ver) {
            return Err(errors::epoch_not_match(
                format!(
                    "epoch not match: request {}/{}, region {} is {}/{}",
                    asked.conf_ver,
                    asked.version,
                    self.region_id(),
                    current.conf_ver,
                    current.version
                ),
                vec![self.region().clone()],
            ));
        }
        Ok(())
    }

    /// Handles one mailbox message.
    pub fn on_msg<T: Transport>(&mut self, ctx: &StoreContext<K, L, T>, msg: PeerMsg) {
        match msg {
            PeerMsg::Raft(msg) => self.on_raft_message(ctx, *msg),
            PeerMsg::Command { cmd, cb } => self.propose(ctx, *cmd, cb),
            PeerMsg::Read { req, cb } => self.read(req, cb),
            PeerMsg::TransferLeader(to) => {
                if self.is_leader() && to.id != self.meta.id {
                    self.lease_until = None;
                    self.raft.transfer_leader(to.id);
                }
            }
            PeerMsg::Tick => self.on_tick(ctx),
            PeerMsg::Unreachable(peer_id) => self.raft.report_unreachable(peer_id),
            PeerMsg::SnapshotStatus { to_peer_id, ok } => {
                let status = if ok {
                    SnapshotStatus::Finish
                } else {
                    SnapshotStatus::Failure
                };
                self.raft.report_snapshot(to_peer_id, status);
                if ok && self.is_leader() {
                    // PD promotes a learner once it has caught up: tell it now.
                    ctx.heartbeat_pd(self);
                }
            }
            PeerMsg::Split {
                region_epoch,
                splits,
                approximate,
            } => {
                self.splitting = false;
                if approximate.is_some() {
                    self.approximate = approximate;
                    if self.is_leader() {
                        ctx.heartbeat_pd(self);
                    }
                }
                if !splits.is_empty() {
                    self.propose_split(ctx, region_epoch, splits);
                }
            }
            PeerMsg::CatchUpLogs(request) => self.on_catch_up_logs(*request),
            PeerMsg::MergedInto(target_id) => {
                tracing::info!(
                    region_id = self.region_id(),
                    target_id,
                    "region merged away"
                );
                self.merged = true;
                self.pending_destroy = true;
            }
            PeerMsg::Campaign => {
                if !self.is_leader() {
                    let _ = self.raft.campaign();
                }
            }
        }
    }

    fn on_raft_message<T: Transport>(&mut self, ctx: &StoreContext<K, L, T>, msg: RaftMessage) {
        let Some(from) = msg.from_peer else {
            return;
        };
        let Some(message) = msg.message.as_ref() else {
            return;
        };
        if msg.is_tombstone {
            self.on_tombstone(&msg);
            return;
        }
        let to = msg.to_peer.map_or(0, |peer| peer.id);
        if to != self.meta.id {
            // A newer peer of this region was added on this store after this one was removed:
            // this one is stale and gives way (the next message creates the new one).
            if to > self.meta.id && !self.is_leader() {
                tracing::info!(
                    region_id = self.region_id(),
                    stale = self.meta.id,
                    new = to,
                    "a newer peer replaces this one"
                );
                self.pending_destroy = true;
            }
            return;
        }
        // A peer no longer in the region, with an older epoch: tell it it was removed.
        let ours = self.region().region_epoch.unwrap_or_default();
        let theirs = msg.region_epoch.unwrap_or_default();
        if self.raft.store().is_initialized()
            && !self.region().peers.iter().any(|peer| peer.id == from.id)
            && theirs.conf_ver < ours.conf_ver
        {
            ctx.send_tombstone(self.region(), &self.meta, from);
            return;
        }
        if message.msg_type == basalt_proto::eraftpb::MessageType::MsgSnapshot as i32
            && !ctx.snapshot_fits(self.region_id(), message)
        {
            return;
        }
        self.peer_cache.insert(from.id, from);
        self.last_heard.insert(from.id, Instant::now());
        let message = match convert::message_from_wire(message) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(%err, region_id = self.region_id(), "dropping a malformed raft message");
                return;
            }
        };
        if let Err(err) = self.raft.step(message) {
            tracing::debug!(%err, region_id = self.region_id(), "raft refused a message");
        }
    }

    fn on_tombstone(&mut self, msg: &RaftMessage) {
        let ours = self.region().region_epoch.unwrap_or_default();
        let theirs = msg.region_epoch.unwrap_or_default();
        let removed = !self.raft.store().is_initialized() || theirs.conf_ver > ours.conf_ver;
        if removed && !self.is_leader() {
            tracing::info!(
                region_id = self.region_id(),
                peer_id = self.meta.id,
                "peer was removed from its region"
            );
            self.pending_destroy = true;
        }
    }

    fn on_tick<T: Transport>(&mut self, ctx: &StoreContext<K, L, T>) {
        self.ticks += 1;
        self.raft.tick();
        self.expire_reads(ctx.config.read_timeout);
        if self.ticks % ctx.config.merge_check_ticks == 0 {
            if self.pending_merge.is_some() {
                self.on_check_merge(ctx);
            }
            if self.paused_apply.is_some() {
                self.resume_apply(ctx);
            }
        }
        if !self.is_leader() {
            return;
        }
        if self.ticks % ctx.config.log_gc_ticks == 0 && !self.is_merging() {
            self.maybe_compact_log(ctx);
        }
        if self.ticks % ctx.config.split_check_ticks == 0 {
            ctx.maybe_check_size(self);
        }
        if self.ticks % ctx.config.pd_heartbeat_ticks == 1 {
            ctx.heartbeat_pd(self);
        }
    }

    /// Peers the leader has not heard from for `down_after`.
    pub fn down_peers(&self, down_after: Duration) -> Vec<(metapb::Peer, u64)> {
        let now = Instant::now();
        self.region()
            .peers
            .iter()
            .filter(|peer| peer.id != self.meta.id)
            .filter_map(|peer| {
                let silent = self
                    .last_heard
                    .get(&peer.id)
                    .map_or(down_after, |heard| now.duration_since(*heard));
                (silent >= down_after).then_some((*peer, silent.as_secs()))
            })
            .collect()
    }

    /// Peers whose log is far behind the leader's (pending in PD's terms).
    pub fn pending_peers(&self) -> Vec<metapb::Peer> {
        let first = self.raft.store().first_index();
        self.raft
            .raft
            .prs()
            .iter()
            .filter(|(_, progress)| progress.matched < first)
            .filter_map(|(id, _)| self.peer_cache.get(id).copied())
            .collect()
    }

    fn expire_reads(&mut self, timeout: Duration) {
        let now = Instant::now();
        while let Some(read) = self.reads.front() {
            if read.index.is_some() || now.duration_since(read.sent) < timeout {
                break;
            }
            if let Some(read) = self.reads.pop_front() {
                (read.cb)(Err(errors::read_index_not_ready(
                    self.region_id(),
                    "no leader confirmed the read in time",
                )));
            }
        }
    }

    fn maybe_compact_log<T: Transport>(&mut self, ctx: &StoreContext<K, L, T>) {
        let applied = self.raft.store().applied_index();
        let first = self.raft.store().first_index();
        if applied < first || applied - first < ctx.config.log_gc_threshold {
            return;
        }
        // Keep what the slowest follower still needs, unless it is hopelessly behind (it will
        // get a snapshot).
        let slowest = self.slowest_match().unwrap_or(applied);
        let mut compact_index = slowest.min(applied);
        if applied - compact_index > ctx.config.log_gc_limit {
            compact_index = applied;
        }
        if compact_index < first {
            return;
        }
        let Ok(term) = raft::Storage::term(self.raft.store(), compact_index) else {
            return;
        };
        let mut cmd = self.admin_cmd(AdminCmdType::CompactLog);
        if let Some(admin) = cmd.admin_request.as_mut() {
            admin.compact_log = Some(basalt_proto::raft_cmdpb::CompactLogRequest {
                compact_index,
                compact_term: term,
                ..Default::default()
            });
        }
        self.propose(ctx, cmd, Box::new(|_| {}));
    }

    /// The lowest index every peer's log is known to match the leader's up to.
    pub(crate) fn slowest_match(&self) -> Option<u64> {
        self.raft
            .raft
            .prs()
            .iter()
            .map(|(_, progress)| progress.matched)
            .min()
    }

    /// An admin command of `kind` addressed to this region at its current epoch.
    pub fn admin_cmd(&self, kind: AdminCmdType) -> RaftCmdRequest {
        RaftCmdRequest {
            header: Some(basalt_proto::raft_cmdpb::RaftRequestHeader {
                region_id: self.region_id(),
                peer: Some(self.meta),
                region_epoch: self.region().region_epoch,
                ..Default::default()
            }),
            admin_request: Some(basalt_proto::raft_cmdpb::AdminRequest {
                cmd_type: kind as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn propose_split<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        region_epoch: metapb::RegionEpoch,
        splits: Vec<(Vec<u8>, u64, Vec<u64>)>,
    ) {
        let mut cmd = self.admin_cmd(AdminCmdType::BatchSplit);
        if let Some(header) = cmd.header.as_mut() {
            header.region_epoch = Some(region_epoch);
        }
        if let Some(admin) = cmd.admin_request.as_mut() {
            admin.splits = Some(basalt_proto::raft_cmdpb::BatchSplitRequest {
                requests: splits
                    .into_iter()
                    .map(|(split_key, new_region_id, new_peer_ids)| {
                        basalt_proto::raft_cmdpb::SplitRequest {
                            split_key,
                            new_region_id,
                            new_peer_ids,
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            });
        }
        let region_id = self.region_id();
        self.propose(
            ctx,
            cmd,
            Box::new(move |result| {
                if let Err(err) = result {
                    tracing::info!(region_id, %err, "split not applied");
                }
            }),
        );
    }

    /// Proposes a write or admin command; `cb` is answered once it is applied (or refused).
    pub fn propose<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        mut cmd: RaftCmdRequest,
        cb: Callback,
    ) {
        if !self.is_leader() {
            cb(Err(self.not_leader()));
            return;
        }
        let header = cmd.header.clone().unwrap_or_default();
        let kind = cmd
            .admin_request
            .as_ref()
            .and_then(|admin| AdminCmdType::try_from(admin.cmd_type).ok())
            .unwrap_or(AdminCmdType::InvalidAdmin);
        if self.is_merging() && kind != AdminCmdType::RollbackMerge {
            cb(Err(errors::proposal_in_merging_mode(self.region_id())));
            return;
        }
        if let Err(err) = self.check_epoch(header.region_epoch.as_ref(), checks_conf_ver(kind)) {
            cb(Err(err));
            return;
        }
        if kind == AdminCmdType::PrepareMerge {
            if let Err(err) = self.fill_prepare_merge(ctx, &mut cmd) {
                cb(Err(err));
                return;
            }
        }
        let conf = matches!(kind, AdminCmdType::ChangePeer | AdminCmdType::ChangePeerV2);
        let data = cmd.encode_to_vec();
        if data.len() > MAX_ENTRY_BYTES {
            cb(Err(errors::entry_too_large(
                self.region_id(),
                data.len() as u64,
            )));
            return;
        }
        let before = self.raft.raft.raft_log.last_index();
        let proposed = if conf {
            self.propose_conf_change(&cmd, data)
        } else if kind == AdminCmdType::TransferLeader {
            let to = cmd
                .admin_request
                .as_ref()
                .and_then(|admin| admin.transfer_leader.as_ref())
                .and_then(|transfer| transfer.peer);
            if let Some(to) = to {
                self.lease_until = None;
                self.raft.transfer_leader(to.id);
            }
            cb(Ok(CmdOutcome {
                region: self.region().clone(),
            }));
            return;
        } else {
            self.raft
                .propose(Vec::new(), data)
                .map_err(|err| self.refused(err))
        };
        if let Err(err) = proposed {
            cb(Err(err));
            return;
        }
        let index = self.raft.raft.raft_log.last_index();
        if index == before {
            cb(Err(errors::stale_command(self.region_id())));
            return;
        }
        if kind == AdminCmdType::PrepareMerge {
            self.prepare_merge_fence = index;
        }
        self.proposals.push_back(Proposal {
            index,
            term: self.raft.raft.term,
            cb,
        });
    }

    /// The error for a proposal raft refused. Raft drops proposals while leadership moves to
    /// another peer: the client is pointed at that peer, as with any other NotLeader.
    fn refused(&self, err: raft::Error) -> basalt_storage::Error {
        match err {
            raft::Error::ProposalDropped => {
                let next = self
                    .raft
                    .raft
                    .lead_transferee
                    .and_then(|id| self.peer_cache.get(&id).copied());
                errors::not_leader(self.region_id(), next)
            }
            other => basalt_storage::Error::Engine(format!("raft: {other}")),
        }
    }

    fn propose_conf_change(&mut self, cmd: &RaftCmdRequest, data: Vec<u8>) -> Result<()> {
        let invalid = |why: String| basalt_storage::Error::InvalidRequest(why);
        let admin = cmd.admin_request.clone().unwrap_or_default();
        let changes: Vec<ChangePeerRequest> = match (admin.change_peer, admin.change_peer_v2) {
            (_, Some(v2)) if !v2.changes.is_empty() => v2.changes,
            (Some(single), _) => vec![single],
            _ => return Err(invalid("a conf change without changes".into())),
        };
        if self.raft.raft.pending_conf_index > self.raft.store().applied_index()
            || in_joint_state(self.region())
        {
            return Err(invalid(format!(
                "region {} has a conf change in progress",
                self.region_id()
            )));
        }
        let mut cc = ConfChangeV2::default();
        for change in &changes {
            let peer = change
                .peer
                .ok_or_else(|| invalid("a peer change without a peer".into()))?;
            let kind = match basalt_proto::eraftpb::ConfChangeType::try_from(change.change_type) {
                Ok(basalt_proto::eraftpb::ConfChangeType::AddNode) => ConfChangeType::AddNode,
                Ok(basalt_proto::eraftpb::ConfChangeType::RemoveNode) => ConfChangeType::RemoveNode,
                Ok(basalt_proto::eraftpb::ConfChangeType::AddLearnerNode) => {
                    ConfChangeType::AddLearnerNode
                }
                Err(_) => {
                    return Err(invalid(format!(
                        "unknown change type {}",
                        change.change_type
                    )))
                }
            };
            if peer.id == self.meta.id && kind != ConfChangeType::AddNode {
                return Err(invalid(
                    "the leader cannot remove or demote itself: transfer leadership first".into(),
                ));
            }
            if changes.len() > 1 && kind == ConfChangeType::RemoveNode {
                return Err(invalid(
                    "joint changes may promote and demote, not remove: demote first".into(),
                ));
            }
            let single = ConfChangeSingle {
                change_type: kind,
                node_id: peer.id,
                ..Default::default()
            };
            cc.changes.push(single);
            self.peer_cache.insert(peer.id, peer);
        }
        if changes.len() > 1 {
            cc.transition = ConfChangeTransition::Implicit;
        }
        cc.context = data.into();
        self.raft
            .propose_conf_change(Vec::new(), cc)
            .map_err(|err| self.refused(err))
    }

    fn read(&mut self, req: ReadRequest, cb: Callback) {
        if self.pending_merge.is_some() {
            // The target may already serve this range: reads here could be stale.
            cb(Err(errors::proposal_in_merging_mode(self.region_id())));
            return;
        }
        if let Err(err) = self.check_epoch(req.region_epoch.as_ref(), false) {
            cb(Err(err));
            return;
        }
        if !self.raft.store().is_initialized() {
            cb(Err(errors::region_not_found(self.region_id())));
            return;
        }
        if self.is_leader() {
            let fresh = self.lease_until.is_some_and(|until| Instant::now() < until);
            if fresh && self.applied_current_term() {
                cb(Ok(CmdOutcome {
                    region: self.region().clone(),
                }));
                return;
            }
        } else if !req.replica_read || self.raft.raft.leader_id == raft::INVALID_ID {
            // A follower that knows no leader cannot ask one for a read index (raft would drop
            // the request): the client retries elsewhere at once rather than time out.
            cb(Err(self.not_leader()));
            return;
        }
        let uuid = self.next_read_id;
        self.next_read_id += 1;
        self.raft.read_index(uuid.to_be_bytes().to_vec());
        self.reads.push_back(PendingRead {
            uuid,
            index: None,
            sent: Instant::now(),
            cb,
        });
    }

    /// Whether the leader applied an entry of its own term (so its state machine has every
    /// write committed by earlier leaders).
    fn applied_current_term(&self) -> bool {
        let applied = self.raft.store().applied_index();
        raft::Storage::term(self.raft.store(), applied).ok() == Some(self.raft.raft.term)
    }

    /// Records read index answers, renews the lease, and serves what apply has reached.
    pub fn on_read_states(&mut self, states: Vec<raft::ReadState>, max_lease: Duration) {
        for state in states {
            let Ok(bytes) = <[u8; 8]>::try_from(state.request_ctx.as_slice()) else {
                continue;
            };
            let uuid = u64::from_be_bytes(bytes);
            if let Some(read) = self.reads.iter_mut().find(|read| read.uuid == uuid) {
                read.index = Some(state.index);
                if self.raft.raft.state == StateRole::Leader {
                    let until = read.sent + max_lease;
                    if self.lease_until.is_none_or(|current| current < until) {
                        self.lease_until = Some(until);
                    }
                }
            }
        }
        self.serve_ready_reads();
    }

    /// Answers reads whose index apply has reached, in order.
    pub fn serve_ready_reads(&mut self) {
        let applied = self.raft.store().applied_index();
        let mut waiting = VecDeque::with_capacity(self.reads.len());
        while let Some(read) = self.reads.pop_front() {
            match read.index {
                Some(index) if index <= applied => (read.cb)(Ok(CmdOutcome {
                    region: self.region().clone(),
                })),
                _ => waiting.push_back(read),
            }
        }
        self.reads = waiting;
    }

    /// Notes a role change: leases and pending reads do not survive it.
    pub fn on_role_change(&mut self, role: StateRole) {
        if role == self.role {
            return;
        }
        self.role = role;
        self.lease_until = None;
        if role != StateRole::Leader {
            // Reads waiting on this leader's ReadIndex will never be answered.
            let leader = self.leader();
            let region_id = self.region_id();
            for read in std::mem::take(&mut self.reads) {
                (read.cb)(Err(errors::not_leader(region_id, leader)));
            }
        }
    }

    /// Answers every waiting command and read with `err` (the peer is going away).
    pub fn fail_all(&mut self, err: impl Fn() -> basalt_storage::Error) {
        for proposal in std::mem::take(&mut self.proposals) {
            (proposal.cb)(Err(err()));
        }
        for read in std::mem::take(&mut self.reads) {
            (read.cb)(Err(err()));
        }
    }
}
