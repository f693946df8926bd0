//! The PD error type.

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
}

impl From<rocksdb::Error> for Error {
    fn from(err: rocksdb::Error) -> Self {
        Error::Storage(err.into_string())
    }
}

/// PD results.
pub type Result<T> = std::result::Result<T, Error>;
