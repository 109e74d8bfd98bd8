"""Athena documentation and blog queries on the sample lake, checked against answers
computed directly from the generated files (pyarrow / csv / json, never shoal)."""

from __future__ import annotations

import csv
import gzip
import json
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.engine.base import CancelToken
from shoal.errors import (
    BytesScannedCutoffError,
    InvalidInputError,
    QueryCancelledError,
    ShoalError,
    TableNotFoundError,
)
from shoal.queries.context import TableAccess
from shoal.queries.parameters import parse_parameter

from .conftest import Lake


def trips(lake: Lake) -> pa.Table:
    files = sorted((lake.root / "samples" / "trips").rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files)


def events(lake: Lake) -> list[dict[str, Any]]:
    path = lake.path("samples", "cloudtrail/events-0001.json.gz")
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def test_average_fare_by_hour_of_day(lake: Lake) -> None:
    sql = (
        "SELECT EXTRACT(HOUR FROM pickup_datetime) AS hour, avg(fare_amount) AS avg_fare "
        "FROM trips GROUP BY 1 ORDER BY 1"
    )
    sums: dict[int, list[float]] = defaultdict(list)
    for row in trips(lake).select(["pickup_datetime", "fare_amount"]).to_pylist():
        sums[row["pickup_datetime"].hour].append(row["fare_amount"])
    got = lake.rows(sql)
    assert [r["hour"] for r in got] == sorted(sums)
    for row in got:
        values = sums[row["hour"]]
        assert row["avg_fare"] == pytest.approx(sum(values) / len(values))


def test_tip_percentage_categories_with_nested_subqueries(lake: Lake) -> None:
    sql = """
        SELECT tip_category, count(*) AS trips, round(avg(tip_pct) * 100, 2) AS avg_pct
        FROM (
            SELECT tip_pct,
                   CASE WHEN tip_pct = 0 THEN '0 none'
                        WHEN tip_pct < 0.15 THEN '1 low'
                        WHEN tip_pct < 0.20 THEN '2 standard'
                        ELSE '3 generous' END AS tip_category
            FROM (
                SELECT tip_amount / fare_amount AS tip_pct
                FROM trips
                WHERE fare_amount > 0 AND payment_type = 1
            ) AS tips
        ) AS categorized
        GROUP BY tip_category
        ORDER BY tip_category
    """
    buckets: dict[str, list[float]] = defaultdict(list)
    for row in trips(lake).to_pylist():
        if row["fare_amount"] > 0 and row["payment_type"] == 1:
            pct = row["tip_amount"] / row["fare_amount"]
            label = (
                "0 none"
                if pct == 0
                else "1 low"
                if pct < 0.15
                else "2 standard"
                if pct < 0.20
                else "3 generous"
            )
            buckets[label].append(pct)
    got = lake.rows(sql)
    assert [(r["tip_category"], r["trips"]) for r in got] == [
        (k, len(v)) for k, v in sorted(buckets.items())
    ]
    for row in got:
        values = buckets[row["tip_category"]]
        assert row["avg_pct"] == pytest.approx(round(sum(values) / len(values) * 100, 2))


