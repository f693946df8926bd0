//! TiDB's binary JSON (placeholder; being written).

/// A JSON value in TiDB's binary layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Json;
