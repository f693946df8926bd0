//! Merge scenarios: which regions merge into which, what blocks a merge, how the peers are
//! lined up first, and how the two operators of a merge end.

use std::time::{Duration, Instant};

use basalt_proto::metapb::{self, PeerRole};
use basalt_proto::pdpb;

use super::{describe, peer, region, scheduler_with_stores, Harness};
use crate::keyspace::keyspace_edges;
use crate::region::{RegionInfo, RegionTree};
use crate::schedule::{merge, OperatorKind, ScheduleConfig, MIB};

const INTERVAL: Duration = Duration::from_secs(60);

fn config() -> ScheduleConfig {
    ScheduleConfig {
        split_merge_interval: INTERVAL,
        ..Default::default()
    }
}

/// A heartbeat of `region` led by `leader`, reporting `mib` MiB and no keys.
fn request(
    region: &metapb::Region,
    leader: metapb::Peer,
    mib: u64,
) -> pdpb::RegionHeartbeatRequest {
    pdpb::RegionHeartbeatRequest {
        region: Some(region.clone()),
        leader: Some(leader),
        approximate_size: mib * MIB,
        ..Default::default()
    }
}

/// Splits the bootstrap region at `splits` into regions 10, 11, ... (version 2), reported by
/// their leaders' heartbeats now: region `10 + i` has voters on `stores[i]`, is led from
/// `stores[i][i % 3]` (leaders spread, so that the leader balancer keeps still) and is
/// `sizes[i]` MiB. Returns the regions and their leaders.
fn split_into(
    harness: &mut Harness,
    splits: &[impl AsRef<[u8]>],
    stores: &[[u64; 3]],
    sizes: &[u64],
) -> Vec<(metapb::Region, metapb::Peer)> {
    let mut bounds = vec![&b""[..]];
    bounds.extend(splits.iter().map(AsRef::as_ref));
    bounds.push(b"");
    let mut out = Vec::new();
    for (index, range) in bounds.windows(2).enumerate() {
        let id = 10 + index as u64;
        let peers: Vec<metapb::Peer> = stores[index]
            .iter()
            .map(|&s| peer(id * 10 + s, s))
            .collect();
        let region = region(id, (range[0], range[1]), 2, &peers);
        let leader = peers[index % 3];
        assert!(harness
            .heartbeat(request(&region, leader, sizes[index]))
            .is_none());
        out.push((region, leader));
    }
    out
}

/// The commands of one scheduling pass, as `(region, store, step)`.
fn schedule(harness: &mut Harness) -> Vec<(u64, u64, String)> {
    let commands = harness.cluster.schedule_at(harness.now).unwrap();
    commands
        .iter()
        .map(|c| (c.response.region_id, c.store_id, describe(&c.response)))
        .collect()
}

fn running(harness: &Harness, region_id: u64) -> Option<(OperatorKind, &'static str)> {
    let (operator, status) = harness.cluster.operator_status(region_id)?;
    (status == pdpb::OperatorStatus::Running).then(|| (operator.kind(), operator.desc()))
}

fn merge_command(region_id: u64, store_id: u64, target: u64) -> Vec<(u64, u64, String)> {
    vec![(region_id, store_id, format!("Merge into r{target}"))]
}

#[test]
fn a_small_region_merges_into_its_smaller_neighbour_once_the_target_covers_it() {
    let mut harness = Harness::new(3, config());
    let regions = split_into(&mut harness, &[b"b", b"c"], &[[1, 2, 3]; 3], &[30, 1, 40]);
    assert!(
        schedule(&mut harness).is_empty(),
        "the regions split just now"
    );
    harness.now += INTERVAL;

    let commands = harness.cluster.schedule_at(harness.now).unwrap();
    assert_eq!(commands.len(), 1, "only the source is told: {commands:?}");
    assert_eq!(
        (commands[0].store_id, commands[0].response.region_id),
        (2, 11)
    );
    let target = regions[0].0.clone();
    let merge = pdpb::Merge {
        target: Some(target.clone()),
    };
    assert_eq!(commands[0].response.merge, Some(merge));
    let merging = Some((OperatorKind::Merge, "merge-region"));
    assert_eq!(
        (running(&harness, 11), running(&harness, 10)),
        (merging, merging)
    );
    assert_eq!(OperatorKind::Merge.name(), "merge");

    // The target's leader is asked nothing; the source's is asked again, also once
    // PrepareMerge has bumped the source's epoch.
    assert!(harness
        .heartbeat(request(&target, regions[0].1, 30))
        .is_none());
    let (mut source, source_leader) = regions[1].clone();
    let again = harness
        .heartbeat(request(&source, source_leader, 1))
        .unwrap();
    assert_eq!(describe(&again), "Merge into r10");
    let epoch = source.region_epoch.as_mut().unwrap();
    (epoch.version, epoch.conf_ver) = (epoch.version + 1, epoch.conf_ver + 1);
    let prepared = harness
        .heartbeat(request(&source, source_leader, 1))
        .unwrap();
    assert_eq!(describe(&prepared), "Merge into r10");

    // CommitMerge: the target's heartbeat covers both ranges, and the source is gone.
    let merged = region(10, (b"", b"c"), 4, &target.peers);
    assert!(harness
        .heartbeat(request(&merged, regions[0].1, 31))
        .is_none());
    assert!(harness.cluster.region_by_id(11).unwrap().is_none());
    let success = Some(pdpb::OperatorStatus::Success);
    assert_eq!(
        (harness.finished(11), harness.finished(10)),
        (success, success)
    );
    assert!(harness.cluster.operators().is_empty());
}

