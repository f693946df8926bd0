//! Basalt's placement driver (PD): the cluster's timestamp oracle, id allocator, store and
//! region directory, GC safe point, and its schedulers. It runs standalone (the `basalt-pd`
//! binary) or embedded in `basalt-server` on its own port, serving `pdpb.PD` to the stores and
//! to clients such as `tikv-client`.
//!
//! Read `Cluster` first: the whole state, with write-through persistence to PD's own small
//! RocksDB (never the store's). `PdServer` opens it and serves it over gRPC; an embedding
//! server reaches the same `Cluster` in process through `PdServer::cluster`.
//!
//! Scheduling (`schedule`): PD keeps every region at `max_replicas` voters on live stores,
//! merges small regions into their neighbours, and balances leaders and region peers across
//! stores. It does so with operators, one per region, whose steps travel in
//! `RegionHeartbeatResponse`s on the region heartbeat stream of the store leading the region: a
//! step is repeated in the answer to every heartbeat of the leader until a heartbeat shows it
//! done. The shapes (all with `region_id`, `region_epoch` as last
//! reported and `target_peer` = the leader):
//! - add a learner: `change_peer {peer (role Learner), change_type AddLearnerNode}`
//! - promote a learner: `change_peer {peer (role Voter), change_type AddNode}`
//! - remove a peer: `change_peer {peer, change_type RemoveNode}`
//! - move leadership: `transfer_leader {peer, peers: [peer]}`
//! - swap a learner and a voter: `change_peer_v2 {changes: [AddNode target (Voter),
//!   AddLearnerNode source (Learner)]}`; an empty `change_peer_v2` asks a region in the joint
//!   state to leave it.
//! - merge into an adjacent region with peers on the same stores: `merge {target}` (the target
//!   region as PD knew it), sent to the source region's leader; the target's operator sends
//!   nothing.
//!
//! ```no_run
//! # async fn example() -> basalt_pd::Result<()> {
//! use basalt_pd::{PdConfig, PdServer};
//! use basalt_proto::metapb;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:2379").await.map_err(|err| {
//!     basalt_pd::Error::Storage(err.to_string())
//! })?;
//! let url = format!("http://{}", listener.local_addr().expect("bound"));
//! let pd = PdServer::open("data/pd".as_ref(), PdConfig { advertise_url: url, ..Default::default() })?;
//! let cluster = pd.cluster().clone();
//! let serving = tokio::spawn(pd.serve(listener, std::future::pending()));
//! // In process: the first store bootstraps the cluster with one region covering all keys.
//! let mut cluster = cluster.lock();
//! if !cluster.is_bootstrapped() {
//!     let (store_id, region_id, peer_id) = (cluster.alloc_ids(1)?, cluster.alloc_ids(1)?, cluster.alloc_ids(1)?);
//!     let peer = metapb::Peer { id: peer_id, store_id, ..Default::default() };
//!     let region = metapb::Region {
//!         id: region_id,
//!         region_epoch: Some(metapb::RegionEpoch { conf_ver: 1, version: 1 }),
//!         peers: vec![peer],
//!         ..Default::default()
//!     };
//!     let store = metapb::Store { id: store_id, address: "127.0.0.1:20160".into(), ..Default::default() };
//!     cluster.bootstrap(store, region.clone())?;
//!     cluster.put_region(region, Some(peer))?; // the leader, as a heartbeat would report it
//! }
//! # drop(cluster); drop(serving);
//! # Ok(())
//! # }
//! ```
//!
//! Not here yet: multiple PD members, placement rules and labels, split scheduling (stores split
//! regions on their own), hot-region scheduling, keyspaces other than the default one, and the
//! `pdpb` RPCs Basalt does not declare (gRPC answers those with `Unimplemented`).
#![deny(missing_docs)]

mod cluster;
mod error;
mod http;
mod keyspace;
mod meta;
mod region;
mod safe_point;
mod schedule;
mod service;
mod streams;
mod tso;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use basalt_proto::keyspacepb::keyspace_server::KeyspaceServer;
use basalt_proto::pdpb;
use basalt_proto::pdpb::pd_server::PdServer as PdGrpcServer;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use cluster::Cluster;
pub use error::{Error, Result};
pub use keyspace::{KeyspaceService, DEFAULT_KEYSPACE_ID, DEFAULT_KEYSPACE_NAME};
pub use region::{RegionInfo, RegionStats};
pub use safe_point::ServiceSafePoint;
pub use schedule::{
    Operator, OperatorKind, Progress, ScheduleCommand, ScheduleConfig, Step, StoreLoad, StoreState,
    StoreStatus,
};
pub use service::PdService;
pub use tso::{compose_ts, LOGICAL_BITS};

