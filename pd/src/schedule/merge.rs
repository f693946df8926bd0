//! The merge checker, after upstream PD's: a small region (at most `max_merge_region_size`
//! bytes and `max_merge_region_keys` keys) merges into an adjacent one, so that deletes and
//! split leftovers do not leave the cluster with many near-empty regions.
//!
//! Both regions must be healthy and settled: a known leader that has heartbeated (so their
//! sizes are known; zero counts as empty), exactly `max_replicas` voters on Up stores and no
//! learners, no down or pending peers, no joint state, no operator, and no split within
//! `split_merge_interval`. Of the two neighbours, the next one is taken unless the previous one
//! also qualifies and is smaller (upstream's choice); the pair must stay within
//! `max_merged_region_size`, and never meets at a keyspace edge. When the source's peers are
//! not on the target's stores, the checker first moves one of them (a later pass moves the
//! next, then merges); otherwise it merges. Either way the target gets a passive operator too.

use std::time::Instant;

use super::balance::{fully_replicated, move_peer, peer_on, schedulable};
use super::{AllocId, Operator, OperatorKind, Placement, ScheduleConfig, Step};
use crate::error::Result;
use crate::keyspace::is_keyspace_edge;
use crate::region::RegionInfo;

/// The name of merge operators (upstream's).
const MERGE_REGION: &str = "merge-region";

/// Whether merging is on at `now` for a PD started at `started`. Right after a start PD does
/// not know which regions split lately, so it waits `split_merge_interval`, as upstream does.
pub(crate) fn enabled(config: &ScheduleConfig, started: Instant, now: Instant) -> bool {
    config.max_merge_region_size > 0
        && now.saturating_duration_since(started) >= config.split_merge_interval
}

/// The operators merging `source`'s region into a neighbour, or moving one of its peers
/// towards the neighbour's stores first: the source's operator, then the target's passive one.
pub(crate) fn check_merge(
    placement: &Placement<'_>,
    source: &RegionInfo,
    alloc_id: &mut AllocId<'_>,
    now: Instant,
) -> Result<Option<[Operator; 2]>> {
    let config = placement.config;
    let small = source.stats.approximate_size <= config.max_merge_region_size
        && source.stats.approximate_keys <= config.max_merge_region_keys;
    if !small || !mergeable(placement, source, now) {
        return Ok(None);
    }
    let Some(target) = pick_target(placement, source, now) else {
        return Ok(None);
    };
    let merged_size = source
        .stats
        .approximate_size
        .saturating_add(target.stats.approximate_size);
    if merged_size > config.max_merged_region_size {
        return Ok(None);
    }
    let first = if store_ids(source) == store_ids(target) {
        merge_operator(source, target, false, now)
    } else {
        let Some(operator) = match_one_peer(placement, source, target, alloc_id, now)? else {
            return Ok(None);
        };
        operator
    };
    Ok(Some([first, merge_operator(source, target, true, now)]))
}

/// Whether a region may take part in a merge, as source or target.
fn mergeable(placement: &Placement<'_>, info: &RegionInfo, now: Instant) -> bool {
    info.last_heartbeat.is_some()
        && schedulable(placement, info)
        && fully_replicated(placement, info)
        && !placement.split_recently(info.region.id, now)
}

/// The neighbour to merge `source` into: the next region, or the previous one when it is
/// smaller (or the only one that qualifies).
fn pick_target<'a>(
    placement: &Placement<'a>,
    source: &RegionInfo,
    now: Instant,
) -> Option<&'a RegionInfo> {
    let (prev, next) = placement.regions.adjacent(&source.region);
    let prev = prev.filter(|prev| {
        !is_keyspace_edge(&source.region.start_key) && mergeable(placement, prev, now)
    });
    let next = next.filter(|next| {
        !is_keyspace_edge(&source.region.end_key) && mergeable(placement, next, now)
    });
    match (prev, next) {
        (Some(prev), Some(next)) if prev.stats.approximate_size < next.stats.approximate_size => {
            Some(prev)
        }
        (prev, next) => next.or(prev),
    }
}

fn store_ids(info: &RegionInfo) -> Vec<u64> {
    let mut stores: Vec<u64> = info.region.peers.iter().map(|peer| peer.store_id).collect();
    stores.sort_unstable();
    stores
}

/// The source's half of a merge (`passive` false) or the target's.
fn merge_operator(
    source: &RegionInfo,
    target: &RegionInfo,
    passive: bool,
    now: Instant,
) -> Operator {
    let step = Step::MergeRegion {
        source: Box::new(source.region.clone()),
        target: Box::new(target.region.clone()),
        passive,
    };
    let region = if passive {
        &target.region
    } else {
        &source.region
    };
    Operator::new(region, OperatorKind::Merge, MERGE_REGION, vec![step], now)
}

/// Moves one of `source`'s peers on a store `target` has no peer on (a follower's first) to the
/// lowest such store of `target`'s.
fn match_one_peer(
    placement: &Placement<'_>,
    source: &RegionInfo,
    target: &RegionInfo,
    alloc_id: &mut AllocId<'_>,
    now: Instant,
) -> Result<Option<Operator>> {
    let leader_store = source.leader.map(|leader| leader.store_id);
    let demote = source
        .region
        .peers
        .iter()
        .filter(|peer| peer_on(&target.region, peer.store_id).is_none())
        .min_by_key(|peer| (Some(peer.store_id) == leader_store, peer.store_id));
    let to = store_ids(target)
        .into_iter()
        .find(|store_id| peer_on(&source.region, *store_id).is_none());
    let (Some(demote), Some(to)) = (demote, to) else {
        return Ok(None);
    };
    let steps = move_peer(placement, source, *demote, to, alloc_id)?;
    Ok(steps.map(|steps| {
        let kind = OperatorKind::Merge;
        Operator::new(&source.region, kind, "merge-match-peers", steps, now)
    }))
}
