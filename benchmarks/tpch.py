"""TPC-H through shoal's query path vs raw DuckDB over the same files.

    .venv/bin/python benchmarks/tpch.py --scale 1 --formats parquet,csv --threads 2

Generates TPC-H with the ``tpch`` extension from the pip package
``duckdb-extension-tpch==1.5.5`` (loaded from its file, no download) into Parquet and
CSV files under ``benchmarks/.data/sf<scale>/`` (cached between runs), crawls them
into a catalog, then runs the 22 queries in turn through ``StatementRunner.run``
(parse, resolve, plan, locked-down engine, counted reads) and on a plain DuckDB
connection with views over the same files, the same thread count and memory limit.
Prints per-query times and ratios; the best of ``--repeat`` runs counts. Each line
also gives the ratio of process CPU time (DuckDB's workers included), which varies
less than wall-clock time on a shared machine.

Each side runs on ``--instances`` engines (separate DuckDB databases), and a query's
best run on any of them counts: on this machine two identical DuckDB databases in
one process differ by up to ~5% over the 22 queries, consistently within a run, so
one engine against one connection measures which database was lucky as much as
shoal. Each instance's total is printed too, so that spread is seen in every run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import duckdb

from shoal.catalog.store import CatalogStore
from shoal.catalog.types import parse_type
from shoal.crawler.runner import crawl_path
from shoal.engine.duckdb import DuckDBEngine
from shoal.engine.duckdb_types import duckdb_type
from shoal.queries.context import StatementContext
from shoal.queries.runner import StatementRunner
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


def generate_parquet(root: Path, scale: float) -> None:
    """Every TPC-H table as one Parquet file, benchmarks/tpch.py's layout (cached)."""
    if (root / ".complete").exists() or (root / ".parquet-complete").exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    scratch = root / "dbgen.duckdb"  # on disk: SF10 in memory would hold ~10 GB
    con = duckdb.connect(str(scratch), config={"memory_limit": "4GB"})
    con.execute(f"LOAD '{extension_path()}'")
    con.execute(f"CALL dbgen(sf = {scale})")
    for table in TABLES:
        folder = root / "tpch-parquet" / table
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY {table} TO '{folder / f'{table}.parquet'}' (FORMAT parquet)")
    con.close()
    scratch.unlink()
    (root / ".parquet-complete").touch()


def queries() -> list[str]:
    con = duckdb.connect()
    con.execute(f"LOAD '{extension_path()}'")
    rows = con.execute("SELECT query FROM tpch_queries() ORDER BY query_nr").fetchall()
    found = [str(row[0]) for row in rows]
    con.close()
    return found


@dataclass
class Lake:
    catalog: CatalogStore
    storage: LocalStorage
    root: Path
    workdir: Path


def open_lake(root: Path, workdir: Path, formats: Sequence[str] = ("parquet", "csv")) -> Lake:
    """The generated files crawled into a new catalog: database ``tpch_<format>``."""
    storage = LocalStorage(root)
    catalog = CatalogStore(f"sqlite:///{workdir / 'catalog.db'}")
    for fmt in formats:
        crawl_path(catalog, storage, f"s3://tpch-{fmt}/", f"tpch_{fmt}")
    # A CSV crawl types dates as strings (as Glue does); declare the real types, as a
    # user would with CREATE EXTERNAL TABLE, so both formats answer the same queries.
    for table in catalog.list_tables("tpch_csv") if "csv" in formats else ():
        typed = catalog.get_table("tpch_parquet", table.name).columns
        catalog.update_table(replace(table, storage=replace(table.storage, columns=typed)))
    return Lake(catalog, storage, root, workdir)


def shoal_runner(lake: Lake, threads: int, memory: str, number: int = 0) -> StatementRunner:
    """shoal's query path over the lake, with a locked-down engine of its own."""
    spill = str(lake.workdir / f"spill-{number}")
    engine = DuckDBEngine([str(lake.root)], spill, memory_limit=memory, threads=threads)
    return StatementRunner(lake.catalog, lake.storage, engine)


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


