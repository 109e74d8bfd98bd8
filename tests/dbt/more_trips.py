"""Data that changes between the two dbt runs, put through shoal's S3 API.

Two trip files, both made from sample trips moved in time so their values stay
realistic: a new month (``month=04``, a partition the catalog does not know yet) and
late trips for a month already built (``month=03``), which ``insert_overwrite`` must
fold into that month's partition and ``append`` (by design) leaves out. And one zone
renamed, for the snapshot to record.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NEW_MONTH_ROWS = 500
LATE_ROWS = 100
QUERY_TIMEOUT = 60.0


def add_trips(s3: Any, samples: Path) -> None:
    """Write April's trips and some late March trips into bucket ``samples``."""
    trips = samples / "trips" / "year=2024"
    march = pq.read_table(trips / "month=03" / "trips-2024-03.parquet")
    february = pq.read_table(trips / "month=02" / "trips-2024-02.parquet")
    # March 1-27 + 31 days is April 1-27; February 1-27 + 29 days (2024 leaps) is March.
    _put(s3, "trips/year=2024/month=04/trips-2024-04.parquet", _later(march, 31, NEW_MONTH_ROWS))
    _put(s3, "trips/year=2024/month=03/trips-2024-03-late.parquet", _later(february, 29, LATE_ROWS))


def rename_zone(s3: Any, samples: Path) -> None:
    """Zone 3 becomes "Zone Three" (a new zones.csv in place of the old one)."""
    text = (samples / "zones" / "zones.csv").read_text()
    renamed = text.replace("\n3,Bronx,Zone 3,", "\n3,Bronx,Zone Three,")
    if renamed == text:
        raise RuntimeError("zones.csv has no line for zone 3 as expected")
    s3.put_object(Bucket="samples", Key="zones/zones.csv", Body=renamed.encode())


def repair_partitions(athena: Any, output: str) -> None:
    """``MSCK REPAIR TABLE sample.trips``, as a pipeline would after new data lands."""
    started = athena.start_query_execution(
        QueryString="MSCK REPAIR TABLE trips",
        QueryExecutionContext={"Database": "sample"},
        ResultConfiguration={"OutputLocation": output},
    )
    query_id = started["QueryExecutionId"]
    deadline = time.monotonic() + QUERY_TIMEOUT
    while time.monotonic() < deadline:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            return
        if status["State"] in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"MSCK REPAIR TABLE: {status}")
        time.sleep(0.1)
    raise RuntimeError(f"MSCK REPAIR TABLE still running after {QUERY_TIMEOUT} s")


def _later(trips: pa.Table, days: int, rows: int) -> pa.Table:
    moved = trips.slice(0, rows)
    shift = pa.scalar(dt.timedelta(days=days), pa.duration("us"))
    for column in ("pickup_datetime", "dropoff_datetime"):
        index = moved.schema.get_field_index(column)
        moved = moved.set_column(index, column, pc.add(moved[column], shift))
    return moved


def _put(s3: Any, key: str, table: pa.Table) -> None:
    body = io.BytesIO()
    pq.write_table(table, body)
    s3.put_object(Bucket="samples", Key=key, Body=body.getvalue())
