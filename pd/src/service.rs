//! The `pdpb.PD` gRPC service over a `Cluster`.

use std::pin::Pin;
use std::sync::Arc;

use basalt_proto::pdpb::pd_server::Pd;
use basalt_proto::pdpb::{self, ErrorType};
use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::cluster::{Cluster, RegionInfo};

/// The PD service.
#[derive(Clone)]
pub struct PdService {
    cluster: Arc<Mutex<Cluster>>,
    member: pdpb::Member,
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

impl PdService {
    /// A service answering for `cluster`, advertising `member`.
    pub fn new(cluster: Arc<Mutex<Cluster>>, member: pdpb::Member) -> Self {
        PdService { cluster, member }
    }

    fn header(&self) -> Option<pdpb::ResponseHeader> {
        Some(pdpb::ResponseHeader {
            cluster_id: self.cluster.lock().cluster_id(),
            error: None,
        })
    }

    fn error_header(
        &self,
        kind: ErrorType,
        message: impl Into<String>,
    ) -> Option<pdpb::ResponseHeader> {
        Some(pdpb::ResponseHeader {
            cluster_id: self.cluster.lock().cluster_id(),
            error: Some(pdpb::Error {
                r#type: kind as i32,
                message: message.into(),
            }),
        })
    }

    /// Rejects requests addressed to another cluster, as upstream PD does.
    fn check_header(&self, header: Option<&pdpb::RequestHeader>) -> Result<(), Status> {
        let ours = self.cluster.lock().cluster_id();
        match header {
            Some(header) if header.cluster_id != 0 && header.cluster_id != ours => {
                Err(Status::failed_precondition(format!(
                    "mismatch cluster id, need {ours} but got {}",
                    header.cluster_id
                )))
            }
            _ => Ok(()),
        }
    }

