//! `SplitRegion` on a single-node server started in-process on loopback ports: a fresh store's
//! first region split at three transactional keys becomes four contiguous regions that PD
//! knows, data written before the split is read through the new regions, and stale or
//! misplaced splits are refused with the region error clients expect.

use std::time::Duration;

use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::{kvrpcpb, metapb, pdpb};
use basalt_server::node::PdConnection;
use basalt_server::BoundAddrs;
use basalt_storage::mvcc::Key;
use tonic::transport::Channel;

mod common;
use common::start_server;

/// The stored (memcomparable) form of a user key.
fn encoded(key: &[u8]) -> Vec<u8> {
    Key::from_raw(key).as_encoded().to_vec()
}

fn context(region: &metapb::Region) -> Option<kvrpcpb::Context> {
    Some(kvrpcpb::Context {
        region_id: region.id,
        region_epoch: region.region_epoch,
        peer: region.peers.first().copied(),
        ..Default::default()
    })
}

struct Clients {
    kv: TikvClient<Channel>,
    pd: pdpb::pd_client::PdClient<Channel>,
    pd_header: Option<pdpb::RequestHeader>,
    tso: PdConnection,
}

impl Clients {
    async fn connect(addrs: &BoundAddrs) -> Clients {
        let kv = TikvClient::connect(format!("http://{}", addrs.kv))
            .await
            .expect("KV service reachable");
        let tso = PdConnection::connect(&addrs.pd.to_string(), Duration::from_secs(10))
            .await
            .expect("PD reachable");
        let pd = pdpb::pd_client::PdClient::connect(format!("http://{}", addrs.pd))
            .await
            .expect("PD reachable");
        let pd_header = Some(pdpb::RequestHeader {
            cluster_id: tso.cluster_id(),
            ..Default::default()
        });
        Clients {
            kv,
            pd,
            pd_header,
            tso,
        }
    }

    /// The region holding `key` (stored form) and its leader, as PD knows them.
    async fn pd_region(&mut self, key: &[u8]) -> (metapb::Region, Option<metapb::Peer>) {
        let answer = self
            .pd
            .get_region(pdpb::GetRegionRequest {
                header: self.pd_header.clone(),
                region_key: key.to_vec(),
                ..Default::default()
            })
            .await
            .expect("GetRegion")
            .into_inner();
        (answer.region.expect("PD knows the region"), answer.leader)
    }

    /// The regions PD knows in `[start, end)` (stored form), in key order.
    async fn pd_regions(&mut self, start: &[u8], end: &[u8]) -> Vec<metapb::Region> {
        self.pd
            .scan_regions(pdpb::ScanRegionsRequest {
                header: self.pd_header.clone(),
                start_key: start.to_vec(),
                end_key: end.to_vec(),
                ..Default::default()
            })
            .await
            .expect("ScanRegions")
            .into_inner()
            .region_metas
    }

    /// Writes `key` = `value` in a transaction through `region`.
    async fn must_put(&mut self, region: &metapb::Region, key: &[u8], value: &[u8]) {
        let start_ts = self.tso.get_ts().await.expect("start ts");
        let prewrite = self
            .kv
            .kv_prewrite(kvrpcpb::PrewriteRequest {
                context: context(region),
                mutations: vec![kvrpcpb::Mutation {
                    op: kvrpcpb::Op::Put as i32,
                    key: key.to_vec(),
                    value: value.to_vec(),
                    ..Default::default()
                }],
                primary_lock: key.to_vec(),
                start_version: start_ts,
                lock_ttl: 3000,
                ..Default::default()
            })
            .await
            .expect("prewrite")
            .into_inner();
        assert!(
            prewrite.region_error.is_none() && prewrite.errors.is_empty(),
            "{prewrite:?}"
        );
        let commit_ts = self.tso.get_ts().await.expect("commit ts");
        let commit = self
            .kv
            .kv_commit(kvrpcpb::CommitRequest {
                context: context(region),
                start_version: start_ts,
                keys: vec![key.to_vec()],
                commit_version: commit_ts,
                ..Default::default()
            })
            .await
            .expect("commit")
            .into_inner();
        assert!(
            commit.region_error.is_none() && commit.error.is_none(),
            "{commit:?}"
        );
    }

