//! An in-memory engine for unit tests: one ordered map per column family, snapshots by copy.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::RwLock;

use super::{check_cf, EngineIterator, IterOptions, KvEngine, Modify, Snapshot, ALL_CFS};
use crate::error::Result;

type Table = BTreeMap<Vec<u8>, Vec<u8>>;

/// An ordered in-memory engine. Snapshots copy the maps, which is fine at test sizes.
#[derive(Clone, Default)]
pub struct MemoryEngine {
    cfs: Arc<RwLock<BTreeMap<&'static str, Arc<Table>>>>,
}

impl MemoryEngine {
    /// A new empty engine with every column family.
    pub fn new() -> Self {
        let mut cfs = BTreeMap::new();
        for cf in ALL_CFS {
            cfs.insert(*cf, Arc::new(Table::new()));
        }
        MemoryEngine {
            cfs: Arc::new(RwLock::new(cfs)),
        }
    }
}

impl KvEngine for MemoryEngine {
    type Snap = MemorySnapshot;

    fn snapshot(&self) -> MemorySnapshot {
        MemorySnapshot {
            cfs: self.cfs.read().clone(),
        }
    }

    fn write(&self, batch: &[Modify], _sync: bool) -> Result<()> {
        for modify in batch {
            match modify {
                Modify::Put(cf, _, _) | Modify::Delete(cf, _) | Modify::DeleteRange(cf, _, _) => {
                    check_cf(cf)?
                }
            }
        }
        let mut cfs = self.cfs.write();
        for modify in batch {
            match modify {
                Modify::Put(cf, key, value) => {
                    if let Some(table) = cfs.get_mut(cf) {
                        Arc::make_mut(table).insert(key.clone(), value.clone());
                    }
                }
                Modify::Delete(cf, key) => {
                    if let Some(table) = cfs.get_mut(cf) {
                        Arc::make_mut(table).remove(key);
                    }
                }
                Modify::DeleteRange(cf, start, end) => {
                    if let Some(table) = cfs.get_mut(cf) {
                        let table = Arc::make_mut(table);
                        let doomed: Vec<Vec<u8>> = table
                            .range::<[u8], _>((
                                Bound::Included(&start[..]),
                                Bound::Excluded(&end[..]),
                            ))
                            .map(|(key, _)| key.clone())
                            .collect();
                        for key in doomed {
                            table.remove(&key);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_cf(cf)?;
        Ok(self
            .cfs
            .read()
            .get(cf)
            .and_then(|table| table.get(key).cloned()))
    }
}

/// A frozen copy of a `MemoryEngine`.
#[derive(Clone)]
pub struct MemorySnapshot {
    cfs: BTreeMap<&'static str, Arc<Table>>,
}

impl Snapshot for MemorySnapshot {
    type Iter = MemoryIterator;

    fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_cf(cf)?;
        Ok(self.cfs.get(cf).and_then(|table| table.get(key).cloned()))
    }

    fn iterator_cf(&self, cf: &str, options: IterOptions) -> Result<MemoryIterator> {
        check_cf(cf)?;
        let table = self.cfs.get(cf).cloned().unwrap_or_default();
        Ok(MemoryIterator {
            table,
            lower: options.lower_bound,
            upper: options.upper_bound,
            current: None,
        })
    }
}

/// A cursor over a `MemorySnapshot` column family.
pub struct MemoryIterator {
    table: Arc<Table>,
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
    current: Option<(Vec<u8>, Vec<u8>)>,
}

impl MemoryIterator {
    fn in_bounds(&self, key: &[u8]) -> bool {
        self.lower.as_deref().is_none_or(|lower| key >= lower)
            && self.upper.as_deref().is_none_or(|upper| key < upper)
    }

    fn settle(&mut self, found: Option<(&Vec<u8>, &Vec<u8>)>) -> Result<bool> {
        self.current = found
            .filter(|(key, _)| self.in_bounds(key))
            .map(|(key, value)| (key.clone(), value.clone()));
        Ok(self.current.is_some())
    }

    fn first_at_or_after(&self, key: &[u8]) -> Option<(&Vec<u8>, &Vec<u8>)> {
        let start = match &self.lower {
            Some(lower) if lower.as_slice() > key => lower.as_slice(),
            _ => key,
        };
        self.table
            .range::<[u8], _>((Bound::Included(start), Bound::Unbounded))
            .next()
    }

    fn last_at_or_before(&self, key: &[u8], inclusive: bool) -> Option<(&Vec<u8>, &Vec<u8>)> {
        let bound = if inclusive {
            Bound::Included(key)
        } else {
            Bound::Excluded(key)
        };
        self.table
            .range::<[u8], _>((Bound::Unbounded, bound))
            .next_back()
    }
}

impl EngineIterator for MemoryIterator {
    fn seek(&mut self, key: &[u8]) -> Result<bool> {
        let table = self.table.clone();
        let start = match &self.lower {
            Some(lower) if lower.as_slice() > key => lower.clone(),
            _ => key.to_vec(),
        };
        let found = table
            .range::<[u8], _>((Bound::Included(&start[..]), Bound::Unbounded))
            .next();
        self.settle(found)
    }

    fn seek_for_prev(&mut self, key: &[u8]) -> Result<bool> {
        let table = self.table.clone();
        let this = MemoryIterator {
            table: table.clone(),
            lower: None,
            upper: None,
            current: None,
        };
        let found = match &self.upper {
            Some(upper) if upper.as_slice() <= key => this.last_at_or_before(upper, false),
            _ => this.last_at_or_before(key, true),
        };
        self.settle(found)
    }

    fn seek_to_first(&mut self) -> Result<bool> {
        let table = self.table.clone();
        let probe = MemoryIterator {
            table: table.clone(),
            lower: self.lower.clone(),
            upper: None,
            current: None,
        };
        let found = probe.first_at_or_after(&[]);
        self.settle(found)
    }

    fn seek_to_last(&mut self) -> Result<bool> {
        let table = self.table.clone();
        let found = match &self.upper {
            Some(upper) => table
                .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(&upper[..])))
                .next_back(),
            None => table.iter().next_back(),
        };
        self.settle(found)
    }

    fn next(&mut self) -> Result<bool> {
        let Some((key, _)) = self.current.take() else {
            return Ok(false);
        };
        let table = self.table.clone();
        let found = table
            .range::<[u8], _>((Bound::Excluded(&key[..]), Bound::Unbounded))
            .next();
        self.settle(found)
    }

    fn prev(&mut self) -> Result<bool> {
        let Some((key, _)) = self.current.take() else {
            return Ok(false);
        };
        let table = self.table.clone();
        let found = table
            .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(&key[..])))
            .next_back();
        self.settle(found)
    }

