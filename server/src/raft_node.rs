//! A store in a multi-store cluster (`basalt-server --join-pd ADDR`): every region it hosts is a
//! raft group; PD is external and places the replicas.
//!
//! Start-up: open the engine, learn the store id from PD, bootstrap the cluster's first region
//! if PD has none (several stores may race: the losers drop their local copy and start empty,
//! to receive peers from PD's replica checker), register with PD, start the raft store with
//! the gRPC transport, and serve the KV service (with the raft RPCs) on the same port.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use basalt_proto::{metapb, pdpb};
use basalt_raftstore::{
    bootstrap_region, load_regions, DeliveryReport, Engines, KvRaftLog, RaftKv, RaftRouter,
    RaftStore, StoreMeta,
};
use basalt_storage::engine::{KvEngine, Modify, RocksEngine, CF_RAFT};
use basalt_storage::{ConcurrencyManager, RequestContext, Storage};
use parking_lot::RwLock;

use crate::node::{keys_by_region, keyspace_edges, PdConnection, PdStoreResolver};
use crate::raft_client::RaftClient;
use crate::raft_pd::RaftPd;
use crate::region_split::RaftSplitter;
use crate::service::RegionSplitter;
use crate::service::{KvHandlers, TikvService};
use crate::{
    gc_worker, metrics, open_engine, serve, BoundAddrs, Config, Error, Result, Stopping,
    StoreListeners,
};

/// The router, known only once the store has started; the transport and PD's answers need it
/// before that.
#[derive(Clone, Default)]
pub struct LateRouter(Arc<OnceLock<RaftRouter>>);

impl LateRouter {
    /// The router, once set.
    pub fn get(&self) -> Option<&RaftRouter> {
        self.0.get()
    }
}

impl DeliveryReport for LateRouter {
    fn report_unreachable(&self, region_id: u64, to_peer_id: u64) {
        if let Some(router) = self.get() {
            router.report_unreachable(region_id, to_peer_id);
        }
    }

    fn report_snapshot(&self, region_id: u64, to_peer_id: u64, ok: bool) {
        if let Some(router) = self.get() {
            router.report_snapshot(region_id, to_peer_id, ok);
        }
    }
}

fn raft_config(config: &Config) -> basalt_raftstore::Config {
    basalt_raftstore::Config {
        tick_interval: Duration::from_millis(config.raft_tick_ms.max(10)),
        region_split_size: config.region_split_mb << 20,
        ..Default::default()
    }
}

/// Loads the store's regions, bootstrapping the cluster's first region when PD has none.
/// Returns them and whether this store bootstrapped the cluster.
async fn regions_or_bootstrap(
    pd: &mut PdConnection,
    engines: &Engines<RocksEngine, KvRaftLog<RocksEngine>>,
    store: &metapb::Store,
) -> Result<(Vec<metapb::Region>, bool)> {
    let mut regions = load_regions(&engines.kv)?;
    let bootstrapped = pd.is_bootstrapped().await?;
    if bootstrapped {
        return Ok((regions, false));
    }
    // Either a first start, or a crash between writing the first region and telling PD.
    let region = match regions.as_slice() {
        [only] if only.start_key.is_empty() && only.end_key.is_empty() => only.clone(),
        [] => {
            let region = metapb::Region {
                id: pd.alloc_id().await?,
                region_epoch: Some(metapb::RegionEpoch {
                    conf_ver: 1,
                    version: 1,
                }),
                peers: vec![metapb::Peer {
                    id: pd.alloc_id().await?,
                    store_id: store.id,
                    ..Default::default()
                }],
                ..Default::default()
            };
            bootstrap_region(engines, &region)?;
            region
        }
        _ => {
            return Err(Error::Pd(
                "this store has regions but PD's cluster is not bootstrapped: wrong PD?".into(),
            ))
        }
    };
    if pd.bootstrap(store.clone(), region.clone()).await? {
        tracing::info!(
            region_id = region.id,
            store_id = store.id,
            "bootstrapped the cluster"
        );
        return Ok((vec![region], true));
    } else {
        // Another store won: forget the local copy and wait for PD to place peers here.
        engines.kv.write(
            &[
                Modify::Delete(CF_RAFT, basalt_raftstore::keys::region_state_key(region.id)),
                Modify::Delete(CF_RAFT, basalt_raftstore::keys::apply_state_key(region.id)),
                Modify::Delete(CF_RAFT, basalt_raftstore::keys::raft_state_key(region.id)),
            ],
            true,
        )?;
        regions.clear();
    }
    Ok((regions, false))
}

