//! Basalt's Rust client: a PD client (TSO, region lookups), a region cache with retries on
//! region errors, and raw, transactional and coprocessor calls. Filled by later issues; tests
//! use the official `tikv-client` crate meanwhile.
