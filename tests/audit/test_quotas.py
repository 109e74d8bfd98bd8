"""Quotas on bytes scanned: admission under parallel clients, laddered webhook
notifications with retries, and the ``shoal quotas`` commands."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import shoal as shoal_api
from shoal.app import Shoal
from shoal.audit.quotas import Notifier, parse_thresholds, period_start
from shoal.cli import main
from shoal.crawler.runner import crawl_path
from shoal.errors import AlreadyExistsError, InvalidInputError, QuotaExceededError
from shoal.samples import write_sample_data

CLIENTS = 6
SQL = "SELECT * FROM zones"


class Webhook:
    """A local HTTP server recording POSTs; answers 500 to the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.posts: list[tuple[int, dict[str, Any]]] = []  # (status answered, body)
        self.failures = failures
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if len(hook.posts) < hook.failures else 200
                hook.posts.append((status, body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[dict[str, Any]]:
        return [body for status, body in self.posts if status == 200]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Shoal]:
    with shoal_api.open(data_dir=str(tmp_path / "data")) as opened:
        write_sample_data(opened.storage)
        crawl_path(opened.catalog, opened.storage, "s3://samples/", "sample")
        opened.quotas.notifier = Notifier(attempts=4, base_delay=0.05)
        yield opened


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(failures=1)
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def one_query_bytes(app: Shoal, user: str) -> int:
    query_id = app.queries.start(SQL, "sample", user=user)
    scanned = app.queries.wait(query_id, timeout=30).statistics.data_scanned_in_bytes
    assert scanned > 0
    return scanned


def client(app: Shoal, admitted: list[str], refusals: list[QuotaExceededError]) -> None:
    """Start queries one after another until the quota refuses one."""
    for _ in range(100):
        try:
            query_id = app.queries.start(SQL, "sample", user="alice")
        except QuotaExceededError as err:
            refusals.append(err)
            return
        admitted.append(query_id)
        app.queries.wait(query_id, timeout=30)


def test_parallel_clients_stop_at_the_block_level(
    app: Shoal, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shoal.quotas")
    per_query = one_query_bytes(app, "bob")  # bob's usage must not count for alice
    limit = per_query * 10 + per_query // 2
    app.quotas.create(
        "alice-daily", "user", "alice", "day", limit, "50:warn,100:block", webhook.url
    )
    admitted: list[str] = []
    refusals: list[QuotaExceededError] = []
    threads = [
        threading.Thread(target=client, args=(app, admitted, refusals)) for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    app.quotas.notifier.join(10)

    # Every client was refused with the clear error, before anything was stored.
    assert len(refusals) == CLIENTS
    assert "Quota alice-daily exceeded" in refusals[0].message
    assert f"limit {limit} bytes" in refusals[0].message
    executions = [e for e in app.usage.queries() if e.user == "alice"]
    assert sorted(e.query_execution_id for e in executions) == sorted(admitted)

    # Metered usage is exactly the admitted queries' DataScannedInBytes, and overshoots
    # the limit by less than the queries that could be in flight when it was reached.
    found = [app.queries.get(query_id) for query_id in admitted]
    scanned = sum(e.statistics.data_scanned_in_bytes for e in found)
    usage = app.quotas.usage(app.quotas.get("alice-daily"))
    assert usage == scanned == sum(e.bytes_scanned for e in executions)
    assert limit <= usage < limit + CLIENTS * per_query
    # Usage only grows, so the latest refusal saw the most; the list's order is not
    # the refusals' order (a client may append after another refused later).
    latest = max(refusals, key=lambda r: r.usage_bytes)
    assert latest.usage_bytes == usage and latest.limit_bytes == limit

    # One notification per threshold; the first POST failed (500) and was retried.
    delivered = webhook.delivered()
    assert sorted(body["threshold"] for body in delivered) == [50, 100]
    assert len(webhook.posts) == 3 and webhook.posts[0][0] == 500
    first = delivered[0]
    assert first["quota"] == "alice-daily" and first["scope"] == "user"
    assert first["name"] == "alice" and first["period"] == "day"
    assert first["limit_bytes"] == limit and first["usage_bytes"] * 2 >= limit
    attempts = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert any("attempt 1: failed: HTTP 500" in m for m in attempts)
    assert sum("delivered" in m for m in attempts) == 2


def test_workgroup_quota_and_other_users(app: Shoal) -> None:
    per_query = one_query_bytes(app, "alice")
    app.quotas.create("primary", "workgroup", "primary", "hour", per_query, "100:block")
    with pytest.raises(QuotaExceededError):
        app.queries.start(SQL, "sample", user="carol")
    app.quotas.delete("primary")
    app.queries.wait(app.queries.start(SQL, "sample", user="carol"), timeout=30)


def test_webhook_gives_up_after_its_attempts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shoal.quotas")
    notifier = Notifier(attempts=3, base_delay=0.01, timeout=1)
    assert not notifier.deliver("http://127.0.0.1:9/unreachable", {"quota": "q"})
    messages = [r.getMessage() for r in caplog.records]
    assert sum(" failed: " in m for m in messages) == 3
    assert "gave up after 3 attempts" in messages[-1]


def test_definitions_are_validated(app: Shoal) -> None:
    assert [t.percent for t in parse_thresholds("100:block, 80:warn")] == [80, 100]
    valid: dict[str, Any] = {
        "name": "q",
        "scope": "user",
        "principal": "alice",
        "period": "day",
        "limit_bytes": 10,
    }
    bad: list[dict[str, Any]] = [
        {"scope": "team"},
        {"period": "week"},
        {"limit_bytes": 0},
        {"thresholds": "80:shout"},
        {"thresholds": "x"},
        {"webhook_url": "file:///etc/passwd"},
    ]
    for change in bad:
        with pytest.raises(InvalidInputError):
            app.quotas.create(**{**valid, **change})
    app.quotas.create("q", "user", "alice", "day", 10)
    with pytest.raises(AlreadyExistsError):
        app.quotas.create("q", "user", "bob", "day", 10)


def test_periods_start_in_utc() -> None:
    moment = datetime(2026, 11, 25, 20, 37, 5, tzinfo=UTC)
    assert period_start("hour", moment) == datetime(2026, 11, 25, 20, tzinfo=UTC)
    assert period_start("day", moment) == datetime(2026, 11, 25, tzinfo=UTC)
    assert period_start("month", moment) == datetime(2026, 11, 1, tzinfo=UTC)


def test_quotas_commands(tmp_path: Path) -> None:
    data = str(tmp_path / "data")

    def cli(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, ["--data", data, "quotas", *args])
        assert result.exit_code == code, result.output
        return result.output

    cli("create", "team", "--workgroup", "primary", "--limit", "10GB", "--period", "month")
    listed = json.loads(cli("list", "--output", "json"))
    assert listed[0]["limit_bytes"] == 10_000_000_000 and listed[0]["usage_bytes"] == 0
    assert listed[0]["thresholds"] == ["80:warn", "100:block"]
    assert "exactly one of --user and --workgroup" in cli("create", "x", "--limit", "1", code=1)
    assert "not a number of bytes" in cli("create", "x", "--user", "a", "--limit", "ten", code=1)
    cli("delete", "team")
    assert "not found" in cli("delete", "team", code=1)


def test_each_crossing_is_one_audit_record(app: Shoal) -> None:
    per_query = one_query_bytes(app, "bob")
    limit = per_query * 3
    app.quotas.create("alice-hourly", "user", "alice", "hour", limit, "50:warn,100:block")
    refused = None
    for _ in range(10):
        try:
            query_id = app.queries.start(SQL, "sample", user="alice")
        except QuotaExceededError as err:
            refused = err
            break
        app.queries.wait(query_id, timeout=30)
    assert refused is not None
    app.audit.roll()
    records = []
    layout = app.audit.layout
    for info in app.storage.walk(layout.bucket, layout.log_prefix):
        records += json.loads(gzip.decompress(app.storage.read(info.bucket, info.key)))["Records"]
    crossed = [r for r in records if r["eventName"] == "QuotaThresholdCrossed"]
    details = sorted((r["serviceEventDetails"] for r in crossed), key=lambda d: d["usageBytes"])
    assert [(d["thresholdPercent"], d["action"]) for d in details] == [(50, "warn"), (100, "block")]
    # Usage when crossed: a whole number of alice's queries, at or past the level.
    assert [d["usageBytes"] for d in details] == [2 * per_query, 3 * per_query]
    assert {d["limitBytes"] for d in details} == {limit}
    assert {(r["eventSource"], r["eventType"]) for r in crossed} == {("shoal", "AwsServiceEvent")}
    assert {r["userIdentity"]["userName"] for r in crossed} == {"alice"}
