//! The cluster's state as PD sees it: stores, regions and their leaders, ids, timestamps and
//! safe points, with write-through persistence. The gRPC service (`service`) is a thin layer on
//! top, and an embedding server calls the same methods directly (for example to bootstrap).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::Instant;

use basalt_proto::{metapb, pdpb};
use prost::Message;

use crate::error::{Error, Result};
use crate::meta::{self, Changes, IdAllocator, MetaStore};
use crate::region::{covers, RegionInfo, RegionStats, RegionTree};
use crate::safe_point::{ServiceSafePoint, ServiceSafePoints};
use crate::schedule::{
    store_loads, Operator, ScheduleCommand, ScheduleConfig, Scheduler, StoreStatus,
};
use crate::tso::Tso;

/// Everything PD knows. Callers hold it behind a mutex (`PdServer::cluster`).
pub struct Cluster {
    meta: MetaStore,
    cluster_id: u64,
    bootstrapped: Option<metapb::Cluster>,
    ids: IdAllocator,
    scheduler: Scheduler,
    tso: Tso,
    gc_safe_point: u64,
    service_safe_points: ServiceSafePoints,
    stores: BTreeMap<u64, metapb::Store>,
    store_stats: HashMap<u64, pdpb::StoreStats>,
    min_resolved_ts: HashMap<u64, u64>,
    regions: RegionTree,
}

fn decode<T: Message + Default>(what: &str, bytes: &[u8]) -> Result<T> {
    T::decode(bytes).map_err(|err| Error::Corrupted(format!("{what}: {err}")))
}

fn unix_now() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Unix seconds now, the clock of service safe point TTLs.
pub fn unix_seconds() -> i64 {
    i64::try_from(unix_now().as_secs()).unwrap_or(i64::MAX)
}

/// A new cluster id: creation time in seconds above 32 random bits, like upstream PD's. Zero
/// means "unknown" on the wire, so it is never zero.
fn new_cluster_id() -> u64 {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    ((unix_now().as_secs() << 32) | (random & 0xffff_ffff)).max(1)
}

fn is_tombstone(store: &metapb::Store) -> bool {
    store.state == metapb::StoreState::Tombstone as i32
        || store.node_state == metapb::NodeState::Removed as i32
}

impl Cluster {
    /// Opens (creating) PD's metadata database at `path` and loads the cluster from it, with
    /// the default scheduling settings; the cluster id is generated on the first open and kept
    /// forever.
    pub fn open(path: &Path) -> Result<Cluster> {
        Cluster::open_with(path, ScheduleConfig::default())
    }

    /// `open` with scheduling settings. Store liveness is not persisted: every known store
    /// counts as just seen.
    pub fn open_with(path: &Path, schedule: ScheduleConfig) -> Result<Cluster> {
        let meta = MetaStore::open(path)?;
        let cluster_id = match meta.get_u64(meta::CLUSTER_ID)? {
            Some(id) => id,
            None => {
                let id = new_cluster_id();
                meta.put_u64(meta::CLUSTER_ID, id)?;
                tracing::info!(cluster_id = id, "created a new cluster id");
                id
            }
        };
        let bootstrapped = meta
            .get(meta::CLUSTER_META)?
            .map(|bytes| decode::<metapb::Cluster>("cluster meta", &bytes))
            .transpose()?;
        let id_limit = meta.get_u64(meta::ALLOC_ID)?.unwrap_or(0);
        let gc_safe_point = meta.get_u64(meta::GC_SAFE_POINT)?.unwrap_or(0);
        let tso = Tso::open(&meta)?;
        let mut stores = BTreeMap::new();
        for (_, bytes) in meta.scan_prefix(meta::STORE_PREFIX)? {
            let store: metapb::Store = decode("store", &bytes)?;
            stores.insert(store.id, store);
        }
        let mut regions = RegionTree::default();
        for (_, bytes) in meta.scan_prefix(meta::REGION_PREFIX)? {
            let region: metapb::Region = decode("region", &bytes)?;
            regions.insert(RegionInfo::new(region));
        }
        let mut service_safe_points = ServiceSafePoints::default();
        for (key, bytes) in meta.scan_prefix(meta::SERVICE_GC_PREFIX)? {
            let service = key[meta::SERVICE_GC_PREFIX.len()..].to_vec();
            service_safe_points.load(ServiceSafePoint::decode(service, &bytes)?);
        }
        tracing::info!(
            cluster_id,
            bootstrapped = bootstrapped.is_some(),
            stores = stores.len(),
            regions = regions.len(),
            "PD metadata loaded"
        );
        let now = Instant::now();
        let mut scheduler = Scheduler::new(cluster_id, schedule, now);
        for id in stores.keys() {
            scheduler.store_seen(*id, now);
        }
        Ok(Cluster {
            meta,
            cluster_id,
            bootstrapped,
            ids: IdAllocator::starting_at(id_limit),
            scheduler,
            tso,
            gc_safe_point,
            service_safe_points,
            stores,
            store_stats: HashMap::new(),
            min_resolved_ts: HashMap::new(),
            regions,
        })
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// Whether the cluster was bootstrapped.
    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped.is_some()
    }