    fn not_bootstrapped(&self) -> Option<pdpb::ResponseHeader> {
        self.error_header(ErrorType::NotBootstrapped, "cluster is not bootstrapped")
    }
}

fn internal(err: crate::Error) -> Status {
    Status::internal(err.to_string())
}

fn region_response(
    header: Option<pdpb::ResponseHeader>,
    info: Option<&RegionInfo>,
) -> pdpb::GetRegionResponse {
    pdpb::GetRegionResponse {
        header,
        region: info.map(|info| info.region.clone()),
        leader: info.and_then(|info| info.leader),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl Pd for PdService {
    async fn get_members(
        &self,
        request: Request<pdpb::GetMembersRequest>,
    ) -> Result<Response<pdpb::GetMembersResponse>, Status> {
        self.check_header(request.get_ref().header.as_ref())?;
        Ok(Response::new(pdpb::GetMembersResponse {
            header: self.header(),
            members: vec![self.member.clone()],
            leader: Some(self.member.clone()),
            etcd_leader: Some(self.member.clone()),
            ..Default::default()
        }))
    }

    type TsoStream = ResponseStream<pdpb::TsoResponse>;

    async fn tso(
        &self,
        request: Request<Streaming<pdpb::TsoRequest>>,
    ) -> Result<Response<Self::TsoStream>, Status> {
        let mut incoming = request.into_inner();
        let (sender, receiver) = mpsc::channel(64);
        let service = self.clone();
        tokio::spawn(async move {
            while let Some(message) = incoming.next().await {
                let reply = match message {
                    Ok(tso_request) => match service.check_header(tso_request.header.as_ref()) {
                        Err(status) => Err(status),
                        Ok(()) if !crate::tso::valid_count(tso_request.count) => {
                            Err(Status::invalid_argument(format!(
                                "tso count {} must be between 1 and 2^18 - 1",
                                tso_request.count
                            )))
                        }
                        Ok(()) => {
                            let allocated = service.cluster.lock().allocate_ts(tso_request.count);
                            match allocated {
                                Ok((physical, logical)) => Ok(pdpb::TsoResponse {
                                    header: service.header(),
                                    count: tso_request.count.max(1),
                                    timestamp: Some(pdpb::Timestamp {
                                        physical: physical as i64,
                                        logical: logical as i64,
                                        suffix_bits: 0,
                                    }),
                                }),
                                Err(err) => Err(internal(err)),
                            }
                        }
                    },
                    Err(status) => Err(status),
                };
                let failed = reply.is_err();
                if sender.send(reply).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn bootstrap(
        &self,
        request: Request<pdpb::BootstrapRequest>,
    ) -> Result<Response<pdpb::BootstrapResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let (Some(store), Some(region)) = (request.store, request.region) else {
            return Err(Status::invalid_argument(
                "bootstrap needs a store and a region",
            ));
        };
        let mut cluster = self.cluster.lock();
        if cluster.is_bootstrapped() {
            drop(cluster);
            return Ok(Response::new(pdpb::BootstrapResponse {
                header: self.error_header(
                    ErrorType::AlreadyBootstrapped,
                    "cluster is already bootstrapped",
                ),
            }));
        }
        if store.id == 0 || region.id == 0 || region.peers.is_empty() {
            return Err(Status::invalid_argument(
                "bootstrap store and region need ids and a peer",
            ));
        }
        tracing::info!(
            store_id = store.id,
            region_id = region.id,
            "bootstrapping the cluster"
        );
        cluster.bootstrap(store, region).map_err(internal)?;
        drop(cluster);
        Ok(Response::new(pdpb::BootstrapResponse {
            header: self.header(),
        }))
    }

    async fn is_bootstrapped(
        &self,
        request: Request<pdpb::IsBootstrappedRequest>,
    ) -> Result<Response<pdpb::IsBootstrappedResponse>, Status> {
        self.check_header(request.get_ref().header.as_ref())?;
        let bootstrapped = self.cluster.lock().is_bootstrapped();
        Ok(Response::new(pdpb::IsBootstrappedResponse {
            header: self.header(),
            bootstrapped,
        }))
    }

    async fn alloc_id(
        &self,
        request: Request<pdpb::AllocIdRequest>,
    ) -> Result<Response<pdpb::AllocIdResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let count = u64::from(request.count.max(1));
        if count > 1_000_000 {
            return Err(Status::invalid_argument(format!(
                "cannot allocate {count} ids at once"
            )));
        }
        let id = self.cluster.lock().alloc_ids(count).map_err(internal)?;
        Ok(Response::new(pdpb::AllocIdResponse {
            header: self.header(),
            id,
            count: count as u32,
        }))
    }

    async fn get_store(
        &self,
        request: Request<pdpb::GetStoreRequest>,
    ) -> Result<Response<pdpb::GetStoreResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let cluster = self.cluster.lock();
        if !cluster.is_bootstrapped() {
            drop(cluster);
            return Ok(Response::new(pdpb::GetStoreResponse {
                header: self.not_bootstrapped(),
                ..Default::default()
            }));
        }
        let (store, stats) = (
            cluster.store(request.store_id).cloned(),
            cluster.store_stats(request.store_id).cloned(),
        );
        drop(cluster);
        let header = match &store {
            Some(store) if store.state == basalt_proto::metapb::StoreState::Tombstone as i32 => {
                self.error_header(
                    ErrorType::StoreTombstone,
                    format!("store {} is a tombstone", store.id),
                )
            }
            Some(_) => self.header(),
            None => self.error_header(
                ErrorType::Unknown,
                format!("invalid store ID {}, not found", request.store_id),
            ),
        };
        Ok(Response::new(pdpb::GetStoreResponse {
            header,
            store,
            stats,
        }))
    }

    async fn put_store(
        &self,
        request: Request<pdpb::PutStoreRequest>,
    ) -> Result<Response<pdpb::PutStoreResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let Some(store) = request.store else {
            return Err(Status::invalid_argument("put store without a store"));
        };
        if store.id == 0 || store.address.is_empty() {
            return Err(Status::invalid_argument(
                "a store needs an id and an address",
            ));
        }
        let mut cluster = self.cluster.lock();
        if !cluster.is_bootstrapped() {
            drop(cluster);
            return Ok(Response::new(pdpb::PutStoreResponse {
                header: self.not_bootstrapped(),
            }));
        }
        let clash = cluster
            .stores(true)
            .into_iter()
            .find(|other| other.id != store.id && other.address == store.address);
        if let Some(other) = clash {
            drop(cluster);
            return Err(Status::already_exists(format!(
                "address {} is used by store {}",
                store.address, other.id
            )));
        }
        cluster.put_store(store).map_err(internal)?;
        drop(cluster);
        Ok(Response::new(pdpb::PutStoreResponse {
            header: self.header(),
        }))
    }

    async fn get_all_stores(
        &self,
        request: Request<pdpb::GetAllStoresRequest>,
    ) -> Result<Response<pdpb::GetAllStoresResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let stores = self.cluster.lock().stores(request.exclude_tombstone_stores);
        Ok(Response::new(pdpb::GetAllStoresResponse {
            header: self.header(),
            stores,
        }))
    }

    async fn store_heartbeat(
        &self,
        request: Request<pdpb::StoreHeartbeatRequest>,
    ) -> Result<Response<pdpb::StoreHeartbeatResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let Some(stats) = request.stats else {
            return Err(Status::invalid_argument("store heartbeat without stats"));
        };
        let mut cluster = self.cluster.lock();
        if cluster.store(stats.store_id).is_none() {
            drop(cluster);
            return Ok(Response::new(pdpb::StoreHeartbeatResponse {
                header: self.error_header(
                    ErrorType::Unknown,
                    format!("store {} not found", stats.store_id),
                ),
                ..Default::default()
            }));
        }
        cluster.store_heartbeat(stats);
        drop(cluster);
        Ok(Response::new(pdpb::StoreHeartbeatResponse {
            header: self.header(),
            ..Default::default()
        }))
    }

    type RegionHeartbeatStream = ResponseStream<pdpb::RegionHeartbeatResponse>;

    async fn region_heartbeat(
        &self,
        request: Request<Streaming<pdpb::RegionHeartbeatRequest>>,
    ) -> Result<Response<Self::RegionHeartbeatStream>, Status> {
        let mut incoming = request.into_inner();
        let (sender, receiver) = mpsc::channel::<Result<pdpb::RegionHeartbeatResponse, Status>>(16);
        let service = self.clone();
        tokio::spawn(async move {
            // Keep the sender alive while the store talks: PD answers only with operators, and
            // has none to give yet.
            let _sender = sender;
            while let Some(Ok(heartbeat)) = incoming.next().await {
                if service.check_header(heartbeat.header.as_ref()).is_err() {
                    break;
                }
                if let Some(region) = heartbeat.region {
                    if let Err(err) = service.cluster.lock().put_region(region, heartbeat.leader) {
                        tracing::warn!(%err, "recording a region heartbeat failed");
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn get_region(
        &self,
        request: Request<pdpb::GetRegionRequest>,
    ) -> Result<Response<pdpb::GetRegionResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let cluster = self.cluster.lock();
        if !cluster.is_bootstrapped() {
            drop(cluster);
            return Ok(Response::new(region_response(
                self.not_bootstrapped(),
                None,
            )));
        }
        let info = cluster.region_by_key(&request.region_key).cloned();
        drop(cluster);
        Ok(Response::new(region_response(self.header(), info.as_ref())))
    }

    async fn get_prev_region(
        &self,
        request: Request<pdpb::GetRegionRequest>,
    ) -> Result<Response<pdpb::GetRegionResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let info = self
            .cluster
            .lock()
            .prev_region(&request.region_key)
            .cloned();
        Ok(Response::new(region_response(self.header(), info.as_ref())))
    }

    async fn get_region_by_id(
        &self,
        request: Request<pdpb::GetRegionByIdRequest>,
    ) -> Result<Response<pdpb::GetRegionResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let info = self.cluster.lock().region_by_id(request.region_id).cloned();
        Ok(Response::new(region_response(self.header(), info.as_ref())))
    }

    async fn scan_regions(
        &self,
        request: Request<pdpb::ScanRegionsRequest>,
    ) -> Result<Response<pdpb::ScanRegionsResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let limit = usize::try_from(request.limit.max(0)).unwrap_or(0);
        let infos = self
            .cluster
            .lock()
            .scan_regions(&request.start_key, &request.end_key, limit);
        Ok(Response::new(pdpb::ScanRegionsResponse {
            header: self.header(),
            region_metas: infos.iter().map(|info| info.region.clone()).collect(),
            leaders: infos
                .iter()
                .map(|info| info.leader.unwrap_or_default())
                .collect(),
            regions: infos
                .into_iter()
                .map(|info| pdpb::Region {
                    region: Some(info.region),
                    leader: info.leader,
                    ..Default::default()
                })
                .collect(),
        }))
    }

    async fn ask_split(
        &self,
        request: Request<pdpb::AskSplitRequest>,
    ) -> Result<Response<pdpb::AskSplitResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let peers = request.region.map(|region| region.peers.len()).unwrap_or(0) as u64;
        let mut cluster = self.cluster.lock();
        let new_region_id = cluster.alloc_ids(1).map_err(internal)?;
        let mut new_peer_ids = Vec::new();
        for _ in 0..peers {
            new_peer_ids.push(cluster.alloc_ids(1).map_err(internal)?);
        }
        drop(cluster);
        Ok(Response::new(pdpb::AskSplitResponse {
            header: self.header(),
            new_region_id,
            new_peer_ids,
        }))
    }

    async fn report_split(
        &self,
        request: Request<pdpb::ReportSplitRequest>,
    ) -> Result<Response<pdpb::ReportSplitResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let mut cluster = self.cluster.lock();
        for region in [request.left, request.right].into_iter().flatten() {
            cluster.put_region(region, None).map_err(internal)?;
        }
        drop(cluster);
        Ok(Response::new(pdpb::ReportSplitResponse {
            header: self.header(),
        }))
    }

    async fn ask_batch_split(
        &self,
        request: Request<pdpb::AskBatchSplitRequest>,
    ) -> Result<Response<pdpb::AskBatchSplitResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        if request.split_count == 0 || request.split_count > 1024 {
            return Err(Status::invalid_argument(format!(
                "split count {} out of range",
                request.split_count
            )));
        }
        let peers = request.region.map(|region| region.peers.len()).unwrap_or(0);
        let mut cluster = self.cluster.lock();
        let mut ids = Vec::new();
        for _ in 0..request.split_count {
            let new_region_id = cluster.alloc_ids(1).map_err(internal)?;
            let mut new_peer_ids = Vec::new();
            for _ in 0..peers {
                new_peer_ids.push(cluster.alloc_ids(1).map_err(internal)?);
            }
            ids.push(pdpb::SplitId {
                new_region_id,
                new_peer_ids,
            });
        }
        drop(cluster);
        Ok(Response::new(pdpb::AskBatchSplitResponse {
            header: self.header(),
            ids,
        }))
    }

