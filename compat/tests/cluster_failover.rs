//! A real cluster of processes: `basalt-pd` and three `basalt-server --join-pd` stores on
//! 127.0.0.2-4. PD grows the first region to three replicas; `tikv-client` keeps writing while
//! the leader's store is killed with SIGKILL and restarted. No acknowledged write may be lost,
//! and writes must resume within a few seconds of the kill.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use basalt_proto::{metapb, pdpb};
use common::{server_binary, sibling_binary, spawn_ready};
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
    let ip = addr.split(':').next().unwrap_or("127.0.0.1");
    let args: Vec<String> = [
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
    let (child, _) = spawn_ready(&server_binary(), &args);
    Store {
        child,
        addr: addr.to_string(),
    }
}

/// The first region and its leader, as PD knows them.
async fn first_region(pd: &str) -> Option<(metapb::Region, metapb::Peer)> {
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
    let pd_args: Vec<String> = [
        "--data-dir",
        &dir.path().join("pd").display().to_string(),
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
    let (mut pd_child, line) = spawn_ready(&sibling_binary("basalt-pd"), &pd_args);
    let pd = line
        .strip_prefix("READY pd=")
        .expect("READY pd=ADDR")
        .to_string();
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
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some((region, _)) = first_region(&pd).await {
            let voters = region
                .peers
                .iter()
                .filter(|p| p.role == metapb::PeerRole::Voter as i32)
                .count();
            if voters == 3 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the region never got three voters"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

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
        let mut client = pdpb::pd_client::PdClient::connect(format!("http://{pd}"))
            .await
            .expect("pd");
        let members = client
            .get_members(pdpb::GetMembersRequest::default())
            .await
            .expect("members")
            .into_inner();
        let store = client
            .get_store(pdpb::GetStoreRequest {
                header: Some(pdpb::RequestHeader {
                    cluster_id: members.header.map(|h| h.cluster_id).unwrap_or(0),
                    ..Default::default()
                }),
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
    let _ = pd_child.kill();
    let _ = pd_child.wait();
}
