//! The Basalt server: the `basalt-server` binary's gRPC `tikvpb.Tikv` service over
//! `basalt_storage`, the embedded PD, the store's bootstrap and heartbeats, the GC worker, and
//! the Prometheus `/metrics` endpoint.
//!
//! Read `run` first: it wires every part together in the order a store starts.
#![deny(missing_docs)]

pub mod config;
mod error;
pub mod metrics;
pub mod node;
pub mod raft_client;
mod raft_node;
mod raft_pd;
mod region_split;
pub mod service;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use basalt_proto::tikvpb::tikv_server::TikvServer;
use basalt_proto::{metapb, pdpb};
use basalt_storage::engine::KvEngine;
use basalt_storage::engine::{RocksEngine, RocksOptions};
use basalt_storage::{ConcurrencyManager, LocalEngine, RequestContext, Storage};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use config::Config;
pub use error::{Error, Result};

use node::PdConnection;
use service::{KvHandlers, TikvService};

/// Addresses a running server actually bound (useful when the config asked for port 0).
#[derive(Debug, Clone, Copy)]
pub struct BoundAddrs {
    /// The KV service.
    pub kv: SocketAddr,
    /// The embedded PD.
    pub pd: SocketAddr,
    /// The metrics endpoint.
    pub status: SocketAddr,
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|source| Error::Io {
        context: format!("binding the {what} address {addr}"),
        source,
    })
}

/// Starts a single-node Basalt with an embedded PD (or, with `join_pd`, a store of a
/// multi-store cluster, see `raft_node`), calls `ready` with the bound addresses once
/// clients can connect, and serves until `shutdown` completes.
pub async fn run(
    config: Config,
    ready: impl FnOnce(BoundAddrs),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if let Some(pd_addr) = config.join_pd.clone() {
        return raft_node::run(config, pd_addr, ready, shutdown).await;
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|source| Error::Io {
        context: format!("creating {}", config.data_dir.display()),
        source,
    })?;
    let (shutdown_sender, shutdown_receiver) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    // The embedded PD first: the store needs it to learn who it is.
    let pd_listener = bind(config.pd_addr, "PD").await?;
    let pd_addr = pd_listener.local_addr().map_err(|source| Error::Io {
        context: "PD address".into(),
        source,
    })?;
    let pd = basalt_pd::PdServer::open(
        &config.data_dir.join("pd"),
        basalt_pd::PdConfig {
            advertise_url: format!("http://{pd_addr}"),
            ..Default::default()
        },
    )
    .map_err(|err| Error::EmbeddedPd(err.to_string()))?;
    {
        let mut stop = shutdown_receiver.clone();
        tasks.spawn(async move {
            let signal = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            if let Err(err) = pd.serve(pd_listener, signal).await {
                tracing::error!(%err, "embedded PD stopped");
            }
        });
    }

    let listeners = StoreListeners::bind(&config).await?;
    let (kv_addr, status_addr) = (listeners.kv_addr, listeners.status_addr);
    let advertise = config
        .advertise_addr
        .clone()
        .unwrap_or_else(|| kv_addr.to_string());
    let engine = open_engine(&config).await?;
    let mut pd_client =
        PdConnection::connect(&pd_addr.to_string(), Duration::from_secs(10)).await?;
    let identity = pd_client
        .join(&engine, &advertise, &status_addr.to_string())
        .await?;
    let local = LocalEngine::new(
        engine.clone(),
        identity.store_id,
        identity.regions.clone(),
        config.sync_log,
    );
    pd_client
        .ensure_region_edges(&local, &node::keyspace_edges())
        .await?;
    let regions = local.regions();
    tracing::info!(store_id = identity.store_id, regions = regions.len(), %kv_addr, %pd_addr, "store joined the cluster");
    pd_client
        .announce_leaders(identity.store_id, &regions, Duration::from_secs(10))
        .await?;
    let max_ts = pd_client.get_ts().await?;
    let storage = Storage::new(local.clone(), ConcurrencyManager::new(max_ts));
    let splitter =
        region_split::LocalSplitter::new(local.clone(), identity.store_id, pd_client.clone());

    tasks.spawn(metrics::serve(listeners.status));
    tasks.spawn(heartbeats(
        pd_client.clone(),
        local.clone(),
        identity.store_id,
        Duration::from_secs(config.heartbeat_interval_secs.max(1)),
        shutdown_receiver.clone(),
    ));
    tasks.spawn(gc_worker(
        pd_client,
        storage.clone(),
        move || local.regions(),
        Duration::from_secs(config.gc_interval_secs.max(1)),
        shutdown_receiver.clone(),
    ));

    let service = TikvService::new(KvHandlers::new(storage)).with_region_splitter(splitter);
    let addrs = BoundAddrs {
        kv: kv_addr,
        pd: pd_addr,
        status: status_addr,
    };
    let stopping = Stopping {
        sender: shutdown_sender,
        receiver: shutdown_receiver,
        tasks,
    };
    serve(
        &config,
        service,
        listeners.kv,
        stopping,
        addrs,
        ready,
        shutdown,
    )
    .await
}

