//! Basalt's compatibility tests live in `tests/`: each starts `basalt-server` as a process (the
//! binary named by `BASALT_SERVER`, or the workspace's debug build) and drives it with the
//! official `tikv-client` crate. `run-tikv-client-suite.sh` runs the client's own integration
//! suites against a fresh server.
