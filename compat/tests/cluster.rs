//! Real clusters of processes: `basalt-pd` and three `basalt-server --join-pd` stores on
//! 127.0.0.2-4, driven by `tikv-client`.
//!
//! - Failover: PD grows the first region to three replicas; the client keeps writing while the
//!   leader's store is killed with SIGKILL and restarted. No acknowledged write may be lost,
//!   and writes must resume within a few seconds of the kill.
//! - Split and merge: writes split a region (small split size); deleting the data shrinks the
//!   pieces, and PD merges them back (PrepareMerge/CommitMerge on the stores).
//! - `SplitRegion` on a one-store cluster: the leader splits through raft and answers once the
//!   split is applied.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use basalt_proto::kvrpcpb;
use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::{metapb, pdpb};
use common::{memcomparable, server_binary, sibling_binary, spawn_ready};
use tikv_client::RawClient;

struct Store {
    child: Child,
    addr: String,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr(ip: &str) -> String {
    let listener = TcpListener::bind(format!("{ip}:0")).expect("a free port");
    listener.local_addr().expect("bound").to_string()
}

fn start_store(pd: &str, addr: &str, dir: &Path) -> Store {
    start_store_with(pd, addr, dir, None)
}

fn start_store_with(pd: &str, addr: &str, dir: &Path, config: Option<&Path>) -> Store {
    let ip = addr.split(':').next().unwrap_or("127.0.0.1");
    let mut args: Vec<String> = [
        "--join-pd",
        pd,
        "--addr",
        addr,
        "--status-addr",
        &format!("{ip}:0"),
        "--data-dir",
        &dir.display().to_string(),
        "--log",
        "warn",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    if let Some(config) = config {
        args.push("--config".into());
        args.push(config.display().to_string());
    }
    let (child, _) = spawn_ready(&server_binary(), &args);
    Store {
        child,
        addr: addr.to_string(),
    }
}

/// A `basalt-pd` process, killed when dropped (also when a test fails).
struct Pd(Child);

impl Drop for Pd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `basalt-pd` on a free port with `extra` flags; answers the process and its address.
fn start_pd(dir: &Path, extra: &[&str]) -> (Pd, String) {
    let mut pd_args: Vec<String> = [
        "--data-dir",
        &dir.join("pd").display().to_string(),
        "--addr",
        "127.0.0.1:0",
        "--schedule-interval-ms",
        "200",
        "--log",
        "warn",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    pd_args.extend(extra.iter().map(|arg| arg.to_string()));
    let (child, line) = spawn_ready(&sibling_binary("basalt-pd"), &pd_args);
    let child = Pd(child);
    let pd = line
        .strip_prefix("READY pd=")
        .expect("READY pd=ADDR")
        .to_string();
    (child, pd)
}

/// A PD client and the request header of its cluster.
async fn pd_client(
    pd: &str,
) -> Option<(
    pdpb::pd_client::PdClient<tonic::transport::Channel>,
    Option<pdpb::RequestHeader>,
)> {
    let mut client = pdpb::pd_client::PdClient::connect(format!("http://{pd}"))
        .await
        .ok()?;
    let members = client
        .get_members(pdpb::GetMembersRequest::default())
        .await
        .ok()?
        .into_inner();
    let header = Some(pdpb::RequestHeader {
        cluster_id: members.header.map(|h| h.cluster_id).unwrap_or(0),
        ..Default::default()
    });
    Some((client, header))
}

/// Every region PD knows, in key order.
async fn all_regions(pd: &str) -> Vec<metapb::Region> {
    let Some((mut client, header)) = pd_client(pd).await else {
        return Vec::new();
    };
    client
        .scan_regions(pdpb::ScanRegionsRequest {
            header,
            limit: 10_000,
            ..Default::default()
        })
        .await
        .map(|answer| answer.into_inner().region_metas)
        .unwrap_or_default()
}

/// Waits until the first region has three voters.
async fn wait_three_voters(pd: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some((region, _)) = first_region(pd).await {
            let voters = region
                .peers
                .iter()
                .filter(|p| p.role == metapb::PeerRole::Voter as i32)
                .count();
            if voters == 3 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the region never got three voters"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The first region and its leader, as PD knows them.
async fn first_region(pd: &str) -> Option<(metapb::Region, metapb::Peer)> {
    let (mut client, header) = pd_client(pd).await?;
    let answer = client
        .get_region(pdpb::GetRegionRequest {
            header,
            region_key: Vec::new(),
            ..Default::default()
        })
        .await
        .ok()?
        .into_inner();
    Some((answer.region?, answer.leader?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_killing_the_leader_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_pd, pd) = start_pd(dir.path(), &[]);
    let addrs: Vec<String> = (2..=4)
        .map(|i| free_addr(&format!("127.0.0.{i}")))
        .collect();
    let mut stores: Vec<Option<Store>> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            Some(start_store(
                &pd,
                addr,
                &dir.path().join(format!("store-{i}")),
            ))
        })
        .collect();

    // PD adds learners and promotes them until the region has three voters.
    wait_three_voters(&pd).await;

    let client = RawClient::new(vec![pd.clone()]).await.expect("raw client");
    let acknowledged: Arc<Mutex<BTreeMap<u32, Instant>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let client = client.clone();
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                let key = format!("key-{i:06}");
                let put = tokio::time::timeout(
                    Duration::from_secs(5),
                    client.put(key.into_bytes(), i.to_be_bytes().to_vec()),
                )
                .await;
                if let Ok(Ok(())) = put {
                    acknowledged.lock().expect("lock").insert(i, Instant::now());
                }
                i += 1;
            }
        })
    };
    let wait_for = |count: usize| {
        let acknowledged = acknowledged.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while acknowledged.lock().expect("lock").len() < count {
                assert!(Instant::now() < deadline, "writes stalled below {count}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(50).await;

    let (_, leader) = first_region(&pd).await.expect("region");
    let leader_addr = {
        let (mut client, header) = pd_client(&pd).await.expect("pd");
        let store = client
            .get_store(pdpb::GetStoreRequest {
                header,
                store_id: leader.store_id,
            })
            .await
            .expect("store")
            .into_inner();
        store.store.expect("store").address
    };
    let victim = addrs
        .iter()
        .position(|addr| *addr == leader_addr)
        .expect("the leader is one of ours");
    let before = acknowledged.lock().expect("lock").len();
    let killed_at = Instant::now();
    drop(stores[victim].take()); // SIGKILL
                                 // Writes resume on the surviving majority.
    wait_for(before + 20).await;
    let resumed = acknowledged
        .lock()
        .expect("lock")
        .values()
        .filter(|at| **at > killed_at)
        .min()
        .copied()
        .expect("a write after the kill");
    let gap = resumed.duration_since(killed_at);
    assert!(
        gap < Duration::from_secs(8),
        "writes stalled {gap:?} after the leader died"
    );

    // The killed store comes back on its data and the cluster keeps going.
    stores[victim] = Some(start_store(
        &pd,
        &addrs[victim],
        &dir.path().join(format!("store-{victim}")),
    ));
    let after_restart = acknowledged.lock().expect("lock").len();
    wait_for(after_restart + 30).await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    writer.await.expect("writer");

    // Every acknowledged write is readable.
    let keys: Vec<u32> = acknowledged.lock().expect("lock").keys().copied().collect();
    for i in &keys {
        let value = client
            .get(format!("key-{i:06}").into_bytes())
            .await
            .expect("get");
        assert_eq!(value, Some(i.to_be_bytes().to_vec()), "key {i} lost");
    }
    eprintln!(
        "{} writes acknowledged, leader store {} killed, writes resumed after {gap:?}",
        keys.len(),
        stores[victim]
            .as_ref()
            .map(|s| s.addr.as_str())
            .unwrap_or("?")
    );
}

/// Waits until PD knows `count` regions (or, with `at_least`, that many or more).
async fn wait_regions(pd: &str, count: usize, at_least: bool, what: &str) -> Vec<metapb::Region> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let regions = all_regions(pd).await;
        if regions.len() == count || (at_least && regions.len() > count) {
            return regions;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: PD knows {} regions, wanted {count}",
            regions.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_region_is_merged_back_once_its_data_is_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Regions split past 4 MiB; PD merges regions under 1 MiB, right after a split if need be.
    let (_pd, pd) = start_pd(
        dir.path(),
        &[
            "--split-merge-interval-secs",
            "0",
            "--max-merge-region-size-mb",
            "1",
        ],
    );
    let config = dir.path().join("store.toml");
    std::fs::write(&config, "raft-tick-ms = 50\nregion-split-mb = 4\n").expect("config");
    let addrs: Vec<String> = (2..=4)
        .map(|i| free_addr(&format!("127.0.0.{i}")))
        .collect();
    let _stores: Vec<Store> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let data = dir.path().join(format!("store-{i}"));
            start_store_with(&pd, addr, &data, Some(&config))
        })
        .collect();
    wait_three_voters(&pd).await;
    // The first region is split at the default keyspace's edges: that is the layout merges
    // come back to (PD never merges across those edges).
    let initial = wait_regions(&pd, 5, true, "keyspace edges").await.len();

    let client = RawClient::new(vec![pd.clone()]).await.expect("raw client");
    client
        .put(b"n-keep".to_vec(), b"kept".to_vec())
        .await
        .expect("put");
    let value = vec![b'v'; 1024];
    for batch in 0..12u32 {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..1000u32)
            .map(|i| {
                (
                    format!("m-{:06}", batch * 1000 + i).into_bytes(),
                    value.clone(),
                )
            })
            .collect();
        client.batch_put(pairs).await.expect("batch put");
    }
    let split = wait_regions(&pd, initial + 2, true, "the 12 MiB region splits").await;
    eprintln!("{} regions after writing, {initial} before", split.len());

