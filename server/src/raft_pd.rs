//! PD as the raft store sees it, over gRPC: split ids and reports, and one region heartbeat
//! stream per store whose answers (PD's operator steps) become admin commands to the peers.

use std::sync::Arc;
use std::time::Duration;

use basalt_proto::metapb;
use basalt_proto::pdpb::{self, pd_client::PdClient as PdGrpc};
use basalt_proto::raft_cmdpb::{
    AdminCmdType, AdminRequest, ChangePeerV2Request, PrepareMergeRequest, RaftCmdRequest,
    RaftRequestHeader,
};
use basalt_raftstore::msg::PeerMsg;
use basalt_raftstore::pd::{BoxFuture, PdClient, RegionHeartbeat};
use basalt_storage::{Error, Result};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// Heartbeats queued for the stream before new ones are dropped (the next tick resends).
const HEARTBEAT_QUEUE: usize = 4096;

/// The raft store's PD client.
pub struct RaftPd {
    client: PdGrpc<Channel>,
    cluster_id: u64,
    heartbeats: mpsc::Sender<pdpb::RegionHeartbeatRequest>,
}

fn pd_failed(what: &str, err: impl std::fmt::Display) -> Error {
    Error::Engine(format!("PD {what}: {err}"))
}

fn check_header(what: &str, header: Option<&pdpb::ResponseHeader>) -> Result<()> {
    match header.and_then(|header| header.error.as_ref()) {
        Some(error) if error.r#type != pdpb::ErrorType::Ok as i32 => {
            Err(pd_failed(what, &error.message))
        }
        _ => Ok(()),
    }
}

impl RaftPd {
    /// Connects to PD at `addr` and starts the heartbeat stream, whose answers go to `router`.
    pub async fn connect(
        addr: &str,
        cluster_id: u64,
        router: crate::raft_node::LateRouter,
    ) -> Result<Arc<RaftPd>> {
        let client = PdGrpc::connect(format!("http://{addr}"))
            .await
            .map_err(|err| pd_failed("connect", err))?;
        let (heartbeats, queue) = mpsc::channel(HEARTBEAT_QUEUE);
        tokio::spawn(heartbeat_stream(client.clone(), queue, router));
        Ok(Arc::new(RaftPd {
            client,
            cluster_id,
            heartbeats,
        }))
    }

    fn header(&self) -> Option<pdpb::RequestHeader> {
        Some(pdpb::RequestHeader {
            cluster_id: self.cluster_id,
            ..Default::default()
        })
    }
}

