//! The in-memory region directory: regions by id and by key range. Pure data, no I/O; `Cluster`
//! persists what changes.
//!
//! Region keys are the raw keys the store reports (PD does not interpret them). An empty
//! `start_key` means "from the first key", an empty `end_key` "to the last key".

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::time::Instant;

use basalt_proto::{metapb, pdpb};

/// A region as PD last heard of it: its meta, leader and heartbeat statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionInfo {
    /// The region.
    pub region: metapb::Region,
    /// Its leader peer, if known.
    pub leader: Option<metapb::Peer>,
    /// Peers the leader reports as down.
    pub down_peers: Vec<pdpb::PeerStats>,
    /// Peers the leader reports as lagging behind.
    pub pending_peers: Vec<metapb::Peer>,
    /// The leader's latest statistics.
    pub stats: RegionStats,
    /// When its leader last heartbeated (the statistics are from then); `None` for a region PD
    /// only knows from a split report, an in-process update or its own storage.
    pub last_heartbeat: Option<Instant>,
}

/// Statistics from a region heartbeat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegionStats {
    /// Raft term of the leader.
    pub term: u64,
    /// Approximate size in bytes.
    pub approximate_size: u64,
    /// Approximate number of keys.
    pub approximate_keys: u64,
    /// Bytes written during the last heartbeat interval.
    pub bytes_written: u64,
    /// Bytes read during the last heartbeat interval.
    pub bytes_read: u64,
    /// Keys written during the last heartbeat interval.
    pub keys_written: u64,
    /// Keys read during the last heartbeat interval.
    pub keys_read: u64,
}

impl RegionInfo {
    /// A region without leader or statistics.
    pub fn new(region: metapb::Region) -> RegionInfo {
        RegionInfo {
            region,
            ..Default::default()
        }
    }

    /// The region's epoch version and conf version (zero when missing).
    pub fn epoch(&self) -> (u64, u64) {
        let epoch = self.region.region_epoch.unwrap_or_default();
        (epoch.version, epoch.conf_ver)
    }
}

/// Whether `outer`'s key range contains all of `inner`'s.
pub fn covers(outer: &metapb::Region, inner: &metapb::Region) -> bool {
    let ends_after =
        outer.end_key.is_empty() || (!inner.end_key.is_empty() && outer.end_key >= inner.end_key);
    outer.start_key <= inner.start_key && ends_after
}

/// A region end key, ordered so that the empty key (no end) sorts last.
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

/// Regions indexed by id and by end key (so the region of a key is one range lookup).
#[derive(Debug, Default)]
pub struct RegionTree {
    regions: HashMap<u64, RegionInfo>,
    by_end_key: BTreeMap<EndKey, u64>,
}

impl RegionTree {
    /// The number of regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// A region by id.
    pub fn get(&self, id: u64) -> Option<&RegionInfo> {
        self.regions.get(&id)
    }

