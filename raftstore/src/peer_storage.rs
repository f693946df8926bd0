//! A peer's view of its raft log and applied state, as raft-rs's `Storage`. The raft state
//! (hard state, last index) lives in the log store; the apply state (applied index, truncated
//! log) and the region state live in the KV engine, written in the same batch as the data they
//! describe, so a crash never separates the data from the index it was applied at.

use basalt_proto::eraftpb as wire;
use basalt_proto::metapb::{self, PeerRole};
use basalt_proto::raft_serverpb::{
    MergeState, PeerState, RaftApplyState, RaftLocalState, RaftTruncatedState, RegionLocalState,
};
use basalt_storage::engine::{KvEngine, Modify, CF_RAFT};
use basalt_storage::{Error, Result};
use prost::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot as RaftSnapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::keys;
use crate::log_store::{LogBatch, RaftLogStore};
use crate::snapshot;

/// Term and index of the first entry of a region created by bootstrap or split, as TiKV does:
/// leaving room below it lets a new peer catch up with a snapshot rather than entry 1.
pub const INIT_INDEX: u64 = 5;
/// See `INIT_INDEX`.
pub const INIT_TERM: u64 = 5;

/// The two engines a store writes.
#[derive(Clone)]
pub struct Engines<K: KvEngine, L: RaftLogStore> {
    /// User data and apply/region states.
    pub kv: K,
    /// Raft logs and raft states.
    pub raft: L,
}

/// The raft conf state a region's peer roles describe.
pub fn conf_state_of(region: &metapb::Region) -> ConfState {
    let mut state = ConfState::default();
    let mut joint = false;
    for peer in &region.peers {
        match PeerRole::try_from(peer.role).unwrap_or(PeerRole::Voter) {
            PeerRole::Voter => {
                state.voters.push(peer.id);
                state.voters_outgoing.push(peer.id);
            }
            PeerRole::Learner => state.learners.push(peer.id),
            PeerRole::IncomingVoter => {
                joint = true;
                state.voters.push(peer.id);
            }
            PeerRole::DemotingVoter => {
                joint = true;
                state.voters_outgoing.push(peer.id);
                state.learners_next.push(peer.id);
            }
        }
    }
    if joint {
        state.auto_leave = true;
    } else {
        state.voters_outgoing.clear();
    }
    state
}

/// Reads a protobuf record from the KV engine's raft column family.
pub fn read_record<K: KvEngine, M: prost::Message + Default>(
    kv: &K,
    key: &[u8],
    what: &str,
) -> Result<Option<M>> {
    match kv.get_cf(CF_RAFT, key)? {
        Some(bytes) => M::decode(bytes.as_slice())
            .map(Some)
            .map_err(|err| Error::Corrupted(format!("{what}: {err}"))),
        None => Ok(None),
    }
}

/// The write that records a region's local state.
pub fn region_state_modify(region: &metapb::Region, state: PeerState) -> Modify {
    merge_state_modify(region, state, None)
}

/// The write that records a region's local state with the merge it is part of.
pub fn merge_state_modify(
    region: &metapb::Region,
    state: PeerState,
    merge: Option<&MergeState>,
) -> Modify {
    Modify::Put(
        CF_RAFT,
        keys::region_state_key(region.id),
        RegionLocalState {
            state: state as i32,
            region: Some(region.clone()),
            merge_state: merge.cloned(),
            ..Default::default()
        }
        .encode_to_vec(),
    )
}

/// The write that records a region's apply state.
pub fn apply_state_modify(region_id: u64, state: &RaftApplyState) -> Modify {
    Modify::Put(
        CF_RAFT,
        keys::apply_state_key(region_id),
        state.encode_to_vec(),
    )
}

/// The apply state of a region created at `INIT_INDEX`.
pub fn initial_apply_state() -> RaftApplyState {
    RaftApplyState {
        applied_index: INIT_INDEX,
        commit_index: INIT_INDEX,
        commit_term: INIT_TERM,
        truncated_state: Some(RaftTruncatedState {
            index: INIT_INDEX,
            term: INIT_TERM,
        }),
        ..Default::default()
    }
}

