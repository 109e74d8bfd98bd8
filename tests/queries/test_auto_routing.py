"""AUTO routing: a query of an AUTO context leaves the default engine only when it is
estimated big enough and the other engine declares all it needs.

The second engine here is the real DuckDB engine declaring what Spark declares less
one more gap (no CTAS) and under another name ("Big"), as tests/queries/test_engine_seam.py
narrows one; nothing is faked. Which engine ran is read where a user sees it: EXPLAIN's
"Engine plan (…)" line, and the name the runner reports to ``on_engine``.
tests/spark/test_auto_routing.py routes to a real Spark.

Sizes are computed here from the files written: ``wide`` is one uncompressed Parquet
file whose ``pad`` column is nearly all of it, so a query reading only ``n`` is
estimated at a small fraction of the planned bytes.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.catalog.store import CatalogStore
from shoal.engine.base import Capabilities
from shoal.engine.duckdb import DuckDBEngine
from shoal.queries.context import StatementContext
from shoal.queries.model import AUTO
from shoal.queries.routing import AutoRouting
from shoal.queries.runner import StatementRunner
from shoal.storage.local import LocalStorage

ROWS = 2000
PADS = [os.urandom(250).hex() for _ in range(ROWS)]  # 500 characters each, incompressible
PEOPLE = [("ann", 34), ("bob", 27), ("cy", 41)]


class BigEngine(DuckDBEngine):
    """DuckDB declaring Spark's formats, no CTAS and no regexp_like, named "Big"."""

    name = "Big"
    capabilities = Capabilities(
        statements=frozenset({"SELECT", "EXPLAIN", "INSERT", "UNLOAD", "CREATE_VIEW"}),
        formats=frozenset({"parquet", "json"}),
        missing_functions={"regexp_like": "no regular expressions here"},
    )


@dataclass
class Lake:
    root: Path
    storage: LocalStorage
    catalog: CatalogStore
    duckdb: DuckDBEngine
    big: BigEngine

    @property
    def wide_bytes(self) -> int:
        return (self.root / "lake" / "wide" / "part-0.parquet").stat().st_size

    def runner(self, min_bytes: int | None) -> StatementRunner:
        auto = None if min_bytes is None else AutoRouting("big", min_bytes)
        engines = {"big": self.big}
        return StatementRunner(self.catalog, self.storage, self.duckdb, engines.__getitem__, auto)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="none", use_dictionary=False)
    return sink.getvalue()


