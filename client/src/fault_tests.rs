//! Region errors provoked against a real server by planting stale regions in the cache: the
//! single-node server never splits after bootstrap, so a stale epoch or an unknown region id
//! is the way to exercise the retry paths. Uses the integration tests' server harness.

use basalt_proto::{metapb, tipb};
use prost::Message;

use crate::{CopRequest, RegionInfo};

#[path = "../tests/common/mod.rs"]
mod common;

use common::ServerProcess;

/// `info` with an epoch the store does not have.
fn stale_epoch(info: &RegionInfo) -> RegionInfo {
    let mut stale = info.clone();
    let epoch = stale
        .region
        .region_epoch
        .get_or_insert_with(Default::default);
    epoch.version += 100;
    stale
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_epochs_are_refreshed_from_the_store() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let mut txn = cluster.begin().await.unwrap();
    txn.put(b"k1".to_vec(), b"v1".to_vec());
    txn.put(b"k2".to_vec(), b"v2".to_vec());
    txn.commit().await.unwrap();

    let cache = &cluster.inner.cache;
    let info = cache.locate(b"k1").await.unwrap();
    let good_epoch = info.region.region_epoch;

    // Reads, writes and the coprocessor each meet the stale epoch once and recover.
    cache.insert(stale_epoch(&info));
    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(snapshot.get(b"k1").await.unwrap(), Some(b"v1".to_vec()));
    assert_eq!(
        cache.locate(b"k1").await.unwrap().region.region_epoch,
        good_epoch
    );

    cache.insert(stale_epoch(&info));
    assert_eq!(snapshot.scan(b"k", b"l", 10).await.unwrap().len(), 2);

    cache.insert(stale_epoch(&info));
    assert_eq!(
        snapshot
            .batch_get(vec![b"k1".to_vec(), b"k2".to_vec()])
            .await
            .unwrap()
            .len(),
        2
    );

    cache.insert(stale_epoch(&info));
    let mut txn = cluster.begin().await.unwrap();
    txn.put(b"k3".to_vec(), b"v3".to_vec());
    txn.put(b"k1".to_vec(), b"v1'".to_vec());
    txn.commit().await.unwrap();

    // The coprocessor: a table scan over an empty table range in another region.
    let table_region = cache.locate(b"t").await.unwrap();
    cache.insert(stale_epoch(&table_region));
    let dag = tipb::DagRequest {
        executors: vec![tipb::Executor {
            tp: Some(tipb::ExecType::TypeTableScan as i32),
            tbl_scan: Some(tipb::TableScan {
                table_id: Some(1),
                columns: vec![tipb::ColumnInfo {
                    column_id: Some(1),
                    tp: Some(8), // LONGLONG
                    pk_handle: Some(true),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }],
        output_offsets: vec![0],
        ..Default::default()
    };
    let responses = cluster
        .coprocessor(CopRequest {
            tp: 103,
            data: dag.encode_to_vec(),
            start_ts: cluster.timestamp().await.unwrap(),
            ranges: vec![(b"t".to_vec(), b"u".to_vec())],
            paging_size: 0,
            max_paging_size: 0,
            concurrency: 1,
        })
        .await
        .unwrap();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].region_id, table_region.id());
    assert_eq!(
        cache.locate(b"t").await.unwrap().region.region_epoch,
        table_region.region.region_epoch
    );

    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(snapshot.get(b"k1").await.unwrap(), Some(b"v1'".to_vec()));
    assert_eq!(snapshot.get(b"k3").await.unwrap(), Some(b"v3".to_vec()));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_regions_are_dropped_and_located_again() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let cache = &cluster.inner.cache;
    let info = cache.locate(b"k").await.unwrap();
    // A region the store does not have, claiming the key space around "k".
    let ghost = RegionInfo {
        region: metapb::Region {
            id: 999_999,
            start_key: b"j".to_vec(),
            end_key: b"m".to_vec(),
            ..info.region.clone()
        },
        ..info.clone()
    };
    cache.insert(ghost);
    assert_eq!(cache.locate(b"k").await.unwrap().id(), 999_999);
    let mut txn = cluster.begin().await.unwrap();
    txn.put(b"k".to_vec(), b"v".to_vec());
    txn.commit().await.unwrap();
    assert_eq!(cache.locate(b"k").await.unwrap().id(), info.id());
    let snapshot = cluster.snapshot(cluster.timestamp().await.unwrap());
    assert_eq!(snapshot.get(b"k").await.unwrap(), Some(b"v".to_vec()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cache_replaces_overlapping_regions() {
    let server = ServerProcess::start();
    let cluster = server.must_connect().await;
    let cache = &cluster.inner.cache;
    let all = cluster.regions(b"", b"").await.unwrap();
    let region = |id: u64, start: &[u8], end: &[u8]| RegionInfo {
        region: metapb::Region {
            id,
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            ..Default::default()
        },
        ..all[0].clone()
    };
    // One region over everything replaces every cached one; pieces replace it back.
    cache.insert(region(1, b"", b""));
    assert_eq!(cache.cached_ids(), vec![1]);
    cache.insert(region(2, b"", b"m"));
    cache.insert(region(3, b"m", b""));
    assert_eq!(cache.cached_ids(), vec![2, 3]);
    cache.insert(region(4, b"c", b"p"));
    assert_eq!(cache.cached_ids(), vec![4]);
    assert!(cache.cached(b"a").is_none());
    assert_eq!(cache.cached(b"o").map(|info| info.id()), Some(4));
    assert!(cache.cached(b"p").is_none());
}
