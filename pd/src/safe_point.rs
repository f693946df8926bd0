//! Service GC safe points: each service (TiDB's GC worker, BR, CDC, ...) pins the oldest
//! timestamp it still needs, with a TTL. GC may not pass the smallest live one. Pure data;
//! `Cluster` persists what changes.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// The service id TiDB's GC worker uses; its safe point never expires.
pub const GC_WORKER: &[u8] = b"gc_worker";

/// One service's safe point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSafePoint {
    /// The service.
    pub service_id: Vec<u8>,
    /// The oldest timestamp the service still reads.
    pub safe_point: u64,
    /// Unix seconds after which the entry no longer counts (`i64::MAX`: never).
    pub expire_at: i64,
}

impl ServiceSafePoint {
    /// Seconds left at `now` (`i64::MAX` for entries that never expire), as `pdpb` reports it.
    pub fn ttl_at(&self, now: i64) -> i64 {
        if self.expire_at == i64::MAX {
            i64::MAX
        } else {
            self.expire_at.saturating_sub(now)
        }
    }

    /// The stored form: safe point and expiry, big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut value = self.safe_point.to_be_bytes().to_vec();
        value.extend_from_slice(&self.expire_at.to_be_bytes());
        value
    }

    /// Decodes what `encode` wrote.
    pub fn decode(service_id: Vec<u8>, bytes: &[u8]) -> Result<ServiceSafePoint> {
        let corrupted = || {
            Error::Corrupted(format!(
                "service safe point of {} holds {} bytes, want 16",
                String::from_utf8_lossy(&service_id),
                bytes.len()
            ))
        };
        let (point, expire) = bytes.split_at_checked(8).ok_or_else(corrupted)?;
        let point: [u8; 8] = point.try_into().map_err(|_| corrupted())?;
        let expire: [u8; 8] = expire.try_into().map_err(|_| corrupted())?;
        Ok(ServiceSafePoint {
            service_id,
            safe_point: u64::from_be_bytes(point),
            expire_at: i64::from_be_bytes(expire),
        })
    }
}

/// The live service safe points.
#[derive(Debug, Default)]
pub struct ServiceSafePoints {
    entries: BTreeMap<Vec<u8>, ServiceSafePoint>,
}

/// What an update decided; `Cluster` writes `saved` and deletes `removed`.
#[derive(Debug)]
pub struct Update {
    /// The entry to store, if the update was accepted.
    pub saved: Option<ServiceSafePoint>,
    /// Entries to delete (expired ones and, for TTL <= 0, the service's own).
    pub removed: Vec<Vec<u8>>,
    /// The smallest live safe point after the update.
    pub min: ServiceSafePoint,
}

impl ServiceSafePoints {
    /// Adds an entry loaded from disk.
    pub fn load(&mut self, entry: ServiceSafePoint) {
        self.entries.insert(entry.service_id.clone(), entry);
    }

    /// The smallest live entry; with none, the GC worker's at `gc_safe_point`.
    fn min(&self, gc_safe_point: u64) -> ServiceSafePoint {
        self.entries
            .values()
            .min_by_key(|entry| entry.safe_point)
            .cloned()
            .unwrap_or_else(|| ServiceSafePoint {
                service_id: GC_WORKER.to_vec(),
                safe_point: gc_safe_point,
                expire_at: i64::MAX,
            })
    }

    /// Sets (`ttl > 0`) or removes (`ttl <= 0`) `service_id`'s safe point at `now` (unix
    /// seconds). A safe point below the current minimum is refused (the minimum is returned
    /// unchanged), as upstream PD does: the data it would protect may already be gone.
    pub fn update(
        &mut self,
        service_id: &[u8],
        safe_point: u64,
        ttl: i64,
        now: i64,
        gc_safe_point: u64,
    ) -> Result<Update> {
        if service_id == GC_WORKER && ttl != i64::MAX {
            return Err(Error::InvalidArgument(
                "TTL of gc_worker's service safe point must be infinity".into(),
            ));
        }
        let mut removed: Vec<Vec<u8>> = self
            .entries
            .values()
            .filter(|entry| entry.expire_at <= now)
            .map(|entry| entry.service_id.clone())
            .collect();
        for id in &removed {
            self.entries.remove(id);
        }
        if ttl <= 0 {
            if self.entries.remove(service_id).is_some() {
                removed.push(service_id.to_vec());
            }
            return Ok(Update {
                saved: None,
                removed,
                min: self.min(gc_safe_point),
            });
        }
        let current = self.min(gc_safe_point);
        if safe_point < current.safe_point {
            return Ok(Update {
                saved: None,
                removed,
                min: current,
            });
        }
        let entry = ServiceSafePoint {
            service_id: service_id.to_vec(),
            safe_point,
            expire_at: if ttl == i64::MAX {
                i64::MAX
            } else {
                now.saturating_add(ttl)
            },
        };
        self.entries.insert(entry.service_id.clone(), entry.clone());
        Ok(Update {
            saved: Some(entry),
            removed,
            min: self.min(gc_safe_point),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_expiry_and_refusal() {
        let mut points = ServiceSafePoints::default();
        let update = points.update(b"br", 100, 10, 1000, 0).unwrap();
        assert_eq!(update.min.service_id, b"br".to_vec());
        assert_eq!(update.min.ttl_at(1000), 10);
        let update = points.update(b"cdc", 150, 60, 1000, 0).unwrap();
        assert_eq!(update.min.safe_point, 100);
        // Below the minimum: refused.
        let update = points.update(b"cdc", 50, 60, 1001, 0).unwrap();
        assert!(update.saved.is_none());
        assert_eq!(update.min.safe_point, 100);
        // br expires; cdc is the minimum.
        let update = points.update(b"cdc", 160, 60, 1011, 0).unwrap();
        assert_eq!(update.removed, vec![b"br".to_vec()]);
        assert_eq!(update.min.safe_point, 160);
        // Removal.
        let update = points.update(b"cdc", 0, 0, 1012, 7).unwrap();
        assert_eq!(update.removed, vec![b"cdc".to_vec()]);
        assert_eq!(update.min.service_id, GC_WORKER.to_vec());
        assert_eq!(update.min.safe_point, 7);
        assert!(points.update(GC_WORKER, 10, 5, 1012, 0).is_err());
        let entry = ServiceSafePoint {
            service_id: b"x".to_vec(),
            safe_point: 9,
            expire_at: i64::MAX,
        };
        assert_eq!(
            ServiceSafePoint::decode(b"x".to_vec(), &entry.encode()).unwrap(),
            entry
        );
        assert!(ServiceSafePoint::decode(b"x".to_vec(), &[1, 2, 3]).is_err());
    }
}