/// Splits the first region so that each edge of the default keyspace (`crate::node::
/// keyspace_edges`) starts a region, as the single-node mode does and as PD arranges for
/// keyspaces: clients then never see one region spanning raw and transactional data. Retries
/// until the peer here leads and the splits are applied, for at most a minute.
async fn split_keyspace_edges(splitter: RaftSplitter<RocksEngine>, meta: Arc<RwLock<StoreMeta>>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pending = keys_by_region(&keyspace_edges(), |key| {
            meta.read().region_by_key(key).cloned()
        });
        if pending.is_empty() {
            tracing::info!("regions split at the keyspace edges");
            return;
        }
        for (region, keys) in pending {
            let ctx = RequestContext {
                region_id: region.id,
                region_epoch: region.region_epoch,
                ..Default::default()
            };
            if let Err(err) = splitter.split_region(&ctx, keys).await {
                tracing::debug!(%err, region_id = region.id, "splitting at the keyspace edges failed");
            }
        }
        if tokio::time::Instant::now() > deadline {
            tracing::warn!("gave up splitting the first region at the keyspace edges");
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs a store of a multi-store cluster whose PD listens at `pd_addr`.
pub async fn run(
    config: Config,
    pd_addr: String,
    ready: impl FnOnce(BoundAddrs),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| Error::Io {
        context: format!("creating {}", config.data_dir.display()),
        source,
    })?;
    let listeners = StoreListeners::bind(&config).await?;
    let (kv_addr, status_addr) = (listeners.kv_addr, listeners.status_addr);
    let advertise = config
        .advertise_addr
        .clone()
        .unwrap_or_else(|| kv_addr.to_string());
    let pd_socket = tokio::net::lookup_host(pd_addr.as_str())
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::Config(format!("PD address {pd_addr} does not resolve")))?;

    let kv = open_engine(&config).await?;
    let engines = Engines {
        kv: kv.clone(),
        raft: KvRaftLog::new(kv.clone()),
    };
    let mut pd = PdConnection::connect(&pd_addr, Duration::from_secs(30)).await?;
    let store_id = pd.store_id(&kv).await?;
    let store = metapb::Store {
        id: store_id,
        address: advertise.clone(),
        peer_address: advertise.clone(),
        status_address: status_addr.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        state: metapb::StoreState::Up as i32,
        start_timestamp: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or(0),
        ..Default::default()
    };
    let (regions, bootstrapped_here) = regions_or_bootstrap(&mut pd, &engines, &store).await?;
    pd.put_store(store).await?;
    tracing::info!(store_id, regions = regions.len(), %kv_addr, pd = %pd_addr, "store joined the cluster");

    let late = LateRouter::default();
    let transport = RaftClient::new(PdStoreResolver::new(pd.clone()), late.clone());
    let raft_pd = RaftPd::connect(&pd_addr, pd.cluster_id(), late.clone()).await?;
    let split_pd = raft_pd.clone();
    let store_runtime = tokio::runtime::Handle::current();
    let raft_store = {
        let config = raft_config(&config);
        let engines = engines.clone();
        tokio::task::spawn_blocking(move || {
            RaftStore::start(
                store_id,
                engines,
                transport,
                config,
                Some(raft_pd),
                Some(store_runtime),
            )
        })
        .await
        .map_err(|err| Error::Config(format!("starting the raft store: {err}")))??
    };
    let router = raft_store.router().clone();
    let _ = late.0.set(router.clone());
    let meta = raft_store.meta().clone();
    let raftkv = RaftKv::new(router.clone(), kv.clone(), meta.clone());
    let max_ts = pd.get_ts().await?;
    let splitter = RaftSplitter::new(raftkv.clone(), meta.clone(), split_pd);
    let storage = Storage::new(raftkv, ConcurrencyManager::new(max_ts));

    let (shutdown_sender, shutdown_receiver) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    if bootstrapped_here {
        tasks.spawn(split_keyspace_edges(splitter.clone(), meta.clone()));
    }
    tasks.spawn(metrics::serve(listeners.status));
    tasks.spawn(store_heartbeats(
        pd.clone(),
        meta.clone(),
        store_id,
        Duration::from_secs(config.heartbeat_interval_secs.clamp(1, 10)),
        shutdown_receiver.clone(),
    ));
    tasks.spawn(gc_worker(
        pd,
        storage.clone(),
        move || meta.read().regions.values().cloned().collect(),
        Duration::from_secs(config.gc_interval_secs.max(1)),
        shutdown_receiver.clone(),
    ));

    let service = TikvService::new(KvHandlers::new(storage))
        .with_raft_router(router)
        .with_region_splitter(splitter);
    let addrs = BoundAddrs {
        kv: kv_addr,
        pd: pd_socket,
        status: status_addr,
    };
    let stopping = Stopping {
        sender: shutdown_sender,
        receiver: shutdown_receiver,
        tasks,
    };
    let result = serve(
        &config,
        service,
        listeners.kv,
        stopping,
        addrs,
        ready,
        shutdown,
    )
    .await;
    let _ = tokio::task::spawn_blocking(move || raft_store.shutdown()).await;
    result
}

async fn store_heartbeats(
    mut pd: PdConnection,
    meta: Arc<RwLock<StoreMeta>>,
    store_id: u64,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as u32)
        .unwrap_or(0);
    loop {
        let stats = pdpb::StoreStats {
            store_id,
            region_count: meta.read().regions.len() as u32,
            start_time: started,
            ..Default::default()
        };
        if let Err(err) = pd.store_heartbeat(stats).await {
            tracing::warn!(%err, "store heartbeat failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}
