//! A region's data as a raft snapshot: every key of the region in the data column families,
//! read from one engine snapshot taken at the applied index, in `RaftSnapshotData` (the
//! region, then per column family a `SnapshotCfFile` whose `size` counts its key-value pairs,
//! then the pairs in that order). Keys are stored without the engine's data prefix.

use basalt_proto::metapb;
use basalt_proto::raft_serverpb::{KeyValue, RaftSnapshotData, SnapshotCfFile, SnapshotMeta};
use basalt_storage::engine::{
    EngineIterator, IterOptions, Modify, Snapshot, CF_DEFAULT, CF_LOCK, CF_WRITE,
};
use basalt_storage::kv::{data_key, DATA_PREFIX};
use basalt_storage::{Error, Result};
use prost::Message as _;

/// The column families a region snapshot carries.
pub const DATA_CFS: [&str; 3] = [CF_DEFAULT, CF_LOCK, CF_WRITE];
/// Version of the snapshot layout.
const SNAPSHOT_VERSION: u64 = 1;
/// Largest snapshot accepted (4 GiB of pairs).
const MAX_SNAPSHOT_BYTES: u64 = 4 << 30;

/// The engine key range `[start, end)` holding `region`'s data.
pub fn data_range(region: &metapb::Region) -> (Vec<u8>, Vec<u8>) {
    let start = data_key(&region.start_key);
    let end = if region.end_key.is_empty() {
        vec![DATA_PREFIX + 1]
    } else {
        data_key(&region.end_key)
    };
    (start, end)
}

/// Serializes `region`'s data as seen by `snapshot` (an engine snapshot, keys with prefix).
pub fn build<S: Snapshot>(snapshot: &S, region: &metapb::Region) -> Result<Vec<u8>> {
    let (start, end) = data_range(region);
    let mut data = Vec::new();
    let mut cf_files = Vec::with_capacity(DATA_CFS.len());
    let mut total = 0u64;
    for cf in DATA_CFS {
        // Read once to ship: the blocks would only evict the ones reads keep using.
        let options = IterOptions::bounded(&start, &end).fill_cache(false);
        let mut iter = snapshot.iterator_cf(cf, options)?;
        let mut count = 0u64;
        let mut valid = iter.seek_to_first()?;
        while valid {
            let key = iter.key().get(1..).unwrap_or_default().to_vec();
            total += (key.len() + iter.value().len()) as u64;
            data.push(KeyValue {
                key,
                value: iter.value().to_vec(),
            });
            count += 1;
            valid = iter.next()?;
        }
        cf_files.push(SnapshotCfFile {
            cf: cf.to_string(),
            size: count,
            checksum: 0,
        });
    }
    Ok(RaftSnapshotData {
        region: Some(region.clone()),
        file_size: total,
        data,
        version: SNAPSHOT_VERSION,
        meta: Some(SnapshotMeta {
            cf_files,
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec())
}

/// A decoded snapshot: the region it describes and the writes that install its data.
#[derive(Debug)]
pub struct Decoded {
    /// The region as of the snapshot.
    pub region: metapb::Region,
    /// Clears the region's range, then puts every pair.
    pub modifies: Vec<Modify>,
}

/// Checks and decodes snapshot `bytes` for region `region_id`.
pub fn decode(region_id: u64, bytes: &[u8]) -> Result<Decoded> {
    let data = RaftSnapshotData::decode(bytes)
        .map_err(|err| Error::Corrupted(format!("snapshot of region {region_id}: {err}")))?;
    let bad = |why: String| Error::Corrupted(format!("snapshot of region {region_id}: {why}"));
    if data.version != SNAPSHOT_VERSION {
        return Err(bad(format!("unknown version {}", data.version)));
    }
    let region = data.region.ok_or_else(|| bad("no region".into()))?;
    if region.id != region_id {
        return Err(bad(format!("it describes region {}", region.id)));
    }
    if data.file_size > MAX_SNAPSHOT_BYTES {
        return Err(bad(format!("{} bytes is too large", data.file_size)));
    }
    let files = data.meta.map(|meta| meta.cf_files).unwrap_or_default();
    let counted: u64 = files.iter().map(|file| file.size).sum();
    if counted != data.data.len() as u64 {
        return Err(bad(format!(
            "{} pairs announced, {} present",
            counted,
            data.data.len()
        )));
    }
    let (start, end) = data_range(&region);
    let mut modifies: Vec<Modify> = DATA_CFS
        .iter()
        .map(|cf| Modify::DeleteRange(cf, start.clone(), end.clone()))
        .collect();
    let mut pairs = data.data.into_iter();
    for file in files {
        let cf = DATA_CFS
            .iter()
            .find(|cf| **cf == file.cf)
            .ok_or_else(|| bad(format!("unknown column family {:?}", file.cf)))?;
        for pair in pairs.by_ref().take(file.size as usize) {
            let key = data_key(&pair.key);
            if key < start || key >= end {
                return Err(bad(format!("key {:?} is outside the region", pair.key)));
            }
            modifies.push(Modify::Put(cf, key, pair.value));
        }
    }
    Ok(Decoded { region, modifies })
}

#[cfg(test)]
mod tests {
    use super::*;
    use basalt_storage::engine::{KvEngine, MemoryEngine};

    #[test]
    fn round_trip_keeps_only_the_region_and_rejects_bad_data() {
        let kv = MemoryEngine::new();
        let puts: Vec<Modify> = [
            (CF_DEFAULT, "a"),
            (CF_WRITE, "b"),
            (CF_LOCK, "c"),
            (CF_DEFAULT, "x"),
        ]
        .iter()
        .map(|(cf, key)| Modify::Put(cf, data_key(key.as_bytes()), key.as_bytes().to_vec()))
        .collect();
        kv.write(&puts, false).unwrap();
        let region = metapb::Region {
            id: 4,
            start_key: b"a".to_vec(),
            end_key: b"m".to_vec(),
            ..Default::default()
        };
        let bytes = build(&kv.snapshot(), &region).unwrap();
        let decoded = decode(4, &bytes).unwrap();
        assert_eq!(decoded.region, region);
        let puts: Vec<_> = decoded
            .modifies
            .iter()
            .filter_map(|m| match m {
                Modify::Put(cf, key, _) => Some((*cf, key.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            puts,
            [
                (CF_DEFAULT, data_key(b"a")),
                (CF_LOCK, data_key(b"c")),
                (CF_WRITE, data_key(b"b"))
            ]
        );
        assert!(decode(5, &bytes).is_err());
        assert!(decode(4, &bytes[..bytes.len() - 1]).is_err());
        assert!(decode(4, b"\xff\xff\xff").is_err());
        // A pair outside the region it claims is refused.
        let mut data = RaftSnapshotData::decode(bytes.as_slice()).unwrap();
        data.data[0].key = b"z".to_vec();
        assert!(decode(4, &data.encode_to_vec()).is_err());
    }
}
