#!/usr/bin/env bash
# A local multi-store Basalt cluster: one basalt-pd and N basalt-server stores, each on its own
# loopback address (127.0.0.2, 127.0.0.3, ...) with its own data directory.
#
#   scripts/cluster.sh start [--stores N] [--dir DIR] [--release]
#   scripts/cluster.sh stop  [--dir DIR]
#   scripts/cluster.sh status [--dir DIR]
#
# PD listens on 127.0.0.1:2379 (clients connect there); store i on 127.0.0.$((i+1)):20160.
# Logs and pid files go under DIR (default ./cluster-data).
set -euo pipefail

cmd=${1:-}
shift || true
stores=3
dir=./cluster-data
profile=debug
while [ $# -gt 0 ]; do
    case "$1" in
        --stores) stores=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --release) profile=release; shift ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/$profile

wait_ready() { # log file, what
    for _ in $(seq 1 300); do
        if grep -q '^READY' "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$2 did not start; see $1" >&2
    return 1
}

case "$cmd" in
start)
    flag=""
    [ "$profile" = release ] && flag="--release"
    (cd "$root" && cargo build -q $flag -p basalt-server --bins)
    mkdir -p "$dir"
    "$bin/basalt-pd" --data-dir "$dir/pd" --addr 127.0.0.1:2379 >"$dir/pd.log" 2>&1 &
    echo $! >"$dir/pd.pid"
    wait_ready "$dir/pd.log" "basalt-pd"
    for i in $(seq 1 "$stores"); do
        ip=127.0.0.$((i + 1))
        "$bin/basalt-server" --join-pd 127.0.0.1:2379 --data-dir "$dir/store-$i" \
            --addr "$ip:20160" --status-addr "$ip:20180" >"$dir/store-$i.log" 2>&1 &
        echo $! >"$dir/store-$i.pid"
    done
    for i in $(seq 1 "$stores"); do wait_ready "$dir/store-$i.log" "store $i"; done
    echo "cluster up: PD 127.0.0.1:2379, $stores stores on 127.0.0.2..; logs in $dir"
    ;;
stop)
    for pid in "$dir"/*.pid; do
        [ -e "$pid" ] || continue
        kill "$(cat "$pid")" 2>/dev/null || true
        rm -f "$pid"
    done
    echo "cluster stopped (data kept in $dir)"
    ;;
status)
    curl -s http://127.0.0.1:2379/pd/api/v1/stores || echo "PD is not answering"
    ;;
*)
    echo "usage: $0 start|stop|status [--stores N] [--dir DIR] [--release]" >&2
    exit 2
    ;;
esac
