//! The conversation with PD: the cluster id (GetMembers), timestamps over the `Tso` stream,
//! ids, regions and stores. Region keys here are in PD's (memcomparable) form; the region cache
//! converts.

use std::time::Duration;

use basalt_proto::{metapb, pdpb};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};

use crate::error::{Error, Result};

/// How long a PD call may take before it fails.
const PD_TIMEOUT: Duration = Duration::from_secs(10);

/// An open `Tso` stream: requests go in through `sender`, replies come out of `responses`.
struct TsoStream {
    sender: mpsc::Sender<pdpb::TsoRequest>,
    responses: tonic::Streaming<pdpb::TsoResponse>,
}

/// A PD connection with the cluster id filled into every request header.
pub(crate) struct PdClient {
    client: pdpb::pd_client::PdClient<Channel>,
    cluster_id: u64,
    /// One `Tso` stream shared by every caller, one request in flight at a time; reopened
    /// after an error.
    tso: tokio::sync::Mutex<Option<TsoStream>>,
}

/// `host:port` or a URL as a URL tonic can dial.
pub(crate) fn endpoint_url(address: &str) -> String {
    if address.starts_with("http://") || address.starts_with("https://") {
        address.to_string()
    } else {
        format!("http://{address}")
    }
}

/// Fails with the header's error, if it carries one.
fn check_header(call: &str, header: Option<&pdpb::ResponseHeader>) -> Result<()> {
    if let Some(error) = header.and_then(|header| header.error.as_ref()) {
        if error.r#type != pdpb::ErrorType::Ok as i32 {
            return Err(Error::Pd(format!(
                "{call}: {} (type {})",
                error.message, error.r#type
            )));
        }
    }
    Ok(())
}

/// Reads the reply to the request just sent on `stream`.
async fn read_timestamp(stream: &mut TsoStream) -> Result<u64> {
    let response = tokio::time::timeout(PD_TIMEOUT, stream.responses.next())
        .await
        .map_err(|_| Error::Pd("Tso: no reply in time".into()))?
        .ok_or_else(|| Error::Pd("Tso: the stream ended".into()))??;
    check_header("Tso", response.header.as_ref())?;
    let timestamp = response
        .timestamp
        .ok_or_else(|| Error::Pd("Tso: reply has no timestamp".into()))?;
    let physical = u64::try_from(timestamp.physical)
        .map_err(|_| Error::Pd(format!("Tso: negative physical {}", timestamp.physical)))?;
    let logical = u64::try_from(timestamp.logical)
        .map_err(|_| Error::Pd(format!("Tso: negative logical {}", timestamp.logical)))?;
    Ok((physical << 18) | logical)
}

