//! `Engine` over the raft store: reads wait for the peer to confirm them (lease or ReadIndex)
//! and take an engine snapshot at that moment; writes are proposed and answered once applied.
//! Transactions, raw KV and the coprocessor run on it unchanged.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use basalt_proto::raft_cmdpb::{self, CmdType, RaftCmdRequest, RaftRequestHeader};
use basalt_storage::engine::{KvEngine, Modify};
use basalt_storage::kv::{region_error, DataSnapshot};
use basalt_storage::{Engine, RequestContext, Result};
use parking_lot::RwLock;

use crate::errors;
use crate::msg::{CmdOutcome, ReadRequest};
use crate::router::RaftRouter;
use crate::store::StoreMeta;

/// How long a request waits for its peer before giving up with `StaleCommand` (the outcome
/// of a write is then unknown; clients retry, and every Basalt write is idempotent).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The raft store as the transaction layer's engine.
#[derive(Clone)]
pub struct RaftKv<K: KvEngine> {
    router: RaftRouter,
    kv: K,
    meta: Arc<RwLock<StoreMeta>>,
}

impl<K: KvEngine> RaftKv<K> {
    /// Serves requests through `router`'s peers, reading `kv`.
    pub fn new(router: RaftRouter, kv: K, meta: Arc<RwLock<StoreMeta>>) -> Self {
        RaftKv { router, kv, meta }
    }

    /// The router.
    pub fn router(&self) -> &RaftRouter {
        &self.router
    }

    fn check_store(&self, ctx: &RequestContext) -> Result<()> {
        let store_id = self.meta.read().store_id;
        match ctx.peer {
            Some(peer) if peer.store_id != 0 && peer.store_id != store_id => Err(region_error(
                format!("store {} is not store {store_id}", peer.store_id),
                |error| {
                    error.store_not_match = Some(basalt_proto::errorpb::StoreNotMatch {
                        request_store_id: peer.store_id,
                        actual_store_id: store_id,
                    })
                },
            )),
            _ => Ok(()),
        }
    }
}

async fn wait<T>(region_id: u64, rx: tokio::sync::oneshot::Receiver<Result<T>>) -> Result<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(errors::region_not_found(region_id)),
        Err(_) => Err(errors::stale_command(region_id)),
    }
}

fn to_request(modify: Modify) -> raft_cmdpb::Request {
    match modify {
        Modify::Put(cf, key, value) => raft_cmdpb::Request {
            cmd_type: CmdType::Put as i32,
            put: Some(raft_cmdpb::PutRequest {
                cf: cf.to_string(),
                key,
                value,
            }),
            ..Default::default()
        },
        Modify::Delete(cf, key) => raft_cmdpb::Request {
            cmd_type: CmdType::Delete as i32,
            delete: Some(raft_cmdpb::DeleteRequest {
                cf: cf.to_string(),
                key,
            }),
            ..Default::default()
        },
        Modify::DeleteRange(cf, start_key, end_key) => raft_cmdpb::Request {
            cmd_type: CmdType::DeleteRange as i32,
            delete_range: Some(raft_cmdpb::DeleteRangeRequest {
                cf: cf.to_string(),
                start_key,
                end_key,
                notify_only: false,
            }),
            ..Default::default()
        },
    }
}

impl<K: KvEngine> Engine for RaftKv<K> {
    type Snap = DataSnapshot<K::Snap>;

    fn async_snapshot(
        &self,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Self::Snap>> + Send {
        let region_id = ctx.region_id;
        let checked = self.check_store(ctx);
        let req = ReadRequest {
            region_epoch: ctx.region_epoch,
            replica_read: ctx.replica_read,
        };
        let kv = self.kv.clone();
        let router = self.router.clone();
        async move {
            checked?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            router.read(
                region_id,
                req,
                Box::new(move |outcome: Result<CmdOutcome>| {
                    // Runs on the peer's thread when the read is confirmed.
                    let snapshot = outcome.map(|outcome| {
                        DataSnapshot::new(
                            Arc::new(kv.snapshot()),
                            outcome.region.start_key,
                            outcome.region.end_key,
                        )
                    });
                    let _ = tx.send(snapshot);
                }),
            )?;
            wait(region_id, rx).await
        }
    }

    fn async_write(
        &self,
        ctx: &RequestContext,
        modifies: Vec<Modify>,
    ) -> impl Future<Output = Result<()>> + Send {
        let region_id = ctx.region_id;
        let checked = self.check_store(ctx);
        let cmd = RaftCmdRequest {
            header: Some(RaftRequestHeader {
                region_id,
                peer: ctx.peer,
                region_epoch: ctx.region_epoch,
                ..Default::default()
            }),
            requests: modifies.into_iter().map(to_request).collect(),
            admin_request: None,
        };
        let router = self.router.clone();
        async move {
            checked?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            router.send_command(
                cmd,
                Box::new(move |outcome| {
                    let _ = tx.send(outcome.map(|_| ()));
                }),
            )?;
            wait(region_id, rx).await
        }
    }

    fn check_keys_in_region(&self, ctx: &RequestContext, keys: &[&[u8]]) -> Result<()> {
        self.check_store(ctx)?;
        let meta = self.meta.read();
        let region = meta
            .regions
            .get(&ctx.region_id)
            .ok_or_else(|| errors::region_not_found(ctx.region_id))?;
        for key in keys {
            let inside = *key >= region.start_key.as_slice()
                && (region.end_key.is_empty() || *key < region.end_key.as_slice());
            if !inside {
                return Err(errors::key_not_in_region(key, region));
            }
        }
        Ok(())
    }

    fn unsafe_destroy_range(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
    ) -> impl Future<Output = Result<()>> + Send {
        basalt_storage::kv::destroy_range(self.kv.clone(), start, end, true)
    }
}
