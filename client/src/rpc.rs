//! Sending KV requests to regions: a connection per store, the request `Context`, and the
//! retry loops that refresh the region cache on region errors and re-split the keys.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use basalt_proto::tikvpb::tikv_client::TikvClient;
use basalt_proto::{coprocessor, errorpb, kvrpcpb};
use futures::future::BoxFuture;
use futures::StreamExt;
use parking_lot::Mutex;
use tonic::transport::{Channel, Endpoint};

use crate::error::{describe_region_error, Error, Result};
use crate::region_cache::RegionInfo;
use crate::Cluster;

/// A KV service client over a shared channel.
pub(crate) type KvClient = TikvClient<Channel>;

/// How long a KV call may take.
const KV_TIMEOUT: Duration = Duration::from_secs(120);
/// Region errors one operation tolerates before failing with `Error::Region`.
const MAX_REGION_RETRIES: u32 = 20;
/// Keys per request when a region gets many.
const MAX_BATCH_KEYS: usize = 4096;
/// Bytes of keys and values per request when a region gets many.
const MAX_BATCH_BYTES: usize = 4 << 20;
/// Region batches in flight at once for multi-region operations.
const MAX_CONCURRENT_BATCHES: usize = 16;

/// One lazily connected channel per store address.
#[derive(Default)]
pub(crate) struct Connections {
    clients: Mutex<HashMap<String, KvClient>>,
}

impl Connections {
    /// The client for `address`, created on first use (the channel connects lazily).
    pub(crate) fn get(&self, address: &str) -> Result<KvClient> {
        let mut clients = self.clients.lock();
        if let Some(client) = clients.get(address) {
            return Ok(client.clone());
        }
        let url = crate::pd::endpoint_url(address);
        let channel = Endpoint::from_shared(url)
            .map_err(|err| Error::Transport(format!("bad store address {address}: {err}")))?
            .connect_timeout(Duration::from_secs(10))
            .timeout(KV_TIMEOUT)
            .tcp_nodelay(true)
            .connect_lazy();
        let client = TikvClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        clients.insert(address.to_string(), client.clone());
        Ok(client)
    }
}

/// A request addressed to one region: it takes a `Context` and answers with a response that
/// may carry a region error.
pub(crate) trait KvRequest: Clone + Send + 'static {
    /// The response message.
    type Response: Send + 'static;
    /// Sets the routing context.
    fn set_context(&mut self, context: kvrpcpb::Context);
    /// Sends the request.
    fn send(self, client: KvClient) -> BoxFuture<'static, Result<Self::Response>>;
    /// Takes the region error out of a response.
    fn take_region_error(response: &mut Self::Response) -> Option<errorpb::Error>;
}

macro_rules! kv_requests {
    ($($request:ty => $response:ty, $method:ident;)*) => {
        $(
            impl KvRequest for $request {
                type Response = $response;

                fn set_context(&mut self, context: kvrpcpb::Context) {
                    self.context = Some(context);
                }

                fn send(self, mut client: KvClient) -> BoxFuture<'static, Result<$response>> {
                    Box::pin(async move {
                        Ok(client.$method(self).await?.into_inner())
                    })
                }

                fn take_region_error(response: &mut $response) -> Option<errorpb::Error> {
                    response.region_error.take()
                }
            }
        )*
    };
}

kv_requests! {
    kvrpcpb::GetRequest => kvrpcpb::GetResponse, kv_get;
    kvrpcpb::BatchGetRequest => kvrpcpb::BatchGetResponse, kv_batch_get;
    kvrpcpb::ScanRequest => kvrpcpb::ScanResponse, kv_scan;
    kvrpcpb::PrewriteRequest => kvrpcpb::PrewriteResponse, kv_prewrite;
    kvrpcpb::CommitRequest => kvrpcpb::CommitResponse, kv_commit;
    kvrpcpb::BatchRollbackRequest => kvrpcpb::BatchRollbackResponse, kv_batch_rollback;
    kvrpcpb::CheckTxnStatusRequest => kvrpcpb::CheckTxnStatusResponse, kv_check_txn_status;
    kvrpcpb::ResolveLockRequest => kvrpcpb::ResolveLockResponse, kv_resolve_lock;
    coprocessor::Request => coprocessor::Response, coprocessor;
}

/// Exponential backoff: `first`, doubling, capped at `max`.
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Backoff { next: first, max }
    }

    /// Sleeps for the current delay and doubles it.
    pub(crate) async fn sleep(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.max);
    }
}

/// Counts region errors of one operation and backs off between its retries.
pub(crate) struct RegionRetry {
    attempts: u32,
    backoff: Backoff,
}

impl RegionRetry {
    pub(crate) fn new() -> Self {
        RegionRetry {
            attempts: 0,
            backoff: Backoff::new(Duration::from_millis(2), Duration::from_millis(500)),
        }
    }

    /// Accounts for `error` (the cache is already updated): fails once the budget is spent,
    /// else waits before the retry.
    pub(crate) async fn on_error(&mut self, error: &errorpb::Error) -> Result<()> {
        self.attempts += 1;
        if self.attempts > MAX_REGION_RETRIES {
            return Err(Error::Region(format!(
                "giving up after {MAX_REGION_RETRIES} region errors, the last: {}",
                describe_region_error(error)
            )));
        }
        // A new epoch or leader is usually already in the cache: retry at once the first time.
        if self.attempts > 1 {
            self.backoff.sleep().await;
        }
        Ok(())
    }
}

