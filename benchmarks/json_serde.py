"""Reading JSON lines through Athena's JSON SerDe rules, next to DuckDB's own reader.

A table declared with the OpenX JSON SerDe matches keys case-insensitively
(``engine/serdes/``): lines whose keys are all lower case go straight to DuckDB's
``json_transform``; others are rewritten by a Python function first. This times a
``SELECT`` that reads every column of N lines three ways, same engine, same files:
DuckDB's ``read_json`` (what shoal did before the SerDe rules, blind to key case),
the SerDe over lower-case keys, and the SerDe over camelCase keys.

    .venv/bin/python benchmarks/json_serde.py [--rows 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
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


def scan(path: Path, serde: str) -> TableScan:
    files = (DataFile(str(path), path.stat().st_size),)
    return TableScan("b", "t", TableFormat("json", serde=serde), COLUMNS, (), files)


def best(engine: DuckDBEngine, table: TableScan, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        engine.run(DuckDBQuery(SQL, (table,)))
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
        engine = DuckDBEngine([tmp], str(root / "spill"), threads=2)
        try:
            native = best(engine, scan(lower, ""), args.repeat)
            fast = best(engine, scan(lower, OPENX_JSON), args.repeat)
            slow = best(engine, scan(camel, OPENX_JSON), args.repeat)
        finally:
            engine.close()
    print(f"{args.rows:,} rows, best of {args.repeat}")
    print("| reader | time | vs read_json |")
    print("| --- | ---: | ---: |")
    for name, seconds in [("DuckDB read_json (no SerDe rules)", native),
                          ("OpenX SerDe, lower-case keys", fast),
                          ("OpenX SerDe, camelCase keys", slow)]:  # fmt: skip
        print(f"| {name} | {seconds * 1000:.0f} ms | {seconds / native:.2f}x |")


if __name__ == "__main__":
    main()
