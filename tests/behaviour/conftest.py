"""The behaviour suite's lake: the dataset and TPC-H SF0.01 on real files, one runner per engine.

Each engine under test gets its own catalog and runner over the same files; engines
are the parameters of the ``lake`` fixture, so every case runs on every engine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shoal.catalog.model import Database
from shoal.catalog.store import CatalogStore
from shoal.crawler.runner import crawl_path
from shoal.engine.base import Engine
from shoal.engine.duckdb import DuckDBEngine
from shoal.queries.context import StatementContext
from shoal.queries.runner import StatementRunner
from shoal.storage.local import LocalStorage

from . import dataset

# Spark runs only under `make spark` (its marker is deselected from the main suite).
_SPARK = [pytest.mark.spark, pytest.mark.timeout(900)]
# Spark on local[2], and on a standalone cluster (a master and two workers): the
# many-node shape, where every file is read by a worker process, not the driver.
ENGINES = [
    "duckdb",
    pytest.param("spark", marks=_SPARK),
    pytest.param("spark-cluster", marks=_SPARK),
]
TPCH_SCALE = 0.01
TPCH_TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


@dataclass
class BehaviourLake:
    engine: str
    data: dataset.Data
    runner: StatementRunner
    tpch_answers: dict[int, str]
    tpch_queries: dict[int, str]

    def rows(self, sql: str, database: str = dataset.DATABASE) -> list[tuple[Any, ...]]:
        context = StatementContext(query_id="behaviour", database=database)
        table = self.runner.run(sql, context).rows
        return [tuple(row.values()) for row in table.to_pylist()]


def _tpch_extension() -> str:
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    import tpch  # benchmarks/tpch.py: the extension file shipped in its pip package

    return str(tpch.extension_path())


def _write_tpch(storage: LocalStorage, root: Path) -> tuple[dict[int, str], dict[int, str]]:
    """TPC-H tables as Parquet files, and the reference answers and queries."""
    storage.create_bucket("tpch")
    con = duckdb.connect()
    con.execute(f"LOAD '{_tpch_extension()}'")
    con.execute(f"CALL dbgen(sf = {TPCH_SCALE})")
    for table in TPCH_TABLES:
        folder = root / "tpch" / table
        folder.mkdir(parents=True)
        con.execute(f"COPY {table} TO '{folder / 'data.parquet'}' (FORMAT parquet)")
    answers = dict(
        con.execute(
            "SELECT query_nr, answer FROM tpch_answers() WHERE scale_factor = ?", [TPCH_SCALE]
        ).fetchall()
    )
    queries = dict(con.execute("SELECT query_nr, query FROM tpch_queries()").fetchall())
    con.close()
    return answers, queries


def _engine(request: pytest.FixtureRequest, root: Path, spill: Path) -> Engine:
    if request.param == "duckdb":
        return DuckDBEngine([str(root)], str(spill), memory_limit="1GB", threads=2)
    if request.param in ("spark", "spark-cluster"):
        from shoal.engine.spark import SparkEngine

        server = "spark_local" if request.param == "spark" else "spark_cluster"
        return SparkEngine(request.getfixturevalue(server).url)
    raise AssertionError(f"unknown engine {request.param}")


@pytest.fixture(scope="module", params=ENGINES)
def lake(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BehaviourLake]:
    tmp = tmp_path_factory.mktemp(f"behaviour-{request.param}")
    root = tmp / "lake"
    storage = LocalStorage(root)
    data = dataset.build()
    statements = dataset.write(storage, data)
    answers, queries = _write_tpch(storage, root)
    catalog = CatalogStore(f"sqlite:///{tmp / 'catalog.db'}")
    catalog.create_database(Database(dataset.DATABASE))
    crawl_path(catalog, storage, "s3://tpch/", "tpch")
    engine = _engine(request, root, tmp / "spill")
    runner = StatementRunner(catalog, storage, engine)
    for sql in statements:
        runner.run(sql, StatementContext(query_id="ddl", database=dataset.DATABASE))
    yield BehaviourLake(request.param, data, runner, answers, queries)
    engine.close()
    catalog.close()
