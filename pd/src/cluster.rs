//! The cluster's state as PD sees it: stores, regions and their leaders, ids, safe points. Pure
//! state with write-through persistence; the gRPC service (`service`) is a thin layer on top.

use std::collections::{BTreeMap, HashMap};

use basalt_proto::{metapb, pdpb};
use prost::Message;

use crate::error::{Error, Result};
use crate::meta::{self, MetaStore};
use crate::tso::Tso;

const ID_BATCH: u64 = 1000;

/// A region with its leader, as last reported.
#[derive(Debug, Clone, Default)]
pub struct RegionInfo {
    /// The region.
    pub region: metapb::Region,
    /// Its leader peer, if known.
    pub leader: Option<metapb::Peer>,
}

/// Everything PD knows. Callers hold it behind a mutex.
pub struct Cluster {
    meta: MetaStore,
    cluster_id: u64,
    bootstrapped: Option<metapb::Cluster>,
    next_id: u64,
    id_limit: u64,
    tso: Tso,
    gc_safe_point: u64,
    service_safe_points: HashMap<Vec<u8>, (u64, i64)>,
    stores: BTreeMap<u64, metapb::Store>,
    store_stats: HashMap<u64, pdpb::StoreStats>,
    regions: HashMap<u64, RegionInfo>,
    /// end_key (empty = +inf, mapped to `None`) → region id, to find the region of a key.
    by_end_key: BTreeMap<EndKey, u64>,
}

/// A region end key ordered so that the empty key (no end) sorts last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum EndKey {
    Key(Vec<u8>),
    Infinity,
}

impl EndKey {
    fn of(end: &[u8]) -> EndKey {
        if end.is_empty() {
            EndKey::Infinity
        } else {
            EndKey::Key(end.to_vec())
        }
    }
}

fn decode<T: Message + Default>(what: &str, bytes: &[u8]) -> Result<T> {
    T::decode(bytes).map_err(|err| Error::Corrupted(format!("{what}: {err}")))
}

fn new_cluster_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0);
    // Upstream PD derives the id from the time and a random part; any non-zero unique-enough
    // value works, zero means "unknown" on the wire.
    (nanos ^ (u64::from(std::process::id()) << 32)).max(1)
}

impl Cluster {
    /// Loads the cluster from `meta` (creating its id on first open).
    pub fn open(meta: MetaStore) -> Result<Cluster> {
        let cluster_id = match meta.get_u64(meta::CLUSTER_ID)? {
            Some(id) => id,
            None => {
                let id = new_cluster_id();
                meta.put_u64(meta::CLUSTER_ID, id)?;
                id
            }
        };
        let bootstrapped = match meta.get(meta::CLUSTER_META)? {
            Some(bytes) => Some(decode::<metapb::Cluster>("cluster meta", &bytes)?),
            None => None,
        };
        let id_limit = meta.get_u64(meta::ALLOC_ID)?.unwrap_or(0);
        let gc_safe_point = meta.get_u64(meta::GC_SAFE_POINT)?.unwrap_or(0);
        let tso = Tso::open(&meta)?;
        let mut cluster = Cluster {
            cluster_id,
            bootstrapped,
            next_id: id_limit,
            id_limit,
            tso,
            gc_safe_point,
            service_safe_points: HashMap::new(),
            stores: BTreeMap::new(),
            store_stats: HashMap::new(),
            regions: HashMap::new(),
            by_end_key: BTreeMap::new(),
            meta,
        };
        for (_, bytes) in cluster.meta.scan_prefix(meta::STORE_PREFIX)? {
            let store: metapb::Store = decode("store", &bytes)?;
            cluster.stores.insert(store.id, store);
        }
        for (_, bytes) in cluster.meta.scan_prefix(meta::REGION_PREFIX)? {
            let region: metapb::Region = decode("region", &bytes)?;
            cluster.index_region(region, None);
        }
        for (key, bytes) in cluster.meta.scan_prefix(meta::SERVICE_GC_PREFIX)? {
            if bytes.len() == 16 {
                let mut point = [0u8; 8];
                let mut ttl = [0u8; 8];
                point.copy_from_slice(&bytes[..8]);
                ttl.copy_from_slice(&bytes[8..]);
                let service = key[meta::SERVICE_GC_PREFIX.len()..].to_vec();
                cluster.service_safe_points.insert(
                    service,
                    (u64::from_be_bytes(point), i64::from_be_bytes(ttl)),
                );
            }
        }
        Ok(cluster)
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// Whether the cluster was bootstrapped.
    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped.is_some()
    }