def test_cloudtrail_recent_events_by_user(lake: Lake) -> None:
    sql = (
        "SELECT useridentity.username, eventname FROM cloudtrail "
        "WHERE from_iso8601_timestamp(eventtime) > date_add('day', -1, now())"
    )
    since = datetime.now(UTC) - timedelta(days=1)
    expected = sorted(
        (e["useridentity"]["username"], e["eventname"])
        for e in events(lake)
        if datetime.strptime(e["eventtime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) > since
    )
    got = sorted((r["username"], r["eventname"]) for r in lake.rows(sql))
    assert got == expected
    assert 0 < len(got) < len(events(lake))


def test_cloudtrail_json_extract_of_request_parameters(lake: Lake) -> None:
    sql = (
        "SELECT json_extract_scalar(requestparameters, '$.bucketName') AS bucket, "
        "count(*) AS n FROM cloudtrail GROUP BY 1 ORDER BY 1"
    )
    counts = Counter(json.loads(e["requestparameters"])["bucketName"] for e in events(lake))
    assert [(r["bucket"], r["n"]) for r in lake.rows(sql)] == sorted(counts.items())


def test_zones_join_trips_on_location_id(lake: Lake) -> None:
    sql = (
        "SELECT z.borough, count(*) AS n FROM trips t "
        "JOIN zones z ON t.pickup_location_id = z.locationid GROUP BY z.borough ORDER BY 1"
    )
    with lake.path("samples", "zones/zones.csv").open() as f:
        borough = {int(r["LocationID"]): r["Borough"] for r in csv.DictReader(f)}
    counts = Counter(borough[z] for z in trips(lake).column("pickup_location_id").to_pylist())
    outcome = lake.run(sql)
    assert [(r["borough"], r["n"]) for r in outcome.rows.to_pylist()] == sorted(counts.items())
    reads = {(a.database, a.table) for a in outcome.accesses if isinstance(a, TableAccess)}
    assert reads == {("sample", "trips"), ("sample", "zones")}


def test_three_part_names_and_quoted_identifiers(lake: Lake) -> None:
    got = lake.rows('SELECT count(*) AS n FROM awsdatacatalog."sample".trips', database="default")
    assert got == [{"n": trips(lake).num_rows}]


def test_columns_qualified_by_database_and_catalog(lake: Lake) -> None:
    expected = lake.rows("SELECT max(zone) AS z FROM zones")
    for column in ("sample.zones.zone", "awsdatacatalog.sample.zones.zone", 'sample."zones".zone'):
        got = lake.rows(f"SELECT max({column}) AS z FROM sample.zones", database="default")
        assert got == expected, column
    joined = lake.rows(
        "SELECT count(*) AS n FROM sample.trips JOIN sample.zones "
        "ON sample.trips.pickup_location_id = sample.zones.locationid"
    )
    assert joined == [{"n": trips(lake).num_rows}]
    with pytest.raises(ShoalError, match="other.zones"):
        lake.run("SELECT other.zones.zone FROM sample.zones")


def test_parameters_are_bound_not_spliced(lake: Lake) -> None:
    sql = "SELECT count(*) AS n FROM zones WHERE zone = ? OR borough = ?"
    hostile = "x' OR '1'='1"
    assert lake.rows(sql, parameters=(hostile, "Queens")) == [{"n": 7}]
    assert parse_parameter("'it''s'") == "it's"
    with pytest.raises(InvalidInputError, match="Incorrect number of parameters"):
        lake.run(sql, parameters=("a",))


def test_unknown_tables_fail_with_athena_text(lake: Lake) -> None:
    with pytest.raises(TableNotFoundError, match="Table 'awsdatacatalog.sample.nope' does not"):
        lake.run("SELECT * FROM nope")
    with pytest.raises(TableNotFoundError, match="SCHEMA_NOT_FOUND.*'nodb'"):
        lake.run("SELECT * FROM nodb.t")


def test_authorizer_sees_every_table_before_running(lake: Lake) -> None:
    seen: list[Any] = []

    def refuse(accesses: Any) -> None:
        seen.extend(accesses)
        raise PermissionError("no")

    with pytest.raises(PermissionError):
        lake.run(
            "SELECT * FROM trips t JOIN zones z ON t.pickup_location_id = z.locationid",
            authorize=refuse,
        )
    assert {(a.table, a.mode) for a in seen} == {("trips", "read"), ("zones", "read")}


def test_bytes_scanned_cutoff_cancels_and_engine_still_works(lake: Lake) -> None:
    with pytest.raises(BytesScannedCutoffError, match="limit") as caught:
        lake.run("SELECT * FROM trips", bytes_scanned_cutoff=1000)
    assert caught.value.bytes_scanned > 1000
    assert lake.rows("SELECT count(*) AS n FROM payment_types") == [{"n": 6}]


def test_cancel_token_stops_the_query(lake: Lake) -> None:
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    slow = (
        "SELECT count(*) FROM trips a CROSS JOIN trips b CROSS JOIN trips c "
        "WHERE a.fare_amount + b.fare_amount > c.fare_amount"
    )
    with pytest.raises(QueryCancelledError):
        lake.run(slow, cancel=token)
    assert lake.rows("SELECT 1 AS one") == [{"one": 1}]


def test_explain_lists_pruned_partitions_files_and_bytes(lake: Lake) -> None:
    lines = [
        r["Query Plan"]
        for r in lake.rows("EXPLAIN SELECT sum(fare_amount) FROM trips WHERE month = '02'")
    ]
    assert any("1 of 3 partitions" in line for line in lines)
    assert sum("month=02" in line for line in lines) == 1
    assert not any("month=01" in line for line in lines)


def test_missing_ddl_handler_or_garbage_is_invalid_input(lake: Lake) -> None:
    with pytest.raises(InvalidInputError):
        lake.run("VACUUM trips")


@pytest.mark.parametrize(
    "source",
    [
        '("awsdatacatalog"."sample"."trips")',  # dbt-athena's partition batching
        "(trips)",
        "((trips)) AS t",
        "(trips t)",
    ],
)
def test_parenthesized_table_is_read_as_the_table(lake: Lake, source: str) -> None:
    # Trino reads "FROM (t)" as the relation t; DuckDB's parser fails on it.
    want = sorted({row["pickup_datetime"].month for row in trips(lake).to_pylist()})
    sql = f"SELECT DISTINCT month FROM {source} ORDER BY month"
    assert [int(row["month"]) for row in lake.rows(sql)] == want
