//! The two ways a store carries out `SplitRegion` (see `service::split` for what is checked
//! and answered): [`LocalSplitter`] on a single-node store, whose regions live in its
//! `LocalEngine`, and [`RaftSplitter`] on a store of a cluster, where the region's leader
//! proposes a raft `BatchSplit`. Both take the new region and peer ids from PD.

use std::sync::Arc;
use std::time::Duration;

use basalt_proto::metapb;
use basalt_proto::raft_cmdpb::{
    AdminCmdType, AdminRequest, BatchSplitRequest, RaftCmdRequest, RaftRequestHeader, SplitRequest,
};
use basalt_raftstore::errors::{region_not_found, stale_command};
use basalt_raftstore::msg::CmdOutcome;
use basalt_raftstore::pd::PdClient;
use basalt_raftstore::{RaftKv, StoreMeta};
use basalt_storage::engine::KvEngine;
use basalt_storage::{Engine, LocalEngine, RequestContext};
use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::node::PdConnection;
use crate::raft_pd::RaftPd;
use crate::service::split::{check_split_keys, RegionSplitter};

/// How long a split may take to be applied before the request gives up with `StaleCommand`.
const SPLIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a single-node split waits for PD to learn the new regions' leader.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(10);

/// Splits the regions of a single-node store.
pub(crate) struct LocalSplitter<K: KvEngine> {
    local: LocalEngine<K>,
    store_id: u64,
    /// Held for a whole split, so that splits run one at a time.
    pd: tokio::sync::Mutex<PdConnection>,
}

impl<K: KvEngine> LocalSplitter<K> {
    /// Splits the regions of `local`, on store `store_id`, with ids from `pd`.
    pub(crate) fn new(local: LocalEngine<K>, store_id: u64, pd: PdConnection) -> Self {
        LocalSplitter {
            local,
            store_id,
            pd: tokio::sync::Mutex::new(pd),
        }
    }
}

#[tonic::async_trait]
impl<K: KvEngine> RegionSplitter for LocalSplitter<K> {
    async fn split_region(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<metapb::Region>> {
        let mut pd = self.pd.lock().await;
        // The region is here, the request is for this store, and its epoch is current.
        self.local.check_keys_in_region(ctx, &[])?;
        let region = self
            .local
            .regions()
            .into_iter()
            .find(|region| region.id == ctx.region_id)
            .ok_or_else(|| region_not_found(ctx.region_id))?;
        let keys = check_split_keys(&region, ctx.region_epoch.as_ref(), keys)?;
        let regions = pd.split_local(&self.local, &region, &keys).await?;
        // Clients route by the leader PD knows: tell it before answering, as at start-up.
        if let Err(err) = pd
            .announce_leaders(self.store_id, &regions, ANNOUNCE_TIMEOUT)
            .await
        {
            tracing::warn!(%err, region_id = region.id, "PD did not learn the split regions' leader");
        }
        Ok(regions)
    }
}

/// Splits regions whose peer here leads them, through raft.
#[derive(Clone)]
pub(crate) struct RaftSplitter<K: KvEngine> {
    kv: RaftKv<K>,
    meta: Arc<RwLock<StoreMeta>>,
    pd: Arc<RaftPd>,
}

impl<K: KvEngine> RaftSplitter<K> {
    /// Proposes splits through `kv`'s router, finding regions in `meta` and ids from `pd`.
    pub(crate) fn new(kv: RaftKv<K>, meta: Arc<RwLock<StoreMeta>>, pd: Arc<RaftPd>) -> Self {
        RaftSplitter { kv, meta, pd }
    }

    fn hosted(&self, region_id: u64) -> Result<metapb::Region> {
        let region = self.meta.read().regions.get(&region_id).cloned();
        region.ok_or_else(|| region_not_found(region_id).into())
    }

    /// Proposes `cmd` and waits until it is applied here, or refused.
    async fn propose(&self, cmd: RaftCmdRequest) -> Result<CmdOutcome> {
        let region_id = cmd.header.as_ref().map_or(0, |header| header.region_id);
        let (sender, outcome) = tokio::sync::oneshot::channel();
        self.kv.router().send_command(
            cmd,
            Box::new(move |result| {
                let _ = sender.send(result);
            }),
        )?;
        let outcome = match tokio::time::timeout(SPLIT_TIMEOUT, outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_dropped)) => Err(region_not_found(region_id)),
            Err(_elapsed) => Err(stale_command(region_id)),
        };
        Ok(outcome?)
    }
}

#[tonic::async_trait]
impl<K: KvEngine> RegionSplitter for RaftSplitter<K> {
    /// Proposes the split at the epoch `ctx` names and answers once it is applied here.
    async fn split_region(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<metapb::Region>> {
        // The region is here and the request is for this store; raft checks the leader.
        self.kv.check_keys_in_region(ctx, &[])?;
        let region = self.hosted(ctx.region_id)?;
        let keys = check_split_keys(&region, ctx.region_epoch.as_ref(), keys)?;
        let ids = self.pd.ask_batch_split(region.clone(), keys.len()).await?;
        if ids.len() != keys.len() {
            return Err(Error::Pd(format!(
                "AskBatchSplit answered {} ids for {} keys",
                ids.len(),
                keys.len()
            )));
        }
        let new_region_ids: Vec<u64> = ids.iter().map(|(id, _)| *id).collect();
        let splits = keys
            .into_iter()
            .zip(ids)
            .map(|(split_key, (new_region_id, new_peer_ids))| SplitRequest {
                split_key,
                new_region_id,
                new_peer_ids,
                ..Default::default()
            })
            .collect();
        let derived = self.propose(batch_split(ctx, splits)).await?.region;
        let mut regions = vec![derived];
        for id in new_region_ids {
            regions.push(self.hosted(id)?);
        }
        regions.sort_by(|a, b| a.start_key.cmp(&b.start_key));
        Ok(regions)
    }
}

/// The raft command splitting the region of `ctx` (at the epoch it names) with `splits`.
fn batch_split(ctx: &RequestContext, splits: Vec<SplitRequest>) -> RaftCmdRequest {
    RaftCmdRequest {
        header: Some(RaftRequestHeader {
            region_id: ctx.region_id,
            peer: ctx.peer,
            region_epoch: Some(ctx.region_epoch.unwrap_or_default()),
            ..Default::default()
        }),
        admin_request: Some(AdminRequest {
            cmd_type: AdminCmdType::BatchSplit as i32,
            splits: Some(BatchSplitRequest {
                requests: splits,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
