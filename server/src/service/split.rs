//! `SplitRegion`: TiDB's `SPLIT TABLE`, client-go's `SplitRegions` and PD ask a region's leader
//! to split it at given keys. This module turns the request into stored-form split keys, checks
//! them against the region, and shapes the answer; a [`RegionSplitter`] (one per store mode:
//! `crate::region_split`) carries the split out.
//!
//! Upstream behaviour matched (tikv c61f6492 `src/server/service/kv.rs` `split_region`, the
//! raftstore peer's `validate_split_region`, tikv 030076b2
//! `components/raftstore/src/coprocessor/split_observer.rs`, kvproto 62123351 comments):
//! - Keys are user keys, memcomparable-encoded (`Key::from_raw`) unless `is_raw_kv`; the
//!   deprecated `split_key` wins over `split_keys` when set. Keys are sorted.
//! - No key, or an empty key: an error. The region's `version` must match the request's
//!   (`conf_ver` is not compared): else `epoch_not_match` with the current region.
//! - Keys equal to the region's start key, and repeated keys, are skipped; if no key is left the
//!   split fails with "no valid key found for split.".
//! - The answer lists every resulting region in key order; `left` and `right` are set only when
//!   there are exactly two.
//!
//! Where Basalt is stricter: upstream also skips keys outside the region; Basalt answers
//! `key_not_in_region` for them, and refuses more than [`MAX_SPLIT_KEYS`] keys at once.

use basalt_proto::{kvrpcpb, metapb};
use basalt_storage::mvcc::Key;
use basalt_storage::RequestContext;

use super::convert::{request_context, split_error};
use crate::error::Result;
use crate::metrics::RequestTimer;

/// What `SplitRegion` answers on a store that cannot split (no splitter was given).
pub(super) const NO_SPLITTER: &str = "this store does not split regions on request";

/// The most keys one request may split at: what Basalt's PD hands out ids for in one
/// `AskBatchSplit`. (client-go sends up to 2048 keys a request, TiDB's `SPLIT` up to 1000.)
pub const MAX_SPLIT_KEYS: usize = 1024;

/// Splits the region a request names; implemented once per store mode.
#[tonic::async_trait]
pub trait RegionSplitter: Send + Sync + 'static {
    /// Splits the region of `ctx` at `keys` (stored form, sorted, unique, not yet checked
    /// against the region: see [`check_split_keys`]) and answers every resulting region in key
    /// order, once the split is in effect.
    async fn split_region(
        &self,
        ctx: &RequestContext,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<metapb::Region>>;
}

