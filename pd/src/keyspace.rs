//! `keyspacepb.Keyspace`: the keyspace directory API V2 clients read before their first request.
//! Basalt has one keyspace, `DEFAULT` with id 0, whose key ranges the store splits into regions
//! of their own; `is_keyspace_edge` tells the merge checker where those ranges begin and end,
//! so that it never merges across them.

use basalt_proto::keyspacepb::keyspace_server::Keyspace;
use basalt_proto::{keyspacepb, pdpb};
use tonic::{Request, Response, Status};

/// The default keyspace's name.
pub const DEFAULT_KEYSPACE_NAME: &str = "DEFAULT";
/// The default keyspace's id.
pub const DEFAULT_KEYSPACE_ID: u32 = 0;

/// The raw and transactional ranges of the default keyspace, as API V2 prefixes them: `r` or
/// `x`, then the keyspace id in 3 bytes; each range ends where the next keyspace id begins.
const DEFAULT_KEYSPACE_EDGES: [&[u8]; 4] = [b"r\0\0\0", b"r\0\0\x01", b"x\0\0\0", b"x\0\0\x01"];

/// Bytes in one group of the memcomparable encoding.
const ENCODED_GROUP_SIZE: usize = 8;
/// The marker after a full group.
const ENCODED_MARKER: u8 = 0xff;

/// TiKV's memcomparable encoding of a byte string (region keys are in this form): groups of 8
/// bytes, the last one zero-padded, each followed by `0xff` minus its padding. The store
/// encodes with `basalt_storage::encode_bytes`; PD keeps its own copy rather than depend on the
/// storage crate.
fn encode_bytes(data: &[u8]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity((data.len() / ENCODED_GROUP_SIZE + 1) * (ENCODED_GROUP_SIZE + 1));
    let mut chunks = data.chunks_exact(ENCODED_GROUP_SIZE);
    for chunk in &mut chunks {
        out.extend_from_slice(chunk);
        out.push(ENCODED_MARKER);
    }
    let rest = chunks.remainder();
    let pad = ENCODED_GROUP_SIZE - rest.len();
    out.extend_from_slice(rest);
    out.resize(out.len() + pad, 0);
    // `pad` is at most 8.
    out.push(ENCODED_MARKER - pad as u8);
    out
}

/// The region keys (encoded) where the default keyspace's ranges begin and end; the store
/// splits regions there.
pub(crate) fn keyspace_edges() -> [Vec<u8>; 4] {
    DEFAULT_KEYSPACE_EDGES.map(encode_bytes)
}

/// Whether the region key `key` is one of `keyspace_edges`: two regions meeting there must not
/// merge.
pub(crate) fn is_keyspace_edge(key: &[u8]) -> bool {
    keyspace_edges().iter().any(|edge| edge == key)
}

/// The keyspace service of one cluster.
#[derive(Debug, Clone)]
pub struct KeyspaceService {
    cluster_id: u64,
    created_at: i64,
}

impl KeyspaceService {
    /// The service of cluster `cluster_id`, whose default keyspace dates from `created_at`
    /// (Unix seconds).
    pub fn new(cluster_id: u64, created_at: i64) -> Self {
        KeyspaceService {
            cluster_id,
            created_at,
        }
    }

    fn header(&self, error: Option<pdpb::Error>) -> Option<pdpb::ResponseHeader> {
        Some(pdpb::ResponseHeader {
            cluster_id: self.cluster_id,
            error,
        })
    }
}

#[tonic::async_trait]
impl Keyspace for KeyspaceService {
    async fn load_keyspace(
        &self,
        request: Request<keyspacepb::LoadKeyspaceRequest>,
    ) -> Result<Response<keyspacepb::LoadKeyspaceResponse>, Status> {
        let request = request.into_inner();
        if let Some(header) = &request.header {
            if header.cluster_id != 0 && header.cluster_id != self.cluster_id {
                return Err(Status::failed_precondition(format!(
                    "mismatch cluster id, need {} but got {}",
                    self.cluster_id, header.cluster_id
                )));
            }
        }
        let response = if request.name == DEFAULT_KEYSPACE_NAME {
            keyspacepb::LoadKeyspaceResponse {
                header: self.header(None),
                keyspace: Some(keyspacepb::KeyspaceMeta {
                    id: DEFAULT_KEYSPACE_ID,
                    name: DEFAULT_KEYSPACE_NAME.to_string(),
                    state: keyspacepb::KeyspaceState::Enabled as i32,
                    created_at: self.created_at,
                    state_changed_at: self.created_at,
                    config: Default::default(),
                }),
            }
        } else {
            keyspacepb::LoadKeyspaceResponse {
                header: self.header(Some(pdpb::Error {
                    r#type: pdpb::ErrorType::EntryNotFound as i32,
                    message: format!("keyspace {:?} does not exist", request.name),
                })),
                keyspace: None,
            }
        };
        Ok(Response::new(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_encoded_like_tikv_keys() {
        // Golden vectors from TiKV's `codec::bytes::encode_bytes` (components/codec): a short
        // group is zero-padded and marked 0xff minus the padding; a full one is marked 0xff and
        // followed by an empty group.
        assert_eq!(encode_bytes(b""), [0, 0, 0, 0, 0, 0, 0, 0, 0xf7]);
        assert_eq!(
            encode_bytes(b"r\0\0\x01"),
            [b'r', 0, 0, 1, 0, 0, 0, 0, 0xfb]
        );
        assert_eq!(
            encode_bytes(b"12345678"),
            [b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0xf7]
        );
        assert!(is_keyspace_edge(&[b'x', 0, 0, 0, 0, 0, 0, 0, 0xfb]));
        assert!(!is_keyspace_edge(b"x\0\0\0"), "raw, unencoded");
        assert!(!is_keyspace_edge(&encode_bytes(b"r\0\0\0k")));
    }
}
