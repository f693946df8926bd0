//! The raft log behind a trait, so a dedicated log engine can replace the column family later.
//! `KvRaftLog` keeps entries and raft states in the KV engine's `raft` column family.

use basalt_proto::raft_serverpb::RaftLocalState;
use basalt_storage::engine::{EngineIterator, IterOptions, KvEngine, Modify, Snapshot, CF_RAFT};
use basalt_storage::{Error, Result};
use prost::Message as _;
use protobuf::Message as _;
use raft::eraftpb::Entry;

use crate::keys;

/// Changes to raft logs and states, written atomically.
#[derive(Debug, Default)]
pub struct LogBatch {
    modifies: Vec<Modify>,
    /// Whether the batch must be durable before it is acknowledged.
    pub sync: bool,
}

impl LogBatch {
    /// An empty batch that is synced when written.
    pub fn synced() -> Self {
        LogBatch {
            modifies: Vec::new(),
            sync: true,
        }
    }

    /// Appends `entries` to `region_id`'s log, replacing any entries at the same indexes.
    pub fn append(&mut self, region_id: u64, entries: &[Entry]) -> Result<()> {
        for entry in entries {
            let bytes = entry
                .write_to_bytes()
                .map_err(|err| Error::Engine(format!("encoding a raft entry: {err}")))?;
            self.modifies.push(Modify::Put(
                CF_RAFT,
                keys::log_key(region_id, entry.index),
                bytes,
            ));
        }
        Ok(())
    }

    /// Deletes `region_id`'s entries in `[from, to)`.
    pub fn delete_entries(&mut self, region_id: u64, from: u64, to: u64) {
        if from < to {
            self.modifies.push(Modify::DeleteRange(
                CF_RAFT,
                keys::log_key(region_id, from),
                keys::log_key(region_id, to),
            ));
        }
    }

    /// Records `region_id`'s raft state.
    pub fn put_raft_state(&mut self, region_id: u64, state: &RaftLocalState) {
        self.modifies.push(Modify::Put(
            CF_RAFT,
            keys::raft_state_key(region_id),
            state.encode_to_vec(),
        ));
    }

    /// Forgets everything about `region_id`'s log.
    pub fn clean(&mut self, region_id: u64) {
        self.delete_entries(region_id, 0, u64::MAX);
        self.modifies
            .push(Modify::Delete(CF_RAFT, keys::raft_state_key(region_id)));
    }

    /// Whether the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.modifies.is_empty()
    }
}

/// Where raft logs and raft states live.
pub trait RaftLogStore: Clone + Send + Sync + 'static {
    /// The raft state of `region_id`, if it has one.
    fn raft_state(&self, region_id: u64) -> Result<Option<RaftLocalState>>;
    /// Entries `[low, high)` of `region_id`, stopping once `max_size` bytes are gathered (at
    /// least one entry is returned). A missing entry is an error.
    fn entries(&self, region_id: u64, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>>;
    /// Writes `batch` atomically.
    fn write(&self, batch: LogBatch) -> Result<()>;
}

/// The raft log in the KV engine's `raft` column family.
#[derive(Clone)]
pub struct KvRaftLog<K: KvEngine> {
    kv: K,
}

impl<K: KvEngine> KvRaftLog<K> {
    /// The log of `kv`.
    pub fn new(kv: K) -> Self {
        KvRaftLog { kv }
    }
}

impl<K: KvEngine> RaftLogStore for KvRaftLog<K> {
    fn raft_state(&self, region_id: u64) -> Result<Option<RaftLocalState>> {
        let Some(bytes) = self.kv.get_cf(CF_RAFT, &keys::raft_state_key(region_id))? else {
            return Ok(None);
        };
        RaftLocalState::decode(bytes.as_slice())
            .map(Some)
            .map_err(|err| Error::Corrupted(format!("raft state of region {region_id}: {err}")))
    }

    fn entries(&self, region_id: u64, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>> {
        let mut out = Vec::with_capacity(high.saturating_sub(low).min(1024) as usize);
        if low >= high {
            return Ok(out);
        }
        let snapshot = self.kv.snapshot();
        let mut iter = snapshot.iterator_cf(
            CF_RAFT,
            IterOptions::bounded(
                &keys::log_key(region_id, low),
                &keys::log_key(region_id, high),
            ),
        )?;
        let mut size = 0u64;
        let mut expected = low;
        let mut valid = iter.seek_to_first()?;
        while valid {
            let index = keys::log_index(region_id, iter.key());
            if index != Some(expected) {
                return Err(Error::Corrupted(format!(
                    "raft log of region {region_id}: expected entry {expected}, found {index:?}"
                )));
            }
            let entry = Entry::parse_from_bytes(iter.value()).map_err(|err| {
                Error::Corrupted(format!(
                    "raft entry {expected} of region {region_id}: {err}"
                ))
            })?;
            size += iter.value().len() as u64;
            if !out.is_empty() && size > max_size {
                return Ok(out);
            }
            out.push(entry);
            expected += 1;
            valid = iter.next()?;
        }
        if expected < high {
            return Err(Error::Corrupted(format!(
                "raft log of region {region_id}: entry {expected} is missing (asked {low}..{high})"
            )));
        }
        Ok(out)
    }

    fn write(&self, batch: LogBatch) -> Result<()> {
        if batch.modifies.is_empty() {
            return Ok(());
        }
        self.kv.write(&batch.modifies, batch.sync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use basalt_storage::engine::MemoryEngine;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: vec![index as u8; 10].into(),
            ..Default::default()
        }
    }

    #[test]
    fn append_read_truncate_and_size_limit() {
        let log = KvRaftLog::new(MemoryEngine::new());
        let mut batch = LogBatch::default();
        batch
            .append(3, &(1..=5).map(|i| entry(i, 1)).collect::<Vec<_>>())
            .unwrap();
        batch.put_raft_state(
            3,
            &RaftLocalState {
                last_index: 5,
                ..Default::default()
            },
        );
        log.write(batch).unwrap();
        assert_eq!(log.raft_state(3).unwrap().map(|s| s.last_index), Some(5));
        assert_eq!(log.raft_state(4).unwrap(), None);
        let all = log.entries(3, 1, 6, u64::MAX).unwrap();
        assert_eq!(
            all.iter().map(|e| e.index).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        // A size limit still returns one entry.
        assert_eq!(log.entries(3, 2, 6, 0).unwrap().len(), 1);
        // Compaction leaves a hole that reads report.
        let mut batch = LogBatch::default();
        batch.delete_entries(3, 0, 3);
        log.write(batch).unwrap();
        assert!(log.entries(3, 1, 4, u64::MAX).is_err());
        assert_eq!(log.entries(3, 3, 6, u64::MAX).unwrap().len(), 3);
        // Asking past the end is an error, not a short answer.
        assert!(log.entries(3, 4, 8, u64::MAX).is_err());
        let mut batch = LogBatch::default();
        batch.clean(3);
        log.write(batch).unwrap();
        assert_eq!(log.raft_state(3).unwrap(), None);
        assert!(log.entries(3, 3, 4, u64::MAX).is_err());
    }
}
