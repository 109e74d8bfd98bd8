"""Reading JSON lines through Athena's JSON SerDe rules, next to DuckDB's own reader.

A table declared with the OpenX JSON SerDe matches keys case-insensitively
(``engine/serdes/json_keys.py``): lines go straight to DuckDB's ``json_transform``
with the keys spelled as the file's first lines spell them, once a pass over each
file (remembered per file version) has found no key spelled otherwise; lines of a
file not checked so are checked one by one, and lines that fail go through Python.
This times a ``SELECT`` that reads every column of N lines, same files (wall-clock and
CPU time, the best of each over rounds that run every reader once):

* DuckDB's ``read_json`` (what shoal did before the SerDe rules, blind to key case);
* the SerDe over lower-case and over camelCase keys, files already checked (a table's
  second query onwards), and on a fresh engine (the first query, which checks them);
* the SerDe over camelCase keys of files without an mtime, never remembered, so each
  line is checked as it is read;
* the SerDe over a file whose lines are lower case but for one in ten in camelCase
  (those go through Python).

    .venv/bin/python benchmarks/json_serde.py [--rows 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
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


def write_lines(path: Path, rows: int, camel: bool, every: int = 1) -> None:
    """``rows`` lines; keys in camelCase (every ``every``-th line), else lower case."""
    rng = random.Random(1)
    keys = ["eventName", "eventTime", "userIdentity", "type", "userName", "accountId",
            "bytes", "requestParameters", "bucketName"]  # fmt: skip
    with path.open("w") as out:
        for i in range(rows):
            k = {key: key if camel and i % every == 0 else key.lower() for key in keys}
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


def timed(engine: DuckDBEngine, table: TableScan) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process, all DuckDB threads) of one query."""
    wall, cpu = time.perf_counter(), time.process_time()
    engine.run(DuckDBQuery(SQL, (table,)))
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lower, camel, mixed = root / "lower.json", root / "camel.json", root / "mixed.json"
        write_lines(lower, args.rows, camel=False)
        write_lines(camel, args.rows, camel=True)
        write_lines(mixed, args.rows, camel=True, every=10)
        engines: list[DuckDBEngine] = []

        def fresh() -> DuckDBEngine:
            engines.append(DuckDBEngine([tmp], str(root / "spill"), threads=2))
            return engines[-1]

        shared = fresh()

        def same() -> DuckDBEngine:
            return shared

        runs = [
            ("DuckDB read_json (no SerDe rules)", same, scan(lower, "")),
            ("OpenX SerDe, lower-case keys", same, scan(lower, OPENX_JSON)),
            ("OpenX SerDe, camelCase keys", same, scan(camel, OPENX_JSON)),
            ("OpenX SerDe, lower-case keys, first query", fresh, scan(lower, OPENX_JSON)),
            ("OpenX SerDe, camelCase keys, first query", fresh, scan(camel, OPENX_JSON)),
            ("OpenX SerDe, camelCase keys, no mtime", same, scan(camel, OPENX_JSON, False)),
            ("OpenX SerDe, 1 line in 10 camelCase", same, scan(mixed, OPENX_JSON)),
        ]
        times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in runs}
        try:
            for _, engine, table in runs:  # warm-up: the shared engine checks its files
                timed(engine(), table)
            for _ in range(args.repeat):  # rounds, so that load spikes hit every reader
                for name, engine, table in runs:
                    times[name].append(timed(engine(), table))
                for engine_ in engines[1:]:
                    engine_.close()
                del engines[1:]
        finally:
            for engine_ in engines:
                engine_.close()
    best = {
        name: (min(w for w, _ in runs_), min(c for _, c in runs_)) for name, runs_ in times.items()
    }
    wall_0, cpu_0 = next(iter(best.values()))
    print(f"{args.rows:,} rows, best of {args.repeat} rounds")
    print("| reader | time | vs read_json | CPU time | vs read_json |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (wall, cpu) in best.items():
        print(
            f"| {name} | {wall * 1000:.0f} ms | {wall / wall_0:.2f}x "
            f"| {cpu * 1000:.0f} ms | {cpu / cpu_0:.2f}x |"
        )


if __name__ == "__main__":
    main()
