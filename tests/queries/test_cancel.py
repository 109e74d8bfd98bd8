"""StopQueryExecution in every phase of a run: the execution ends CANCELLED within a
second of the stop, and leaves no result file behind.

A real QueryService (state database, DuckDB engine, local folders or an S3 endpoint)
runs queries whose phase of interest would last tens of seconds to minutes; the test
waits until the service says the query is in that phase (``on_phase``), stops it,
and times the stop until GetQueryExecution reports CANCELLED. The queries need no
tables, so no lake is crawled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

import shoal
from shoal.app import Shoal
from shoal.engine.base import EXECUTING, FETCHING
from shoal.errors import EntityNotFoundError
from shoal.queries.model import CANCELLED, PLANNING, WRITING, WRITING_DATA
from shoal.queries.runner import StatementRunner
from shoal.queries.service import CANCELLED_BY_USER, QueryService
from shoal.storage.base import Storage
from shoal.storage.s3 import S3Storage
from storage.conftest import moto_endpoint  # noqa: F401 - a fixture the S3 test uses

ROWS = "unnest(range(200000)) a(x), unnest(range(200000)) b(y)"  # 4 * 10^10 rows
# Each query spends minutes in its phase if nobody stops it.
IN_PHASE = {
    # A blocking aggregate: DuckDB runs it to the end before a row comes out.
    EXECUTING: f"SELECT count(*) FROM {ROWS} WHERE x + y = 3",
    # A streaming query: its rows are computed as they are fetched into Arrow.
    FETCHING: f"SELECT md5(CAST(x * 200000 + y AS varchar)) AS digest FROM {ROWS}",
    # A million arrays: computed in a second, formatted (in Python) at ~4 * 10^4 a second.
    WRITING: "SELECT ARRAY[x, y, x + y, x - y, x * y, 2 * x, 2 * y, x + 1, y + 1, 7] AS ten "
    "FROM unnest(range(1000)) a(x), unnest(range(1000)) b(y)",
}
SELECT_PHASES = (PLANNING, EXECUTING, FETCHING, WRITING)
REACH_SECONDS = 120.0  # a loaded machine may take long to get there; only the stop is timed
STOP_SECONDS = 1.0
INTO_PHASE_SECONDS = 0.5  # the stop lands inside the phase, not at its first step


class Phases:
    """Every phase each execution entered, as the service's ``on_phase`` told it."""

    def __init__(self) -> None:
        self.seen: dict[str, list[str]] = {}
        self._changed = threading.Condition()

    def __call__(self, query_id: str, phase: str) -> None:
        with self._changed:
            self.seen.setdefault(query_id, []).append(phase)
            self._changed.notify_all()

    def wait_for(self, query_id: str, phase: str) -> None:
        with self._changed:
            reached = self._changed.wait_for(
                lambda: phase in self.seen.get(query_id, ()), REACH_SECONDS
            )
        assert reached, f"never reached {phase}: {self.seen.get(query_id)}"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Shoal]:
    with shoal.open(data_dir=str(tmp_path / "data")) as instance:
        yield instance


def _stop_in(
    service: QueryService, storage: Storage, output: str, sql: str, through: Sequence[str]
) -> None:
    """Run ``sql``, stop it once it is in the last phase ``through`` lists, and check
    the stop, the phases it went through and what is left."""
    phases = Phases()
    service.on_phase.append(phases)
    query_id = service.start(sql, output_location=output)
    phases.wait_for(query_id, through[-1])
    time.sleep(INTO_PHASE_SECONDS)
    stopped = datetime.now(UTC)
    service.stop(query_id)
    finished = service.wait(query_id, 10 * STOP_SECONDS)
    assert (finished.state, finished.state_change_reason) == (CANCELLED, CANCELLED_BY_USER)
    # Timed by the service's own clock: when the execution became CANCELLED (the test's
    # polling, on a loaded machine, would add its own delay to the measure).
    assert finished.completion_date_time is not None
    assert (finished.completion_date_time - stopped).total_seconds() <= STOP_SECONDS
    assert phases.seen[query_id] == list(through)  # stopped in that phase: no further
    bucket, prefix = output.removeprefix("s3://").split("/", 1)
    left = [o.key for o in storage.walk(bucket, prefix)]
    assert left == [], f"result files left behind: {left}"


