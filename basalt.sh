#!/usr/bin/env bash
# The two commands a newcomer needs:
#   ./basalt.sh run    the playground: a single-node Basalt (KV on 127.0.0.1:20160, embedded PD
#                      on 127.0.0.1:2379) loaded with TPC-H, sample queries with EXPLAIN
#                      ANALYZE, then serving until Ctrl-C
#   ./basalt.sh test   run every test (fmt, clippy, unit and process tests, tikv-client's
#                      suites, the SQL front's TPC-H and sqllogictest runs)
# Extra arguments after `run` go to `basalt playground` (try `./basalt.sh run --help`).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/prereqs.sh
case "${1:-}" in
    run)
        shift
        cargo build --release --bin basalt-server --bin basalt
        exec "${CARGO_TARGET_DIR:-target}/release/basalt" playground "$@"
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
        cargo build --quiet -p basalt-server --bin basalt-server --bin basalt-pd -p basalt-sql --bin basalt
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
        # The SQL front against a server process: TPC-H 22 and sqllogictest.
        sql-tests/run.sh 2>&1 | tee "$log.sql"
        [ "${PIPESTATUS[0]}" = 0 ] || status=1
        set -e
        # One closing line with the totals over every test binary.
        awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
             END { printf "basalt: %d passed, %d failed\n", p, f }' "$log"
        grep -E '^(sql-tests/slt/|/).*: [0-9]+ passed|^[0-9]+ passed, [0-9]+ failed' "$log.sql" | sed 's/^/sql-tests: /' || true
        rm -f "$log" "$log.sql"
        exit "$status"
        ;;
    *)
        echo "usage: ./basalt.sh run [server flags] | ./basalt.sh test" >&2
        exit 2
        ;;
esac
