//! The PD error type. `service` turns these into `pdpb.Error` headers or gRPC statuses in one
//! place (`service::respond`).

/// Errors of the placement driver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The metadata store failed.
    #[error("PD storage: {0}")]
    Storage(String),
    /// Stored metadata did not decode.
    #[error("PD metadata corrupted: {0}")]
    Corrupted(String),
    /// Serving failed.
    #[error("PD transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The request needs a bootstrapped cluster.
    #[error("cluster is not bootstrapped")]
    NotBootstrapped,
    /// Bootstrap was asked for a second time.
    #[error("cluster is already bootstrapped")]
    AlreadyBootstrapped,
    /// The request is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No store has this id.
    #[error("invalid store ID {0}, not found")]
    StoreNotFound(u64),
    /// The store was removed from the cluster.
    #[error("store {0} is tombstone")]
    StoreTombstone(u64),
    /// Another live store already uses the address.
    #[error("duplicated store address {address}, already used by store {store_id}")]
    DuplicatedAddress {
        /// The address asked for.
        address: String,
        /// The store that has it.
        store_id: u64,
    },
    /// A region report is older than what PD knows.
    #[error("region {region_id} is stale: {reason}")]
    StaleRegion {
        /// The reported region.
        region_id: u64,
        /// What is newer on PD's side.
        reason: String,
    },
}

impl From<rocksdb::Error> for Error {
    fn from(err: rocksdb::Error) -> Self {
        Error::Storage(err.into_string())
    }
}

/// PD results.
pub type Result<T> = std::result::Result<T, Error>;
