//! Operators: what PD asks one region to do, as a list of steps. PD sends the current step in
//! the response to every heartbeat of the region's leader until a heartbeat shows the step
//! done, then the next one. Pure data: `Operator::check` reads a reported region and says how
//! far the operator got; `Operator::command` builds the heartbeat response to send.
//!
//! A merge takes two operators, as upstream PD's: one on the source region that asks its leader
//! to merge into the target, and a passive one on the target that sends nothing and keeps other
//! operators off it. The source's step is done once the source is gone from PD's region tree,
//! which its own heartbeat can never show (`Scheduler` settles it); the target's once its range
//! covers the source's.

use std::fmt;
use std::time::{Duration, Instant};

use basalt_proto::eraftpb::ConfChangeType;
use basalt_proto::metapb::{self, PeerRole};
use basalt_proto::pdpb;

use super::Influence;
use crate::region::{covers, RegionInfo, RegionTree};

/// One change to a region.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Add `peer` as a learner: `change_peer` with `AddLearnerNode`. Done when the region
    /// lists the peer and the leader no longer reports it pending (it caught up).
    AddLearner {
        /// The new peer (id from PD's allocator).
        peer: metapb::Peer,
    },
    /// Make learner `peer` a voter: `change_peer` with `AddNode`. Done when the region lists
    /// the peer as a voter.
    PromoteLearner {
        /// The learner to promote.
        peer: metapb::Peer,
    },
    /// Remove `peer`: `change_peer` with `RemoveNode`. Done when the region no longer lists it.
    /// If `peer` leads the region, PD first asks for leadership to move to another voter.
    RemovePeer {
        /// The peer to remove.
        peer: metapb::Peer,
    },
    /// Move leadership to `to`, a voter: `transfer_leader`. Done when `to`'s store leads.
    TransferLeader {
        /// The store leading when the operator was made.
        from_store_id: u64,
        /// The new leader.
        to: metapb::Peer,
    },
    /// Promote learner `promote` and demote voter `demote` in one joint conf change:
    /// `change_peer_v2` with `[AddNode promote, AddLearnerNode demote]`. While the region is in
    /// the joint state, an empty `change_peer_v2` asks it to leave (upstream's meaning). Done
    /// when `promote` is a voter and `demote` a learner (or gone).
    JointMove {
        /// The learner that becomes a voter.
        promote: metapb::Peer,
        /// The voter that becomes a learner.
        demote: metapb::Peer,
    },
    /// Merge region `source` into the adjacent region `target` (both as they were when the
    /// operator was made). On the source (`passive` false): `merge {target}`, resent until the
    /// source is gone from PD's regions; PrepareMerge may bump the source's version and
    /// conf_ver once meanwhile. On the target (`passive` true): nothing to send; done when its
    /// range covers the source's (CommitMerge moves its version arbitrarily far).
    MergeRegion {
        /// The region merged away.
        source: Box<metapb::Region>,
        /// The region that absorbs it.
        target: Box<metapb::Region>,
        /// Whether this is the target's side.
        passive: bool,
    },
}

fn role(peer: &metapb::Peer) -> PeerRole {
    PeerRole::try_from(peer.role).unwrap_or(PeerRole::Voter)
}

fn find(region: &metapb::Region, peer_id: u64) -> Option<&metapb::Peer> {
    region.peers.iter().find(|peer| peer.id == peer_id)
}

/// Whether the region is between the two halves of a joint conf change.
pub fn is_joint(region: &metapb::Region) -> bool {
    region.peers.iter().any(|peer| {
        matches!(
            role(peer),
            PeerRole::IncomingVoter | PeerRole::DemotingVoter
        )
    })
}

/// Whether `peer` is a plain voter.
pub fn is_voter(peer: &metapb::Peer) -> bool {
    role(peer) == PeerRole::Voter
}

/// Whether `peer` is a plain learner.
pub fn is_learner(peer: &metapb::Peer) -> bool {
    role(peer) == PeerRole::Learner
}

fn with_role(peer: &metapb::Peer, role: PeerRole) -> metapb::Peer {
    metapb::Peer {
        role: role as i32,
        ..*peer
    }
}

fn change(peer: metapb::Peer, change_type: ConfChangeType) -> pdpb::ChangePeer {
    pdpb::ChangePeer {
        peer: Some(peer),
        change_type: change_type as i32,
    }
}

/// The heartbeat response fields of one instruction.
enum Instruction {
    ChangePeer(pdpb::ChangePeer),
    ChangePeerV2(pdpb::ChangePeerV2),
    TransferLeader(metapb::Peer),
    Merge(metapb::Region),
}