/// The answer of one region: the response, or the region error it carried.
pub(crate) type RegionAnswer<T> = std::result::Result<T, errorpb::Error>;

impl Cluster {
    /// The request context for `region`.
    pub(crate) fn context(&self, region: &RegionInfo, resolved_locks: &[u64]) -> kvrpcpb::Context {
        kvrpcpb::Context {
            region_id: region.region.id,
            region_epoch: region.region.region_epoch,
            peer: Some(region.leader),
            resolved_locks: resolved_locks.to_vec(),
            ..Default::default()
        }
    }

    /// Sends `request` to `region` once. A region error updates the cache and comes back as
    /// `Ok(Err(error))` for the caller to re-split and retry.
    pub(crate) async fn send_to_region<R: KvRequest>(
        &self,
        region: &RegionInfo,
        mut request: R,
        resolved_locks: &[u64],
    ) -> Result<RegionAnswer<R::Response>> {
        request.set_context(self.context(region, resolved_locks));
        let client = self.inner.connections.get(&region.store_addr)?;
        let mut response = request.send(client).await?;
        match R::take_region_error(&mut response) {
            None => Ok(Ok(response)),
            Some(error) => {
                tracing::debug!(
                    region_id = region.id(),
                    store = %region.store_addr,
                    error = %describe_region_error(&error),
                    "region error"
                );
                self.inner.cache.on_region_error(region, &error).await?;
                Ok(Err(error))
            }
        }
    }

    /// Sends `request` to the region holding `key`, retrying on region errors.
    pub(crate) async fn request_for_key<R: KvRequest>(
        &self,
        key: &[u8],
        request: R,
        resolved_locks: &[u64],
    ) -> Result<R::Response> {
        let mut retry = RegionRetry::new();
        loop {
            let region = self.inner.cache.locate(key).await?;
            match self
                .send_to_region(&region, request.clone(), resolved_locks)
                .await?
            {
                Ok(response) => return Ok(response),
                Err(error) => retry.on_error(&error).await?,
            }
        }
    }

    /// Splits `items`, sorted by `key`, into batches that each fall in one region and stay
    /// under the request size limits, in key order.
    pub(crate) async fn group_by_region<T>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> &[u8],
        size: impl Fn(&T) -> usize,
    ) -> Result<Vec<(RegionInfo, Vec<T>)>> {
        let mut groups: Vec<(RegionInfo, Vec<T>)> = Vec::new();
        let mut bytes = 0;
        for item in items {
            let item_size = size(&item);
            if let Some((region, batch)) = groups.last_mut() {
                if region.contains(key(&item)) {
                    if batch.len() < MAX_BATCH_KEYS && bytes + item_size <= MAX_BATCH_BYTES {
                        bytes += item_size;
                        batch.push(item);
                    } else {
                        let region = region.clone();
                        bytes = item_size;
                        groups.push((region, vec![item]));
                    }
                    continue;
                }
            }
            let region = self.inner.cache.locate(key(&item)).await?;
            bytes = item_size;
            groups.push((region, vec![item]));
        }
        Ok(groups)
    }

    /// Runs `send` for every region batch of `items` (sorted by `key`), at most
    /// `MAX_CONCURRENT_BATCHES` at a time, every batch to completion. Batches that hit a
    /// region error are regrouped and sent again until the retry budget is spent. Returns the
    /// outputs (in no particular order) or the first error.
    pub(crate) async fn per_region<T, O, F, Fut>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> &[u8] + Copy,
        size: impl Fn(&T) -> usize + Copy,
        send: F,
    ) -> Result<Vec<O>>
    where
        T: Clone,
        F: Fn(RegionInfo, Vec<T>) -> Fut,
        Fut: Future<Output = Result<RegionAnswer<O>>>,
    {
        let mut outputs = Vec::new();
        let mut pending = items;
        let mut retry = RegionRetry::new();
        while !pending.is_empty() {
            let groups = self.group_by_region(pending, key, size).await?;
            let results: Vec<(Vec<T>, Result<RegionAnswer<O>>)> =
                futures::stream::iter(groups.into_iter().map(|(region, batch)| {
                    let sent = send(region, batch.clone());
                    async move { (batch, sent.await) }
                }))
                .buffer_unordered(MAX_CONCURRENT_BATCHES)
                .collect()
                .await;
            pending = Vec::new();
            let mut first_error = None;
            let mut region_error = None;
            for (batch, result) in results {
                match result {
                    Ok(Ok(output)) => outputs.push(output),
                    Ok(Err(error)) => {
                        pending.extend(batch);
                        region_error = Some(error);
                    }
                    Err(err) => {
                        first_error.get_or_insert(err);
                    }
                }
            }
            if let Some(err) = first_error {
                return Err(err);
            }
            if let Some(error) = region_error {
                pending.sort_by(|a, b| key(a).cmp(key(b)));
                retry.on_error(&error).await?;
            }
        }
        Ok(outputs)
    }
}