@pytest.mark.parametrize("phase", [EXECUTING, FETCHING, WRITING])
def test_a_stop_in_each_phase_cancels_within_a_second(app: Shoal, phase: str) -> None:
    app.storage.create_bucket("results")
    through = SELECT_PHASES[: SELECT_PHASES.index(phase) + 1]
    _stop_in(app.queries, app.storage, "s3://results/stopped/", IN_PHASE[phase], through)
    # The engine and the service are fine afterwards.
    query_id = app.queries.start("SELECT 6 * 7 AS answer", output_location="s3://results/ok/")
    assert app.queries.wait(query_id, 60).state == "SUCCEEDED"
    assert app.queries.get_results(query_id).rows == (("answer",), ("42",))


def test_a_stop_while_ctas_writes_its_data_files_cancels_within_a_second(app: Shoal) -> None:
    # 100 partitions (Athena's most), a JSON file of 10^4 rows each: ~10 s to write.
    app.storage.create_bucket("results")
    created = app.queries.start("CREATE DATABASE lake", output_location="s3://results/db/")
    assert app.queries.wait(created, 60).state == "SUCCEEDED"
    sql = (
        "CREATE TABLE lake.parts WITH (format = 'JSON', partitioned_by = ARRAY['p'], "
        "external_location = 's3://results/parts/') "
        "AS SELECT x, x % 100 AS p FROM unnest(range(1000000)) a(x)"
    )
    through = (PLANNING, EXECUTING, FETCHING, WRITING_DATA)
    _stop_in(app.queries, app.storage, "s3://results/stopped/", sql, through)
    assert list(app.storage.walk("results", "parts/")) == []  # no data file left
    with pytest.raises(EntityNotFoundError):
        app.catalog.get_table("lake", "parts")


def test_a_stop_while_writing_to_an_s3_endpoint_cancels_within_a_second(
    app: Shoal,
    moto_endpoint: str,  # noqa: F811 - the fixture imported above
) -> None:
    storage = S3Storage(moto_endpoint, "testing", "testing")
    bucket = f"results-{time.monotonic_ns()}"
    storage.create_bucket(bucket)
    runner = StatementRunner(app.catalog, storage, app.engine)
    with QueryService(app.state, app.catalog, storage, runner) as service:
        _stop_in(service, storage, f"s3://{bucket}/stopped/", IN_PHASE[WRITING], SELECT_PHASES)
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    uploads = client.list_multipart_uploads(Bucket=bucket)
    assert uploads.get("Uploads", []) == []  # an unfinished upload is aborted, not kept


def _stopped_as_it_writes(
    service: QueryService, sql: str, output: str, **kwargs: object
) -> tuple[str, list[str]]:
    """Run ``sql``, stopping it from the service's own thread as its result is written;
    its final state, and the phases it went through."""
    phases = Phases()

    def stop_when_writing(query_id: str, phase: str) -> None:
        phases(query_id, phase)
        if phase == WRITING:
            service.stop(query_id)

    service.on_phase.append(stop_when_writing)
    try:
        query_id = service.start(sql, output_location=output, **kwargs)  # type: ignore[arg-type]
        return service.wait(query_id, 60).state, phases.seen[query_id]
    finally:
        service.on_phase.remove(stop_when_writing)


def test_a_stop_heard_only_once_the_files_are_stored_removes_them(app: Shoal) -> None:
    # A .txt result (SHOW) is stored in one piece, and a reused result is copied whole:
    # neither has a batch boundary to hear a stop at. A stop as they are written is
    # heard after, before SUCCEEDED is recorded: CANCELLED, and the files are deleted.
    app.storage.create_bucket("results")
    service = app.queries
    shown = _stopped_as_it_writes(service, "SHOW DATABASES", "s3://results/show/")
    assert shown == (CANCELLED, [PLANNING, WRITING])
    first = service.start(
        "SELECT 42 AS answer",
        output_location="s3://results/first/",
        result_reuse_max_age_minutes=60,
    )
    assert service.wait(first, 60).state == "SUCCEEDED"
    reused = _stopped_as_it_writes(
        service, "SELECT 42 AS answer", "s3://results/again/", result_reuse_max_age_minutes=60
    )
    assert reused == (CANCELLED, [PLANNING, WRITING])  # copied, not run again
    left = sorted(o.key for o in app.storage.walk("results"))
    assert left == [f"first/{first}.csv", f"first/{first}.csv.metadata"]
