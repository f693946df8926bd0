#!/usr/bin/env bash
# Regenerates sql-tests/tpch/answers/qNN.csv: runs each of our TPC-H queries
# (sql-tests/tpch/queries/qNN.sql) in DuckDB at scale factor 0.01 and writes the answer as
# RFC 4180 CSV: a header row of column names, NULL as the bare word NULL, dates as YYYY-MM-DD,
# decimals with their scale as DuckDB prints them, doubles in their shortest round-trip form.
#
# The tables are made by the tpch extension's `CALL dbgen`. DuckDB 1.4's dbgen writes the same
# keys, numbers, dates and names as the reference dbgen but different free text (every
# *_comment and the s_address and c_address columns), which changes the answers of Q2, Q10,
# Q13, Q15 and Q20. Basalt loads its rows with the `tpchgen` crate, which reproduces the
# reference dbgen byte for byte, so by default the rows of DuckDB's tables are replaced by
# those of `tpchgen-cli` (the same generator, from PyPI) before the queries run.
# TPCH_DATA=dbgen keeps DuckDB's own rows instead.
#
# DuckDB, its tpch extension and tpchgen-cli come from PyPI into a virtual environment
# (TPCH_VENV, default ~/.cache/basalt-tpch-venv). Usage: sql-tests/tpch/regenerate.sh [SF]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sf="${1:-0.01}"
venv="${TPCH_VENV:-$HOME/.cache/basalt-tpch-venv}"
data="${TPCH_DATA:-tpchgen}"
case "$data" in
    tpchgen | dbgen) ;;
    *) echo "TPCH_DATA must be tpchgen or dbgen, not '$data'" >&2; exit 2 ;;
esac

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    duckdb==1.4.4 duckdb-ext-tpch==1.4.4.20260205 tpchgen-cli==4.0.0

rows=""
if [ "$data" = tpchgen ]; then
    rows="$(mktemp -d)"
    trap 'rm -rf "$rows"' EXIT
    "$venv/bin/tpchgen-cli" csv --scale-factor "$sf" --output-dir "$rows"
fi

mkdir -p "$here/answers"
"$venv/bin/python" - "$here" "$sf" "$rows" <<'PYTHON'
"""Runs every queries/qNN.sql in DuckDB and writes answers/qNN.csv."""
import csv
import datetime
import decimal
import pathlib
import sys
import sysconfig

import duckdb

here = pathlib.Path(sys.argv[1])
sf = float(sys.argv[2])
rows_dir = pathlib.Path(sys.argv[3]) if sys.argv[3] else None

site = pathlib.Path(sysconfig.get_paths()["purelib"])
extensions = sorted(site.glob("**/tpch.duckdb_extension"))
if not extensions:
    sys.exit(f"tpch.duckdb_extension not found under {site}")

con = duckdb.connect(config={"allow_unsigned_extensions": True})
con.execute(f"LOAD '{extensions[0]}'")
con.execute(f"CALL dbgen(sf={sf})")
if rows_dir is not None:
    tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
    for table in tables:
        source = rows_dir / f"{table}.csv"
        if not source.exists():
            sys.exit(f"tpchgen-cli wrote no {source}")
        con.execute(f"DELETE FROM {table}")
        con.execute(f"COPY {table} FROM '{source}' (FORMAT csv, HEADER true)")
        count = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        print(f"{table}: {count} rows from tpchgen-cli")


def text(value):
    """A cell as DuckDB prints it; NULL as the bare word."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


queries = sorted((here / "queries").glob("q[0-9][0-9].sql"))
if not queries:
    sys.exit(f"no queries in {here / 'queries'}")
for path in queries:
    result = con.execute(path.read_text())
    names = [column[0] for column in result.description]
    answer = result.fetchall()
    out = here / "answers" / (path.stem + ".csv")
    with out.open("w", newline="") as file:
        writer = csv.writer(file, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(names)
        for row in answer:
            writer.writerow([text(value) for value in row])
    print(f"{path.stem}: {len(answer)} rows")
PYTHON
