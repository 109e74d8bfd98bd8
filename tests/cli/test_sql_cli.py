"""``shoal sql`` run as a user runs it (a real process, real files), and the other
query commands in-process through click's runner."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import shoal as shoal_api
from shoal.cli import main
from shoal.crawler import crawl_path
from shoal.samples import TRIP_MONTHS, TRIPS_PER_MONTH, write_sample_data


def shoal(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shoal.cli", "--data", str(data), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed: {result.stderr}")
    return result


def cli(data: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, ["--data", str(data), *args])
    assert result.exit_code == code, result.output
    return result


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    with shoal_api.open(data_dir=str(data)) as app:
        write_sample_data(app.storage)
        crawl_path(app.catalog, app.storage, "s3://samples/", "sample")
    return data


def test_sql_in_a_real_process(lake: Path) -> None:
    result = shoal(lake, "sql", "SELECT count(*) AS n FROM trips", "-d", "sample", "-o", "json")
    assert json.loads(result.stdout) == [{"n": str(len(TRIP_MONTHS) * TRIPS_PER_MONTH)}]
    assert "Run time:" in result.stderr and "Data scanned:" in result.stderr
    assert "Engine: DuckDB" in result.stderr
    as_csv = shoal(lake, "sql", "SELECT ? AS v, NULL AS z", "--param", "'a\"b'", "-o", "csv")
    assert as_csv.stdout == '"v","z"\n"a""b",\n'
    failed = shoal(lake, "sql", "SELECT * FROM missing_table", "-d", "sample", check=False)
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "FAILED" in errors[0] and "missing_table" in errors[0]
    assert "Traceback" not in failed.stderr


def test_history_show_and_results(lake: Path) -> None:
    assert cli(lake, "sql", "SELECT 'x' AS name").stdout.split()[:2] == ["name", "x"]
    cli(lake, "sql", "SELECT 7 AS seven")
    newest = json.loads(cli(lake, "queries", "list", "-o", "json").stdout)[0]
    assert newest["query"] == "SELECT 7 AS seven" and newest["state"] == "SUCCEEDED"
    query_id = newest["query_execution_id"]
    shown = json.loads(cli(lake, "queries", "show", query_id, "-o", "json").stdout)
    assert shown["output_location"].endswith(f"{query_id}.csv")
    again = cli(lake, "queries", "results", query_id, "-o", "csv").stdout
    assert list(csv.reader(io.StringIO(again))) == [["seven"], ["7"]]
    assert "SUCCEEDED" in cli(lake, "queries", "stop", query_id).stdout


def test_workgroups_named_queries_and_prepared_statements(lake: Path) -> None:
    cli(lake, "workgroups", "create", "team", "--output-location", "s3://samples/results/")
    groups = json.loads(cli(lake, "workgroups", "list", "-o", "json").stdout)
    assert {g["name"] for g in groups} >= {"primary", "team"}
    bad = cli(lake, "workgroups", "update", "team", "--cutoff-bytes", "5", code=1)
    assert "10000000" in bad.output
    named_id = cli(
        lake, "named-queries", "create", "zones", "SELECT count(*) AS n FROM zones", "-d", "sample"
    ).stdout.strip()
    ran = cli(lake, "named-queries", "run", named_id, "-o", "json")
    assert json.loads(ran.stdout) == [{"n": "40"}]
    cli(lake, "prepared", "create", "echo", "SELECT ? AS v")
    echoed = cli(lake, "sql", "EXECUTE echo USING 'it''s'", "-o", "json")
    assert json.loads(echoed.stdout) == [{"v": "it's"}]
    cli(lake, "workgroups", "update", "team", "--state", "DISABLED")
    refused = cli(lake, "sql", "SELECT 1", "--workgroup", "team", code=1)
    assert "disabled" in refused.output
