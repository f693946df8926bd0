//! Errors of coprocessor requests, split the way the response carries them: a lock that blocks
//! the reader goes to `Response.locked`, a region problem to `Response.region_error`, anything
//! else to `Response.other_error`.

/// What a coprocessor request could not do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the snapshot failed (including locks that block the reader and region errors).
    #[error(transparent)]
    Storage(#[from] basalt_storage::Error),
    /// Evaluating an expression failed.
    #[error(transparent)]
    Expr(#[from] basalt_expr::Error),
    /// Decoding stored bytes failed.
    #[error(transparent)]
    Chunk(#[from] basalt_chunk::Error),
    /// The DAG is malformed (unknown executor, wrong children, bad offsets).
    #[error("invalid DAG: {0}")]
    InvalidDag(String),
    /// Something this build does not execute.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The request ran past `max_execution_duration_ms`.
    #[error("coprocessor deadline exceeded after {0} ms")]
    DeadlineExceeded(u64),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
