#!/usr/bin/env bash
# The two commands a newcomer needs:
#   ./basalt.sh run    start a single-node Basalt (KV on 127.0.0.1:20160, embedded PD on 127.0.0.1:2379)
#   ./basalt.sh test   run every test (fmt, clippy, unit and process tests, tikv-client's suites)
# Extra arguments after `run` go to basalt-server (try `./basalt.sh run --help`).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/prereqs.sh
case "${1:-}" in
    run)
        shift
        exec cargo run --release --bin basalt-server -- "$@"
        ;;
    test)
        shift
        # One target directory for the workspace, the compat crate and tikv-client's suites.
        export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
        compat=(--manifest-path compat/Cargo.toml)
        cargo fmt --all -- --check
        cargo fmt "${compat[@]}" -- --check
        cargo clippy --workspace --all-targets --quiet -- -D warnings
        cargo clippy "${compat[@]}" --all-targets --quiet -- -D warnings
        cargo build --quiet -p basalt-server --bin basalt-server
        log="$(mktemp)"
        status=0
        set +e
        # Unit and in-process tests; then tikv-client against a server process; then the
        # client's own integration suites.
        cargo test --workspace "$@" 2>&1 | tee -a "$log"
        [ "${PIPESTATUS[0]}" = 0 ] || status=1
        cargo test "${compat[@]}" 2>&1 | tee -a "$log"
        [ "${PIPESTATUS[0]}" = 0 ] || status=1
        compat/run-tikv-client-suite.sh 2>&1 | tee -a "$log"
        [ "${PIPESTATUS[0]}" = 0 ] || status=1
        set -e
        # One closing line with the totals over every test binary.
        awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
             END { printf "basalt: %d passed, %d failed\n", p, f }' "$log"
        rm -f "$log"
        exit "$status"
        ;;
    *)
        echo "usage: ./basalt.sh run [server flags] | ./basalt.sh test" >&2
        exit 2
        ;;
esac