/// The raft state of a region created at `INIT_INDEX`.
pub fn initial_raft_state() -> RaftLocalState {
    RaftLocalState {
        hard_state: Some(wire::HardState {
            term: INIT_TERM,
            vote: 0,
            commit: INIT_INDEX,
        }),
        last_index: INIT_INDEX,
    }
}

fn to_raft_hard_state(state: &Option<wire::HardState>) -> HardState {
    let mut out = HardState::default();
    if let Some(state) = state {
        out.term = state.term;
        out.vote = state.vote;
        out.commit = state.commit;
    }
    out
}

fn storage_error(err: Error) -> raft::Error {
    raft::Error::Store(StorageError::Other(Box::new(err)))
}

/// One peer's raft storage.
pub struct PeerStorage<K: KvEngine, L: RaftLogStore> {
    engines: Engines<K, L>,
    /// The region as this peer knows it (no peers: not initialized yet).
    pub region: metapb::Region,
    raft_state: RaftLocalState,
    /// Applied index and truncated log.
    pub apply_state: RaftApplyState,
    last_term: u64,
}

impl<K: KvEngine, L: RaftLogStore> PeerStorage<K, L> {
    /// Loads the storage of `region` (which may be uninitialized: no peers, no state).
    pub fn open(engines: Engines<K, L>, region: metapb::Region) -> Result<Self> {
        let region_id = region.id;
        let mut raft_state = engines.raft.raft_state(region_id)?.unwrap_or_default();
        let apply_state: RaftApplyState = read_record(
            &engines.kv,
            &keys::apply_state_key(region_id),
            "apply state",
        )?
        .unwrap_or_default();
        // Applied entries were committed, but the commit index reaches the raft state only
        // with the next hard state, and a snapshot's data is installed before its raft state:
        // after a crash the applied index is authoritative.
        let applied = apply_state.applied_index;
        if raft_state.last_index < applied {
            raft_state.last_index = applied;
        }
        if applied > 0 {
            let hard_state = raft_state.hard_state.get_or_insert_with(Default::default);
            hard_state.commit = hard_state.commit.max(applied);
            hard_state.term = hard_state.term.max(apply_state.commit_term);
        }
        let mut storage = PeerStorage {
            engines,
            region,
            raft_state,
            apply_state,
            last_term: 0,
        };
        storage.last_term = storage.term_of(storage.raft_state.last_index)?;
        Ok(storage)
    }

    fn truncated(&self) -> (u64, u64) {
        self.apply_state
            .truncated_state
            .map_or((0, 0), |state| (state.index, state.term))
    }

    /// Whether the peer has its region's range and peers.
    pub fn is_initialized(&self) -> bool {
        !self.region.peers.is_empty()
    }

    /// The applied index.
    pub fn applied_index(&self) -> u64 {
        self.apply_state.applied_index
    }

    /// The first index still in the log.
    pub fn first_index(&self) -> u64 {
        self.truncated().0 + 1
    }

    fn term_of(&self, index: u64) -> Result<u64> {
        let (truncated_index, truncated_term) = self.truncated();
        if index == truncated_index {
            return Ok(truncated_term);
        }
        if index == self.raft_state.last_index && self.last_term != 0 {
            return Ok(self.last_term);
        }
        if index == 0 {
            return Ok(0);
        }
        let entries = self
            .engines
            .raft
            .entries(self.region.id, index, index + 1, u64::MAX)?;
        entries
            .first()
            .map(|entry| entry.term)
            .ok_or_else(|| Error::Corrupted(format!("raft entry {index} missing")))
    }

