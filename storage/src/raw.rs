//! Raw key-value layouts and scans. Under API V1 keys and values are stored as given. Under
//! API V2 (keys prefixed `r` + keyspace id) keys are stored memcomparable-encoded, so that region
//! boundaries compare the same way as for transactional keys, and values carry a suffix with an
//! optional expiry time and a flag byte: `value ‖ [expire_ts: u64 BE] ‖ flags`, where flag bit 0
//! says an expiry is present.

use crate::codec::{decode_bytes, encode_bytes};
use crate::engine::{EngineIterator, IterOptions, Snapshot, CF_DEFAULT, CF_LOCK, CF_WRITE};
use crate::error::{Error, Result};
use crate::kv::ApiVersion;

/// First byte of API V2 raw keys.
pub const RAW_KEY_PREFIX: u8 = b'r';
/// First byte of API V2 transactional keys.
pub const TXN_KEY_PREFIX: u8 = b'x';
/// First bytes of keys TiDB writes (`t` table data, `m` metadata), allowed in transactions.
const TIDB_KEY_PREFIXES: [u8; 2] = [b't', b'm'];
const FLAG_EXPIRE: u8 = 0x01;
const KNOWN_FLAGS: u8 = FLAG_EXPIRE;

/// Whether the keys of a request are raw or transactional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Raw KV.
    Raw,
    /// Transactional KV.
    Txn,
}

/// Checks that `key` belongs to `mode` under `api` (API V1 accepts any key).
pub fn check_key_mode(api: ApiVersion, mode: KeyMode, key: &[u8]) -> Result<()> {
    if api == ApiVersion::V1 {
        return Ok(());
    }
    let ok = match (mode, key.first()) {
        (KeyMode::Raw, Some(&RAW_KEY_PREFIX)) => true,
        (KeyMode::Txn, Some(&first)) => {
            first == TXN_KEY_PREFIX || TIDB_KEY_PREFIXES.contains(&first)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "key {key:?} is not in the {mode:?} key mode of API V2"
        )))
    }
}

/// Resolves a request's column family name; raw requests may only touch data families.
pub fn raw_cf(name: &str) -> Result<&'static str> {
    match name {
        "" | "default" => Ok(CF_DEFAULT),
        "lock" => Ok(CF_LOCK),
        "write" => Ok(CF_WRITE),
        other => Err(Error::InvalidRequest(format!(
            "unknown column family {other:?}"
        ))),
    }
}

/// The stored form of a raw key (also the form region boundaries use).
pub fn stored_key(api: ApiVersion, key: &[u8]) -> Vec<u8> {
    match api {
        ApiVersion::V1 => key.to_vec(),
        ApiVersion::V2 => {
            let mut out = Vec::with_capacity(key.len() + key.len() / 8 + 9);
            encode_bytes(&mut out, key);
            out
        }
    }
}

/// The stored form of a range bound; an empty bound stays empty (unbounded).
pub fn stored_bound(api: ApiVersion, key: &[u8]) -> Vec<u8> {
    if key.is_empty() {
        Vec::new()
    } else {
        stored_key(api, key)
    }
}

/// The user key of a stored raw key.
pub fn user_key(api: ApiVersion, stored: &[u8]) -> Result<Vec<u8>> {
    match api {
        ApiVersion::V1 => Ok(stored.to_vec()),
        ApiVersion::V2 => {
            let (key, rest) = decode_bytes(stored)?;
            if !rest.is_empty() {
                return Err(Error::Corrupted(format!(
                    "raw key {stored:?} has {} trailing bytes",
                    rest.len()
                )));
            }
            Ok(key)
        }
    }
}

/// A raw value with its optional expiry (seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue {
    /// The user's value.
    pub value: Vec<u8>,
    /// When the value expires, if it has a TTL.
    pub expire_ts: Option<u64>,
}

impl RawValue {
    /// A value living `ttl` seconds from `now` (0: forever).
    pub fn with_ttl(value: Vec<u8>, ttl: u64, now: u64) -> RawValue {
        RawValue {
            value,
            expire_ts: (ttl != 0).then(|| now.saturating_add(ttl)),
        }
    }

