//! Scheduling scenarios driven through `Cluster` on a synthetic clock: a simulated leader
//! applies every step PD sends (entering and leaving joint states explicitly, as TiKV does) and
//! heartbeats again, and each test checks the trace of steps. Merge scenarios are in `merge`.

mod merge;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use basalt_proto::eraftpb::ConfChangeType;
use basalt_proto::metapb::{self, PeerRole};
use basalt_proto::pdpb;

use super::{balance, ScheduleConfig, Scheduler, Step};
use crate::cluster::Cluster;
use crate::region::{RegionInfo, RegionTree};

const STORE_DOWN: Duration = Duration::from_secs(60);

fn peer(id: u64, store_id: u64) -> metapb::Peer {
    metapb::Peer {
        id,
        store_id,
        ..Default::default()
    }
}

fn region(id: u64, range: (&[u8], &[u8]), version: u64, peers: &[metapb::Peer]) -> metapb::Region {
    metapb::Region {
        id,
        start_key: range.0.to_vec(),
        end_key: range.1.to_vec(),
        region_epoch: Some(metapb::RegionEpoch {
            conf_ver: 1,
            version,
        }),
        peers: peers.to_vec(),
        ..Default::default()
    }
}

/// A cluster of stores 1..=n, bootstrapped with region 10 (peer 110 on store 1) covering all
/// keys. Fixed ids stay below 1000; PD allocates new peer ids above.
struct Harness {
    _dir: tempfile::TempDir,
    cluster: Cluster,
    now: Instant,
}

impl Harness {
    fn new(stores: u64, config: ScheduleConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = Cluster::open_with(dir.path(), config).unwrap();
        cluster.alloc_ids(1000).unwrap();
        let store = |id: u64| metapb::Store {
            id,
            address: format!("127.0.0.1:{}", 20160 + id),
            ..Default::default()
        };
        cluster
            .bootstrap(store(1), region(10, (b"", b""), 1, &[peer(110, 1)]))
            .unwrap();
        for id in 2..=stores {
            cluster.put_store(store(id)).unwrap();
        }
        Harness {
            _dir: dir,
            cluster,
            now: Instant::now(),
        }
    }

    /// Moves the clock; stores not in `alive` stop heartbeating.
    fn advance(&mut self, by: Duration, alive: &[u64]) {
        self.now += by;
        for &store_id in alive {
            let stats = pdpb::StoreStats {
                store_id,
                ..Default::default()
            };
            self.cluster.store_heartbeat_at(stats, self.now).unwrap();
        }
    }

    /// How the region's last stopped operator ended.
    fn finished(&self, region_id: u64) -> Option<pdpb::OperatorStatus> {
        let finished = self.cluster.scheduler().finished(region_id);
        finished.map(|(_, status)| *status)
    }

    fn heartbeat(
        &mut self,
        request: pdpb::RegionHeartbeatRequest,
    ) -> Option<pdpb::RegionHeartbeatResponse> {
        let response = self
            .cluster
            .region_heartbeat_at(&request, self.now)
            .unwrap();
        if let Some(response) = &response {
            // Every step names the region, its epoch as reported and the leader asked.
            let region = request.region.as_ref().unwrap();
            assert_eq!(response.region_id, region.id);
            assert_eq!(response.region_epoch, region.region_epoch);
            assert_eq!(response.target_peer, request.leader);
            let cluster_id = response.header.as_ref().unwrap().cluster_id;
            assert_eq!(cluster_id, self.cluster.cluster_id());
        }
        response
    }

    /// Heartbeats `region` led by `leader`, applies what PD answers, and repeats until PD has
    /// nothing more to ask (at most `limit` rounds). Returns the steps, described.
    fn drive(
        &mut self,
        region: &mut metapb::Region,
        leader: &mut metapb::Peer,
        limit: usize,
    ) -> Vec<String> {
        let mut trace = Vec::new();
        for _ in 0..limit {
            let request = pdpb::RegionHeartbeatRequest {
                region: Some(region.clone()),
                leader: Some(*leader),
                ..Default::default()
            };
            let Some(response) = self.heartbeat(request) else {
                return trace;
            };
            trace.push(describe(&response));
            apply(region, leader, &response);
        }
        panic!("still scheduling after {limit} rounds: {trace:?}");
    }
}

