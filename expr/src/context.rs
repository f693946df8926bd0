//! The evaluation context of one request: the statement flags and SQL mode TiDB sends in the DAG,
//! the session time zone, and the warnings collected while evaluating.

use basalt_chunk::time::Tz;

use crate::error::{Error, Result};

/// Statement flags (TiDB `stmtctx` flags as carried in `DAGRequest.flags`).
pub mod flag {
    /// Ignore truncation errors entirely.
    pub const IGNORE_TRUNCATE: u64 = 1;
    /// Report truncation as a warning.
    pub const TRUNCATE_AS_WARNING: u64 = 1 << 1;
    /// Pad CHAR(n) to its full length.
    pub const PAD_CHAR_TO_FULL_LENGTH: u64 = 1 << 2;
    /// The statement is an INSERT.
    pub const IN_INSERT_STMT: u64 = 1 << 3;
    /// The statement is an UPDATE or DELETE.
    pub const IN_UPDATE_OR_DELETE_STMT: u64 = 1 << 4;
    /// The statement is a SELECT.
    pub const IN_SELECT_STMT: u64 = 1 << 5;
    /// Report overflow as a warning.
    pub const OVERFLOW_AS_WARNING: u64 = 1 << 6;
    /// Ignore zero values in dates.
    pub const IGNORE_ZERO_IN_DATE: u64 = 1 << 7;
    /// Report division by zero as a warning.
    pub const DIVIDED_BY_ZERO_AS_WARNING: u64 = 1 << 8;
}

/// A warning, as it goes back to TiDB (`tipb.Error{code, msg}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// MySQL error code.
    pub code: u32,
    /// Message.
    pub message: String,
}

/// Per-request evaluation settings and collected warnings.
#[derive(Debug, Clone)]
pub struct EvalContext {
    /// `flag::*` bits.
    pub flags: u64,
    /// MySQL SQL mode bits.
    pub sql_mode: u64,
    /// The session time zone.
    pub tz: Tz,
    /// At most this many warnings are kept (the rest are only counted).
    pub max_warnings: usize,
    warnings: Vec<Warning>,
    warning_count: usize,
}

impl Default for EvalContext {
    fn default() -> Self {
        EvalContext {
            flags: 0,
            sql_mode: 0,
            tz: Tz::utc(),
            max_warnings: 64,
            warnings: Vec::new(),
            warning_count: 0,
        }
    }
}

impl EvalContext {
    /// A context with `flags` and `sql_mode` in time zone `tz`.
    pub fn new(flags: u64, sql_mode: u64, tz: Tz) -> EvalContext {
        EvalContext {
            flags,
            sql_mode,
            tz,
            ..Default::default()
        }
    }

    /// Records a warning.
    pub fn warn(&mut self, error: &Error) {
        self.warning_count += 1;
        if self.warnings.len() < self.max_warnings {
            self.warnings.push(Warning {
                code: error.code(),
                message: error.to_string(),
            });
        }
    }

    /// Turns `error` into a warning when the flags say so, else returns it: overflow with
    /// OVERFLOW_AS_WARNING, division by zero with DIVIDED_BY_ZERO_AS_WARNING, truncation with
    /// TRUNCATE_AS_WARNING (or silently with IGNORE_TRUNCATE).
    pub fn handle(&mut self, error: Error) -> Result<()> {
        let demote = match &error {
            Error::Overflow { .. } => self.flags & flag::OVERFLOW_AS_WARNING != 0,
            Error::DivisionByZero => self.flags & flag::DIVIDED_BY_ZERO_AS_WARNING != 0,
            Error::Chunk(basalt_chunk::Error::Parse { .. }) => {
                if self.flags & flag::IGNORE_TRUNCATE != 0 {
                    return Ok(());
                }
                self.flags & flag::TRUNCATE_AS_WARNING != 0
            }
            _ => false,
        };
        if demote {
            self.warn(&error);
            Ok(())
        } else {
            Err(error)
        }
    }

    /// Warnings kept so far.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Warnings raised so far, kept or not.
    pub fn warning_count(&self) -> usize {
        self.warning_count
    }

    /// Takes the kept warnings and the count, leaving none.
    pub fn take_warnings(&mut self) -> (Vec<Warning>, usize) {
        let count = std::mem::take(&mut self.warning_count);
        (std::mem::take(&mut self.warnings), count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_decide_between_error_and_warning() {
        let mut strict = EvalContext::default();
        assert!(strict.handle(Error::DivisionByZero).is_err());
        let mut lenient = EvalContext::new(
            flag::DIVIDED_BY_ZERO_AS_WARNING | flag::OVERFLOW_AS_WARNING,
            0,
            Tz::utc(),
        );
        lenient.handle(Error::DivisionByZero).unwrap();
        lenient.handle(Error::overflow("BIGINT", "1 + 2")).unwrap();
        assert!(lenient.handle(Error::InvalidExpr("x".into())).is_err());
        assert_eq!(lenient.warning_count(), 2);
        assert_eq!(lenient.warnings()[0].code, 1365);
        assert_eq!(lenient.warnings()[1].code, 1690);
    }
}
