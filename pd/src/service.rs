//! The `pdpb.PD` gRPC service over a `Cluster`. Each handler checks the request header, calls
//! one `Cluster` method and wraps the answer; errors become responses in one place (`reply`):
//! cluster-level conditions (not bootstrapped, unknown store, stale region, ...) travel in the
//! response header as upstream PD sends them, storage failures as gRPC statuses.

use std::pin::Pin;
use std::sync::Arc;

use basalt_proto::pdpb::pd_server::Pd;
use basalt_proto::pdpb::{self, ErrorType};
use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::cluster::{unix_seconds, Cluster};
use crate::error::Error;
use crate::region::RegionInfo;
use crate::streams::HeartbeatStreams;

/// Most ids one `AllocID` may ask for.
const MAX_ALLOC_COUNT: u32 = 1_000_000;

/// The PD service.
#[derive(Clone)]
pub struct PdService {
    cluster: Arc<Mutex<Cluster>>,
    cluster_id: u64,
    member: pdpb::Member,
    streams: HeartbeatStreams,
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Responses carrying a `pdpb.ResponseHeader`.
trait WithHeader: Default {
    fn set_header(&mut self, header: pdpb::ResponseHeader);
}

macro_rules! with_header {
    ($($response:ty),* $(,)?) => {
        $(impl WithHeader for $response {
            fn set_header(&mut self, header: pdpb::ResponseHeader) {
                self.header = Some(header);
            }
        })*
    };
}

with_header!(
    pdpb::GetMembersResponse,
    pdpb::BootstrapResponse,
    pdpb::IsBootstrappedResponse,
    pdpb::AllocIdResponse,
    pdpb::GetStoreResponse,
    pdpb::PutStoreResponse,
    pdpb::GetAllStoresResponse,
    pdpb::StoreHeartbeatResponse,
    pdpb::RegionHeartbeatResponse,
    pdpb::GetRegionResponse,
    pdpb::ScanRegionsResponse,
    pdpb::AskSplitResponse,
    pdpb::ReportSplitResponse,
    pdpb::AskBatchSplitResponse,
    pdpb::ReportBatchSplitResponse,
    pdpb::GetClusterConfigResponse,
    pdpb::PutClusterConfigResponse,
    pdpb::GetGcSafePointResponse,
    pdpb::UpdateGcSafePointResponse,
    pdpb::UpdateServiceGcSafePointResponse,
    pdpb::GetOperatorResponse,
    pdpb::ReportMinResolvedTsResponse,
);

/// The header error type of a cluster-level error, or `None` for failures that become a gRPC
/// status.
fn error_type(err: &Error) -> Option<ErrorType> {
    match err {
        Error::NotBootstrapped => Some(ErrorType::NotBootstrapped),
        Error::AlreadyBootstrapped => Some(ErrorType::AlreadyBootstrapped),
        Error::StoreTombstone(_) => Some(ErrorType::StoreTombstone),
        Error::InvalidArgument(_)
        | Error::StoreNotFound(_)
        | Error::DuplicatedAddress { .. }
        | Error::StaleRegion { .. } => Some(ErrorType::Unknown),
        Error::Storage(_) | Error::Corrupted(_) | Error::Transport(_) => None,
    }
}

fn region_response(info: Option<RegionInfo>) -> pdpb::GetRegionResponse {
    match info {
        None => pdpb::GetRegionResponse::default(),
        Some(info) => pdpb::GetRegionResponse {
            region: Some(info.region),
            leader: info.leader,
            down_peers: info.down_peers,
            pending_peers: info.pending_peers,
            ..Default::default()
        },
    }
}

fn scan_response(infos: Vec<RegionInfo>) -> pdpb::ScanRegionsResponse {
    let mut response = pdpb::ScanRegionsResponse::default();
    for info in infos {
        // Upstream sends an empty peer when the leader is unknown, in both forms.
        let leader = info.leader.unwrap_or_default();
        response.region_metas.push(info.region.clone());
        response.leaders.push(leader);
        response.regions.push(pdpb::Region {
            region: Some(info.region),
            leader: Some(leader),
            down_peers: info.down_peers,
            pending_peers: info.pending_peers,
            buckets: None,
        });
    }
    response
}

impl PdService {
    /// A service answering for `cluster`, advertising `member` as the only member and leader.
    pub fn new(cluster: Arc<Mutex<Cluster>>, member: pdpb::Member) -> Self {
        let cluster_id = cluster.lock().cluster_id();
        PdService {
            cluster,
            cluster_id,
            member,
            streams: HeartbeatStreams::default(),
        }
    }