fn change_name(change: &pdpb::ChangePeer) -> String {
    let peer = change.peer.unwrap_or_default();
    format!("{:?} s{}", change.change_type(), peer.store_id)
}

/// A step as a short string: `AddLearnerNode s2`, `Joint[AddNode s4, AddLearnerNode s1]`,
/// `LeaveJoint`, `TransferLeader s2`, `Merge into r10`.
fn describe(response: &pdpb::RegionHeartbeatResponse) -> String {
    if let Some(merge) = &response.merge {
        let target = merge.target.as_ref().map_or(0, |target| target.id);
        return format!("Merge into r{target}");
    }
    if let Some(change) = &response.change_peer {
        return change_name(change);
    }
    if let Some(v2) = &response.change_peer_v2 {
        if v2.changes.is_empty() {
            return "LeaveJoint".into();
        }
        let changes: Vec<String> = v2.changes.iter().map(change_name).collect();
        return format!("Joint[{}]", changes.join(", "));
    }
    if let Some(transfer) = &response.transfer_leader {
        return format!(
            "TransferLeader s{}",
            transfer.peer.unwrap_or_default().store_id
        );
    }
    panic!("a response without a step: {response:?}");
}

fn bump_conf_ver(region: &mut metapb::Region) {
    region.region_epoch.as_mut().unwrap().conf_ver += 1;
}

/// What a leader does with a step (joint states entered and left explicitly).
fn apply(
    region: &mut metapb::Region,
    leader: &mut metapb::Peer,
    response: &pdpb::RegionHeartbeatResponse,
) {
    let set_role = |region: &mut metapb::Region, id: u64, role: PeerRole| {
        let found = region.peers.iter_mut().find(|p| p.id == id).unwrap();
        found.role = role as i32;
    };
    if let Some(change) = &response.change_peer {
        let target = change.peer.unwrap();
        match change.change_type() {
            ConfChangeType::AddLearnerNode => {
                assert_eq!(target.role(), PeerRole::Learner);
                region.peers.push(target);
            }
            ConfChangeType::AddNode => set_role(region, target.id, PeerRole::Voter),
            ConfChangeType::RemoveNode => {
                assert_ne!(target.id, leader.id, "a leader must not remove itself");
                region.peers.retain(|p| p.id != target.id);
            }
        }
        bump_conf_ver(region);
    } else if let Some(v2) = &response.change_peer_v2 {
        if v2.changes.is_empty() {
            for peer in &mut region.peers {
                match peer.role() {
                    PeerRole::IncomingVoter => peer.role = PeerRole::Voter as i32,
                    PeerRole::DemotingVoter => peer.role = PeerRole::Learner as i32,
                    _ => {}
                }
            }
        } else {
            for change in &v2.changes {
                let target = change.peer.unwrap();
                assert_ne!(target.id, leader.id, "a leader must not demote itself");
                let role = match change.change_type() {
                    ConfChangeType::AddNode => PeerRole::IncomingVoter,
                    ConfChangeType::AddLearnerNode => PeerRole::DemotingVoter,
                    ConfChangeType::RemoveNode => panic!("no removal inside a joint change"),
                };
                set_role(region, target.id, role);
            }
        }
        bump_conf_ver(region);
    } else if let Some(transfer) = &response.transfer_leader {
        let to = transfer.peer.unwrap();
        let current = region.peers.iter().find(|p| p.id == to.id).unwrap();
        assert_eq!(current.role(), PeerRole::Voter, "only voters lead");
        *leader = *current;
    }
}

fn voters_on(region: &metapb::Region) -> Vec<u64> {
    let mut stores: Vec<u64> = region
        .peers
        .iter()
        .filter(|p| p.role() == PeerRole::Voter)
        .map(|p| p.store_id)
        .collect();
    stores.sort_unstable();
    stores
}

