//! Replication, failover, partitions, conf changes, snapshots, splits and merges on an
//! in-process cluster of real stores (RocksDB each) with a faulty network.

mod cluster;

use std::time::Duration;

use basalt_proto::eraftpb::{ConfChangeType, MessageType};
use basalt_proto::metapb;
use basalt_proto::raft_cmdpb::{AdminCmdType, ChangePeerRequest, ChangePeerV2Request};
use basalt_storage::Error;
use cluster::{test_config, Cluster, Filter};

const WITHIN: Duration = Duration::from_secs(10);

fn key(i: usize) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

#[test]
fn writes_replicate_to_every_store_and_followers_refuse_plain_reads() {
    let cluster = Cluster::new(3, 3, test_config());
    for i in 0..20 {
        cluster.put(&key(i), b"v", WITHIN).expect("put");
    }
    for store in 1..=3 {
        assert!(
            cluster.wait_local(store, &key(19), Some(b"v"), WITHIN),
            "store {store}"
        );
    }
    let leader = cluster.leader_of(&key(0)).expect("a leader");
    let follower = (1..=3).find(|s| *s != leader).unwrap();
    // A follower answers NotLeader naming the leader, unless the read asks for replica read.
    match cluster.get(follower, &key(0), false) {
        Err(Error::Region(err)) => {
            let hint = err
                .not_leader
                .expect("not leader")
                .leader
                .expect("leader hint");
            assert_eq!(hint.store_id, leader);
        }
        other => panic!("expected NotLeader, got {other:?}"),
    }
    assert_eq!(
        cluster.get(follower, &key(0), true).unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        cluster.get(leader, &key(0), false).unwrap(),
        Some(b"v".to_vec())
    );
}

#[test]
fn a_partitioned_leader_is_replaced_and_heals_without_split_brain() {
    let cluster = Cluster::new(3, 3, test_config());
    cluster.put(b"a", b"1", WITHIN).expect("put");
    let old = cluster.leader_of(b"a").expect("leader");
    let others: Vec<u64> = (1..=3).filter(|s| *s != old).collect();
    cluster.add_filter(Filter::Partition(vec![old], others.clone()));
    // The majority elects a new leader and keeps taking writes.
    let started = std::time::Instant::now();
    let writer = cluster
        .put(b"a", b"2", WITHIN)
        .expect("write on the majority side");
    assert!(others.contains(&writer), "written through store {writer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failover took {:?}",
        started.elapsed()
    );
    // The old leader cannot serve a linearizable read any more: its lease ran out and it
    // cannot reach a quorum.
    std::thread::sleep(Duration::from_millis(300));
    assert!(cluster.get(old, b"a", false).is_err());
    assert_eq!(cluster.local(old, b"a"), Some(b"1".to_vec()));
    cluster.clear_filters();
    assert!(cluster.wait_local(old, b"a", Some(b"2"), WITHIN));
    for store in 1..=3 {
        assert_eq!(cluster.local(store, b"a"), Some(b"2".to_vec()));
    }
}

#[test]
fn duplicated_delayed_and_dropped_messages_lose_no_acknowledged_write() {
    let cluster = Cluster::new(3, 3, test_config());
    cluster.add_filter(Filter::Duplicate);
    cluster.add_filter(Filter::Delay(Duration::from_millis(15)));
    cluster.add_filter(Filter::DropEvery(10));
    let mut acknowledged = Vec::new();
    for i in 0..60 {
        if cluster
            .put(&key(i), format!("v{i}").as_bytes(), WITHIN)
            .is_ok()
        {
            acknowledged.push(i);
        }
    }
    assert!(
        acknowledged.len() > 50,
        "only {} writes went through",
        acknowledged.len()
    );
    cluster.clear_filters();
    for store in 1..=3 {
        for i in &acknowledged {
            let expected = format!("v{i}").into_bytes();
            assert!(
                cluster.wait_local(store, &key(*i), Some(&expected), WITHIN),
                "store {store} lacks key {i}"
            );
        }
    }
}

