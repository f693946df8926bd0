//! `keyspacepb.Keyspace`: the keyspace directory API V2 clients read before their first request.
//! Basalt has one keyspace, `DEFAULT` with id 0, whose key ranges the store splits into regions
//! of their own.

use basalt_proto::keyspacepb::keyspace_server::Keyspace;
use basalt_proto::{keyspacepb, pdpb};
use tonic::{Request, Response, Status};

/// The default keyspace's name.
pub const DEFAULT_KEYSPACE_NAME: &str = "DEFAULT";
/// The default keyspace's id.
pub const DEFAULT_KEYSPACE_ID: u32 = 0;

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
