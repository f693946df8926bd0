//! The coprocessor: DAG, analyze and checksum request handlers, the batch executor pipeline
//! (table/index scan, selection, projection, aggregation, top-N, limit), execution summaries and
//! cost estimates. It reads data only through `basalt_storage`'s snapshot traits and never sees
//! Raft. Filled by the coprocessor issue; the server answers coprocessor requests with a clear
//! "not implemented" error until then.
