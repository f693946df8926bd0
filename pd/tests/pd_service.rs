//! The PD service over real gRPC on a loopback port: timestamps, ids, bootstrap, regions,
//! stores and safe points, also across restarts.

mod common;

use std::time::Duration;

use basalt_proto::metapb;
use basalt_proto::pdpb;
use common::{error_type, Running};

#[tokio::test]
async fn tso_is_monotonic_within_and_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Running::start(dir.path()).await;
    let first = pd.timestamps(&[1, 10, 1, 200_000, 1]).await;
    assert_eq!(first.len(), 5);
    // A batch reserves all its timestamps: the answer is the highest, the next is above it.
    assert!(first[2] - first[1] >= 1 && first[4] > first[3]);
    assert!(first.windows(2).all(|pair| pair[0] < pair[1]), "{first:?}");
    // Counts that cannot fit one physical tick, or zero, are refused.
    for bad in [0u32, 1 << 18] {
        let request = pdpb::TsoRequest {
            header: pd.header(),
            count: bad,
            ..Default::default()
        };
        let mut stream = pd
            .client
            .tso(futures::stream::iter(vec![request]))
            .await
            .unwrap()
            .into_inner();
        assert!(
            stream.message().await.is_err(),
            "count {bad} must be refused"
        );
    }
    let cluster_id = pd.cluster_id;
    pd.stop().await;
    let mut pd = Running::start(dir.path()).await;
    assert_eq!(pd.cluster_id, cluster_id, "cluster id survives restarts");
    let after = pd.timestamps(&[1]).await;
    assert!(
        after[0] > *first.last().unwrap(),
        "{after:?} after {first:?}"
    );
    pd.stop().await;
}

#[tokio::test]
async fn ids_are_unique_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Running::start(dir.path()).await;
    let a = pd.alloc().await;
    let b = pd.alloc().await;
    assert!(b > a);
    pd.stop().await;
    let mut pd = Running::start(dir.path()).await;
    let c = pd.alloc().await;
    assert!(c > b);
    pd.stop().await;
}

