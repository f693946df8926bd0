//! Commit and rollback records as stored in the write column family at `key@commit_ts`.

use crate::codec;
use crate::error::{Error, Result};

/// Kind of a write record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteType {
    /// A committed value.
    Put,
    /// A committed delete.
    Delete,
    /// A committed lock-only mutation: no data change.
    Lock,
    /// A rollback marker at `key@start_ts`.
    Rollback,
}

impl WriteType {
    fn to_byte(self) -> u8 {
        match self {
            WriteType::Put => b'P',
            WriteType::Delete => b'D',
            WriteType::Lock => b'L',
            WriteType::Rollback => b'R',
        }
    }

    fn from_byte(byte: u8) -> Result<Self> {
        Ok(match byte {
            b'P' => WriteType::Put,
            b'D' => WriteType::Delete,
            b'L' => WriteType::Lock,
            b'R' => WriteType::Rollback,
            other => return Err(Error::Corrupted(format!("unknown write type {other:#x}"))),
        })
    }
}

/// A commit or rollback record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// What the record means.
    pub write_type: WriteType,
    /// The start_ts of the transaction that wrote it.
    pub start_ts: u64,
    /// The value, when short enough to inline.
    pub short_value: Option<Vec<u8>>,
    /// A rollback of another transaction with `start_ts == this commit_ts` was folded in here.
    pub has_overlapped_rollback: bool,
}

/// A `Write` parsed in place: the short value borrowed from the record's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRef<'a> {
    /// What the record means.
    pub write_type: WriteType,
    /// The start_ts of the transaction that wrote it.
    pub start_ts: u64,
    /// The inlined value.
    pub short_value: Option<&'a [u8]>,
    /// A rollback was folded in here.
    pub has_overlapped_rollback: bool,
}

impl<'a> WriteRef<'a> {
    /// Parses bytes written by `Write::to_bytes`.
    pub fn parse(mut input: &'a [u8]) -> Result<WriteRef<'a>> {
        let write_type = WriteType::from_byte(codec::decode_u8(&mut input)?)?;
        let start_ts = codec::decode_var_u64(&mut input)?;
        let mut write = WriteRef {
            write_type,
            start_ts,
            short_value: None,
            has_overlapped_rollback: false,
        };
        while !input.is_empty() {
            match codec::decode_u8(&mut input)? {
                TAG_SHORT_VALUE => {
                    write.short_value = Some(codec::decode_compact_bytes(&mut input)?)
                }
                TAG_OVERLAPPED_ROLLBACK => write.has_overlapped_rollback = true,
                other => {
                    return Err(Error::Corrupted(format!(
                        "unknown write field tag {other:#x}"
                    )))
                }
            }
        }
        Ok(write)
    }
}

const TAG_SHORT_VALUE: u8 = b'v';
const TAG_OVERLAPPED_ROLLBACK: u8 = b'R';

impl Write {
    /// A record without a short value.
    pub fn new(write_type: WriteType, start_ts: u64, short_value: Option<Vec<u8>>) -> Self {
        Write {
            write_type,
            start_ts,
            short_value,
            has_overlapped_rollback: false,
        }
    }

    /// Serializes the record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12);
        out.push(self.write_type.to_byte());
        codec::encode_var_u64(&mut out, self.start_ts);
        if let Some(value) = &self.short_value {
            out.push(TAG_SHORT_VALUE);
            codec::encode_compact_bytes(&mut out, value);
        }
        if self.has_overlapped_rollback {
            out.push(TAG_OVERLAPPED_ROLLBACK);
        }
        out
    }

    /// Parses bytes written by `to_bytes`.
    pub fn parse(input: &[u8]) -> Result<Write> {
        let write = WriteRef::parse(input)?;
        Ok(Write {
            write_type: write.write_type,
            start_ts: write.start_ts,
            short_value: write.short_value.map(<[u8]>::to_vec),
            has_overlapped_rollback: write.has_overlapped_rollback,
        })
    }

    /// Whether this record changes data (a put or a delete) as opposed to a marker.
    pub fn is_data_change(&self) -> bool {
        matches!(self.write_type, WriteType::Put | WriteType::Delete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(kind in 0u8..4, start_ts in any::<u64>(), value in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)), overlapped in any::<bool>()) {
            let write_type = [WriteType::Put, WriteType::Delete, WriteType::Lock, WriteType::Rollback][kind as usize];
            let write = Write { write_type, start_ts, short_value: value, has_overlapped_rollback: overlapped };
            prop_assert_eq!(Write::parse(&write.to_bytes()).unwrap(), write);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = Write::parse(&bytes);
        }
    }

    #[test]
    fn rejects_unknown_type() {
        assert!(Write::parse(b"X\x01").is_err());
        assert!(Write::parse(b"").is_err());
        assert!(Write::parse(b"P\x01Z").is_err());
    }
}
