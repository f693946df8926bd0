//! Errors of the SQL front: what the user sees after a statement fails.

use basalt_client::Error as ClientError;
use datafusion::error::DataFusionError;

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not SQL we can parse.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// A table that does not exist.
    #[error("table '{0}' doesn't exist")]
    UnknownTable(String),
    /// A table created twice.
    #[error("table '{0}' already exists")]
    TableExists(String),
    /// A column that does not exist.
    #[error("unknown column '{0}'")]
    UnknownColumn(String),
    /// A statement or type this front does not support yet.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A value that does not fit its column, or a bad value.
    #[error("{0}")]
    InvalidValue(String),
    /// A write that would duplicate a primary or unique key (MySQL error 1062).
    #[error("Duplicate entry for key '{0}'")]
    DuplicateKey(String),
    /// Planning or executing with DataFusion failed.
    #[error("{0}")]
    Plan(#[from] DataFusionError),
    /// The cluster refused or failed a request.
    #[error("{0}")]
    Cluster(#[from] ClientError),
    /// Bytes from storage or a coprocessor answer did not decode.
    #[error("corrupted data: {0}")]
    Codec(#[from] basalt_chunk::Error),
    /// Catalog metadata did not decode.
    #[error("catalog: {0}")]
    Catalog(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for DataFusionError {
    fn from(err: Error) -> Self {
        match err {
            Error::Plan(inner) => inner,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}
