"""TPC-H through shoal's query path vs raw DuckDB over the same files.

    .venv/bin/python benchmarks/tpch.py --scale 1 --formats parquet,csv --threads 2

Generates TPC-H with the ``tpch`` extension from the pip package
``duckdb-extension-tpch==1.5.5`` (loaded from its file, no download) into Parquet and
CSV files under ``benchmarks/.data/sf<scale>/`` (cached between runs), crawls them
into a catalog, then runs the 22 queries alternately through
``StatementRunner.run`` (parse, resolve, plan, locked-down engine, counted reads)
and on a plain DuckDB connection with views over the same files, the same thread
count and memory limit. Prints per-query times and ratios; the best of ``--repeat``
runs counts. Each line also gives the ratio of process CPU time (DuckDB's workers
included), which varies less than wall-clock time on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import duckdb

from shoal.catalog.store import CatalogStore
from shoal.catalog.types import parse_type
from shoal.crawler.runner import crawl_path
from shoal.engine.duckdb import DuckDBEngine
from shoal.engine.scans import duckdb_type
from shoal.queries.runner import StatementContext, StatementRunner
from shoal.storage.local import LocalStorage

DATA = Path(__file__).parent / ".data"
TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


def extension_path() -> str:
    """The tpch extension file shipped inside the pip package."""
    import duckdb_extension_tpch  # type: ignore[import-untyped]

    root = Path(duckdb_extension_tpch.__file__).parent
    return str(next(root.glob(f"extensions/v{duckdb.__version__}/tpch.duckdb_extension")))


def generate(root: Path, scale: float) -> None:
    """Write every TPC-H table as one Parquet and one CSV file (skipped when cached)."""
    marker = root / ".complete"
    if marker.exists():
        return
    con = duckdb.connect()
    con.execute(f"LOAD '{extension_path()}'")
    con.execute(f"CALL dbgen(sf = {scale})")
    for table in TABLES:
        for fmt, options in (("parquet", "FORMAT parquet"), ("csv", "FORMAT csv, HEADER true")):
            folder = root / f"tpch-{fmt}" / table
            folder.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY {table} TO '{folder / f'{table}.{fmt}'}' ({options})")
    marker.touch()
    con.close()


def queries() -> list[str]:
    con = duckdb.connect()
    con.execute(f"LOAD '{extension_path()}'")
    rows = con.execute("SELECT query FROM tpch_queries() ORDER BY query_nr").fetchall()
    found = [str(row[0]) for row in rows]
    con.close()
    return found


@dataclass
class Lake:
    runner: StatementRunner
    catalog: CatalogStore
    root: Path


def open_lake(root: Path, workdir: Path, threads: int, memory: str) -> Lake:
    storage = LocalStorage(root)
    catalog = CatalogStore(f"sqlite:///{workdir / 'catalog.db'}")
    for fmt in ("parquet", "csv"):
        crawl_path(catalog, storage, f"s3://tpch-{fmt}/", f"tpch_{fmt}")
    # A CSV crawl types dates as strings (as Glue does); declare the real types, as a
    # user would with CREATE EXTERNAL TABLE, so both formats answer the same queries.
    for table in catalog.list_tables("tpch_csv"):
        typed = catalog.get_table("tpch_parquet", table.name).columns
        catalog.update_table(replace(table, storage=replace(table.storage, columns=typed)))
    engine = DuckDBEngine([str(root)], str(workdir / "spill"), memory_limit=memory, threads=threads)
    return Lake(StatementRunner(catalog, storage, engine), catalog, root)


def raw_connection(lake: Lake, fmt: str, threads: int, memory: str) -> duckdb.DuckDBPyConnection:
    """Plain DuckDB with one view per table over the same files (CSV: the catalog's types)."""
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory})
    for table in lake.catalog.list_tables(f"tpch_{fmt}"):
        path = lake.root / f"tpch-{fmt}" / table.name / f"{table.name}.{fmt}"
        if fmt == "parquet":
            source = f"read_parquet('{path}')"
        else:
            types = ", ".join(
                f"'{c.name}': '{duckdb_type(parse_type(c.type))}'" for c in table.columns
            )
            source = (
                f"read_csv('{path}', header = true, auto_detect = false, columns = {{{types}}})"
            )
        con.execute(f'CREATE VIEW "{table.name}" AS SELECT * FROM {source}')
    return con


@dataclass(frozen=True)
class Timing:
    """Best wall-clock seconds of the runs, and best CPU seconds of the process's threads.

    CPU time (DuckDB's workers included) is the steadier figure on a shared machine,
    where other processes stretch wall-clock time unevenly.
    """

    wall: float = float("inf")
    cpu: float = float("inf")

    def best(self, run: Callable[[], object]) -> Timing:
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return Timing(min(self.wall, wall), min(self.cpu, cpu))


def _run_raw(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).to_arrow_table()


def bench(
    lake: Lake, fmt: str, threads: int, memory: str, repeat: int
) -> list[tuple[Timing, Timing]]:
    raw = raw_connection(lake, fmt, threads, memory)
    context = StatementContext(query_id="tpch", database=f"tpch_{fmt}")
    results = []
    for number, sql in enumerate(queries(), start=1):
        shoal, plain = Timing(), Timing()
        for attempt in range(repeat):
            # Alternate, so both see the same cache state, and swap who goes first each
            # round: on this machine the same work measured 2-5% apart by position alone.
            if attempt % 2:
                plain = plain.best(partial(_run_raw, raw, sql))
            shoal = shoal.best(partial(lake.runner.run, sql, context))
            if not attempt % 2:
                plain = plain.best(partial(_run_raw, raw, sql))
        results.append((shoal, plain))
        print(
            f"{fmt:8} Q{number:02d}  shoal {shoal.wall * 1000:9.1f} ms"
            f"  raw {plain.wall * 1000:9.1f} ms  ratio {shoal.wall / plain.wall:5.2f}"
            f"  cpu ratio {shoal.cpu / plain.cpu:5.2f}",
            flush=True,
        )
    raw.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--formats", default="parquet,csv", help="comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="4GB")
    parser.add_argument("--repeat", type=int, default=2, help="runs per query; best counts")
    args = parser.parse_args(argv)
    root = DATA / f"sf{args.scale:g}"
    start = time.perf_counter()
    generate(root, args.scale)
    print(f"data ready in {time.perf_counter() - start:.1f} s: {root}", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        lake = open_lake(root, Path(workdir), args.threads, args.memory)
        for fmt in args.formats.split(","):
            results = bench(lake, fmt, args.threads, args.memory, args.repeat)
            shoal_total = sum(s.wall for s, _ in results)
            raw_total = sum(r.wall for _, r in results)
            cpu_ratio = sum(s.cpu for s, _ in results) / sum(r.cpu for _, r in results)
            print(
                f"{fmt:8} TOTAL shoal {shoal_total:.2f} s  raw {raw_total:.2f} s  "
                f"ratio {shoal_total / raw_total:.3f}  cpu ratio {cpu_ratio:.3f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
