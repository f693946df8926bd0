//! Field types (placeholder; being written).