    /// A region by id, to update its leader or statistics in place.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut RegionInfo> {
        self.regions.get_mut(&id)
    }

    /// Every region, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &RegionInfo> + '_ {
        self.by_end_key
            .values()
            .filter_map(|id| self.regions.get(id))
    }

    /// Region ids whose end key is above `start`, in key order.
    fn ids_from(&self, start: &[u8]) -> impl Iterator<Item = u64> + '_ {
        self.by_end_key
            .range((
                Bound::Excluded(EndKey::Key(start.to_vec())),
                Bound::Unbounded,
            ))
            .map(|(_, id)| *id)
    }

    /// The region containing `key`.
    pub fn by_key(&self, key: &[u8]) -> Option<&RegionInfo> {
        let id = self.ids_from(key).next()?;
        let info = self.regions.get(&id)?;
        (info.region.start_key.as_slice() <= key).then_some(info)
    }

    /// The region ending where the region containing `key` starts.
    pub fn prev(&self, key: &[u8]) -> Option<&RegionInfo> {
        let current = self.by_key(key)?;
        self.adjacent(&current.region).0
    }

    /// The regions right before and right after `region`: the one ending where it starts and
    /// the one starting where it ends.
    pub fn adjacent(&self, region: &metapb::Region) -> (Option<&RegionInfo>, Option<&RegionInfo>) {
        let prev = if region.start_key.is_empty() {
            None
        } else {
            self.by_end_key
                .get(&EndKey::Key(region.start_key.clone()))
                .and_then(|id| self.regions.get(id))
        };
        let next = if region.end_key.is_empty() {
            None
        } else {
            self.by_key(&region.end_key)
                .filter(|info| info.region.start_key == region.end_key)
        };
        (prev, next)
    }

    /// Regions overlapping `[start, end)` (empty `end`: unbounded) in key order, at most
    /// `limit` of them (0: no limit).
    pub fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Vec<RegionInfo> {
        let mut out = Vec::new();
        for id in self.ids_from(start) {
            let Some(info) = self.regions.get(&id) else {
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

    /// Other regions whose range overlaps `region`'s.
    pub fn overlaps(&self, region: &metapb::Region) -> Vec<&RegionInfo> {
        let mut out = Vec::new();
        for id in self.ids_from(&region.start_key) {
            let Some(info) = self.regions.get(&id) else {
                continue;
            };
            if !region.end_key.is_empty() && info.region.start_key >= region.end_key {
                break;
            }
            if id != region.id {
                out.push(info);
            }
        }
        out
    }

    /// Inserts or replaces a region, dropping the ones it overlaps; returns the dropped ones.
    pub fn insert(&mut self, info: RegionInfo) -> Vec<RegionInfo> {
        if let Some(old) = self.regions.remove(&info.region.id) {
            self.by_end_key.remove(&EndKey::of(&old.region.end_key));
        }
        let overlapped: Vec<u64> = self
            .overlaps(&info.region)
            .iter()
            .map(|other| other.region.id)
            .collect();
        let mut removed = Vec::new();
        for id in overlapped {
            if let Some(other) = self.regions.remove(&id) {
                self.by_end_key.remove(&EndKey::of(&other.region.end_key));
                removed.push(other);
            }
        }
        self.by_end_key
            .insert(EndKey::of(&info.region.end_key), info.region.id);
        self.regions.insert(info.region.id, info);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(id: u64, start: &[u8], end: &[u8], version: u64) -> RegionInfo {
        RegionInfo::new(metapb::Region {
            id,
            start_key: start.to_vec(),
            end_key: end.to_vec(),
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version,
            }),
            ..Default::default()
        })
    }

    fn ids(infos: &[RegionInfo]) -> Vec<u64> {
        infos.iter().map(|info| info.region.id).collect()
    }

    #[test]
    fn lookups_follow_splits_and_merges() {
        let mut tree = RegionTree::default();
        assert!(tree.insert(region(1, b"", b"", 1)).is_empty());
        assert_eq!(tree.by_key(b"").map(|r| r.region.id), Some(1));
        assert_eq!(tree.by_key(b"zzz").map(|r| r.region.id), Some(1));

        // Split into [, c) [c, m) [m, ).
        tree.insert(region(1, b"", b"c", 2));
        tree.insert(region(2, b"c", b"m", 2));
        tree.insert(region(3, b"m", b"", 2));
        assert_eq!(tree.len(), 3);
        assert_eq!(tree.by_key(b"b").map(|r| r.region.id), Some(1));
        assert_eq!(tree.by_key(b"c").map(|r| r.region.id), Some(2));
        assert_eq!(tree.by_key(b"lzz").map(|r| r.region.id), Some(2));
        assert_eq!(tree.by_key(b"m").map(|r| r.region.id), Some(3));
        assert_eq!(tree.prev(b"n").map(|r| r.region.id), Some(2));
        assert_eq!(tree.prev(b"a").map(|r| r.region.id), None);
        let middle = tree.get(2).unwrap().region.clone();
        let (prev, next) = tree.adjacent(&middle);
        assert_eq!(
            (prev.map(|r| r.region.id), next.map(|r| r.region.id)),
            (Some(1), Some(3))
        );
        let (prev, next) = tree.adjacent(&tree.get(1).unwrap().region);
        assert_eq!((prev.is_none(), next.map(|r| r.region.id)), (true, Some(2)));
        assert_eq!(ids(&tree.scan(b"", b"", 0)), vec![1, 2, 3]);
        assert_eq!(ids(&tree.scan(b"d", b"", 0)), vec![2, 3]);
        assert_eq!(ids(&tree.scan(b"", b"c", 0)), vec![1]);
        assert_eq!(ids(&tree.scan(b"", b"c\0", 0)), vec![1, 2]);
        assert_eq!(ids(&tree.scan(b"", b"", 2)), vec![1, 2]);

        // Merge [c, m) and [m, ) into region 3.
        let removed = tree.insert(region(3, b"c", b"", 3));
        assert_eq!(ids(&removed), vec![2]);
        assert_eq!(ids(&tree.scan(b"", b"", 0)), vec![1, 3]);
        assert_eq!(tree.by_key(b"d").map(|r| r.region.id), Some(3));
        assert!(tree.get(2).is_none());
        assert!(covers(&tree.get(3).unwrap().region, &middle));
        assert!(!covers(&middle, &tree.get(3).unwrap().region));
        assert!(!covers(&tree.get(1).unwrap().region, &middle));
    }

    #[test]
    fn a_gap_has_no_region() {
        let mut tree = RegionTree::default();
        tree.insert(region(1, b"", b"b", 1));
        tree.insert(region(2, b"d", b"", 1));
        assert!(tree.by_key(b"c").is_none());
        assert_eq!(tree.by_key(b"d").map(|r| r.region.id), Some(2));
        assert!(tree.prev(b"e").is_none());
        assert_eq!(ids(&tree.scan(b"c", b"", 0)), vec![2]);
        assert_eq!(tree.overlaps(&region(9, b"a", b"e", 1).region).len(), 2);
    }
}