#[test]
fn a_one_peer_region_grows_to_three_voters() {
    let mut harness = Harness::new(3, ScheduleConfig::default());
    let mut region = region(10, (b"", b""), 1, &[peer(110, 1)]);
    let mut leader = peer(110, 1);
    let trace = harness.drive(&mut region, &mut leader, 10);
    assert_eq!(
        trace,
        [
            "AddLearnerNode s2",
            "AddNode s2",
            "AddLearnerNode s3",
            "AddNode s3"
        ]
    );
    assert_eq!(voters_on(&region), [1, 2, 3]);
    assert!(
        region.peers.iter().skip(1).all(|p| p.id > 1000),
        "ids from PD"
    );
    let (operator, status) = harness.cluster.operator_status(10).unwrap();
    assert_eq!(status, pdpb::OperatorStatus::Success);
    assert_eq!(operator.desc(), "add-replica");
    assert!(harness.cluster.operators().is_empty());
}

#[test]
fn a_peer_on_a_down_store_is_replaced() {
    let config = ScheduleConfig {
        max_store_down_time: STORE_DOWN,
        ..Default::default()
    };
    let mut harness = Harness::new(4, config);
    let mut region = region(
        10,
        (b"", b""),
        1,
        &[peer(110, 1), peer(120, 2), peer(130, 3)],
    );
    let mut leader = peer(110, 1);
    assert!(harness.drive(&mut region, &mut leader, 1).is_empty());

    // Store 3 stops heartbeating.
    harness.advance(STORE_DOWN / 2, &[1, 2, 3, 4]);
    harness.advance(STORE_DOWN, &[1, 2, 4]);
    let statuses = harness.cluster.store_statuses(harness.now).unwrap();
    let states: Vec<&str> = statuses.iter().map(|s| s.state.name()).collect();
    assert_eq!(states, ["Up", "Up", "Down", "Up"]);
    let trace = harness.drive(&mut region, &mut leader, 10);
    assert_eq!(trace, ["AddLearnerNode s4", "AddNode s4", "RemoveNode s3"]);
    assert_eq!(voters_on(&region), [1, 2, 4]);
}

#[test]
fn a_peer_reported_down_long_enough_is_replaced_and_pending_peers_only_allow_removal() {
    let config = ScheduleConfig {
        max_store_down_time: STORE_DOWN,
        ..Default::default()
    };
    let mut harness = Harness::new(4, config);
    let start = region(
        10,
        (b"", b""),
        1,
        &[peer(110, 1), peer(120, 2), peer(130, 3)],
    );
    let down = |seconds| pdpb::PeerStats {
        peer: Some(peer(130, 3)),
        down_seconds: seconds,
    };
    let request = |down_peers, pending_peers| pdpb::RegionHeartbeatRequest {
        region: Some(start.clone()),
        leader: Some(peer(110, 1)),
        down_peers,
        pending_peers,
        ..Default::default()
    };
    // Not down for long enough yet: nothing.
    assert!(harness.heartbeat(request(vec![down(59)], vec![])).is_none());
    // With a lagging peer, only the removal of the down one.
    let response = harness
        .heartbeat(request(vec![down(60)], vec![peer(120, 2)]))
        .unwrap();
    assert_eq!(describe(&response), "RemoveNode s3");
    let (operator, _) = harness.cluster.operator_status(10).unwrap();
    assert_eq!(operator.desc(), "remove-down-replica");

    // Without pending peers, a replacement (a fresh cluster, same report).
    let mut harness = Harness::new(
        4,
        ScheduleConfig {
            max_store_down_time: STORE_DOWN,
            ..Default::default()
        },
    );
    let response = harness.heartbeat(request(vec![down(60)], vec![])).unwrap();
    assert_eq!(describe(&response), "AddLearnerNode s4");
    let (operator, _) = harness.cluster.operator_status(10).unwrap();
    assert_eq!(operator.desc(), "replace-down-replica");
    assert_eq!(operator.steps().len(), 3);
}

