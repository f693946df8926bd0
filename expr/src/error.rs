//! Errors of compiling and evaluating expressions.

/// What compiling or evaluating an expression could not do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A value's bytes or a conversion failed in the data model.
    #[error(transparent)]
    Chunk(#[from] basalt_chunk::Error),
    /// The expression tree is malformed (wrong child count, bad column offset, bad constant).
    #[error("invalid expression: {0}")]
    InvalidExpr(String),
    /// A function or expression type this build does not evaluate.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An arithmetic result does not fit its type (MySQL error 1690).
    #[error("{ty} value is out of range in '{expr}'")]
    Overflow {
        /// The result type, as MySQL names it (`BIGINT`, `BIGINT UNSIGNED`, `DOUBLE`).
        ty: &'static str,
        /// The operation.
        expr: String,
    },
    /// Division by zero where the SQL mode makes it an error (MySQL error 1365).
    #[error("Division by 0")]
    DivisionByZero,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An `Overflow` error.
    pub fn overflow(ty: &'static str, expr: impl Into<String>) -> Error {
        Error::Overflow {
            ty,
            expr: expr.into(),
        }
    }

    /// The MySQL error code TiDB reports for this error in warnings.
    pub fn code(&self) -> u32 {
        match self {
            Error::Overflow { .. } => 1690,
            Error::DivisionByZero => 1365,
            Error::Chunk(basalt_chunk::Error::Parse { .. }) => 1292,
            _ => 1105,
        }
    }
}