#[test]
fn a_lagging_follower_catches_up_from_a_snapshot_after_log_compaction() {
    let mut config = test_config();
    config.log_gc_threshold = 10;
    config.log_gc_limit = 20;
    let cluster = Cluster::new(3, 3, config);
    cluster.put(b"first", b"x", WITHIN).expect("put");
    let leader = cluster.leader_of(b"first").expect("leader");
    let lagging = (1..=3).find(|s| *s != leader).unwrap();
    let rest: Vec<u64> = (1..=3).filter(|s| *s != lagging).collect();
    cluster.add_filter(Filter::Partition(vec![lagging], rest));
    for i in 0..100 {
        cluster.put(&key(i), b"v", WITHIN).expect("put");
    }
    // Give the leader time to compact past what the lagging store has.
    std::thread::sleep(Duration::from_millis(800));
    let before = cluster
        .net
        .delivered
        .lock()
        .get(&(MessageType::MsgSnapshot as i32))
        .copied()
        .unwrap_or(0);
    cluster.clear_filters();
    assert!(cluster.wait_local(lagging, &key(99), Some(b"v"), WITHIN));
    assert!(cluster.wait_local(lagging, &key(0), Some(b"v"), WITHIN));
    let after = cluster
        .net
        .delivered
        .lock()
        .get(&(MessageType::MsgSnapshot as i32))
        .copied()
        .unwrap_or(0);
    assert!(after > before, "the follower caught up without a snapshot");
}

fn change(kind: ConfChangeType, peer: metapb::Peer) -> ChangePeerRequest {
    ChangePeerRequest {
        change_type: kind as i32,
        peer: Some(peer),
    }
}

