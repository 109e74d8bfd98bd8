"""The ``shoal`` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shoal.samples import PAYMENT_TYPES, TRIP_MONTHS, TRIPS_PER_MONTH, ZONE_COUNT


def shoal(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shoal.cli", "--data", str(data), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed: {result.stderr}")
    return result


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    result = shoal(data, "sample-data")
    rows = len(TRIP_MONTHS) * TRIPS_PER_MONTH + ZONE_COUNT + len(PAYMENT_TYPES) + 300
    assert f"({rows} rows)" in result.stdout
    assert "4 tables created" in result.stdout
    return data


def test_sample_lake_is_crawled_into_four_tables(sample_lake: Path) -> None:
    tables = json.loads(shoal(sample_lake, "catalog", "tables", "sample", "-o", "json").stdout)
    by_name = {t["name"]: t for t in tables}
    assert sorted(by_name) == ["cloudtrail", "payment_types", "trips", "zones"]
    trips = by_name["trips"]
    assert trips["parameters"]["classification"] == "parquet"
    assert [k["name"] for k in trips["partition_keys"]] == ["year", "month"]
    assert trips["columns"][:3] == [
        {"name": "vendor_id", "type": "int"},
        {"name": "pickup_datetime", "type": "timestamp"},
        {"name": "dropoff_datetime", "type": "timestamp"},
    ]
    assert by_name["payment_types"]["columns"] == [
        {"name": "payment_type", "type": "bigint"},
        {"name": "description", "type": "string"},
    ]
    assert by_name["zones"]["parameters"]["skip.header.line.count"] == "1"
    assert by_name["cloudtrail"]["parameters"]["compressionType"] == "gzip"


def test_partitions_filter_and_table_listing(sample_lake: Path) -> None:
    result = shoal(
        sample_lake, "catalog", "partitions", "sample", "trips", "-e", "month IN ('01', '03')"
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["year", "month", "location"]
    assert [line.split()[:2] for line in lines[1:]] == [["2024", "01"], ["2024", "03"]]
    text = shoal(sample_lake, "catalog", "tables", "sample").stdout
    assert "s3://samples/trips/" in text


def test_recrawl_of_unchanged_sample_changes_nothing(sample_lake: Path) -> None:
    run = json.loads(
        shoal(sample_lake, "crawl", "s3://samples/", "-d", "sample", "-o", "json").stdout
    )
    assert run["state"] == "SUCCEEDED"
    counters = ("tables_created", "tables_updated", "tables_deleted", "partitions_added")
    assert [run[c] for c in counters] == [0, 0, 0, 0]
    versions = shoal(sample_lake, "catalog", "versions", "sample", "trips", "-o", "json")
    assert [v["version"] for v in json.loads(versions.stdout)] == [1]


def test_dry_run_prints_plan_and_changes_nothing(sample_lake: Path) -> None:
    result = shoal(sample_lake, "crawl", "s3://samples/trips/", "-d", "dryrun", "--dry-run")
    assert "dry run" in result.stdout
    databases = json.loads(shoal(sample_lake, "catalog", "databases", "-o", "json").stdout)
    assert [d["name"] for d in databases] == ["default", "sample"]  # no "dryrun"


def test_stored_crawler_round_trip(sample_lake: Path) -> None:
    shoal(
        sample_lake, "crawlers", "create", "nightly", "-d", "copy",
        "--target", "s3://samples/zones/", "--schedule", "0 2 * * *",
    )  # fmt: skip
    shown = json.loads(shoal(sample_lake, "crawlers", "show", "nightly", "-o", "json").stdout)
    assert shown["targets"] == ["s3://samples/zones/"] and shown["state"] == "READY"
    run = json.loads(shoal(sample_lake, "crawl", "--crawler", "nightly", "-o", "json").stdout)
    assert (run["crawler"], run["state"], run["tables_created"]) == ("nightly", "SUCCEEDED", 1)
    runs = json.loads(shoal(sample_lake, "crawlers", "runs", "nightly", "-o", "json").stdout)
    assert [r["id"] for r in runs] == [run["id"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("catalog", "table", "sample", "nope"), "nope"),
        (("catalog", "tables", "missing_db"), "missing_db"),
        (("catalog", "create-database", 'bad"name'), "invalid"),
        (("catalog", "partitions", "sample", "trips", "-e", "nosuch = '1'"), "nosuch"),
        (("crawl", "/etc/passwd", "-d", "x"), "s3://"),
        (("crawl", "s3://Bad_Bucket/", "-d", "x"), "bucket"),
        (("crawlers", "create", "c1", "-d", "x", "--target", "s3://samples/", "--schedule",
          "not a cron"), "schedule"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_exit_1(
    sample_lake: Path, args: tuple[str, ...], message: str
) -> None:
    result = shoal(sample_lake, *args, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_help_lists_commands(tmp_path: Path) -> None:
    text = shoal(tmp_path, "--help").stdout
    for command in ("crawl", "crawlers", "catalog", "sample-data", "config"):
        assert command in text
