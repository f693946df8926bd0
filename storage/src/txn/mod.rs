//! Percolator transactions. Each action is a pure function from an MVCC reader to changes in
//! an `MvccTxn` plus a result; the scheduler (`scheduler`) serializes commands on latches,
//! applies the changes and replies.

mod actions;
mod gc;
mod latch;
mod pessimistic;
mod prewrite;
mod status;
#[cfg(test)]
mod tests;

pub use actions::{cleanup, commit, resolve_lock_key, rollback_key};
pub use gc::{gc_range, GcStats};
pub use latch::{LatchGuard, Latches};
pub use pessimistic::{acquire_pessimistic_lock, pessimistic_rollback, PessimisticLockOptions};
pub use prewrite::{prewrite, PrewriteOutcome, PrewriteRequest};
pub use status::{
    check_secondary_locks, check_txn_status, txn_heart_beat, CheckTxnStatusOptions,
    SecondaryLocksStatus, TxnStatus,
};

/// What a mutation does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutationOp {
    /// Write a value.
    Put,
    /// Delete the key.
    Delete,
    /// Lock the key without changing it.
    Lock,
    /// Write a value; fail with `AlreadyExist` if the key has one.
    Insert,
    /// Only check that the key has no value.
    CheckNotExists,
}

/// One key of a prewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// The operation.
    pub op: MutationOp,
    /// The user key.
    pub key: Vec<u8>,
    /// The value for puts and inserts.
    pub value: Vec<u8>,
}

/// How a pessimistic transaction's prewrite treats a key (`kvrpcpb.PrewriteRequest
/// .PessimisticAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PessimisticAction {
    /// The key was not locked pessimistically: check conflicts as an optimistic prewrite.
    SkipPessimisticCheck,
    /// The key must hold this transaction's pessimistic lock.
    DoPessimisticCheck,
    /// The key was locked lazily: check conflicts and constraints now.
    DoConstraintCheck,
}

/// `kvrpcpb.WriteConflict.Reason` values.
pub mod conflict_reason {
    /// An optimistic prewrite found a newer commit.
    pub const OPTIMISTIC: i32 = 1;
    /// A pessimistic lock found a commit newer than `for_update_ts`.
    pub const PESSIMISTIC_RETRY: i32 = 2;
    /// The transaction had already been rolled back on this key.
    pub const SELF_ROLLED_BACK: i32 = 3;
}
