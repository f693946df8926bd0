//! The one place where storage errors become wire errors: region errors, `KeyError`s, and
//! plain messages for raw requests.

use basalt_proto::{errorpb, kvrpcpb};
use basalt_storage::mvcc::Lock;
use basalt_storage::{Error, RequestContext, TxnError};

/// The request context the storage layer needs, from the wire context.
pub fn request_context(ctx: Option<&kvrpcpb::Context>) -> RequestContext {
    RequestContext::from_wire(ctx)
}

/// The wire form of a lock.
pub fn lock_info(key: Vec<u8>, lock: &Lock) -> kvrpcpb::LockInfo {
    kvrpcpb::LockInfo {
        primary_lock: lock.primary.clone(),
        lock_version: lock.ts,
        key,
        lock_ttl: lock.ttl,
        txn_size: lock.txn_size,
        lock_type: lock.lock_type.to_op(),
        lock_for_update_ts: lock.for_update_ts,
        use_async_commit: lock.use_async_commit,
        min_commit_ts: lock.min_commit_ts,
        secondaries: lock.secondaries.clone(),
        ..Default::default()
    }
}

/// An error split the way responses carry it.
pub enum WireError {
    /// Goes to `region_error`.
    Region(Box<errorpb::Error>),
    /// Goes to `error` / `errors` as a `KeyError`.
    Key(Box<kvrpcpb::KeyError>),
}

impl WireError {
    /// The metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            WireError::Region(_) => "region_error",
            WireError::Key(_) => "key_error",
        }
    }
}

/// Converts a storage error for a transactional response.
pub fn wire_error(err: Error) -> WireError {
    match err {
        Error::Region(region) => WireError::Region(region),
        other => WireError::Key(Box::new(key_error(other))),
    }
}

/// The `KeyError` of a storage error.
pub fn key_error(err: Error) -> kvrpcpb::KeyError {
    let message = err.to_string();
    let mut error = kvrpcpb::KeyError::default();
    match err {
        Error::Txn(txn) => match txn {
            TxnError::KeyIsLocked(lock, key) => error.locked = Some(lock_info(key, &lock)),
            TxnError::WriteConflict {
                start_ts,
                conflict_start_ts,
                conflict_commit_ts,
                key,
                primary,
                reason,
            } => {
                error.conflict = Some(kvrpcpb::WriteConflict {
                    start_ts,
                    conflict_ts: conflict_start_ts,
                    key,
                    primary,
                    conflict_commit_ts,
                    reason,
                })
            }
            TxnError::AlreadyExist { key } => {
                error.already_exist = Some(kvrpcpb::AlreadyExist { key })
            }
            TxnError::TxnNotFound {
                start_ts,
                primary_key,
            } => {
                error.txn_not_found = Some(kvrpcpb::TxnNotFound {
                    start_ts,
                    primary_key,
                })
            }
            TxnError::CommitTsExpired {
                start_ts,
                commit_ts,
                key,
                min_commit_ts,
            } => {
                error.commit_ts_expired = Some(kvrpcpb::CommitTsExpired {
                    start_ts,
                    attempted_commit_ts: commit_ts,
                    key,
                    min_commit_ts,
                })
            }
            TxnError::PrimaryMismatch { key, lock } => {
                error.primary_mismatch = Some(kvrpcpb::PrimaryMismatch {
                    lock_info: Some(lock_info(key, &lock)),
                })
            }
            TxnError::TxnLockNotFound { .. } => {
                // Upstream reports a lost lock as retryable: the client restarts the txn.
                error.retryable = message;
            }
            TxnError::AssertionFailed {
                start_ts,
                key,
                assertion,
                existing_commit_ts,
                existing_start_ts,
            } => {
                error.assertion_failed = Some(kvrpcpb::AssertionFailed {
                    start_ts,
                    key,
                    assertion,
                    existing_start_ts,
                    existing_commit_ts,
                })
            }
            TxnError::Committed { .. }
            | TxnError::PessimisticLockNotFound { .. }
            | TxnError::PessimisticLockRolledBack { .. }
            | TxnError::LockTypeNotMatch { .. }
            | TxnError::InvalidTxnTso { .. } => error.abort = message,
        },
        _ => error.abort = message,
    }
    error
}

/// Converts a storage error for a raw response: region error or a message.
pub fn raw_error(err: Error) -> Result<String, Box<errorpb::Error>> {
    match err {
        Error::Region(region) => Err(region),
        other => Ok(other.to_string()),
    }
}

/// The region error a `SplitRegion` response carries for `err`: the region error itself, or
/// one with only a message (the response has no other error field), as upstream answers.
pub fn split_error(err: crate::Error) -> errorpb::Error {
    match err {
        crate::Error::Storage(Error::Region(region)) => *region,
        other => errorpb::Error {
            message: other.to_string(),
            ..Default::default()
        },
    }
}
