"""Run the dbt project against a real ``shoal serve`` and check what it built.

    python -m tests.dbt.run --dbt .venv-dbt/bin/dbt [--keep]

Starts shoal on a free loopback port with the sample lake in a temporary data folder,
then: ``dbt seed``, ``dbt build`` (seed again, views, table, incrementals, tests),
``dbt source freshness``, checks the tables; adds trips (a new month and late rows for
an old one) through S3 and ``MSCK REPAIR TABLE``, renames a zone; ``dbt build`` of the
incremental models (one with a new column) and the snapshot, with their tests; checks
again. Every table is compared with answers computed from the sample files by
pyarrow (``expected``). Exits 1 on a dbt failure or any difference.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tests.clients.server import ShoalServer, start_server, stop_server

from . import built, expected
from .more_trips import add_trips, rename_zone, repair_partitions

PROJECT = Path(__file__).parent / "project"
SCHEMA = "analytics"  # profiles.yml
BUCKETS = ("dbt-results", "dbt-lake")  # profiles.yml: s3_staging_dir, s3_data_dir
# Each table's key: rows are matched on it.
KEYS = {
    "borough_revenue": ["borough", "payment"],
    "zone_trips": ["zone", "year"],
    "monthly_payments": ["vendor_name", "payment_type", "year", "month"],
    "daily_trips": ["pickup_date"],
    "vendor_months": ["vendor_id", "month"],
    "zones_snapshot": ["location_id", "zone"],
}
DBT_TIMEOUT = 600  # seconds for one dbt command: a hung server must not hang CI
SECOND_RUN = (
    "build",
    "--select",
    "config.materialized:incremental",
    "resource_type:snapshot",
    "--vars",
    "{with_fares: true}",  # vendor_months grows a column
)


class Failed(Exception):
    """A step failed; the message says which and why."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbt", required=True, help="the dbt executable (its own venv)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shoal-dbt-"))
    start = time.monotonic()
    try:
        _run(Path(args.dbt), work)
    except Exception as failure:  # any failure, expected or not: say where to look
        if not isinstance(failure, Failed):
            traceback.print_exc()
        print(f"\nFAILED: {failure}\n(server log, dbt logs: {work})", file=sys.stderr)
        return 1
    finally:
        print(f"\n== dbt project: {time.monotonic() - start:.0f} s in all")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _run(dbt: Path, work: Path) -> None:
    data = work / "data"
    _step("sample lake", lambda: _sample_data(data))
    server = start_server(data)
    try:
        _with_server(dbt, work, server)
    finally:
        stop_server(server)


def _with_server(dbt: Path, work: Path, server: ShoalServer) -> None:
    s3, glue = server.client("s3"), server.client("glue")
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=bucket)
    samples = server.lake / "samples"
    run_dbt = _dbt_runner(dbt, work, server)
    trips, zones = expected.read_trips(samples), _zones(samples)
    _step("dbt seed", lambda: run_dbt("seed"))
    _step("dbt build", lambda: run_dbt("build"))
    _step("dbt source freshness", lambda: run_dbt("source", "freshness"))
    first = {
        "borough_revenue": expected.borough_revenue(samples, trips),
        "zone_trips": expected.zone_trips(samples, trips),
        "monthly_payments": expected.monthly_payments(trips),
        "daily_trips": expected.daily_trips(trips),
        "vendor_months": expected.vendor_months(trips),
        "zones_snapshot": expected.zones_snapshot(zones, zones),
    }
    _step("check tables after the first build", lambda: _check(glue, server, first))
    _step("add trips, MSCK REPAIR TABLE, rename a zone", lambda: _change_data(server, samples))
    more_trips, renamed = expected.read_trips(samples), _zones(samples)
    _step("dbt build of the incremental models and the snapshot", lambda: run_dbt(*SECOND_RUN))
    second = {
        **first,  # the views and tables are not rebuilt
        "monthly_payments": expected.monthly_payments(more_trips),
        "daily_trips": expected.daily_trips_appended(first["daily_trips"], more_trips),
        "vendor_months": expected.vendor_months_overwritten(first["vendor_months"], more_trips),
        "zones_snapshot": expected.zones_snapshot(zones, renamed),
    }
    _step("check tables after the second run", lambda: _check(glue, server, second))