    fn valid(&self) -> Result<bool> {
        Ok(self.current.is_some())
    }

    fn key(&self) -> &[u8] {
        self.current
            .as_ref()
            .map(|(key, _)| &key[..])
            .unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        self.current
            .as_ref()
            .map(|(_, value)| &value[..])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_with(keys: &[&[u8]]) -> MemoryEngine {
        let engine = MemoryEngine::new();
        let batch: Vec<Modify> = keys
            .iter()
            .map(|key| Modify::Put(super::super::CF_DEFAULT, key.to_vec(), b"v".to_vec()))
            .collect();
        engine.write(&batch, false).unwrap();
        engine
    }

    #[test]
    fn bounded_iteration() {
        let engine = engine_with(&[b"a", b"b", b"c", b"d"]);
        let snap = engine.snapshot();
        let mut iter = snap
            .iterator_cf("default", IterOptions::bounded(b"b", b"d"))
            .unwrap();
        assert!(iter.seek_to_first().unwrap());
        assert_eq!(iter.key(), b"b");
        assert!(iter.next().unwrap());
        assert_eq!(iter.key(), b"c");
        assert!(!iter.next().unwrap());
        assert!(iter.seek_to_last().unwrap());
        assert_eq!(iter.key(), b"c");
        assert!(iter.seek_for_prev(b"z").unwrap());
        assert_eq!(iter.key(), b"c");
        assert!(!iter.seek_for_prev(b"a").unwrap());
        assert!(iter.seek(b"a").unwrap());
        assert_eq!(iter.key(), b"b");
        assert!(!iter.prev().unwrap());
    }

    #[test]
    fn snapshot_is_isolated_and_delete_range_works() {
        let engine = engine_with(&[b"a", b"b", b"c"]);
        let snap = engine.snapshot();
        engine
            .write(
                &[Modify::DeleteRange("default", b"a".to_vec(), b"c".to_vec())],
                false,
            )
            .unwrap();
        assert!(snap.get_cf("default", b"a").unwrap().is_some());
        assert!(engine.get_cf("default", b"a").unwrap().is_none());
        assert!(engine.get_cf("default", b"c").unwrap().is_some());
        assert!(engine.get_cf("nope", b"c").is_err());
    }
}