    async fn report_batch_split(
        &self,
        request: Request<pdpb::ReportBatchSplitRequest>,
    ) -> Result<Response<pdpb::ReportBatchSplitResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let mut cluster = self.cluster.lock();
        for region in request.regions {
            cluster.put_region(region, None).map_err(internal)?;
        }
        drop(cluster);
        Ok(Response::new(pdpb::ReportBatchSplitResponse {
            header: self.header(),
        }))
    }

    async fn get_cluster_config(
        &self,
        request: Request<pdpb::GetClusterConfigRequest>,
    ) -> Result<Response<pdpb::GetClusterConfigResponse>, Status> {
        self.check_header(request.get_ref().header.as_ref())?;
        let cluster = self.cluster.lock().cluster_meta().cloned();
        let header = if cluster.is_some() {
            self.header()
        } else {
            self.not_bootstrapped()
        };
        Ok(Response::new(pdpb::GetClusterConfigResponse {
            header,
            cluster,
        }))
    }

    async fn put_cluster_config(
        &self,
        request: Request<pdpb::PutClusterConfigRequest>,
    ) -> Result<Response<pdpb::PutClusterConfigResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let Some(meta) = request.cluster else {
            return Err(Status::invalid_argument(
                "put cluster config without a cluster",
            ));
        };
        let mut cluster = self.cluster.lock();
        if !cluster.is_bootstrapped() {
            drop(cluster);
            return Ok(Response::new(pdpb::PutClusterConfigResponse {
                header: self.not_bootstrapped(),
            }));
        }
        cluster.put_cluster_meta(meta).map_err(internal)?;
        drop(cluster);
        Ok(Response::new(pdpb::PutClusterConfigResponse {
            header: self.header(),
        }))
    }

    async fn get_gc_safe_point(
        &self,
        request: Request<pdpb::GetGcSafePointRequest>,
    ) -> Result<Response<pdpb::GetGcSafePointResponse>, Status> {
        self.check_header(request.get_ref().header.as_ref())?;
        let safe_point = self.cluster.lock().gc_safe_point();
        Ok(Response::new(pdpb::GetGcSafePointResponse {
            header: self.header(),
            safe_point,
        }))
    }

    async fn update_gc_safe_point(
        &self,
        request: Request<pdpb::UpdateGcSafePointRequest>,
    ) -> Result<Response<pdpb::UpdateGcSafePointResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let new_safe_point = self
            .cluster
            .lock()
            .update_gc_safe_point(request.safe_point)
            .map_err(internal)?;
        Ok(Response::new(pdpb::UpdateGcSafePointResponse {
            header: self.header(),
            new_safe_point,
        }))
    }

    async fn update_service_gc_safe_point(
        &self,
        request: Request<pdpb::UpdateServiceGcSafePointRequest>,
    ) -> Result<Response<pdpb::UpdateServiceGcSafePointResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let min_safe_point = self
            .cluster
            .lock()
            .update_service_safe_point(request.service_id.clone(), request.ttl, request.safe_point)
            .map_err(internal)?;
        Ok(Response::new(pdpb::UpdateServiceGcSafePointResponse {
            header: self.header(),
            service_id: request.service_id,
            ttl: request.ttl,
            min_safe_point,
        }))
    }

    async fn report_min_resolved_ts(
        &self,
        request: Request<pdpb::ReportMinResolvedTsRequest>,
    ) -> Result<Response<pdpb::ReportMinResolvedTsResponse>, Status> {
        self.check_header(request.get_ref().header.as_ref())?;
        Ok(Response::new(pdpb::ReportMinResolvedTsResponse {
            header: self.header(),
        }))
    }
}