    client
        .delete_range(b"m-".to_vec()..b"m.".to_vec())
        .await
        .expect("delete range");
    wait_regions(&pd, initial, false, "the emptied regions merge back").await;
    assert_eq!(
        client.get(b"m-000001".to_vec()).await.expect("get"),
        None,
        "deleted data came back"
    );
    assert_eq!(
        client.get(b"n-keep".to_vec()).await.expect("get"),
        Some(b"kept".to_vec())
    );
    client
        .put(b"m-after".to_vec(), b"merged".to_vec())
        .await
        .expect("put after the merge");
    assert_eq!(
        client.get(b"m-after".to_vec()).await.expect("get"),
        Some(b"merged".to_vec())
    );
}

/// Asks `store` to split `region` (whose leader is `leader`) at the user keys `keys`.
async fn split_region(
    store: &str,
    region: &metapb::Region,
    leader: metapb::Peer,
    keys: &[&[u8]],
) -> kvrpcpb::SplitRegionResponse {
    let mut client = TikvClient::connect(format!("http://{store}"))
        .await
        .expect("KV client");
    client
        .split_region(kvrpcpb::SplitRegionRequest {
            context: Some(kvrpcpb::Context {
                region_id: region.id,
                region_epoch: region.region_epoch,
                peer: Some(leader),
                ..Default::default()
            }),
            split_keys: keys.iter().map(|key| key.to_vec()).collect(),
            ..Default::default()
        })
        .await
        .expect("SplitRegion answers")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_region_splits_through_raft() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_pd, pd) = start_pd(dir.path(), &[]);
    let addr = free_addr("127.0.0.1");
    let _store = start_store(&pd, &addr, &dir.path().join("store"));
    // The store splits its first region at the keyspace edges with the same splitter.
    let initial = wait_regions(&pd, 5, false, "keyspace edges").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (first, leader) = loop {
        match first_region(&pd).await {
            Some((region, leader)) if region.end_key == initial[0].end_key => {
                break (region, leader)
            }
            _ => assert!(
                Instant::now() < deadline,
                "PD never learned the first region's leader"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let answer = split_region(&addr, &first, leader, &[b"f", b"b", b"d"]).await;
    assert!(answer.region_error.is_none(), "{answer:?}");
    let starts: Vec<Vec<u8>> = answer.regions.iter().map(|r| r.start_key.clone()).collect();
    let expected: Vec<Vec<u8>> = [&b""[..], b"b", b"d", b"f"]
        .iter()
        .map(|key| match key.is_empty() {
            true => Vec::new(),
            false => memcomparable(key),
        })
        .collect();
    assert_eq!(starts, expected);
    assert_eq!(answer.regions[3].end_key, first.end_key);
    for pair in answer.regions.windows(2) {
        assert_eq!(pair[0].end_key, pair[1].start_key, "contiguous regions");
    }
    let known = wait_regions(&pd, initial.len() + 3, false, "PD learns the split").await;
    let known_ids: Vec<u64> = known.iter().take(4).map(|r| r.id).collect();
    let ids: Vec<u64> = answer.regions.iter().map(|r| r.id).collect();
    assert_eq!(known_ids, ids);

    let stale = split_region(&addr, &first, leader, &[b"c"]).await;
    let stale = stale.region_error.expect("a stale epoch is refused");
    assert!(stale.epoch_not_match.is_some(), "{stale:?}");
}
