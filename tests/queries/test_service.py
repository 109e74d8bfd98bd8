"""QueryService end to end: real state database (SQLite, and PostgreSQL when
SHOAL_TEST_POSTGRES_URL is set), real local storage, the real engine and runner.

Expected answers are computed independently from the sample files with pyarrow.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update

import shoal
from shoal.app import Shoal
from shoal.catalog.model import Partition, StorageDescriptor
from shoal.crawler import crawl_path
from shoal.errors import (
    IdempotentParameterMismatchError,
    InvalidRequestError,
    QueryExecutionNotFoundError,
    WorkGroupDisabledError,
)
from shoal.queries.model import (
    CANCELLED,
    FAILED,
    QUEUED,
    RESTARTED_REASON,
    RUNNING,
    SUCCEEDED,
    QueryExecution,
    WorkGroup,
    WorkGroupConfiguration,
)
from shoal.queries.results import parse_csv
from shoal.queries.runner import StatementRunner
from shoal.queries.schema import query_executions
from shoal.queries.service import QueryService
from shoal.queries.store import ExecutionRecord, ExecutionStore, now
from shoal.samples import write_sample_data

LONG_QUERY = (
    "SELECT count(*) FROM unnest(range(200000)) a(x), unnest(range(200000)) b(y) WHERE x + y = 3"
)


# --- fixtures ---------------------------------------------------------------------------


def _sample_app(data: Path, catalog_url: str | None = None) -> Shoal:
    instance = shoal.open(data_dir=str(data), catalog_url=catalog_url)
    write_sample_data(instance.storage)
    crawl_path(instance.catalog, instance.storage, "s3://samples/", "sample")
    return instance


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Shoal]:
    """A shoal on SQLite with the sample lake crawled into database ``sample``."""
    with _sample_app(tmp_path / "data") as instance:
        yield instance


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shoal]:
    """The same, once per state database backend (for what touches the database most)."""
    if request.param == "sqlite":
        with _sample_app(tmp_path / "data") as instance:
            yield instance
        return
    with _sample_app(tmp_path / "data", request.getfixturevalue("postgres_schema_url")) as instance:
        yield instance


def run(service: QueryService, sql: str, **kwargs: object) -> QueryExecution:
    query_id = service.start(sql, **kwargs)  # type: ignore[arg-type]
    return service.wait(query_id, timeout=60)


def read_uri(app: Shoal, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return app.storage.read(bucket, key)


def all_rows(
    service: QueryService, query_id: str, page: int = 1000
) -> list[tuple[str | None, ...]]:
    rows, token = [], None
    while True:
        result = service.get_results(query_id, page, token)
        rows.extend(result.rows)
        token = result.next_token
        if token is None:
            return rows


def trips(app: Shoal) -> pa.Table:
    folder = app.config.lake_path / "samples" / "trips"
    return pa.concat_tables(pq.read_table(p) for p in sorted(folder.rglob("*.parquet")))


def wait_for_state(service: QueryService, query_id: str, state: str) -> None:
    deadline = time.monotonic() + 10
    while service.get(query_id).state != state:
        assert time.monotonic() < deadline, f"never reached {state}"
        time.sleep(0.01)


# --- lifecycle, statistics, result files -------------------------------------------------


def test_select_succeeds_with_statistics_result_files_and_pages(any_app: Shoal) -> None:
    app = any_app
    expected = trips(app)
    sql = "SELECT payment_type, count(*) AS n, sum(fare_amount) AS fares FROM trips GROUP BY 1"
    done = run(app.queries, sql + " ORDER BY 1", database="sample")

    assert done.state == SUCCEEDED, done.state_change_reason
    assert (done.statement_type, done.substatement_type) == ("DML", "SELECT")
    stats = done.statistics
    assert stats.data_scanned_in_bytes > 0
    assert stats.total_execution_time_in_millis >= stats.engine_execution_time_in_millis > 0
    assert stats.data_manifest_location is None
    assert done.completion_date_time is not None
    assert done.completion_date_time >= done.submission_date_time

    assert done.output_location == (
        f"s3://aws-athena-query-results-123456789012-us-east-1/{done.query_execution_id}.csv"
    )
    rows = parse_csv(read_uri(app, done.output_location))
    grouped = expected.group_by("payment_type").aggregate(
        [("payment_type", "count"), ("fare_amount", "sum")]
    )
    want = sorted(
        (str(p), str(n), f)
        for p, n, f in zip(
            grouped["payment_type"].to_pylist(),
            grouped["payment_type_count"].to_pylist(),
            grouped["fare_amount_sum"].to_pylist(),
            strict=True,
        )
    )
    assert rows[0] == ("payment_type", "n", "fares")
    got = [(p, n, f) for p, n, f in rows[1:]]
    assert [(p, n) for p, n, _ in got] == [(p, n) for p, n, _ in want]
    assert all(
        abs(float(f or 0) - w) < 1e-6 for (_, _, f), (_, _, w) in zip(got, want, strict=True)
    )
    metadata = json.loads(read_uri(app, done.output_location + ".metadata"))
    assert [c["type"] for c in metadata["ColumnInfo"]] == ["bigint", "bigint", "double"]

    page = app.queries.get_results(done.query_execution_id)
    assert page.rows == tuple(rows) and page.next_token is None
    assert [(c.name, c.type, c.precision) for c in page.columns] == [
        ("payment_type", "bigint", 19),
        ("n", "bigint", 19),
        ("fares", "double", 17),
    ]


def test_every_phase_that_took_time_reports_at_least_a_millisecond(app: Shoal) -> None:
    # Athena never reports a queue time of 0 for a query that waited at all, and
    # PyAthena's suite asserts it is set: a sub-millisecond pick-up is 1 ms, not 0.
    for _ in range(5):
        stats = run(app.queries, "SELECT 1").statistics
        assert stats.query_queue_time_in_millis >= 1
        assert stats.total_execution_time_in_millis >= stats.query_queue_time_in_millis


def test_a_cast_to_json_is_typed_json_in_column_info(app: Shoal) -> None:
    # Athena types CAST(... AS JSON) `json` (PyAthena then parses the values); the text
    # is the JSON document itself.
    sql = "SELECT CAST(ARRAY[1, 2, 3] AS JSON) AS arr, CAST(ARRAY['a'] AS JSON) AS txt, 'x' AS s"
    done = run(app.queries, sql)
    assert done.state == SUCCEEDED, done.state_change_reason
    page = app.queries.get_results(done.query_execution_id)
    assert [(c.name, c.type, c.precision) for c in page.columns] == [
        ("arr", "json", 0),
        ("txt", "json", 0),
        ("s", "varchar", 2147483647),
    ]
    assert [json.loads(v or "") for v in page.rows[1][:2]] == [[1, 2, 3], ["a"]]
    metadata = json.loads(read_uri(app, done.output_location + ".metadata"))
    assert [c["type"] for c in metadata["ColumnInfo"]] == ["json", "json", "varchar"]


def test_result_columns_keep_the_length_of_the_text_columns_they_read(app: Shoal) -> None:
    # Athena's ColumnInfo: a varchar(10) column has Precision 10, a char(3) one is type
    # char with Precision 3; anything computed from them is unbounded text.
    app.storage.create_bucket("lengths")
    app.storage.put("lengths", "t/rows.tsv", b"abc\txy\tlong text\n")
    ddl = (
        "CREATE EXTERNAL TABLE bounded (v varchar(10), c char(3), s string) "
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LOCATION 's3://lengths/t/'"
    )
    assert run(app.queries, ddl, database="sample").state == SUCCEEDED
    for sql, expected in [
        (
            "SELECT v, c AS cc, s, upper(v) AS u FROM bounded",
            [("v", "varchar", 10), ("cc", "char", 3), ("s", "varchar", 2147483647),
             ("u", "varchar", 2147483647)],
        ),
        ("SELECT * FROM sample.bounded", [("v", "varchar", 10), ("c", "char", 3),
                                           ("s", "varchar", 2147483647)]),
    ]:  # fmt: skip
        done = run(app.queries, sql, database="sample")
        assert done.state == SUCCEEDED, done.state_change_reason
        page = app.queries.get_results(done.query_execution_id)
        assert [(c.name, c.type, c.precision) for c in page.columns] == expected
        assert page.rows[1][0] == "abc"


def test_user_errors_fail_with_category_2(app: Shoal) -> None:
    missing = run(app.queries, "SELECT * FROM nope", database="sample")
    assert missing.state == FAILED
    assert missing.athena_error is not None
    assert missing.athena_error.error_category == 2
    assert missing.athena_error.error_type == 1000
    assert not missing.athena_error.retryable
    assert "nope" in (missing.state_change_reason or "")
    syntax = run(app.queries, "SELECT FROM WHERE", database="sample")
    assert syntax.state == FAILED and syntax.athena_error is not None
    assert syntax.athena_error.error_category == 2
    with pytest.raises(InvalidRequestError, match="did not finish successfully"):
        app.queries.get_results(missing.query_execution_id)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "(" * 3000 + "1" + ")" * 3000,
        "SELECT " + "CASE WHEN 1 = 1 THEN " * 600 + "1" + " END" * 600,
        "SELECT * FROM " + "(SELECT * FROM " * 400 + "(SELECT 1 AS x) t" + ") t" * 400,
    ],
    ids=["parentheses", "case", "subqueries"],
)
def test_a_statement_nested_too_deep_is_the_user_s_error(app: Shoal, sql: str) -> None:
    # Past Python's recursion limit in parsing or rewriting: not an internal error.
    done = run(app.queries, sql)
    assert done.state == FAILED and done.athena_error is not None
    assert done.athena_error.error_category == 2 and not done.athena_error.retryable
    assert done.state_change_reason == (
        "statement is too large: it nests deeper than shoal can analyze"
    )
    assert run(app.queries, "SELECT 1 AS x").state == SUCCEEDED


def test_text_without_a_utf8_form_is_refused_before_anything_is_stored(app: Shoal) -> None:
    newest = run(app.queries, "SELECT 1 AS x").query_execution_id
    with pytest.raises(InvalidRequestError, match="QueryString must be Unicode text"):
        app.queries.start("SELECT '\ud800'")
    with pytest.raises(InvalidRequestError, match="execution parameter must be Unicode"):
        app.queries.start("SELECT ?", parameters=["'\udcff'"])
    assert app.queries.list_executions(None, 1)[0][0].query_execution_id == newest


def test_ddl_and_utility_results_are_tab_separated_txt(app: Shoal) -> None:
    done = run(app.queries, "SHOW TABLES IN sample")
    assert done.state == SUCCEEDED, done.state_change_reason
    assert done.statement_type == "UTILITY"
    assert done.output_location is not None and done.output_location.endswith(".txt")
    lines = read_uri(app, done.output_location).decode().splitlines()
    assert lines == ["cloudtrail", "payment_types", "trips", "zones"]
    page = app.queries.get_results(done.query_execution_id)
    assert [r[0] for r in page.rows] == lines  # no header row for DDL/UTILITY


def test_ctas_writes_a_manifest_of_its_data_files(app: Shoal) -> None:
    sql = (
        "CREATE TABLE sample.fares WITH (format='PARQUET', "
        "external_location='s3://samples/out/fares/') AS SELECT vendor_id, fare_amount FROM trips"
    )
    done = run(app.queries, sql, database="sample")
    assert done.state == SUCCEEDED, done.state_change_reason
    assert done.substatement_type == "CREATE_TABLE_AS_SELECT"
    assert done.update_count == trips(app).num_rows
    manifest = done.statistics.data_manifest_location
    assert manifest == done.output_location.removesuffix(".csv") + "-manifest.csv"  # type: ignore[union-attr]
    files = read_uri(app, manifest).decode().splitlines()
    assert files and all(f.startswith("s3://samples/out/fares/") for f in files)
    total = sum(pq.read_table(io.BytesIO(read_uri(app, f))).num_rows for f in files)
    assert total == trips(app).num_rows


# --- paging --------------------------------------------------------------------------------


def test_paging_header_first_then_pages_equal_the_whole_result(app: Shoal) -> None:
    done = run(app.queries, "SELECT fare_amount, pickup_datetime FROM trips", database="sample")
    query_id = done.query_execution_id
    first = app.queries.get_results(query_id, 1000)
    assert first.rows[0] == ("fare_amount", "pickup_datetime")
    assert len(first.rows) == 1000 and first.next_token
    paged = all_rows(app.queries, query_id, 1000)
    assert len(paged) == trips(app).num_rows + 1
    assert paged == parse_csv(read_uri(app, done.output_location or ""))
    assert all_rows(app.queries, query_id, 7)[:20] == paged[:20]
    with pytest.raises(InvalidRequestError):
        app.queries.get_results(query_id, 1001)
    other = run(app.queries, "SELECT 1")
    with pytest.raises(InvalidRequestError, match="NextToken"):
        app.queries.get_results(other.query_execution_id, 10, first.next_token)
    # Without the in-memory copy, pages come from the CSV file and are identical.
    app.queries.cache.clear()
    assert all_rows(app.queries, query_id, 1000) == paged


def test_list_newest_first_and_batch_get(any_app: Shoal) -> None:
    app = any_app
    ids = [app.queries.start(f"SELECT {n}") for n in range(5)]
    for query_id in ids:
        app.queries.wait(query_id, 30)
    first, token = app.queries.list_executions(max_results=3)
    rest, end = app.queries.list_executions(max_results=3, next_token=token)
    assert [e.query_execution_id for e in first + rest] == ids[::-1]
    assert end is None
    found, missing = app.queries.batch_get([ids[0], "no-such-id"])
    assert [e.query_execution_id for e in found] == [ids[0]]
    assert missing[0][0] == "no-such-id"
    with pytest.raises(QueryExecutionNotFoundError):
        app.queries.get("no-such-id")


def test_client_request_token_is_idempotent(any_app: Shoal) -> None:
    app = any_app
    token = str(uuid.uuid4())
    first = app.queries.start("SELECT 1", client_request_token=token)
    again = app.queries.start("SELECT 1", client_request_token=token)
    assert first == again
    with pytest.raises(IdempotentParameterMismatchError) as err:
        app.queries.start("SELECT 2", client_request_token=token)
    assert err.value.code == "IdempotentParameterMismatchException"
    assert len(app.queries.list_executions()[0]) == 1


# --- cancel, time limit, cutoff, restart -----------------------------------------------


def test_stop_a_queued_and_a_running_query_while_others_run(app: Shoal) -> None:
    runner = StatementRunner(app.catalog, app.storage, app.engine)
    with QueryService(app.state, app.catalog, app.storage, runner, max_concurrent=1) as one:
        running = one.start(LONG_QUERY)
        queued = one.start("SELECT 1")
        wait_for_state(one, running, RUNNING)
        assert one.get(queued).state == QUEUED
        one.stop(queued)
        assert one.get(queued).state == CANCELLED
        # The engine is shared: a short query through the main service still runs.
        assert run(app.queries, "SELECT count(*) FROM trips", database="sample").state == SUCCEEDED
        started = time.monotonic()
        one.stop(running)
        stopped = one.wait(running, 10)
        assert stopped.state == CANCELLED
        assert stopped.state_change_reason == "Query cancelled by user"
        assert time.monotonic() - started < 5
        assert one.wait(queued, 1).state == CANCELLED  # never ran
        assert run(one, "SELECT 42 AS x").state == SUCCEEDED


def test_when_final_calls_back_once_the_final_state_is_stored(app: Shoal) -> None:
    service = app.queries
    assert not service.when_final(str(uuid.uuid4()), lambda: None)  # not running here
    seen: list[str] = []
    dropped: list[str] = []
    slow = service.start(LONG_QUERY)

    def record() -> None:
        seen.append(service.get(slow).state)

    def forgotten() -> None:
        dropped.append("called")

    assert service.when_final(slow, record)
    assert service.when_final(slow, forgotten)
    service.forget_final(slow, forgotten)
    service.stop(slow)
    assert service.wait(slow, 10).state == CANCELLED
    assert seen == [CANCELLED]  # called once, after the final state was stored
    assert dropped == []
    assert not service.when_final(slow, record)  # finished: nothing to wait for


def test_durable_listeners_leave_a_mark_until_every_one_has_run(any_app: Shoal) -> None:
    app = any_app
    service = app.queries
    calls: list[str] = []

    def down_once(execution: QueryExecution) -> None:
        calls.append(execution.query_execution_id)
        if len(calls) == 1:
            raise RuntimeError("the audit disk is full")

    service.on_finished.append(down_once)
    assert service.make_listeners_durable() == 0  # nothing owed from before
    failed_to_hear = run(service, "SELECT 1").query_execution_id
    heard = run(service, "SELECT 2").query_execution_id
    assert _marked(app) == {failed_to_hear}
    # Marks of live owners (this process) are not caught up with; a dead owner's are.
    assert service.make_listeners_durable() == 0
    with app.state.write() as conn:
        conn.execute(
            update(query_executions)
            .where(query_executions.c.id == failed_to_hear)
            .values(owner="elsewhere:1:dead", heartbeat_time=now() - timedelta(hours=1))
        )
    assert service.make_listeners_durable() == 1
    assert calls == [failed_to_hear, heard, failed_to_hear]
    assert _marked(app) == set()


def _marked(app: Shoal) -> set[str]:
    with app.state.read() as conn:
        rows = conn.execute(
            select(query_executions.c.id).where(query_executions.c.listeners_pending.is_(True))
        ).all()
    return {row[0] for row in rows}


def test_an_execution_stopped_elsewhere_is_seen_at_once(any_app: Shoal) -> None:
    # Two services on one state database, as two processes would be: the one running
    # the query answers from the database while the query is active, so it sees the
    # stop before its own monitor does; a finished execution never changes again.
    runner = StatementRunner(any_app.catalog, any_app.storage, any_app.engine)
    with QueryService(any_app.state, any_app.catalog, any_app.storage, runner) as owner:
        query_id = owner.start(LONG_QUERY)
        wait_for_state(owner, query_id, RUNNING)
        any_app.queries.stop(query_id)  # not live there: a state change in the database
        assert owner.get(query_id).state == CANCELLED
        assert owner.wait(query_id, 10).state == CANCELLED
        assert owner.workgroup_of(query_id) == "primary"
    finished = any_app.queries.get(query_id)
    assert any_app.queries.get(query_id) is finished  # kept: it cannot change any more
    with pytest.raises(QueryExecutionNotFoundError):
        any_app.queries.workgroup_of("no-such-execution")


def test_time_limit_fails_the_query_with_a_timeout_reason(app: Shoal) -> None:
    runner = StatementRunner(app.catalog, app.storage, app.engine)
    with QueryService(app.state, app.catalog, app.storage, runner, timeout_seconds=0.3) as limited:
        done = run(limited, LONG_QUERY)
    assert done.state == FAILED
    assert "timeout" in (done.state_change_reason or "").lower()
    assert done.athena_error is not None and done.athena_error.error_type == 206


def test_bytes_scanned_cutoff_cancels_the_query(app: Shoal, tmp_path: Path) -> None:
    big = pa.table({"x": pa.array(range(2_000_000), pa.int64())})
    sink = io.BytesIO()
    pq.write_table(big, sink, compression="none")
    app.storage.put("samples", "big/big.parquet", sink.getvalue())
    crawl_path(app.catalog, app.storage, "s3://samples/big/", "sample")
    with pytest.raises(InvalidRequestError, match="10000000"):
        config = WorkGroupConfiguration(bytes_scanned_cutoff_per_query=1_000_000)
        app.queries.workgroups.create_workgroup(WorkGroup("tiny", configuration=config))
    config = WorkGroupConfiguration(bytes_scanned_cutoff_per_query=10_000_000)
    app.queries.workgroups.create_workgroup(WorkGroup("capped", configuration=config))
    done = run(app.queries, "SELECT sum(x) FROM big", database="sample", workgroup="capped")
    assert done.state == CANCELLED
    assert "bytes scanned limit was exceeded" in (done.state_change_reason or "").lower()
    small = run(app.queries, "SELECT count(*) FROM trips", database="sample", workgroup="capped")
    assert small.state == SUCCEEDED


def test_restart_marks_orphaned_executions_failed(any_app: Shoal) -> None:
    app = any_app
    dead = ExecutionStore(app.state, "some-host:1:dead")
    alive = ExecutionStore(app.state, "other-host:1:alive")
    for store, query_id in ((dead, "dead-run"), (alive, "alive-run")):
        execution = QueryExecution(query_id, "SELECT 1", "primary", RUNNING, now())
        assert store.insert(ExecutionRecord(execution))
    with app.state.write() as conn:  # the dead process stopped sending heartbeats long ago
        conn.execute(
            update(query_executions)
            .where(query_executions.c.id == "dead-run")
            .values(heartbeat_time=now() - timedelta(hours=1))
        )
    runner = StatementRunner(app.catalog, app.storage, app.engine)
    with QueryService(app.state, app.catalog, app.storage, runner) as restarted:
        assert restarted.recovered == 1
        orphan = restarted.get("dead-run")
        assert orphan.state == FAILED
        assert orphan.state_change_reason == RESTARTED_REASON
        assert orphan.athena_error is not None and orphan.athena_error.error_category == 1
        assert restarted.get("alive-run").state == RUNNING  # another live process owns it


# --- result reuse ------------------------------------------------------------------------


def test_result_reuse_and_its_invalidation_when_a_table_changes(any_app: Shoal) -> None:
    app = any_app
    sql = "SELECT count(*) AS n FROM trips"
    first = run(app.queries, sql, database="sample", result_reuse_max_age_minutes=60)
    assert first.state == SUCCEEDED and not first.statistics.reused_previous_result
    second = run(app.queries, sql, database="sample", result_reuse_max_age_minutes=60)
    assert second.statistics.reused_previous_result
    assert second.query_execution_id != first.query_execution_id
    assert app.queries.get_results(second.query_execution_id).rows == (("n",), ("6000",))
    assert read_uri(app, second.output_location or "") == read_uri(app, first.output_location or "")
    # Without reuse asked for, the query runs.
    plain = run(app.queries, sql, database="sample")
    assert not plain.statistics.reused_previous_result

    table = app.catalog.get_table("sample", "trips")
    location = table.storage.location.rstrip("/") + "/year=2025/month=01/"
    app.catalog.create_partitions(
        [Partition("sample", "trips", ("2025", "01"), StorageDescriptor(location))]
    )
    third = run(app.queries, sql, database="sample", result_reuse_max_age_minutes=60)
    assert not third.statistics.reused_previous_result
    assert run(
        app.queries, sql, database="sample", result_reuse_max_age_minutes=60
    ).statistics.reused_previous_result

    app.catalog.update_table(table)  # a new table version
    fourth = run(app.queries, sql, database="sample", result_reuse_max_age_minutes=60)
    assert not fourth.statistics.reused_previous_result

    data = read_uri(app, "s3://samples/trips/year=2024/month=01/trips-2024-01.parquet")
    app.storage.put("samples", "trips/year=2024/month=01/more.parquet", data)  # new file
    fifth = run(app.queries, sql, database="sample", result_reuse_max_age_minutes=60)
    assert not fifth.statistics.reused_previous_result
    assert app.queries.get_results(fifth.query_execution_id).rows[1] == ("8000",)


# --- workgroups, prepared statements, named queries ----------------------------------


def test_workgroup_enforced_location_and_disabled_state(app: Shoal) -> None:
    app.storage.create_bucket("team-results")
    config = WorkGroupConfiguration(
        output_location="s3://team-results/q/", enforce_work_group_configuration=True
    )
    app.queries.workgroups.create_workgroup(WorkGroup("team", configuration=config))
    done = run(app.queries, "SELECT 1", workgroup="team", output_location="s3://elsewhere/")
    assert done.output_location == f"s3://team-results/q/{done.query_execution_id}.csv"
    assert read_uri(app, done.output_location) == b'"_col0"\n"1"\n'
    not_enforced = WorkGroupConfiguration(output_location="s3://team-results/q/")
    app.queries.workgroups.update_workgroup(WorkGroup("team", configuration=not_enforced))
    app.storage.create_bucket("mine")
    mine = run(app.queries, "SELECT 1", workgroup="team", output_location="s3://mine/")
    assert mine.output_location == f"s3://mine/{mine.query_execution_id}.csv"
    app.queries.workgroups.update_workgroup(WorkGroup("team", state="DISABLED"))
    with pytest.raises(WorkGroupDisabledError):
        app.queries.start("SELECT 1", workgroup="team")
    with pytest.raises(InvalidRequestError, match="not found"):
        app.queries.start("SELECT 1", workgroup="nobody")


def test_prepared_statement_binds_values_never_splices(app: Shoal) -> None:
    from shoal.queries.model import PreparedStatement

    statement = PreparedStatement(
        "by_type", "SELECT ? AS v, count(*) AS n FROM trips WHERE payment_type = ?"
    )
    app.queries.workgroups.put_prepared_statement(statement, create=True)
    tricky = "it's'; DROP TABLE trips; --"
    quoted = "'" + tricky.replace("'", "''") + "'"
    done = run(app.queries, f"EXECUTE by_type USING {quoted}, 2", database="sample")
    assert done.state == SUCCEEDED, done.state_change_reason
    expected = pc.sum(pc.equal(trips(app)["payment_type"], 2)).as_py()
    assert app.queries.get_results(done.query_execution_id).rows[1] == (tricky, str(expected))
    with_params = run(app.queries, "EXECUTE by_type", database="sample", parameters=[quoted, "2"])
    assert app.queries.get_results(with_params.query_execution_id).rows[1] == (
        tricky,
        str(expected),
    )
    direct = run(app.queries, "SELECT ? AS v", parameters=["'a''b'"])
    assert app.queries.get_results(direct.query_execution_id).rows[1] == ("a'b",)
    with pytest.raises(InvalidRequestError, match="not a literal"):
        app.queries.start("SELECT ?", parameters=["1; DROP TABLE trips"])
    missing = run(app.queries, "EXECUTE nothing USING 1")
    assert missing.state == FAILED and "nothing" in (missing.state_change_reason or "")


def test_named_queries_crud(app: Shoal) -> None:
    store = app.queries.workgroups
    saved = store.create_named_query("count", "SELECT count(*) FROM trips", "sample", "how many")
    assert store.get_named_query(saved.named_query_id) == saved
    assert [q.name for q in store.list_named_queries()] == ["count"]
    store.update_named_query(saved.named_query_id, "count2", "SELECT 2")
    assert store.get_named_query(saved.named_query_id).query_string == "SELECT 2"
    store.delete_named_query(saved.named_query_id)
    assert store.list_named_queries() == []


# --- concurrency and memory -------------------------------------------------------------


def test_query_larger_than_memory_spills_to_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sizes: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            sizes.extend(p.stat().st_size for p in (data / "tmp").rglob("*") if p.is_file())
            time.sleep(0.01)

    with shoal.open(data_dir=str(data), engine_memory_limit="40MB") as small:
        watcher = threading.Thread(target=watch)
        watcher.start()
        sql = (
            "SELECT count(*), sum(c) FROM (SELECT x % 1000000 AS k, count(*) AS c, "
            "max(x::VARCHAR) AS s FROM unnest(range(2000000)) t(x) GROUP BY 1)"
        )
        try:
            done = run(small.queries, sql)
        finally:
            stop.set()
            watcher.join()
        assert done.state == SUCCEEDED, done.state_change_reason
        assert small.queries.get_results(done.query_execution_id).rows[1] == ("1000000", "2000000")
    assert max(sizes, default=0) > 0  # DuckDB spilled under DATA/tmp
