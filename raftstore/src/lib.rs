//! Multi-Raft replication of regions on top of raft-rs: peers, the batch system that drives
//! them, the raft transport, apply, split/merge, membership changes and snapshots. It will
//! implement `basalt_storage::Engine` so that transactions, raw KV and the coprocessor run
//! unchanged on replicated regions. Filled by the multi-Raft issue; empty for now.
