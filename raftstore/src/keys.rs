//! Where the raft store keeps its state in the engine's `raft` column family. Every key starts
//! with one byte naming the record, then the region id (big endian, so a region's records sort
//! together), then for log entries the index.

/// Raft log entry of a region at an index.
const LOG: u8 = b'L';
/// `RaftLocalState` (hard state, last index).
const RAFT_STATE: u8 = b'S';
/// `RaftApplyState` (applied index, truncated state): written with the data it describes.
const APPLY_STATE: u8 = b'A';
/// `RegionLocalState` (the region's range, epoch and peers; tombstone marker).
const REGION_STATE: u8 = b'R';

fn region_key(kind: u8, region_id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(17);
    key.push(kind);
    key.extend_from_slice(&region_id.to_be_bytes());
    key
}

/// The key of a region's log entry at `index`.
pub fn log_key(region_id: u64, index: u64) -> Vec<u8> {
    let mut key = region_key(LOG, region_id);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// The index of a log entry key of `region_id`, if `key` is one.
pub fn log_index(region_id: u64, key: &[u8]) -> Option<u64> {
    let prefix = region_key(LOG, region_id);
    let rest = key.strip_prefix(prefix.as_slice())?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// The key of a region's raft state.
pub fn raft_state_key(region_id: u64) -> Vec<u8> {
    region_key(RAFT_STATE, region_id)
}

/// The key of a region's apply state.
pub fn apply_state_key(region_id: u64) -> Vec<u8> {
    region_key(APPLY_STATE, region_id)
}

/// The key of a region's local state.
pub fn region_state_key(region_id: u64) -> Vec<u8> {
    region_key(REGION_STATE, region_id)
}

/// The range holding every region state record.
pub fn region_state_range() -> (Vec<u8>, Vec<u8>) {
    (vec![REGION_STATE], vec![REGION_STATE + 1])
}

/// The region id of a region state key.
pub fn region_id_of_state_key(key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(&[REGION_STATE][..])?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_by_region_then_index_and_decode() {
        assert!(log_key(1, 9) < log_key(1, 10));
        assert!(log_key(1, u64::MAX) < log_key(2, 0));
        assert_eq!(log_index(7, &log_key(7, 42)), Some(42));
        assert_eq!(log_index(8, &log_key(7, 42)), None);
        assert_eq!(log_index(7, &log_key(7, 42)[..10]), None);
        assert_eq!(region_id_of_state_key(&region_state_key(5)), Some(5));
        let (start, end) = region_state_range();
        assert!(region_state_key(u64::MAX) < end && region_state_key(0) >= start);
    }
}
