#!/usr/bin/env bash
# Runs the official Rust client's own integration suites, unchanged, against a fresh Basalt:
# `tests/integration_tests.rs` and `tests/failpoint_tests.rs` of the published `tikv-client`
# 0.4.0 crate. Starts `basalt-server` with a new data directory on free loopback ports, runs
# each suite with `--test-threads 1`, stops the server and prints `N passed, M failed`.
#
# Environment: CARGO_TARGET_DIR (default: the workspace's target/), BASALT_SERVER (default: the
# debug build there, built if missing), MULTI_REGION (passed through to the suite).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TERM_COLOR=never
version="0.4.0"

server="${BASALT_SERVER:-$CARGO_TARGET_DIR/debug/basalt-server}"
if [ -z "${BASALT_SERVER:-}" ]; then
    (cd "$root" && cargo build --quiet -p basalt-server --bin basalt-server)
fi

# The published crate, fetched through this folder's lock file and unpacked once.
cargo fetch --quiet --locked --manifest-path "$here/Cargo.toml"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
crate_file="$(ls "$cargo_home"/registry/cache/*/tikv-client-$version.crate | head -n 1)"
suite_root="$CARGO_TARGET_DIR/tikv-client-suite"
suite_dir="$suite_root/tikv-client-$version"
if [ ! -f "$suite_dir/Cargo.toml" ]; then
    mkdir -p "$suite_root"
    tar -xzf "$crate_file" -C "$suite_root"
fi

# The crate pins a toolchain (1.84.1) that cannot be installed here; use the one in use outside.
if command -v rustup >/dev/null 2>&1; then
    RUSTUP_TOOLCHAIN="$(cd "$root" && rustup show active-toolchain | cut -d' ' -f1)"
    export RUSTUP_TOOLCHAIN
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill -9 "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Build the suites before the server starts, so build time does not count against it.
suite_cargo() {
    (cd "$suite_dir" && CARGO_TARGET_DIR="$suite_root/target" \
        cargo test --locked --features integration-tests "$@")
}
suite_cargo --no-run --test integration_tests --test failpoint_tests 2>&1 | tail -n 3

"$server" --data-dir "$work/data" --addr 127.0.0.1:0 --pd-addr 127.0.0.1:0 \
    --status-addr 127.0.0.1:0 --log warn >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
disown "$server_pid" # its kill at exit is expected; no job-control notice
pd=""
for _ in $(seq 1 600); do
    pd="$(sed -n 's/^READY .*pd=\([^ ]*\).*/\1/p' "$work/server.out")"
    if [ -n "$pd" ]; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$work/server.err" >&2
        echo "basalt-server exited before it was ready" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$pd" ]; then
    echo "basalt-server was not ready after 60 s" >&2
    exit 1
fi
echo "basalt-server ready, PD at $pd"

status=0
for suite in integration_tests failpoint_tests; do
    echo "== tikv-client $version: $suite"
    PD_ADDRS="$pd" suite_cargo --test "$suite" -- --test-threads 1 2>&1 | tee "$work/$suite.log" ||
        status=1
done

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "basalt-server died during the suites:" >&2
    tail -n 50 "$work/server.err" >&2
    status=1
fi
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tikv-client suite: %d passed, %d failed\n", p, f }' \
    "$work/integration_tests.log" "$work/failpoint_tests.log"
exit "$status"