    async fn get(&mut self, region: &metapb::Region, key: &[u8]) -> kvrpcpb::GetResponse {
        let version = self.tso.get_ts().await.expect("read ts");
        self.kv
            .kv_get(kvrpcpb::GetRequest {
                context: context(region),
                key: key.to_vec(),
                version,
                ..Default::default()
            })
            .await
            .expect("get")
            .into_inner()
    }

    async fn split(
        &mut self,
        region: &metapb::Region,
        keys: &[&[u8]],
    ) -> kvrpcpb::SplitRegionResponse {
        self.kv
            .split_region(kvrpcpb::SplitRegionRequest {
                context: context(region),
                split_keys: keys.iter().map(|key| key.to_vec()).collect(),
                ..Default::default()
            })
            .await
            .expect("SplitRegion answers")
            .into_inner()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_region_splits_a_single_node_store() {
    let server = start_server().await;
    let mut clients = Clients::connect(&server.addrs).await;
    let (first, _) = clients.pd_region(&encoded(b"a")).await;
    assert!(
        first.start_key.is_empty(),
        "the first region starts at the first key"
    );
    clients.must_put(&first, b"a", b"before-a").await;
    clients.must_put(&first, b"e", b"before-e").await;

    let answer = clients.split(&first, &[b"f", b"b", b"d", b"d"]).await;
    assert!(answer.region_error.is_none(), "{answer:?}");
    let regions = answer.regions;
    let boundaries: Vec<Vec<u8>> = regions
        .iter()
        .skip(1)
        .map(|r| r.start_key.clone())
        .collect();
    assert_eq!(
        boundaries,
        vec![encoded(b"b"), encoded(b"d"), encoded(b"f")]
    );
    assert_eq!(regions.len(), 4);
    assert_eq!(regions[0].start_key, first.start_key);
    assert_eq!(regions[3].end_key, first.end_key);
    for pair in regions.windows(2) {
        assert_eq!(pair[0].end_key, pair[1].start_key, "contiguous regions");
    }
    assert!(
        regions.iter().any(|region| region.id == first.id),
        "the original region stays"
    );
    #[allow(deprecated)]
    let (left, right) = (answer.left, answer.right);
    assert!(
        left.is_none() && right.is_none(),
        "left/right only for two regions"
    );

    // PD knows the new regions and their leader.
    let known = clients.pd_regions(&first.start_key, &first.end_key).await;
    assert_eq!(known, regions);
    let (holding_e, leader) = clients.pd_region(&encoded(b"e")).await;
    assert_eq!(holding_e, regions[2]);
    assert!(leader.is_some(), "PD knows the new region's leader");

    // Data written before the split is read through the regions that now hold it.
    assert_eq!(
        clients.get(&regions[2], b"e").await.value,
        b"before-e".to_vec()
    );
    assert_eq!(
        clients.get(&regions[0], b"a").await.value,
        b"before-a".to_vec()
    );
    let through_old = clients.get(&first, b"a").await;
    assert!(through_old
        .region_error
        .and_then(|e| e.epoch_not_match)
        .is_some());

    // A split asked at the old epoch, or at a key outside the region, is refused.
    let stale = clients.split(&first, &[b"c"]).await;
    let stale = stale.region_error.expect("stale epoch refused");
    assert!(stale.epoch_not_match.is_some(), "{stale:?}");
    let outside = clients.split(&regions[0], &[b"e"]).await;
    let outside = outside.region_error.expect("key outside refused");
    assert_eq!(
        outside.key_not_in_region.expect("key_not_in_region").key,
        encoded(b"e")
    );
    let at_start = clients.split(&regions[1], &[b"b"]).await;
    let at_start = at_start.region_error.expect("nothing left to split at");
    assert!(at_start.message.contains("no valid key"), "{at_start:?}");
    let unchanged = clients.pd_regions(&first.start_key, &first.end_key).await;
    assert_eq!(unchanged, regions, "refused splits change nothing");

    // A split in two answers `left` and `right` too.
    let two = clients.split(&regions[3], &[b"g"]).await;
    assert!(two.region_error.is_none(), "{two:?}");
    assert_eq!(two.regions.len(), 2);
    #[allow(deprecated)]
    let (left, right) = (two.left.expect("left"), two.right.expect("right"));
    assert_eq!(vec![left, right], two.regions);
    assert_eq!(two.regions[1].start_key, encoded(b"g"));
}
