"""Routing on a real Spark Connect server (``local[2]``): a workgroup whose
EngineVersion is "PySpark engine version 3" runs its queries on Spark, the default
workgroup stays on DuckDB -- through the query service and through boto3 against a
real ``shoal serve --spark-connect`` naming the server.

Expected answers are computed in Python from the rows the test writes.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shoal
from clients.server import ShoalServer, served
from shoal.app import Shoal
from shoal.queries.model import (
    ENGINE_VERSION,
    SPARK_ENGINE_VERSION,
    SUCCEEDED,
    WorkGroup,
    WorkGroupConfiguration,
)

from .athena_answers import athena_answer
from .spark_server import SparkProcesses

pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]  # JVMs start slowly

ROWS = [(n, f"name-{n % 7}") for n in range(300)]
EXPECTED_SUM = sum(n for n, _ in ROWS if n % 3 == 0)
EXPECTED_NAMES = len({name for _, name in ROWS})
QUERY = "SELECT sum(n) AS total, count(DISTINCT name) AS names FROM people WHERE n % 3 = 0"
TABLE_DDL = "CREATE EXTERNAL TABLE people (n bigint, name string) STORED AS PARQUET LOCATION '{}'"


def parquet_bytes() -> bytes:
    table = pa.table({"n": [r[0] for r in ROWS], "name": [r[1] for r in ROWS]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# --- through the query service -----------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, spark_local: SparkProcesses) -> Iterator[Shoal]:
    data = tmp_path_factory.mktemp("routing") / "data"
    with shoal.open(data_dir=str(data), spark_connect_url=spark_local.url) as instance:
        instance.storage.create_bucket("lake")
        instance.storage.put("lake", "people/part-0.parquet", parquet_bytes())
        spark = WorkGroupConfiguration(selected_engine_version=SPARK_ENGINE_VERSION)
        instance.queries.workgroups.create_workgroup(WorkGroup("big", configuration=spark))
        ddl = run(instance, TABLE_DDL.format("s3://lake/people/"), "primary")
        assert ddl.state == SUCCEEDED, ddl.state_change_reason
        yield instance


def run(app: Shoal, sql: str, workgroup: str) -> Any:
    service = app.queries
    return service.wait(service.start(sql, database="default", workgroup=workgroup), 600)


def answer(app: Shoal, sql: str, workgroup: str) -> list[tuple[str | None, ...]]:
    execution = run(app, sql, workgroup)
    assert execution.state == SUCCEEDED, execution.state_change_reason
    return list(app.queries.get_results(execution.query_execution_id).rows)


def engine_line(rows: list[tuple[str | None, ...]]) -> str:
    return next(r[0] or "" for r in rows if (r[0] or "").startswith("Engine plan"))


def test_a_spark_workgroup_runs_on_spark(app: Shoal) -> None:
    assert engine_line(answer(app, f"EXPLAIN {QUERY}", "big")) == "Engine plan (Spark):"
    rows = answer(app, QUERY, "big")
    assert rows[1:] == [(str(EXPECTED_SUM), str(EXPECTED_NAMES))]
    assert "spark_engine" in app.__dict__  # built, and only now that a query needed it


def test_the_default_workgroup_stays_on_duckdb(app: Shoal) -> None:
    assert engine_line(answer(app, f"EXPLAIN {QUERY}", "primary")) == "Engine plan (DuckDB):"
    assert answer(app, QUERY, "primary")[1:] == [(str(EXPECTED_SUM), str(EXPECTED_NAMES))]


# --- through boto3, against shoal serve ----------------------------------------------------


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, spark_local: SparkProcesses
) -> Iterator[ShoalServer]:
    data: Path = tmp_path_factory.mktemp("routing-serve") / "data"
    command = ["--data", str(data), "serve", "--port", "0", "--spark-connect", spark_local.url]
    with served(data, cli_args=command) as started:
        yield started


def test_boto3_pins_a_workgroup_to_spark(server: ShoalServer) -> None:
    s3, athena = server.client("s3"), server.client("athena")
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="people/part-0.parquet", Body=parquet_bytes())
    athena_answer(athena, TABLE_DDL.format(f"s3://{bucket}/people/"), "primary")

    athena.create_work_group(
        Name="spark-wg",
        Configuration={"EngineVersion": {"SelectedEngineVersion": SPARK_ENGINE_VERSION}},
    )
    group = athena.get_work_group(WorkGroup="spark-wg")["WorkGroup"]["Configuration"]
    assert group["EngineVersion"] == {
        "SelectedEngineVersion": SPARK_ENGINE_VERSION,
        "EffectiveEngineVersion": SPARK_ENGINE_VERSION,
    }
    execution, rows = athena_answer(athena, f"EXPLAIN {QUERY}", "spark-wg")
    assert engine_line(rows) == "Engine plan (Spark):"
    assert execution["EngineVersion"]["EffectiveEngineVersion"] == SPARK_ENGINE_VERSION
    execution, rows = athena_answer(athena, QUERY, "spark-wg")
    assert rows[1:] == [(str(EXPECTED_SUM), str(EXPECTED_NAMES))]

    execution, rows = athena_answer(athena, f"EXPLAIN {QUERY}", "primary")
    assert engine_line(rows) == "Engine plan (DuckDB):"
    assert execution["EngineVersion"]["EffectiveEngineVersion"] == ENGINE_VERSION

    # UpdateWorkGroup moves it back to DuckDB.
    athena.update_work_group(
        WorkGroup="spark-wg",
        ConfigurationUpdates={"EngineVersion": {"SelectedEngineVersion": "AUTO"}},
    )
    execution, rows = athena_answer(athena, f"EXPLAIN {QUERY}", "spark-wg")
    assert engine_line(rows) == "Engine plan (DuckDB):"
    assert execution["EngineVersion"]["SelectedEngineVersion"] == "AUTO"