/// Splits the bootstrap region into `[, b) [b, c) [c, )` (regions 10, 11, 12) with voters on
/// `stores`, led from `leaders`; returns them.
fn three_regions(
    harness: &mut Harness,
    stores: &[u64],
    leaders: [u64; 3],
) -> Vec<(metapb::Region, metapb::Peer)> {
    let ranges: [(&[u8], &[u8]); 3] = [(b"", b"b"), (b"b", b"c"), (b"c", b"")];
    let mut out = Vec::new();
    for (index, range) in ranges.into_iter().enumerate() {
        let id = 10 + index as u64;
        let peers: Vec<metapb::Peer> = stores.iter().map(|&s| peer(id * 10 + s, s)).collect();
        let region = region(id, range, 2, &peers);
        let leader = peer(id * 10 + leaders[index], leaders[index]);
        harness
            .cluster
            .put_region(region.clone(), Some(leader))
            .unwrap();
        out.push((region, leader));
    }
    out
}

#[test]
fn leader_imbalance_produces_leader_transfers_to_voters() {
    let mut harness = Harness::new(3, ScheduleConfig::default());
    let regions = three_regions(&mut harness, &[1, 2, 3], [1, 1, 1]);
    let commands = harness.cluster.schedule_at(harness.now).unwrap();
    // 3/0/0 leaders: one goes to store 2, one to store 3, then they are even.
    let described: Vec<(u64, u64, String)> = commands
        .iter()
        .map(|c| (c.store_id, c.response.region_id, describe(&c.response)))
        .collect();
    assert_eq!(
        described,
        [
            (1, 10, "TransferLeader s2".to_string()),
            (1, 11, "TransferLeader s3".to_string())
        ]
    );
    assert_eq!(harness.cluster.operators().len(), 2);
    assert!(harness.cluster.schedule_at(harness.now).unwrap().is_empty());

    // The transfer is done once the new leader heartbeats.
    let (region, _) = &regions[0];
    let request = pdpb::RegionHeartbeatRequest {
        region: Some(region.clone()),
        leader: Some(peer(102, 2)),
        ..Default::default()
    };
    assert!(harness.heartbeat(request).is_none());
    let (operator, status) = harness.cluster.operator_status(10).unwrap();
    assert_eq!(
        (operator.desc(), status),
        ("balance-leader", pdpb::OperatorStatus::Success)
    );
}

/// A scheduler started at `now` with stores 1..=n, all just seen, for tests that call the
/// checkers and balancers directly.
fn scheduler_with_stores(
    stores: u64,
    config: ScheduleConfig,
    now: Instant,
) -> (Scheduler, BTreeMap<u64, metapb::Store>) {
    let mut scheduler = Scheduler::new(1, config, now);
    let stores = (1..=stores)
        .map(|id| {
            scheduler.store_seen(id, now);
            let store = metapb::Store {
                id,
                ..Default::default()
            };
            (id, store)
        })
        .collect();
    (scheduler, stores)
}

#[test]
fn leaders_never_go_to_learners() {
    let now = Instant::now();
    let (scheduler, stores) = scheduler_with_stores(3, ScheduleConfig::default(), now);
    let learner = |id, store_id| metapb::Peer {
        role: PeerRole::Learner as i32,
        ..peer(id, store_id)
    };
    // Store 1 leads both regions; stores 2 and 3 hold only learners.
    let mut regions = RegionTree::default();
    for (id, range) in [(10, (&b""[..], &b"m"[..])), (11, (&b"m"[..], &b""[..]))] {
        let peers = [
            peer(id * 10 + 1, 1),
            learner(id * 10 + 2, 2),
            learner(id * 10 + 3, 3),
        ];
        regions.insert(RegionInfo {
            leader: Some(peers[0]),
            ..RegionInfo::new(region(id, range, 1, &peers))
        });
    }
    let placement = scheduler.placement(&stores, &regions, now);
    assert_eq!(balance::balance_leader(&placement, now), None);

    // With a voter on store 3, region 11's leadership moves there.
    let peers = [peer(111, 1), learner(112, 2), peer(113, 3)];
    regions.insert(RegionInfo {
        leader: Some(peers[0]),
        ..RegionInfo::new(region(11, (b"m", b""), 1, &peers))
    });
    let placement = scheduler.placement(&stores, &regions, now);
    let operator = balance::balance_leader(&placement, now).unwrap();
    assert_eq!(operator.region_id(), 11);
    assert_eq!(
        operator.steps(),
        [Step::TransferLeader {
            from_store_id: 1,
            to: peer(113, 3)
        }]
    );
}