/// A voter other than the leader and `except`, to hand leadership to before the leader is
/// removed or demoted. Learners never lead.
fn handover_target(
    region: &metapb::Region,
    leader: &metapb::Peer,
    except: u64,
) -> Option<metapb::Peer> {
    region
        .peers
        .iter()
        .find(|peer| is_voter(peer) && peer.id != leader.id && peer.id != except)
        .copied()
}

impl Step {
    /// Whether the region, as last reported, shows this step done.
    pub fn is_done(&self, info: &RegionInfo) -> bool {
        let (region, leader) = (&info.region, info.leader.as_ref());
        match self {
            Step::AddLearner { peer } => {
                find(region, peer.id).is_some()
                    && !info
                        .pending_peers
                        .iter()
                        .any(|pending| pending.id == peer.id)
            }
            Step::PromoteLearner { peer } => find(region, peer.id).is_some_and(is_voter),
            Step::RemovePeer { peer } => find(region, peer.id).is_none(),
            Step::TransferLeader { to, .. } => leader.is_some_and(|leader| leader.id == to.id),
            Step::JointMove { promote, demote } => {
                find(region, promote.id).is_some_and(is_voter)
                    && find(region, demote.id).is_none_or(is_learner)
            }
            Step::MergeRegion {
                source, passive, ..
            } => *passive && covers(region, source),
        }
    }

    /// The region on the other side of a merge step.
    fn merge_partner(&self) -> Option<u64> {
        match self {
            Step::MergeRegion {
                source,
                target,
                passive,
            } => Some(if *passive { source.id } else { target.id }),
            _ => None,
        }
    }

    /// How far the step may move the region's `version`.
    fn version_changes(&self) -> u64 {
        match self {
            Step::MergeRegion { passive: true, .. } => u64::MAX,
            Step::MergeRegion { passive: false, .. } => 1,
            _ => 0,
        }
    }

    /// How many times the step bumps the region's `conf_ver` (entering and leaving a joint
    /// state are two conf changes).
    fn conf_changes(&self) -> u64 {
        match self {
            Step::AddLearner { .. } | Step::PromoteLearner { .. } | Step::RemovePeer { .. } => 1,
            Step::TransferLeader { .. } => 0,
            Step::JointMove { .. } => 2,
            Step::MergeRegion { passive, .. } => u64::from(!passive),
        }
    }

    /// What to ask of `region`'s leader now, or `None` when there is nothing to do but wait (a
    /// learner catching up) or nothing it can do (no voter to hand leadership to).
    fn instruction(&self, region: &metapb::Region, leader: &metapb::Peer) -> Option<Instruction> {
        let instruction = match self {
            // Added, still catching up: wait.
            Step::AddLearner { peer } if find(region, peer.id).is_some() => return None,
            Step::AddLearner { peer } => Instruction::ChangePeer(change(
                with_role(peer, PeerRole::Learner),
                ConfChangeType::AddLearnerNode,
            )),
            Step::PromoteLearner { peer } => Instruction::ChangePeer(change(
                with_role(peer, PeerRole::Voter),
                ConfChangeType::AddNode,
            )),
            Step::RemovePeer { peer } if peer.id == leader.id => {
                Instruction::TransferLeader(handover_target(region, leader, peer.id)?)
            }
            Step::RemovePeer { peer } => {
                let current = find(region, peer.id).copied().unwrap_or(*peer);
                Instruction::ChangePeer(change(current, ConfChangeType::RemoveNode))
            }
            Step::TransferLeader { to, .. } => {
                Instruction::TransferLeader(find(region, to.id).copied().unwrap_or(*to))
            }
            Step::JointMove { .. } if is_joint(region) => {
                Instruction::ChangePeerV2(pdpb::ChangePeerV2::default())
            }
            Step::JointMove { promote, demote } if demote.id == leader.id => {
                Instruction::TransferLeader(handover_target(region, leader, promote.id)?)
            }
            Step::JointMove { promote, demote } => Instruction::ChangePeerV2(pdpb::ChangePeerV2 {
                changes: vec![
                    change(with_role(promote, PeerRole::Voter), ConfChangeType::AddNode),
                    change(
                        with_role(demote, PeerRole::Learner),
                        ConfChangeType::AddLearnerNode,
                    ),
                ],
            }),
            Step::MergeRegion { passive: true, .. } => return None,
            Step::MergeRegion { target, .. } => Instruction::Merge((**target).clone()),
        };
        Some(instruction)
    }