def _zones(samples: Path) -> pa.Table:
    return expected.read_csv(samples / "zones" / "zones.csv")


def _step(title: str, action: Callable[[], None]) -> None:
    print(f"\n== {title}", flush=True)
    start = time.monotonic()
    action()
    print(f"-- {title}: ok in {time.monotonic() - start:.1f} s", flush=True)


def _sample_data(data: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOAL_", "AWS_"))}
    cmd = [sys.executable, "-m", "shoal.cli", "--data", str(data), "sample-data"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)


def _dbt_runner(dbt: Path, work: Path, server: ShoalServer) -> Callable[..., None]:
    env = server.env(
        # dbt-athena's Glue and S3 clients take no endpoint from the profile: boto3's
        # AWS_ENDPOINT_URL reaches them (profiles.yml sets Athena's from SHOAL_URL).
        AWS_ENDPOINT_URL=server.url,
        SHOAL_URL=server.url,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",  # no network beyond loopback
        DBT_TARGET_PATH=str(work / "target"),  # nothing written into the checkout
        DBT_LOG_PATH=str(work / "logs"),
    )
    dirs = ["--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]

    def run(*args: str) -> None:
        command = [str(dbt), *args, *dirs]
        done = subprocess.run(command, env=env, check=False, timeout=DBT_TIMEOUT)
        if done.returncode:
            raise Failed(f"dbt {' '.join(args)} exited {done.returncode}")

    return run


def _change_data(server: ShoalServer, samples: Path) -> None:
    add_trips(server.client("s3"), samples)
    repair_partitions(server.client("athena"), f"s3://{BUCKETS[0]}/repair/")
    rename_zone(server.client("s3"), samples)


def _check(glue: object, server: ShoalServer, tables: dict[str, pa.Table]) -> None:
    found: list[str] = []
    for name, want in tables.items():
        got = built.read_table(glue, server.lake, SCHEMA, name)
        if name == "zones_snapshot":
            got = _snapshot_rows(got)
        found += built.differences(name, want, got, KEYS[name])
        print(f"   {name}: {got.num_rows} rows, expected {want.num_rows}")
    found += _bucket_problems(glue, server, "zone_trips", "zone", 4)
    if found:
        raise Failed("\n".join(found[:50]))


def _bucket_problems(
    glue: Any, server: ShoalServer, name: str, column: str, count: int
) -> list[str]:
    """A bucketed model (models/marts/zone_trips.sql): Glue says so, each partition's
    files are named as Trino names bucket files, and a value lives in one bucket only."""
    table = glue.get_table(DatabaseName=SCHEMA, Name=name)["Table"]
    sd = table["StorageDescriptor"]
    if sd["BucketColumns"] != [column] or sd["NumberOfBuckets"] != count:
        got = f"BucketColumns {sd['BucketColumns']}, NumberOfBuckets {sd['NumberOfBuckets']}"
        return [f"{name}: {got}, expected [{column!r}], {count}"]
    found = []
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=SCHEMA, TableName=name)
    for partition in (p for page in pages for p in page["Partitions"]):
        folder = server.lake / partition["StorageDescriptor"]["Location"].removeprefix("s3://")
        buckets: dict[object, str] = {}
        for file in sorted(folder.iterdir()):
            match = re.fullmatch(r"0(\d{5})_0_.+\.parquet", file.name)
            if match is None or int(match[1]) >= count:
                found.append(f"{name}: {file} is not named as a bucket file")
                continue
            for value in pq.read_table(file, columns=[column]).column(column).to_pylist():
                if buckets.setdefault(value, file.name) != file.name:
                    found.append(f"{name}: {value!r} in two buckets of {folder}")
    return found


def _snapshot_rows(table: pa.Table) -> pa.Table:
    """The snapshot's own columns, with dbt's validity range reduced to "is current"."""
    current = pc.is_null(table["dbt_valid_to"])
    columns = ["location_id", "borough", "zone", "service_zone"]
    return table.select(columns).append_column("is_current", current)


if __name__ == "__main__":
    sys.exit(main())
