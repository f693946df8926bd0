//! The server's error type.

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] basalt_storage::Error),
    /// The placement driver failed or refused.
    #[error("PD: {0}")]
    Pd(String),
    /// The embedded placement driver could not start.
    #[error("embedded PD: {0}")]
    EmbeddedPd(String),
    /// Bytes on disk did not decode.
    #[error("corrupted: {0}")]
    Corrupted(String),
    /// Configuration is invalid.
    #[error("config: {0}")]
    Config(String),
    /// An I/O error (binding sockets, creating directories).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Server results.
pub type Result<T> = std::result::Result<T, Error>;