    /// The open region heartbeat streams, to push scheduling commands to stores.
    pub(crate) fn heartbeat_streams(&self) -> HeartbeatStreams {
        self.streams.clone()
    }

    fn header(&self) -> pdpb::ResponseHeader {
        pdpb::ResponseHeader {
            cluster_id: self.cluster_id,
            error: None,
        }
    }

    /// The header for `err`, or the status to fail the call with.
    fn error_header(&self, err: Error) -> Result<pdpb::ResponseHeader, Status> {
        match error_type(&err) {
            Some(kind) => Ok(pdpb::ResponseHeader {
                cluster_id: self.cluster_id,
                error: Some(pdpb::Error {
                    r#type: kind as i32,
                    message: err.to_string(),
                }),
            }),
            None => {
                tracing::error!(%err, "PD request failed");
                Err(Status::internal(err.to_string()))
            }
        }
    }

    /// Wraps a handler's result: the response with an OK header, or a default response with
    /// the error's header.
    fn reply<R: WithHeader>(&self, result: crate::Result<R>) -> Result<Response<R>, Status> {
        let (mut response, header) = match result {
            Ok(response) => (response, self.header()),
            Err(err) => (R::default(), self.error_header(err)?),
        };
        response.set_header(header);
        Ok(Response::new(response))
    }

    /// Rejects requests addressed to another cluster with `FailedPrecondition`, as upstream PD
    /// does. A zero (unset) cluster id is accepted, so tools that do not know it yet can ask.
    fn check_header(&self, header: Option<&pdpb::RequestHeader>) -> Result<(), Status> {
        match header {
            Some(header) if header.cluster_id != 0 && header.cluster_id != self.cluster_id => {
                Err(Status::failed_precondition(format!(
                    "mismatch cluster id, need {} but got {}",
                    self.cluster_id, header.cluster_id
                )))
            }
            _ => Ok(()),
        }
    }

    fn tso_reply(&self, request: pdpb::TsoRequest) -> Result<pdpb::TsoResponse, Status> {
        self.check_header(request.header.as_ref())?;
        let allocated = self.cluster.lock().allocate_ts(request.count);
        match allocated {
            Ok((physical, logical)) => Ok(pdpb::TsoResponse {
                header: Some(self.header()),
                count: request.count,
                timestamp: Some(pdpb::Timestamp {
                    physical: i64::try_from(physical).unwrap_or(i64::MAX),
                    logical: i64::try_from(logical).unwrap_or(i64::MAX),
                    suffix_bits: 0,
                }),
            }),
            Err(Error::InvalidArgument(message)) => Err(Status::invalid_argument(message)),
            Err(err) => {
                tracing::error!(%err, "allocating timestamps failed");
                Err(Status::internal(err.to_string()))
            }
        }
    }

