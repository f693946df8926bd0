//! The write buffer of one MVCC action: actions compute changes here, the scheduler applies them.

use super::{Key, Lock, Write};
use crate::engine::{Modify, CF_DEFAULT, CF_LOCK, CF_WRITE};

/// Changes made by one transactional command, applied atomically afterwards.
#[derive(Debug, Default)]
pub struct MvccTxn {
    modifies: Vec<Modify>,
}

impl MvccTxn {
    /// An empty buffer.
    pub fn new() -> Self {
        MvccTxn::default()
    }

    /// Writes (or replaces) the lock on `key`.
    pub fn put_lock(&mut self, key: &Key, lock: &Lock) {
        self.modifies.push(Modify::Put(
            CF_LOCK,
            key.as_encoded().to_vec(),
            lock.to_bytes(),
        ));
    }

    /// Removes the lock on `key`.
    pub fn unlock_key(&mut self, key: &Key) {
        self.modifies
            .push(Modify::Delete(CF_LOCK, key.as_encoded().to_vec()));
    }

    /// Writes a long value at `key@start_ts`.
    pub fn put_value(&mut self, key: &Key, start_ts: u64, value: Vec<u8>) {
        self.modifies
            .push(Modify::Put(CF_DEFAULT, key.append_ts(start_ts), value));
    }

    /// Deletes the long value at `key@start_ts`.
    pub fn delete_value(&mut self, key: &Key, start_ts: u64) {
        self.modifies
            .push(Modify::Delete(CF_DEFAULT, key.append_ts(start_ts)));
    }

    /// Writes a commit or rollback record at `key@commit_ts`.
    pub fn put_write(&mut self, key: &Key, commit_ts: u64, write: &Write) {
        self.modifies.push(Modify::Put(
            CF_WRITE,
            key.append_ts(commit_ts),
            write.to_bytes(),
        ));
    }

    /// Deletes the record at `key@commit_ts`.
    pub fn delete_write(&mut self, key: &Key, commit_ts: u64) {
        self.modifies
            .push(Modify::Delete(CF_WRITE, key.append_ts(commit_ts)));
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.modifies.is_empty()
    }

    /// Number of changes buffered.
    pub fn len(&self) -> usize {
        self.modifies.len()
    }

    /// Takes the buffered changes.
    pub fn into_modifies(self) -> Vec<Modify> {
        self.modifies
    }
}
