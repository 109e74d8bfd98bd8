"""Usage metering: the audit table, ``shoal usage`` and the executions agree exactly."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import shoal as shoal_api
from shoal.app import Shoal
from shoal.audit.trail import AuditTrail
from shoal.audit.usage import COMPLETED_EVENT, completed_record
from shoal.cli import main
from shoal.crawler.runner import crawl_path
from shoal.errors import InvalidInputError
from shoal.queries.model import WorkGroup
from shoal.samples import write_sample_data

# (user, workgroup, sql): several users, two workgroups, one failing query.
QUERIES = [
    ("alice", "primary", "SELECT count(*) FROM trips"),
    ("alice", "primary", "SELECT * FROM zones"),
    ("bob", "primary", "SELECT sum(fare_amount) FROM trips WHERE month = '2024-01'"),
    ("bob", "analysts", "SELECT * FROM zones WHERE borough = 'Queens'"),
    ("bob", "analysts", "SELECT * FROM no_such_table"),
    ("carol", "analysts", "SELECT 1"),
    (None, "primary", "SELECT count(*) FROM zones"),
]

# Usage per user and day over the catalogued CloudTrail table (as AWS documents it).
USAGE_SQL = f"""
SELECT useridentity.username AS user, year || '-' || month || '-' || day AS day,
       count(*) AS queries,
       sum(CAST(json_extract_scalar(serviceeventdetails, '$.dataScannedInBytes') AS bigint))
         AS bytes
FROM shoal_audit.cloudtrail
WHERE eventsource = 'athena.amazonaws.com' AND eventname = '{COMPLETED_EVENT}'
GROUP BY 1, 2
"""


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[tuple[Shoal, AuditTrail]]:
    with shoal_api.open(data_dir=str(tmp_path / "data")) as app:
        write_sample_data(app.storage)
        crawl_path(app.catalog, app.storage, "s3://samples/", "sample")
        app.queries.workgroups.create_workgroup(WorkGroup("analysts"))
        for user in ("alice", "bob", "carol"):
            app.identities.create_user(user)
        for group, members in {"data": ("alice", "bob"), "ops": ("bob",)}.items():
            app.governance.create_group(group)
            for member in members:
                app.governance.add_user_to_group(group, member)
        yield app, app.audit  # Shoal records each finished query in its own trail


def run_all(app: Shoal) -> list[Any]:
    ids = [
        app.queries.start(sql, "sample", workgroup=group, user=user) for user, group, sql in QUERIES
    ]
    return [app.queries.wait(i, timeout=30) for i in ids]


def sql_rows(app: Shoal, sql: str) -> list[tuple[str | None, ...]]:
    query_id = app.queries.start(sql)
    found = app.queries.wait(query_id, timeout=30)
    assert found.state == "SUCCEEDED", found.state_change_reason
    return [tuple(r) for r in app.queries.get_results(query_id).rows[1:]]


def cli_usage(data: str, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["--data", data, "usage", *args, "--output", "json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def test_audit_sql_equals_shoal_usage_equals_executions(lake: tuple[Shoal, AuditTrail]) -> None:
    app, trail = lake
    finished = run_all(app)
    assert {e.state for e in finished} == {"SUCCEEDED", "FAILED"}
    assert sum(e.statistics.data_scanned_in_bytes for e in finished) > 0
    data = app.config.data_dir
    by_user_day = cli_usage(data, "--by", "user", "--daily")
    by_user = cli_usage(data, "--by", "user")
    trail.roll()
    completed = [r for r in delivered(app) if r["eventName"] == COMPLETED_EVENT]
    assert len(completed) == len(QUERIES)

    from_sql = {(u, d, int(n or 0), int(b or 0)) for u, d, n, b in sql_rows(app, USAGE_SQL)}
    from_cli = {(r["key"], r["day"], r["queries"], r["bytes_scanned"]) for r in by_user_day}
    expected: dict[tuple[str | None, str], list[int]] = {}
    for execution in finished:
        day = execution.completion_date_time.strftime("%Y-%m-%d")
        totals = expected.setdefault((execution.user, day), [0, 0])
        totals[0] += 1
        totals[1] += execution.statistics.data_scanned_in_bytes
    assert from_sql == from_cli == {(u, d, n, b) for (u, d), (n, b) in expected.items()}
    assert sum(r["bytes_scanned"] for r in by_user) == sum(b for *_, b in from_sql)
    assert sum(r["engine_time_ms"] for r in by_user) == sum(
        e.statistics.engine_execution_time_in_millis for e in finished
    )


def test_usage_by_group_workgroup_and_database(lake: tuple[Shoal, AuditTrail]) -> None:
    app, _ = lake
    finished = run_all(app)
    scanned = {e.user: 0 for e in finished}
    for execution in finished:
        scanned[execution.user] += execution.statistics.data_scanned_in_bytes
    groups = {r.key: r for r in app.usage.report("group")}
    assert groups["data"].bytes_scanned == scanned["alice"] + scanned["bob"]
    assert groups["ops"].bytes_scanned == scanned["bob"]
    assert groups[None].queries == 2  # carol and the query without a user
    workgroups = {r.key: r.queries for r in app.usage.report("workgroup")}
    assert workgroups == {"primary": 4, "analysts": 3}
    databases = app.usage.report("database")
    assert [(r.key, r.queries) for r in databases] == [("sample", len(QUERIES))]
    tomorrow = finished[-1].completion_date_time.replace(year=2100)
    assert app.usage.report("user", since=tomorrow) == []
    with pytest.raises(InvalidInputError):
        app.usage.report("table")


def test_completed_record_is_a_cloudtrail_service_event(lake: tuple[Shoal, AuditTrail]) -> None:
    app, _ = lake
    execution = run_all(app)[0]
    record = completed_record(execution, "123456789012", "us-east-1")
    assert (record["eventType"], record["eventSource"]) == (
        "AwsServiceEvent",
        "athena.amazonaws.com",
    )
    assert record["userIdentity"]["userName"] == "alice"
    details = record["serviceEventDetails"]
    assert details["dataScannedInBytes"] == execution.statistics.data_scanned_in_bytes
    assert details["queryExecutionId"] == execution.query_execution_id
    assert (details["workGroup"], details["database"], details["state"]) == (
        "primary",
        "sample",
        "SUCCEEDED",
    )


def test_python_api_queries_are_recorded_once(lake: tuple[Shoal, AuditTrail]) -> None:
    app, trail = lake
    query_id = app.queries.start("SELECT 1")
    app.queries.wait(query_id, timeout=30)
    trail.roll()
    found = [r["requestID"] for r in delivered(app) if r["eventName"] == COMPLETED_EVENT]
    assert found == [query_id]


def delivered(app: Shoal) -> list[dict[str, Any]]:
    """Every record in the lake's CloudTrail log files."""
    records: list[dict[str, Any]] = []
    layout = app.audit.layout
    for info in app.storage.walk(layout.bucket, layout.log_prefix):
        stored = app.storage.read(info.bucket, info.key)
        records += json.loads(gzip.decompress(stored))["Records"]
    return records
