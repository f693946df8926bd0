//! Percolator locks as stored in the lock column family.
//!
//! Layout (Basalt's own; TiKV's is similar in spirit): a type byte, the primary as compact
//! bytes, varint `ts` and `ttl`, then optional tagged fields. Unknown tags are corruption.

use crate::codec;
use crate::error::{Error, Result};

/// What a lock protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockType {
    /// A prewritten put.
    Put,
    /// A prewritten delete.
    Delete,
    /// A prewritten lock-only mutation (`SELECT ... FOR UPDATE` in optimistic mode).
    Lock,
    /// A pessimistic lock taken before prewrite.
    Pessimistic,
}

impl LockType {
    fn to_byte(self) -> u8 {
        match self {
            LockType::Put => b'P',
            LockType::Delete => b'D',
            LockType::Lock => b'L',
            LockType::Pessimistic => b'S',
        }
    }

    fn from_byte(byte: u8) -> Result<Self> {
        Ok(match byte {
            b'P' => LockType::Put,
            b'D' => LockType::Delete,
            b'L' => LockType::Lock,
            b'S' => LockType::Pessimistic,
            other => return Err(Error::Corrupted(format!("unknown lock type {other:#x}"))),
        })
    }

    /// The `kvrpcpb.Op` value reported in `LockInfo.lock_type`.
    pub fn to_op(self) -> i32 {
        match self {
            LockType::Put => 0,
            LockType::Delete => 1,
            LockType::Lock => 2,
            LockType::Pessimistic => 5,
        }
    }
}

/// A Percolator lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// What the lock protects.
    pub lock_type: LockType,
    /// The transaction's primary key (user key).
    pub primary: Vec<u8>,
    /// The transaction's start_ts.
    pub ts: u64,
    /// Time to live in milliseconds from `ts`'s physical time.
    pub ttl: u64,
    /// The value, when short enough to inline.
    pub short_value: Option<Vec<u8>>,
    /// The pessimistic transaction's `for_update_ts` (0 for optimistic).
    pub for_update_ts: u64,
    /// Number of keys the transaction writes, as the client reported.
    pub txn_size: u64,
    /// The lowest commit_ts the transaction may use.
    pub min_commit_ts: u64,
    /// Whether the transaction uses async commit.
    pub use_async_commit: bool,
    /// With async commit, on the primary only: all secondary keys.
    pub secondaries: Vec<Vec<u8>>,
}

const TAG_SHORT_VALUE: u8 = b'v';
const TAG_FOR_UPDATE_TS: u8 = b'f';
const TAG_TXN_SIZE: u8 = b't';
const TAG_MIN_COMMIT_TS: u8 = b'c';
const TAG_ASYNC_COMMIT: u8 = b'a';

/// Largest value inlined into a lock or write record.
pub const SHORT_VALUE_MAX_LEN: usize = 255;

impl Lock {
    /// A lock with the mandatory fields and everything else empty.
    pub fn new(lock_type: LockType, primary: Vec<u8>, ts: u64, ttl: u64) -> Self {
        Lock {
            lock_type,
            primary,
            ts,
            ttl,
            short_value: None,
            for_update_ts: 0,
            txn_size: 0,
            min_commit_ts: 0,
            use_async_commit: false,
            secondaries: Vec::new(),
        }
    }

    /// Whether this is a pessimistic lock not yet prewritten.
    pub fn is_pessimistic(&self) -> bool {
        self.lock_type == LockType::Pessimistic
    }

