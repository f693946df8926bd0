//! Handlers of the raw KV RPCs. Each takes the request message and returns the response
//! message; the tonic service and `BatchCommands` both call them.

use std::future::Future;

use basalt_proto::kvrpcpb;
use basalt_storage::{Engine, Error};

use super::convert::{raw_error, request_context, wire_error, WireError};
use super::kv::check_limit;
use super::KvHandlers;
use crate::metrics::RequestTimer;

impl<E: Engine> KvHandlers<E> {
    /// `RawGet`.
    pub async fn raw_get(&self, request: kvrpcpb::RawGetRequest) -> kvrpcpb::RawGetResponse {
        let timer = RequestTimer::start("raw_get");
        let ctx = request_context(request.context.as_ref());
        let result = self.storage().raw_get(&ctx, &request.cf, request.key).await;
        // Built after the read, so the response is not part of the future's state.
        let (response, label) = raw_get_response(result);
        timer.finish(label);
        response
    }

    /// Several `RawGet`s (those of one `BatchCommands` message), answered in order, each as
    /// `raw_get` answers it; consecutive ones addressed alike share a snapshot
    /// (`Storage::raw_get_each`).
    pub async fn raw_get_each(
        &self,
        requests: Vec<kvrpcpb::RawGetRequest>,
    ) -> Vec<kvrpcpb::RawGetResponse> {
        let timer = RequestTimer::start("raw_get");
        let gets: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let ctx = request_context(request.context.as_ref());
                (ctx, request.cf, request.key)
            })
            .collect();
        let results = self.storage().raw_get_each(&gets).await;
        let (responses, labels): (Vec<_>, Vec<_>) =
            results.into_iter().map(raw_get_response).unzip();
        timer.finish_each(labels);
        responses
    }

    /// `RawBatchGet`.
    pub async fn raw_batch_get(
        &self,
        request: kvrpcpb::RawBatchGetRequest,
    ) -> kvrpcpb::RawBatchGetResponse {
        let timer = RequestTimer::start("raw_batch_get");
        let ctx = request_context(request.context.as_ref());
        let result = self
            .storage()
            .raw_batch_get(&ctx, &request.cf, request.keys)
            .await;
        let (region_error, pairs, label) = raw_pairs(result);
        timer.finish(label);
        kvrpcpb::RawBatchGetResponse {
            region_error,
            pairs,
        }
    }

    /// Runs a raw write and fills the `(region_error, error)` of its response.
    async fn raw_write(
        &self,
        method: &'static str,
        write: impl Future<Output = Result<(), Error>>,
    ) -> (Option<basalt_proto::errorpb::Error>, String) {
        let timer = RequestTimer::start(method);
        let (region, message, label) = match write.await {
            Ok(()) => (None, String::new(), "ok"),
            Err(err) => match raw_error(err) {
                Err(region) => (Some(*region), String::new(), "region_error"),
                Ok(message) => (None, message, "error"),
            },
        };
        timer.finish(label);
        (region, message)
    }

    /// `RawPut`.
    pub async fn raw_put(&self, request: kvrpcpb::RawPutRequest) -> kvrpcpb::RawPutResponse {
        let ctx = request_context(request.context.as_ref());
        let ttls = [request.ttl];
        let write =
            self.storage()
                .raw_put(&ctx, &request.cf, vec![(request.key, request.value)], &ttls);
        let (region_error, error) = self.raw_write("raw_put", write).await;
        kvrpcpb::RawPutResponse {
            region_error,
            error,
        }
    }

    /// `RawBatchPut`.
    pub async fn raw_batch_put(
        &self,
        request: kvrpcpb::RawBatchPutRequest,
    ) -> kvrpcpb::RawBatchPutResponse {
        let ctx = request_context(request.context.as_ref());
        // Old clients send one `ttl` for the batch, newer ones `ttls` per pair.
        #[allow(deprecated)]
        let ttls = if request.ttls.is_empty() {
            vec![request.ttl]
        } else {
            request.ttls
        };
        let pairs = request
            .pairs
            .into_iter()
            .map(|pair| (pair.key, pair.value))
            .collect();
        let write = self.storage().raw_put(&ctx, &request.cf, pairs, &ttls);
        let (region_error, error) = self.raw_write("raw_batch_put", write).await;
        kvrpcpb::RawBatchPutResponse {
            region_error,
            error,
        }
    }

    /// `RawDelete`.
    pub async fn raw_delete(
        &self,
        request: kvrpcpb::RawDeleteRequest,
    ) -> kvrpcpb::RawDeleteResponse {
        let ctx = request_context(request.context.as_ref());
        let write = self
            .storage()
            .raw_delete(&ctx, &request.cf, vec![request.key]);
        let (region_error, error) = self.raw_write("raw_delete", write).await;
        kvrpcpb::RawDeleteResponse {
            region_error,
            error,
        }
    }

    /// `RawBatchDelete`.
    pub async fn raw_batch_delete(
        &self,
        request: kvrpcpb::RawBatchDeleteRequest,
    ) -> kvrpcpb::RawBatchDeleteResponse {
        let ctx = request_context(request.context.as_ref());
        let write = self.storage().raw_delete(&ctx, &request.cf, request.keys);
        let (region_error, error) = self.raw_write("raw_batch_delete", write).await;
        kvrpcpb::RawBatchDeleteResponse {
            region_error,
            error,
        }
    }

    /// `RawDeleteRange`.
    pub async fn raw_delete_range(
        &self,
        request: kvrpcpb::RawDeleteRangeRequest,
    ) -> kvrpcpb::RawDeleteRangeResponse {
        let ctx = request_context(request.context.as_ref());
        let write =
            self.storage()
                .raw_delete_range(&ctx, &request.cf, request.start_key, request.end_key);
        let (region_error, error) = self.raw_write("raw_delete_range", write).await;
        kvrpcpb::RawDeleteRangeResponse {
            region_error,
            error,
        }
    }

    /// `RawScan`.
    pub async fn raw_scan(&self, request: kvrpcpb::RawScanRequest) -> kvrpcpb::RawScanResponse {
        let timer = RequestTimer::start("raw_scan");
        let ctx = request_context(request.context.as_ref());
        let result = match check_limit(request.limit) {
            Ok(limit) => {
                self.storage()
                    .raw_scan(
                        &ctx,
                        &request.cf,
                        request.start_key,
                        request.end_key,
                        limit,
                        request.key_only,
                        request.reverse,
                    )
                    .await
            }
            Err(err) => Err(err),
        };
        let (region_error, kvs, label) = raw_pairs(result);
        timer.finish(label);
        kvrpcpb::RawScanResponse { region_error, kvs }
    }

    /// `RawBatchScan`: each range scanned with `each_limit`.
    pub async fn raw_batch_scan(
        &self,
        request: kvrpcpb::RawBatchScanRequest,
    ) -> kvrpcpb::RawBatchScanResponse {
        let timer = RequestTimer::start("raw_batch_scan");
        let ctx = request_context(request.context.as_ref());
        let result = async {
            let limit = check_limit(request.each_limit)?;
            let mut pairs = Vec::new();
            for range in request.ranges {
                let (start, end) = if request.reverse {
                    (range.end_key, range.start_key)
                } else {
                    (range.start_key, range.end_key)
                };
                pairs.extend(
                    self.storage()
                        .raw_scan(
                            &ctx,
                            &request.cf,
                            start,
                            end,
                            limit,
                            request.key_only,
                            request.reverse,
                        )
                        .await?,
                );
            }
            Ok(pairs)
        }
        .await;
        let (region_error, kvs, label) = raw_pairs(result);
        timer.finish(label);
        kvrpcpb::RawBatchScanResponse { region_error, kvs }
    }

    /// `RawGetKeyTTL`: the seconds a key has left (0: no TTL), or `not_found`.
    pub async fn raw_get_key_ttl(
        &self,
        request: kvrpcpb::RawGetKeyTtlRequest,
    ) -> kvrpcpb::RawGetKeyTtlResponse {
        let timer = RequestTimer::start("raw_get_key_ttl");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::RawGetKeyTtlResponse::default();
        let label = match self
            .storage()
            .raw_get_key_ttl(&ctx, &request.cf, request.key)
            .await
        {
            Ok(Some(ttl)) => {
                response.ttl = ttl;
                "ok"
            }
            Ok(None) => {
                response.not_found = true;
                "ok"
            }
            Err(err) => set_raw_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `RawCompareAndSwap`.
    pub async fn raw_compare_and_swap(
        &self,
        request: kvrpcpb::RawCasRequest,
    ) -> kvrpcpb::RawCasResponse {
        let timer = RequestTimer::start("raw_compare_and_swap");
        let ctx = request_context(request.context.as_ref());
        let mut response = kvrpcpb::RawCasResponse::default();
        let expected = (!request.previous_not_exist).then_some(request.previous_value);
        let result = self
            .storage()
            .raw_compare_and_swap(
                &ctx,
                &request.cf,
                request.key,
                expected,
                request.value,
                request.delete,
                request.ttl,
            )
            .await;
        let label = match result {
            Ok((succeed, previous)) => {
                response.succeed = succeed;
                response.previous_not_exist = previous.is_none();
                response.previous_value = previous.unwrap_or_default();
                "ok"
            }
            Err(err) => set_raw_error!(response, err),
        };
        timer.finish(label);
        response
    }

    /// `UnsafeDestroyRange`: drops every transactional key of the range on this store, without
    /// regard to regions (the context is not checked, as upstream).
    pub async fn unsafe_destroy_range(
        &self,
        request: kvrpcpb::UnsafeDestroyRangeRequest,
    ) -> kvrpcpb::UnsafeDestroyRangeResponse {
        let timer = RequestTimer::start("unsafe_destroy_range");
        let mut response = kvrpcpb::UnsafeDestroyRangeResponse::default();
        let label = match self
            .storage()
            .unsafe_destroy_range(request.start_key, request.end_key)
            .await
        {
            Ok(()) => "ok",
            Err(err) => set_raw_error!(response, err),
        };
        timer.finish(label);
        response
    }
}

/// A raw key and value.
type RawPair = (Vec<u8>, Vec<u8>);
/// The region error, pairs and metrics label of a raw read's response.
type RawReadReply = (
    Option<basalt_proto::errorpb::Error>,
    Vec<kvrpcpb::KvPair>,
    &'static str,
);

/// The `RawGetResponse` for a raw read's outcome, and its metrics label.
fn raw_get_response(
    result: Result<Option<Vec<u8>>, Error>,
) -> (kvrpcpb::RawGetResponse, &'static str) {
    let mut response = kvrpcpb::RawGetResponse::default();
    let label = match result {
        Ok(Some(value)) => {
            response.value = value;
            "ok"
        }
        Ok(None) => {
            response.not_found = true;
            "ok"
        }
        Err(err) => set_raw_error!(response, err),
    };
    (response, label)
}

/// The `(region_error, pairs, label)` of a raw read. Upstream reports other errors as one pair
/// carrying a `KeyError`, since these responses have no error field.
fn raw_pairs(result: Result<Vec<RawPair>, Error>) -> RawReadReply {
    match result {
        Ok(pairs) => (
            None,
            pairs
                .into_iter()
                .map(|(key, value)| kvrpcpb::KvPair {
                    key,
                    value,
                    ..Default::default()
                })
                .collect(),
            "ok",
        ),
        Err(err) => match wire_error(err) {
            WireError::Region(region) => (Some(*region), Vec::new(), "region_error"),
            WireError::Key(key) => (
                None,
                vec![kvrpcpb::KvPair {
                    error: Some(*key),
                    ..Default::default()
                }],
                "error",
            ),
        },
    }
}
