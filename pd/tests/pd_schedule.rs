//! Scheduling over real gRPC: operator steps in answers to region heartbeats, steps pushed on a
//! store's heartbeat stream by the scheduling tick, the operator views (`GetOperator`,
//! `/pd/api/v1/operators`, `/pd/api/v1/stores`), and what survives a restart.

mod common;

use std::time::Duration;

use basalt_pd::{PdConfig, ScheduleConfig};
use basalt_proto::eraftpb::ConfChangeType;
use basalt_proto::metapb::{self, PeerRole};
use basalt_proto::pdpb;
use common::{error_type, http_get, Running};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

fn peer(id: u64, store_id: u64) -> metapb::Peer {
    metapb::Peer {
        id,
        store_id,
        ..Default::default()
    }
}

fn store(id: u64) -> metapb::Store {
    metapb::Store {
        id,
        address: format!("127.0.0.1:{}", 20160 + id),
        ..Default::default()
    }
}

fn region(id: u64, conf_ver: u64, range: (&[u8], &[u8]), peers: &[metapb::Peer]) -> metapb::Region {
    let version = if range == (b"", b"") { 1 } else { 2 };
    metapb::Region {
        id,
        start_key: range.0.to_vec(),
        end_key: range.1.to_vec(),
        region_epoch: Some(metapb::RegionEpoch { conf_ver, version }),
        peers: peers.to_vec(),
        ..Default::default()
    }
}