    /// Adds what this step still changes in store loads to `influence`.
    fn influence(&self, influence: &mut Influence) {
        match self {
            Step::AddLearner { peer } => influence.add(peer.store_id, 0, 1),
            Step::RemovePeer { peer } => influence.add(peer.store_id, 0, -1),
            Step::TransferLeader { from_store_id, to } => {
                influence.add(*from_store_id, -1, 0);
                influence.add(to.store_id, 1, 0);
            }
            Step::PromoteLearner { .. } | Step::JointMove { .. } | Step::MergeRegion { .. } => {}
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::AddLearner { peer } => write!(
                f,
                "add learner peer {} on store {}",
                peer.id, peer.store_id
            ),
            Step::PromoteLearner { peer } => write!(
                f,
                "promote learner peer {} on store {} to voter",
                peer.id, peer.store_id
            ),
            Step::RemovePeer { peer } => {
                write!(f, "remove peer {} on store {}", peer.id, peer.store_id)
            }
            Step::TransferLeader { from_store_id, to } => write!(
                f,
                "transfer leader from store {from_store_id} to store {}",
                to.store_id
            ),
            Step::JointMove { promote, demote } => write!(
                f,
                "joint change: promote learner peer {} on store {}, demote voter peer {} on store {}",
                promote.id, promote.store_id, demote.id, demote.store_id
            ),
            Step::MergeRegion {
                source,
                target,
                passive: false,
            } => write!(f, "merge region {} into region {}", source.id, target.id),
            Step::MergeRegion { source, .. } => {
                write!(f, "wait for region {} to merge into this one", source.id)
            }
        }
    }
}

/// What an operator is for, as upstream PD names its kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorKind {
    /// Fixes the replica count or placement (replica checker).
    Replica,
    /// Moves leadership (leader balancer).
    Leader,
    /// Moves a peer between stores (region balancer).
    Region,
    /// Merges a region into an adjacent one, or first moves its peers onto the other's stores
    /// (merge checker).
    Merge,
}

impl OperatorKind {
    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            OperatorKind::Replica => "replica",
            OperatorKind::Leader => "leader",
            OperatorKind::Region => "region",
            OperatorKind::Merge => "merge",
        }
    }
}

/// How far an operator got, after `Operator::check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A step remains; send it.
    Running,
    /// Every step is done.
    Finished,
    /// Ran longer than the operator timeout.
    TimedOut,
    /// No longer applies to the region (split, merged, or changed by someone else).
    Cancelled(String),
}

/// A per-region plan of steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    region_id: u64,
    kind: OperatorKind,
    desc: &'static str,
    steps: Vec<Step>,
    current: usize,
    epoch: metapb::RegionEpoch,
    created: Instant,
}

impl Operator {
    /// An operator for `region` (as last reported) made at `now`. `desc` names it the way
    /// upstream PD does (`add-replica`, `balance-leader`, ...).
    pub fn new(
        region: &metapb::Region,
        kind: OperatorKind,
        desc: &'static str,
        steps: Vec<Step>,
        now: Instant,
    ) -> Operator {
        Operator {
            region_id: region.id,
            kind,
            desc,
            steps,
            current: 0,
            epoch: region.region_epoch.unwrap_or_default(),
            created: now,
        }
    }

    /// The region it changes.
    pub fn region_id(&self) -> u64 {
        self.region_id
    }

    /// Its kind.
    pub fn kind(&self) -> OperatorKind {
        self.kind
    }

