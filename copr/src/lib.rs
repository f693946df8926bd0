//! The coprocessor: runs the DAGs SQL frontends push down (`coprocessor.Request{tp: 103}`)
//! through a pipeline of batch executors (table and index scans, selection, projection,
//! aggregation, top-N, limit) and answers `tipb.SelectResponse` in TiDB's chunk format. It
//! reads data only through `source::ScanSource` (an MVCC snapshot at `start_ts`) and never sees
//! Raft.
//!
//! Read `dag::DagRunner` first, then `executors`.
#![deny(missing_docs)]

pub mod dag;
mod error;
pub mod executors;
pub mod source;

pub use dag::DagRunner;
pub use error::{Error, Result};

/// `coprocessor.Request.tp` of a DAG request.
pub const REQ_TYPE_DAG: i64 = 103;
/// `coprocessor.Request.tp` of an ANALYZE request.
pub const REQ_TYPE_ANALYZE: i64 = 104;
/// `coprocessor.Request.tp` of a CHECKSUM request.
pub const REQ_TYPE_CHECKSUM: i64 = 105;