/// The request's split keys in stored form, sorted and without repeats.
pub fn requested_keys(request: &kvrpcpb::SplitRegionRequest) -> Vec<Vec<u8>> {
    #[allow(deprecated)]
    let single = &request.split_key;
    let keys = if single.is_empty() {
        request.split_keys.as_slice()
    } else {
        std::slice::from_ref(single)
    };
    let mut keys: Vec<Vec<u8>> = keys
        .iter()
        .map(|key| match request.is_raw_kv {
            true => key.clone(),
            false => Key::from_raw(key).as_encoded().to_vec(),
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Checks a split of `region` at `keys` (stored form, sorted, unique) asked with `epoch`, and
/// answers the keys to split at: those strictly inside the region.
pub fn check_split_keys(
    region: &metapb::Region,
    epoch: Option<&metapb::RegionEpoch>,
    keys: Vec<Vec<u8>>,
) -> basalt_storage::Result<Vec<Vec<u8>>> {
    let invalid = |why: String| {
        basalt_storage::Error::InvalidRequest(format!("split of region {}: {why}", region.id))
    };
    if keys.is_empty() || keys.iter().any(Vec::is_empty) {
        return Err(invalid("no split key is specified, or one is empty".into()));
    }
    if keys.len() > MAX_SPLIT_KEYS {
        return Err(invalid(format!(
            "{} split keys exceed the limit of {MAX_SPLIT_KEYS}",
            keys.len()
        )));
    }
    let current = region.region_epoch.unwrap_or_default();
    let asked = epoch.copied().unwrap_or_default();
    if asked.version != current.version {
        return Err(basalt_raftstore::errors::epoch_not_match(
            format!(
                "split of region {}: epoch version {} is not the region's {}",
                region.id, asked.version, current.version
            ),
            vec![region.clone()],
        ));
    }
    let beyond_end = |key: &[u8]| !region.end_key.is_empty() && key >= region.end_key.as_slice();
    if let Some(outside) = keys
        .iter()
        .find(|key| key.as_slice() < region.start_key.as_slice() || beyond_end(key))
    {
        return Err(basalt_raftstore::errors::key_not_in_region(outside, region));
    }
    let inside: Vec<Vec<u8>> = keys
        .into_iter()
        .filter(|key| *key != region.start_key)
        .collect();
    if inside.is_empty() {
        return Err(invalid("no valid key found for split.".into()));
    }
    Ok(inside)
}

/// `SplitRegion`.
pub(super) async fn split_region(
    splitter: &dyn RegionSplitter,
    request: kvrpcpb::SplitRegionRequest,
) -> kvrpcpb::SplitRegionResponse {
    let timer = RequestTimer::start("split_region");
    let ctx = request_context(request.context.as_ref());
    let keys = requested_keys(&request);
    let mut response = kvrpcpb::SplitRegionResponse::default();
    let label = match splitter.split_region(&ctx, keys).await {
        Ok(regions) => {
            if let [left, right] = regions.as_slice() {
                #[allow(deprecated)]
                {
                    response.left = Some(left.clone());
                    response.right = Some(right.clone());
                }
            }
            tracing::info!(
                region_id = ctx.region_id,
                regions = ?regions.iter().map(|region| region.id).collect::<Vec<_>>(),
                "split region on request"
            );
            response.regions = regions;
            "ok"
        }
        Err(err) => {
            tracing::info!(region_id = ctx.region_id, %err, "split region refused");
            response.region_error = Some(split_error(err));
            "region_error"
        }
    };
    timer.finish(label);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: &[u8], end: &[u8], version: u64) -> metapb::Region {
        metapb::Region {
            id: 7,
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 3,
                version,
            }),
            ..Default::default()
        }
    }

    fn epoch(conf_ver: u64, version: u64) -> Option<metapb::RegionEpoch> {
        Some(metapb::RegionEpoch { conf_ver, version })
    }

    fn keys(keys: &[&[u8]]) -> Vec<Vec<u8>> {
        keys.iter().map(|key| key.to_vec()).collect()
    }

    #[test]
    fn requested_keys_are_encoded_sorted_and_unique() {
        let request = kvrpcpb::SplitRegionRequest {
            split_keys: keys(&[b"b", b"a", b"b", b"c"]),
            ..Default::default()
        };
        let expected: Vec<Vec<u8>> = [b"a", b"b", b"c"]
            .iter()
            .map(|key| Key::from_raw(&key[..]).as_encoded().to_vec())
            .collect();
        assert_eq!(requested_keys(&request), expected);

        let raw = kvrpcpb::SplitRegionRequest {
            is_raw_kv: true,
            ..request
        };
        assert_eq!(requested_keys(&raw), keys(&[b"a", b"b", b"c"]));
    }

    #[test]
    #[allow(deprecated)]
    fn the_single_split_key_wins_over_the_list() {
        let request = kvrpcpb::SplitRegionRequest {
            split_key: b"k".to_vec(),
            split_keys: keys(&[b"a"]),
            is_raw_kv: true,
            ..Default::default()
        };
        assert_eq!(requested_keys(&request), keys(&[b"k"]));
    }

    #[test]
    fn keys_at_the_start_are_skipped_and_the_rest_kept() {
        let region = region(b"b", b"y", 5);
        let checked = check_split_keys(&region, epoch(1, 5).as_ref(), keys(&[b"b", b"c", b"x"]));
        assert_eq!(checked.expect("valid split"), keys(&[b"c", b"x"]));
        let unbounded = metapb::Region {
            end_key: Vec::new(),
            ..region
        };
        let checked = check_split_keys(&unbounded, epoch(3, 5).as_ref(), keys(&[b"zzz"]));
        assert_eq!(
            checked.expect("inside an unbounded region"),
            keys(&[b"zzz"])
        );
    }

    fn region_error(result: basalt_storage::Result<Vec<Vec<u8>>>) -> basalt_proto::errorpb::Error {
        match result {
            Err(basalt_storage::Error::Region(error)) => *error,
            other => panic!("expected a region error, got {other:?}"),
        }
    }

    #[test]
    fn bad_splits_are_refused() {
        let region = region(b"b", b"y", 5);
        let check = |epoch: Option<metapb::RegionEpoch>, keys: Vec<Vec<u8>>| {
            check_split_keys(&region, epoch.as_ref(), keys)
        };
        let stale = region_error(check(epoch(3, 4), keys(&[b"c"])));
        let current = stale
            .epoch_not_match
            .expect("epoch_not_match")
            .current_regions;
        assert_eq!(current, vec![region.clone()]);
        region_error(check(None, keys(&[b"c"])))
            .epoch_not_match
            .expect("no epoch is stale");

        for outside in [b"a".as_slice(), b"y", b"z"] {
            let error = region_error(check(epoch(3, 5), keys(&[b"c", outside])));
            let not_in = error.key_not_in_region.expect("key_not_in_region");
            assert_eq!(not_in.key, outside.to_vec());
        }

        for (keys, why) in [
            (Vec::new(), "no split key"),
            (keys(&[b""]), "no split key"),
            (keys(&[b"b"]), "no valid key"),
        ] {
            let err = check(epoch(3, 5), keys).expect_err(why);
            assert!(err.to_string().contains(why), "{err}");
        }
        let many: Vec<Vec<u8>> = (0..=MAX_SPLIT_KEYS)
            .map(|i| format!("c{i:05}").into_bytes())
            .collect();
        let err = check(epoch(3, 5), many).expect_err("too many keys");
        assert!(err.to_string().contains("exceed"), "{err}");
    }
}
