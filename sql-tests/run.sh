#!/usr/bin/env bash
# The SQL front's tests against a real single-node Basalt: loads TPC-H at SF 0.01 and checks
# the 22 queries against DuckDB's answers, runs Basalt's own .slt files (every record must
# pass), then the SQLite sqllogictest corpus (labelled mysql) with its pass counts compared to
# sql-tests/slt-baseline.txt (the files listed there; none may pass fewer records than its
# baseline).
#
# Needs `basalt-server` and `basalt` built in $CARGO_TARGET_DIR/debug. The corpus is read from
# $BASALT_SLT_CORPUS, else /work/shared/sqllogictest; without it that part is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug"
corpus="${BASALT_SLT_CORPUS:-/work/shared/sqllogictest}"
data="$(mktemp -d)"
out="$(mktemp)"
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$data" "$out"
}
trap cleanup EXIT

"$bin/basalt-server" --data-dir "$data/db" --addr 127.0.0.1:0 --pd-addr 127.0.0.1:0 \
    --status-addr 127.0.0.1:0 --log warn > "$data/server.out" 2>&1 &
server=$!
for _ in $(seq 1 120); do
    grep -q '^READY ' "$data/server.out" && break
    sleep 0.5
done
pd="$(sed -n 's/^READY .*pd=\([^ ]*\).*/\1/p' "$data/server.out")"
[ -n "$pd" ] || { echo "basalt-server did not start" >&2; cat "$data/server.out" >&2; exit 1; }

status=0
"$bin/basalt" --pd "$pd" load tpch --sf 0.01 2>/dev/null
"$bin/basalt" --pd "$pd" tpch-check --dir sql-tests/tpch || status=1

"$bin/basalt" --pd "$pd" slt sql-tests/slt/*.slt || status=1

if [ -d "$corpus" ]; then
    # The files of the baseline, each with the records it must pass at least.
    while read -r file minimum; do
        [ -z "$file" ] || [ "${file:0:1}" = "#" ] && continue
        "$bin/basalt" --pd "$pd" slt --show 0 "$corpus/$file" < /dev/null | tee "$out" || true
        passed="$(sed -n "s|^.*/$file: \([0-9]*\) passed.*|\1|p" "$out")"
        if [ -z "$passed" ] || [ "$passed" -lt "$minimum" ]; then
            echo "sqllogictest regression: $file passed ${passed:-nothing}, baseline $minimum" >&2
            status=1
        fi
    done < sql-tests/slt-baseline.txt
else
    echo "sqllogictest corpus not found at $corpus: skipped"
fi
exit "$status"