    /// Handles one region heartbeat; `Some` is a response to send back (the step of the
    /// region's operator, or an error), `Err` ends the stream.
    fn heartbeat_reply(
        &self,
        heartbeat: &pdpb::RegionHeartbeatRequest,
    ) -> Result<Option<pdpb::RegionHeartbeatResponse>, Status> {
        self.check_header(heartbeat.header.as_ref())?;
        let result = self.cluster.lock().region_heartbeat(heartbeat);
        match result {
            Ok(step) => Ok(step),
            Err(err) => {
                let region_id = heartbeat.region.as_ref().map_or(0, |region| region.id);
                tracing::warn!(region_id, %err, "region heartbeat refused");
                Ok(Some(pdpb::RegionHeartbeatResponse {
                    header: Some(self.error_header(err)?),
                    region_id,
                    target_peer: heartbeat.leader,
                    ..Default::default()
                }))
            }
        }
    }
}

#[tonic::async_trait]
impl Pd for PdService {
    async fn get_members(
        &self,
        _request: Request<pdpb::GetMembersRequest>,
    ) -> Result<Response<pdpb::GetMembersResponse>, Status> {
        // Like upstream, GetMembers does not check the cluster id: it is how clients learn it.
        self.reply(Ok(pdpb::GetMembersResponse {
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
                let reply = message.and_then(|request| service.tso_reply(request));
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
        let result = match (request.store, request.region) {
            (Some(store), Some(region)) => self.cluster.lock().bootstrap(store, region),
            (None, _) => Err(Error::InvalidArgument(
                "missing store meta for bootstrap".into(),
            )),
            (_, None) => Err(Error::InvalidArgument(
                "missing region meta for bootstrap".into(),
            )),
        };
        self.reply(result.map(|()| pdpb::BootstrapResponse::default()))
    }

    async fn is_bootstrapped(
        &self,
        request: Request<pdpb::IsBootstrappedRequest>,
    ) -> Result<Response<pdpb::IsBootstrappedResponse>, Status> {
        self.check_header(request.get_ref().header.as_ref())?;
        let bootstrapped = self.cluster.lock().is_bootstrapped();
        self.reply(Ok(pdpb::IsBootstrappedResponse {
            bootstrapped,
            ..Default::default()
        }))
    }

    async fn alloc_id(
        &self,
        request: Request<pdpb::AllocIdRequest>,
    ) -> Result<Response<pdpb::AllocIdResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let count = request.count.max(1);
        let result = if count > MAX_ALLOC_COUNT {
            Err(Error::InvalidArgument(format!(
                "cannot allocate {count} ids at once (at most {MAX_ALLOC_COUNT})"
            )))
        } else {
            self.cluster.lock().alloc_ids(u64::from(count))
        };
        // Upstream fills `count` only for batches.
        self.reply(result.map(|id| pdpb::AllocIdResponse {
            id,
            count: if count > 1 { count } else { 0 },
            ..Default::default()
        }))
    }

    async fn get_store(
        &self,
        request: Request<pdpb::GetStoreRequest>,
    ) -> Result<Response<pdpb::GetStoreResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = self.cluster.lock().store(request.store_id);
        self.reply(result.map(|(store, stats)| pdpb::GetStoreResponse {
            store: Some(store),
            stats,
            ..Default::default()
        }))
    }

    async fn put_store(
        &self,
        request: Request<pdpb::PutStoreRequest>,
    ) -> Result<Response<pdpb::PutStoreResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = match request.store {
            Some(store) => self.cluster.lock().put_store(store),
            None => Err(Error::InvalidArgument("put store without a store".into())),
        };
        self.reply(result.map(|()| pdpb::PutStoreResponse::default()))
    }

    async fn get_all_stores(
        &self,
        request: Request<pdpb::GetAllStoresRequest>,
    ) -> Result<Response<pdpb::GetAllStoresResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = self.cluster.lock().stores(request.exclude_tombstone_stores);
        self.reply(result.map(|stores| pdpb::GetAllStoresResponse {
            stores,
            ..Default::default()
        }))
    }

