//! The seam between the transaction layer and replication. `Engine` takes a request context
//! (region, epoch, peer) and gives snapshots and applies writes. `LocalEngine` implements it on
//! a local `KvEngine` for a single-node store serving several regions; the Raft store will
//! implement it by proposing writes to each region's Raft group. Data keys live behind the `z`
//! prefix so the same column families can hold the store's own metadata.
//!
//! Region boundaries are in the stored key space: memcomparable-encoded user keys for
//! transactional and API V2 raw data, the keys as given for API V1 raw data. Snapshots are
//! clipped to the region they were taken for.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use basalt_proto::{errorpb, kvrpcpb, metapb};
use parking_lot::RwLock;
use prost::Message;

use crate::engine::{
    EngineIterator, IterOptions, KvEngine, Modify, Snapshot, CF_DEFAULT, CF_LOCK, CF_RAFT, CF_WRITE,
};
use crate::error::{Error, Result};

/// Prefix of user data keys in the engine.
pub const DATA_PREFIX: u8 = b'z';
const DATA_PREFIX_END: u8 = DATA_PREFIX + 1;
/// Prefix of the region metadata records in the raft column family.
const REGION_META_PREFIX: &[u8] = b"region/";

/// Which key and value layout a request uses (kvrpcpb `ApiVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVersion {
    /// Keys as given; raw values without metadata (no TTL).
    #[default]
    V1,
    /// Keys carry a mode and keyspace prefix (`r`/`x` + 3-byte keyspace id); raw keys are stored
    /// memcomparable-encoded and raw values carry a TTL/metadata suffix.
    V2,
}

/// What the transaction layer knows about a request's routing.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The region the client addressed.
    pub region_id: u64,
    /// The epoch the client believes the region has.
    pub region_epoch: Option<metapb::RegionEpoch>,
    /// The peer the client addressed.
    pub peer: Option<metapb::Peer>,
    /// Transactions whose locks a reader may ignore.
    pub resolved_locks: Vec<u64>,
    /// Transactions known to be committed: their locks are read through.
    pub committed_locks: Vec<u64>,
    /// Read committed: ignore locks entirely.
    pub read_committed: bool,
    /// The API version of the request.
    pub api_version: ApiVersion,
    /// Read from a follower after a ReadIndex round with the leader.
    pub replica_read: bool,
    /// Keep the blocks a scan reads out of the block cache.
    pub not_fill_cache: bool,
}

impl RequestContext {
    /// Transactions whose in-memory (async-commit) locks a reader skips: resolved ones, and
    /// committed ones whose persisted lock it then reads through.
    pub fn skipped_memory_locks(&self) -> Vec<u64> {
        let mut skipped = self.resolved_locks.clone();
        skipped.extend_from_slice(&self.committed_locks);
        skipped
    }

    /// The context of a wire request.
    pub fn from_wire(ctx: Option<&kvrpcpb::Context>) -> Self {
        let Some(ctx) = ctx else {
            return RequestContext::default();
        };
        RequestContext {
            region_id: ctx.region_id,
            region_epoch: ctx.region_epoch,
            peer: ctx.peer,
            resolved_locks: ctx.resolved_locks.clone(),
            committed_locks: ctx.committed_locks.clone(),
            read_committed: ctx.isolation_level == kvrpcpb::IsolationLevel::Rc as i32,
            replica_read: ctx.replica_read,
            not_fill_cache: ctx.not_fill_cache,
            api_version: if ctx.api_version == kvrpcpb::ApiVersion::V2 as i32 {
                ApiVersion::V2
            } else {
                ApiVersion::V1
            },
        }
    }
}

