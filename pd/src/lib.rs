//! Basalt's placement driver (PD): the cluster's timestamp oracle, id allocator, store and
//! region directory, GC safe point, and (later) its schedulers. Today it runs embedded in
//! `basalt-server` on its own port, serving `pdpb.PD` to the store and to clients such as
//! `tikv-client`.
//!
//! Read `Cluster` first: the whole state, with write-through persistence to a small RocksDB.
//! `PdServer` opens it and serves it over gRPC.
#![deny(missing_docs)]

mod cluster;
mod error;
mod meta;
mod service;
mod tso;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use basalt_proto::pdpb;
use basalt_proto::pdpb::pd_server::PdServer as PdGrpcServer;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use cluster::{Cluster, RegionInfo};
pub use error::{Error, Result};
pub use service::PdService;
pub use tso::LOGICAL_BITS;

/// Settings of an embedded PD.
#[derive(Debug, Clone)]
pub struct PdConfig {
    /// The member name.
    pub name: String,
    /// The URL clients reach this PD at (`http://host:port`).
    pub advertise_url: String,
}

impl Default for PdConfig {
    fn default() -> Self {
        PdConfig {
            name: "pd".to_string(),
            advertise_url: "http://127.0.0.1:2379".to_string(),
        }
    }
}

/// An opened PD, ready to serve.
pub struct PdServer {
    service: PdService,
    cluster: Arc<Mutex<Cluster>>,
}

impl PdServer {
    /// Opens (or creates) the PD data in `data_dir`.
    pub fn open(data_dir: &Path, config: PdConfig) -> Result<PdServer> {
        std::fs::create_dir_all(data_dir)
            .map_err(|err| Error::Storage(format!("creating {}: {err}", data_dir.display())))?;
        let meta = meta::MetaStore::open(data_dir)?;
        let cluster = Arc::new(Mutex::new(Cluster::open(meta)?));
        let cluster_id = cluster.lock().cluster_id();
        let member = pdpb::Member {
            name: config.name,
            member_id: cluster_id ^ 0x5044, // stable per data dir; one member
            peer_urls: vec![config.advertise_url.clone()],
            client_urls: vec![config.advertise_url],
            binary_version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        Ok(PdServer {
            service: PdService::new(cluster.clone(), member),
            cluster,
        })
    }

    /// The shared cluster state.
    pub fn cluster(&self) -> &Arc<Mutex<Cluster>> {
        &self.cluster
    }

    /// Serves `pdpb.PD` on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(PdGrpcServer::new(self.service))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
            .await?;
        Ok(())
    }
}
