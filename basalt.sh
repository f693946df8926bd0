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
        exec cargo test --workspace "$@"
        ;;
    *)
        echo "usage: ./basalt.sh run [server flags] | ./basalt.sh test" >&2
        exit 2
        ;;
esac
