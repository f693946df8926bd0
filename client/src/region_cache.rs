//! Which region holds a key, and where its leader lives: regions learned from PD (GetRegion,
//! ScanRegions) and from stores' region errors, keyed by start key, with store addresses from
//! GetStore. Keys here are user keys: PD's memcomparable boundaries are decoded on the way in.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use basalt_proto::{errorpb, metapb};
use parking_lot::RwLock;

use crate::codec::{decode_boundary, encode_boundary, encode_bytes};
use crate::error::{Error, Result};
use crate::pd::PdClient;

/// How many regions one ScanRegions call asks for when filling the cache.
const SCAN_REGIONS_BATCH: i32 = 128;

/// A region, the peer to send its requests to, and that peer's store address. The region's
/// `start_key`/`end_key` are user keys (empty end: unbounded).
#[derive(Clone, Debug)]
pub struct RegionInfo {
    /// The region: id, user-key boundaries, epoch and peers.
    pub region: metapb::Region,
    /// The leader (or, when PD knows none, the first peer).
    pub leader: metapb::Peer,
    /// The leader's store address (`host:port`).
    pub store_addr: String,
}

impl RegionInfo {
    /// Whether `key` is inside the region.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.region.start_key.as_slice()
            && (self.region.end_key.is_empty() || key < self.region.end_key.as_slice())
    }

    /// The region id.
    pub fn id(&self) -> u64 {
        self.region.id
    }
}

/// Regions by user start key, and store addresses by store id.
pub(crate) struct RegionCache {
    pd: Arc<PdClient>,
    regions: RwLock<BTreeMap<Vec<u8>, RegionInfo>>,
    stores: RwLock<HashMap<u64, String>>,
}

/// `region` with its boundaries decoded from PD's form to user keys.
fn decode_region(mut region: metapb::Region) -> Result<metapb::Region> {
    region.start_key = decode_boundary(&region.start_key)?;
    region.end_key = decode_boundary(&region.end_key)?;
    Ok(region)
}

impl RegionCache {
    pub(crate) fn new(pd: Arc<PdClient>) -> Self {
        RegionCache {
            pd,
            regions: RwLock::new(BTreeMap::new()),
            stores: RwLock::new(HashMap::new()),
        }
    }

    /// The cached region holding `key`, if any.
    pub(crate) fn cached(&self, key: &[u8]) -> Option<RegionInfo> {
        let regions = self.regions.read();
        let (_, info) = regions
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()?;
        info.contains(key).then(|| info.clone())
    }

    /// The region holding `key`, from the cache or else from PD.
    pub(crate) async fn locate(&self, key: &[u8]) -> Result<RegionInfo> {
        if let Some(info) = self.cached(key) {
            return Ok(info);
        }
        let (region, leader) = self.pd.get_region(&encode_bytes(key)).await?;
        let info = self.build(decode_region(region)?, leader, None).await?;
        if !info.contains(key) {
            return Err(Error::Region(format!(
                "PD answered region {} for key {}, which it does not hold",
                info.id(),
                key.escape_ascii()
            )));
        }
        self.insert(info.clone());
        Ok(info)
    }

    /// The regions covering `[start, end)` (empty end: unbounded), in key order.
    pub(crate) async fn regions(&self, start: &[u8], end: &[u8]) -> Result<Vec<RegionInfo>> {
        let mut out = Vec::new();
        let mut cursor = start.to_vec();
        loop {
            let info = match self.cached(&cursor) {
                Some(info) => info,
                None => {
                    self.load_range(&cursor, end).await?;
                    match self.cached(&cursor) {
                        Some(info) => info,
                        None => self.locate(&cursor).await?,
                    }
                }
            };
            let region_end = info.region.end_key.clone();
            out.push(info);
            if region_end.is_empty() || (!end.is_empty() && region_end.as_slice() >= end) {
                return Ok(out);
            }
            cursor = region_end;
        }
    }

    /// Fills the cache with the regions PD has from `start` on, up to `end`.
    async fn load_range(&self, start: &[u8], end: &[u8]) -> Result<()> {
        let found = self
            .pd
            .scan_regions(
                &encode_bytes(start),
                &encode_boundary(end),
                SCAN_REGIONS_BATCH,
            )
            .await?;
        for (region, leader) in found {
            let info = self.build(decode_region(region)?, leader, None).await?;
            self.insert(info);
        }
        Ok(())
    }

