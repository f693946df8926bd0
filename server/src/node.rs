//! The store's identity and its conversation with PD: bootstrap on first start (store id,
//! the first region), registration, heartbeats, timestamps, the GC safe point, and the
//! addresses of other stores ([`PdStoreResolver`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use basalt_proto::{metapb, pdpb};
use basalt_storage::engine::{KvEngine, Modify, CF_RAFT};
use basalt_storage::kv::{load_regions, region_meta_modify};
use basalt_storage::LocalEngine;
use parking_lot::Mutex;
use prost::Message;
use tonic::transport::Channel;

use crate::error::{Error, Result};
use crate::raft_client::StoreResolver;

type PdClient = pdpb::pd_client::PdClient<Channel>;

const STORE_IDENT_KEY: &[u8] = b"store_ident";

/// The user keys at which regions start so that each API V2 keyspace edge of the default
/// keyspace (id 0) is a region boundary, as TiKV's PD arranges: raw `r\0\0\0`..`r\0\0\1` and
/// transactional `x\0\0\0`..`x\0\0\1`. Boundaries are in stored (memcomparable) form.
pub fn keyspace_edges() -> Vec<Vec<u8>> {
    [b"r\0\0\0", b"r\0\0\x01", b"x\0\0\0", b"x\0\0\x01"]
        .iter()
        .map(|edge| {
            let mut out = Vec::new();
            basalt_storage::encode_bytes(&mut out, &edge[..]);
            out
        })
        .collect()
}

/// `keys` (stored form, sorted) grouped by the region `region_by_key` finds for each, in the
/// order of `keys`; keys that already start their region, or that no region holds, are left out.
pub fn keys_by_region(
    keys: &[Vec<u8>],
    region_by_key: impl Fn(&[u8]) -> Option<metapb::Region>,
) -> Vec<(metapb::Region, Vec<Vec<u8>>)> {
    let mut by_region: Vec<(metapb::Region, Vec<Vec<u8>>)> = Vec::new();
    for key in keys {
        let Some(region) = region_by_key(key) else {
            continue;
        };
        if region.start_key == *key {
            continue;
        }
        match by_region
            .iter_mut()
            .find(|(known, _)| known.id == region.id)
        {
            Some((_, keys)) => keys.push(key.clone()),
            None => by_region.push((region, vec![key.clone()])),
        }
    }
    by_region
}

/// What a store knows about itself after joining PD.
#[derive(Debug, Clone)]
pub struct StoreIdentity {
    /// The PD cluster.
    pub cluster_id: u64,
    /// This store.
    pub store_id: u64,
    /// The regions this store serves.
    pub regions: Vec<metapb::Region>,
}

/// A connection to PD with the cluster id filled into every request header.
#[derive(Clone)]
pub struct PdConnection {
    client: PdClient,
    cluster_id: u64,
}

fn pd_error(context: &str, header: Option<&pdpb::ResponseHeader>) -> Result<()> {
    if let Some(error) = header.and_then(|header| header.error.as_ref()) {
        if error.r#type != pdpb::ErrorType::Ok as i32 {
            return Err(Error::Pd(format!(
                "{context}: {} (type {})",
                error.message, error.r#type
            )));
        }
    }
    Ok(())
}

