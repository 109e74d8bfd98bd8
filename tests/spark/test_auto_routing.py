"""AUTO routing to a real Spark Connect server (``local[2]``, the session's server):
a query of an AUTO workgroup estimated at ``spark_auto_min_bytes`` or more runs on
Spark, a smaller one on DuckDB, one Spark cannot run (an ORC table, a text table with
two header lines) stays on DuckDB, and "Athena engine version 3" never leaves DuckDB --
through the query service and through boto3 against a real
``shoal serve --spark-connect … --spark-auto-min-bytes …``.

The threshold sits between the two tables' file sizes, measured here: ``small`` is
one tiny Parquet file (its size is what the router counts: below 16 KiB the estimate's
footer read covers the whole file), ``big`` one of 40x the rows whose every column the
queries read. Expected answers are computed in Python from the rows written.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

import shoal
from clients.server import ShoalServer, served
from shoal.app import Shoal
from shoal.engine.spark import SparkEngine
from shoal.queries.model import (
    AUTO_ENGINE_VERSION,
    ENGINE_VERSION,
    SPARK_ENGINE_NAME,
    SPARK_ENGINE_VERSION,
    SUCCEEDED,
    WorkGroup,
    WorkGroupConfiguration,
    execution_engine_version,
)

from .athena_answers import athena_answer
from .spark_server import SparkProcesses

pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]  # JVMs start slowly

SMALL = [(n, f"s-{n}") for n in range(20)]
BIG = [(n, f"name-{n % 11}-{n}") for n in range(20_000)]
QUERY = "SELECT sum(n) AS total, count(DISTINCT name) AS names FROM {}"


def expected(rows: list[tuple[int, str]]) -> tuple[str, str]:
    return str(sum(n for n, _ in rows)), str(len({name for _, name in rows}))


def arrow(rows: list[tuple[int, str]]) -> pa.Table:
    return pa.table({"n": pa.array([r[0] for r in rows], pa.int64()), "name": [r[1] for r in rows]})


def parquet_bytes(rows: list[tuple[int, str]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(arrow(rows), sink)
    return sink.getvalue()


def orc_bytes(rows: list[tuple[int, str]]) -> bytes:
    sink = io.BytesIO()
    orc.write_table(arrow(rows), sink)
    return sink.getvalue()


def csv_bytes(rows: list[tuple[int, str]], headers: int) -> bytes:
    lines = ["n,name"] * headers + [f"{n},{name}" for n, name in rows]
    return ("\n".join(lines) + "\n").encode()


FILES = {
    "small/part-0.parquet": parquet_bytes(SMALL),
    "big/part-0.parquet": parquet_bytes(BIG),
    "big_orc/part-0.orc": orc_bytes(BIG),
    "big_csv/part-0.csv": csv_bytes(BIG, headers=2),
}
# At or above it: the big tables; below: small.
THRESHOLD = len(FILES["small/part-0.parquet"]) + 1
TEXT = "ROW FORMAT DELIMITED FIELDS TERMINATED BY ','"
TABLES = {  # how each is stored, and its table properties
    "small": ("STORED AS PARQUET", ""),
    "big": ("STORED AS PARQUET", ""),
    "big_orc": ("STORED AS ORC", ""),
    "big_csv": (TEXT, " TBLPROPERTIES ('skip.header.line.count'='2')"),
}


def table_ddl(table: str, bucket: str) -> str:
    stored, properties = TABLES[table]
    return (
        f"CREATE EXTERNAL TABLE {table} (n bigint, name string) {stored} "
        f"LOCATION 's3://{bucket}/{table}/'{properties}"
    )


def test_the_threshold_lies_between_the_tables() -> None:
    assert len(FILES["big/part-0.parquet"]) > 20 * THRESHOLD
    assert SparkEngine.name == SPARK_ENGINE_NAME  # how an AUTO execution's version is told


# --- through the query service -----------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, spark_local: SparkProcesses) -> Iterator[Shoal]:
    data = tmp_path_factory.mktemp("auto-routing") / "data"
    with shoal.open(
        data_dir=str(data), spark_connect_url=spark_local.url, spark_auto_min_bytes=THRESHOLD
    ) as instance:
        instance.storage.create_bucket("lake")
        for key, body in FILES.items():
            instance.storage.put("lake", key, body)
        groups = instance.queries.workgroups
        for name, version in (
            ("auto", AUTO_ENGINE_VERSION),
            ("athena", ENGINE_VERSION),
            ("spark", SPARK_ENGINE_VERSION),
        ):
            config = WorkGroupConfiguration(selected_engine_version=version)
            groups.create_workgroup(WorkGroup(name, configuration=config))
        for table in TABLES:
            ddl = run(instance, table_ddl(table, "lake"), "primary")
            assert ddl.state == SUCCEEDED, ddl.state_change_reason
        yield instance


def run(app: Shoal, sql: str, workgroup: str) -> Any:
    service = app.queries
    return service.wait(service.start(sql, database="default", workgroup=workgroup), 600)


def answer(app: Shoal, sql: str, workgroup: str) -> tuple[Any, list[tuple[str | None, ...]]]:
    execution = run(app, sql, workgroup)
    assert execution.state == SUCCEEDED, execution.state_change_reason
    return execution, list(app.queries.get_results(execution.query_execution_id).rows)


def engine_line(rows: list[tuple[str | None, ...]]) -> str:
    return next(r[0] or "" for r in rows if (r[0] or "").startswith("Engine plan"))


def test_a_big_auto_query_runs_on_spark(app: Shoal) -> None:
    _, rows = answer(app, f"EXPLAIN {QUERY.format('big')}", "auto")
    assert engine_line(rows) == "Engine plan (Spark):"
    execution, rows = answer(app, QUERY.format("big"), "auto")
    assert rows[1:] == [expected(BIG)]
    assert execution.statistics.engine == "Spark"
    assert execution_engine_version(execution) == SPARK_ENGINE_VERSION


def test_a_small_auto_query_stays_on_duckdb(app: Shoal) -> None:
    _, rows = answer(app, f"EXPLAIN {QUERY.format('small')}", "auto")
    assert engine_line(rows) == "Engine plan (DuckDB):"
    execution, rows = answer(app, QUERY.format("small"), "auto")
    assert rows[1:] == [expected(SMALL)]
    assert execution.statistics.engine == "DuckDB"
    assert execution_engine_version(execution) == ENGINE_VERSION


def test_a_big_auto_ctas_is_written_by_spark(app: Shoal) -> None:
    execution = run(app, "CREATE TABLE big_copy AS SELECT n, name FROM big", "auto")
    assert execution.state == SUCCEEDED, execution.state_change_reason
    assert execution.statistics.engine == "Spark"
    # Read back on DuckDB: the files Spark wrote hold the rows.
    _, rows = answer(app, QUERY.format("big_copy"), "athena")
    assert rows[1:] == [expected(BIG)]


@pytest.mark.parametrize("table", ["big_orc", "big_csv"])
def test_a_big_query_spark_cannot_run_stays_on_duckdb(app: Shoal, table: str) -> None:
    # Declared Spark gaps (docs/engines.md): ORC, and a text table with two header
    # lines (Spark skips at most one). AUTO does not send them there to fail.
    execution, rows = answer(app, QUERY.format(table), "auto")
    assert rows[1:] == [expected(BIG)]
    assert execution.statistics.engine == "DuckDB"


def test_a_pinned_spark_workgroup_names_the_gap(app: Shoal) -> None:
    execution = run(app, QUERY.format("big_csv"), "spark")
    assert execution.state == "FAILED"
    assert execution.state_change_reason == (
        "the Spark engine cannot run this statement: table default.big_csv: it skips 2 "
        "header lines (Spark skips at most one)"
    )


def test_athena_engine_version_3_never_leaves_duckdb(app: Shoal) -> None:
    _, rows = answer(app, f"EXPLAIN {QUERY.format('big')}", "athena")
    assert engine_line(rows) == "Engine plan (DuckDB):"
    execution, rows = answer(app, QUERY.format("big"), "athena")
    assert rows[1:] == [expected(BIG)]
    assert execution.statistics.engine == "DuckDB"


# --- through boto3, against shoal serve ----------------------------------------------------


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, spark_local: SparkProcesses
) -> Iterator[ShoalServer]:
    data: Path = tmp_path_factory.mktemp("auto-routing-serve") / "data"
    command = ["--data", str(data), "serve", "--port", "0", "--spark-connect", spark_local.url]
    command += ["--spark-auto-min-bytes", str(THRESHOLD)]
    with served(data, cli_args=command) as started:
        yield started


def test_boto3_auto_workgroup_sends_only_big_queries_to_spark(server: ShoalServer) -> None:
    s3, athena = server.client("s3"), server.client("athena")
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for key, body in FILES.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    for table in ("small", "big"):
        athena_answer(athena, table_ddl(table, bucket), "primary")

    athena.create_work_group(Name="auto-wg")  # Athena's default EngineVersion: AUTO
    group = athena.get_work_group(WorkGroup="auto-wg")["WorkGroup"]["Configuration"]
    assert group["EngineVersion"] == {
        "SelectedEngineVersion": AUTO_ENGINE_VERSION,
        "EffectiveEngineVersion": ENGINE_VERSION,
    }
    execution, rows = athena_answer(athena, QUERY.format("big"), "auto-wg")
    assert rows[1:] == [expected(BIG)]
    assert execution["EngineVersion"] == {
        "SelectedEngineVersion": AUTO_ENGINE_VERSION,
        "EffectiveEngineVersion": SPARK_ENGINE_VERSION,
    }
    _, rows = athena_answer(athena, f"EXPLAIN {QUERY.format('big')}", "auto-wg")
    assert engine_line(rows) == "Engine plan (Spark):"

    execution, rows = athena_answer(athena, QUERY.format("small"), "auto-wg")
    assert rows[1:] == [expected(SMALL)]
    assert execution["EngineVersion"]["EffectiveEngineVersion"] == ENGINE_VERSION
