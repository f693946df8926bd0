//! The client's one error type, and the one place where wire errors (`KeyError`, region errors,
//! PD header errors) become it.

use basalt_proto::{errorpb, kvrpcpb};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A gRPC call failed (the store or PD answered with a status, or the call timed out).
    #[error("gRPC call failed: {0}")]
    Grpc(#[from] tonic::Status),
    /// A connection could not be set up (bad address, refused connection).
    #[error("transport error: {0}")]
    Transport(String),
    /// PD answered with an error, or with a reply missing what was asked.
    #[error("PD error: {0}")]
    Pd(String),
    /// Region errors kept coming back after the cache was refreshed and the request retried.
    #[error("region error: {0}")]
    Region(String),
    /// An `Insert` found the key already present (`KeyError.already_exist`).
    #[error("key {} already exists", DisplayKey(.0))]
    AlreadyExists(Vec<u8>),
    /// Another transaction committed a write to `key` after this one started. `conflict_ts` is
    /// the conflicting transaction's start_ts (`WriteConflict.conflict_ts` on the wire).
    #[error("write conflict on key {} with the transaction started at {conflict_ts}", DisplayKey(.key))]
    WriteConflict {
        /// The key both transactions wrote.
        key: Vec<u8>,
        /// The start_ts of the transaction that won.
        conflict_ts: u64,
    },
    /// A lock held by a live transaction did not go away in time.
    #[error("key is locked: {0}")]
    Locked(String),
    /// The coprocessor refused or failed the request (`other_error`).
    #[error("coprocessor error: {0}")]
    Coprocessor(String),
    /// Anything else the store reported (an aborted or not-found transaction, a bad request).
    #[error("{0}")]
    Other(String),
}

/// The client's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Formats a key as printable ASCII with other bytes escaped, for messages.
pub(crate) struct DisplayKey<'a>(pub &'a [u8]);

impl std::fmt::Display for DisplayKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

/// Describes a lock for messages.
pub(crate) fn describe_lock(lock: &kvrpcpb::LockInfo) -> String {
    format!(
        "key {} locked by the transaction started at {} (primary {}, ttl {} ms)",
        DisplayKey(&lock.key),
        lock.lock_version,
        DisplayKey(&lock.primary_lock),
        lock.lock_ttl
    )
}

/// The error a `KeyError` stands for.
pub(crate) fn key_error(error: kvrpcpb::KeyError) -> Error {
    if let Some(exist) = error.already_exist {
        return Error::AlreadyExists(exist.key);
    }
    if let Some(conflict) = error.conflict {
        return Error::WriteConflict {
            key: conflict.key,
            conflict_ts: conflict.conflict_ts,
        };
    }
    if let Some(lock) = error.locked {
        return Error::Locked(describe_lock(&lock));
    }
    if let Some(expired) = error.commit_ts_expired {
        return Error::Other(format!(
            "commit_ts {} expired for key {} (min_commit_ts {})",
            expired.attempted_commit_ts,
            DisplayKey(&expired.key),
            expired.min_commit_ts
        ));
    }
    if let Some(not_found) = error.txn_not_found {
        return Error::Other(format!(
            "transaction started at {} not found (primary {})",
            not_found.start_ts,
            DisplayKey(&not_found.primary_key)
        ));
    }
    if let Some(deadlock) = error.deadlock {
        return Error::Other(format!(
            "deadlock with the transaction started at {}",
            deadlock.lock_ts
        ));
    }
    if let Some(failed) = error.assertion_failed {
        return Error::Other(format!(
            "assertion failed on key {}",
            DisplayKey(&failed.key)
        ));
    }
    if let Some(mismatch) = error.primary_mismatch {
        return Error::Other(format!("primary mismatch: {:?}", mismatch.lock_info));
    }
    if !error.retryable.is_empty() {
        return Error::Other(format!("retryable: {}", error.retryable));
    }
    if !error.abort.is_empty() {
        return Error::Other(format!("aborted: {}", error.abort));
    }
    Error::Other(format!("key error: {error:?}"))
}

/// A short description of a region error, for logs and `Error::Region`.
pub(crate) fn describe_region_error(error: &errorpb::Error) -> String {
    let kind = if error.not_leader.is_some() {
        "not leader"
    } else if error.region_not_found.is_some() {
        "region not found"
    } else if error.key_not_in_region.is_some() {
        "key not in region"
    } else if error.epoch_not_match.is_some() {
        "epoch not match"
    } else if error.server_is_busy.is_some() {
        "server is busy"
    } else if error.stale_command.is_some() {
        "stale command"
    } else if error.store_not_match.is_some() {
        "store not match"
    } else {
        "region error"
    };
    if error.message.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_errors_map_to_variants() {
        let exists = kvrpcpb::KeyError {
            already_exist: Some(kvrpcpb::AlreadyExist { key: b"k".to_vec() }),
            ..Default::default()
        };
        assert!(matches!(key_error(exists), Error::AlreadyExists(key) if key == b"k"));
        let conflict = kvrpcpb::KeyError {
            conflict: Some(kvrpcpb::WriteConflict {
                key: b"c".to_vec(),
                conflict_ts: 7,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(matches!(
            key_error(conflict),
            Error::WriteConflict { key, conflict_ts: 7 } if key == b"c"
        ));
        let abort = kvrpcpb::KeyError {
            abort: "boom".into(),
            ..Default::default()
        };
        assert_eq!(key_error(abort).to_string(), "aborted: boom");
    }

    #[test]
    fn messages_escape_keys() {
        let err = Error::AlreadyExists(vec![b'a', 0, 0xFF]);
        assert_eq!(err.to_string(), "key \"a\\x00\\xff\" already exists");
    }
}