    /// The stored bytes.
    pub fn encode(&self, api: ApiVersion) -> Vec<u8> {
        match api {
            ApiVersion::V1 => self.value.clone(),
            ApiVersion::V2 => {
                let mut out = Vec::with_capacity(self.value.len() + 9);
                out.extend_from_slice(&self.value);
                let mut flags = 0;
                if let Some(expire) = self.expire_ts {
                    out.extend_from_slice(&expire.to_be_bytes());
                    flags |= FLAG_EXPIRE;
                }
                out.push(flags);
                out
            }
        }
    }

    /// Decodes stored bytes.
    pub fn decode(api: ApiVersion, bytes: &[u8]) -> Result<RawValue> {
        if api == ApiVersion::V1 {
            return Ok(RawValue {
                value: bytes.to_vec(),
                expire_ts: None,
            });
        }
        let corrupted = |what: &str| Error::Corrupted(format!("raw value: {what}"));
        let (&flags, rest) = bytes.split_last().ok_or_else(|| corrupted("empty"))?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(corrupted(&format!("unknown flags {flags:#04x}")));
        }
        if flags & FLAG_EXPIRE == 0 {
            return Ok(RawValue {
                value: rest.to_vec(),
                expire_ts: None,
            });
        }
        let split = rest
            .len()
            .checked_sub(8)
            .ok_or_else(|| corrupted("expiry truncated"))?;
        let (value, expire) = rest.split_at(split);
        let mut be = [0u8; 8];
        be.copy_from_slice(expire);
        Ok(RawValue {
            value: value.to_vec(),
            expire_ts: Some(u64::from_be_bytes(be)),
        })
    }

    /// Whether the value is dead at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_ts.is_some_and(|expire| expire <= now)
    }

    /// Seconds left to live at `now` (0 for a value without TTL).
    pub fn ttl_left(&self, now: u64) -> u64 {
        self.expire_ts
            .map_or(0, |expire| expire.saturating_sub(now))
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Reads the live value stored at `stored` (expired values read as absent).
pub fn raw_get_live<S: Snapshot>(
    snapshot: &S,
    api: ApiVersion,
    cf: &str,
    stored: &[u8],
    now: u64,
) -> Result<Option<RawValue>> {
    match snapshot.get_cf(cf, stored)? {
        Some(bytes) => {
            let value = RawValue::decode(api, &bytes)?;
            Ok((!value.is_expired(now)).then_some(value))
        }
        None => Ok(None),
    }
}

/// A raw range scan over user keys. Forward scans read `[start, end)`; reverse scans read
/// `[end, start)` from the top down, as kvproto specifies. An empty bound is unbounded.
/// Expired values are skipped.
#[allow(clippy::too_many_arguments)]
pub fn raw_scan<S: Snapshot>(
    snapshot: &S,
    api: ApiVersion,
    cf: &str,
    start: &[u8],
    end: &[u8],
    limit: usize,
    key_only: bool,
    reverse: bool,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut pairs = Vec::new();
    if limit == 0 {
        return Ok(pairs);
    }
    let (lower, upper) = if reverse { (end, start) } else { (start, end) };
    let (lower, upper) = (stored_bound(api, lower), stored_bound(api, upper));
    let mut iter = snapshot.iterator_cf(cf, IterOptions::bounded(&lower, &upper))?;
    let mut valid = if reverse {
        iter.seek_to_last()?
    } else {
        iter.seek_to_first()?
    };
    let now = now_secs();
    while valid && pairs.len() < limit {
        let value = RawValue::decode(api, iter.value())?;
        if !value.is_expired(now) {
            let key = user_key(api, iter.key())?;
            pairs.push((key, if key_only { Vec::new() } else { value.value }));
        }
        valid = if reverse { iter.prev()? } else { iter.next()? };
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{KvEngine, MemoryEngine, Modify};

    #[test]
    fn scans_both_ways_with_limits() {
        let engine = MemoryEngine::new();
        let batch: Vec<Modify> = [b"a", b"b", b"c", b"d"]
            .iter()
            .map(|key| Modify::Put(CF_DEFAULT, key.to_vec(), key.to_vec()))
            .collect();
        engine.write(&batch, false).unwrap();
        let snap = engine.snapshot();
        let keys =
            |pairs: Vec<(Vec<u8>, Vec<u8>)>| pairs.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            keys(
                raw_scan(
                    &snap,
                    ApiVersion::V1,
                    CF_DEFAULT,
                    b"b",
                    b"",
                    10,
                    false,
                    false
                )
                .unwrap()
            ),
            vec![b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        assert_eq!(
            keys(
                raw_scan(
                    &snap,
                    ApiVersion::V1,
                    CF_DEFAULT,
                    b"d",
                    b"a",
                    10,
                    false,
                    true
                )
                .unwrap()
            ),
            vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]
        );
        assert_eq!(
            raw_scan(&snap, ApiVersion::V1, CF_DEFAULT, b"", b"", 2, true, false).unwrap(),
            vec![(b"a".to_vec(), vec![]), (b"b".to_vec(), vec![])]
        );
        assert!(raw_cf("nope").is_err());
    }

    #[test]
    fn v2_values_round_trip_and_expire() {
        let forever = RawValue::with_ttl(b"v".to_vec(), 0, 100);
        let bytes = forever.encode(ApiVersion::V2);
        assert_eq!(bytes, vec![b'v', 0]);
        assert_eq!(RawValue::decode(ApiVersion::V2, &bytes).unwrap(), forever);
        let short = RawValue::with_ttl(b"v".to_vec(), 10, 100);
        let bytes = short.encode(ApiVersion::V2);
        assert_eq!(bytes.len(), 1 + 8 + 1);
        let back = RawValue::decode(ApiVersion::V2, &bytes).unwrap();
        assert_eq!(back.expire_ts, Some(110));
        assert_eq!(back.ttl_left(104), 6);
        assert!(!back.is_expired(109));
        assert!(back.is_expired(110));
        // V1 values are stored as given.
        assert_eq!(forever.encode(ApiVersion::V1), b"v".to_vec());
    }

    #[test]
    fn v2_value_decoder_rejects_corruption() {
        assert!(RawValue::decode(ApiVersion::V2, b"").is_err());
        assert!(RawValue::decode(ApiVersion::V2, &[1, 2, 0x80]).is_err());
        // Flag says an expiry follows but only 3 bytes precede it.
        assert!(RawValue::decode(ApiVersion::V2, &[1, 2, 3, FLAG_EXPIRE]).is_err());
    }

    #[test]
    fn key_modes_of_api_v2() {
        assert!(check_key_mode(ApiVersion::V2, KeyMode::Raw, b"r\0\0\0k").is_ok());
        assert!(check_key_mode(ApiVersion::V2, KeyMode::Raw, b"x\0\0\0k").is_err());
        assert!(check_key_mode(ApiVersion::V2, KeyMode::Raw, b"").is_err());
        assert!(check_key_mode(ApiVersion::V2, KeyMode::Txn, b"x\0\0\0k").is_ok());
        assert!(check_key_mode(ApiVersion::V2, KeyMode::Txn, b"t\x80").is_ok());
        assert!(check_key_mode(ApiVersion::V2, KeyMode::Txn, b"r\0\0\0k").is_err());
        assert!(check_key_mode(ApiVersion::V1, KeyMode::Raw, b"anything").is_ok());
        let stored = stored_key(ApiVersion::V2, b"r\0\0\0k");
        assert_eq!(
            user_key(ApiVersion::V2, &stored).unwrap(),
            b"r\0\0\0k".to_vec()
        );
        assert!(user_key(ApiVersion::V2, b"r\0").is_err());
    }

    proptest::proptest! {
        #[test]
        fn v2_value_decoder_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            if let Ok(value) = RawValue::decode(ApiVersion::V2, &bytes) {
                proptest::prop_assert_eq!(value.encode(ApiVersion::V2), bytes);
            }
        }
    }
}