def _csv(rows: list[tuple[str, int]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    tmp = tmp_path_factory.mktemp("auto-routing")
    root = tmp / "data"
    storage = LocalStorage(root)
    catalog = CatalogStore(f"sqlite:///{tmp / 'catalog.db'}")
    for bucket in ("lake", "results"):
        storage.create_bucket(bucket)
    wide = pa.table({"n": pa.array(range(ROWS), pa.int64()), "pad": PADS})
    storage.put("lake", "wide/part-0.parquet", _parquet(wide))
    storage.put("lake", "people/people.csv", _csv(PEOPLE))
    duckdb = DuckDBEngine([str(root)], str(tmp / "spill"), threads=1)
    big = BigEngine([str(root)], str(tmp / "spill-big"), threads=1)
    made = Lake(root, storage, catalog, duckdb, big)
    ddl = made.runner(None)
    for sql in (
        "CREATE DATABASE db",
        "CREATE EXTERNAL TABLE wide (n bigint, pad string) STORED AS PARQUET "
        "LOCATION 's3://lake/wide/'",
        "CREATE EXTERNAL TABLE people (name string, age int) ROW FORMAT DELIMITED "
        "FIELDS TERMINATED BY ',' LOCATION 's3://lake/people/'",
    ):
        ddl.run(sql, StatementContext("ddl", database="db"))
    yield made
    duckdb.close()
    big.close()
    catalog.close()


def run(runner: StatementRunner, sql: str, engine: str | None = AUTO) -> tuple[str, list[Any]]:
    """The engine the runner gave the query to, and its rows."""
    ran: list[str] = []
    context = StatementContext(
        "q-auto",
        database="db",
        output_location="s3://results/out/",
        engine=engine,
        on_engine=ran.append,
    )
    rows = runner.run(sql, context).rows.to_pylist()
    assert len(ran) == 1, ran
    return ran[0], rows


def explained_engine(runner: StatementRunner, sql: str, engine: str | None = AUTO) -> str:
    _, rows = run(runner, f"EXPLAIN {sql}", engine)
    lines = [str(row["Query Plan"]) for row in rows]
    return next(line for line in lines if line.startswith("Engine plan"))


MAX_PAD = "SELECT max(pad) AS top FROM wide"
SUM_N = "SELECT sum(n) AS total FROM wide"


def test_below_the_threshold_a_query_stays_on_duckdb(lake: Lake) -> None:
    runner = lake.runner(lake.wide_bytes + 1)  # more than every file of the table
    assert run(runner, MAX_PAD) == ("DuckDB", [{"top": max(PADS)}])
    assert explained_engine(runner, MAX_PAD) == "Engine plan (DuckDB):"


def test_from_the_threshold_on_a_query_runs_on_the_auto_engine(lake: Lake) -> None:
    runner = lake.runner(lake.wide_bytes // 2)  # pad alone is more than half the file
    assert run(runner, MAX_PAD) == ("Big", [{"top": max(PADS)}])
    assert explained_engine(runner, MAX_PAD) == "Engine plan (Big):"


def test_the_size_is_the_columns_read_not_the_files(lake: Lake) -> None:
    # The planned file is above the threshold; the n column (16 KB of 1 MB) is not.
    runner = lake.runner(lake.wide_bytes // 2)
    assert run(runner, SUM_N) == ("DuckDB", [{"total": sum(range(ROWS))}])


def test_a_query_the_auto_engine_cannot_run_stays_on_duckdb(lake: Lake) -> None:
    runner = lake.runner(1)  # every query is big enough
    # A format it does not read (a text table, as Spark would not read one with two headers).
    assert run(runner, "SELECT sum(age) AS total FROM people") == (
        "DuckDB",
        [{"total": sum(age for _, age in PEOPLE)}],
    )
    # A function it lacks.
    sql = "SELECT count(*) AS hits FROM wide WHERE regexp_like(pad, '^ff')"
    assert run(runner, sql) == ("DuckDB", [{"hits": sum(p.startswith("ff") for p in PADS)}])
    # A statement kind it does not declare: CTAS (its query runs on DuckDB, then writes).
    ctas = (
        "CREATE TABLE copied WITH (external_location = 's3://results/copied/') "
        "AS SELECT n FROM wide WHERE n < 10"
    )
    assert run(runner, ctas)[0] == "DuckDB"
    assert run(runner, "SELECT count(*) AS c FROM copied") == ("Big", [{"c": 10}])


def test_create_view_types_its_query_at_home(lake: Lake) -> None:
    runner = lake.runner(1)
    assert run(runner, "CREATE OR REPLACE VIEW pads AS SELECT pad FROM wide")[0] == "DuckDB"
    assert run(runner, "SELECT count(*) AS c FROM pads") == ("Big", [{"c": ROWS}])


def test_pinned_contexts_ignore_the_threshold(lake: Lake) -> None:
    runner = lake.runner(1)
    # None: "Athena engine version 3" (and any runner's default) stays on DuckDB.
    assert explained_engine(runner, MAX_PAD, engine=None) == "Engine plan (DuckDB):"
    assert explained_engine(runner, SUM_N, engine="big") == "Engine plan (Big):"


def test_without_auto_routing_auto_stays_on_duckdb(lake: Lake) -> None:
    assert run(lake.runner(None), MAX_PAD)[0] == "DuckDB"
