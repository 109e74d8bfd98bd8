"""The Spark engine behind shoal's query path: catalog, planning and pruning are
shoal's, the statement runs on a Spark Connect server (local[2] and a standalone
cluster of two workers).

The lake is written here with pyarrow and crawled by shoal's crawler; expected answers
are computed in Python from the rows written. The same statements also run on the
DuckDB engine, whose answers must be identical.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.catalog.store import CatalogStore
from shoal.crawler.runner import crawl_path
from shoal.engine.athena import parse
from shoal.engine.base import CancelToken, TableFormat, TableScan
from shoal.engine.duckdb import DuckDBEngine
from shoal.engine.spark import SparkEngine, check_supported
from shoal.engine.spark_dialect import to_spark
from shoal.errors import (
    BytesScannedCutoffError,
    EngineUnavailableError,
    QueryCancelledError,
    QueryFailedError,
    UnsupportedSqlError,
)
from shoal.queries.context import StatementContext
from shoal.queries.runner import StatementRunner
from shoal.storage.local import LocalStorage

from .spark_server import SparkProcesses, free_port, start_local

pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]  # JVMs start slowly

DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")
SALES = {
    day: [(n, f"item-{n % 5}", round(n * 1.25, 2)) for n in range(i * 500, i * 500 + 500)]
    for i, day in enumerate(DAYS)
}
PEOPLE = [("ann", 34, "2020-02-29"), ("bob", 27, "2021-07-01"), ("cy", 41, "")]


@dataclass
class Lake:
    catalog: CatalogStore
    storage: LocalStorage
    root: Path


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("lake")
    for day, rows in SALES.items():
        folder = root / "bucket" / "sales" / f"dt={day}"
        folder.mkdir(parents=True)
        columns = {
            "id": [r[0] for r in rows],
            "item": [r[1] for r in rows],
            "amount": [r[2] for r in rows],
        }
        pq.write_table(pa.table(columns), folder / "part-0.parquet")
    people = root / "bucket" / "people"
    people.mkdir(parents=True)
    with open(people / "people.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("name", "age", "joined"))
        writer.writerows(PEOPLE)
    storage = LocalStorage(root)
    catalog = CatalogStore(f"sqlite:///{root / 'catalog.db'}")
    crawl_path(catalog, storage, "s3://bucket/", "lake")
    return Lake(catalog, storage, root)


@pytest.fixture(scope="module", params=["local", "cluster"])
def spark_runner(request: pytest.FixtureRequest, lake: Lake) -> Iterator[StatementRunner]:
    server: SparkProcesses = request.getfixturevalue(f"spark_{request.param}")
    engine = SparkEngine(server.url)
    try:
        yield StatementRunner(lake.catalog, lake.storage, engine)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def duckdb_runner(
    lake: Lake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StatementRunner]:
    spill = tmp_path_factory.mktemp("spill")
    engine = DuckDBEngine([str(lake.root)], str(spill))
    try:
        yield StatementRunner(lake.catalog, lake.storage, engine)
    finally:
        engine.close()


def run(runner: StatementRunner, sql: str, **context: Any) -> Any:
    return runner.run(sql, StatementContext(query_id="q", database="lake", **context))


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


def test_a_grouped_query_over_partitions(spark_runner: StatementRunner) -> None:
    outcome = run(
        spark_runner,
        "SELECT dt, count(*) AS n, round(sum(amount), 2) AS total FROM sales"
        " GROUP BY dt ORDER BY dt",
    )
    expected = [(day, len(r), round(sum(x[2] for x in r), 2)) for day, r in SALES.items()]
    assert rows(outcome.rows) == expected
    assert outcome.rows.column_names == ["dt", "n", "total"]


def test_pruning_is_shoals_and_bytes_are_sparks(spark_runner: StatementRunner, lake: Lake) -> None:
    outcome = run(spark_runner, "SELECT max(id) FROM sales WHERE dt = '2024-01-02'")
    assert rows(outcome.rows) == [(max(r[0] for r in SALES["2024-01-02"]),)]
    one_file = lake.root / "bucket" / "sales" / "dt=2024-01-02" / "part-0.parquet"
    assert outcome.bytes_scanned == one_file.stat().st_size


def test_a_csv_table_with_a_header(spark_runner: StatementRunner) -> None:
    outcome = run(spark_runner, "SELECT name, age FROM people WHERE age > 30 ORDER BY name")
    assert rows(outcome.rows) == sorted((n, a) for n, a, _ in PEOPLE if a > 30)


def test_a_join_and_athena_functions(spark_runner: StatementRunner) -> None:
    sql = (
        "SELECT p.name, count(s.id) AS n, upper(substr(p.name, 1, 1)) AS initial"
        " FROM people p JOIN sales s ON s.id % 3 = length(p.name) - 2"
        " WHERE s.dt = '2024-01-01' GROUP BY p.name ORDER BY p.name"
    )
    outcome = run(spark_runner, sql)
    first_day = SALES["2024-01-01"]
    expected = [
        (name, sum(1 for r in first_day if r[0] % 3 == len(name) - 2), name[0].upper())
        for name, _, _ in sorted(PEOPLE)
    ]
    assert rows(outcome.rows) == [e for e in expected if e[1] > 0]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT dt, item, count(*) AS n, sum(amount) AS total FROM sales GROUP BY dt, item"
        " ORDER BY dt, item",
        "SELECT name, age, joined FROM people ORDER BY age",
        "SELECT count(*) AS n FROM sales WHERE amount BETWEEN 100 AND 200 AND item <> 'item-1'",
    ],
)
def test_spark_and_duckdb_agree(
    spark_runner: StatementRunner, duckdb_runner: StatementRunner, sql: str
) -> None:
    spark = run(spark_runner, sql).rows
    duck = run(duckdb_runner, sql).rows
    assert rows(spark) == rows(duck)


def test_a_changed_table_is_read_anew(spark_runner: StatementRunner, lake: Lake) -> None:
    # Spark keeps each planned table as a view while it is unchanged: a file added,
    # rewritten or removed is a new plan, and the next query reads what is there now.
    folder = lake.root / "bucket" / "ledger"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    pq.write_table(pa.table({"v": [1, 2, 3]}), folder / "a.parquet")
    crawl_path(lake.catalog, lake.storage, "s3://bucket/ledger/", "lake")
    sql = "SELECT count(*) AS n, sum(v) AS total FROM ledger"
    assert rows(run(spark_runner, sql).rows) == [(3, 6)]
    assert rows(run(spark_runner, sql).rows) == [(3, 6)]  # the kept view
    pq.write_table(pa.table({"v": [10]}), folder / "b.parquet")
    assert rows(run(spark_runner, sql).rows) == [(4, 16)]
    time.sleep(0.01)  # a rewrite with a later mtime, the same size
    pq.write_table(pa.table({"v": [7, 8, 9]}), folder / "a.parquet")
    assert rows(run(spark_runner, sql).rows) == [(4, 34)]
    (folder / "b.parquet").unlink()
    assert rows(run(spark_runner, sql).rows) == [(3, 24)]


def test_views_beyond_the_limit_are_dropped_but_never_while_held(
    request: pytest.FixtureRequest, lake: Lake
) -> None:
    # One view kept: a join holds two at once, and alternating tables drop and rebuild
    # them; every answer stays right.
    server: SparkProcesses = request.getfixturevalue("spark_local")
    engine = SparkEngine(server.url, max_views=1)
    runner = StatementRunner(lake.catalog, lake.storage, engine)
    try:
        count = sum(len(r) for r in SALES.values())
        for _ in range(2):
            assert rows(run(runner, "SELECT count(*) FROM sales").rows) == [(count,)]
            assert rows(run(runner, "SELECT count(*) FROM people").rows) == [(len(PEOPLE),)]
            joined = run(
                runner,
                "SELECT count(*) FROM sales s JOIN people p ON s.id = p.age",
            ).rows
            ids = {r[0] for day in SALES.values() for r in day}
            assert rows(joined) == [(sum(1 for p in PEOPLE if p[1] in ids),)]
    finally:
        engine.close()


def test_a_cancel_interrupts_the_spark_job(spark_runner: StatementRunner) -> None:
    cancel = CancelToken(timeout=3)
    sql = (
        "SELECT count(*) FROM sales a CROSS JOIN sales b CROSS JOIN sales c"
        " WHERE a.id + b.id > c.id"
    )
    started = time.monotonic()
    with pytest.raises(QueryCancelledError):
        run(spark_runner, sql, cancel=cancel)
    assert time.monotonic() - started < 60


def test_the_bytes_cutoff_holds_on_spark(spark_runner: StatementRunner, lake: Lake) -> None:
    # A workgroup's BytesScannedCutoffPerQuery: the query that would read more fails
    # before Spark runs it; one just within it runs.
    files = sorted((lake.root / "bucket" / "sales").glob("dt=*/*.parquet"))
    total = sum(f.stat().st_size for f in files)
    with pytest.raises(BytesScannedCutoffError):
        run(spark_runner, "SELECT count(*) FROM sales", bytes_scanned_cutoff=total - 1)
    outcome = run(spark_runner, "SELECT count(*) FROM sales", bytes_scanned_cutoff=total)
    assert rows(outcome.rows) == [(sum(len(r) for r in SALES.values()),)]
    assert outcome.bytes_scanned == total


def test_spark_errors_are_query_errors(spark_runner: StatementRunner) -> None:
    with pytest.raises(QueryFailedError, match="Spark"):
        run(spark_runner, "SELECT CAST(item AS integer) FROM sales")


def test_an_unsupported_format_names_the_engine_and_the_gap() -> None:
    scan = TableScan("db", "t", TableFormat(classification="avro"), (), (), ())
    with pytest.raises(UnsupportedSqlError, match="Spark engine cannot read table db.t.*avro"):
        check_supported(scan)


def test_table_names_become_the_views() -> None:
    tree = parse("SELECT s.a FROM sales AS s")
    sql = to_spark(tree, "lake", None, {("lake", "sales"): "v_1"})
    assert sql == "SELECT s.a FROM v_1 AS s"


def test_execution_parameters_are_bound_by_spark(spark_runner: StatementRunner) -> None:
    outcome = run(
        spark_runner,
        "SELECT count(*) AS n FROM sales WHERE id < ? AND item = ?",
        parameters=[100, "item-1"],  # values, as the service parses them
    )
    expected = sum(1 for r in SALES.values() for x in r if x[0] < 100 and x[1] == "item-1")
    assert rows(outcome.rows) == [(expected,)]


def test_explain_shows_sparks_plan(spark_runner: StatementRunner) -> None:
    outcome = run(spark_runner, "EXPLAIN SELECT count(*) FROM sales WHERE dt = '2024-01-03'")
    text = "\n".join(str(v) for v in outcome.rows.column(0).to_pylist())
    assert "Physical Plan" in text
    assert "dt=2024-01-03" in text and "dt=2024-01-01" not in text  # shoal's pruning


def test_an_engine_whose_server_is_not_there_fails_soon() -> None:
    """No server behind the URL: a retryable system error after ~15 s of retries, with
    the URL but not its parameters (a token may ride in them)."""
    url = f"sc://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError) as caught:
        SparkEngine(f"{url}/;token=secret-token")
    assert time.monotonic() - started < 60
    assert url in caught.value.message and "secret-token" not in caught.value.message


def test_a_query_whose_server_dies_fails_soon(lake: Lake, tmp_path: Path, spark_jars: Path) -> None:
    """A server killed mid-query fails the query in seconds, as a retryable system
    error (the client's own retries would wait ten minutes)."""
    server = start_local(tmp_path / "doomed", jars=spark_jars)
    try:
        engine = SparkEngine(server.url)
        runner = StatementRunner(lake.catalog, lake.storage, engine)
        sql = (
            "SELECT count(*) FROM sales a CROSS JOIN sales b CROSS JOIN sales c"
            " WHERE a.id + b.id > c.id"
        )
        outcome: dict[str, Any] = {}

        def query() -> None:
            try:
                run(runner, sql, cancel=CancelToken(timeout=600))
            except Exception as err:  # noqa: BLE001 -- the test looks at what it was
                outcome["error"] = err

        thread = threading.Thread(target=query)
        thread.start()
        time.sleep(5)  # the job is running
        for proc in server.procs:
            proc.kill()
        killed = time.monotonic()
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert time.monotonic() - killed < 60
        assert isinstance(outcome.get("error"), EngineUnavailableError)
    finally:
        server.stop()
