"""Routing: a workgroup's EngineVersion picks the engine its queries run on.

"PySpark engine version 3" (Athena's Spark-enabled workgroups) pins a workgroup to
Spark; every other version runs on the embedded DuckDB. Here, without Spark: the
default workgroup stays on DuckDB, and a workgroup pinned to Spark on a shoal with no
Spark Connect URL fails its queries with a clear error. tests/spark/test_routing.py
runs pinned workgroups on a real Spark Connect server.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import shoal
from shoal.app import Shoal
from shoal.cli import main
from shoal.config import load_config
from shoal.errors import ConfigError, InvalidRequestError
from shoal.queries.model import (
    AUTO_ENGINE_VERSION,
    ENGINE_VERSION,
    FAILED,
    SPARK_ENGINE_VERSION,
    SUCCEEDED,
    WorkGroup,
    WorkGroupConfiguration,
    execution_engine_version,
)
from shoal.queries.routing import AutoRouting


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Shoal]:
    with shoal.open(data_dir=str(tmp_path / "data")) as instance:
        yield instance


def explain_engine(app: Shoal, workgroup: str) -> str:
    """The engine line of EXPLAIN's answer: the engine that ran the query."""
    service = app.queries
    execution = service.wait(service.start("EXPLAIN SELECT 1", workgroup=workgroup), 60)
    assert execution.state == SUCCEEDED, execution.state_change_reason
    lines = [row[0] or "" for row in service.get_results(execution.query_execution_id).rows]
    return next(line for line in lines if line.startswith("Engine plan"))


def spark_workgroup(name: str) -> WorkGroup:
    return WorkGroup(
        name, configuration=WorkGroupConfiguration(selected_engine_version=SPARK_ENGINE_VERSION)
    )


def test_the_default_workgroup_runs_on_duckdb(app: Shoal) -> None:
    assert explain_engine(app, "primary") == "Engine plan (DuckDB):"
    execution = app.queries.get(app.queries.list_executions("primary")[0][0].query_execution_id)
    assert execution.engine_version == ENGINE_VERSION


def test_a_spark_workgroup_without_a_spark_url_fails_clearly(app: Shoal) -> None:
    assert app.config.spark_connect_url is None
    app.queries.workgroups.create_workgroup(spark_workgroup("big"))
    service = app.queries
    execution = service.wait(service.start("SELECT 1", workgroup="big"), 60)
    assert execution.state == FAILED
    reason = execution.state_change_reason or ""
    assert "Spark" in reason and "spark_connect_url" in reason, reason
    assert execution.engine_version == SPARK_ENGINE_VERSION
    # DDL and SHOW need no engine: they still work in that workgroup.
    shown = service.wait(service.start("SHOW DATABASES", workgroup="big"), 60)
    assert shown.state == SUCCEEDED, shown.state_change_reason
    # The default workgroup is not affected.
    assert explain_engine(app, "primary") == "Engine plan (DuckDB):"


def test_a_spark_workgroup_without_pyspark_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the spark extra were absent
    with shoal.open(data_dir=str(tmp_path / "data"), spark_connect_url="sc://localhost:1") as app:
        app.queries.workgroups.create_workgroup(spark_workgroup("big"))
        execution = app.queries.wait(app.queries.start("SELECT 1", workgroup="big"), 60)
        assert execution.state == FAILED
        assert "pyspark is not installed" in (execution.state_change_reason or "")
        assert "spark_engine" not in app.__dict__


def test_the_spark_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOAL_SPARK_CONNECT_URL", "sc://spark.example:15002")
    assert load_config().spark_connect_url == "sc://spark.example:15002"
    flag = load_config(overrides={"spark_connect_url": "sc://other:1"})
    assert flag.spark_connect_url == "sc://other:1"


def test_an_unknown_engine_version_is_refused(app: Shoal) -> None:
    bad = WorkGroup("bad", configuration=WorkGroupConfiguration(selected_engine_version="Spark 9"))
    with pytest.raises(InvalidRequestError, match="EngineVersion"):
        app.queries.workgroups.create_workgroup(bad)
    assert [g.name for g in app.queries.workgroups.list_workgroups()] == ["primary"]