#[test]
fn a_merge_also_ends_on_the_patrol_and_both_halves_time_out_together() {
    let mut harness = Harness::new(3, config());
    let regions = split_into(&mut harness, &[b"b", b"c"], &[[1, 2, 3]; 3], &[30, 1, 40]);
    harness.now += INTERVAL;
    assert_eq!(schedule(&mut harness), merge_command(11, 2, 10));
    // The covering target arrives without a heartbeat (an in-process update): the next pass
    // finds the source gone and merged.
    let merged = region(10, (b"", b"c"), 4, &regions[0].0.peers);
    harness.cluster.put_region(merged, None).unwrap();
    assert!(schedule(&mut harness).is_empty());
    let success = Some(pdpb::OperatorStatus::Success);
    assert_eq!(
        (harness.finished(11), harness.finished(10)),
        (success, success)
    );

    let mut harness = Harness::new(3, config());
    split_into(&mut harness, &[b"b", b"c"], &[[1, 2, 3]; 3], &[30, 1, 40]);
    harness.now += INTERVAL;
    assert_eq!(schedule(&mut harness), merge_command(11, 2, 10));
    harness.now += config().operator_timeout;
    // Both stop; the same pass tries again.
    assert_eq!(schedule(&mut harness), merge_command(11, 2, 10));
    let timeout = Some(pdpb::OperatorStatus::Timeout);
    assert_eq!(
        (harness.finished(11), harness.finished(10)),
        (timeout, timeout)
    );
}

#[test]
fn large_regions_and_large_results_are_not_merged() {
    let mut harness = Harness::new(3, config());
    let regions = split_into(&mut harness, &[b"b", b"c"], &[[1, 2, 3]; 3], &[90, 21, 90]);
    harness.now += INTERVAL;
    let report = |harness: &mut Harness, index: usize, mib: u64, keys: u64| {
        let (region, leader) = &regions[index];
        let heartbeat = pdpb::RegionHeartbeatRequest {
            approximate_keys: keys,
            ..request(region, *leader, mib)
        };
        assert!(harness.heartbeat(heartbeat).is_none());
    };
    report(&mut harness, 1, 21, 0);
    assert!(schedule(&mut harness).is_empty(), "21 MiB is too large");
    report(&mut harness, 1, 1, 200_001);
    assert!(schedule(&mut harness).is_empty(), "too many keys");
    report(&mut harness, 1, 10, 200_000);
    assert!(schedule(&mut harness).is_empty(), "10 + 90 MiB is over 96");
    report(&mut harness, 2, 80, 0);
    assert_eq!(schedule(&mut harness), merge_command(11, 2, 12));

    let config = ScheduleConfig {
        max_merge_region_size: 0,
        ..config()
    };
    let mut harness = Harness::new(3, config);
    split_into(&mut harness, &[b"b"], &[[1, 2, 3]; 2], &[0, 0]);
    harness.now += INTERVAL;
    assert!(schedule(&mut harness).is_empty(), "merging is off");
}

#[test]
fn a_region_that_split_recently_merges_only_after_the_interval() {
    let mut harness = Harness::new(3, config());
    let regions = split_into(&mut harness, &[b"b", b"c"], &[[1, 2, 3]; 3], &[50, 1, 50]);
    harness.now += INTERVAL;
    // Region 11 splits again: [b, bm) stays 11, [bm, c) becomes 13.
    let (left, leader) = &regions[1];
    let peers: Vec<metapb::Peer> = [1, 2, 3].map(|s| peer(130 + s, s)).to_vec();
    let right = region(13, (b"bm", b"c"), 3, &peers);
    let left = region(11, (b"b", b"bm"), 3, &left.peers);
    assert!(harness.heartbeat(request(&left, *leader, 1)).is_none());
    assert!(harness.heartbeat(request(&right, peers[0], 1)).is_none());
    assert!(schedule(&mut harness).is_empty());
    harness.now += INTERVAL - Duration::from_secs(1);
    assert!(schedule(&mut harness).is_empty());
    harness.now += Duration::from_secs(1);
    assert_eq!(schedule(&mut harness), merge_command(11, 2, 13));
}