/// The KV and status listeners of a store, bound.
pub(crate) struct StoreListeners {
    /// The KV service's listener.
    pub kv: TcpListener,
    /// Its address.
    pub kv_addr: SocketAddr,
    /// The status address, already serving nothing until `metrics::serve` takes the listener.
    pub status: TcpListener,
    /// Its address.
    pub status_addr: SocketAddr,
}

impl StoreListeners {
    /// Binds `config.addr` and `config.status_addr`.
    pub(crate) async fn bind(config: &Config) -> Result<StoreListeners> {
        let kv = bind(config.addr, "KV").await?;
        let kv_addr = kv.local_addr().map_err(|source| Error::Io {
            context: "KV address".into(),
            source,
        })?;
        let status = metrics::bind(config.status_addr)
            .await
            .map_err(|source| Error::Io {
                context: format!("binding the status address {}", config.status_addr),
                source,
            })?;
        let status_addr = status.local_addr().map_err(|source| Error::Io {
            context: "status address".into(),
            source,
        })?;
        Ok(StoreListeners {
            kv,
            kv_addr,
            status,
            status_addr,
        })
    }
}

/// Opens the store's RocksDB under `config.data_dir/db`.
pub(crate) async fn open_engine(config: &Config) -> Result<RocksEngine> {
    let rocks_options = RocksOptions {
        block_cache_bytes: config.block_cache_mb << 20,
        ..Default::default()
    };
    let path = config.data_dir.join("db");
    tokio::task::spawn_blocking(move || RocksEngine::open(&path, &rocks_options))
        .await
        .map_err(|err| Error::Config(format!("opening the engine: {err}")))?
        .map_err(Error::from)
}

/// How a running store stops: the signal its background tasks watch, and those tasks.
pub(crate) struct Stopping {
    /// Set to `true` once `shutdown` completes.
    pub sender: tokio::sync::watch::Sender<bool>,
    /// What tasks and the server watch.
    pub receiver: tokio::sync::watch::Receiver<bool>,
    /// Background tasks, shut down after the server.
    pub tasks: tokio::task::JoinSet<()>,
}

/// Serves `service` on `listener`, calls `ready` once clients can connect, and returns after
/// `shutdown` completes and the background tasks stopped.
pub(crate) async fn serve<E: basalt_storage::Engine>(
    config: &Config,
    service: TikvService<E>,
    listener: TcpListener,
    stopping: Stopping,
    addrs: BoundAddrs,
    ready: impl FnOnce(BoundAddrs),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let Stopping {
        sender,
        receiver,
        mut tasks,
    } = stopping;
    let message_limit = config.max_grpc_message_mb << 20;
    let service = TikvServer::new(service)
        .max_decoding_message_size(message_limit)
        .max_encoding_message_size(message_limit);
    let mut stop = receiver;
    let server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(service)
        .serve_with_incoming_shutdown(
            basalt_pd::nodelay(TcpListenerStream::new(listener)),
            async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            },
        );
    ready(addrs);
    tokio::spawn(async move {
        shutdown.await;
        let _ = sender.send(true);
    });
    let result = server.await;
    tasks.shutdown().await;
    result.map_err(Error::from)
}

async fn heartbeats<K: KvEngine>(
    mut pd: PdConnection,
    local: LocalEngine<K>,
    store_id: u64,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let started = std::time::SystemTime::now();
    loop {
        let regions = local.regions();
        for region in &regions {
            let leader = node::leader_peer(region, store_id).unwrap_or_else(|_| metapb::Peer {
                store_id,
                ..Default::default()
            });
            if let Err(err) = pd.region_heartbeat(region, leader, 1).await {
                tracing::warn!(%err, region_id = region.id, "region heartbeat failed");
            }
        }
        let stats = pdpb::StoreStats {
            store_id,
            region_count: regions.len() as u32,
            start_time: started
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs() as u32)
                .unwrap_or(0),
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

/// Collects garbage below PD's GC safe point in every region `regions` lists, each time the
/// safe point moves. Only leaders collect: followers answer `NotLeader` and receive the
/// deletions through their log.
pub(crate) async fn gc_worker<E: basalt_storage::Engine>(
    mut pd: PdConnection,
    storage: Storage<E>,
    regions: impl Fn() -> Vec<metapb::Region> + Send + 'static,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut done = 0u64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let safe_point = match pd.gc_safe_point().await {
            Ok(safe_point) if safe_point > done => safe_point,
            Ok(_) => continue,
            Err(err) => {
                tracing::debug!(%err, "reading the GC safe point failed");
                continue;
            }
        };
        let mut failed = false;
        for region in regions() {
            let ctx = RequestContext {
                region_id: region.id,
                region_epoch: region.region_epoch,
                ..Default::default()
            };
            match storage.gc(&ctx, safe_point).await {
                Ok(stats) => tracing::info!(
                    safe_point,
                    region_id = region.id,
                    keys = stats.keys,
                    deleted = stats.deleted_writes,
                    "GC done"
                ),
                Err(basalt_storage::Error::Region(err)) if err.not_leader.is_some() => {}
                Err(err) => {
                    tracing::warn!(%err, safe_point, region_id = region.id, "GC failed");
                    failed = true;
                }
            }
        }
        if !failed {
            done = safe_point;
        }
    }
}
