"""``aws athena …`` (the unmodified AWS CLI) against a real ``shoal serve`` holding the
sample lake. Expected values are read with pyarrow from the sample files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as pa_ds
import pytest

from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]
pytestmark = pytest.mark.timeout(120)

AWS = str(Path(sys.executable).with_name("aws"))


def _aws(server: ShoalServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AWS, "--endpoint-url", server.url, "--output", "json", "athena", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _json(server: ShoalServer, *args: str) -> Any:
    done = _aws(server, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _wait(server: ShoalServer, query_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        answer = _json(server, "get-query-execution", "--query-execution-id", query_id)
        execution: dict[str, Any] = answer["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return execution
        assert time.monotonic() < deadline, "query did not finish"
        time.sleep(0.1)


def test_start_get_and_results(
    sample_server: ShoalServer, sample_lake: Path, results_bucket: str
) -> None:
    started = _json(
        sample_server,
        "start-query-execution",
        "--query-string",
        "SELECT payment_type, count(*) AS n FROM trips GROUP BY payment_type ORDER BY 1",
        "--query-execution-context",
        "Database=sample",
        "--result-configuration",
        f"OutputLocation=s3://{results_bucket}/cli/",
    )
    query_id = started["QueryExecutionId"]
    execution = _wait(sample_server, query_id)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location == f"s3://{results_bucket}/cli/{query_id}.csv"

    # --page-size makes the CLI follow NextToken, page after page.
    results = _json(
        sample_server, "get-query-results", "--query-execution-id", query_id, "--page-size", "2"
    )
    rows = [tuple(d.get("VarCharValue") for d in r["Data"]) for r in results["ResultSet"]["Rows"]]
    trips = pa_ds.dataset(sample_lake / "trips", format="parquet").to_table()
    counts = pc.value_counts(trips["payment_type"]).to_pylist()
    expected = sorted((c["values"], c["counts"]) for c in counts)
    assert rows[0] == ("payment_type", "n")
    assert [(int(p or 0), int(n or 0)) for p, n in rows[1:]] == expected
    column_info = results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [c["Type"] for c in column_info] == ["bigint", "bigint"]


def test_errors_are_reported_by_name(sample_server: ShoalServer) -> None:
    done = _aws(sample_server, "get-query-execution", "--query-execution-id", "no-such-id")
    assert done.returncode != 0
    assert "InvalidRequestException" in done.stderr
    assert "was not found" in done.stderr