fn fast_scheduling() -> PdConfig {
    PdConfig {
        schedule: ScheduleConfig {
            schedule_interval: Duration::from_millis(50),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Bootstraps with store 1 and region 10 (peer 110 on store 1, all keys), then puts stores 2
/// and 3 over gRPC. Fixed ids stay below the ones PD hands out.
async fn bootstrap_three_stores(pd: &mut Running) {
    {
        let mut cluster = pd.cluster.lock();
        cluster.alloc_ids(1000).unwrap();
        let first = region(10, 1, (b"", b""), &[peer(110, 1)]);
        cluster.bootstrap(store(1), first).unwrap();
    }
    for id in [2, 3] {
        let response = pd
            .client
            .put_store(pdpb::PutStoreRequest {
                header: pd.header(),
                store: Some(store(id)),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(error_type(&response.header), 0);
    }
}

struct HeartbeatStream {
    sender: mpsc::Sender<pdpb::RegionHeartbeatRequest>,
    responses: Streaming<pdpb::RegionHeartbeatResponse>,
    header: Option<pdpb::RequestHeader>,
}

impl HeartbeatStream {
    async fn open(pd: &mut Running) -> HeartbeatStream {
        let (sender, receiver) = mpsc::channel(8);
        let responses = pd
            .client
            .region_heartbeat(ReceiverStream::new(receiver))
            .await
            .unwrap()
            .into_inner();
        HeartbeatStream {
            sender,
            responses,
            header: pd.header(),
        }
    }

    async fn send(&self, region: &metapb::Region, leader: metapb::Peer, term: u64) {
        let request = pdpb::RegionHeartbeatRequest {
            header: self.header.clone(),
            region: Some(region.clone()),
            leader: Some(leader),
            term,
            ..Default::default()
        };
        self.sender.send(request).await.unwrap();
    }

    async fn must_receive(&mut self) -> pdpb::RegionHeartbeatResponse {
        tokio::time::timeout(Duration::from_secs(10), self.responses.message())
            .await
            .expect("PD answers within 10 s")
            .unwrap()
            .expect("the stream stays open")
    }

    /// The next response carrying a `change_peer` of `change_type`, skipping repeats of
    /// earlier steps.
    async fn must_receive_change(&mut self, change_type: ConfChangeType) -> pdpb::ChangePeer {
        for _ in 0..20 {
            let response = self.must_receive().await;
            assert_eq!(error_type(&response.header), 0, "{response:?}");
            if let Some(change) = response.change_peer {
                if change.change_type() == change_type {
                    return change;
                }
            }
        }
        panic!("no {change_type:?} step from PD");
    }
}

#[tokio::test]
async fn heartbeats_are_answered_with_add_learner_then_promote() {
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Running::start_with(dir.path(), fast_scheduling()).await;
    bootstrap_three_stores(&mut pd).await;
    let leader = peer(110, 1);
    let mut current = region(10, 1, (b"", b""), &[leader]);

    let mut stream = HeartbeatStream::open(&mut pd).await;
    stream.send(&current, leader, 5).await;
    let response = stream.must_receive().await;
    assert_eq!(
        response.header.as_ref().map(|h| h.cluster_id),
        Some(pd.cluster_id)
    );
    assert_eq!(response.region_id, 10);
    assert_eq!(response.region_epoch, current.region_epoch);
    assert_eq!(response.target_peer, Some(leader));
    let add = response.change_peer.expect("a change_peer step");
    assert_eq!(add.change_type(), ConfChangeType::AddLearnerNode);
    let learner = add.peer.unwrap();
    assert_eq!(learner.role(), PeerRole::Learner);
    assert!([2, 3].contains(&learner.store_id), "{learner:?}");
    assert!(learner.id > 1000, "a fresh id from PD's allocator");

    // The running operator, over gRPC and HTTP.
    let operator = pd
        .client
        .get_operator(pdpb::GetOperatorRequest {
            header: pd.header(),
            region_id: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(error_type(&operator.header), 0);
    assert_eq!(operator.status(), pdpb::OperatorStatus::Running);
    assert_eq!(operator.desc, b"add-replica");
    assert_eq!(operator.kind, b"replica");
    let (status, body) = http_get(pd.addr, "/pd/api/v1/operators").await;
    assert_eq!(status, 200, "{body}");
    let operators: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(operators[0]["region_id"], 10);
    assert_eq!(operators[0]["desc"], "add-replica");
    let step = operators[0]["step"].as_str().unwrap();
    assert!(step.starts_with("add learner peer"), "{step}");

    // The store added the learner: now promote it.
    current.peers.push(learner);
    current.region_epoch.as_mut().unwrap().conf_ver = 2;
    stream.send(&current, leader, 5).await;
    let promote = stream.must_receive_change(ConfChangeType::AddNode).await;
    let voter = promote.peer.unwrap();
    assert_eq!((voter.id, voter.role()), (learner.id, PeerRole::Voter));

    // Promoted: the third replica goes to the remaining store.
    current.peers[1].role = PeerRole::Voter as i32;
    current.region_epoch.as_mut().unwrap().conf_ver = 3;
    stream.send(&current, leader, 5).await;
    let third = stream
        .must_receive_change(ConfChangeType::AddLearnerNode)
        .await;
    let third = third.peer.unwrap();
    assert_eq!(third.store_id, 5 - learner.store_id);

    let (status, body) = http_get(pd.addr, "/pd/api/v1/stores").await;
    assert_eq!(status, 200, "{body}");
    let stores: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stores["count"], 3);
    assert_eq!(stores["stores"][0]["store"]["state_name"], "Up");
    assert_eq!(stores["stores"][0]["status"]["leader_count"], 1);
    assert_eq!(stores["stores"][0]["status"]["region_count"], 1);
    // Graceful shutdown waits for open streams.
    drop(stream);
    pd.stop().await;
}

#[tokio::test]
async fn the_scheduling_tick_pushes_steps_on_the_leaders_stream() {
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Running::start_with(dir.path(), fast_scheduling()).await;
    bootstrap_three_stores(&mut pd).await;
    let voters = |id: u64| {
        [
            peer(id * 10 + 1, 1),
            peer(id * 10 + 2, 2),
            peer(id * 10 + 3, 3),
        ]
    };
    let whole = region(10, 3, (b"", b""), &voters(10));
    pd.cluster
        .lock()
        .put_region(whole.clone(), Some(voters(10)[0]))
        .unwrap();

    // Store 1's stream is bound by its first heartbeat; one region alone is balanced.
    let mut stream = HeartbeatStream::open(&mut pd).await;
    stream.send(&whole, voters(10)[0], 7).await;
    for _ in 0..500 {
        let info = pd.cluster.lock().region_by_id(10).unwrap().unwrap();
        if info.stats.term == 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // A split leaves store 1 leading two regions, stores 2 and 3 none: the next tick moves a
    // leader, and the step arrives without another heartbeat.
    {
        let mut cluster = pd.cluster.lock();
        let left = region(10, 3, (b"", b"m"), &voters(10));
        let right = region(11, 3, (b"m", b""), &voters(11));
        cluster.put_region(left, Some(voters(10)[0])).unwrap();
        cluster.put_region(right, Some(voters(11)[0])).unwrap();
    }
    let response = stream.must_receive().await;
    assert_eq!(response.region_id, 10);
    assert_eq!(response.target_peer, Some(voters(10)[0]));
    let transfer = response.transfer_leader.expect("a leader transfer");
    assert_eq!(transfer.peer, Some(voters(10)[1]));
    drop(stream);
    pd.stop().await;
}

#[tokio::test]
async fn state_survives_a_restart_and_stores_start_out_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = || PdConfig {
        schedule: ScheduleConfig {
            max_store_down_time: Duration::from_millis(500),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut pd = Running::start_with(dir.path(), config()).await;
    bootstrap_three_stores(&mut pd).await;
    let cluster_id = pd.cluster_id;
    let last_id = pd.alloc().await;
    let header = pd.header();
    pd.client
        .update_gc_safe_point(pdpb::UpdateGcSafePointRequest {
            header: header.clone(),
            safe_point: 77,
        })
        .await
        .unwrap();
    let grown = region(10, 2, (b"", b""), &[peer(110, 1), peer(120, 2)]);
    pd.cluster
        .lock()
        .put_region(grown.clone(), Some(peer(110, 1)))
        .unwrap();

    // Only store 1 keeps heartbeating: the others go down.
    let state_names = |body: &str| -> Vec<String> {
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        let stores = json["stores"].as_array().unwrap().clone();
        stores
            .iter()
            .map(|s| s["store"]["state_name"].as_str().unwrap().to_string())
            .collect()
    };
    for _ in 0..8 {
        let stats = pdpb::StoreStats {
            store_id: 1,
            ..Default::default()
        };
        pd.client
            .store_heartbeat(pdpb::StoreHeartbeatRequest {
                header: header.clone(),
                stats: Some(stats),
                ..Default::default()
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, body) = http_get(pd.addr, "/pd/api/v1/stores").await;
    assert_eq!(state_names(&body), ["Up", "Down", "Down"]);
    pd.stop().await;

    let mut pd = Running::start_with(dir.path(), config()).await;
    assert_eq!(pd.cluster_id, cluster_id);
    assert!(pd.alloc().await > last_id);
    let header = pd.header();
    let safe_point = pd
        .client
        .get_gc_safe_point(pdpb::GetGcSafePointRequest {
            header: header.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .safe_point;
    assert_eq!(safe_point, 77);
    let stores = pd
        .client
        .get_all_stores(pdpb::GetAllStoresRequest {
            header: header.clone(),
            exclude_tombstone_stores: true,
        })
        .await
        .unwrap()
        .into_inner()
        .stores;
    assert_eq!(stores.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 2, 3]);
    let found = pd
        .client
        .get_region_by_id(pdpb::GetRegionByIdRequest {
            header,
            region_id: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .region;
    assert_eq!(found, Some(grown));
    // Liveness is not persisted: every store starts out just seen.
    let (_, body) = http_get(pd.addr, "/pd/api/v1/stores").await;
    assert_eq!(state_names(&body), ["Up", "Up", "Up"]);
    pd.stop().await;
}
