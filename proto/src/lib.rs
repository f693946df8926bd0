//! Basalt's protocol definitions: its own `.proto` files for the subset of kvproto (`metapb`,
//! `errorpb`, `kvrpcpb`, `coprocessor`, `pdpb`, `tikvpb`) and tipb (`tipb`) it speaks, with
//! upstream package names, service names, field numbers and enum values, so TiDB, client-go and
//! the Rust `tikv-client` talk to Basalt unchanged. Code is generated at build time by
//! prost/tonic from `proto/*.proto`, compiled with `protox` (no system `protoc`).
//!
//! Start with `tikvpb::tikv_server::Tikv` (the KV service) and `pdpb::pd_server::Pd`.

macro_rules! generated {
    ($($name:ident),* $(,)?) => {
        $(
            #[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
            pub mod $name {
                include!(concat!(env!("OUT_DIR"), "/", stringify!($name), ".rs"));
            }
        )*
    };
}

generated!(metapb, errorpb, kvrpcpb, coprocessor, pdpb, tikvpb, tipb);
