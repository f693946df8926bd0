#!/usr/bin/env python3
"""DuckDB's side of basalt-bench: generates TPC-H lineitem with DuckDB's own dbgen (the same
rows tpchgen produces) at a scale factor, then times each query warm with one thread.

Usage: duckdb_bench.py SF RUNS < queries.json
queries.json: [{"name": ..., "sql": ...}, ...]
Prints one JSON object: {"rows": N, "load_seconds": S,
                         "queries": {name: {"seconds": [...], "answer": [[...], ...]}}}
Installs duckdb and its tpch extension from PyPI when they are missing.
"""

import glob
import json
import os
import subprocess
import sys
import time

DUCKDB = "duckdb==1.4.4"
TPCH = "duckdb-ext-tpch==1.4.4.20260205"


def ensure_duckdb():
    try:
        import duckdb  # noqa: F401
        import duckdb_ext  # noqa: F401
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", DUCKDB, TPCH],
            check=True,
            stdout=sys.stderr,
        )


def tpch_extension():
    import duckdb_ext

    roots = list(getattr(duckdb_ext, "__path__", [])) or [os.path.dirname(duckdb_ext.__file__)]
    for root in roots:
        found = glob.glob(os.path.join(root, "**", "tpch.duckdb_extension"), recursive=True)
        if found:
            return found[0]
    raise SystemExit("the tpch extension file is not in the duckdb-ext-tpch package")


def plain(value):
    """JSON-friendly values: decimals and dates as text."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    return str(value)


def main():
    sf, runs = float(sys.argv[1]), int(sys.argv[2])
    queries = json.load(sys.stdin)
    ensure_duckdb()
    import duckdb

    con = duckdb.connect(config={"allow_unsigned_extensions": "true", "threads": "1"})
    con.execute(f"LOAD '{tpch_extension()}'")
    started = time.perf_counter()
    con.execute(f"CALL dbgen(sf={sf})")
    load_seconds = time.perf_counter() - started
    rows = con.execute("SELECT COUNT(*) FROM lineitem").fetchone()[0]
    out = {"rows": rows, "load_seconds": load_seconds, "queries": {}}
    for query in queries:
        con.execute(query["sql"]).fetchall()  # warm
        seconds, answer = [], None
        for _ in range(runs):
            started = time.perf_counter()
            answer = con.execute(query["sql"]).fetchall()
            seconds.append(time.perf_counter() - started)
        small = answer if len(answer) <= 16 else answer[:16]
        out["queries"][query["name"]] = {
            "seconds": seconds,
            "rows": len(answer),
            "answer": [[plain(v) for v in row] for row in small],
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
