//! The balancers, run on every scheduling tick. The leader balancer evens out leaders across Up
//! stores with leader transfers; the region balancer evens out region peers with joint-consensus
//! moves (add a learner on the target, swap roles in one joint conf change, remove the demoted
//! peer). Each acts only when the most and least loaded Up stores differ by more than one, and
//! counts in what running operators will still change, so concurrent operators do not
//! overshoot.

use std::cmp::Reverse;
use std::time::Instant;

use basalt_proto::metapb::{self, PeerRole};

use super::operator::{is_joint, is_voter};
use super::{AllocId, Operator, OperatorKind, Placement, Step, StoreLoad, StoreState};
use crate::error::Result;
use crate::region::RegionInfo;

/// Whether a region may be touched by a balancer (or the merge checker): no operator, a known
/// leader, every peer caught up and alive, not in a joint state.
pub(super) fn schedulable(placement: &Placement<'_>, info: &RegionInfo) -> bool {
    !placement.has_operator(info.region.id)
        && info.leader.is_some()
        && info.pending_peers.is_empty()
        && info.down_peers.is_empty()
        && !is_joint(&info.region)
}

/// Whether a region has exactly `max_replicas` voters, no learners, and all its peers on Up
/// stores.
pub(super) fn fully_replicated(placement: &Placement<'_>, info: &RegionInfo) -> bool {
    let peers = &info.region.peers;
    peers.len() == placement.config.max_replicas
        && peers
            .iter()
            .all(|peer| is_voter(peer) && placement.state(peer.store_id) == StoreState::Up)
        && info.down_peers.is_empty()
}

/// Store ids with one load figure each.
type Ranking = Vec<(u64, i64)>;

/// Up stores ordered from most to least loaded (sources), and from least to most (targets),
/// by `key`.
fn by_load(placement: &Placement<'_>, key: impl Fn(&StoreLoad) -> i64) -> (Ranking, Ranking) {
    let loads: Ranking = placement
        .up_stores()
        .into_iter()
        .map(|(id, load)| (id, key(&load)))
        .collect();
    let mut sources = loads.clone();
    sources.sort_by_key(|(id, load)| (Reverse(*load), *id));
    let mut targets = loads;
    targets.sort_by_key(|(id, load)| (*load, *id));
    (sources, targets)
}

pub(super) fn peer_on(region: &metapb::Region, store_id: u64) -> Option<&metapb::Peer> {
    region.peers.iter().find(|peer| peer.store_id == store_id)
}

/// A leader transfer from the store with the most leaders to one with fewer (by more than
/// one), of a region that has a voter there.
pub(crate) fn balance_leader(placement: &Placement<'_>, now: Instant) -> Option<Operator> {
    if placement.up_store_count() < 2 {
        return None;
    }
    let (sources, targets) = by_load(placement, |load| load.leaders);
    for (source, source_leaders) in &sources {
        for (target, target_leaders) in &targets {
            if source_leaders - target_leaders <= 1 {
                break;
            }
            let candidate = placement.regions.iter().find_map(|info| {
                let led_by_source = info.leader.is_some_and(|l| l.store_id == *source);
                if !led_by_source || !schedulable(placement, info) {
                    return None;
                }
                // Never to a learner: it cannot lead.
                let to = peer_on(&info.region, *target).filter(|peer| is_voter(peer))?;
                Some((info, *to))
            });
            if let Some((info, to)) = candidate {
                let steps = vec![Step::TransferLeader {
                    from_store_id: *source,
                    to,
                }];
                return Some(Operator::new(
                    &info.region,
                    OperatorKind::Leader,
                    "balance-leader",
                    steps,
                    now,
                ));
            }
        }
    }
    None
}

/// A peer move from the store with the most region peers to one with fewer (by more than
/// one), once every region is fully replicated. Regions not led from the source store are
/// preferred; otherwise the move starts by handing leadership to another voter.
pub(crate) fn balance_region(
    placement: &Placement<'_>,
    alloc_id: &mut AllocId<'_>,
    now: Instant,
) -> Result<Option<Operator>> {
    if placement.up_store_count() < 2 {
        return Ok(None);
    }
    let busy_elsewhere = placement.regions.iter().any(|info| {
        let moving = placement.operator_kind(info.region.id) == Some(OperatorKind::Region);
        !moving && !fully_replicated(placement, info)
    });
    if busy_elsewhere {
        return Ok(None);
    }
    let (sources, targets) = by_load(placement, |load| load.regions);
    for (source, source_regions) in &sources {
        for (target, target_regions) in &targets {
            if source_regions - target_regions <= 1 {
                break;
            }
            let movable = |info: &&RegionInfo| {
                schedulable(placement, info)
                    && peer_on(&info.region, *source).is_some_and(is_voter)
                    && peer_on(&info.region, *target).is_none()
            };
            let led_elsewhere =
                |info: &&RegionInfo| info.leader.is_some_and(|leader| leader.store_id != *source);
            let candidate = placement
                .regions
                .iter()
                .filter(movable)
                .find(led_elsewhere)
                .or_else(|| placement.regions.iter().find(movable));
            let Some(info) = candidate else {
                continue;
            };
            let Some(demote) = peer_on(&info.region, *source) else {
                continue;
            };
            let Some(steps) = move_peer(placement, info, *demote, *target, alloc_id)? else {
                continue;
            };
            return Ok(Some(Operator::new(
                &info.region,
                OperatorKind::Region,
                "balance-region",
                steps,
                now,
            )));
        }
    }
    Ok(None)
}

/// The steps moving voter `demote` of `info`'s region to a new peer on store `target`: when
/// `demote` leads, a leader transfer to the voter on the store with the fewest leaders first;
/// then a learner on `target`, a joint swap of the two peers' roles, and the removal of the
/// demoted peer. `None` when the region has no known leader or no other voter to lead it.
pub(super) fn move_peer(
    placement: &Placement<'_>,
    info: &RegionInfo,
    demote: metapb::Peer,
    target: u64,
    alloc_id: &mut AllocId<'_>,
) -> Result<Option<Vec<Step>>> {
    let Some(leader) = info.leader else {
        return Ok(None);
    };
    let mut steps = Vec::new();
    if leader.store_id == demote.store_id {
        let Some(to) = info
            .region
            .peers
            .iter()
            .filter(|peer| is_voter(peer) && peer.store_id != demote.store_id)
            .min_by_key(|peer| (placement.load(peer.store_id).leaders, peer.store_id))
        else {
            return Ok(None);
        };
        steps.push(Step::TransferLeader {
            from_store_id: demote.store_id,
            to: *to,
        });
    }
    let promote = metapb::Peer {
        id: alloc_id()?,
        store_id: target,
        role: PeerRole::Learner as i32,
        ..Default::default()
    };
    steps.push(Step::AddLearner { peer: promote });
    steps.push(Step::JointMove { promote, demote });
    steps.push(Step::RemovePeer {
        peer: metapb::Peer {
            role: PeerRole::Learner as i32,
            ..demote
        },
    });
    Ok(Some(steps))
}