#[test]
fn a_region_move_adds_a_learner_swaps_roles_jointly_then_removes() {
    let config = ScheduleConfig {
        max_operators: 1,
        ..Default::default()
    };
    let mut harness = Harness::new(4, config);
    // Peers 3/3/3/0 across stores 1-4, leaders spread evenly.
    let regions = three_regions(&mut harness, &[1, 2, 3], [1, 2, 3]);
    let commands = harness.cluster.schedule_at(harness.now).unwrap();
    assert_eq!(commands.len(), 1, "{commands:?}");
    // From store 1 (most loaded, lowest id) in a region it does not lead: region 11.
    assert_eq!(commands[0].store_id, 2);
    assert_eq!(commands[0].response.region_id, 11);
    assert_eq!(describe(&commands[0].response), "AddLearnerNode s4");
    let (mut region, mut leader) = regions[1].clone();
    let trace = harness.drive(&mut region, &mut leader, 10);
    assert_eq!(
        trace,
        [
            "AddLearnerNode s4",
            "Joint[AddNode s4, AddLearnerNode s1]",
            "LeaveJoint",
            "RemoveNode s1"
        ]
    );
    assert_eq!(voters_on(&region), [2, 3, 4]);
    assert_eq!(region.peers.len(), 3);
    let (operator, status) = harness.cluster.operator_status(11).unwrap();
    assert_eq!(
        (operator.desc(), status),
        ("balance-region", pdpb::OperatorStatus::Success)
    );
}

#[test]
fn an_extra_voter_on_the_leaders_store_goes_after_a_leader_transfer() {
    let mut harness = Harness::new(4, ScheduleConfig::default());
    // Region 10 has four voters; store 1 holds the most peers and the leader.
    let four = [peer(101, 1), peer(102, 2), peer(103, 3), peer(104, 4)];
    let mut region10 = region(10, (b"", b"b"), 2, &four);
    harness.cluster.put_region(region10.clone(), None).unwrap();
    // Regions 11, 12, 13 over [b, c) [c, d) [d, ).
    let bounds: [&[u8]; 4] = [b"b", b"c", b"d", b""];
    for (index, stores) in [[1, 2, 3], [1, 2, 4], [1, 3, 4]].into_iter().enumerate() {
        let id = 11 + index as u64;
        let peers: Vec<metapb::Peer> = stores.iter().map(|&s| peer(id * 10 + s, s)).collect();
        let other = region(id, (bounds[index], bounds[index + 1]), 2, &peers);
        harness.cluster.put_region(other, None).unwrap();
    }
    let mut leader = peer(101, 1);
    let trace = harness.drive(&mut region10, &mut leader, 10);
    assert_eq!(trace, ["TransferLeader s2", "RemoveNode s1"]);
    assert_eq!(voters_on(&region10), [2, 3, 4]);
}

#[test]
fn operators_time_out_and_stop_when_the_region_splits() {
    let config = ScheduleConfig {
        operator_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let mut harness = Harness::new(3, config);
    let start = region(10, (b"", b""), 1, &[peer(110, 1)]);
    let request = |region: &metapb::Region| pdpb::RegionHeartbeatRequest {
        region: Some(region.clone()),
        leader: Some(peer(110, 1)),
        ..Default::default()
    };
    let first = harness.heartbeat(request(&start)).unwrap();
    let learner = first.change_peer.unwrap().peer.unwrap();
    // The store never applies it.
    harness.now += Duration::from_secs(5);
    let again = harness.heartbeat(request(&start)).unwrap();
    let second = again.change_peer.unwrap().peer.unwrap();
    assert_ne!(learner.id, second.id, "a new operator after the timeout");
    assert_eq!(harness.finished(10), Some(pdpb::OperatorStatus::Timeout));

    // A split (version bump) cancels the running one.
    let mut split = region(10, (b"", b"m"), 2, &[peer(110, 1)]);
    split.region_epoch.as_mut().unwrap().conf_ver = 1;
    harness.now += Duration::from_secs(1);
    let response = harness.heartbeat(request(&split)).unwrap();
    assert_eq!(describe(&response), "AddLearnerNode s2");
    assert_eq!(harness.finished(10), Some(pdpb::OperatorStatus::Cancel));
}
