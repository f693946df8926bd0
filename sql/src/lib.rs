//! Basalt's SQL front: SQL in, results out, with everything a coprocessor can do pushed down to
//! Basalt exactly as TiDB would push it.
//!
//! Read [`session::Session`] first: it parses a statement, keeps DDL and DML in its own hands
//! (the [`catalog`] stored in Basalt, rows encoded by [`rows`] and written by [`dml`] in
//! Percolator transactions through `basalt-client`), and hands queries to DataFusion, whose
//! table scans ([`provider`]) send `tipb.DAGRequest`s built by [`dag`] from the filters
//! [`pushdown`] can translate, and turn the chunk answers into Arrow ([`convert`]). [`explain`]
//! renders plans in TiDB's EXPLAIN shape.
//!
//! Not here: the KV protocol (in `basalt-client`), the coprocessor itself (in `basalt-copr`).

pub mod aggregate;
pub mod catalog;
pub mod convert;
pub mod dag;
pub mod ddl;
pub mod dialect;
pub mod dml;
pub mod error;
pub mod explain;
pub mod format;
pub mod mutate;
pub mod provider;
pub mod pushdown;
pub mod rows;
pub mod session;
pub mod slt;
pub mod topn;
pub mod tpch;
pub mod tpch_check;
pub mod types;

pub use error::{Error, Result};
pub use session::{Output, Session};
