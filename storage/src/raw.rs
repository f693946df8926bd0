//! Raw key-value reads (API v1): keys are stored as given, in the column family the request
//! names (default if empty), with no versions.

use crate::engine::{EngineIterator, IterOptions, Snapshot, CF_DEFAULT, CF_LOCK, CF_WRITE};
use crate::error::{Error, Result};

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

/// A raw range scan. Forward scans read `[start, end)`; reverse scans read `[end, start)` from
/// the top down, as kvproto specifies. An empty bound is unbounded.
#[allow(clippy::too_many_arguments)]
pub fn raw_scan<S: Snapshot>(
    snapshot: &S,
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
    let mut iter = snapshot.iterator_cf(cf, IterOptions::bounded(lower, upper))?;
    let mut valid = if reverse {
        iter.seek_to_last()?
    } else {
        iter.seek_to_first()?
    };
    while valid && pairs.len() < limit {
        let value = if key_only {
            Vec::new()
        } else {
            iter.value().to_vec()
        };
        pairs.push((iter.key().to_vec(), value));
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
            keys(raw_scan(&snap, CF_DEFAULT, b"b", b"", 10, false, false).unwrap()),
            vec![b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        assert_eq!(
            keys(raw_scan(&snap, CF_DEFAULT, b"d", b"a", 10, false, true).unwrap()),
            vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]
        );
        assert_eq!(
            raw_scan(&snap, CF_DEFAULT, b"", b"", 2, true, false).unwrap(),
            vec![(b"a".to_vec(), vec![]), (b"b".to_vec(), vec![])]
        );
        assert!(raw_cf("nope").is_err());
    }
}