    fn ensure_bootstrapped(&self) -> Result<()> {
        if self.is_bootstrapped() {
            Ok(())
        } else {
            Err(Error::NotBootstrapped)
        }
    }

    /// The cluster meta (`GetClusterConfig`).
    pub fn cluster_meta(&self) -> Result<metapb::Cluster> {
        self.bootstrapped.ok_or(Error::NotBootstrapped)
    }

    /// Replaces the cluster meta, keeping the id (`PutClusterConfig`).
    pub fn put_cluster_meta(&mut self, mut cluster: metapb::Cluster) -> Result<()> {
        self.ensure_bootstrapped()?;
        cluster.id = self.cluster_id;
        self.meta
            .put(meta::CLUSTER_META, &cluster.encode_to_vec())?;
        self.bootstrapped = Some(cluster);
        Ok(())
    }

    /// Allocates `count` (at least 1) consecutive ids and returns the last, as upstream's
    /// `AllocID` does. Ids never repeat, also across restarts.
    pub fn alloc_ids(&mut self, count: u64) -> Result<u64> {
        self.ids.alloc(&self.meta, count)
    }

    /// Reserves `count` timestamps (1 ..= 2^18 - 1); returns the highest as
    /// `(physical_ms, logical)`. The batch is `logical - count + 1 ..= logical`.
    pub fn allocate_ts(&mut self, count: u32) -> Result<(u64, u64)> {
        if !crate::tso::valid_count(count) {
            return Err(Error::InvalidArgument(format!(
                "tso count {count} must be between 1 and 2^18 - 1"
            )));
        }
        self.tso.allocate(&self.meta, count)
    }

