//! The ready cycle of a peer, in two halves around the one log write a poll round makes for
//! all its peers: `collect_ready` sends what may go before persistence, installs a snapshot and
//! stages the new entries; `finish_ready` sends what had to wait, then applies what is
//! committed and answers reads.

use basalt_proto::raft_serverpb::RaftMessage;
use basalt_storage::engine::KvEngine;
use raft::eraftpb::Entry;
use raft::Ready;

use crate::convert;
use crate::log_store::{LogBatch, RaftLogStore};
use crate::peer::Peer;
use crate::store::StoreContext;
use crate::transport::Transport;

/// A ready waiting for its log write.
pub struct Staged {
    ready: Ready,
    committed: Vec<Entry>,
}

impl<K: KvEngine, L: RaftLogStore> Peer<K, L> {
    /// First half: everything up to staging the log writes in `batch`.
    pub fn collect_ready<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        batch: &mut LogBatch,
    ) -> Option<Staged> {
        if !self.raft.has_ready() {
            return None;
        }
        let mut ready = self.raft.ready();
        if let Some(soft) = ready.ss() {
            self.on_role_change(soft.raft_state);
            if soft.raft_state == raft::StateRole::Leader {
                // PD routes clients by the leader it knows: tell it at once.
                ctx.heartbeat_pd(self);
            }
        }
        self.send(ctx, ready.take_messages());
        if !ready.snapshot().is_empty() {
            match self.raft.mut_store().apply_snapshot(ready.snapshot()) {
                Ok(region) => {
                    for peer in &region.peers {
                        self.peer_cache.insert(peer.id, *peer);
                    }
                    ctx.update_region(&region);
                    tracing::info!(
                        region_id = region.id,
                        peer_id = self.meta.id,
                        store_id = self.meta.store_id,
                        index = ready.snapshot().get_metadata().index,
                        "snapshot applied"
                    );
                }
                Err(err) => {
                    tracing::error!(region_id = self.region_id(), %err, "applying a snapshot failed");
                }
            }
        }
        let committed = ready.take_committed_entries();
        if let Err(err) = self
            .raft
            .mut_store()
            .append(ready.entries(), ready.hs(), batch)
        {
            tracing::error!(region_id = self.region_id(), %err, "staging raft entries failed");
        }
        if ready.must_sync() {
            batch.sync = true;
        }
        Some(Staged { ready, committed })
    }

    /// Second half, once the log write is durable.
    pub fn finish_ready<T: Transport>(&mut self, ctx: &StoreContext<K, L, T>, staged: Staged) {
        let Staged {
            mut ready,
            mut committed,
        } = staged;
        self.send(ctx, ready.take_persisted_messages());
        let read_states = ready.take_read_states();
        let mut light = self.raft.advance_append(ready);
        self.send(ctx, light.take_messages());
        committed.extend(light.take_committed_entries());
        self.apply_entries(ctx, committed);
        self.on_read_states(read_states, ctx.config.max_lease());
    }

    /// Hands raft-rs messages to the transport, addressed with the peers this peer knows.
    pub fn send<T: Transport>(
        &mut self,
        ctx: &StoreContext<K, L, T>,
        messages: Vec<raft::eraftpb::Message>,
    ) {
        for message in messages {
            let Some(to) = self.peer_cache.get(&message.to).copied() else {
                tracing::debug!(
                    region_id = self.region_id(),
                    to = message.to,
                    "no address for a raft message"
                );
                continue;
            };
            let wire = match convert::message_to_wire(&message) {
                Ok(wire) => wire,
                Err(err) => {
                    tracing::error!(%err, "dropping a raft message");
                    continue;
                }
            };
            let region = self.region();
            ctx.transport.send(RaftMessage {
                region_id: region.id,
                from_peer: Some(self.meta),
                to_peer: Some(to),
                message: Some(wire),
                region_epoch: region.region_epoch,
                start_key: region.start_key.clone(),
                end_key: region.end_key.clone(),
                ..Default::default()
            });
        }
    }
}
