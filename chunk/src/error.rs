//! The one error type of the crate: what a decoder or a conversion could not do, with enough
//! context to say where.

/// Errors of codecs, conversions and arithmetic on TiDB values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The input ended before a value was complete.
    #[error("truncated {what}: need {need} more bytes, have {have}")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Bytes still needed.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// The bytes do not form a valid value (bad flag, bad marker, inconsistent lengths).
    #[error("corrupted {what}: {detail}")]
    Corrupted {
        /// What was being decoded.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A value does not fit the target type.
    #[error("{what} value is out of range: {detail}")]
    Overflow {
        /// The target type or operation.
        what: &'static str,
        /// The offending value.
        detail: String,
    },
    /// Text that does not parse as the asked type.
    #[error("invalid {what} value: {input:?}")]
    Parse {
        /// The target type.
        what: &'static str,
        /// The text.
        input: String,
    },
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Something this build does not handle (an unknown type code, an unsupported collation).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    /// A `Truncated` error.
    pub fn truncated(what: &'static str, need: usize, have: usize) -> Error {
        Error::Truncated { what, need, have }
    }

    /// A `Corrupted` error.
    pub fn corrupted(what: &'static str, detail: impl Into<String>) -> Error {
        Error::Corrupted {
            what,
            detail: detail.into(),
        }
    }

    /// An `Overflow` error.
    pub fn overflow(what: &'static str, detail: impl ToString) -> Error {
        Error::Overflow {
            what,
            detail: detail.to_string(),
        }
    }

    /// A `Parse` error.
    pub fn parse(what: &'static str, input: impl Into<String>) -> Error {
        Error::Parse {
            what,
            input: input.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