    async fn store_heartbeat(
        &self,
        request: Request<pdpb::StoreHeartbeatRequest>,
    ) -> Result<Response<pdpb::StoreHeartbeatResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = match request.stats {
            Some(stats) => self.cluster.lock().store_heartbeat(stats),
            None => Err(Error::InvalidArgument(
                "store heartbeat without stats".into(),
            )),
        };
        self.reply(result.map(|()| pdpb::StoreHeartbeatResponse::default()))
    }

    type RegionHeartbeatStream = ResponseStream<pdpb::RegionHeartbeatResponse>;

    async fn region_heartbeat(
        &self,
        request: Request<Streaming<pdpb::RegionHeartbeatRequest>>,
    ) -> Result<Response<Self::RegionHeartbeatStream>, Status> {
        let mut incoming = request.into_inner();
        let (sender, receiver) = mpsc::channel(64);
        let service = self.clone();
        let stream_id = self.streams.open();
        tokio::spawn(async move {
            // The stream stays open while the store talks; PD answers with operator steps and
            // errors, and pushes new operators' first steps on it (`HeartbeatStreams`).
            while let Some(message) = incoming.next().await {
                let reply = match message {
                    Ok(heartbeat) => {
                        if let Some(leader) = &heartbeat.leader {
                            service.streams.bind(leader.store_id, stream_id, &sender);
                        }
                        service.heartbeat_reply(&heartbeat)
                    }
                    Err(status) => {
                        tracing::debug!(%status, "region heartbeat stream ended");
                        break;
                    }
                };
                let stop = reply.is_err();
                let sent = match reply {
                    Ok(None) => true,
                    Ok(Some(response)) => sender.send(Ok(response)).await.is_ok(),
                    Err(status) => sender.send(Err(status)).await.is_ok(),
                };
                if stop || !sent {
                    break;
                }
            }
            service.streams.close(stream_id);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn get_region(
        &self,
        request: Request<pdpb::GetRegionRequest>,
    ) -> Result<Response<pdpb::GetRegionResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = self.cluster.lock().region_by_key(&request.region_key);
        self.reply(result.map(region_response))
    }

    async fn get_prev_region(
        &self,
        request: Request<pdpb::GetRegionRequest>,
    ) -> Result<Response<pdpb::GetRegionResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = self.cluster.lock().prev_region(&request.region_key);
        self.reply(result.map(region_response))
    }

    async fn get_region_by_id(
        &self,
        request: Request<pdpb::GetRegionByIdRequest>,
    ) -> Result<Response<pdpb::GetRegionResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = self.cluster.lock().region_by_id(request.region_id);
        self.reply(result.map(region_response))
    }

    async fn scan_regions(
        &self,
        request: Request<pdpb::ScanRegionsRequest>,
    ) -> Result<Response<pdpb::ScanRegionsResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let limit = usize::try_from(request.limit).unwrap_or(0);
        let result = self
            .cluster
            .lock()
            .scan_regions(&request.start_key, &request.end_key, limit);
        self.reply(result.map(scan_response))
    }

    async fn ask_split(
        &self,
        request: Request<pdpb::AskSplitRequest>,
    ) -> Result<Response<pdpb::AskSplitResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let region = request.region.unwrap_or_default();
        let result = self.cluster.lock().ask_batch_split(&region, 1);
        self.reply(result.map(|ids| {
            let split = ids.into_iter().next().unwrap_or_default();
            pdpb::AskSplitResponse {
                new_region_id: split.new_region_id,
                new_peer_ids: split.new_peer_ids,
                ..Default::default()
            }
        }))
    }

    async fn report_split(
        &self,
        request: Request<pdpb::ReportSplitRequest>,
    ) -> Result<Response<pdpb::ReportSplitResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = {
            let mut cluster = self.cluster.lock();
            [request.left, request.right]
                .into_iter()
                .flatten()
                .try_for_each(|region| cluster.put_region(region, None))
        };
        self.reply(result.map(|()| pdpb::ReportSplitResponse::default()))
    }

    async fn ask_batch_split(
        &self,
        request: Request<pdpb::AskBatchSplitRequest>,
    ) -> Result<Response<pdpb::AskBatchSplitResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let region = request.region.unwrap_or_default();
        let result = self
            .cluster
            .lock()
            .ask_batch_split(&region, request.split_count);
        self.reply(result.map(|ids| pdpb::AskBatchSplitResponse {
            ids,
            ..Default::default()
        }))
    }

    async fn report_batch_split(
        &self,
        request: Request<pdpb::ReportBatchSplitRequest>,
    ) -> Result<Response<pdpb::ReportBatchSplitResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = {
            let mut cluster = self.cluster.lock();
            request
                .regions
                .into_iter()
                .try_for_each(|region| cluster.put_region(region, None))
        };
        self.reply(result.map(|()| pdpb::ReportBatchSplitResponse::default()))
    }

    async fn get_cluster_config(
        &self,
        request: Request<pdpb::GetClusterConfigRequest>,
    ) -> Result<Response<pdpb::GetClusterConfigResponse>, Status> {
        self.check_header(request.get_ref().header.as_ref())?;
        let result = self.cluster.lock().cluster_meta();
        self.reply(result.map(|cluster| pdpb::GetClusterConfigResponse {
            cluster: Some(cluster),
            ..Default::default()
        }))
    }

    async fn put_cluster_config(
        &self,
        request: Request<pdpb::PutClusterConfigRequest>,
    ) -> Result<Response<pdpb::PutClusterConfigResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = match request.cluster {
            Some(meta) => self.cluster.lock().put_cluster_meta(meta),
            None => Err(Error::InvalidArgument(
                "put cluster config without a cluster".into(),
            )),
        };
        self.reply(result.map(|()| pdpb::PutClusterConfigResponse::default()))
    }

    async fn get_gc_safe_point(
        &self,
        request: Request<pdpb::GetGcSafePointRequest>,
    ) -> Result<Response<pdpb::GetGcSafePointResponse>, Status> {
        self.check_header(request.get_ref().header.as_ref())?;
        let result = self.cluster.lock().gc_safe_point();
        self.reply(result.map(|safe_point| pdpb::GetGcSafePointResponse {
            safe_point,
            ..Default::default()
        }))
    }

    async fn update_gc_safe_point(
        &self,
        request: Request<pdpb::UpdateGcSafePointRequest>,
    ) -> Result<Response<pdpb::UpdateGcSafePointResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = self.cluster.lock().update_gc_safe_point(request.safe_point);
        self.reply(
            result.map(|new_safe_point| pdpb::UpdateGcSafePointResponse {
                new_safe_point,
                ..Default::default()
            }),
        )
    }

    async fn update_service_gc_safe_point(
        &self,
        request: Request<pdpb::UpdateServiceGcSafePointRequest>,
    ) -> Result<Response<pdpb::UpdateServiceGcSafePointResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let now = unix_seconds();
        let result = self.cluster.lock().update_service_safe_point(
            &request.service_id,
            request.ttl,
            request.safe_point,
            now,
        );
        // Like upstream, the answer names the service holding the minimum.
        self.reply(result.map(|min| pdpb::UpdateServiceGcSafePointResponse {
            ttl: min.ttl_at(now),
            service_id: min.service_id,
            min_safe_point: min.safe_point,
            ..Default::default()
        }))
    }

    async fn get_operator(
        &self,
        request: Request<pdpb::GetOperatorRequest>,
    ) -> Result<Response<pdpb::GetOperatorResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let status = self.cluster.lock().operator_status(request.region_id);
        let Some((operator, status)) = status else {
            // Upstream's answer for a region that never had an operator.
            let header = pdpb::ResponseHeader {
                cluster_id: self.cluster_id,
                error: Some(pdpb::Error {
                    r#type: ErrorType::RegionNotFound as i32,
                    message: "Not Found".into(),
                }),
            };
            return Ok(Response::new(pdpb::GetOperatorResponse {
                header: Some(header),
                ..Default::default()
            }));
        };
        self.reply(Ok(pdpb::GetOperatorResponse {
            region_id: request.region_id,
            desc: operator.desc().as_bytes().to_vec(),
            status: status as i32,
            kind: operator.kind().name().as_bytes().to_vec(),
            ..Default::default()
        }))
    }

    async fn report_min_resolved_ts(
        &self,
        request: Request<pdpb::ReportMinResolvedTsRequest>,
    ) -> Result<Response<pdpb::ReportMinResolvedTsResponse>, Status> {
        let request = request.into_inner();
        self.check_header(request.header.as_ref())?;
        let result = self
            .cluster
            .lock()
            .report_min_resolved_ts(request.store_id, request.min_resolved_ts);
        self.reply(result.map(|()| pdpb::ReportMinResolvedTsResponse::default()))
    }
}
