//! MySQL DECIMAL (placeholder; being written).

/// A MySQL decimal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decimal;
