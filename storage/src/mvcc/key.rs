//! MVCC keys: a user key in memcomparable form, optionally followed by a descending timestamp.

use crate::codec;
use crate::error::{Error, Result};

/// A user key in its stored (memcomparable) form. Versions append a descending timestamp so the
/// newest version of a key sorts first.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_raw() {
            Ok(raw) => write!(f, "Key({:?})", String::from_utf8_lossy(&raw)),
            Err(_) => write!(f, "Key(encoded {:x?})", self.0),
        }
    }
}

impl Key {
    /// Encodes a user key.
    pub fn from_raw(raw: &[u8]) -> Key {
        let mut encoded = Vec::with_capacity(codec::encoded_bytes_len(raw.len()) + 8);
        codec::encode_bytes(&mut encoded, raw);
        Key(encoded)
    }

    /// Wraps bytes that are already an encoded key (no timestamp).
    pub fn from_encoded(encoded: Vec<u8>) -> Key {
        Key(encoded)
    }

    /// The encoded bytes.
    pub fn as_encoded(&self) -> &[u8] {
        &self.0
    }

    /// The encoded bytes, taken back (to reuse the buffer).
    pub fn into_encoded(self) -> Vec<u8> {
        self.0
    }

    /// Decodes back to the user key.
    pub fn to_raw(&self) -> Result<Vec<u8>> {
        let mut raw = Vec::with_capacity(self.0.len());
        self.to_raw_into(&mut raw)?;
        Ok(raw)
    }

    /// Decodes the user key into `out` (cleared first).
    pub fn to_raw_into(&self, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        let rest = codec::decode_bytes_into(&self.0, out)?;
        if !rest.is_empty() {
            return Err(Error::Corrupted("trailing bytes after key".into()));
        }
        Ok(())
    }

    /// The stored key of this user key's version at `ts`.
    pub fn append_ts(&self, ts: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() + 8);
        out.extend_from_slice(&self.0);
        codec::encode_ts_desc(&mut out, ts);
        out
    }

    /// Splits a versioned stored key into its encoded user key and timestamp.
    pub fn split_on_ts(versioned: &[u8]) -> Result<(&[u8], u64)> {
        if versioned.len() < 8 {
            return Err(Error::Corrupted(format!(
                "versioned key has {} bytes, fewer than a timestamp",
                versioned.len()
            )));
        }
        let (key, ts) = versioned.split_at(versioned.len() - 8);
        Ok((key, codec::decode_ts_desc(ts)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_newest_first_and_keys_in_order() {
        let a = Key::from_raw(b"a");
        let ab = Key::from_raw(b"ab");
        assert!(a.append_ts(5) < a.append_ts(3));
        assert!(a.append_ts(0) < ab.append_ts(u64::MAX));
        let versioned = a.append_ts(42);
        let (key, ts) = Key::split_on_ts(&versioned).unwrap();
        assert_eq!(key, a.as_encoded());
        assert_eq!(ts, 42);
        assert_eq!(a.to_raw().unwrap(), b"a");
        assert!(Key::split_on_ts(b"short").is_err());
    }
}