impl PdConnection {
    /// Connects to PD at `addr` (host:port), retrying for up to `wait`.
    pub async fn connect(addr: &str, wait: Duration) -> Result<Self> {
        let endpoint = format!("http://{addr}");
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match PdClient::connect(endpoint.clone()).await {
                Ok(mut client) => {
                    let members = client
                        .get_members(pdpb::GetMembersRequest::default())
                        .await
                        .map_err(|status| Error::Pd(format!("GetMembers: {status}")))?
                        .into_inner();
                    let cluster_id = members.header.map(|header| header.cluster_id).unwrap_or(0);
                    return Ok(PdConnection { client, cluster_id });
                }
                Err(err) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%err, "PD not reachable yet");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => return Err(Error::Pd(format!("connecting to PD at {addr}: {err}"))),
            }
        }
    }

    fn header(&self) -> Option<pdpb::RequestHeader> {
        Some(pdpb::RequestHeader {
            cluster_id: self.cluster_id,
            ..Default::default()
        })
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// Allocates a cluster-unique id.
    pub async fn alloc_id(&mut self) -> Result<u64> {
        let response = self
            .client
            .alloc_id(pdpb::AllocIdRequest {
                header: self.header(),
                count: 1,
            })
            .await
            .map_err(|status| Error::Pd(format!("AllocID: {status}")))?
            .into_inner();
        pd_error("AllocID", response.header.as_ref())?;
        Ok(response.id)
    }

    /// A fresh timestamp.
    pub async fn get_ts(&mut self) -> Result<u64> {
        let request = pdpb::TsoRequest {
            header: self.header(),
            count: 1,
            ..Default::default()
        };
        let mut responses = self
            .client
            .tso(futures::stream::iter(vec![request]))
            .await
            .map_err(|status| Error::Pd(format!("Tso: {status}")))?
            .into_inner();
        let response = responses
            .message()
            .await
            .map_err(|status| Error::Pd(format!("Tso: {status}")))?
            .ok_or_else(|| Error::Pd("Tso stream closed without an answer".into()))?;
        pd_error("Tso", response.header.as_ref())?;
        let timestamp = response
            .timestamp
            .ok_or_else(|| Error::Pd("Tso answer without a timestamp".into()))?;
        Ok(((timestamp.physical as u64) << 18) | timestamp.logical as u64)
    }

    /// The GC safe point PD holds.
    pub async fn gc_safe_point(&mut self) -> Result<u64> {
        let response = self
            .client
            .get_gc_safe_point(pdpb::GetGcSafePointRequest {
                header: self.header(),
            })
            .await
            .map_err(|status| Error::Pd(format!("GetGCSafePoint: {status}")))?
            .into_inner();
        pd_error("GetGCSafePoint", response.header.as_ref())?;
        Ok(response.safe_point)
    }

    /// The store `store_id` as PD knows it. A tombstone store is an error: it left the cluster.
    pub async fn get_store(&mut self, store_id: u64) -> Result<metapb::Store> {
        let response = self
            .client
            .get_store(pdpb::GetStoreRequest {
                header: self.header(),
                store_id,
            })
            .await
            .map_err(|status| Error::Pd(format!("GetStore: {status}")))?
            .into_inner();
        pd_error("GetStore", response.header.as_ref())?;
        let store = response
            .store
            .ok_or_else(|| Error::Pd(format!("GetStore answered no store {store_id}")))?;
        if store.state == metapb::StoreState::Tombstone as i32 {
            return Err(Error::Pd(format!("store {store_id} is a tombstone")));
        }
        Ok(store)
    }

    /// Registers (or updates) the store.
    pub async fn put_store(&mut self, store: metapb::Store) -> Result<()> {
        let response = self
            .client
            .put_store(pdpb::PutStoreRequest {
                header: self.header(),
                store: Some(store),
            })
            .await
            .map_err(|status| Error::Pd(format!("PutStore: {status}")))?
            .into_inner();
        pd_error("PutStore", response.header.as_ref())
    }

    /// Sends store statistics.
    pub async fn store_heartbeat(&mut self, stats: pdpb::StoreStats) -> Result<()> {
        let response = self
            .client
            .store_heartbeat(pdpb::StoreHeartbeatRequest {
                header: self.header(),
                stats: Some(stats),
                ..Default::default()
            })
            .await
            .map_err(|status| Error::Pd(format!("StoreHeartbeat: {status}")))?
            .into_inner();
        pd_error("StoreHeartbeat", response.header.as_ref())
    }

    /// Reports the region and its leader once over a region heartbeat stream.
    pub async fn region_heartbeat(
        &mut self,
        region: &metapb::Region,
        leader: metapb::Peer,
        term: u64,
    ) -> Result<()> {
        let request = pdpb::RegionHeartbeatRequest {
            header: self.header(),
            region: Some(region.clone()),
            leader: Some(leader),
            term,
            ..Default::default()
        };
        // PD answers only when it has an operator for the region, so do not wait for a reply.
        self.client
            .region_heartbeat(futures::stream::iter(vec![request]))
            .await
            .map_err(|status| Error::Pd(format!("RegionHeartbeat: {status}")))?;
        Ok(())
    }

    /// Reports every region until PD knows its leader (at most `wait`), so that clients asking
    /// PD right after the store is ready find where to send requests.
    pub async fn announce_leaders(
        &mut self,
        store_id: u64,
        regions: &[metapb::Region],
        wait: Duration,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + wait;
        for region in regions {
            let leader = leader_peer(region, store_id)?;
            loop {
                self.region_heartbeat(region, leader, 1).await?;
                let response = self
                    .client
                    .get_region_by_id(pdpb::GetRegionByIdRequest {
                        header: self.header(),
                        region_id: region.id,
                        ..Default::default()
                    })
                    .await
                    .map_err(|status| Error::Pd(format!("GetRegionByID: {status}")))?
                    .into_inner();
                let known_epoch = response
                    .region
                    .as_ref()
                    .and_then(|known| known.region_epoch);
                if response.leader.is_some_and(|known| known.id == leader.id)
                    && known_epoch == region.region_epoch
                {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(Error::Pd(format!(
                        "PD did not learn the leader of region {}",
                        region.id
                    )));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }

    /// New region and peer ids from PD for splitting `region` at `count` keys.
    pub async fn ask_batch_split(
        &mut self,
        region: &metapb::Region,
        count: usize,
    ) -> Result<Vec<pdpb::SplitId>> {
        let response = self
            .client
            .ask_batch_split(pdpb::AskBatchSplitRequest {
                header: self.header(),
                region: Some(region.clone()),
                split_count: count as u32,
                ..Default::default()
            })
            .await
            .map_err(|status| Error::Pd(format!("AskBatchSplit: {status}")))?
            .into_inner();
        pd_error("AskBatchSplit", response.header.as_ref())?;
        if response.ids.len() != count {
            return Err(Error::Pd(format!(
                "AskBatchSplit answered {} ids for {count} keys",
                response.ids.len()
            )));
        }
        Ok(response.ids)
    }

    /// Tells PD the regions a split produced.
    pub async fn report_batch_split(&mut self, regions: Vec<metapb::Region>) -> Result<()> {
        let report = self
            .client
            .report_batch_split(pdpb::ReportBatchSplitRequest {
                header: self.header(),
                regions,
            })
            .await
            .map_err(|status| Error::Pd(format!("ReportBatchSplit: {status}")))?
            .into_inner();
        pd_error("ReportBatchSplit", report.header.as_ref())
    }

    /// Splits `region` of a single-node store at `keys` (stored form, sorted, strictly inside
    /// the region) with ids from PD, reports the split to PD, and answers the resulting regions
    /// in key order. The original region keeps the leftmost part.
    pub async fn split_local<K: KvEngine>(
        &mut self,
        local: &LocalEngine<K>,
        region: &metapb::Region,
        keys: &[Vec<u8>],
    ) -> Result<Vec<metapb::Region>> {
        let ids = self.ask_batch_split(region, keys.len()).await?;
        // Each key splits the right part the previous key left: every left part is final.
        let mut regions = Vec::with_capacity(keys.len() + 1);
        let mut rest: Option<metapb::Region> = None;
        for (key, ids) in keys.iter().zip(ids) {
            let splitting = rest.as_ref().map_or(region.id, |rest| rest.id);
            let (left, right) =
                local.split(splitting, key, ids.new_region_id, &ids.new_peer_ids)?;
            regions.push(left);
            rest = Some(right);
        }
        regions.extend(rest);
        self.report_batch_split(regions.clone()).await?;
        Ok(regions)
    }

    /// Splits the store's regions so that every key in `edges` (stored form) starts a region,
    /// with ids from PD, and reports each split to PD.
    pub async fn ensure_region_edges<K: KvEngine>(
        &mut self,
        local: &LocalEngine<K>,
        edges: &[Vec<u8>],
    ) -> Result<()> {
        for (region, keys) in keys_by_region(edges, |key| local.region_by_key(key)) {
            let regions = self.split_local(local, &region, &keys).await?;
            tracing::info!(
                region_id = region.id,
                regions = ?regions.iter().map(|region| region.id).collect::<Vec<_>>(),
                "split region at the keyspace edges"
            );
        }
        Ok(())
    }

    /// Joins PD: loads or creates the store identity and, on the first start of the cluster,
    /// bootstraps it with the one region covering all keys.
    pub async fn join<K: KvEngine>(
        &mut self,
        engine: &K,
        store_address: &str,
        status_address: &str,
    ) -> Result<StoreIdentity> {
        let store_id = self.store_id(engine).await?;
        let store = metapb::Store {
            id: store_id,
            address: store_address.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            status_address: status_address.to_string(),
            peer_address: store_address.to_string(),
            state: metapb::StoreState::Up as i32,
            start_timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs() as i64)
                .unwrap_or(0),
            git_hash: String::new(),
            deploy_path: String::new(),
            ..Default::default()
        };
        let mut regions = load_regions(engine)?;
        if regions.is_empty() {
            regions.push(self.bootstrap_cluster(engine, &store).await?);
        }
        self.put_store(store).await?;
        Ok(StoreIdentity {
            cluster_id: self.cluster_id,
            store_id,
            regions,
        })
    }

    /// This store's id: read from `engine`, or allocated by PD and recorded on first start.
    pub async fn store_id<K: KvEngine>(&mut self, engine: &K) -> Result<u64> {
        if let Some(bytes) = engine.get_cf(CF_RAFT, STORE_IDENT_KEY)? {
            let ident = metapb::Store::decode(bytes.as_slice())
                .map_err(|err| Error::Corrupted(format!("store identity: {err}")))?;
            return Ok(ident.id);
        }
        let id = self.alloc_id().await?;
        let ident = metapb::Store {
            id,
            ..Default::default()
        };
        engine.write(
            &[Modify::Put(
                CF_RAFT,
                STORE_IDENT_KEY.to_vec(),
                ident.encode_to_vec(),
            )],
            true,
        )?;
        tracing::info!(
            store_id = id,
            cluster_id = self.cluster_id,
            "allocated store id"
        );
        Ok(id)
    }

    /// Whether PD's cluster has been bootstrapped.
    pub async fn is_bootstrapped(&mut self) -> Result<bool> {
        let response = self
            .client
            .is_bootstrapped(pdpb::IsBootstrappedRequest {
                header: self.header(),
            })
            .await
            .map_err(|status| Error::Pd(format!("IsBootstrapped: {status}")))?
            .into_inner();
        pd_error("IsBootstrapped", response.header.as_ref())?;
        Ok(response.bootstrapped)
    }

    /// Bootstraps PD's cluster with `store` and its first `region`. `Ok(false)` when another
    /// store bootstrapped it first.
    pub async fn bootstrap(
        &mut self,
        store: metapb::Store,
        region: metapb::Region,
    ) -> Result<bool> {
        let response = self
            .client
            .bootstrap(pdpb::BootstrapRequest {
                header: self.header(),
                store: Some(store),
                region: Some(region),
            })
            .await
            .map_err(|status| Error::Pd(format!("Bootstrap: {status}")))?
            .into_inner();
        let already = response
            .header
            .as_ref()
            .and_then(|header| header.error.as_ref())
            .is_some_and(|error| error.r#type == pdpb::ErrorType::AlreadyBootstrapped as i32);
        if already {
            return Ok(false);
        }
        pd_error("Bootstrap", response.header.as_ref())?;
        Ok(true)
    }

    async fn bootstrap_cluster<K: KvEngine>(
        &mut self,
        engine: &K,
        store: &metapb::Store,
    ) -> Result<metapb::Region> {
        if self.is_bootstrapped().await? {
            return Err(Error::Pd(
                "PD's cluster is bootstrapped but this store has no region: join it with \
                 `--join-pd` (multi-store mode), not as a single node with an embedded PD"
                    .into(),
            ));
        }
        let region_id = self.alloc_id().await?;
        let peer_id = self.alloc_id().await?;
        let region = metapb::Region {
            id: region_id,
            start_key: Vec::new(),
            end_key: Vec::new(),
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: 1,
            }),
            peers: vec![metapb::Peer {
                id: peer_id,
                store_id: store.id,
                ..Default::default()
            }],
            ..Default::default()
        };
        engine.write(&[region_meta_modify(&region)], true)?;
        if !self.bootstrap(store.clone(), region.clone()).await? {
            return Err(Error::Pd(
                "another store bootstrapped PD's cluster first".into(),
            ));
        }
        tracing::info!(
            region_id,
            peer_id,
            store_id = store.id,
            "bootstrapped the cluster"
        );
        Ok(region)
    }
}

/// Finds stores' raft addresses through PD and remembers each until a connection to that store
/// fails. Cheap to clone; clones share what they remember.
#[derive(Clone)]
pub struct PdStoreResolver {
    pd: PdConnection,
    addresses: Arc<Mutex<HashMap<u64, String>>>,
}

impl PdStoreResolver {
    /// A resolver asking `pd`.
    pub fn new(pd: PdConnection) -> Self {
        PdStoreResolver {
            pd,
            addresses: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl StoreResolver for PdStoreResolver {
    /// The store's peer address, or its client address when it has none (as TiKV does).
    async fn resolve(&self, store_id: u64) -> Result<String> {
        let remembered = self.addresses.lock().get(&store_id).cloned();
        if let Some(address) = remembered {
            return Ok(address);
        }
        let store = self.pd.clone().get_store(store_id).await?;
        let address = if store.peer_address.is_empty() {
            store.address
        } else {
            store.peer_address
        };
        if address.is_empty() {
            return Err(Error::Pd(format!("store {store_id} has no address")));
        }
        self.addresses.lock().insert(store_id, address.clone());
        Ok(address)
    }

    fn invalidate(&self, store_id: u64) {
        self.addresses.lock().remove(&store_id);
    }
}

/// This store's peer of `region`, which leads it on a single-node store.
pub fn leader_peer(region: &metapb::Region, store_id: u64) -> Result<metapb::Peer> {
    region
        .peers
        .iter()
        .find(|peer| peer.store_id == store_id)
        .cloned()
        .ok_or_else(|| Error::Corrupted(format!("region {} has no peer on this store", region.id)))
}

#[cfg(test)]
mod tests {
    use basalt_storage::engine::MemoryEngine;

    use super::*;

    /// An embedded PD on a free port; it stops when the returned sender drops.
    async fn start_pd(dir: &std::path::Path) -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let pd = basalt_pd::PdServer::open(
            dir,
            basalt_pd::PdConfig {
                advertise_url: format!("http://{address}"),
                ..Default::default()
            },
        )
        .expect("PD opens");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = pd
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await;
        });
        (address, stop)
    }

    fn store(id: u64, address: &str, peer_address: &str) -> metapb::Store {
        metapb::Store {
            id,
            address: address.to_string(),
            peer_address: peer_address.to_string(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn pd_resolver_finds_stores_and_refuses_tombstones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (pd_address, _stop) = start_pd(dir.path()).await;
        let mut pd = PdConnection::connect(&pd_address, Duration::from_secs(10))
            .await
            .expect("PD reachable");
        let me = pd
            .join(&MemoryEngine::new(), "127.0.0.1:1", "127.0.0.1:2")
            .await
            .expect("joined");
        pd.put_store(store(100, "10.0.0.1:20160", "10.0.0.1:20161"))
            .await
            .expect("put");
        pd.put_store(store(101, "10.0.0.2:20160", ""))
            .await
            .expect("put");
        pd.put_store(metapb::Store {
            state: metapb::StoreState::Tombstone as i32,
            ..store(102, "10.0.0.3:20160", "")
        })
        .await
        .expect("put");

        let resolver = PdStoreResolver::new(pd.clone());
        let resolve = |store_id| {
            let resolver = resolver.clone();
            async move { resolver.resolve(store_id).await }
        };
        assert_eq!(resolve(me.store_id).await.expect("self"), "127.0.0.1:1");
        assert_eq!(resolve(100).await.expect("peer address"), "10.0.0.1:20161");
        assert_eq!(
            resolve(101).await.expect("client address"),
            "10.0.0.2:20160"
        );
        let tombstone = resolve(102).await.expect_err("tombstone");
        assert!(tombstone.to_string().contains("tombstone"), "{tombstone}");
        resolve(999).await.expect_err("unknown store");

        // Remembered until a connection fails.
        pd.put_store(store(101, "10.0.0.9:20160", ""))
            .await
            .expect("put");
        assert_eq!(resolve(101).await.expect("remembered"), "10.0.0.2:20160");
        resolver.invalidate(101);
        assert_eq!(resolve(101).await.expect("asked again"), "10.0.0.9:20160");
    }
}
