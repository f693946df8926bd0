//! MySQL TIME (placeholder; being written).

/// A MySQL duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Duration;
