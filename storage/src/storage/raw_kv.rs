//! The raw (non-transactional) half of `Storage`: point and batch reads, puts, deletes, scans,
//! range deletes and compare-and-swap, over user keys checked against the request's region
//! and API version, with TTLs under API V2.

use super::*;

impl<E: Engine> Storage<E> {
    /// Raw point read; expired values read as absent.
    pub async fn raw_get(
        &self,
        ctx: &RequestContext,
        cf: &str,
        key: Vec<u8>,
    ) -> Result<Option<Vec<u8>>> {
        let cf = raw::raw_cf(cf)?;
        let stored = self.check_raw_keys(ctx, &[key])?;
        let snapshot = self.engine.async_snapshot(ctx).await?;
        let value = raw::raw_get_live(&snapshot, ctx.api_version, cf, &stored[0], raw::now_secs())?;
        Ok(value.map(|value| value.value))
    }

    /// Raw point reads of several requests (the `RawGet`s of one `BatchCommands` message), each
    /// a `(context, column family, key)` answered as `raw_get` answers it. Consecutive
    /// requests addressed alike (region, epoch, peer, replica read) share one snapshot, as
    /// TiKV's batched gets share one per batch: taking and releasing a RocksDB snapshot costs
    /// about as much as the point read itself.
    pub async fn raw_get_each(
        &self,
        gets: &[(RequestContext, String, Vec<u8>)],
    ) -> Vec<Result<Option<Vec<u8>>>> {
        let now = raw::now_secs();
        let mut shared: Option<(&RequestContext, E::Snap)> = None;
        let mut values = Vec::with_capacity(gets.len());
        for (ctx, cf, key) in gets {
            let value = async {
                let cf = raw::raw_cf(cf)?;
                let stored = self.check_raw_keys(ctx, std::slice::from_ref(key))?;
                let snapshot = match &shared {
                    Some((shared_ctx, snapshot)) if same_snapshot(shared_ctx, ctx) => {
                        snapshot.clone()
                    }
                    _ => {
                        let snapshot = self.engine.async_snapshot(ctx).await?;
                        shared = Some((ctx, snapshot.clone()));
                        snapshot
                    }
                };
                let value = raw::raw_get_live(&snapshot, ctx.api_version, cf, &stored[0], now)?;
                Ok(value.map(|value| value.value))
            }
            .await;
            values.push(value);
        }
        values
    }

    /// The seconds a raw key has left to live: `None` if it does not exist, `Some(0)` if it
    /// has no TTL. TTL exists only under API V2.
    pub async fn raw_get_key_ttl(
        &self,
        ctx: &RequestContext,
        cf: &str,
        key: Vec<u8>,
    ) -> Result<Option<u64>> {
        check_ttl_enabled(ctx, true)?;
        let cf = raw::raw_cf(cf)?;
        let stored = self.check_raw_keys(ctx, &[key])?;
        let snapshot = self.engine.async_snapshot(ctx).await?;
        let now = raw::now_secs();
        let value = raw::raw_get_live(&snapshot, ctx.api_version, cf, &stored[0], now)?;
        Ok(value.map(|value| value.ttl_left(now)))
    }

    /// Raw batch read; missing and expired keys are left out.
    pub async fn raw_batch_get(
        &self,
        ctx: &RequestContext,
        cf: &str,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let cf = raw::raw_cf(cf)?;
        let stored = self.check_raw_keys(ctx, &keys)?;
        let snapshot = self.engine.async_snapshot(ctx).await?;
        let api = ctx.api_version;
        read_keys(keys.len(), move || {
            let now = raw::now_secs();
            let mut pairs = Vec::with_capacity(keys.len());
            for (key, stored) in keys.into_iter().zip(stored) {
                if let Some(value) = raw::raw_get_live(&snapshot, api, cf, &stored, now)? {
                    pairs.push((key, value.value));
                }
            }
            Ok(pairs)
        })
        .await
    }

    /// Raw puts, atomic as a batch. `ttls` is empty, or one TTL (seconds, 0: forever) for every
    /// pair, or one per pair.
    pub async fn raw_put(
        &self,
        ctx: &RequestContext,
        cf: &str,
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
        ttls: &[u64],
    ) -> Result<()> {
        let cf = raw::raw_cf(cf)?;
        let any_ttl = ttls.iter().any(|&ttl| ttl != 0);
        check_ttl_enabled(ctx, any_ttl)?;
        if ttls.len() > 1 && ttls.len() != pairs.len() {
            return Err(Error::InvalidRequest(format!(
                "{} TTLs for {} pairs",
                ttls.len(),
                pairs.len()
            )));
        }
        let keys: Vec<Vec<u8>> = pairs.iter().map(|(key, _)| key.clone()).collect();
        let stored = self.check_raw_keys(ctx, &keys)?;
        let now = raw::now_secs();
        let modifies = pairs
            .into_iter()
            .zip(stored)
            .enumerate()
            .map(|(i, ((_, value), stored))| {
                let ttl = ttls.get(i).or(ttls.first()).copied().unwrap_or(0);
                let value = RawValue::with_ttl(value, ttl, now).encode(ctx.api_version);
                Modify::Put(cf, stored, value)
            })
            .collect();
        self.raw_write(ctx, modifies).await
    }