#[tokio::test]
async fn bootstrap_regions_heartbeats_and_safe_points() {
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Running::start(dir.path()).await;
    let header = pd.header();
    // Before bootstrap: not bootstrapped.
    let response = pd
        .client
        .get_region(pdpb::GetRegionRequest {
            header: header.clone(),
            region_key: b"a".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        error_type(&response.header),
        pdpb::ErrorType::NotBootstrapped as i32
    );

    let store = metapb::Store {
        id: 1,
        address: "127.0.0.1:20160".into(),
        ..Default::default()
    };
    let peer = metapb::Peer {
        id: 3,
        store_id: 1,
        ..Default::default()
    };
    let region = metapb::Region {
        id: 2,
        region_epoch: Some(metapb::RegionEpoch {
            conf_ver: 1,
            version: 1,
        }),
        peers: vec![peer],
        ..Default::default()
    };
    let response = pd
        .client
        .bootstrap(pdpb::BootstrapRequest {
            header: header.clone(),
            store: Some(store.clone()),
            region: Some(region.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(error_type(&response.header), 0);
    let again = pd
        .client
        .bootstrap(pdpb::BootstrapRequest {
            header: header.clone(),
            store: Some(store.clone()),
            region: Some(region.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        error_type(&again.header),
        pdpb::ErrorType::AlreadyBootstrapped as i32
    );
    assert!(
        pd.client
            .is_bootstrapped(pdpb::IsBootstrappedRequest {
                header: header.clone()
            })
            .await
            .unwrap()
            .into_inner()
            .bootstrapped
    );

    // A heartbeat teaches PD the leader.
    let heartbeat = pdpb::RegionHeartbeatRequest {
        header: header.clone(),
        region: Some(region.clone()),
        leader: Some(peer),
        term: 1,
        ..Default::default()
    };
    let _stream = pd
        .client
        .region_heartbeat(futures::stream::iter(vec![heartbeat]))
        .await
        .unwrap();
    let mut leader = None;
    for _ in 0..100 {
        let response = pd
            .client
            .get_region(pdpb::GetRegionRequest {
                header: header.clone(),
                region_key: b"anything".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.region.as_ref().map(|r| r.id), Some(2));
        leader = response.leader;
        if leader.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(leader, Some(peer));

    // A split report replaces the region with two; lookups and scans follow.
    let left = metapb::Region {
        id: 2,
        end_key: b"m".to_vec(),
        region_epoch: Some(metapb::RegionEpoch {
            conf_ver: 1,
            version: 2,
        }),
        peers: vec![peer],
        ..Default::default()
    };
    let right = metapb::Region {
        id: 4,
        start_key: b"m".to_vec(),
        region_epoch: Some(metapb::RegionEpoch {
            conf_ver: 1,
            version: 2,
        }),
        peers: vec![metapb::Peer {
            id: 5,
            store_id: 1,
            ..Default::default()
        }],
        ..Default::default()
    };
    pd.client
        .report_batch_split(pdpb::ReportBatchSplitRequest {
            header: header.clone(),
            regions: vec![left.clone(), right.clone()],
        })
        .await
        .unwrap();
    let found = |key: &'static [u8]| pdpb::GetRegionRequest {
        header: header.clone(),
        region_key: key.to_vec(),
        ..Default::default()
    };
    assert_eq!(
        pd.client
            .get_region(found(b"a"))
            .await
            .unwrap()
            .into_inner()
            .region
            .map(|r| r.id),
        Some(2)
    );
    assert_eq!(
        pd.client
            .get_region(found(b"m"))
            .await
            .unwrap()
            .into_inner()
            .region
            .map(|r| r.id),
        Some(4)
    );
    assert_eq!(
        pd.client
            .get_region(found(b"zzz"))
            .await
            .unwrap()
            .into_inner()
            .region
            .map(|r| r.id),
        Some(4)
    );
    assert_eq!(
        pd.client
            .get_prev_region(found(b"q"))
            .await
            .unwrap()
            .into_inner()
            .region
            .map(|r| r.id),
        Some(2)
    );
    let scanned = pd
        .client
        .scan_regions(pdpb::ScanRegionsRequest {
            header: header.clone(),
            start_key: b"".to_vec(),
            end_key: Vec::new(),
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        scanned
            .regions
            .iter()
            .map(|r| r.region.as_ref().unwrap().id)
            .collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert_eq!(scanned.region_metas.len(), 2);
    let by_id = pd
        .client
        .get_region_by_id(pdpb::GetRegionByIdRequest {
            header: header.clone(),
            region_id: 4,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id.region.map(|r| r.start_key), Some(b"m".to_vec()));

    // Stores.
    let got = pd
        .client
        .get_store(pdpb::GetStoreRequest {
            header: header.clone(),
            store_id: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        got.store.map(|s| s.address),
        Some("127.0.0.1:20160".to_string())
    );
    let missing = pd
        .client
        .get_store(pdpb::GetStoreRequest {
            header: header.clone(),
            store_id: 99,
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(error_type(&missing.header), 0);

    // GC safe point only moves forward.
    let up = pd
        .client
        .update_gc_safe_point(pdpb::UpdateGcSafePointRequest {
            header: header.clone(),
            safe_point: 100,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(up.new_safe_point, 100);
    let down = pd
        .client
        .update_gc_safe_point(pdpb::UpdateGcSafePointRequest {
            header: header.clone(),
            safe_point: 50,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(down.new_safe_point, 100);

    // A request for another cluster is refused.
    let wrong = pd
        .client
        .get_gc_safe_point(pdpb::GetGcSafePointRequest {
            header: Some(pdpb::RequestHeader {
                cluster_id: pd.cluster_id + 1,
                ..Default::default()
            }),
        })
        .await;
    assert_eq!(
        wrong.map(|_| ()).map_err(|status| status.code()),
        Err(tonic::Code::FailedPrecondition)
    );

    // Everything but leaders survives a restart.
    pd.stop().await;
    let mut pd = Running::start(dir.path()).await;
    let header = pd.header();
    assert_eq!(
        pd.client
            .get_gc_safe_point(pdpb::GetGcSafePointRequest {
                header: header.clone()
            })
            .await
            .unwrap()
            .into_inner()
            .safe_point,
        100
    );
    let response = pd
        .client
        .get_region(pdpb::GetRegionRequest {
            header: header.clone(),
            region_key: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.region.map(|r| r.id), Some(4));
    assert!(
        pd.client
            .is_bootstrapped(pdpb::IsBootstrappedRequest { header })
            .await
            .unwrap()
            .into_inner()
            .bootstrapped
    );
    pd.stop().await;
}