    /// Serializes the lock.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.primary.len());
        out.push(self.lock_type.to_byte());
        codec::encode_compact_bytes(&mut out, &self.primary);
        codec::encode_var_u64(&mut out, self.ts);
        codec::encode_var_u64(&mut out, self.ttl);
        if let Some(value) = &self.short_value {
            out.push(TAG_SHORT_VALUE);
            codec::encode_compact_bytes(&mut out, value);
        }
        if self.for_update_ts > 0 {
            out.push(TAG_FOR_UPDATE_TS);
            codec::encode_var_u64(&mut out, self.for_update_ts);
        }
        if self.txn_size > 0 {
            out.push(TAG_TXN_SIZE);
            codec::encode_var_u64(&mut out, self.txn_size);
        }
        if self.min_commit_ts > 0 {
            out.push(TAG_MIN_COMMIT_TS);
            codec::encode_var_u64(&mut out, self.min_commit_ts);
        }
        if self.use_async_commit {
            out.push(TAG_ASYNC_COMMIT);
            codec::encode_var_u64(&mut out, self.secondaries.len() as u64);
            for key in &self.secondaries {
                codec::encode_compact_bytes(&mut out, key);
            }
        }
        out
    }

    /// Parses bytes written by `to_bytes`.
    pub fn parse(mut input: &[u8]) -> Result<Lock> {
        let lock_type = LockType::from_byte(codec::decode_u8(&mut input)?)?;
        let primary = codec::decode_compact_bytes(&mut input)?.to_vec();
        let ts = codec::decode_var_u64(&mut input)?;
        let ttl = codec::decode_var_u64(&mut input)?;
        let mut lock = Lock::new(lock_type, primary, ts, ttl);
        while !input.is_empty() {
            match codec::decode_u8(&mut input)? {
                TAG_SHORT_VALUE => {
                    lock.short_value = Some(codec::decode_compact_bytes(&mut input)?.to_vec())
                }
                TAG_FOR_UPDATE_TS => lock.for_update_ts = codec::decode_var_u64(&mut input)?,
                TAG_TXN_SIZE => lock.txn_size = codec::decode_var_u64(&mut input)?,
                TAG_MIN_COMMIT_TS => lock.min_commit_ts = codec::decode_var_u64(&mut input)?,
                TAG_ASYNC_COMMIT => {
                    lock.use_async_commit = true;
                    let count = codec::decode_var_u64(&mut input)?;
                    // Each key takes at least one byte, which bounds the allocation.
                    if count > input.len() as u64 {
                        return Err(Error::Corrupted(format!("{count} secondaries cannot fit")));
                    }
                    lock.secondaries.reserve(count as usize);
                    for _ in 0..count {
                        lock.secondaries
                            .push(codec::decode_compact_bytes(&mut input)?.to_vec());
                    }
                }
                other => {
                    return Err(Error::Corrupted(format!(
                        "unknown lock field tag {other:#x}"
                    )))
                }
            }
        }
        Ok(lock)
    }

    /// Whether the lock's TTL has run out at `current_ts` (both TSO timestamps).
    pub fn is_expired(&self, current_ts: u64) -> bool {
        physical_ms(self.ts).saturating_add(self.ttl) < physical_ms(current_ts)
    }
}

/// The physical milliseconds of a TSO timestamp.
pub fn physical_ms(ts: u64) -> u64 {
    ts >> 18
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lock_strategy() -> impl Strategy<Value = Lock> {
        (
            prop_oneof![
                Just(LockType::Put),
                Just(LockType::Delete),
                Just(LockType::Lock),
                Just(LockType::Pessimistic)
            ],
            proptest::collection::vec(any::<u8>(), 0..16),
            any::<u64>(),
            any::<u64>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32)),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            proptest::option::of(proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..8),
                0..4,
            )),
        )
            .prop_map(
                |(lock_type, primary, ts, ttl, short_value, fu, size, min, secondaries)| Lock {
                    lock_type,
                    primary,
                    ts,
                    ttl,
                    short_value,
                    for_update_ts: fu,
                    txn_size: size,
                    min_commit_ts: min,
                    use_async_commit: secondaries.is_some(),
                    secondaries: secondaries.unwrap_or_default(),
                },
            )
    }

    proptest! {
        #[test]
        fn round_trip(lock in lock_strategy()) {
            prop_assert_eq!(Lock::parse(&lock.to_bytes()).unwrap(), lock);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Lock::parse(&bytes);
        }

        #[test]
        fn truncation_is_an_error(lock in lock_strategy(), cut in 1usize..8) {
            let bytes = lock.to_bytes();
            let cut = cut.min(bytes.len());
            // Cutting inside the mandatory header must fail; cutting a tail field may still
            // parse (fields are optional) but must never panic.
            let _ = Lock::parse(&bytes[..bytes.len() - cut]);
            prop_assert!(Lock::parse(&bytes[..1.min(bytes.len())]).is_err());
        }
    }

    #[test]
    fn expiry_uses_physical_time() {
        let start = 1000 << 18;
        let lock = Lock::new(LockType::Put, b"k".to_vec(), start, 100);
        assert!(!lock.is_expired(1100 << 18));
        assert!(lock.is_expired(1101 << 18));
    }
}