#[test]
fn learner_then_joint_consensus_moves_a_replica_and_destroys_the_old_one() {
    let cluster = Cluster::new(4, 3, test_config());
    for i in 0..30 {
        cluster.put(&key(i), b"v", WITHIN).expect("put");
    }
    let learner = metapb::Peer {
        id: 4,
        store_id: 4,
        role: metapb::PeerRole::Learner as i32,
        ..Default::default()
    };
    let region = cluster
        .admin(
            b"k",
            |admin| admin.change_peer = Some(change(ConfChangeType::AddLearnerNode, learner)),
            AdminCmdType::ChangePeer,
            WITHIN,
        )
        .expect("add learner");
    assert_eq!(region.peers.len(), 4);
    assert_eq!(region.region_epoch.unwrap().conf_ver, 2);
    // The new learner gets the data (from a snapshot) and serves replica reads.
    assert!(cluster.wait_local(4, &key(29), Some(b"v"), WITHIN));
    assert_eq!(cluster.get(4, &key(0), true).unwrap(), Some(b"v".to_vec()));

    // Move the replica of a follower store to store 4 with joint consensus: promote the
    // learner and demote the follower in one step, then remove the demoted peer.
    let leader = cluster.leader_of(b"k").expect("leader");
    let moved = (1..=3).find(|s| *s != leader).unwrap();
    let old = metapb::Peer {
        id: moved,
        store_id: moved,
        ..Default::default()
    };
    let region = cluster
        .admin(
            b"k",
            |admin| {
                admin.change_peer_v2 = Some(ChangePeerV2Request {
                    changes: vec![
                        change(ConfChangeType::AddNode, learner),
                        change(ConfChangeType::AddLearnerNode, old),
                    ],
                })
            },
            AdminCmdType::ChangePeerV2,
            WITHIN,
        )
        .expect("enter joint");
    let roles: Vec<(u64, i32)> = region.peers.iter().map(|p| (p.id, p.role)).collect();
    assert!(
        roles.contains(&(4, metapb::PeerRole::IncomingVoter as i32)),
        "{roles:?}"
    );
    assert!(
        roles.contains(&(moved, metapb::PeerRole::DemotingVoter as i32)),
        "{roles:?}"
    );
    // Raft leaves the joint configuration on its own.
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        let region = cluster.region_of(b"k").unwrap();
        let joint = region.peers.iter().any(|p| {
            p.role == metapb::PeerRole::IncomingVoter as i32
                || p.role == metapb::PeerRole::DemotingVoter as i32
        });
        if !joint {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still joint: {region:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster
        .admin(
            b"k",
            |admin| admin.change_peer = Some(change(ConfChangeType::RemoveNode, old)),
            AdminCmdType::ChangePeer,
            WITHIN,
        )
        .expect("remove demoted peer");
    cluster
        .put(b"after", b"move", WITHIN)
        .expect("put after the move");
    assert!(cluster.wait_local(4, b"after", Some(b"move"), WITHIN));
    // The removed store drops the region and its data.
    assert!(
        cluster.wait_local(moved, &key(0), None, WITHIN),
        "store {moved} kept the data"
    );
    assert!(!cluster.stores_of(1).contains(&moved));
}

#[test]
fn a_region_splits_when_it_grows_and_both_halves_serve() {
    let mut config = test_config();
    config.region_split_size = 64 << 10;
    config.region_split_keys = 1 << 30;
    let cluster = Cluster::new(3, 3, config);
    let value = vec![b'x'; 1024];
    for i in 0..200 {
        cluster.put(&key(i), &value, WITHIN).expect("put");
    }
    let deadline = std::time::Instant::now() + WITHIN;
    while cluster.regions().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no split happened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let regions = cluster.regions();
    assert!(regions[0].start_key.is_empty() && regions.last().unwrap().end_key.is_empty());
    for pair in regions.windows(2) {
        assert_eq!(pair[0].end_key, pair[1].start_key);
    }
    assert!(
        !cluster.pd.reported.lock().is_empty(),
        "the split was not reported to PD"
    );
    // Writes keep working on both sides, and every store hosts every region.
    cluster.put(&key(0), b"left", WITHIN).expect("left");
    cluster.put(&key(199), b"right", WITHIN).expect("right");
    for store in 1..=3 {
        assert!(
            cluster.wait_local(store, &key(199), Some(b"right"), WITHIN),
            "store {store}: {:?} regions {:?} hosted {:?}",
            cluster.local(store, &key(199)).map(|v| v.len()),
            cluster.regions(),
            cluster
                .regions()
                .iter()
                .map(|r| cluster.stores_of(r.id))
                .collect::<Vec<_>>()
        );
    }
    let deadline = std::time::Instant::now() + WITHIN;
    for region in cluster.regions() {
        while cluster.stores_of(region.id).len() < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "region {} not on every store",
                region.id
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_restarted_store_keeps_its_data_and_rejoins() {
    let mut cluster = Cluster::new(3, 3, test_config());
    for i in 0..10 {
        cluster.put(&key(i), b"v", WITHIN).expect("put");
    }
    assert!(cluster.wait_local(3, &key(9), Some(b"v"), WITHIN));
    cluster.stop(3);
    for i in 10..20 {
        cluster
            .put(&key(i), b"w", WITHIN)
            .expect("put with a store down");
    }
    cluster.start(3);
    assert_eq!(cluster.local(3, &key(0)), Some(b"v".to_vec()));
    assert!(cluster.wait_local(3, &key(19), Some(b"w"), WITHIN));
}

#[test]
fn requests_with_a_stale_epoch_or_unknown_region_get_region_errors() {
    let cluster = Cluster::new(3, 3, test_config());
    cluster.put(b"a", b"1", WITHIN).expect("put");
    let leader = cluster.leader_of(b"a").expect("leader");
    let region = cluster.region_of(b"a").unwrap();
    let storage = &cluster.nodes[&leader].storage;
    let mut stale = cluster.ctx(&region, leader);
    stale.region_epoch = Some(metapb::RegionEpoch {
        conf_ver: 1,
        version: 0,
    });
    let result = cluster.runtime.block_on(storage.raw_put(
        &stale,
        "",
        vec![(b"a".to_vec(), b"2".to_vec())],
        &[],
    ));
    assert!(matches!(result, Err(Error::Region(e)) if e.epoch_not_match.is_some()));
    let mut unknown = cluster.ctx(&region, leader);
    unknown.region_id = 77;
    let result = cluster
        .runtime
        .block_on(storage.raw_get(&unknown, "", b"a".to_vec()));
    assert!(matches!(result, Err(Error::Region(e)) if e.region_not_found.is_some()));
    let mut wrong_store = cluster.ctx(&region, leader);
    wrong_store.peer = Some(metapb::Peer {
        id: 9,
        store_id: 99,
        ..Default::default()
    });
    let result = cluster
        .runtime
        .block_on(storage.raw_get(&wrong_store, "", b"a".to_vec()));
    assert!(matches!(result, Err(Error::Region(e)) if e.store_not_match.is_some()));
    // Garbage raft messages are dropped without harm.
    let router = cluster.nodes[&leader].storage.engine().router().clone();
    let _ = router.send_raft_message(Default::default());
    let _ = router.send_raft_message(basalt_proto::raft_serverpb::RaftMessage {
        region_id: 1,
        from_peer: Some(metapb::Peer {
            id: 42,
            store_id: 42,
            ..Default::default()
        }),
        to_peer: Some(metapb::Peer {
            id: leader,
            store_id: leader,
            ..Default::default()
        }),
        message: Some(basalt_proto::eraftpb::Message {
            msg_type: 77,
            term: u64::MAX,
            ..Default::default()
        }),
        ..Default::default()
    });
    // A snapshot that does not decode, from a real peer, is dropped before raft sees it.
    let follower = (1..=3).find(|s| *s != leader).unwrap();
    // In the leader's current term (from its PD heartbeat), so raft would take it.
    let term = cluster
        .pd
        .heartbeats
        .lock()
        .get(&1)
        .map(|hb| hb.term)
        .expect("a heartbeat");
    let bad_snapshot = basalt_proto::raft_serverpb::RaftMessage {
        region_id: 1,
        from_peer: Some(metapb::Peer {
            id: leader,
            store_id: leader,
            ..Default::default()
        }),
        to_peer: Some(metapb::Peer {
            id: follower,
            store_id: follower,
            ..Default::default()
        }),
        region_epoch: region.region_epoch,
        message: Some(basalt_proto::eraftpb::Message {
            msg_type: MessageType::MsgSnapshot as i32,
            to: follower,
            from: leader,
            term,
            snapshot: Some(basalt_proto::eraftpb::Snapshot {
                // Well-formed protobuf that announces more pairs than it holds.
                data: prost::Message::encode_to_vec(
                    &basalt_proto::raft_serverpb::RaftSnapshotData {
                        region: Some(region.clone()),
                        version: 1,
                        data: vec![basalt_proto::raft_serverpb::KeyValue {
                            key: b"a".to_vec(),
                            value: b"x".to_vec(),
                        }],
                        meta: Some(basalt_proto::raft_serverpb::SnapshotMeta {
                            cf_files: vec![basalt_proto::raft_serverpb::SnapshotCfFile {
                                cf: "default".into(),
                                size: 5,
                                checksum: 0,
                            }],
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                ),
                metadata: Some(basalt_proto::eraftpb::SnapshotMetadata {
                    index: 1_000_000,
                    term,
                    conf_state: Some(basalt_proto::eraftpb::ConfState {
                        voters: vec![1, 2, 3],
                        ..Default::default()
                    }),
                }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let follower_router = cluster.nodes[&follower].storage.engine().router().clone();
    follower_router.send_raft_message(bad_snapshot).unwrap();
    cluster.put(b"a", b"3", WITHIN).expect("still serving");
    assert!(cluster.wait_local(follower, b"a", Some(b"3"), WITHIN));
}

fn prepare_merge(
    cluster: &Cluster,
    source_key: &[u8],
    target: metapb::Region,
) -> Result<metapb::Region, String> {
    cluster.admin(
        source_key,
        |admin| {
            admin.prepare_merge = Some(basalt_proto::raft_cmdpb::PrepareMergeRequest {
                target: Some(target.clone()),
                ..Default::default()
            })
        },
        AdminCmdType::PrepareMerge,
        WITHIN,
    )
}

/// Waits until no store hosts `region_id` any more.
fn wait_gone(cluster: &Cluster, region_id: u64) {
    let deadline = std::time::Instant::now() + WITHIN;
    while !cluster.stores_of(region_id).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "region {region_id} still on stores {:?}; regions {:?}",
            cluster.stores_of(region_id),
            cluster.regions()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn adjacent_regions_merge_and_the_merged_region_serves_both_ranges_after_a_restart() {
    let mut cluster = Cluster::new(3, 3, test_config());
    cluster.put(b"a", b"left", WITHIN).expect("put");
    cluster.split(b"m", 100, WITHIN).expect("split");
    cluster.put(b"x", b"right", WITHIN).expect("put");
    let left = cluster.region_of(b"a").unwrap();
    let right = cluster.region_of(b"x").unwrap();
    assert_eq!((left.id, right.id), (1, 100));
    // The right region merges into the left one.
    let prepared = prepare_merge(&cluster, b"x", left.clone()).expect("prepare merge");
    let prepared_epoch = prepared.region_epoch.unwrap();
    assert_eq!(
        prepared_epoch.version,
        right.region_epoch.unwrap().version + 1
    );
    wait_gone(&cluster, 100);
    let merged = cluster.region_of(b"x").expect("merged region");
    assert_eq!(merged.id, 1);
    assert!(merged.start_key.is_empty() && merged.end_key.is_empty());
    let version = merged.region_epoch.unwrap().version;
    assert_eq!(
        version,
        prepared_epoch
            .version
            .max(left.region_epoch.unwrap().version)
            + 1
    );
    for store in 1..=3 {
        assert_eq!(cluster.local(store, b"x"), Some(b"right".to_vec()));
        let state = cluster.region_state(store, 100).expect("source state");
        assert_eq!(
            state.state,
            basalt_proto::raft_serverpb::PeerState::Tombstone as i32
        );
        assert_eq!(
            state.merge_state.and_then(|m| m.target).map(|t| t.id),
            Some(1)
        );
    }
    // The merged region takes writes on the old right range, and PD heard of it, measured
    // again: three keys ("a", "x", "y").
    cluster
        .put(b"y", b"after", WITHIN)
        .expect("put after merge");
    let deadline = std::time::Instant::now() + WITHIN;
    while cluster.pd.heartbeats.lock().get(&1).is_none_or(|hb| {
        !hb.region.end_key.is_empty() || hb.approximate_keys != 3 || hb.approximate_size == 0
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "PD not told: {:?}",
            cluster.pd.heartbeats.lock().get(&1)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A stale request to the merged-away region gets a region error.
    let leader = cluster.leader_of(b"x").unwrap();
    let result = cluster
        .runtime
        .block_on(cluster.nodes[&leader].storage.raw_get(
            &cluster.ctx(&right, leader),
            "",
            b"x".to_vec(),
        ));
    assert!(matches!(result, Err(Error::Region(_))), "{result:?}");
    // After a restart the store has the merged region, not the source.
    cluster.stop(3);
    cluster.start(3);
    assert!(cluster.stores_of(100).is_empty());
    assert!(cluster.wait_local(3, b"y", Some(b"after"), WITHIN));
    // A replica read there (NotLeader until the restarted peer hears its leader).
    let deadline = std::time::Instant::now() + WITHIN;
    let read = loop {
        match cluster.get(3, b"x", true) {
            Ok(value) => break value,
            Err(err) if std::time::Instant::now() > deadline => panic!("replica read: {err}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    assert_eq!(read, Some(b"right".to_vec()));
}

#[test]
fn a_lagging_source_peer_catches_up_from_the_entries_the_merge_carries() {
    let cluster = Cluster::new(3, 3, test_config());
    cluster.split(b"m", 100, WITHIN).expect("split");
    // Both regions are led from store 1 (a source leader on store 3 would lose leadership to
    // a peer that knows nothing of store 3's log, and PrepareMerge rightly refuses to start
    // until it does); store 3 stops hearing from the source (left).
    assert!(cluster.transfer_leader(b"x", 1, WITHIN));
    assert!(cluster.transfer_leader(b"a", 1, WITHIN));
    cluster.put(b"a", b"0", WITHIN).expect("put");
    assert!(cluster.wait_local(3, b"a", Some(b"0"), WITHIN));
    cluster.add_filter(Filter::DropRegion {
        region_id: 1,
        to_store: 3,
    });
    for i in 0..20 {
        cluster.put(&key(i), b"v", WITHIN).expect("put");
    }
    assert_eq!(cluster.local(3, &key(19)), None, "store 3 should lag");
    let right = cluster.region_of(b"x").unwrap();
    prepare_merge(&cluster, b"a", right).expect("prepare merge");
    wait_gone(&cluster, 1);
    // Store 3 never heard the source's leader, yet has every write: the CommitMerge carried
    // them.
    for i in 0..20 {
        assert_eq!(cluster.local(3, &key(i)), Some(b"v".to_vec()), "key {i}");
    }
    let merged = cluster.region_of(b"a").unwrap();
    assert_eq!(merged.id, 100);
    assert!(merged.start_key.is_empty() && merged.end_key.is_empty());
    cluster
        .put(b"b", b"after", WITHIN)
        .expect("put after merge");
    assert!(cluster.wait_local(3, b"b", Some(b"after"), WITHIN));
}

#[test]
fn a_merge_rolls_back_when_the_target_changed_first() {
    let cluster = Cluster::new(3, 3, test_config());
    cluster.split(b"m", 100, WITHIN).expect("split");
    let stale_target = cluster.region_of(b"x").unwrap();
    // The target splits before the merge is prepared: the source is told an older target.
    cluster.split(b"t", 200, WITHIN).expect("split the target");
    let source = cluster.region_of(b"a").unwrap();
    let prepared = prepare_merge(&cluster, b"a", stale_target).expect("prepare merge");
    // The source rolls back on its own and serves again, two versions newer.
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        if cluster
            .put(b"a", b"again", Duration::from_millis(200))
            .is_ok()
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never rolled back");
    }
    let after = cluster.region_of(b"a").unwrap();
    assert_eq!(after.id, source.id);
    assert_eq!(
        after.region_epoch.unwrap().version,
        prepared.region_epoch.unwrap().version + 1
    );
    assert_eq!(cluster.regions().len(), 3);
    for store in 1..=3 {
        assert!(cluster.wait_local(store, b"a", Some(b"again"), WITHIN));
        let state = cluster.region_state(store, source.id).expect("state");
        assert_eq!(
            state.state,
            basalt_proto::raft_serverpb::PeerState::Normal as i32
        );
    }
}
