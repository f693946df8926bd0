//! Region heartbeats, stale reports, stores and service safe points over real gRPC, and the
//! in-process bootstrap an embedding server uses.

mod common;

use std::time::Duration;

use basalt_proto::{metapb, pdpb};
use common::{error_type, Running};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn peer(id: u64, store_id: u64) -> metapb::Peer {
    metapb::Peer {
        id,
        store_id,
        ..Default::default()
    }
}

fn store(id: u64, address: &str) -> metapb::Store {
    metapb::Store {
        id,
        address: address.into(),
        ..Default::default()
    }
}

fn region(id: u64, conf_ver: u64, version: u64, peers: Vec<metapb::Peer>) -> metapb::Region {
    metapb::Region {
        id,
        region_epoch: Some(metapb::RegionEpoch { conf_ver, version }),
        peers,
        ..Default::default()
    }
}

async fn leader_of(pd: &mut Running, region_id: u64) -> Option<metapb::Peer> {
    pd.client
        .get_region_by_id(pdpb::GetRegionByIdRequest {
            header: pd.header(),
            region_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .leader
}

async fn must_see_leader(pd: &mut Running, region_id: u64, want: metapb::Peer) {
    for _ in 0..200 {
        if leader_of(pd, region_id).await == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("PD never learned leader {want:?} of region {region_id}");
}

#[tokio::test]
async fn in_process_bootstrap_and_heartbeat_stream() {
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Running::start(dir.path()).await;
    let header = pd.header();

    // The embedding server bootstraps in process, through the same checks as the RPC.
    let (store_id, region_id, peer_id) = {
        let mut cluster = pd.cluster.lock();
        let store_id = cluster.alloc_ids(1).unwrap();
        let region_id = cluster.alloc_ids(1).unwrap();
        let peer_id = cluster.alloc_ids(1).unwrap();
        let two_peers = region(
            region_id,
            1,
            1,
            vec![peer(peer_id, store_id), peer(peer_id + 100, store_id)],
        );
        assert!(cluster
            .bootstrap(store(store_id, "127.0.0.1:20160"), two_peers)
            .is_err());
        cluster
            .bootstrap(
                store(store_id, "127.0.0.1:20160"),
                region(region_id, 1, 1, vec![peer(peer_id, store_id)]),
            )
            .unwrap();
        (store_id, region_id, peer_id)
    };
    let again = pd
        .client
        .bootstrap(pdpb::BootstrapRequest {
            header: header.clone(),
            store: Some(store(store_id, "127.0.0.1:20160")),
            region: Some(region(region_id, 1, 1, vec![peer(peer_id, store_id)])),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        error_type(&again.header),
        pdpb::ErrorType::AlreadyBootstrapped as i32
    );

    // Before any heartbeat the leader is unknown: ScanRegions sends an empty peer.
    let scanned = pd
        .client
        .scan_regions(pdpb::ScanRegionsRequest {
            header: header.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(scanned.leaders, vec![metapb::Peer::default()]);
    assert_eq!(scanned.regions[0].leader, Some(metapb::Peer::default()));

    // A second store, and the region grows a peer there (conf change).
    let response = pd
        .client
        .put_store(pdpb::PutStoreRequest {
            header: header.clone(),
            store: Some(store(store_id + 1000, "127.0.0.1:20161")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(error_type(&response.header), 0);
    let duplicate = pd
        .client
        .put_store(pdpb::PutStoreRequest {
            header: header.clone(),
            store: Some(store(store_id + 2000, "127.0.0.1:20161")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(error_type(&duplicate.header), 0, "address already used");
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
    assert_eq!(stores.len(), 2);

    let first = peer(peer_id, store_id);
    let second = peer(peer_id + 1, store_id + 1000);
    let grown = region(region_id, 2, 1, vec![first, second]);

    // One long-lived heartbeat stream, as a store keeps it.
    let (sender, receiver) = mpsc::channel(8);
    let mut responses = pd
        .client
        .region_heartbeat(ReceiverStream::new(receiver))
        .await
        .unwrap()
        .into_inner();
    let heartbeat = |leader: metapb::Peer, region: metapb::Region| pdpb::RegionHeartbeatRequest {
        header: header.clone(),
        region: Some(region),
        leader: Some(leader),
        term: 2,
        approximate_size: 1 << 20,
        approximate_keys: 1000,
        ..Default::default()
    };
    sender.send(heartbeat(first, grown.clone())).await.unwrap();
    must_see_leader(&mut pd, region_id, first).await;
    sender.send(heartbeat(second, grown.clone())).await.unwrap();
    must_see_leader(&mut pd, region_id, second).await;
    let info = pd.cluster.lock().region_by_id(region_id).unwrap().unwrap();
    assert_eq!(info.region.peers.len(), 2);
    assert_eq!(info.stats.approximate_keys, 1000);

    // A stale report (older conf_ver) is refused with an error on the stream, and changes
    // nothing.
    sender
        .send(heartbeat(first, region(region_id, 1, 1, vec![first])))
        .await
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(5), responses.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_ne!(error_type(&refused.header), 0);
    assert_eq!(refused.region_id, region_id);
    assert_eq!(leader_of(&mut pd, region_id).await, Some(second));
    drop(sender);
    assert!(
        tokio::time::timeout(Duration::from_secs(5), responses.message())
            .await
            .unwrap()
            .unwrap()
            .is_none()
    );

    // Leaders live in memory; the grown region survives a restart.
    pd.stop().await;
    let mut pd = Running::start(dir.path()).await;
    let response = pd
        .client
        .get_region(pdpb::GetRegionRequest {
            header: pd.header(),
            region_key: b"k".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.region.map(|r| r.peers.len()), Some(2));
    assert_eq!(response.leader, None);
    pd.stop().await;
}

#[tokio::test]
async fn service_safe_points_operators_and_wrong_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Running::start(dir.path()).await;
    let header = pd.header();
    pd.cluster
        .lock()
        .bootstrap(
            store(1, "127.0.0.1:20160"),
            region(2, 1, 1, vec![peer(3, 1)]),
        )
        .unwrap();

    let update = |service: &str, ttl: i64, safe_point: u64| pdpb::UpdateServiceGcSafePointRequest {
        header: header.clone(),
        service_id: service.as_bytes().to_vec(),
        ttl,
        safe_point,
    };
    let br = pd
        .client
        .update_service_gc_safe_point(update("br", 600, 100))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (br.service_id.as_slice(), br.min_safe_point),
        (&b"br"[..], 100)
    );
    assert!(br.ttl > 0 && br.ttl <= 600);
    let cdc = pd
        .client
        .update_service_gc_safe_point(update("cdc", 600, 200))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cdc.min_safe_point, 100, "br still holds the minimum");
    let low = pd
        .client
        .update_service_gc_safe_point(update("cdc", 600, 50))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(low.min_safe_point, 100, "below the minimum is refused");
    let removed = pd
        .client
        .update_service_gc_safe_point(update("br", 0, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (removed.service_id.as_slice(), removed.min_safe_point),
        (&b"cdc"[..], 200)
    );

    // No schedulers yet: no region has an operator.
    let operator = pd
        .client
        .get_operator(pdpb::GetOperatorRequest {
            header: header.clone(),
            region_id: 2,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        error_type(&operator.header),
        pdpb::ErrorType::RegionNotFound as i32
    );

    // Min resolved ts reports are accepted for known stores only.
    let report = |store_id| pdpb::ReportMinResolvedTsRequest {
        header: header.clone(),
        store_id,
        min_resolved_ts: 42,
    };
    let known = pd
        .client
        .report_min_resolved_ts(report(1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(error_type(&known.header), 0);
    let unknown = pd
        .client
        .report_min_resolved_ts(report(9))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(error_type(&unknown.header), 0);

    // A timestamp stream addressed to another cluster fails.
    let request = pdpb::TsoRequest {
        header: Some(pdpb::RequestHeader {
            cluster_id: pd.cluster_id + 1,
            ..Default::default()
        }),
        count: 1,
        ..Default::default()
    };
    let mut stream = pd
        .client
        .tso(futures::stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stream.message().await.map(|_| ()).map_err(|s| s.code()),
        Err(tonic::Code::FailedPrecondition)
    );

    // Service safe points survive a restart.
    pd.stop().await;
    let mut pd = Running::start(dir.path()).await;
    let after = pd
        .client
        .update_service_gc_safe_point(pdpb::UpdateServiceGcSafePointRequest {
            header: pd.header(),
            service_id: b"lightning".to_vec(),
            ttl: 600,
            safe_point: 150,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.min_safe_point, 200, "cdc's 200 is still the minimum");
    pd.stop().await;
}
