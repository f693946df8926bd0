//! The replica checker: keeps every region at `max_replicas` healthy voters. It looks at one
//! region without an operator and proposes at most one operator, in this order of urgency:
//! replace (or, when replacing is not possible or wanted, remove) a peer on a down store, move
//! peers off offline stores, settle stray learners, add missing voters, remove extra ones.
//! Regions with pending (lagging) peers get nothing but the removal of down peers.

use std::cmp::Reverse;
use std::time::Instant;

use basalt_proto::metapb::{self, PeerRole};

use super::operator::{is_joint, is_learner, is_voter};
use super::{AllocId, Operator, OperatorKind, Placement, Step, StoreState};
use crate::error::Result;
use crate::region::RegionInfo;

/// The operator `info`'s region needs, if any.
pub(crate) fn check_replicas(
    placement: &Placement<'_>,
    info: &RegionInfo,
    alloc_id: &mut AllocId<'_>,
    now: Instant,
) -> Result<Option<Operator>> {
    let region = &info.region;
    let Some(leader) = info.leader else {
        return Ok(None);
    };
    // A joint state is the middle of someone's operator; the store leaves it on its own.
    if is_joint(region) {
        return Ok(None);
    }
    let max_replicas = placement.config.max_replicas;
    let voters: Vec<&metapb::Peer> = region.peers.iter().filter(|p| is_voter(p)).collect();
    let operator = |desc, steps| {
        Some(Operator::new(
            region,
            OperatorKind::Replica,
            desc,
            steps,
            now,
        ))
    };
    let mut new_learner = |store_id| -> Result<metapb::Peer> {
        Ok(metapb::Peer {
            id: alloc_id()?,
            store_id,
            role: PeerRole::Learner as i32,
            ..Default::default()
        })
    };
    let replace = |old: metapb::Peer, new: metapb::Peer| {
        vec![
            Step::AddLearner { peer: new },
            Step::PromoteLearner { peer: new },
            Step::RemovePeer { peer: old },
        ]
    };

    // The leader answers for the region, so it is never the down one.
    let down_seconds = placement.config.max_store_down_time.as_secs();
    let is_down = |peer: &metapb::Peer| {
        matches!(
            placement.state(peer.store_id),
            StoreState::Down | StoreState::Tombstone
        ) || info.down_peers.iter().any(|stats| {
            stats.peer.is_some_and(|down| down.id == peer.id) && stats.down_seconds >= down_seconds
        })
    };
    if let Some(down) = region
        .peers
        .iter()
        .find(|peer| peer.id != leader.id && is_down(peer))
    {
        if !is_voter(down) || voters.len() > max_replicas || !info.pending_peers.is_empty() {
            let steps = vec![Step::RemovePeer { peer: *down }];
            return Ok(operator("remove-down-replica", steps));
        }
        // Without a store to replace it on, a down voter still counts towards the quorum's
        // size: keep it rather than shrink the group.
        let Some(store_id) = placement.target_store(region) else {
            return Ok(None);
        };
        let steps = replace(*down, new_learner(store_id)?);
        return Ok(operator("replace-down-replica", steps));
    }
    if !info.pending_peers.is_empty() {
        return Ok(None);
    }

    if let Some(offline) = region
        .peers
        .iter()
        .find(|peer| placement.state(peer.store_id) == StoreState::Offline)
    {
        // A leader there is asked to hand over first (the remove step does that).
        if !is_voter(offline) || voters.len() > max_replicas {
            let steps = vec![Step::RemovePeer { peer: *offline }];
            return Ok(operator("remove-offline-replica", steps));
        }
        let Some(store_id) = placement.target_store(region) else {
            return Ok(None);
        };
        let steps = replace(*offline, new_learner(store_id)?);
        return Ok(operator("replace-offline-replica", steps));
    }

    // A learner no operator is moving: left over from a dropped operator.
    if let Some(learner) = region.peers.iter().find(|peer| is_learner(peer)) {
        return Ok(if voters.len() < max_replicas {
            operator(
                "promote-learner",
                vec![Step::PromoteLearner { peer: *learner }],
            )
        } else {
            operator("remove-learner", vec![Step::RemovePeer { peer: *learner }])
        });
    }

    if voters.len() < max_replicas {
        let Some(store_id) = placement.target_store(region) else {
            return Ok(None);
        };
        let peer = new_learner(store_id)?;
        let steps = vec![Step::AddLearner { peer }, Step::PromoteLearner { peer }];
        return Ok(operator("add-replica", steps));
    }

    if voters.len() > max_replicas {
        // The voter on the fullest store; on a tie, not the leader.
        let Some(victim) = voters
            .iter()
            .max_by_key(|peer| {
                (
                    placement.load(peer.store_id).regions,
                    peer.id != leader.id,
                    Reverse(peer.store_id),
                )
            })
            .copied()
        else {
            return Ok(None);
        };
        let mut steps = Vec::new();
        if victim.id == leader.id {
            let Some(to) = voters
                .iter()
                .filter(|peer| peer.id != leader.id)
                .min_by_key(|peer| (placement.load(peer.store_id).leaders, peer.store_id))
            else {
                return Ok(None);
            };
            steps.push(Step::TransferLeader {
                from_store_id: leader.store_id,
                to: **to,
            });
        }
        steps.push(Step::RemovePeer { peer: *victim });
        return Ok(operator("remove-extra-replica", steps));
    }
    Ok(None)
}
