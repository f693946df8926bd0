#!/usr/bin/env bash
# The two commands a newcomer needs:
#   ./basalt.sh run    start a single-node Basalt (KV on 127.0.0.1:20160, embedded PD on 127.0.0.1:2379)
#   ./basalt.sh test   run every test
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
        cargo fmt --all -- --check
        cargo clippy --workspace --all-targets --quiet -- -D warnings
        log="$(mktemp)"
        set +e
        cargo test --workspace "$@" 2>&1 | tee "$log"
        status=${PIPESTATUS[0]}
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