    /// The cluster meta, once bootstrapped.
    pub fn cluster_meta(&self) -> Option<&metapb::Cluster> {
        self.bootstrapped.as_ref()
    }

    /// Replaces the cluster meta (keeping the id).
    pub fn put_cluster_meta(&mut self, mut cluster: metapb::Cluster) -> Result<()> {
        cluster.id = self.cluster_id;
        self.meta
            .put(meta::CLUSTER_META, &cluster.encode_to_vec())?;
        self.bootstrapped = Some(cluster);
        Ok(())
    }

    /// Allocates `count` consecutive ids; returns the last. Ids never repeat across restarts.
    pub fn alloc_ids(&mut self, count: u64) -> Result<u64> {
        let count = count.max(1);
        if self.next_id + count > self.id_limit {
            let limit = self.next_id + count + ID_BATCH;
            self.meta.put_u64(meta::ALLOC_ID, limit)?;
            self.id_limit = limit;
        }
        self.next_id += count;
        Ok(self.next_id)
    }

    /// Reserves `count` timestamps; returns the highest as `(physical, logical)`.
    pub fn allocate_ts(&mut self, count: u32) -> Result<(u64, u64)> {
        self.tso.allocate(&self.meta, count)
    }

    /// Bootstraps the cluster with its first store and region.
    pub fn bootstrap(&mut self, store: metapb::Store, region: metapb::Region) -> Result<()> {
        self.put_cluster_meta(metapb::Cluster {
            id: self.cluster_id,
            max_peer_count: 3,
        })?;
        self.put_store(store)?;
        self.put_region(region, None)?;
        Ok(())
    }

    /// Adds or updates a store.
    pub fn put_store(&mut self, store: metapb::Store) -> Result<()> {
        self.meta.put(
            &meta::id_key(meta::STORE_PREFIX, store.id),
            &store.encode_to_vec(),
        )?;
        self.stores.insert(store.id, store);
        Ok(())
    }

    /// A store by id.
    pub fn store(&self, id: u64) -> Option<&metapb::Store> {
        self.stores.get(&id)
    }

    /// The stats a store last reported.
    pub fn store_stats(&self, id: u64) -> Option<&pdpb::StoreStats> {
        self.store_stats.get(&id)
    }

    /// Every store, optionally without tombstones.
    pub fn stores(&self, exclude_tombstone: bool) -> Vec<metapb::Store> {
        self.stores
            .values()
            .filter(|store| {
                !exclude_tombstone || store.state != metapb::StoreState::Tombstone as i32
            })
            .cloned()
            .collect()
    }

    /// Records a store heartbeat.
    pub fn store_heartbeat(&mut self, stats: pdpb::StoreStats) {
        self.store_stats.insert(stats.store_id, stats);
    }

    fn index_region(&mut self, region: metapb::Region, leader: Option<metapb::Peer>) {
        if let Some(old) = self.regions.get(&region.id) {
            let old_end = EndKey::of(&old.region.end_key);
            self.by_end_key.remove(&old_end);
        }
        // Drop regions the new one overlaps (they were split or merged away).
        let overlapping: Vec<u64> = self
            .by_end_key
            .range((
                std::ops::Bound::Excluded(EndKey::Key(region.start_key.clone())),
                std::ops::Bound::Unbounded,
            ))
            .filter(|(_, id)| **id != region.id)
            .map(|(_, id)| *id)
            .take_while(|id| {
                self.regions.get(id).is_some_and(|info| {
                    region.end_key.is_empty() || info.region.start_key < region.end_key
                })
            })
            .collect();
        for id in overlapping {
            if let Some(info) = self.regions.remove(&id) {
                self.by_end_key.remove(&EndKey::of(&info.region.end_key));
            }
        }
        self.by_end_key
            .insert(EndKey::of(&region.end_key), region.id);
        let leader = leader.or_else(|| self.regions.get(&region.id).and_then(|info| info.leader));
        self.regions
            .insert(region.id, RegionInfo { region, leader });
    }