/// Keeps one region heartbeat stream open, forwarding queued heartbeats and dispatching PD's
/// answers; reconnects after a second when the stream breaks.
async fn heartbeat_stream(
    client: PdGrpc<Channel>,
    mut queue: mpsc::Receiver<pdpb::RegionHeartbeatRequest>,
    router: crate::raft_node::LateRouter,
) {
    loop {
        let (tx, rx) = mpsc::channel(HEARTBEAT_QUEUE);
        let mut client = client.clone();
        match client.region_heartbeat(ReceiverStream::new(rx)).await {
            Ok(response) => {
                let mut answers = response.into_inner();
                loop {
                    tokio::select! {
                        queued = queue.recv() => {
                            let Some(request) = queued else { return };
                            if tx.send(request).await.is_err() {
                                break;
                            }
                        }
                        answer = answers.message() => match answer {
                            Ok(Some(answer)) => {
                                if let Some(router) = router.get() {
                                    dispatch(router, answer);
                                }
                            }
                            Ok(None) => break,
                            Err(status) => {
                                tracing::warn!(%status, "region heartbeat stream broke");
                                break;
                            }
                        }
                    }
                }
            }
            Err(status) => tracing::warn!(%status, "opening the region heartbeat stream failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Turns one of PD's operator steps into a command for the region's leader.
fn dispatch(router: &basalt_raftstore::RaftRouter, answer: pdpb::RegionHeartbeatResponse) {
    let region_id = answer.region_id;
    if let Some(transfer) = answer.transfer_leader.and_then(|transfer| transfer.peer) {
        let _ = router.send(region_id, PeerMsg::TransferLeader(transfer));
        return;
    }
    let mut admin = AdminRequest::default();
    if let Some(v2) = answer.change_peer_v2.filter(|v2| !v2.changes.is_empty()) {
        admin.cmd_type = AdminCmdType::ChangePeerV2 as i32;
        admin.change_peer_v2 = Some(ChangePeerV2Request {
            changes: v2.changes.into_iter().map(change_request).collect(),
        });
    } else if let Some(change) = answer.change_peer {
        admin.cmd_type = AdminCmdType::ChangePeer as i32;
        admin.change_peer = Some(change_request(change));
    } else if let Some(target) = answer.merge.and_then(|merge| merge.target) {
        // The leader fills in `min_index` when it proposes.
        admin.cmd_type = AdminCmdType::PrepareMerge as i32;
        admin.prepare_merge = Some(PrepareMergeRequest {
            target: Some(target),
            ..Default::default()
        });
    } else {
        // Splits asked by PD are not carried out by this store yet; an empty ChangePeerV2
        // (leave joint) is done by raft on its own.
        return;
    }
    let cmd = RaftCmdRequest {
        header: Some(RaftRequestHeader {
            region_id,
            peer: answer.target_peer,
            region_epoch: answer.region_epoch,
            ..Default::default()
        }),
        admin_request: Some(admin),
        ..Default::default()
    };
    let sent = router.send_command(
        cmd,
        Box::new(move |outcome| {
            if let Err(err) = outcome {
                tracing::debug!(region_id, %err, "PD's operator step was not applied");
            }
        }),
    );
    if let Err(err) = sent {
        tracing::debug!(region_id, %err, "PD's operator step could not be delivered");
    }
}

fn change_request(change: pdpb::ChangePeer) -> basalt_proto::raft_cmdpb::ChangePeerRequest {
    basalt_proto::raft_cmdpb::ChangePeerRequest {
        change_type: change.change_type,
        peer: change.peer,
    }
}

impl PdClient for RaftPd {
    fn ask_batch_split(
        &self,
        region: metapb::Region,
        count: usize,
    ) -> BoxFuture<Result<basalt_raftstore::pd::SplitIds>> {
        let mut client = self.client.clone();
        let request = pdpb::AskBatchSplitRequest {
            header: self.header(),
            region: Some(region),
            split_count: count as u32,
            ..Default::default()
        };
        Box::pin(async move {
            let response = client
                .ask_batch_split(request)
                .await
                .map_err(|status| pd_failed("AskBatchSplit", status))?
                .into_inner();
            check_header("AskBatchSplit", response.header.as_ref())?;
            Ok(response
                .ids
                .into_iter()
                .map(|ids| (ids.new_region_id, ids.new_peer_ids))
                .collect())
        })
    }

    fn report_batch_split(&self, regions: Vec<metapb::Region>) -> BoxFuture<Result<()>> {
        let mut client = self.client.clone();
        let request = pdpb::ReportBatchSplitRequest {
            header: self.header(),
            regions,
        };
        Box::pin(async move {
            let response = client
                .report_batch_split(request)
                .await
                .map_err(|status| pd_failed("ReportBatchSplit", status))?
                .into_inner();
            check_header("ReportBatchSplit", response.header.as_ref())
        })
    }

    fn region_heartbeat(&self, heartbeat: RegionHeartbeat) -> BoxFuture<Result<()>> {
        let request = pdpb::RegionHeartbeatRequest {
            header: self.header(),
            region: Some(heartbeat.region),
            leader: Some(heartbeat.leader),
            down_peers: heartbeat
                .down_peers
                .into_iter()
                .map(|(peer, down_seconds)| pdpb::PeerStats {
                    peer: Some(peer),
                    down_seconds,
                })
                .collect(),
            pending_peers: heartbeat.pending_peers,
            approximate_size: heartbeat.approximate_size,
            approximate_keys: heartbeat.approximate_keys,
            term: heartbeat.term,
            ..Default::default()
        };
        let queued = self.heartbeats.try_send(request);
        Box::pin(async move { queued.map_err(|err| pd_failed("heartbeat queue", err)) })
    }
}
