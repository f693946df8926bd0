//! Applying committed entries to the KV engine: writes in batches with the apply state, and
//! the admin commands (split, conf change, log compaction) that change the region.

use basalt_proto::metapb::{self, PeerRole};
use basalt_proto::raft_cmdpb::{AdminCmdType, CmdType, RaftCmdRequest};
use basalt_proto::raft_serverpb::PeerState;
use basalt_storage::engine::{KvEngine, Modify};
use basalt_storage::kv::data_key;
use basalt_storage::{Error, Result};
use prost::Message as _;
use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, ConfChangeV2, Entry, EntryType};

use crate::errors;
use crate::log_store::{LogBatch, RaftLogStore};
use crate::msg::CmdOutcome;
use crate::peer::Peer;
use crate::peer_storage::{apply_state_modify, region_state_modify};
use crate::snapshot::{data_range, DATA_CFS};
use crate::store::StoreContext;
use crate::transport::Transport;

/// The outcome of one applied entry, answered once its writes are durable.
type Answer = (u64, u64, Result<CmdOutcome>);

fn corrupted(what: String) -> Error {
    Error::Corrupted(what)
}

fn data_cf(name: &str) -> Result<&'static str> {
    let name = if name.is_empty() { "default" } else { name };
    DATA_CFS
        .iter()
        .copied()
        .find(|cf| *cf == name)
        .ok_or_else(|| Error::InvalidRequest(format!("unknown column family {name:?}")))
}

/// The body of `cmd`'s admin request that `pick` takes out; `what` names it in the error.
pub(crate) fn admin_body<T>(
    cmd: &RaftCmdRequest,
    what: &str,
    pick: impl FnOnce(&basalt_proto::raft_cmdpb::AdminRequest) -> Option<T>,
) -> Result<T> {
    cmd.admin_request
        .as_ref()
        .and_then(pick)
        .ok_or_else(|| corrupted(format!("{what} without a body")))
}

/// The engine writes of a data command, clipped to `region`.
fn command_modifies(cmd: &RaftCmdRequest, region: &metapb::Region) -> Result<Vec<Modify>> {
    let (lower, upper) = data_range(region);
    let mut out = Vec::with_capacity(cmd.requests.len());
    for request in &cmd.requests {
        match CmdType::try_from(request.cmd_type) {
            Ok(CmdType::Put) => {
                let put = request
                    .put
                    .as_ref()
                    .ok_or_else(|| corrupted("put without body".into()))?;
                out.push(Modify::Put(
                    data_cf(&put.cf)?,
                    data_key(&put.key),
                    put.value.clone(),
                ));
            }
            Ok(CmdType::Delete) => {
                let delete = request
                    .delete
                    .as_ref()
                    .ok_or_else(|| corrupted("delete without body".into()))?;
                out.push(Modify::Delete(data_cf(&delete.cf)?, data_key(&delete.key)));
            }
            Ok(CmdType::DeleteRange) => {
                let range = request
                    .delete_range
                    .as_ref()
                    .ok_or_else(|| corrupted("delete range without body".into()))?;
                let start = data_key(&range.start_key).max(lower.clone());
                let end = if range.end_key.is_empty() {
                    upper.clone()
                } else {
                    data_key(&range.end_key).min(upper.clone())
                };
                if start < end {
                    out.push(Modify::DeleteRange(data_cf(&range.cf)?, start, end));
                }
            }
            _ => {
                return Err(Error::InvalidRequest(format!(
                    "command type {} cannot be applied",
                    request.cmd_type
                )))
            }
        }
    }
    Ok(out)
}