/// Settings of an embedded PD.
#[derive(Debug, Clone)]
pub struct PdConfig {
    /// The member name.
    pub name: String,
    /// The URL clients reach this PD at (`http://host:port`).
    pub advertise_url: String,
    /// Replica count, store down time, scheduling interval and limits, merge thresholds.
    pub schedule: ScheduleConfig,
}

impl Default for PdConfig {
    fn default() -> Self {
        PdConfig {
            name: "pd".to_string(),
            advertise_url: "http://127.0.0.1:2379".to_string(),
            schedule: ScheduleConfig::default(),
        }
    }
}

/// An opened PD, ready to serve.
pub struct PdServer {
    service: PdService,
    keyspace: KeyspaceService,
    cluster: Arc<Mutex<Cluster>>,
    schedule_interval: Duration,
}

impl PdServer {
    /// Opens (or creates) the PD data in `data_dir`.
    pub fn open(data_dir: &Path, config: PdConfig) -> Result<PdServer> {
        std::fs::create_dir_all(data_dir)
            .map_err(|err| Error::Storage(format!("creating {}: {err}", data_dir.display())))?;
        let schedule_interval = config.schedule.schedule_interval;
        let cluster = Arc::new(Mutex::new(Cluster::open_with(data_dir, config.schedule)?));
        let cluster_id = cluster.lock().cluster_id();
        tracing::info!(cluster_id, url = %config.advertise_url, "PD opened");
        let member = pdpb::Member {
            name: config.name,
            // Stable per data directory; there is one member.
            member_id: cluster_id ^ 0x5044,
            peer_urls: vec![config.advertise_url.clone()],
            client_urls: vec![config.advertise_url],
            binary_version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        Ok(PdServer {
            service: PdService::new(cluster.clone(), member),
            keyspace: KeyspaceService::new(cluster_id, cluster::unix_seconds()),
            cluster,
            schedule_interval,
        })
    }

    /// The shared cluster state, for in-process calls (bootstrap, ids, stores, regions). Clone
    /// the `Arc` before `serve` consumes the server.
    pub fn cluster(&self) -> &Arc<Mutex<Cluster>> {
        &self.cluster
    }

    /// The cluster id (generated on the first open of the data directory).
    pub fn cluster_id(&self) -> u64 {
        self.cluster.lock().cluster_id()
    }

    /// Serves `pdpb.PD`, `keyspacepb.Keyspace` and the HTTP API (HTTP/1.1 and h2c on the same
    /// port, as upstream PD) on `listener` until `shutdown` completes, and runs the schedulers
    /// every `schedule_interval` meanwhile.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        let scheduling = schedule_loop(
            self.cluster.clone(),
            self.service.heartbeat_streams(),
            self.schedule_interval,
        );
        let grpc = tonic::service::Routes::new(PdGrpcServer::new(self.service))
            .add_service(KeyspaceServer::new(self.keyspace));
        let routes = http::with_http_api(grpc.into_axum_router(), self.cluster);
        let serving = tonic::transport::Server::builder()
            .accept_http1(true)
            .tcp_nodelay(true)
            .add_routes(tonic::service::Routes::from(routes))
            .serve_with_incoming_shutdown(nodelay(TcpListenerStream::new(listener)), shutdown);
        // The scheduling loop never ends; it stops (and lets go of the cluster) with serving.
        tokio::select! {
            result = serving => result?,
            never = scheduling => match never {},
        }
        Ok(())
    }
}

/// Runs a scheduling pass every `interval` and pushes the new operators' first steps to the
/// stores leading their regions.
async fn schedule_loop(
    cluster: Arc<Mutex<Cluster>>,
    streams: streams::HeartbeatStreams,
    interval: Duration,
) -> std::convert::Infallible {
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let commands = cluster.lock().schedule();
        match commands {
            Ok(commands) => {
                for command in commands {
                    streams.push(command);
                }
            }
            Err(err) => tracing::error!(%err, "scheduling pass failed"),
        }
    }
}

/// Accepted connections with Nagle's algorithm off: `Server::tcp_nodelay` only configures
/// listeners tonic binds itself, and small gRPC replies would otherwise wait for delayed ACKs
/// (~40 ms per request on Linux).
pub fn nodelay(
    incoming: TcpListenerStream,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt;
    incoming.map(|stream| {
        if let Ok(stream) = &stream {
            let _ = stream.set_nodelay(true);
        }
        stream
    })
}