@dataclass
class Results:
    """Per query, the best time of each instance of each side."""

    instances: int
    by_query: list[dict[tuple[str, int], Timing]]

    def best(self, side: str) -> list[Timing]:
        """Per query, the best of every run on every instance of ``side``."""
        return [
            Timing(
                min(t[(side, i)].wall for i in range(self.instances)),
                min(t[(side, i)].cpu for i in range(self.instances)),
            )
            for t in self.by_query
        ]

    def total(self, side: str, instance: int | None = None) -> Timing:
        timings = (
            self.best(side) if instance is None else [t[(side, instance)] for t in self.by_query]
        )
        return Timing(sum(t.wall for t in timings), sum(t.cpu for t in timings))


def bench(lake: Lake, fmt: str, threads: int, memory: str, repeat: int, instances: int) -> Results:
    """Each query ``repeat`` times on each of ``instances`` shoal engines and as many
    raw DuckDB connections, in rotating order; every instance keeps its best."""
    context = StatementContext(query_id="tpch", database=f"tpch_{fmt}")
    runners = [shoal_runner(lake, threads, memory, i) for i in range(instances)]
    raws = [raw_connection(lake, fmt, threads, memory) for _ in range(instances)]
    results = Results(instances, [])
    for number, sql in enumerate(queries(), start=1):
        runs: dict[tuple[str, int], Callable[[], object]] = {}
        for i in range(instances):
            runs["shoal", i] = partial(runners[i].run, sql, context)
            runs["raw", i] = partial(_run_raw, raws[i], sql)
        best = dict.fromkeys(runs, Timing())
        order = list(runs)
        for attempt in range(repeat):
            # Rotate who goes first each round: on this machine the same work measured
            # 2-5% apart by its place in the round alone.
            shift = attempt % len(order)
            for key in order[shift:] + order[:shift]:
                best[key] = best[key].best(runs[key])
        results.by_query.append(best)
        shoal, plain = results.best("shoal")[-1], results.best("raw")[-1]
        print(
            f"{fmt:8} Q{number:02d}  shoal {shoal.wall * 1000:9.1f} ms"
            f"  raw {plain.wall * 1000:9.1f} ms  ratio {shoal.wall / plain.wall:5.2f}"
            f"  cpu ratio {shoal.cpu / plain.cpu:5.2f}",
            flush=True,
        )
    for con in raws:
        con.close()
    for runner in runners:
        runner.engine.close()
    return results


def report(fmt: str, results: Results) -> None:
    """Totals, and each instance's total: identical instances differ too, and by how
    much is the noise any single pair of them would carry."""
    shoal, plain = results.total("shoal"), results.total("raw")
    print(
        f"{fmt:8} TOTAL shoal {shoal.wall:.2f} s  raw {plain.wall:.2f} s  "
        f"ratio {shoal.wall / plain.wall:.3f}  cpu ratio {shoal.cpu / plain.cpu:.3f}",
        flush=True,
    )
    for side in ("shoal", "raw"):
        each = [results.total(side, i) for i in range(results.instances)]
        walls = ", ".join(f"{t.wall:.2f} s" for t in each)
        spread = max(t.wall for t in each) / min(t.wall for t in each)
        print(f"{fmt:8}   {side} instances {walls}: slowest / fastest {spread:.3f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--formats", default="parquet,csv", help="comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="4GB")
    parser.add_argument("--repeat", type=int, default=2, help="runs per query; best counts")
    parser.add_argument(
        "--instances", type=int, default=2, help="engines per side (each a DuckDB database)"
    )
    args = parser.parse_args(argv)
    root = DATA / f"sf{args.scale:g}"
    start = time.perf_counter()
    generate(root, args.scale)
    print(f"data ready in {time.perf_counter() - start:.1f} s: {root}", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        lake = open_lake(root, Path(workdir))
        for fmt in args.formats.split(","):
            results = bench(lake, fmt, args.threads, args.memory, args.repeat, args.instances)
            report(fmt, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
