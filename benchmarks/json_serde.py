"""Reading JSON lines through Athena's JSON SerDe rules, next to DuckDB's own reader.

A table declared with the OpenX JSON SerDe matches keys case-insensitively
(``engine/serdes/json_keys.py``): lines go straight to DuckDB's ``json_transform``
with the keys spelled as the file's first lines spell them, once a pass over each
file (remembered per file version) has found no key spelled otherwise; lines of a
file not checked so are checked one by one, and lines that fail go through Python.
This times a ``SELECT`` that reads every column of N lines, same files:

* DuckDB's ``read_json`` (what shoal did before the SerDe rules, blind to key case);
* the SerDe over lower-case and over camelCase keys, files already checked (a table's
  second query onwards), and on a fresh engine (the first query, which checks them);
* the SerDe over camelCase keys of files without an mtime, never remembered, so each
  line is checked as it is read.

    .venv/bin/python benchmarks/json_serde.py [--rows 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from shoal.catalog.model import Column
from shoal.engine.base import DataFile, TableFormat, TableScan
from shoal.engine.duckdb import DuckDBEngine, DuckDBQuery
from shoal.engine.serdes import OPENX_JSON

COLUMNS = (
    Column("eventname", "string"),
    Column("eventtime", "string"),
    Column("useridentity", "struct<type:string,username:string,accountid:string>"),
    Column("bytes", "bigint"),
    Column("requestparameters", "string"),
)
SQL = (
    'SELECT count(*), sum("bytes"), count(DISTINCT "useridentity"."username"), '
    'max(length("requestparameters")), max("eventname") FROM "b"."t"'
)


def write_lines(path: Path, rows: int, camel: bool) -> None:
    rng = random.Random(1)
    keys = ["eventName", "eventTime", "userIdentity", "type", "userName", "accountId",
            "bytes", "requestParameters", "bucketName"]  # fmt: skip
    k = {key: key if camel else key.lower() for key in keys}
    with path.open("w") as out:
        for i in range(rows):
            record = {
                k["eventName"]: rng.choice(["GetObject", "PutObject", "ListBuckets"]),
                k["eventTime"]: f"2026-01-01T00:{i % 60:02d}:00Z",
                k["userIdentity"]: {
                    k["type"]: "IAMUser",
                    k["userName"]: f"user{rng.randrange(50)}",
                    k["accountId"]: "123456789012",
                },
                k["bytes"]: rng.randrange(10**6),
                k["requestParameters"]: {k["bucketName"]: "lake", "key": f"k/{i}"},
            }
            out.write(json.dumps(record) + "\n")


def scan(path: Path, serde: str, mtime: bool = True) -> TableScan:
    stat = path.stat()
    modified = datetime.fromtimestamp(stat.st_mtime, UTC) if mtime else None
    files = (DataFile(str(path), stat.st_size, (), modified),)
    return TableScan("b", "t", TableFormat("json", serde=serde), COLUMNS, (), files)


def best(engine: Callable[[], DuckDBEngine], table: TableScan, repeat: int) -> float:
    """The best time of ``repeat`` runs, each on the engine ``engine()`` returns."""
    times = []
    for _ in range(repeat):
        running = engine()
        start = time.perf_counter()
        running.run(DuckDBQuery(SQL, (table,)))
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lower, camel = root / "lower.json", root / "camel.json"
        write_lines(lower, args.rows, camel=False)
        write_lines(camel, args.rows, camel=True)
        engines: list[DuckDBEngine] = []

        def fresh() -> DuckDBEngine:
            engines.append(DuckDBEngine([tmp], str(root / "spill"), threads=2))
            return engines[-1]

        shared = fresh()

        def same() -> DuckDBEngine:
            return shared

        try:
            shared.run(DuckDBQuery(SQL, (scan(lower, OPENX_JSON),)))  # files checked once
            shared.run(DuckDBQuery(SQL, (scan(camel, OPENX_JSON),)))
            runs = [
                ("DuckDB read_json (no SerDe rules)", same, scan(lower, "")),
                ("OpenX SerDe, lower-case keys", same, scan(lower, OPENX_JSON)),
                ("OpenX SerDe, camelCase keys", same, scan(camel, OPENX_JSON)),
                ("OpenX SerDe, lower-case keys, first query", fresh, scan(lower, OPENX_JSON)),
                ("OpenX SerDe, camelCase keys, first query", fresh, scan(camel, OPENX_JSON)),
                ("OpenX SerDe, camelCase keys, no mtime", same, scan(camel, OPENX_JSON, False)),
            ]  # fmt: skip
            timings = [(name, best(engine, table, args.repeat)) for name, engine, table in runs]
        finally:
            for engine in engines:
                engine.close()
    native = timings[0][1]
    print(f"{args.rows:,} rows, best of {args.repeat}")
    print("| reader | time | vs read_json |")
    print("| --- | ---: | ---: |")
    for name, seconds in timings:
        print(f"| {name} | {seconds * 1000:.0f} ms | {seconds / native:.2f}x |")


if __name__ == "__main__":
    main()