impl PdClient {
    /// Connects to PD at `address` and learns the cluster id.
    pub(crate) async fn connect(address: &str) -> Result<PdClient> {
        let url = endpoint_url(address);
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|err| Error::Transport(format!("bad PD address {address}: {err}")))?
            .connect_timeout(PD_TIMEOUT)
            .timeout(PD_TIMEOUT)
            .tcp_nodelay(true);
        let channel = endpoint
            .connect()
            .await
            .map_err(|err| Error::Transport(format!("connecting to PD at {url}: {err}")))?;
        let mut client = pdpb::pd_client::PdClient::new(channel);
        let members = client
            .get_members(pdpb::GetMembersRequest::default())
            .await?
            .into_inner();
        check_header("GetMembers", members.header.as_ref())?;
        let cluster_id = members
            .header
            .map(|header| header.cluster_id)
            .ok_or_else(|| Error::Pd("GetMembers: reply has no header".into()))?;
        tracing::debug!(%url, cluster_id, "connected to PD");
        Ok(PdClient {
            client,
            cluster_id,
            tso: tokio::sync::Mutex::new(None),
        })
    }

    /// The cluster id PD reported.
    pub(crate) fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    fn header(&self) -> Option<pdpb::RequestHeader> {
        Some(pdpb::RequestHeader {
            cluster_id: self.cluster_id,
            ..Default::default()
        })
    }

    /// A fresh timestamp. On a stream error the stream is reopened and the request sent once
    /// more.
    pub(crate) async fn timestamp(&self) -> Result<u64> {
        let mut slot = self.tso.lock().await;
        let mut last_error = None;
        for _ in 0..2 {
            let request = pdpb::TsoRequest {
                header: self.header(),
                count: 1,
                ..Default::default()
            };
            // The stream is taken out while a request is in flight: if this future is dropped
            // half-way, the stream and its unread reply go with it, and no later caller gets a
            // stale timestamp.
            let exchange = async {
                let mut stream = match slot.take() {
                    Some(stream) => {
                        stream
                            .sender
                            .send(request)
                            .await
                            .map_err(|_| Error::Pd("Tso: the stream is closed".into()))?;
                        stream
                    }
                    None => self.open_tso(request).await?,
                };
                let ts = read_timestamp(&mut stream).await?;
                Ok::<_, Error>((stream, ts))
            };
            match exchange.await {
                Ok((stream, ts)) => {
                    *slot = Some(stream);
                    return Ok(ts);
                }
                Err(err) => {
                    tracing::debug!(%err, "TSO request failed; reopening the stream");
                    last_error = Some(err);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Pd("Tso: no attempt made".into())))
    }

    /// Opens a `Tso` stream with `first` queued on it.
    async fn open_tso(&self, first: pdpb::TsoRequest) -> Result<TsoStream> {
        let (sender, receiver) = mpsc::channel(8);
        // Queued before the call so the first message is there when the stream opens.
        sender
            .send(first)
            .await
            .map_err(|_| Error::Pd("Tso: the stream is closed".into()))?;
        let responses = self
            .client
            .clone()
            .tso(ReceiverStream::new(receiver))
            .await?
            .into_inner();
        Ok(TsoStream { sender, responses })
    }

    /// A unique id.
    pub(crate) async fn alloc_id(&self) -> Result<u64> {
        let response = self
            .client
            .clone()
            .alloc_id(pdpb::AllocIdRequest {
                header: self.header(),
                count: 1,
            })
            .await?
            .into_inner();
        check_header("AllocID", response.header.as_ref())?;
        Ok(response.id)
    }

    /// The region holding `key` (PD form) and its leader, if PD knows one.
    pub(crate) async fn get_region(
        &self,
        key: &[u8],
    ) -> Result<(metapb::Region, Option<metapb::Peer>)> {
        let response = self
            .client
            .clone()
            .get_region(pdpb::GetRegionRequest {
                header: self.header(),
                region_key: key.to_vec(),
                ..Default::default()
            })
            .await?
            .into_inner();
        check_header("GetRegion", response.header.as_ref())?;
        let region = response.region.ok_or_else(|| {
            Error::Region(format!("PD knows no region for key {}", key.escape_ascii()))
        })?;
        Ok((region, response.leader))
    }

    /// Up to `limit` regions from the one holding `start` on, stopping before `end` (PD form;
    /// empty: unbounded), with their leaders.
    pub(crate) async fn scan_regions(
        &self,
        start: &[u8],
        end: &[u8],
        limit: i32,
    ) -> Result<Vec<(metapb::Region, Option<metapb::Peer>)>> {
        let response = self
            .client
            .clone()
            .scan_regions(pdpb::ScanRegionsRequest {
                header: self.header(),
                start_key: start.to_vec(),
                end_key: end.to_vec(),
                limit,
            })
            .await?
            .into_inner();
        check_header("ScanRegions", response.header.as_ref())?;
        if !response.regions.is_empty() {
            return Ok(response
                .regions
                .into_iter()
                .filter_map(|region| Some((region.region?, region.leader)))
                .collect());
        }
        // Older PDs fill only the parallel lists.
        let mut leaders = response.leaders.into_iter();
        Ok(response
            .region_metas
            .into_iter()
            .map(|region| (region, leaders.next()))
            .collect())
    }

    /// The store `store_id`.
    pub(crate) async fn get_store(&self, store_id: u64) -> Result<metapb::Store> {
        let response = self
            .client
            .clone()
            .get_store(pdpb::GetStoreRequest {
                header: self.header(),
                store_id,
            })
            .await?
            .into_inner();
        check_header("GetStore", response.header.as_ref())?;
        response
            .store
            .ok_or_else(|| Error::Pd(format!("GetStore: no store {store_id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_urls() {
        assert_eq!(endpoint_url("127.0.0.1:2379"), "http://127.0.0.1:2379");
        assert_eq!(endpoint_url("http://pd:2379"), "http://pd:2379");
        assert_eq!(endpoint_url("https://pd:2379"), "https://pd:2379");
    }
}
