//! Basalt's protocol definitions, and the one thing to read first when following a request
//! across the wire. This crate owns Basalt's own `.proto` files for the parts of kvproto
//! (`metapb`, `errorpb`, `kvrpcpb`, `coprocessor`, `pdpb`, `keyspacepb`, `tikvpb`) and tipb (`tipb`) that it
//! speaks. Package names, service names, field numbers and enum values are upstream's, so TiDB,
//! client-go and the Rust `tikv-client` talk to Basalt unchanged; fields Basalt does not declare
//! arrive as unknown fields and are ignored.
//!
//! The Rust code is generated at build time by prost/tonic from `proto/*.proto`, compiled with
//! `protox` (no system `protoc`). proto3 scalars map to plain values; tipb is proto2, so its
//! `optional` fields map to `Option<T>` (read them with the generated getters).
//!
//! Start with `tikvpb::tikv_server::Tikv` (the KV service) and `pdpb::pd_server::Pd`.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Cluster metadata: stores, regions, peers and region epochs.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod metapb {
    tonic::include_proto!("metapb");
}

/// Region-level errors returned with KV and coprocessor responses.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod errorpb {
    tonic::include_proto!("errorpb");
}

/// KV request and response messages (transactional and raw).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod kvrpcpb {
    tonic::include_proto!("kvrpcpb");
}

/// Coprocessor request/response envelopes; the payload is a tipb message.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod coprocessor {
    tonic::include_proto!("coprocessor");
}

/// Placement driver (PD) service and messages.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod pdpb {
    tonic::include_proto!("pdpb");
}

/// PD's keyspace directory (API V2 keyspaces).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod keyspacepb {
    tonic::include_proto!("keyspacepb");
}

/// Raft-rs's messages (entries, hard state, conf changes) in their wire form.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod eraftpb {
    tonic::include_proto!("eraftpb");
}

/// Messages between stores and the raft store's persisted state.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod raft_serverpb {
    tonic::include_proto!("raft_serverpb");
}

/// Commands proposed to a region's Raft group.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod raft_cmdpb {
    tonic::include_proto!("raft_cmdpb");
}

/// The `tikvpb.Tikv` gRPC service, including `BatchCommands`.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod tikvpb {
    tonic::include_proto!("tikvpb");
}

/// TiDB's coprocessor plans and replies: DAG, analyze and checksum.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod tipb {
    tonic::include_proto!("tipb");
}