    /// Adds `entries` (from a ready) and the hard state to `batch`, and updates the cache.
    pub fn append(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
        batch: &mut LogBatch,
    ) -> Result<()> {
        let region_id = self.region.id;
        if let Some(last) = entries.last() {
            batch.append(region_id, entries)?;
            // Entries past the new last one belong to a discarded term.
            if last.index < self.raft_state.last_index {
                batch.delete_entries(region_id, last.index + 1, self.raft_state.last_index + 1);
            }
            self.raft_state.last_index = last.index;
            self.last_term = last.term;
        }
        if let Some(hard_state) = hard_state {
            self.raft_state.hard_state = Some(wire::HardState {
                term: hard_state.term,
                vote: hard_state.vote,
                commit: hard_state.commit,
            });
        }
        if !entries.is_empty() || hard_state.is_some() {
            batch.put_raft_state(region_id, &self.raft_state);
        }
        Ok(())
    }

    /// Installs snapshot `snap` (data, apply state, region state) and resets the log to it.
    /// Returns the region the snapshot describes.
    pub fn apply_snapshot(&mut self, snap: &RaftSnapshot) -> Result<metapb::Region> {
        let meta = snap.get_metadata();
        let decoded = snapshot::decode(self.region.id, &snap.data)?;
        let region = decoded.region;
        let mut modifies = decoded.modifies;
        let apply_state = RaftApplyState {
            applied_index: meta.index,
            commit_index: meta.index,
            commit_term: meta.term,
            truncated_state: Some(RaftTruncatedState {
                index: meta.index,
                term: meta.term,
            }),
            ..Default::default()
        };
        modifies.push(apply_state_modify(region.id, &apply_state));
        modifies.push(region_state_modify(&region, PeerState::Normal));
        self.engines.kv.write(&modifies, true)?;

        let mut batch = LogBatch::synced();
        batch.delete_entries(region.id, 0, self.raft_state.last_index.max(meta.index) + 1);
        let hard_state = self
            .raft_state
            .hard_state
            .get_or_insert_with(Default::default);
        hard_state.commit = hard_state.commit.max(meta.index);
        hard_state.term = hard_state.term.max(meta.term);
        self.raft_state.last_index = meta.index;
        batch.put_raft_state(region.id, &self.raft_state);
        self.engines.raft.write(batch)?;

        self.apply_state = apply_state;
        self.last_term = meta.term;
        self.region = region.clone();
        Ok(region)
    }

    /// Records that the log up to `index` (of `term`) is compacted, deleting its entries.
    pub fn compact_to(&mut self, index: u64, term: u64, batch: &mut LogBatch) {
        let first = self.first_index();
        if index < first {
            return;
        }
        self.apply_state.truncated_state = Some(RaftTruncatedState { index, term });
        batch.delete_entries(self.region.id, first, index + 1);
    }
}

impl<K: KvEngine, L: RaftLogStore> raft::Storage for PeerStorage<K, L> {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            to_raft_hard_state(&self.raft_state.hard_state),
            conf_state_of(&self.region),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.raft_state.last_index + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        self.engines
            .raft
            .entries(
                self.region.id,
                low,
                high,
                max_size.into().unwrap_or(u64::MAX),
            )
            .map_err(storage_error)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        let (truncated_index, _) = self.truncated();
        if index < truncated_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if index > self.raft_state.last_index {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        self.term_of(index).map_err(storage_error)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(PeerStorage::first_index(self))
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.raft_state.last_index)
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<RaftSnapshot> {
        let applied = self.apply_state.applied_index;
        if applied < request_index || !self.is_initialized() {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        // Apply runs on the thread that drives this peer, so the engine holds exactly the
        // data up to `applied` right now.
        let data =
            snapshot::build(&self.engines.kv.snapshot(), &self.region).map_err(storage_error)?;
        let mut snap = RaftSnapshot {
            data: data.into(),
            ..Default::default()
        };
        let meta = snap.mut_metadata();
        meta.index = applied;
        meta.term = self.term_of(applied).map_err(storage_error)?;
        meta.set_conf_state(conf_state_of(&self.region));
        Ok(snap)
    }
}