def test_cli_pins_a_workgroup_to_an_engine(tmp_path: Path) -> None:
    data = str(tmp_path / "data")

    def cli(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, ["--data", data, *args])
        assert result.exit_code == code, result.output
        return result.output

    cli("workgroups", "create", "big", "--engine", "spark")
    with shoal.open(data_dir=data) as app:
        group = app.queries.workgroups.get_workgroup("big")
        assert group.configuration.selected_engine_version == SPARK_ENGINE_VERSION
        assert group.configuration.effective_engine_version == SPARK_ENGINE_VERSION
    assert "spark" in cli("workgroups", "list")
    failed = cli("sql", "--workgroup", "big", "SELECT 1", code=1)
    assert "spark_connect_url" in failed
    cli("workgroups", "update", "big", "--engine", "duckdb")
    with shoal.open(data_dir=data) as app:
        assert app.queries.workgroups.get_workgroup("big").configuration.engine == "duckdb"
        assert explain_engine(app, "big") == "Engine plan (DuckDB):"
    cli("workgroups", "create", "odd", "--engine", "presto", code=2)


# --- AUTO: Spark only for big queries, when configured (tests/queries/test_auto_routing.py
# routes between two engines; tests/spark/test_auto_routing.py to a real Spark) -----------


def auto_workgroup(name: str) -> WorkGroup:
    return WorkGroup(
        name, configuration=WorkGroupConfiguration(selected_engine_version=AUTO_ENGINE_VERSION)
    )


def test_the_auto_threshold_comes_from_file_environment_and_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_config(env={}).spark_auto_min_bytes is None  # unset: AUTO never leaves DuckDB
    settings = tmp_path / "shoal.toml"
    settings.write_text('spark_auto_min_bytes = "2GiB"\n')
    assert load_config(settings, env={}).spark_auto_min_bytes == 2 * 1024**3
    monkeypatch.setenv("SHOAL_SPARK_AUTO_MIN_BYTES", "500MB")
    assert load_config(settings).spark_auto_min_bytes == 500_000_000
    flag = load_config(settings, overrides={"spark_auto_min_bytes": "123456"})
    assert flag.spark_auto_min_bytes == 123456
    for bad in ("lots", "-5", "0", "5 parsecs"):
        with pytest.raises(ConfigError, match="spark-auto-min-bytes"):
            load_config(env={}, overrides={"spark_auto_min_bytes": bad})


def test_serve_takes_the_auto_threshold_as_a_flag() -> None:
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    assert "--spark-auto-min-bytes" in help_text


def test_auto_routing_needs_both_spark_and_a_threshold(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    with shoal.open(data_dir=data, spark_auto_min_bytes="1") as app:
        assert app.auto_routing is None  # no Spark to send big queries to
    with shoal.open(data_dir=data, spark_connect_url="sc://localhost:1") as app:
        assert app.auto_routing is None  # no threshold: AUTO stays on DuckDB
    with shoal.open(
        data_dir=data, spark_connect_url="sc://localhost:1", spark_auto_min_bytes="1MB"
    ) as app:
        assert app.auto_routing == AutoRouting("spark", 1_000_000)


def test_an_auto_workgroup_without_spark_runs_on_duckdb_and_says_so(tmp_path: Path) -> None:
    # A threshold every query reaches, but no Spark: AUTO stays on DuckDB.
    with shoal.open(data_dir=str(tmp_path / "data"), spark_auto_min_bytes="1") as app:
        app.queries.workgroups.create_workgroup(auto_workgroup("auto"))
        assert explain_engine(app, "auto") == "Engine plan (DuckDB):"
        service = app.queries
        execution = service.wait(service.start("SELECT 1", workgroup="auto"), 60)
        assert execution.state == SUCCEEDED, execution.state_change_reason
        assert execution.engine_version == AUTO_ENGINE_VERSION
        assert execution.statistics.engine == "DuckDB"
        assert execution_engine_version(execution) == ENGINE_VERSION
        assert "spark_engine" not in app.__dict__
        # DDL runs on no engine, and says so.
        shown = service.wait(service.start("SHOW DATABASES", workgroup="auto"), 60)
        assert shown.statistics.engine is None
        # The audit record names the engine and both versions.
        record = next(
            r
            for r in app.audit.pending_records()
            if r.get("requestID") == execution.query_execution_id
        )
        details = record["serviceEventDetails"]
        assert details["engine"] == "DuckDB"
        assert details["engineVersion"] == {
            "selectedEngineVersion": AUTO_ENGINE_VERSION,
            "effectiveEngineVersion": ENGINE_VERSION,
        }


def test_cli_sets_a_workgroup_to_auto(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    result = CliRunner().invoke(
        main, ["--data", data, "workgroups", "create", "a", "--engine", "auto"]
    )
    assert result.exit_code == 0, result.output
    with shoal.open(data_dir=data) as app:
        group = app.queries.workgroups.get_workgroup("a").configuration
        assert group.selected_engine_version == AUTO_ENGINE_VERSION
        assert group.engine == "auto"
        assert group.effective_engine_version == ENGINE_VERSION