/// Snapshots and writes for requests addressed to regions.
pub trait Engine: Clone + Send + Sync + 'static {
    /// The snapshot type.
    type Snap: Snapshot + Clone;
    /// A snapshot of the request's region (iterators see only its keys), after checking that
    /// the region is served.
    fn async_snapshot(
        &self,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Self::Snap>> + Send;
    /// Applies `modifies` (data keys, without prefix) atomically for the request's region.
    fn async_write(
        &self,
        ctx: &RequestContext,
        modifies: Vec<Modify>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Checks that every key, in stored form, is inside the request's region.
    fn check_keys_in_region(&self, ctx: &RequestContext, keys: &[&[u8]]) -> Result<()>;
    /// Drops every key of `[start, end)` (stored form; empty end: unbounded) in the data column
    /// families of this store, whatever region holds it, without replication.
    fn unsafe_destroy_range(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The key of a region's metadata record in the raft column family.
fn region_meta_key(region_id: u64) -> Vec<u8> {
    let mut key = REGION_META_PREFIX.to_vec();
    key.extend_from_slice(&region_id.to_be_bytes());
    key
}

/// The modification that persists `region`'s metadata.
pub fn region_meta_modify(region: &metapb::Region) -> Modify {
    Modify::Put(CF_RAFT, region_meta_key(region.id), region.encode_to_vec())
}

/// Loads every region recorded in `kv`.
pub fn load_regions<K: KvEngine>(kv: &K) -> Result<Vec<metapb::Region>> {
    let snapshot = kv.snapshot();
    let mut end = REGION_META_PREFIX.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let mut iter = snapshot.iterator_cf(CF_RAFT, IterOptions::bounded(REGION_META_PREFIX, &end))?;
    let mut regions = Vec::new();
    let mut valid = iter.seek_to_first()?;
    while valid {
        let region = metapb::Region::decode(iter.value())
            .map_err(|err| Error::Corrupted(format!("region metadata: {err}")))?;
        regions.push(region);
        valid = iter.next()?;
    }
    Ok(regions)
}

/// The regions a single-node store serves.
#[derive(Debug, Default)]
struct RegionSet {
    store_id: u64,
    by_id: BTreeMap<u64, metapb::Region>,
}

/// `Engine` on a local engine, serving the regions given to it.
#[derive(Clone)]
pub struct LocalEngine<K: KvEngine> {
    kv: K,
    regions: Arc<RwLock<RegionSet>>,
    sync_log: bool,
}

fn epoch_of(region: &metapb::Region) -> metapb::RegionEpoch {
    region.region_epoch.unwrap_or_default()
}

impl<K: KvEngine> LocalEngine<K> {
    /// Serves `regions` of store `store_id` from `kv`; `sync_log` makes every write durable
    /// before it is acknowledged.
    pub fn new(kv: K, store_id: u64, regions: Vec<metapb::Region>, sync_log: bool) -> Self {
        let by_id = regions
            .into_iter()
            .map(|region| (region.id, region))
            .collect();
        LocalEngine {
            kv,
            regions: Arc::new(RwLock::new(RegionSet { store_id, by_id })),
            sync_log,
        }
    }

    /// The underlying engine.
    pub fn kv(&self) -> &K {
        &self.kv
    }

    /// The served regions, ordered by id.
    pub fn regions(&self) -> Vec<metapb::Region> {
        self.regions.read().by_id.values().cloned().collect()
    }

    /// The served region holding `key` (stored form).
    pub fn region_by_key(&self, key: &[u8]) -> Option<metapb::Region> {
        self.regions
            .read()
            .by_id
            .values()
            .find(|region| key_in_range(key, &region.start_key, &region.end_key))
            .cloned()
    }

    /// Splits region `region_id` at `split_key` (stored form): the region keeps the left part
    /// and a new region `new_region_id` with peers `new_peer_ids` (one per peer, in order) takes
    /// `[split_key, end)`. Both get the next epoch version. The change is durable on return.
    pub fn split(
        &self,
        region_id: u64,
        split_key: &[u8],
        new_region_id: u64,
        new_peer_ids: &[u64],
    ) -> Result<(metapb::Region, metapb::Region)> {
        let mut set = self.regions.write();
        let region = set
            .by_id
            .get(&region_id)
            .cloned()
            .ok_or_else(|| Error::InvalidRequest(format!("region {region_id} not found")))?;
        if split_key.is_empty()
            || split_key <= region.start_key.as_slice()
            || (!region.end_key.is_empty() && split_key >= region.end_key.as_slice())
        {
            return Err(Error::InvalidRequest(format!(
                "split key {split_key:?} is not inside region {region_id}"
            )));
        }
        if new_peer_ids.len() != region.peers.len() || set.by_id.contains_key(&new_region_id) {
            return Err(Error::InvalidRequest(format!(
                "split of region {region_id}: bad new region id {new_region_id} or peer ids"
            )));
        }
        let mut epoch = epoch_of(&region);
        epoch.version += 1;
        let mut left = region.clone();
        left.end_key = split_key.to_vec();
        left.region_epoch = Some(epoch);
        let mut right = region;
        right.id = new_region_id;
        right.start_key = split_key.to_vec();
        right.region_epoch = Some(epoch);
        for (peer, id) in right.peers.iter_mut().zip(new_peer_ids) {
            peer.id = *id;
        }
        self.kv.write(
            &[region_meta_modify(&left), region_meta_modify(&right)],
            true,
        )?;
        set.by_id.insert(left.id, left.clone());
        set.by_id.insert(right.id, right.clone());
        Ok((left, right))
    }

    fn check_context(&self, ctx: &RequestContext) -> Result<metapb::Region> {
        let set = self.regions.read();
        let Some(region) = set.by_id.get(&ctx.region_id) else {
            return Err(region_error(
                format!(
                    "region {} not found on store {}",
                    ctx.region_id, set.store_id
                ),
                |error| {
                    error.region_not_found = Some(errorpb::RegionNotFound {
                        region_id: ctx.region_id,
                    })
                },
            ));
        };
        if let Some(peer) = &ctx.peer {
            if peer.store_id != 0 && peer.store_id != set.store_id {
                return Err(region_error(
                    format!("store {} is not store {}", peer.store_id, set.store_id),
                    |error| {
                        error.store_not_match = Some(errorpb::StoreNotMatch {
                            request_store_id: peer.store_id,
                            actual_store_id: set.store_id,
                        })
                    },
                ));
            }
        }
        if let (Some(asked), Some(current)) = (&ctx.region_epoch, &region.region_epoch) {
            if asked.version != current.version || asked.conf_ver != current.conf_ver {
                // Like TiKV, report the region and its neighbours so the client can refresh
                // its cache without asking PD.
                let mut current_regions = vec![region.clone()];
                current_regions.extend(
                    set.by_id
                        .values()
                        .filter(|other| {
                            let left =
                                !region.start_key.is_empty() && other.end_key == region.start_key;
                            let right =
                                !region.end_key.is_empty() && other.start_key == region.end_key;
                            other.id != region.id && (left || right)
                        })
                        .cloned(),
                );
                return Err(region_error(
                    format!(
                        "epoch not match: request {}/{}, region {}/{}",
                        asked.conf_ver, asked.version, current.conf_ver, current.version
                    ),
                    |error| {
                        error.epoch_not_match = Some(errorpb::EpochNotMatch { current_regions })
                    },
                ));
            }
        }
        Ok(region.clone())
    }
}

/// Builds a region error with `message` and one detail set by `fill`.
pub fn region_error(message: String, fill: impl FnOnce(&mut errorpb::Error)) -> Error {
    let mut error = errorpb::Error {
        message,
        ..Default::default()
    };
    fill(&mut error);
    Error::Region(Box::new(error))
}

fn key_in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    key >= start && (end.is_empty() || key < end)
}

impl<K: KvEngine> Engine for LocalEngine<K> {
    type Snap = DataSnapshot<K::Snap>;

    fn async_snapshot(
        &self,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Self::Snap>> + Send {
        let result = self.check_context(ctx).map(|region| DataSnapshot {
            inner: Arc::new(self.kv.snapshot()),
            lower: region.start_key,
            upper: region.end_key,
        });
        async move { result }
    }

    fn async_write(
        &self,
        ctx: &RequestContext,
        modifies: Vec<Modify>,
    ) -> impl Future<Output = Result<()>> + Send {
        let checked = self.check_context(ctx);
        let kv = self.kv.clone();
        let sync = self.sync_log;
        async move {
            checked?;
            let prefixed: Vec<Modify> = modifies.into_iter().map(prefix_modify).collect();
            tokio::task::spawn_blocking(move || kv.write(&prefixed, sync))
                .await
                .map_err(|err| Error::Engine(format!("write task failed: {err}")))?
        }
    }

    fn check_keys_in_region(&self, ctx: &RequestContext, keys: &[&[u8]]) -> Result<()> {
        let region = self.check_context(ctx)?;
        for key in keys {
            if !key_in_range(key, &region.start_key, &region.end_key) {
                return Err(region_error(
                    format!("key {key:?} is not in region {}", region.id),
                    |error| {
                        error.key_not_in_region = Some(errorpb::KeyNotInRegion {
                            key: key.to_vec(),
                            region_id: region.id,
                            start_key: region.start_key.clone(),
                            end_key: region.end_key.clone(),
                        })
                    },
                ));
            }
        }
        Ok(())
    }

    fn unsafe_destroy_range(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
    ) -> impl Future<Output = Result<()>> + Send {
        let kv = self.kv.clone();
        let sync = self.sync_log;
        destroy_range(kv, start, end, sync)
    }
}

/// Drops every data key of `[start, end)` (stored form; empty end: unbounded) from `kv`'s data
/// column families, off the async threads.
pub async fn destroy_range<K: KvEngine>(
    kv: K,
    start: Vec<u8>,
    end: Vec<u8>,
    sync: bool,
) -> Result<()> {
    let modifies = destroy_range_modifies(start, end)?;
    tokio::task::spawn_blocking(move || kv.write(&modifies, sync))
        .await
        .map_err(|err| Error::Engine(format!("destroy task failed: {err}")))?
}

/// The engine writes that drop every data key of `[start, end)` (stored form; empty end:
/// unbounded) in the data column families.
pub fn destroy_range_modifies(start: Vec<u8>, end: Vec<u8>) -> Result<Vec<Modify>> {
    if !end.is_empty() && start > end {
        return Err(Error::InvalidRequest(
            "destroy range start is after its end".into(),
        ));
    }
    Ok([CF_DEFAULT, CF_LOCK, CF_WRITE]
        .into_iter()
        .map(|cf| prefix_modify(Modify::DeleteRange(cf, start.clone(), end.clone())))
        .collect())
}

/// Adds the data prefix to a key.
pub fn data_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(DATA_PREFIX);
    out.extend_from_slice(key);
    out
}

fn prefix_modify(modify: Modify) -> Modify {
    match modify {
        Modify::Put(cf, key, value) => Modify::Put(cf, data_key(&key), value),
        Modify::Delete(cf, key) => Modify::Delete(cf, data_key(&key)),
        Modify::DeleteRange(cf, start, end) => Modify::DeleteRange(
            cf,
            data_key(&start),
            if end.is_empty() {
                vec![DATA_PREFIX_END]
            } else {
                data_key(&end)
            },
        ),
    }
}

/// A snapshot of the data keys only, with the prefix hidden.
pub struct DataSnapshot<S: Snapshot> {
    inner: Arc<S>,
    /// The region's start key (stored form).
    lower: Vec<u8>,
    /// The region's end key (stored form; empty: unbounded).
    upper: Vec<u8>,
}

impl<S: Snapshot> DataSnapshot<S> {
    /// The data of `inner` in `[lower, upper)` (stored keys; empty upper: unbounded).
    pub fn new(inner: Arc<S>, lower: Vec<u8>, upper: Vec<u8>) -> Self {
        DataSnapshot {
            inner,
            lower,
            upper,
        }
    }
}

impl<S: Snapshot> Clone for DataSnapshot<S> {
    fn clone(&self) -> Self {
        DataSnapshot {
            inner: self.inner.clone(),
            lower: self.lower.clone(),
            upper: self.upper.clone(),
        }
    }
}

impl<S: Snapshot> Snapshot for DataSnapshot<S> {
    type Iter = DataIterator<S::Iter>;

    fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get_cf(cf, &data_key(key))
    }

    fn iterator_cf(&self, cf: &str, options: IterOptions) -> Result<Self::Iter> {
        // The tighter of the asked bounds and the region's.
        let lower = match options.lower_bound {
            Some(asked) if asked > self.lower => asked,
            _ => self.lower.clone(),
        };
        let upper = match options.upper_bound {
            Some(asked) if self.upper.is_empty() || asked < self.upper => Some(asked),
            _ if self.upper.is_empty() => None,
            _ => Some(self.upper.clone()),
        };
        // An empty intersection stays empty rather than handing the engine crossed bounds.
        let upper = upper.map(|upper| upper.max(lower.clone()));
        let lower = data_key(&lower);
        let upper = upper.map_or_else(|| vec![DATA_PREFIX_END], |upper| data_key(&upper));
        let inner = self.inner.iterator_cf(
            cf,
            IterOptions {
                lower_bound: Some(lower),
                upper_bound: Some(upper),
                fill_cache: options.fill_cache,
                prefix_seek: options.prefix_seek,
            },
        )?;
        Ok(DataIterator { inner })
    }
}

/// An iterator that adds the data prefix to seeks and strips it from keys.
pub struct DataIterator<I: EngineIterator> {
    inner: I,
}

impl<I: EngineIterator> EngineIterator for DataIterator<I> {
    fn seek(&mut self, key: &[u8]) -> Result<bool> {
        self.inner.seek(&data_key(key))
    }

    fn seek_for_prev(&mut self, key: &[u8]) -> Result<bool> {
        self.inner.seek_for_prev(&data_key(key))
    }

    fn seek_to_first(&mut self) -> Result<bool> {
        self.inner.seek_to_first()
    }

    fn seek_to_last(&mut self) -> Result<bool> {
        self.inner.seek_to_last()
    }

    fn next(&mut self) -> Result<bool> {
        self.inner.next()
    }

    fn prev(&mut self) -> Result<bool> {
        self.inner.prev()
    }

    fn valid(&self) -> Result<bool> {
        self.inner.valid()
    }

    fn key(&self) -> &[u8] {
        self.inner.key().get(1..).unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        self.inner.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MemoryEngine;
    use crate::raw::{stored_key, RawValue};
    use crate::storage::Storage;
    use crate::ConcurrencyManager;

    #[test]
    fn context_from_wire_carries_the_read_flags() {
        let wire = kvrpcpb::Context {
            region_id: 7,
            isolation_level: kvrpcpb::IsolationLevel::Rc as i32,
            not_fill_cache: true,
            replica_read: true,
            api_version: kvrpcpb::ApiVersion::V2 as i32,
            resolved_locks: vec![5],
            ..Default::default()
        };
        let ctx = RequestContext::from_wire(Some(&wire));
        assert_eq!(ctx.region_id, 7);
        assert!(ctx.read_committed && ctx.not_fill_cache && ctx.replica_read);
        assert_eq!(ctx.api_version, ApiVersion::V2);
        assert_eq!(ctx.resolved_locks, vec![5]);
        let plain = RequestContext::from_wire(Some(&kvrpcpb::Context::default()));
        assert!(!plain.read_committed && !plain.not_fill_cache && !plain.replica_read);
    }

    fn whole_region() -> metapb::Region {
        metapb::Region {
            id: 1,
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: 1,
            }),
            peers: vec![metapb::Peer {
                id: 2,
                store_id: 7,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn ctx_of(region: &metapb::Region, api_version: ApiVersion) -> RequestContext {
        RequestContext {
            region_id: region.id,
            region_epoch: region.region_epoch,
            api_version,
            ..Default::default()
        }
    }

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn split_persists_and_bumps_epochs() {
        let kv = MemoryEngine::new();
        let local = LocalEngine::new(kv.clone(), 7, vec![whole_region()], false);
        let (left, right) = local.split(1, b"m", 3, &[4]).unwrap();
        assert_eq!(
            (left.end_key.as_slice(), right.start_key.as_slice()),
            (&b"m"[..], &b"m"[..])
        );
        assert_eq!(left.region_epoch.map(|e| e.version), Some(2));
        assert_eq!(right.region_epoch.map(|e| e.version), Some(2));
        assert_eq!(right.peers[0].id, 4);
        let mut loaded = load_regions(&kv).unwrap();
        loaded.sort_by_key(|region| region.id);
        assert_eq!(loaded, vec![left.clone(), right.clone()]);
        // Outside the region, at its start, or with a taken id: refused.
        assert!(local.split(1, b"z", 9, &[10]).is_err());
        assert!(local.split(3, b"m", 9, &[10]).is_err());
        assert!(local.split(1, b"c", 3, &[10]).is_err());
        assert_eq!(local.region_by_key(b"a").map(|r| r.id), Some(1));
        assert_eq!(local.region_by_key(b"q").map(|r| r.id), Some(3));
    }

    #[test]
    fn snapshots_see_only_their_region_and_epochs_are_checked() {
        let kv = MemoryEngine::new();
        let local = LocalEngine::new(kv, 7, vec![whole_region()], false);
        let (left, right) = local.split(1, b"m", 3, &[4]).unwrap();
        let writes = ["a", "l", "m", "z"]
            .iter()
            .map(|key| Modify::Put(CF_DEFAULT, key.as_bytes().to_vec(), b"v".to_vec()))
            .collect::<Vec<_>>();
        block_on(local.async_write(&ctx_of(&left, ApiVersion::V1), writes)).unwrap();
        let keys = |region: &metapb::Region, lower: &[u8], upper: &[u8]| {
            let snap = block_on(local.async_snapshot(&ctx_of(region, ApiVersion::V1))).unwrap();
            let mut iter = snap
                .iterator_cf(CF_DEFAULT, IterOptions::bounded(lower, upper))
                .unwrap();
            let mut out = Vec::new();
            let mut valid = iter.seek_to_first().unwrap();
            while valid {
                out.push(String::from_utf8(iter.key().to_vec()).unwrap());
                valid = iter.next().unwrap();
            }
            out
        };
        assert_eq!(keys(&left, b"", b""), ["a", "l"]);
        assert_eq!(keys(&right, b"", b""), ["m", "z"]);
        assert_eq!(keys(&right, b"b", b"n"), ["m"]);
        // Asked bounds entirely outside the region: nothing, not an engine error.
        assert!(keys(&right, b"a", b"c").is_empty());

        let stale = ctx_of(&whole_region(), ApiVersion::V1);
        let err = block_on(local.async_snapshot(&stale)).err().unwrap();
        let Error::Region(region_err) = err else {
            panic!("expected a region error")
        };
        let current = region_err.epoch_not_match.unwrap().current_regions;
        assert_eq!(current.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 3]);
        let missing = RequestContext {
            region_id: 99,
            ..Default::default()
        };
        assert!(matches!(
            block_on(local.async_snapshot(&missing)),
            Err(Error::Region(e)) if e.region_not_found.is_some()
        ));
        let outside = local.check_keys_in_region(&ctx_of(&left, ApiVersion::V1), &[b"q"]);
        assert!(matches!(outside, Err(Error::Region(e)) if e.key_not_in_region.is_some()));
    }

    #[test]
    fn raw_api_v2_ttl_key_modes_and_destroy_range() {
        let kv = MemoryEngine::new();
        let region = whole_region();
        let local = LocalEngine::new(kv, 7, vec![region.clone()], false);
        let storage = Storage::new(local.clone(), ConcurrencyManager::new(1));
        let v2 = ctx_of(&region, ApiVersion::V2);
        let v1 = ctx_of(&region, ApiVersion::V1);
        let key = b"r\0\0\0k".to_vec();
        block_on(async {
            storage
                .raw_put(&v2, "", vec![(key.clone(), b"v".to_vec())], &[100])
                .await
                .unwrap();
            assert_eq!(
                storage.raw_get(&v2, "", key.clone()).await.unwrap(),
                Some(b"v".to_vec())
            );
            let ttl = storage.raw_get_key_ttl(&v2, "", key.clone()).await.unwrap();
            assert!(
                matches!(ttl, Some(left) if left > 95 && left <= 100),
                "{ttl:?}"
            );
            // A value whose expiry has passed reads as absent everywhere.
            let dead = RawValue {
                value: b"old".to_vec(),
                expire_ts: Some(1),
            };
            let dead_key = b"r\0\0\0j".to_vec();
            local
                .async_write(
                    &v2,
                    vec![Modify::Put(
                        CF_DEFAULT,
                        stored_key(ApiVersion::V2, &dead_key),
                        dead.encode(ApiVersion::V2),
                    )],
                )
                .await
                .unwrap();
            assert_eq!(
                storage.raw_get(&v2, "", dead_key.clone()).await.unwrap(),
                None
            );
            assert_eq!(
                storage.raw_get_key_ttl(&v2, "", dead_key).await.unwrap(),
                None
            );
            let scanned = storage
                .raw_scan(
                    &v2,
                    "",
                    b"r\0\0\0".to_vec(),
                    b"r\0\0\x01".to_vec(),
                    10,
                    false,
                    false,
                )
                .await
                .unwrap();
            assert_eq!(scanned, vec![(key.clone(), b"v".to_vec())]);
            // CAS sees the live value only.
            let (swapped, previous) = storage
                .raw_compare_and_swap(
                    &v2,
                    "",
                    key.clone(),
                    Some(b"v".to_vec()),
                    b"w".to_vec(),
                    false,
                    0,
                )
                .await
                .unwrap();
            assert!(swapped);
            assert_eq!(previous, Some(b"v".to_vec()));
            assert_eq!(
                storage.raw_get_key_ttl(&v2, "", key.clone()).await.unwrap(),
                Some(0)
            );

            // Key modes and TTL under API V1.
            let wrong_mode = storage.raw_put(&v2, "", vec![(b"x\0\0\0k".to_vec(), vec![])], &[]);
            assert!(matches!(wrong_mode.await, Err(Error::InvalidRequest(_))));
            let txn_in_raw = storage.get(&v2, b"r\0\0\0k".to_vec(), 10);
            assert!(matches!(txn_in_raw.await, Err(Error::InvalidRequest(_))));
            let v1_ttl = storage.raw_put(&v1, "", vec![(b"k".to_vec(), vec![])], &[5]);
            assert!(matches!(v1_ttl.await, Err(Error::Unsupported(_))));
            let ttls = storage.raw_put(&v2, "", vec![(key.clone(), vec![]); 3], &[1, 2]);
            assert!(matches!(ttls.await, Err(Error::InvalidRequest(_))));

            // UnsafeDestroyRange drops the transactional keys of its range only.
            let mut txn_modifies = Vec::new();
            for user_key in [&b"x\0\0\0a"[..], b"x\0\0\0b", b"x\0\0\x01a"] {
                let encoded = crate::mvcc::Key::from_raw(user_key);
                txn_modifies.push(Modify::Put(CF_LOCK, encoded.as_encoded().to_vec(), vec![1]));
            }
            local.async_write(&v2, txn_modifies).await.unwrap();
            storage
                .unsafe_destroy_range(b"x\0\0\0".to_vec(), b"x\0\0\x01".to_vec())
                .await
                .unwrap();
            let snap = local.async_snapshot(&v2).await.unwrap();
            let mut iter = snap.iterator_cf(CF_LOCK, IterOptions::default()).unwrap();
            assert!(iter.seek_to_first().unwrap());
            assert_eq!(
                iter.key(),
                crate::mvcc::Key::from_raw(b"x\0\0\x01a").as_encoded()
            );
            assert!(!iter.next().unwrap());
            // The V2 raw value survived: it is not a transactional key.
            assert_eq!(
                storage.raw_get(&v2, "", key).await.unwrap(),
                Some(b"w".to_vec())
            );
        });
    }
}
