//! Multi-version concurrency control over three column families: `lock` (key → Lock),
//! `write` (key@commit_ts → Write) and `default` (key@start_ts → long value).

mod key;
mod lock;
mod reader;
mod scanner;
mod txn;
mod write;

pub use key::Key;
pub use lock::{physical_ms, Lock, LockType, SHORT_VALUE_MAX_LEN};
pub use reader::{check_lock_conflict, MvccReader, TxnCommitRecord};
pub use scanner::{scan, scan_each, MvccScanner, ScanOptions, ScannedEntry};
pub use txn::MvccTxn;
pub use write::{Write, WriteRef, WriteType};