    /// Records a region (from bootstrap, a split report or a heartbeat). Stale reports (older
    /// epoch than what PD has) are ignored.
    pub fn put_region(
        &mut self,
        region: metapb::Region,
        leader: Option<metapb::Peer>,
    ) -> Result<()> {
        if let Some(known) = self.regions.get(&region.id) {
            let (old, new) = (
                known.region.region_epoch.unwrap_or_default(),
                region.region_epoch.unwrap_or_default(),
            );
            if new.version < old.version || new.conf_ver < old.conf_ver {
                return Ok(());
            }
            if known.region == region {
                if let Some(info) = self.regions.get_mut(&region.id) {
                    if leader.is_some() {
                        info.leader = leader;
                    }
                }
                return Ok(());
            }
        }
        self.meta.put(
            &meta::id_key(meta::REGION_PREFIX, region.id),
            &region.encode_to_vec(),
        )?;
        self.index_region(region, leader);
        Ok(())
    }

    /// The region containing `key`.
    pub fn region_by_key(&self, key: &[u8]) -> Option<&RegionInfo> {
        let (_, id) = self
            .by_end_key
            .range((
                std::ops::Bound::Excluded(EndKey::Key(key.to_vec())),
                std::ops::Bound::Unbounded,
            ))
            .next()?;
        let info = self.regions.get(id)?;
        (info.region.start_key.as_slice() <= key).then_some(info)
    }

    /// The region right before the one containing `key`.
    pub fn prev_region(&self, key: &[u8]) -> Option<&RegionInfo> {
        let current = self.region_by_key(key)?;
        if current.region.start_key.is_empty() {
            return None;
        }
        let start = current.region.start_key.clone();
        self.regions
            .values()
            .find(|info| info.region.end_key == start)
    }

    /// A region by id.
    pub fn region_by_id(&self, id: u64) -> Option<&RegionInfo> {
        self.regions.get(&id)
    }

    /// Regions overlapping `[start, end)` in key order, at most `limit` (0: no limit).
    pub fn scan_regions(&self, start: &[u8], end: &[u8], limit: usize) -> Vec<RegionInfo> {
        let mut out = Vec::new();
        for (_, id) in self.by_end_key.range((
            std::ops::Bound::Excluded(EndKey::Key(start.to_vec())),
            std::ops::Bound::Unbounded,
        )) {
            let Some(info) = self.regions.get(id) else {
                continue;
            };
            if !end.is_empty() && info.region.start_key.as_slice() >= end {
                break;
            }
            out.push(info.clone());
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
        out
    }

    /// The GC safe point.
    pub fn gc_safe_point(&self) -> u64 {
        self.gc_safe_point
    }

    /// Raises the GC safe point (never lowers it); returns the one in force.
    pub fn update_gc_safe_point(&mut self, safe_point: u64) -> Result<u64> {
        if safe_point > self.gc_safe_point {
            self.meta.put_u64(meta::GC_SAFE_POINT, safe_point)?;
            self.gc_safe_point = safe_point;
        }
        Ok(self.gc_safe_point)
    }

    /// Sets (TTL > 0) or removes (TTL <= 0) a service's safe point; returns the minimum over
    /// services and the GC safe point.
    pub fn update_service_safe_point(
        &mut self,
        service: Vec<u8>,
        ttl: i64,
        safe_point: u64,
    ) -> Result<u64> {
        let key = [meta::SERVICE_GC_PREFIX, &service].concat();
        if ttl <= 0 {
            self.service_safe_points.remove(&service);
            self.meta.put(&key, &[])?;
        } else {
            let mut value = safe_point.to_be_bytes().to_vec();
            value.extend_from_slice(&ttl.to_be_bytes());
            self.meta.put(&key, &value)?;
            self.service_safe_points.insert(service, (safe_point, ttl));
        }
        Ok(self
            .service_safe_points
            .values()
            .map(|(point, _)| *point)
            .min()
            .unwrap_or(safe_point))
    }
}