    /// Bootstraps the cluster with its first store and region, atomically. The rules are
    /// upstream's: a store with an id, and one region covering all keys with exactly one peer,
    /// on that store.
    pub fn bootstrap(&mut self, store: metapb::Store, region: metapb::Region) -> Result<()> {
        if self.is_bootstrapped() {
            return Err(Error::AlreadyBootstrapped);
        }
        if store.id == 0 {
            return Err(Error::InvalidArgument(
                "missing store meta for bootstrap".into(),
            ));
        }
        if region.id == 0 {
            return Err(Error::InvalidArgument(
                "missing region meta for bootstrap".into(),
            ));
        }
        if !region.start_key.is_empty() || !region.end_key.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "invalid start/end keys of bootstrap region {}",
                region.id
            )));
        }
        if region.peers.len() != 1 {
            return Err(Error::InvalidArgument(format!(
                "bootstrap region {} has {} peers, want 1",
                region.id,
                region.peers.len()
            )));
        }
        if region.peers.iter().any(|peer| peer.store_id != store.id) {
            return Err(Error::InvalidArgument(format!(
                "bootstrap region {}'s peer is not on store {}",
                region.id, store.id
            )));
        }
        let cluster = metapb::Cluster {
            id: self.cluster_id,
            max_peer_count: u32::try_from(self.scheduler.config().max_replicas).unwrap_or(u32::MAX),
        };
        let mut changes = Changes::default();
        changes
            .put(meta::CLUSTER_META, &cluster.encode_to_vec())
            .put(
                &meta::id_key(meta::STORE_PREFIX, store.id),
                &store.encode_to_vec(),
            )
            .put(
                &meta::id_key(meta::REGION_PREFIX, region.id),
                &region.encode_to_vec(),
            );
        self.meta.write(changes)?;
        tracing::info!(
            cluster_id = self.cluster_id,
            store_id = store.id,
            region_id = region.id,
            "cluster bootstrapped"
        );
        self.bootstrapped = Some(cluster);
        self.scheduler.store_seen(store.id, Instant::now());
        self.stores.insert(store.id, store);
        self.regions.insert(RegionInfo::new(region));
        Ok(())
    }

    /// Adds or updates a store (`PutStore`). A tombstone store cannot come back, and two live
    /// stores cannot share an address.
    pub fn put_store(&mut self, store: metapb::Store) -> Result<()> {
        self.ensure_bootstrapped()?;
        if store.id == 0 || store.address.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "invalid put store {}: a store needs an id and an address",
                store.id
            )));
        }
        if self.stores.get(&store.id).is_some_and(is_tombstone) {
            return Err(Error::StoreTombstone(store.id));
        }
        if let Some(other) = self.stores.values().find(|other| {
            other.id != store.id && other.address == store.address && !is_tombstone(other)
        }) {
            return Err(Error::DuplicatedAddress {
                address: store.address,
                store_id: other.id,
            });
        }
        self.meta.put(
            &meta::id_key(meta::STORE_PREFIX, store.id),
            &store.encode_to_vec(),
        )?;
        tracing::info!(store_id = store.id, address = %store.address, "store put");
        self.scheduler.store_seen(store.id, Instant::now());
        self.stores.insert(store.id, store);
        Ok(())
    }

    /// A store and its last reported statistics (`GetStore`).
    pub fn store(&self, id: u64) -> Result<(metapb::Store, Option<pdpb::StoreStats>)> {
        self.ensure_bootstrapped()?;
        let store = self.stores.get(&id).ok_or(Error::StoreNotFound(id))?;
        Ok((store.clone(), self.store_stats.get(&id).cloned()))
    }

    /// Every store, optionally without tombstones (`GetAllStores`).
    pub fn stores(&self, exclude_tombstone: bool) -> Result<Vec<metapb::Store>> {
        self.ensure_bootstrapped()?;
        Ok(self
            .stores
            .values()
            .filter(|store| !exclude_tombstone || !is_tombstone(store))
            .cloned()
            .collect())
    }

    /// Records a store heartbeat (`StoreHeartbeat`); statistics and liveness are kept in
    /// memory only.
    pub fn store_heartbeat(&mut self, stats: pdpb::StoreStats) -> Result<()> {
        self.store_heartbeat_at(stats, Instant::now())
    }

    /// `store_heartbeat` received at `now`.
    pub fn store_heartbeat_at(&mut self, stats: pdpb::StoreStats, now: Instant) -> Result<()> {
        self.ensure_bootstrapped()?;
        let store = self
            .stores
            .get_mut(&stats.store_id)
            .ok_or(Error::StoreNotFound(stats.store_id))?;
        if is_tombstone(store) {
            return Err(Error::StoreTombstone(store.id));
        }
        store.last_heartbeat = i64::try_from(unix_now().as_nanos()).unwrap_or(i64::MAX);
        self.scheduler.store_seen(stats.store_id, now);
        self.store_stats.insert(stats.store_id, stats);
        Ok(())
    }

    /// Records a store's min resolved ts (`ReportMinResolvedTS`); it never moves backwards.
    /// Kept in memory only.
    pub fn report_min_resolved_ts(&mut self, store_id: u64, min_resolved_ts: u64) -> Result<()> {
        self.ensure_bootstrapped()?;
        if !self.stores.contains_key(&store_id) {
            return Err(Error::StoreNotFound(store_id));
        }
        let known = self.min_resolved_ts.entry(store_id).or_default();
        *known = (*known).max(min_resolved_ts);
        Ok(())
    }

    /// The smallest min resolved ts over the stores that reported one (0 if none did).
    pub fn min_resolved_ts(&self) -> u64 {
        self.min_resolved_ts.values().copied().min().unwrap_or(0)
    }

    /// Records a region heartbeat (the region, its leader, peer health and statistics) and
    /// returns the response for the leader: the current step of the region's operator, if it
    /// has one (the replica checker may make one now).
    pub fn region_heartbeat(
        &mut self,
        heartbeat: &pdpb::RegionHeartbeatRequest,
    ) -> Result<Option<pdpb::RegionHeartbeatResponse>> {
        self.region_heartbeat_at(heartbeat, Instant::now())
    }

    /// `region_heartbeat` received at `now`.
    pub fn region_heartbeat_at(
        &mut self,
        heartbeat: &pdpb::RegionHeartbeatRequest,
        now: Instant,
    ) -> Result<Option<pdpb::RegionHeartbeatResponse>> {
        self.ensure_bootstrapped()?;
        let region = heartbeat
            .region
            .clone()
            .ok_or_else(|| Error::InvalidArgument("region heartbeat without a region".into()))?;
        let leader = heartbeat
            .leader
            .ok_or_else(|| Error::InvalidArgument("region heartbeat without a leader".into()))?;
        let store = self
            .stores
            .get(&leader.store_id)
            .ok_or(Error::StoreNotFound(leader.store_id))?;
        if is_tombstone(store) {
            return Err(Error::StoreTombstone(store.id));
        }
        let info = RegionInfo {
            region,
            leader: Some(leader),
            down_peers: heartbeat.down_peers.clone(),
            pending_peers: heartbeat.pending_peers.clone(),
            stats: RegionStats {
                term: heartbeat.term,
                approximate_size: heartbeat.approximate_size,
                approximate_keys: heartbeat.approximate_keys,
                bytes_written: heartbeat.bytes_written,
                bytes_read: heartbeat.bytes_read,
                keys_written: heartbeat.keys_written,
                keys_read: heartbeat.keys_read,
            },
            last_heartbeat: Some(now),
        };
        self.put_region_info(info.clone(), now)?;
        let (ids, meta) = (&mut self.ids, &self.meta);
        self.scheduler.on_region_heartbeat(
            &self.stores,
            &self.regions,
            &info,
            &mut || ids.alloc(meta, 1),
            now,
        )
    }

    /// One scheduling pass (run every `schedule_interval`): the responses to push to the
    /// leaders of regions that got a new operator. Nothing before bootstrap.
    pub fn schedule(&mut self) -> Result<Vec<ScheduleCommand>> {
        self.schedule_at(Instant::now())
    }

    /// `schedule` at `now`.
    pub fn schedule_at(&mut self, now: Instant) -> Result<Vec<ScheduleCommand>> {
        if !self.is_bootstrapped() {
            return Ok(Vec::new());
        }
        let (ids, meta) = (&mut self.ids, &self.meta);
        self.scheduler
            .tick(&self.stores, &self.regions, &mut || ids.alloc(meta, 1), now)
    }

    /// The scheduling settings.
    pub fn schedule_config(&self) -> &ScheduleConfig {
        self.scheduler.config()
    }

    /// The scheduler, for tests that look inside.
    #[cfg(test)]
    pub(crate) fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// Starts an operator (an admin's, or a test's) unless its region has one; returns whether
    /// it was added.
    pub fn add_operator(&mut self, operator: Operator) -> bool {
        self.scheduler.add_operator(operator)
    }

    /// Running operators, by region id.
    pub fn operators(&self) -> Vec<Operator> {
        self.scheduler.operators().cloned().collect()
    }

    /// A region's running operator, or else its last one and how that ended.
    pub fn operator_status(&self, region_id: u64) -> Option<(Operator, pdpb::OperatorStatus)> {
        match self.scheduler.operator(region_id) {
            Some(operator) => Some((operator.clone(), pdpb::OperatorStatus::Running)),
            None => self.scheduler.finished(region_id).cloned(),
        }
    }

    /// Every store with its state at `now` and its leader and region counts.
    pub fn store_statuses(&self, now: Instant) -> Result<Vec<StoreStatus>> {
        self.ensure_bootstrapped()?;
        let loads = store_loads(&self.regions);
        Ok(self
            .stores
            .values()
            .map(|store| StoreStatus {
                store: store.clone(),
                state: self.scheduler.store_state(store, now),
                load: loads.get(&store.id).copied().unwrap_or_default(),
                silent_for: now.saturating_duration_since(self.scheduler.last_seen(store.id)),
            })
            .collect())
    }

    /// Records a region (from a split report, or in-process), keeping what PD knew of its
    /// leader when `leader` is `None`.
    pub fn put_region(
        &mut self,
        region: metapb::Region,
        leader: Option<metapb::Peer>,
    ) -> Result<()> {
        self.ensure_bootstrapped()?;
        let info = RegionInfo {
            region,
            leader,
            ..Default::default()
        };
        self.put_region_info(info, Instant::now())
    }

    /// Records a region at `now`. Reports older than what PD has (a smaller epoch than the same
    /// region, or a smaller version than a region it overlaps) are refused as stale. Regions the
    /// new one covers are dropped (they were merged or split away). A region PD did not know,
    /// or a known one with a newer version and a range that no longer covers its old one, comes
    /// from a split: the scheduler is told, whether the split report or a heartbeat says so
    /// first.
    fn put_region_info(&mut self, mut info: RegionInfo, now: Instant) -> Result<()> {
        if info.region.id == 0 {
            return Err(Error::InvalidArgument("region id 0".into()));
        }
        let (version, conf_ver) = info.epoch();
        let known = self.regions.get(info.region.id).cloned();
        if let Some(known) = &known {
            let (known_version, known_conf_ver) = known.epoch();
            if version < known_version || conf_ver < known_conf_ver {
                return Err(Error::StaleRegion {
                    region_id: info.region.id,
                    reason: format!(
                        "epoch (version {version}, conf_ver {conf_ver}) is older than \
                         (version {known_version}, conf_ver {known_conf_ver})"
                    ),
                });
            }
            if info.leader.is_none() {
                info.leader = known.leader;
                info.down_peers = known.down_peers.clone();
                info.pending_peers = known.pending_peers.clone();
                info.stats = known.stats;
                info.last_heartbeat = known.last_heartbeat;
            }
        }
        let overlaps: Vec<u64> = self
            .regions
            .overlaps(&info.region)
            .into_iter()
            .map(|other| {
                let (other_version, _) = other.epoch();
                if other_version > version {
                    Err(Error::StaleRegion {
                        region_id: info.region.id,
                        reason: format!(
                            "overlaps region {} of newer version {other_version} > {version}",
                            other.region.id
                        ),
                    })
                } else {
                    Ok(other.region.id)
                }
            })
            .collect::<Result<_>>()?;
        let changed = known
            .as_ref()
            .is_none_or(|known| known.region != info.region);
        let split = known
            .as_ref()
            .is_none_or(|known| version > known.epoch().0 && !covers(&info.region, &known.region));
        if split {
            self.scheduler.region_split(info.region.id, now);
        }
        if changed || !overlaps.is_empty() {
            let mut changes = Changes::default();
            changes.put(
                &meta::id_key(meta::REGION_PREFIX, info.region.id),
                &info.region.encode_to_vec(),
            );
            for id in &overlaps {
                changes.delete(&meta::id_key(meta::REGION_PREFIX, *id));
            }
            self.meta.write(changes)?;
            tracing::info!(
                region_id = info.region.id,
                version,
                conf_ver,
                dropped = ?overlaps,
                "region updated"
            );
            self.regions.insert(info);
        } else if let Some(slot) = self.regions.get_mut(info.region.id) {
            *slot = info;
        }
        Ok(())
    }

    /// The region containing `key` (`GetRegion`); `None` when no region covers it.
    pub fn region_by_key(&self, key: &[u8]) -> Result<Option<RegionInfo>> {
        self.ensure_bootstrapped()?;
        Ok(self.regions.by_key(key).cloned())
    }

    /// The region right before the one containing `key` (`GetPrevRegion`).
    pub fn prev_region(&self, key: &[u8]) -> Result<Option<RegionInfo>> {
        self.ensure_bootstrapped()?;
        Ok(self.regions.prev(key).cloned())
    }

    /// A region by id (`GetRegionByID`).
    pub fn region_by_id(&self, id: u64) -> Result<Option<RegionInfo>> {
        self.ensure_bootstrapped()?;
        Ok(self.regions.get(id).cloned())
    }

    /// Regions overlapping `[start, end)` in key order, at most `limit` (0: no limit).
    pub fn scan_regions(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<RegionInfo>> {
        self.ensure_bootstrapped()?;
        Ok(self.regions.scan(start, end, limit))
    }

    /// Ids for splitting a region `split_count` times: per new region, a region id and one
    /// peer id per peer of `region` (`AskBatchSplit`; `AskSplit` is `split_count` 1).
    pub fn ask_batch_split(
        &mut self,
        region: &metapb::Region,
        split_count: u32,
    ) -> Result<Vec<pdpb::SplitId>> {
        self.ensure_bootstrapped()?;
        if split_count == 0 || split_count > 1024 {
            return Err(Error::InvalidArgument(format!(
                "split count {split_count} out of range 1..=1024"
            )));
        }
        let mut ids = Vec::new();
        for _ in 0..split_count {
            let new_region_id = self.alloc_ids(1)?;
            let mut new_peer_ids = Vec::new();
            for _ in &region.peers {
                new_peer_ids.push(self.alloc_ids(1)?);
            }
            ids.push(pdpb::SplitId {
                new_region_id,
                new_peer_ids,
            });
        }
        Ok(ids)
    }

    /// The GC safe point.
    pub fn gc_safe_point(&self) -> Result<u64> {
        self.ensure_bootstrapped()?;
        Ok(self.gc_safe_point)
    }

    /// Raises the GC safe point (never lowers it); returns the one in force.
    pub fn update_gc_safe_point(&mut self, safe_point: u64) -> Result<u64> {
        self.ensure_bootstrapped()?;
        if safe_point > self.gc_safe_point {
            self.meta.put_u64(meta::GC_SAFE_POINT, safe_point)?;
            tracing::info!(
                old = self.gc_safe_point,
                new = safe_point,
                "GC safe point advanced"
            );
            self.gc_safe_point = safe_point;
        }
        Ok(self.gc_safe_point)
    }

    /// Sets (TTL > 0, seconds) or removes (TTL <= 0) a service's safe point at `now` (unix
    /// seconds); returns the smallest live service safe point.
    pub fn update_service_safe_point(
        &mut self,
        service_id: &[u8],
        ttl: i64,
        safe_point: u64,
        now: i64,
    ) -> Result<ServiceSafePoint> {
        self.ensure_bootstrapped()?;
        let update = self.service_safe_points.update(
            service_id,
            safe_point,
            ttl,
            now,
            self.gc_safe_point,
        )?;
        let mut changes = Changes::default();
        for id in &update.removed {
            changes.delete(&[meta::SERVICE_GC_PREFIX, id].concat());
        }
        if let Some(saved) = &update.saved {
            changes.put(
                &[meta::SERVICE_GC_PREFIX, &saved.service_id].concat(),
                &saved.encode(),
            );
        }
        self.meta.write(changes)?;
        Ok(update.min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(id: u64, start: &[u8], end: &[u8], version: u64) -> metapb::Region {
        metapb::Region {
            id,
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version,
            }),
            peers: vec![metapb::Peer {
                id: id + 100,
                store_id: 1,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn ids(cluster: &Cluster) -> Vec<u64> {
        cluster
            .scan_regions(b"", b"", 0)
            .unwrap()
            .iter()
            .map(|info| info.region.id)
            .collect()
    }

    #[test]
    fn splits_merges_and_stale_reports_persist_correctly() {
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = Cluster::open(dir.path()).unwrap();
        assert!(matches!(
            cluster.put_region(region(2, b"", b"", 1), None),
            Err(Error::NotBootstrapped)
        ));
        let store = metapb::Store {
            id: 1,
            address: "s1".into(),
            ..Default::default()
        };
        cluster.bootstrap(store, region(2, b"", b"", 1)).unwrap();
        // Split at "m": region 4 takes the right half.
        cluster.put_region(region(2, b"", b"m", 2), None).unwrap();
        cluster.put_region(region(4, b"m", b"", 2), None).unwrap();
        assert_eq!(ids(&cluster), vec![2, 4]);
        // A report from before the split is stale, whichever region it names.
        assert!(matches!(
            cluster.put_region(region(2, b"", b"", 1), None),
            Err(Error::StaleRegion { .. })
        ));
        assert!(matches!(
            cluster.put_region(region(9, b"a", b"z", 1), None),
            Err(Error::StaleRegion { .. })
        ));
        // Merge: region 4 absorbs region 2.
        cluster.put_region(region(4, b"", b"", 3), None).unwrap();
        assert_eq!(ids(&cluster), vec![4]);
        let last_id = cluster.alloc_ids(5).unwrap();
        drop(cluster);

        let mut cluster = Cluster::open(dir.path()).unwrap();
        assert_eq!(
            ids(&cluster),
            vec![4],
            "the merged-away region is gone on disk"
        );
        assert!(cluster.region_by_id(2).unwrap().is_none());
        assert!(cluster.alloc_ids(1).unwrap() > last_id);
        assert!(matches!(
            cluster.bootstrap(metapb::Store::default(), region(2, b"", b"", 1)),
            Err(Error::AlreadyBootstrapped)
        ));
    }
}
