#!/usr/bin/env bash
# The user's path by hand, for any build (an old one too): a fresh basalt-server from BIN_DIR,
# `basalt load tpch --sf SF`, 2% of lineitem updated and 1% deleted, then TPC-H Q1 and Q6
# RUNS times each and a selective count through `basalt sql`, and Q6's EXPLAIN ANALYZE.
# usage: bench/scripts/user-path.sh BIN_DIR SF RUNS
set -u
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin=$1; sf=$2; runs=$3
data=$(mktemp -d /tmp/user-path.XXXX)
"$bin/basalt-server" --data-dir "$data/db" --addr 127.0.0.1:0 --pd-addr 127.0.0.1:0 --status-addr 127.0.0.1:0 --log warn > "$data/server.out" 2>&1 &
server=$!
for _ in $(seq 1 120); do grep -q '^READY ' "$data/server.out" && break; sleep 0.5; done
pd="$(sed -n 's/^READY .*pd=\([^ ]*\).*/\1/p' "$data/server.out")"
t0=$(date +%s%N)
"$bin/basalt" --pd "$pd" load tpch --sf "$sf" 2>/dev/null
t1=$(date +%s%N)
echo "load sf $sf: $(( (t1 - t0) / 1000000 )) ms"
"$bin/basalt" --pd "$pd" sql -e "UPDATE lineitem SET l_comment = 'rewritten' WHERE l_orderkey % 50 = 7" --format csv
"$bin/basalt" --pd "$pd" sql -e "DELETE FROM lineitem WHERE l_orderkey % 100 = 3" --format csv
"$bin/basalt" --pd "$pd" sql -e "SELECT COUNT(*) FROM lineitem" --format csv
for q in q01 q06; do
  for r in $(seq 1 "$runs"); do
    t0=$(date +%s%N)
    timeout 600 "$bin/basalt" --pd "$pd" sql -e "$(cat $repo/sql-tests/tpch/queries/$q.sql)" --format csv > /dev/null 2>&1; rc=$?
    t1=$(date +%s%N)
    echo "$q sf $sf run $r: $(( (t1 - t0) / 1000000 )) ms rc=$rc"
  done
done
t0=$(date +%s%N); "$bin/basalt" --pd "$pd" sql -e "SELECT COUNT(*) FROM lineitem WHERE l_quantity < 2" --format csv; t1=$(date +%s%N); echo "count sf $sf: $(( (t1 - t0) / 1000000 )) ms"
"$bin/basalt" --pd "$pd" sql -e "EXPLAIN ANALYZE $(cat $repo/sql-tests/tpch/queries/q06.sql)" 2>&1 | head -20
kill $server; wait $server 2>/dev/null; rm -rf "$data"