    /// Its name, such as `add-replica`.
    pub fn desc(&self) -> &'static str {
        self.desc
    }

    /// All its steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The index of the step in progress (`steps().len()` once finished).
    pub fn step_index(&self) -> usize {
        self.current
    }

    /// The step in progress.
    pub fn current_step(&self) -> Option<&Step> {
        self.steps.get(self.current)
    }

    /// How long it has been running at `now`.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    /// The region on the other side of the merge this operator is half of, if any.
    pub fn merge_partner(&self) -> Option<u64> {
        self.steps.iter().find_map(Step::merge_partner)
    }

    /// Whether the operator's current step merges its region away and `regions` shows it
    /// done: the target covers the source's range.
    pub(crate) fn merged_away(&self, regions: &RegionTree) -> bool {
        match self.current_step() {
            Some(Step::MergeRegion {
                source,
                target,
                passive: false,
            }) => regions
                .get(target.id)
                .is_some_and(|info| covers(&info.region, source)),
            _ => false,
        }
    }

    /// Advances past the steps the region (as last reported) shows done, and says whether the
    /// operator still runs. An operator older than `timeout`, or whose region split, merged or
    /// had its configuration changed by something else (beyond what its own steps change, such
    /// as a merge's), stops.
    pub fn check(&mut self, info: &RegionInfo, now: Instant, timeout: Duration) -> Progress {
        let epoch = info.region.region_epoch.unwrap_or_default();
        let versions = self
            .steps
            .iter()
            .map(Step::version_changes)
            .fold(0, u64::saturating_add);
        if epoch.version < self.epoch.version
            || epoch.version > self.epoch.version.saturating_add(versions)
        {
            return Progress::Cancelled(format!(
                "region version moved from {} to {}",
                self.epoch.version, epoch.version
            ));
        }
        let budget = self.steps.iter().map(Step::conf_changes).sum::<u64>();
        if epoch.conf_ver < self.epoch.conf_ver
            || epoch.conf_ver > self.epoch.conf_ver.saturating_add(budget)
        {
            return Progress::Cancelled(format!(
                "region conf_ver {} is outside {}..={}",
                epoch.conf_ver,
                self.epoch.conf_ver,
                self.epoch.conf_ver.saturating_add(budget)
            ));
        }
        while self.current_step().is_some_and(|step| step.is_done(info)) {
            self.current += 1;
        }
        if self.current >= self.steps.len() {
            Progress::Finished
        } else if self.age(now) >= timeout {
            Progress::TimedOut
        } else {
            Progress::Running
        }
    }

    /// The region heartbeat response carrying the current step for `region`'s `leader`, or
    /// `None` when there is nothing to send now.
    pub fn command(
        &self,
        cluster_id: u64,
        region: &metapb::Region,
        leader: &metapb::Peer,
    ) -> Option<pdpb::RegionHeartbeatResponse> {
        let instruction = self.current_step()?.instruction(region, leader)?;
        let mut response = pdpb::RegionHeartbeatResponse {
            header: Some(pdpb::ResponseHeader {
                cluster_id,
                error: None,
            }),
            region_id: region.id,
            region_epoch: region.region_epoch,
            target_peer: Some(*leader),
            ..Default::default()
        };
        match instruction {
            Instruction::ChangePeer(change) => response.change_peer = Some(change),
            Instruction::ChangePeerV2(changes) => response.change_peer_v2 = Some(changes),
            Instruction::TransferLeader(peer) => {
                response.transfer_leader = Some(pdpb::TransferLeader {
                    peer: Some(peer),
                    peers: vec![peer],
                });
            }
            Instruction::Merge(target) => {
                response.merge = Some(pdpb::Merge {
                    target: Some(target),
                })
            }
        }
        Some(response)
    }

    /// Adds what the remaining steps change in store loads to `influence`.
    pub(crate) fn influence(&self, influence: &mut Influence) {
        for step in &self.steps[self.current.min(self.steps.len())..] {
            step.influence(influence);
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (region {}", self.desc, self.region_id)?;
        match self.current_step() {
            Some(step) => write!(
                f,
                ", step {}/{}: {step})",
                self.current + 1,
                self.steps.len()
            ),
            None => write!(f, ", finished)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: u64, store_id: u64, role: PeerRole) -> metapb::Peer {
        metapb::Peer {
            id,
            store_id,
            role: role as i32,
            ..Default::default()
        }
    }

    fn info(region: &metapb::Region, leader: metapb::Peer) -> RegionInfo {
        RegionInfo {
            leader: Some(leader),
            ..RegionInfo::new(region.clone())
        }
    }

    fn region(conf_ver: u64, peers: Vec<metapb::Peer>) -> metapb::Region {
        metapb::Region {
            id: 9,
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver,
                version: 1,
            }),
            peers,
            ..Default::default()
        }
    }

    #[test]
    fn a_move_walks_through_learner_joint_change_and_removal() {
        let now = Instant::now();
        let timeout = Duration::from_secs(600);
        let leader = peer(1, 1, PeerRole::Voter);
        let source = peer(2, 2, PeerRole::Voter);
        let target = peer(4, 4, PeerRole::Learner);
        let start = region(3, vec![leader, source, peer(3, 3, PeerRole::Voter)]);
        let mut operator = Operator::new(
            &start,
            OperatorKind::Region,
            "balance-region",
            vec![
                Step::AddLearner { peer: target },
                Step::JointMove {
                    promote: target,
                    demote: source,
                },
                Step::RemovePeer { peer: source },
            ],
            now,
        );
        assert_eq!(
            operator.check(&info(&start, leader), now, timeout),
            Progress::Running
        );
        let add = operator.command(7, &start, &leader).unwrap();
        assert_eq!(add.region_id, 9);
        assert_eq!(add.target_peer, Some(leader));
        assert_eq!(add.header.unwrap().cluster_id, 7);
        let change_peer = add.change_peer.unwrap();
        assert_eq!(change_peer.change_type(), ConfChangeType::AddLearnerNode);
        assert_eq!(change_peer.peer, Some(target));

        let mut learner_added = start.clone();
        learner_added.peers.push(target);
        learner_added.region_epoch.as_mut().unwrap().conf_ver = 4;
        // Still catching up: not done, and nothing else is asked yet.
        let pending = RegionInfo {
            pending_peers: vec![target],
            ..info(&learner_added, leader)
        };
        assert_eq!(operator.check(&pending, now, timeout), Progress::Running);
        assert_eq!(operator.step_index(), 0);
        assert_eq!(operator.command(7, &learner_added, &leader), None);
        assert_eq!(
            operator.check(&info(&learner_added, leader), now, timeout),
            Progress::Running
        );
        assert_eq!(operator.step_index(), 1);
        let joint = operator.command(7, &learner_added, &leader).unwrap();
        let changes = joint.change_peer_v2.unwrap().changes;
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].change_type(), ConfChangeType::AddNode);
        assert_eq!(changes[0].peer.unwrap().id, target.id);
        assert_eq!(changes[0].peer.unwrap().role(), PeerRole::Voter);
        assert_eq!(changes[1].change_type(), ConfChangeType::AddLearnerNode);
        assert_eq!(changes[1].peer.unwrap().id, source.id);
        assert_eq!(changes[1].peer.unwrap().role(), PeerRole::Learner);

        // Caught in the joint state: ask to leave it.
        let mut in_joint = learner_added.clone();
        in_joint.peers[1].role = PeerRole::DemotingVoter as i32;
        in_joint.peers[3].role = PeerRole::IncomingVoter as i32;
        in_joint.region_epoch.as_mut().unwrap().conf_ver = 5;
        assert_eq!(
            operator.check(&info(&in_joint, leader), now, timeout),
            Progress::Running
        );
        let leave = operator.command(7, &in_joint, &leader).unwrap();
        assert!(leave.change_peer_v2.unwrap().changes.is_empty());

        let mut left = in_joint.clone();
        left.peers[1].role = PeerRole::Learner as i32;
        left.peers[3].role = PeerRole::Voter as i32;
        left.region_epoch.as_mut().unwrap().conf_ver = 6;
        assert_eq!(
            operator.check(&info(&left, leader), now, timeout),
            Progress::Running
        );
        let remove = operator
            .command(7, &left, &leader)
            .unwrap()
            .change_peer
            .unwrap();
        assert_eq!(remove.change_type(), ConfChangeType::RemoveNode);
        assert_eq!(remove.peer.unwrap().id, source.id);

        let mut removed = left.clone();
        removed.peers.remove(1);
        removed.region_epoch.as_mut().unwrap().conf_ver = 7;
        assert_eq!(
            operator.check(&info(&removed, leader), now, timeout),
            Progress::Finished
        );
    }

    #[test]
    fn a_leader_is_handed_over_before_removal_and_stale_operators_stop() {
        let now = Instant::now();
        let timeout = Duration::from_secs(10);
        let leader = peer(1, 1, PeerRole::Voter);
        let learner = peer(2, 2, PeerRole::Learner);
        let voter = peer(3, 3, PeerRole::Voter);
        let start = region(3, vec![leader, learner, voter]);
        let mut operator = Operator::new(
            &start,
            OperatorKind::Replica,
            "remove-extra-replica",
            vec![Step::RemovePeer { peer: leader }],
            now,
        );
        assert_eq!(
            operator.check(&info(&start, leader), now, timeout),
            Progress::Running
        );
        // Never to the learner.
        let transfer = operator.command(1, &start, &leader).unwrap();
        assert_eq!(transfer.transfer_leader.unwrap().peer, Some(voter));
        // Once another peer leads, the removal itself.
        let remove = operator.command(1, &start, &voter).unwrap();
        assert_eq!(
            remove.change_peer.unwrap().change_type(),
            ConfChangeType::RemoveNode
        );

        assert_eq!(
            operator.check(&info(&start, voter), now + timeout, timeout),
            Progress::TimedOut
        );
        let mut split = start.clone();
        split.region_epoch.as_mut().unwrap().version = 2;
        assert!(matches!(
            operator.check(&info(&split, voter), now, timeout),
            Progress::Cancelled(_)
        ));
        let mut older = start.clone();
        older.region_epoch.as_mut().unwrap().conf_ver = 2;
        assert!(matches!(
            operator.check(&info(&older, voter), now, timeout),
            Progress::Cancelled(_)
        ));
    }
}
