//! Number codecs (placeholder; being written).
