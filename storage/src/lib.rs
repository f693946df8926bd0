//! Basalt's storage layer: the engine traits (RocksDB, and an in-memory engine for tests), MVCC
//! on the `default`/`lock`/`write` column families, Percolator transactions with a latch-based
//! scheduler, raw KV, and garbage collection.
//!
//! Read `Storage` first: every KV request the server receives becomes one of its methods. It
//! reaches the data through the `Engine` trait (`kv`), which the single-node server implements
//! with `LocalEngine` and the Raft store will implement by replicating writes.
#![deny(missing_docs)]

mod codec;
pub mod concurrency;
pub mod engine;
mod error;
pub mod kv;
pub mod mvcc;
pub mod raw;
mod storage;
pub mod txn;

pub use codec::{decode_bytes, encode_bytes};
pub use concurrency::ConcurrencyManager;
pub use error::{Error, Result, TxnError};
pub use kv::{ApiVersion, Engine, LocalEngine, RequestContext};
pub use storage::{PrewriteResult, Storage, MAX_KEYS_PER_REQUEST, MAX_SCAN_LIMIT};