    /// Raw deletes, atomic as a batch.
    pub async fn raw_delete(
        &self,
        ctx: &RequestContext,
        cf: &str,
        keys: Vec<Vec<u8>>,
    ) -> Result<()> {
        let cf = raw::raw_cf(cf)?;
        let stored = self.check_raw_keys(ctx, &keys)?;
        let modifies = stored
            .into_iter()
            .map(|key| Modify::Delete(cf, key))
            .collect();
        self.raw_write(ctx, modifies).await
    }

    async fn raw_write(&self, ctx: &RequestContext, modifies: Vec<Modify>) -> Result<()> {
        let keys: Vec<Vec<u8>> = modifies
            .iter()
            .map(|modify| match modify {
                Modify::Put(_, key, _)
                | Modify::Delete(_, key)
                | Modify::DeleteRange(_, key, _) => key.clone(),
            })
            .collect();
        let _latch = self.latches.acquire(&keys).await;
        self.engine.async_write(ctx, modifies).await
    }

    /// Raw range scan over user keys (see `raw::raw_scan` for the bounds of reverse scans).
    #[allow(clippy::too_many_arguments)]
    pub async fn raw_scan(
        &self,
        ctx: &RequestContext,
        cf: &str,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: usize,
        key_only: bool,
        reverse: bool,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if limit > MAX_SCAN_LIMIT {
            return Err(Error::InvalidRequest(format!(
                "scan limit {limit} exceeds {MAX_SCAN_LIMIT}"
            )));
        }
        let cf = raw::raw_cf(cf)?;
        check_raw_range(ctx, &start, &end)?;
        let snapshot = self.engine.async_snapshot(ctx).await?;
        let api = ctx.api_version;
        blocking(move || raw::raw_scan(&snapshot, api, cf, &start, &end, limit, key_only, reverse))
            .await
    }

    /// Raw delete of the user keys in `[start, end)` within the request's region.
    pub async fn raw_delete_range(
        &self,
        ctx: &RequestContext,
        cf: &str,
        start: Vec<u8>,
        end: Vec<u8>,
    ) -> Result<()> {
        let cf = raw::raw_cf(cf)?;
        check_raw_range(ctx, &start, &end)?;
        if !end.is_empty() && start > end {
            return Err(Error::InvalidRequest(
                "delete range start is after its end".into(),
            ));
        }
        let (lower, upper) = (
            raw::stored_bound(ctx.api_version, &start),
            raw::stored_bound(ctx.api_version, &end),
        );
        self.engine
            .async_write(ctx, vec![Modify::DeleteRange(cf, lower, upper)])
            .await
    }

    /// Raw compare-and-swap: writes `value` (or deletes, if `delete`) when the current live
    /// value is `expected` (`None`: the key must not exist). Returns whether it swapped and the
    /// previous value.
    #[allow(clippy::too_many_arguments)]
    pub async fn raw_compare_and_swap(
        &self,
        ctx: &RequestContext,
        cf: &str,
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        delete: bool,
        ttl: u64,
    ) -> Result<(bool, Option<Vec<u8>>)> {
        let cf = raw::raw_cf(cf)?;
        check_ttl_enabled(ctx, ttl != 0)?;
        let stored = self.check_raw_keys(ctx, &[key])?;
        let stored = stored.into_iter().next().unwrap_or_default();
        let _latch = self.latches.acquire(std::slice::from_ref(&stored)).await;
        let snapshot = self.engine.async_snapshot(ctx).await?;
        let now = raw::now_secs();
        let previous = raw::raw_get_live(&snapshot, ctx.api_version, cf, &stored, now)?
            .map(|value| value.value);
        if previous != expected {
            return Ok((false, previous));
        }
        let modify = if delete {
            Modify::Delete(cf, stored)
        } else {
            let value = RawValue::with_ttl(value, ttl, now).encode(ctx.api_version);
            Modify::Put(cf, stored, value)
        };
        self.engine.async_write(ctx, vec![modify]).await?;
        Ok((true, previous))
    }
}

/// Whether a snapshot taken for `a` serves `b`: the same region, epoch and peer, read the
/// same way. (Locks and isolation level do not matter to a snapshot; the API version is
/// applied per read.)
fn same_snapshot(a: &RequestContext, b: &RequestContext) -> bool {
    a.region_id == b.region_id
        && a.region_epoch == b.region_epoch
        && a.peer == b.peer
        && a.replica_read == b.replica_read
}

/// TTL needs the value metadata of API V2.
fn check_ttl_enabled(ctx: &RequestContext, wanted: bool) -> Result<()> {
    if wanted && ctx.api_version == ApiVersion::V1 {
        return Err(Error::Unsupported(
            "TTL is not enabled for API V1 requests: use API V2".into(),
        ));
    }
    Ok(())
}

/// Checks the key mode of a raw range's non-empty bounds.
fn check_raw_range(ctx: &RequestContext, start: &[u8], end: &[u8]) -> Result<()> {
    for bound in [start, end] {
        if !bound.is_empty() {
            raw::check_key_mode(ctx.api_version, KeyMode::Raw, bound)?;
        }
    }
    Ok(())
}
