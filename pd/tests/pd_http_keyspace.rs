//! The keyspace service and the HTTP API, both on PD's gRPC port.

mod common;

use basalt_proto::keyspacepb::keyspace_client::KeyspaceClient;
use basalt_proto::{keyspacepb, metapb, pdpb};
use common::{http_get, Running};

#[tokio::test]
async fn load_keyspace_knows_only_the_default_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let pd = Running::start(dir.path()).await;
    let mut client = KeyspaceClient::connect(format!("http://{}", pd.addr))
        .await
        .unwrap();
    let found = client
        .load_keyspace(keyspacepb::LoadKeyspaceRequest {
            header: pd.header(),
            name: "DEFAULT".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let meta = found.keyspace.expect("the default keyspace");
    assert_eq!((meta.id, meta.name.as_str()), (0, "DEFAULT"));
    assert_eq!(meta.state, keyspacepb::KeyspaceState::Enabled as i32);
    assert_eq!(found.header.map(|h| h.cluster_id), Some(pd.cluster_id));

    let missing = client
        .load_keyspace(keyspacepb::LoadKeyspaceRequest {
            header: pd.header(),
            name: "nope".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(missing.keyspace.is_none());
    assert_eq!(
        common::error_type(&missing.header),
        pdpb::ErrorType::EntryNotFound as i32
    );
    // Another cluster's header is refused outright.
    let foreign = client
        .load_keyspace(keyspacepb::LoadKeyspaceRequest {
            header: Some(pdpb::RequestHeader {
                cluster_id: pd.cluster_id + 1,
                ..Default::default()
            }),
            name: "DEFAULT".into(),
        })
        .await;
    assert_eq!(
        foreign.err().map(|status| status.code()),
        Some(tonic::Code::FailedPrecondition)
    );
    pd.stop().await;
}

#[tokio::test]
async fn http_api_counts_regions_on_the_grpc_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Running::start(dir.path()).await;
    let (status, body) = http_get(pd.addr, "/pd/api/v1/regions").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["count"], 0);

    let store_id = pd.alloc().await;
    let region_id = pd.alloc().await;
    let peer_id = pd.alloc().await;
    let peer = metapb::Peer {
        id: peer_id,
        store_id,
        ..Default::default()
    };
    let region = metapb::Region {
        id: region_id,
        region_epoch: Some(metapb::RegionEpoch {
            conf_ver: 1,
            version: 1,
        }),
        peers: vec![peer],
        ..Default::default()
    };
    // After bootstrap, a split at 0x72AB as a store would report it.
    let right_id = pd.alloc().await;
    let split_epoch = Some(metapb::RegionEpoch {
        conf_ver: 1,
        version: 2,
    });
    let left = metapb::Region {
        end_key: vec![0x72, 0xAB],
        region_epoch: split_epoch,
        ..region.clone()
    };
    let right = metapb::Region {
        id: right_id,
        start_key: vec![0x72, 0xAB],
        region_epoch: split_epoch,
        ..region.clone()
    };
    {
        let mut cluster = pd.cluster.lock();
        let store = metapb::Store {
            id: store_id,
            address: "127.0.0.1:1".into(),
            ..Default::default()
        };
        cluster.bootstrap(store, region).unwrap();
        cluster.put_region(left, Some(peer)).unwrap();
        cluster.put_region(right, None).unwrap();
    }
    let (status, body) = http_get(pd.addr, "/pd/api/v1/regions").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["count"], 2);
    assert_eq!(json["regions"][0]["id"], region_id);
    assert_eq!(json["regions"][1]["start_key"], "72AB");
    assert_eq!(json["regions"][0]["end_key"], "72AB");
    assert_eq!(json["regions"][0]["leader"]["store_id"], store_id);
    let (status, body) = http_get(pd.addr, "/pd/api/v1/stores").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["count"], 1);
    let (status, _) = http_get(pd.addr, "/pd/api/v1/no-such-thing").await;
    assert_eq!(status, 404);

    // gRPC keeps working on the same port after HTTP/1.1 traffic.
    let members = pd
        .client
        .get_members(pdpb::GetMembersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.header.map(|h| h.cluster_id), Some(pd.cluster_id));
    pd.stop().await;
}
