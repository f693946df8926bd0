//! Region merge, in three commands:
//!
//! 1. `PrepareMerge` on the source region (asked by PD through the source's leader): the source
//!    bumps its epoch, records where its log stops (`MergeState.commit`, the PrepareMerge's own
//!    index) and takes no more reads or writes.
//! 2. Every peer of the source then offers `CommitMerge` (the source region, `commit`, and the
//!    source log from `min_index` to `commit`) to the target's peer on the same store; the one
//!    offered to the target's leader is proposed. Each target peer applies it only once the
//!    source peer on its store has applied the source log up to `commit` (apply pauses until
//!    then, and hands the carried entries to a lagging source peer), then extends its range over
//!    the source's and writes the source's tombstone in the same batch. The source peer goes
//!    away leaving its data, which now belongs to the target.
//! 3. `RollbackMerge` on the source, proposed by its leader when the target changed (split, conf
//!    change) before the merge committed: the source serves again, with a newer epoch.
//!
//! PD only merges regions whose peers sit on the same stores, so each store hosting a target
//! peer also hosts the source peer the target waits for.

use basalt_proto::metapb;
use basalt_proto::raft_cmdpb::{
    AdminCmdType, CommitMergeRequest, PrepareMergeRequest, RaftCmdRequest, RollbackMergeRequest,
};
use basalt_proto::raft_serverpb::{MergeState, PeerState, RegionLocalState};
use basalt_storage::engine::{KvEngine, Modify};
use basalt_storage::{Error, Result};
use prost::Message as _;
use raft::eraftpb::{Entry, EntryType};
use raft::GetEntriesContext;

use crate::apply::admin_body;
use crate::convert;
use crate::errors;
use crate::keys;
use crate::log_store::RaftLogStore;
use crate::msg::{CmdOutcome, PeerMsg};
use crate::peer::{Peer, MAX_ENTRY_BYTES};
use crate::peer_storage::{apply_state_modify, merge_state_modify, read_record};
use crate::store::StoreContext;
use crate::transport::Transport;

fn invalid(why: String) -> Error {
    Error::InvalidRequest(why)
}

/// Whether `a` and `b` touch end to start, in either order.
fn adjacent(a: &metapb::Region, b: &metapb::Region) -> bool {
    (!a.end_key.is_empty() && a.end_key == b.start_key)
        || (!b.end_key.is_empty() && b.end_key == a.start_key)
}

fn stores(region: &metapb::Region) -> Vec<u64> {
    let mut out: Vec<u64> = region.peers.iter().map(|peer| peer.store_id).collect();
    out.sort_unstable();
    out
}

impl<K: KvEngine, L: RaftLogStore> Peer<K, L> {
    /// Whether the region is merging (or this leader proposed a PrepareMerge not yet applied):
    /// it takes nothing but a RollbackMerge.
    pub fn is_merging(&self) -> bool {
        self.pending_merge.is_some() || self.prepare_merge_fence > self.raft.store().applied_index()
    }

    /// Checks that this leader's region may start merging into the request's target and fills
    /// in `min_index`: every peer must hold the log from there, and the entries from there on
    /// must be plain writes few and small enough to travel inside the CommitMerge.
    pub(crate) fn fill_prepare_merge<T: Transport>(
        &self,
        ctx: &StoreContext<K, L, T>,
        cmd: &mut RaftCmdRequest,
    ) -> Result<()> {
        let region_id = self.region_id();
        let request = cmd
            .admin_request
            .as_mut()
            .and_then(|admin| admin.prepare_merge.as_mut())
            .ok_or_else(|| invalid("a PrepareMerge without a body".into()))?;
        let target = request
            .target
            .as_ref()
            .ok_or_else(|| invalid("a PrepareMerge without a target".into()))?;
        if target.id == region_id || !adjacent(self.region(), target) {
            return Err(invalid(format!(
                "region {} is not adjacent to region {region_id}",
                target.id
            )));
        }
        if stores(target) != stores(self.region()) {
            return Err(invalid(format!(
                "regions {region_id} and {} have peers on different stores",
                target.id
            )));
        }
        if self.raft.raft.pending_conf_index > self.raft.store().applied_index()
            || crate::peer::in_joint_state(self.region())
        {
            return Err(invalid(format!(
                "region {region_id} has a conf change in progress"
            )));
        }
        let log = &self.raft.raft.raft_log;
        let last = log.last_index();
        let min_matched = self.slowest_match().unwrap_or(last);
        if last - min_matched > ctx.config.merge_max_log_gap {
            return Err(invalid(format!(
                "a peer of region {region_id} is {} entries behind",
                last - min_matched
            )));
        }
        let min_index = min_matched + 1;
        if min_index < self.raft.store().first_index() {
            return Err(invalid(format!(
                "a peer of region {region_id} needs a snapshot first"
            )));
        }
        if min_index <= last {
            let entries = log
                .entries(min_index, None, GetEntriesContext::empty(false))
                .map_err(|err| Error::Engine(format!("reading the raft log: {err}")))?;
            check_mergeable_tail(region_id, &entries)?;
        }
        request.min_index = min_index;
        Ok(())
    }