    /// A `RegionInfo` for `region` (user-key boundaries): the given leader, else a peer on
    /// `prefer_store`, else the first peer.
    async fn build(
        &self,
        region: metapb::Region,
        leader: Option<metapb::Peer>,
        prefer_store: Option<u64>,
    ) -> Result<RegionInfo> {
        let leader = leader
            .filter(|peer| peer.id != 0)
            .or_else(|| {
                prefer_store.and_then(|store| {
                    region
                        .peers
                        .iter()
                        .find(|peer| peer.store_id == store)
                        .copied()
                })
            })
            .or_else(|| region.peers.first().copied())
            .ok_or_else(|| Error::Region(format!("region {} has no peers", region.id)))?;
        let store_addr = self.store_address(leader.store_id).await?;
        Ok(RegionInfo {
            region,
            leader,
            store_addr,
        })
    }

    /// The address of store `store_id`, asked from PD once.
    pub(crate) async fn store_address(&self, store_id: u64) -> Result<String> {
        if let Some(address) = self.stores.read().get(&store_id) {
            return Ok(address.clone());
        }
        let store = self.pd.get_store(store_id).await?;
        if store.state == metapb::StoreState::Tombstone as i32 {
            return Err(Error::Pd(format!("store {store_id} is a tombstone")));
        }
        if store.address.is_empty() {
            return Err(Error::Pd(format!("store {store_id} has no address")));
        }
        self.stores.write().insert(store_id, store.address.clone());
        Ok(store.address)
    }

    /// Caches `info`, dropping the cached regions it overlaps.
    pub(crate) fn insert(&self, info: RegionInfo) {
        let mut regions = self.regions.write();
        let start = info.region.start_key.clone();
        let end = info.region.end_key.clone();
        let mut stale: Vec<Vec<u8>> = regions
            .range::<[u8], _>((Bound::Included(start.as_slice()), Bound::Unbounded))
            .take_while(|(key, _)| end.is_empty() || key.as_slice() < end.as_slice())
            .map(|(key, _)| key.clone())
            .collect();
        if let Some((key, before)) = regions
            .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(start.as_slice())))
            .next_back()
        {
            if before.region.end_key.is_empty() || before.region.end_key > start {
                stale.push(key.clone());
            }
        }
        for key in stale {
            regions.remove(&key);
        }
        regions.insert(start, info);
    }

    /// The ids of the cached regions, in key order.
    #[cfg(test)]
    pub(crate) fn cached_ids(&self) -> Vec<u64> {
        self.regions.read().values().map(RegionInfo::id).collect()
    }

    /// Forgets `info` if the cache still holds that region.
    pub(crate) fn invalidate(&self, info: &RegionInfo) {
        let mut regions = self.regions.write();
        if regions
            .get(&info.region.start_key)
            .is_some_and(|cached| cached.id() == info.id())
        {
            regions.remove(&info.region.start_key);
        }
    }

    /// Updates the cache after `error` came back for a request sent to `info`.
    pub(crate) async fn on_region_error(
        &self,
        info: &RegionInfo,
        error: &errorpb::Error,
    ) -> Result<()> {
        if let Some(not_leader) = &error.not_leader {
            match not_leader.leader.filter(|peer| peer.id != 0) {
                Some(leader) => {
                    let store_addr = self.store_address(leader.store_id).await?;
                    self.insert(RegionInfo {
                        region: info.region.clone(),
                        leader,
                        store_addr,
                    });
                }
                None => self.invalidate(info),
            }
            return Ok(());
        }
        if let Some(epoch) = &error.epoch_not_match {
            self.invalidate(info);
            // The store's current view of the region and its neighbours; leaders are guessed
            // on the store that answered, as client-go does.
            for region in &epoch.current_regions {
                let region = decode_region(region.clone())?;
                let current = self.build(region, None, Some(info.leader.store_id)).await?;
                self.insert(current);
            }
            return Ok(());
        }
        let transient = error.server_is_busy.is_some()
            || error.stale_command.is_some()
            || error.max_timestamp_not_synced.is_some()
            || error.read_index_not_ready.is_some()
            || error.data_is_not_ready.is_some()
            || error.region_not_initialized.is_some();
        if !transient {
            self.invalidate(info);
        }
        Ok(())
    }
}
