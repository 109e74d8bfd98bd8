"""Statements refused by authorization: refused at submission when a query, kept with
the execution, and told apart from other failures in its audit record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import shoal
from shoal.app import Shoal
from shoal.audit.usage import completed_record
from shoal.crawler import crawl_path
from shoal.errors import NotAuthorizedError
from shoal.queries.classify import Statement
from shoal.queries.context import LocationAccess, TableAccess
from shoal.queries.model import FAILED, SUCCEEDED, Refusal
from shoal.queries.store import ExecutionStore
from shoal.samples import write_sample_data

TRIPS_ARN = "arn:aws:glue:us-east-1:123456789012:table/sample/trips"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Shoal]:
    with shoal.open(data_dir=str(tmp_path / "data")) as instance:
        write_sample_data(instance.storage)
        crawl_path(instance.catalog, instance.storage, "s3://samples/", "sample")
        yield instance


class NoTrips:
    """An authorizer refusing every read of ``sample.trips``; it remembers each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(
        self, statement: Statement, accesses: Sequence[TableAccess | LocationAccess]
    ) -> None:
        tables = tuple(f"{a.database}.{a.table}" for a in accesses if isinstance(a, TableAccess))
        self.calls.append(tables)
        if "sample.trips" in tables:
            raise NotAuthorizedError(
                f"User: u is not authorized to perform: glue:GetTable on resource: {TRIPS_ARN}",
                "glue:GetTable",
                TRIPS_ARN,
                "analysts",
                "mapping #2 (group analysts)",
                table="sample.trips",
            )


def test_a_query_is_refused_at_submission_and_the_refusal_is_kept(app: Shoal) -> None:
    authorize = NoTrips()
    query_id = app.queries.start(
        "SELECT count(*) FROM zones CROSS JOIN trips", database="sample", authorize=authorize
    )
    # Asked before start returned, about every table the query reads:
    assert [set(c) for c in authorize.calls] == [{"sample.zones", "sample.trips"}]
    execution = app.queries.wait(query_id, timeout=30)
    assert execution.state == FAILED
    assert execution.statistics.data_scanned_in_bytes == 0
    error = execution.athena_error
    assert error is not None and (error.error_category, error.retryable) == (2, False)
    expected = Refusal(
        "glue:GetTable", TRIPS_ARN, "analysts", "mapping #2 (group analysts)", "sample.trips"
    )
    assert error.refusal == expected
    assert error.error_code == "AccessDeniedException"
    stored = ExecutionStore(app.state, "another-reader").get(query_id).execution
    assert stored.athena_error == error  # kept in the state database as it was
    assert len(authorize.calls) == 1  # the run did not ask again: it failed at once


def test_an_allowed_query_is_checked_at_submission_and_when_it_runs(app: Shoal) -> None:
    authorize = NoTrips()
    query_id = app.queries.start("SELECT count(*) FROM zones", "sample", authorize=authorize)
    assert app.queries.wait(query_id, timeout=30).state == SUCCEEDED
    assert authorize.calls == [("sample.zones",), ("sample.zones",)]


def test_a_bad_query_is_left_for_the_run_to_report(app: Shoal) -> None:
    authorize = NoTrips()
    query_id = app.queries.start("SELECT * FROM nope", "sample", authorize=authorize)
    execution = app.queries.wait(query_id, timeout=30)
    assert execution.state == FAILED and execution.athena_error is not None
    assert execution.athena_error.refusal is None
    assert "nope" in execution.athena_error.error_message


def test_completion_records_tell_a_refusal_from_other_failures(app: Shoal) -> None:
    authorize = NoTrips()
    refused = app.queries.wait(
        app.queries.start("SELECT * FROM trips", "sample", authorize=authorize), timeout=30
    )
    syntax = app.queries.wait(app.queries.start("SELECT FROM WHERE", "sample"), timeout=30)
    fine = app.queries.wait(app.queries.start("SELECT 1", "sample"), timeout=30)
    records = [completed_record(e, "123456789012", "us-east-1") for e in (refused, syntax, fine)]
    assert [r["errorCode"] for r in records] == ["AccessDenied", "InvalidRequestException", None]
    assert records[0]["errorMessage"].startswith("User: u is not authorized")
    named = {
        "role": "analysts",
        "roleMapping": "mapping #2 (group analysts)",
        "deniedAction": "glue:GetTable",
        "deniedResource": TRIPS_ARN,
        "deniedTable": "sample.trips",
        "state": FAILED,
    }
    # A completion is a service event: its facts are in serviceEventDetails.
    assert named.items() <= records[0]["serviceEventDetails"].items()
    assert records[1]["serviceEventDetails"]["deniedTable"] is None
    assert records[2]["errorMessage"] is None
