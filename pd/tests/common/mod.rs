//! A PD served over real gRPC on a loopback port, for the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use basalt_pd::{PdConfig, PdServer};
use basalt_proto::pdpb::{self, pd_client::PdClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub struct Running {
    pub client: PdClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    pub cluster_id: u64,
    pub cluster: std::sync::Arc<parking_lot::Mutex<basalt_pd::Cluster>>,
    pub addr: std::net::SocketAddr,
}

impl Running {
    pub async fn start(dir: &Path) -> Running {
        Running::start_with(dir, PdConfig::default()).await
    }

    /// Starts with `config`, its advertised URL replaced by the bound address.
    pub async fn start_with(dir: &Path, config: PdConfig) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = PdServer::open(
            dir,
            PdConfig {
                advertise_url: format!("http://{addr}"),
                ..config
            },
        )
        .unwrap();
        let cluster = server.cluster().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let mut client = PdClient::connect(format!("http://{addr}")).await.unwrap();
        let members = client
            .get_members(pdpb::GetMembersRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            members.leader.as_ref().map(|m| m.client_urls.clone()),
            Some(vec![format!("http://{addr}")])
        );
        let cluster_id = members.header.unwrap().cluster_id;
        assert_ne!(cluster_id, 0);
        Running {
            client,
            stop: Some(stop),
            task,
            cluster_id,
            cluster,
            addr,
        }
    }

    pub fn header(&self) -> Option<pdpb::RequestHeader> {
        Some(pdpb::RequestHeader {
            cluster_id: self.cluster_id,
            ..Default::default()
        })
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        drop(self.client);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }

    pub async fn timestamps(&mut self, counts: &[u32]) -> Vec<u64> {
        let requests: Vec<pdpb::TsoRequest> = counts
            .iter()
            .map(|&count| pdpb::TsoRequest {
                header: self.header(),
                count,
                ..Default::default()
            })
            .collect();
        let mut stream = self
            .client
            .tso(futures::stream::iter(requests))
            .await
            .unwrap()
            .into_inner();
        let mut out = Vec::new();
        while let Some(response) = stream.message().await.unwrap() {
            let ts = response.timestamp.unwrap();
            assert!(ts.logical < 1 << 18, "logical part overflowed: {ts:?}");
            out.push(((ts.physical as u64) << 18) | ts.logical as u64);
        }
        out
    }

    pub async fn alloc(&mut self) -> u64 {
        self.client
            .alloc_id(pdpb::AllocIdRequest {
                header: self.header(),
                count: 1,
            })
            .await
            .unwrap()
            .into_inner()
            .id
    }
}

pub fn error_type(header: &Option<pdpb::ResponseHeader>) -> i32 {
    header
        .as_ref()
        .and_then(|h| h.error.as_ref())
        .map(|e| e.r#type)
        .unwrap_or(0)
}

/// One HTTP/1.1 GET on a fresh connection; returns the status code and body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}