#[test]
fn pending_or_down_peers_block_a_merge() {
    let mut harness = Harness::new(3, config());
    let regions = split_into(&mut harness, &[b"m"], &[[1, 2, 3]; 2], &[1, 1]);
    harness.now += INTERVAL;
    let (region, leader) = &regions[1];
    let pending = pdpb::RegionHeartbeatRequest {
        pending_peers: vec![region.peers[1]],
        ..request(region, *leader, 1)
    };
    assert!(harness.heartbeat(pending).is_none());
    assert!(schedule(&mut harness).is_empty(), "a pending peer");
    let down = pdpb::RegionHeartbeatRequest {
        down_peers: vec![pdpb::PeerStats {
            peer: Some(region.peers[2]),
            down_seconds: 10,
        }],
        ..request(region, *leader, 1)
    };
    assert!(harness.heartbeat(down).is_none());
    assert!(schedule(&mut harness).is_empty(), "a down peer");
    assert!(harness.heartbeat(request(region, *leader, 1)).is_none());
    assert_eq!(schedule(&mut harness), merge_command(10, 1, 11));
}

#[test]
fn learners_and_regions_never_heartbeated_are_not_merged() {
    let now = Instant::now();
    let (scheduler, stores) = scheduler_with_stores(3, config(), now);
    let heartbeated = |region: metapb::Region| RegionInfo {
        leader: Some(region.peers[0]),
        last_heartbeat: Some(now),
        ..RegionInfo::new(region)
    };
    let voters = |id: u64| [1, 2, 3].map(|s| peer(id * 10 + s, s));
    let learner = metapb::Peer {
        role: PeerRole::Learner as i32,
        ..peer(114, 4)
    };
    let mut with_learner = voters(11).to_vec();
    with_learner.push(learner);
    let mut regions = RegionTree::default();
    regions.insert(heartbeated(region(10, (b"", b"m"), 2, &voters(10))));
    regions.insert(heartbeated(region(11, (b"m", b""), 2, &with_learner)));
    let mut alloc_id = || -> crate::Result<u64> { Ok(1000) };
    let check = |regions: &RegionTree, alloc_id: &mut dyn FnMut() -> crate::Result<u64>| {
        let placement = scheduler.placement(&stores, regions, now);
        let source = regions.get(10).unwrap();
        merge::check_merge(&placement, source, alloc_id, now).unwrap()
    };
    assert!(check(&regions, &mut alloc_id).is_none(), "a learner");
    let never_heartbeated = RegionInfo {
        leader: Some(voters(11)[0]),
        ..RegionInfo::new(region(11, (b"m", b""), 2, &voters(11)))
    };
    regions.insert(never_heartbeated);
    assert!(check(&regions, &mut alloc_id).is_none(), "no heartbeat");
    regions.insert(heartbeated(region(11, (b"m", b""), 2, &voters(11))));
    let [source, target] = check(&regions, &mut alloc_id).unwrap();
    assert_eq!((source.region_id(), target.region_id()), (10, 11));
}

#[test]
fn peers_on_other_stores_move_to_the_targets_stores_before_the_merge() {
    let mut harness = Harness::new(4, config());
    let stores = [[1, 2, 3], [1, 2, 4]];
    let regions = split_into(&mut harness, &[b"m"], &stores, &[1, 1]);
    harness.now += INTERVAL;
    assert_eq!(
        schedule(&mut harness),
        [(10, 1, "AddLearnerNode s4".to_string())]
    );
    assert_eq!(
        running(&harness, 10),
        Some((OperatorKind::Merge, "merge-match-peers"))
    );
    assert_eq!(
        running(&harness, 11),
        Some((OperatorKind::Merge, "merge-region"))
    );
    let (mut source, mut leader) = regions[0].clone();
    let trace = harness.drive(&mut source, &mut leader, 10);
    assert_eq!(
        trace,
        [
            "AddLearnerNode s4",
            "Joint[AddNode s4, AddLearnerNode s3]",
            "LeaveJoint",
            "RemoveNode s3"
        ]
    );
    let success = Some(pdpb::OperatorStatus::Success);
    assert_eq!(
        (harness.finished(10), harness.finished(11)),
        (success, success)
    );
    assert_eq!(schedule(&mut harness), merge_command(10, 1, 11));
}

#[test]
fn regions_never_merge_across_a_keyspace_edge() {
    let mut harness = Harness::new(3, config());
    let [raw_start, raw_end, ..] = keyspace_edges();
    let mut inside = raw_start.clone();
    inside.push(b'k');
    let splits = [&raw_start, &inside, &raw_end];
    split_into(&mut harness, &splits, &[[1, 2, 3]; 4], &[1, 1, 1, 1]);
    harness.now += INTERVAL;
    // Only the two halves of the keyspace's raw range merge.
    assert_eq!(schedule(&mut harness), merge_command(11, 2, 12));
    assert_eq!(running(&harness, 10), None);
    assert_eq!(running(&harness, 13), None);
}