impl<K: KvEngine, L: RaftLogStore> Peer<K, L> {
    /// Applies committed `entries`, then answers the proposals they settle.
    pub fn apply_entries<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        entries: Vec<Entry>,
    ) {
        if entries.is_empty() {
            return;
        }
        if let Some(paused) = self.paused_apply.as_mut() {
            // Order is kept: nothing applies past a CommitMerge still waiting for its source.
            paused.extend(entries);
            return;
        }
        let mut pending = Vec::new();
        let mut answers: Vec<Answer> = Vec::with_capacity(entries.len());
        let mut applied = (self.raft.store().applied_index(), 0);
        let mut entries = entries.into_iter();
        while let Some(entry) = entries.next() {
            if self.pending_destroy {
                break;
            }
            if entry.index <= applied.0 {
                continue;
            }
            let index = (entry.index, entry.term);
            let result = match entry.get_entry_type() {
                EntryType::EntryNormal => self.apply_normal(ctx, &entry, &mut pending, applied),
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    match self.flush(ctx, &mut pending, applied) {
                        Ok(()) => self.apply_conf_change(ctx, &entry),
                        Err(err) => Err(err),
                    }
                }
            };
            if self.merge_wait {
                self.merge_wait = false;
                let mut held = vec![entry];
                held.extend(entries);
                self.paused_apply = Some(held);
                break;
            }
            if let Err(Error::Engine(err)) = &result {
                tracing::error!(region_id = self.region_id(), index = entry.index, %err, "apply failed: the engine refused a write");
                break;
            }
            answers.push((index.0, index.1, result));
            applied = index;
        }
        if let Err(err) = self.flush(ctx, &mut pending, applied) {
            tracing::error!(region_id = self.region_id(), %err, "apply failed: the engine refused a write");
            return;
        }
        // Raft learns the applied index only here (the ready was advanced with
        // `advance_append`): a joint configuration is left once its entry is applied.
        self.raft.advance_apply_to(applied.0);
        self.answer(answers);
        self.serve_ready_reads();
    }

    /// Writes `pending` with the apply state at `applied`.
    fn flush<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        pending: &mut Vec<Modify>,
        applied: (u64, u64),
    ) -> Result<()> {
        let region_id = self.region_id();
        let storage = self.raft.mut_store();
        if pending.is_empty() && storage.apply_state.applied_index == applied.0 {
            return Ok(());
        }
        storage.apply_state.applied_index = applied.0;
        storage.apply_state.commit_index = applied.0;
        if applied.1 != 0 {
            storage.apply_state.commit_term = applied.1;
        }
        pending.push(apply_state_modify(region_id, &storage.apply_state));
        // The raft log is durable; a crash before this write replays the entries.
        let result = ctx.engines.kv.write(pending, false);
        pending.clear();
        result
    }

    fn answer(&mut self, answers: Vec<Answer>) {
        for (index, term, result) in answers {
            while let Some(front) = self.proposals.front() {
                if front.index > index {
                    break;
                }
                let Some(proposal) = self.proposals.pop_front() else {
                    break;
                };
                if proposal.index < index || proposal.term != term {
                    (proposal.cb)(Err(errors::stale_command(self.region_id())));
                } else {
                    (proposal.cb)(match &result {
                        Ok(outcome) => Ok(outcome.clone()),
                        Err(err) => Err(clone_error(err)),
                    });
                }
            }
        }
    }

    fn apply_normal<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        entry: &Entry,
        pending: &mut Vec<Modify>,
        applied: (u64, u64),
    ) -> Result<CmdOutcome> {
        if entry.data.is_empty() {
            // A new leader's empty entry, or a proposal raft replaced: nobody waits on it.
            return Err(errors::stale_command(self.region_id()));
        }
        let cmd = RaftCmdRequest::decode(entry.data.as_ref())
            .map_err(|err| corrupted(format!("raft entry {}: {err}", entry.index)))?;
        let kind = cmd
            .admin_request
            .as_ref()
            .map(|admin| AdminCmdType::try_from(admin.cmd_type).unwrap_or_default());
        if self.pending_merge.is_some() && kind != Some(AdminCmdType::RollbackMerge) {
            // The merge carries the log only up to the PrepareMerge: nothing after it may
            // change the data.
            return Err(errors::proposal_in_merging_mode(self.region_id()));
        }
        let asked = cmd.header.as_ref().and_then(|header| header.region_epoch);
        let current = self.region().region_epoch.unwrap_or_default();
        let conf = kind.is_some_and(crate::peer::checks_conf_ver);
        if asked.is_some_and(|asked| {
            asked.version != current.version || (conf && asked.conf_ver != current.conf_ver)
        }) {
            return Err(errors::epoch_not_match(
                format!(
                    "region {} changed before the command applied",
                    self.region_id()
                ),
                vec![self.region().clone()],
            ));
        }
        if let Some(admin) = &cmd.admin_request {
            self.flush(ctx, pending, applied)?;
            return match AdminCmdType::try_from(admin.cmd_type) {
                Ok(AdminCmdType::CompactLog) => self.apply_compact_log(ctx, &cmd, entry),
                Ok(AdminCmdType::BatchSplit) => self.apply_split(ctx, &cmd, entry),
                Ok(AdminCmdType::PrepareMerge) => self.apply_prepare_merge(ctx, &cmd, entry),
                Ok(AdminCmdType::CommitMerge) => self.apply_commit_merge(ctx, &cmd, entry),
                Ok(AdminCmdType::RollbackMerge) => self.apply_rollback_merge(ctx, &cmd, entry),
                _ => Err(Error::Unsupported(format!(
                    "admin command {} is not supported by this store",
                    admin.cmd_type
                ))),
            };
        }
        let modifies = command_modifies(&cmd, self.region())?;
        self.written_since_check += modifies.iter().map(Modify::size).sum::<usize>() as u64;
        if modifies
            .iter()
            .any(|modify| matches!(modify, Modify::DeleteRange(..)))
        {
            // The region may have shrunk a lot: measure it again (PD may merge it).
            self.approximate = None;
        }
        pending.extend(modifies);
        Ok(CmdOutcome {
            region: self.region().clone(),
        })
    }

    fn apply_compact_log<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        cmd: &RaftCmdRequest,
        entry: &Entry,
    ) -> Result<CmdOutcome> {
        let request = admin_body(cmd, "compact log", |admin| admin.compact_log)?;
        let region_id = self.region_id();
        let storage = self.raft.mut_store();
        if request.compact_index >= entry.index {
            return Err(Error::InvalidRequest(format!(
                "compact index {} is not below the command's own index {}",
                request.compact_index, entry.index
            )));
        }
        let mut batch = LogBatch::default();
        storage.compact_to(request.compact_index, request.compact_term, &mut batch);
        storage.apply_state.applied_index = entry.index;
        ctx.engines.kv.write(
            &[apply_state_modify(region_id, &storage.apply_state)],
            false,
        )?;
        ctx.engines.raft.write(batch)?;
        Ok(CmdOutcome {
            region: self.region().clone(),
        })
    }

    fn apply_split<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        cmd: &RaftCmdRequest,
        entry: &Entry,
    ) -> Result<CmdOutcome> {
        let splits = admin_body(cmd, "split", |admin| admin.splits.clone())?.requests;
        let region = self.region().clone();
        let invalid =
            |why: String| Error::InvalidRequest(format!("split of region {}: {why}", region.id));
        if splits.is_empty() {
            return Err(invalid("no split key".into()));
        }
        let mut previous = region.start_key.clone();
        for split in &splits {
            let inside = split.split_key > previous
                && (region.end_key.is_empty() || split.split_key < region.end_key);
            if !inside {
                return Err(invalid(format!(
                    "split key {:?} is out of order or range",
                    split.split_key
                )));
            }
            if split.new_peer_ids.len() != region.peers.len() {
                return Err(invalid("one new peer id per peer is needed".into()));
            }
            previous = split.split_key.clone();
        }
        let mut epoch = region.region_epoch.unwrap_or_default();
        epoch.version += splits.len() as u64;
        let mut derived = region.clone();
        derived.region_epoch = Some(epoch);
        derived.end_key = splits[0].split_key.clone();
        let mut new_regions = Vec::with_capacity(splits.len());
        for (i, split) in splits.iter().enumerate() {
            let mut new_region = region.clone();
            new_region.id = split.new_region_id;
            new_region.region_epoch = Some(epoch);
            new_region.start_key = split.split_key.clone();
            new_region.end_key = splits
                .get(i + 1)
                .map_or_else(|| region.end_key.clone(), |next| next.split_key.clone());
            for (peer, id) in new_region.peers.iter_mut().zip(&split.new_peer_ids) {
                peer.id = *id;
            }
            new_regions.push(new_region);
        }
        // New regions whose peer here already got data from elsewhere keep it.
        let fresh: Vec<metapb::Region> = new_regions
            .iter()
            .filter(|new_region| !ctx.has_initialized(new_region.id))
            .cloned()
            .collect();
        ctx.write_initial_states(&fresh)?;
        self.raft.mut_store().region = derived.clone();
        let storage = self.raft.mut_store();
        storage.apply_state.applied_index = entry.index;
        let mut modifies = vec![
            region_state_modify(&derived, PeerState::Normal),
            apply_state_modify(derived.id, &storage.apply_state),
        ];
        modifies.extend(
            fresh
                .iter()
                .map(|r| region_state_modify(r, PeerState::Normal)),
        );
        ctx.engines.kv.write(&modifies, true)?;
        ctx.update_region(&derived);
        self.written_since_check = 0;
        ctx.create_split_peers(fresh, self.is_leader());
        tracing::info!(
            region_id = derived.id,
            new_regions = ?new_regions.iter().map(|r| r.id).collect::<Vec<_>>(),
            "region split"
        );
        let mut all = vec![derived];
        all.extend(new_regions);
        ctx.report_split(all);
        Ok(CmdOutcome {
            region: self.region().clone(),
        })
    }

    fn apply_conf_change<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        entry: &Entry,
    ) -> Result<CmdOutcome> {
        let cc: ConfChangeV2 = if entry.get_entry_type() == EntryType::EntryConfChange {
            let mut v1 = ConfChange::parse_from_bytes(&entry.data)
                .map_err(|err| corrupted(format!("conf change {}: {err}", entry.index)))?;
            let single = raft::eraftpb::ConfChangeSingle {
                change_type: v1.change_type,
                node_id: v1.node_id,
                ..Default::default()
            };
            let mut v2 = ConfChangeV2::default();
            v2.changes.push(single);
            v2.context = std::mem::take(&mut v1.context);
            v2
        } else {
            ConfChangeV2::parse_from_bytes(&entry.data)
                .map_err(|err| corrupted(format!("conf change {}: {err}", entry.index)))?
        };
        let mut region = self.region().clone();
        let mut epoch = region.region_epoch.unwrap_or_default();
        if cc.context.is_empty() {
            // Leaving a joint configuration (raft-rs proposes it on its own).
            for peer in &mut region.peers {
                match PeerRole::try_from(peer.role) {
                    Ok(PeerRole::IncomingVoter) => peer.role = PeerRole::Voter as i32,
                    Ok(PeerRole::DemotingVoter) => peer.role = PeerRole::Learner as i32,
                    _ => {}
                }
            }
            epoch.conf_ver += 1;
        } else {
            let cmd = RaftCmdRequest::decode(cc.context.as_ref())
                .map_err(|err| corrupted(format!("conf change {} context: {err}", entry.index)))?;
            let asked = cmd.header.as_ref().and_then(|header| header.region_epoch);
            if asked.is_some_and(|asked| asked.conf_ver != epoch.conf_ver) {
                return Err(errors::epoch_not_match(
                    format!(
                        "region {} changed before the conf change applied",
                        region.id
                    ),
                    vec![region.clone()],
                ));
            }
            let admin = cmd.admin_request.unwrap_or_default();
            let changes = match (admin.change_peer, admin.change_peer_v2) {
                (_, Some(v2)) if !v2.changes.is_empty() => v2.changes,
                (Some(single), _) => vec![single],
                _ => return Err(corrupted("conf change without changes".into())),
            };
            let joint = changes.len() > 1;
            for change in &changes {
                let peer = change.peer.unwrap_or_default();
                let existing = region.peers.iter().position(|p| p.id == peer.id);
                match (
                    basalt_proto::eraftpb::ConfChangeType::try_from(change.change_type),
                    existing,
                ) {
                    (Ok(basalt_proto::eraftpb::ConfChangeType::AddNode), Some(at)) => {
                        region.peers[at].role = if joint {
                            PeerRole::IncomingVoter
                        } else {
                            PeerRole::Voter
                        } as i32;
                    }
                    (Ok(basalt_proto::eraftpb::ConfChangeType::AddNode), None) => {
                        region.peers.push(metapb::Peer {
                            role: if joint {
                                PeerRole::IncomingVoter
                            } else {
                                PeerRole::Voter
                            } as i32,
                            ..peer
                        });
                    }
                    (Ok(basalt_proto::eraftpb::ConfChangeType::AddLearnerNode), Some(at)) => {
                        region.peers[at].role = if joint {
                            PeerRole::DemotingVoter
                        } else {
                            PeerRole::Learner
                        } as i32;
                    }
                    (Ok(basalt_proto::eraftpb::ConfChangeType::AddLearnerNode), None) => {
                        region.peers.push(metapb::Peer {
                            role: PeerRole::Learner as i32,
                            ..peer
                        });
                    }
                    (Ok(basalt_proto::eraftpb::ConfChangeType::RemoveNode), Some(at)) => {
                        region.peers.remove(at);
                    }
                    (Ok(basalt_proto::eraftpb::ConfChangeType::RemoveNode), None) => {}
                    (Err(_), _) => {
                        return Err(corrupted(format!("change type {}", change.change_type)))
                    }
                }
                self.peer_cache.insert(peer.id, peer);
            }
            epoch.conf_ver += changes.len() as u64;
        }
        region.region_epoch = Some(epoch);
        // Raft's configuration changes exactly when the region's does.
        let mut raft_cc = cc.clone();
        for change in raft_cc.changes.iter_mut() {
            if change.change_type == ConfChangeType::RemoveNode && change.node_id == self.meta.id {
                self.pending_destroy = true;
            }
        }
        raft_cc.context = Default::default();
        self.raft
            .apply_conf_change(&raft_cc)
            .map_err(|err| Error::Engine(format!("raft refused a committed conf change: {err}")))?;
        let storage = self.raft.mut_store();
        storage.region = region.clone();
        storage.apply_state.applied_index = entry.index;
        storage.apply_state.commit_term = entry.term;
        let modifies = [
            region_state_modify(&region, PeerState::Normal),
            apply_state_modify(region.id, &storage.apply_state),
        ];
        ctx.engines.kv.write(&modifies, true)?;
        if !region.peers.iter().any(|peer| peer.id == self.meta.id) {
            self.pending_destroy = true;
        }
        ctx.update_region(&region);
        if self.is_leader() {
            // PD's operators wait for the region's new shape before their next step.
            ctx.heartbeat_pd(self);
        }
        tracing::info!(region_id = region.id, conf_ver = epoch.conf_ver, peers = ?region.peers.iter().map(|p| (p.id, p.store_id, p.role)).collect::<Vec<_>>(), "conf change applied");
        Ok(CmdOutcome { region })
    }
}

/// A copy of `err` for a second waiter (errors are not `Clone`).
fn clone_error(err: &Error) -> Error {
    match err {
        Error::Region(region) => Error::Region(region.clone()),
        other => Error::Engine(other.to_string()),
    }
}
