//! The storage layer's error type.

use crate::mvcc::Lock;
use basalt_proto::errorpb;

/// Everything that can go wrong below the gRPC boundary. The server turns each variant into the
/// upstream wire error (region error, `KeyError`, or a plain message) in one place.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine (RocksDB) failed.
    #[error("engine: {0}")]
    Engine(String),
    /// Bytes read from disk did not decode: the data is corrupted or of an unknown format.
    #[error("corrupted data: {0}")]
    Corrupted(String),
    /// The request does not fit the region it was sent to (wrong id, stale epoch, key outside).
    #[error("region error: {}", .0.message)]
    Region(Box<errorpb::Error>),
    /// A transactional conflict or state error, reported to clients as a `KeyError`.
    #[error("{0}")]
    Txn(#[from] TxnError),
    /// The request itself is invalid (empty key where one is needed, bad range, absurd size).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The caller asked for something this build does not do.
    #[error("not supported: {0}")]
    Unsupported(String),
}

/// The Percolator outcomes that are errors for the caller, one per upstream `KeyError` case.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TxnError {
    /// Another transaction holds a lock the request must respect.
    #[error("key is locked by {:?}", .0)]
    KeyIsLocked(Box<Lock>, Vec<u8>),
    /// A newer version was committed after the transaction started (or after `for_update_ts`).
    #[error("write conflict on key {key:?}: start_ts {start_ts}, conflicting txn {conflict_start_ts} committed at {conflict_commit_ts}")]
    WriteConflict {
        /// The transaction that hit the conflict.
        start_ts: u64,
        /// The start_ts of the writer that won.
        conflict_start_ts: u64,
        /// The commit_ts of the writer that won.
        conflict_commit_ts: u64,
        /// The user key.
        key: Vec<u8>,
        /// The primary of the transaction that hit the conflict.
        primary: Vec<u8>,
        /// `kvrpcpb.WriteConflict.Reason` value.
        reason: i32,
    },
    /// An `Insert` found an existing value.
    #[error("key {key:?} already exists")]
    AlreadyExist {
        /// The user key.
        key: Vec<u8>,
    },
    /// Commit or prewrite for a transaction whose lock is gone and which did not commit.
    #[error("txn {start_ts} lock not found on key {key:?} (rolled back or never prewritten)")]
    TxnLockNotFound {
        /// The transaction.
        start_ts: u64,
        /// The commit_ts the caller asked for.
        commit_ts: u64,
        /// The user key.
        key: Vec<u8>,
    },
    /// `check_txn_status` / heartbeat found neither a lock nor a commit record.
    #[error("txn {start_ts} not found on primary {primary_key:?}")]
    TxnNotFound {
        /// The transaction.
        start_ts: u64,
        /// Its primary key.
        primary_key: Vec<u8>,
    },
    /// `commit_ts` is below the lock's `min_commit_ts`.
    #[error("commit_ts {commit_ts} expired for txn {start_ts} (min_commit_ts {min_commit_ts})")]
    CommitTsExpired {
        /// The transaction.
        start_ts: u64,
        /// The commit_ts the caller asked for.
        commit_ts: u64,
        /// The user key.
        key: Vec<u8>,
        /// The lock's min_commit_ts.
        min_commit_ts: u64,
    },
    /// Rolling back a transaction that already committed.
    #[error("txn {start_ts} already committed at {commit_ts} on key {key:?}")]
    Committed {
        /// The transaction.
        start_ts: u64,
        /// Its commit_ts.
        commit_ts: u64,
        /// The user key.
        key: Vec<u8>,
    },
    /// A pessimistic transaction's lock vanished before prewrite (it was rolled back).
    #[error("pessimistic lock of txn {start_ts} not found on key {key:?}")]
    PessimisticLockNotFound {
        /// The transaction.
        start_ts: u64,
        /// The user key.
        key: Vec<u8>,
    },
    /// A pessimistic lock request arrived for a transaction already rolled back on this key.
    #[error("pessimistic lock of txn {start_ts} was rolled back on key {key:?}")]
    PessimisticLockRolledBack {
        /// The transaction.
        start_ts: u64,
        /// The user key.
        key: Vec<u8>,
    },
    /// `check_txn_status` with `verify_is_primary` reached a lock whose primary is another key.
    #[error("primary mismatch: key {key:?} is not the primary of txn {}", .lock.ts)]
    PrimaryMismatch {
        /// The key checked.
        key: Vec<u8>,
        /// The lock found on it.
        lock: Box<Lock>,
    },
    /// Commit met a lock of an unexpected kind (a pessimistic lock never prewritten).
    #[error("lock type does not match for txn {start_ts} on key {key:?}")]
    LockTypeNotMatch {
        /// The transaction.
        start_ts: u64,
        /// The user key.
        key: Vec<u8>,
    },
    /// Timestamps out of order, such as `commit_ts <= start_ts`.
    #[error("invalid timestamps: start_ts {start_ts}, commit_ts {commit_ts}")]
    InvalidTxnTso {
        /// The transaction.
        start_ts: u64,
        /// The commit_ts the caller asked for.
        commit_ts: u64,
    },
    /// The key assertion of a mutation failed.
    #[error("assertion failed on key {key:?} for txn {start_ts}")]
    AssertionFailed {
        /// The transaction.
        start_ts: u64,
        /// The user key.
        key: Vec<u8>,
        /// `kvrpcpb.Assertion` value asked for.
        assertion: i32,
        /// Commit ts of the version that broke it.
        existing_commit_ts: u64,
        /// Start ts of the version that broke it.
        existing_start_ts: u64,
    },
}

/// Storage results.
pub type Result<T> = std::result::Result<T, Error>;

impl From<rocksdb::Error> for Error {
    fn from(err: rocksdb::Error) -> Self {
        Error::Engine(err.into_string())
    }
}
