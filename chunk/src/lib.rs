//! TiDB's data model for Basalt: field types, MySQL values (DECIMAL, DATETIME, DURATION,
//! JSON, ENUM/SET), the byte codecs that cross the wire (memcomparable keys, the datum codec, row
//! format v2, table and index keys) and the columnar batches the vectorized engine computes on,
//! with the TiDB chunk wire encoding.
//!
//! What it does not own: expression evaluation (`basalt-expr`) and executors (`basalt-copr`).
//! Every decoder here takes untrusted bytes and returns `Error` rather than panicking.
//!
//! Read `types::FieldType` first: every value's meaning depends on it.
#![deny(missing_docs)]

pub mod chunk_codec;
pub mod codec;
pub mod collation;
pub mod column;
pub mod decimal;
pub mod duration;
pub mod enums;
mod error;
pub mod json;
pub mod lazy;
pub mod time;
pub mod types;

pub use decimal::Decimal;
pub use duration::Duration;
pub use enums::{Enum, Set};
pub use error::{Error, Result};
pub use json::Json;
pub use time::{DateTime, TimeType};