    pub(crate) fn apply_prepare_merge<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        cmd: &RaftCmdRequest,
        entry: &Entry,
    ) -> Result<CmdOutcome> {
        let PrepareMergeRequest { min_index, target } =
            admin_body(cmd, "prepare merge", |admin| admin.prepare_merge.clone())?;
        let target = target.ok_or_else(|| invalid("a PrepareMerge without a target".into()))?;
        let mut region = self.region().clone();
        let mut epoch = region.region_epoch.unwrap_or_default();
        epoch.version += 1;
        epoch.conf_ver += 1;
        region.region_epoch = Some(epoch);
        let state = MergeState {
            min_index,
            target: Some(target),
            commit: entry.index,
        };
        self.record_region(
            ctx,
            &region,
            (PeerState::Merging, Some(&state)),
            Vec::new(),
            entry,
        )?;
        ctx.update_region(&region);
        self.pending_merge = Some(state);
        tracing::info!(
            region_id = region.id,
            commit = entry.index,
            "merge prepared"
        );
        self.on_check_merge(ctx);
        Ok(CmdOutcome { region })
    }

    pub(crate) fn apply_rollback_merge<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        cmd: &RaftCmdRequest,
        entry: &Entry,
    ) -> Result<CmdOutcome> {
        let RollbackMergeRequest { commit } =
            admin_body(cmd, "rollback merge", |admin| admin.rollback_merge)?;
        if self.pending_merge.as_ref().map(|state| state.commit) != Some(commit) {
            return Err(invalid(format!(
                "region {} has no merge prepared at {commit}",
                self.region_id()
            )));
        }
        let mut region = self.region().clone();
        let mut epoch = region.region_epoch.unwrap_or_default();
        epoch.version += 1;
        region.region_epoch = Some(epoch);
        self.record_region(ctx, &region, (PeerState::Normal, None), Vec::new(), entry)?;
        ctx.update_region(&region);
        self.pending_merge = None;
        self.prepare_merge_fence = 0;
        tracing::info!(region_id = region.id, "merge rolled back");
        Ok(CmdOutcome { region })
    }

    pub(crate) fn apply_commit_merge<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        cmd: &RaftCmdRequest,
        entry: &Entry,
    ) -> Result<CmdOutcome> {
        let request = admin_body(cmd, "commit merge", |admin| admin.commit_merge.clone())?;
        let source = request
            .source
            .clone()
            .ok_or_else(|| invalid("a CommitMerge without a source".into()))?;
        let region = self.region().clone();
        if source.id == region.id || !adjacent(&source, &region) {
            return Err(invalid(format!(
                "region {} cannot merge into region {}: not adjacent",
                source.id, region.id
            )));
        }
        if stores(&source) != stores(&region) {
            return Err(invalid(format!(
                "regions {} and {} have peers on different stores",
                source.id, region.id
            )));
        }
        if !self.merge_source_ready(ctx, source.id, request.commit)? {
            // Apply pauses here; the source peer gets the log it may lack.
            let _ = ctx
                .router
                .send(source.id, PeerMsg::CatchUpLogs(Box::new(request)));
            self.merge_wait = true;
            return Err(errors::proposal_in_merging_mode(source.id));
        }
        let mut merged = region.clone();
        if source.end_key == region.start_key && !source.end_key.is_empty() {
            merged.start_key = source.start_key.clone();
        } else {
            merged.end_key = source.end_key.clone();
        }
        let source_epoch = source.region_epoch.unwrap_or_default();
        let mut epoch = region.region_epoch.unwrap_or_default();
        epoch.version = epoch.version.max(source_epoch.version) + 1;
        merged.region_epoch = Some(epoch);
        let source_state = MergeState {
            target: Some(merged.clone()),
            commit: request.commit,
            ..Default::default()
        };
        let source_tombstone =
            merge_state_modify(&source, PeerState::Tombstone, Some(&source_state));
        self.record_region(
            ctx,
            &merged,
            (PeerState::Normal, None),
            vec![source_tombstone],
            entry,
        )?;
        ctx.merge_regions(&merged, source.id);
        ctx.retire_merged_source(source.id, merged.id);
        // The merged region is measured again before PD considers it.
        self.approximate = None;
        tracing::info!(
            region_id = merged.id,
            source_id = source.id,
            version = epoch.version,
            "regions merged"
        );
        Ok(CmdOutcome { region: merged })
    }

    /// Whether the source peer here applied its log up to the PrepareMerge at `commit` (or
    /// was already merged into this region, when a crash replays the CommitMerge).
    fn merge_source_ready<T: Transport>(
        &self,
        ctx: &StoreContext<K, L, T>,
        source_id: u64,
        commit: u64,
    ) -> Result<bool> {
        let state: Option<RegionLocalState> = read_record(
            &ctx.engines.kv,
            &keys::region_state_key(source_id),
            "region state",
        )?;
        let Some(state) = state else {
            return Ok(false);
        };
        let merge = state.merge_state.unwrap_or_default();
        Ok(
            (state.state == PeerState::Merging as i32 && merge.commit == commit)
                || (state.state == PeerState::Tombstone as i32
                    && merge.target.map(|target| target.id) == Some(self.region_id())),
        )
    }

    /// Records `region`'s new shape at `entry`: its state, its apply state and `extra` in one
    /// write. The caller updates the store's region map.
    fn record_region<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        region: &metapb::Region,
        (state, merge): (PeerState, Option<&MergeState>),
        mut extra: Vec<Modify>,
        entry: &Entry,
    ) -> Result<()> {
        let storage = self.raft.mut_store();
        storage.apply_state.applied_index = entry.index;
        storage.apply_state.commit_index = entry.index;
        storage.apply_state.commit_term = entry.term;
        extra.push(merge_state_modify(region, state, merge));
        extra.push(apply_state_modify(region.id, &storage.apply_state));
        ctx.engines.kv.write(&extra, true)?;
        self.raft.mut_store().region = region.clone();
        if self.is_leader() {
            ctx.heartbeat_pd(self);
        }
        Ok(())
    }

    /// A merging source's periodic step: go away if the target merged it already, roll back
    /// (as leader) if the target changed since the merge was prepared, else offer the
    /// CommitMerge to the target's peer on this store.
    pub(crate) fn on_check_merge<T: Transport>(&mut self, ctx: &StoreContext<K, L, T>) {
        let Some(state) = self.pending_merge.clone() else {
            return;
        };
        let region_id = self.region_id();
        let own: Option<RegionLocalState> = read_record(
            &ctx.engines.kv,
            &keys::region_state_key(region_id),
            "region state",
        )
        .ok()
        .flatten();
        if own.is_some_and(|own| own.state == PeerState::Tombstone as i32) {
            self.merged = true;
            self.pending_destroy = true;
            return;
        }
        let expected = state.target.clone().unwrap_or_default();
        let Some(local) = ctx.meta.read().regions.get(&expected.id).cloned() else {
            return; // The target's peer here is not initialized yet.
        };
        let want = expected.region_epoch.unwrap_or_default();
        let have = local.region_epoch.unwrap_or_default();
        if have.version > want.version || have.conf_ver > want.conf_ver {
            if self.is_leader() {
                self.propose_rollback_merge(ctx, state.commit);
            }
            return;
        }
        if have != want {
            return; // The target's peer here lags: wait for it.
        }
        match self.commit_merge_command(&state, &local) {
            Ok(cmd) => {
                let _ = ctx.router.send(
                    expected.id,
                    PeerMsg::Command {
                        cmd: Box::new(cmd),
                        cb: Box::new(move |outcome| {
                            if let Err(err) = outcome {
                                tracing::debug!(region_id, %err, "CommitMerge not accepted");
                            }
                        }),
                    },
                );
            }
            Err(err) => tracing::warn!(region_id, %err, "building the CommitMerge failed"),
        }
    }

    fn commit_merge_command(
        &self,
        state: &MergeState,
        target: &metapb::Region,
    ) -> Result<RaftCmdRequest> {
        let store = self.raft.store();
        let low = state.min_index.max(store.first_index());
        let entries = if low <= state.commit {
            raft::Storage::entries(
                store,
                low,
                state.commit + 1,
                None,
                GetEntriesContext::empty(false),
            )
            .map_err(|err| Error::Engine(format!("reading the raft log: {err}")))?
        } else {
            Vec::new()
        };
        let entries = entries
            .iter()
            .map(convert::entry_to_wire)
            .collect::<Result<Vec<_>>>()?;
        let peer = target
            .peers
            .iter()
            .find(|peer| peer.store_id == self.meta.store_id)
            .copied();
        Ok(RaftCmdRequest {
            header: Some(basalt_proto::raft_cmdpb::RaftRequestHeader {
                region_id: target.id,
                peer,
                region_epoch: target.region_epoch,
                ..Default::default()
            }),
            admin_request: Some(basalt_proto::raft_cmdpb::AdminRequest {
                cmd_type: AdminCmdType::CommitMerge as i32,
                commit_merge: Some(CommitMergeRequest {
                    source: Some(self.region().clone()),
                    commit: state.commit,
                    entries,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn propose_rollback_merge<T: Transport>(&mut self, ctx: &StoreContext<K, L, T>, commit: u64) {
        if !self.proposals.is_empty() {
            // While merging only a rollback is proposed: one is in flight already.
            return;
        }
        let mut cmd = self.admin_cmd(AdminCmdType::RollbackMerge);
        if let Some(admin) = cmd.admin_request.as_mut() {
            admin.rollback_merge = Some(RollbackMergeRequest { commit });
        }
        let region_id = self.region_id();
        tracing::info!(
            region_id,
            "the merge target changed: rolling the merge back"
        );
        self.propose(
            ctx,
            cmd,
            Box::new(move |outcome| {
                if let Err(err) = outcome {
                    tracing::debug!(region_id, %err, "RollbackMerge not applied");
                }
            }),
        );
    }

    /// A merge target waits for this source peer: if its log lacks entries up to the
    /// PrepareMerge, take them from the CommitMerge (they are committed) and let apply reach it.
    pub(crate) fn on_catch_up_logs(&mut self, request: CommitMergeRequest) {
        if self.pending_merge.is_some() || !self.raft.store().is_initialized() || self.is_leader() {
            return;
        }
        let region_id = self.region_id();
        let log = &mut self.raft.raft.raft_log;
        if log.committed >= request.commit {
            return; // Apply gets there on its own.
        }
        let mut entries = Vec::with_capacity(request.entries.len());
        for wire in &request.entries {
            match convert::entry_from_wire(wire) {
                Ok(entry) if entry.index > log.committed => entries.push(entry),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(region_id, %err, "a CommitMerge carries a malformed entry");
                    return;
                }
            }
        }
        let Some(first) = entries.first() else {
            return;
        };
        let contiguous = entries
            .windows(2)
            .all(|pair| pair[1].index == pair[0].index + 1);
        let previous = first.index - 1;
        let last = entries.last().map_or(0, |entry| entry.index);
        let Ok(term) = log.term(previous) else {
            tracing::warn!(
                region_id,
                previous,
                "the merge entries do not connect to this peer's log"
            );
            return;
        };
        if !contiguous || last < request.commit || previous > log.last_index() {
            return;
        }
        log.maybe_append(previous, term, request.commit, &entries);
        tracing::info!(
            region_id,
            commit = request.commit,
            "took the source log from a CommitMerge"
        );
    }

    /// Tries again to apply entries held back for a merge.
    pub(crate) fn resume_apply<T: Transport>(&mut self, ctx: &StoreContext<K, L, T>) {
        if let Some(entries) = self.paused_apply.take() {
            self.apply_entries(ctx, entries);
        }
    }
}

/// Refuses a PrepareMerge when the log after `min_index` holds anything but plain writes and
/// log compactions, or more bytes than a CommitMerge may carry.
fn check_mergeable_tail(region_id: u64, entries: &[Entry]) -> Result<()> {
    let mut bytes = 0usize;
    for entry in entries {
        bytes += entry.data.len();
        if entry.get_entry_type() != EntryType::EntryNormal {
            return Err(invalid(format!(
                "region {region_id} has a conf change in its recent log"
            )));
        }
        if entry.data.is_empty() {
            continue;
        }
        let cmd = RaftCmdRequest::decode(entry.data.as_ref())
            .map_err(|err| Error::Corrupted(format!("raft entry {}: {err}", entry.index)))?;
        let admin = cmd
            .admin_request
            .map(|admin| AdminCmdType::try_from(admin.cmd_type).unwrap_or_default());
        if admin.is_some_and(|kind| kind != AdminCmdType::CompactLog) {
            return Err(invalid(format!(
                "region {region_id} has an admin command in its recent log"
            )));
        }
    }
    if bytes > MAX_ENTRY_BYTES / 2 {
        return Err(invalid(format!(
            "region {region_id}'s recent log is too large to merge"
        )));
    }
    Ok(())
}
