//! The SQL front and the `basalt` CLI: a catalog stored in Basalt, DDL and DML written as
//! TiDB-format rows through Percolator transactions, and SELECT planned with DataFusion with
//! scans, filters, partial aggregates, top-N and limits pushed down as `tipb.DAGRequest`s.
//! Filled by the SQL front issue; empty for now.
