"""The Glue API through an unmodified boto3 client against a real ``shoal serve``.

Configured only with the endpoint URL and credentials. Expected answers are worked
out by hand from what each test sends or uploads.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

SALES_CSV = b"id,amount,note\n1,2.5,a\n2,3,b\n"  # id bigint, amount double, note string


def _columns(*pairs: str) -> list[dict[str, str]]:
    return [{"Name": n, "Type": t} for n, t in zip(pairs[::2], pairs[1::2], strict=True)]


def _table_input(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "StorageDescriptor": {
            "Columns": _columns("id", "bigint", "amount", "double"),
            "Location": f"s3://lake/{name}/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": ","},
            },
        },
        "PartitionKeys": _columns("dt", "string"),
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "csv"},
        **extra,
    }


def _paginate(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    pages = client.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": 2})
    items: list[Any] = []
    page_count = 0
    for page in pages:
        items += page[key]
        page_count += 1
    if len(items) > 2:
        assert page_count > 1, f"{operation} came back in one page"
    return items


@pytest.fixture
def glue(boto3_client: Callable[..., Any]) -> Any:
    return boto3_client("glue")


@pytest.fixture
def s3(boto3_client: Callable[..., Any]) -> Any:
    return boto3_client("s3")


@pytest.fixture
def unique() -> str:
    """A name prefix no other test uses: the server is shared by the session."""
    return f"g{uuid.uuid4().hex[:12]}"


def test_databases_and_tables_round_trip(glue: Any, unique: str) -> None:
    db = f"{unique}_db"
    glue.create_database(DatabaseInput={"Name": db, "Description": "d", "Parameters": {"k": "v"}})
    got = glue.get_database(Name=db)["Database"]
    assert (got["Name"], got["Description"], got["Parameters"]) == (db, "d", {"k": "v"})
    assert isinstance(got["CreateTime"], datetime)

    sent = _table_input("events")
    glue.create_table(DatabaseName=db, TableInput=sent)
    table = glue.get_table(DatabaseName=db, Name="events")["Table"]
    assert isinstance(table["CreateTime"], datetime)
    assert table["VersionId"] == "1" and table["DatabaseName"] == db
    for key in ("Name", "PartitionKeys", "TableType", "Parameters"):
        assert table[key] == sent[key]
    for key, value in sent["StorageDescriptor"].items():
        assert table["StorageDescriptor"][key] == value

    glue.update_table(
        DatabaseName=db, TableInput=_table_input("events", Description="v2"), VersionId="1"
    )
    with pytest.raises(glue.exceptions.ConcurrentModificationException):
        glue.update_table(DatabaseName=db, TableInput=_table_input("events"), VersionId="1")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName=db, Name="missing")
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": db})
    with pytest.raises(glue.exceptions.InvalidInputException):
        bad = _table_input("bad")
        bad["StorageDescriptor"]["Columns"] = _columns("x", "not_a_type")
        glue.create_table(DatabaseName=db, TableInput=bad)
    result = glue.batch_delete_table(DatabaseName=db, TablesToDelete=["events", "ghost"])
    assert [e["TableName"] for e in result["Errors"]] == ["ghost"]
    glue.delete_database(Name=db)


def test_paginators_return_every_item(glue: Any, unique: str) -> None:
    dbs = [f"{unique}_{i}" for i in range(5)]
    for name in dbs:
        glue.create_database(DatabaseInput={"Name": name})
    listed = [d["Name"] for d in _paginate(glue, "get_databases", "DatabaseList")]
    assert [n for n in listed if n.startswith(unique)] == dbs

    db = dbs[0]
    tables = [f"t{i}" for i in range(5)]
    for name in tables:
        glue.create_table(DatabaseName=db, TableInput=_table_input(name))
    assert [t["Name"] for t in _paginate(glue, "get_tables", "TableList", DatabaseName=db)] == (
        tables
    )
    matched = _paginate(glue, "get_tables", "TableList", DatabaseName=db, Expression="t[1-3]")
    assert [t["Name"] for t in matched] == ["t1", "t2", "t3"]

    for i in range(2, 6):
        glue.update_table(DatabaseName=db, TableInput=_table_input("t0", Description=str(i)))
    versions = _paginate(
        glue, "get_table_versions", "TableVersions", DatabaseName=db, TableName="t0"
    )
    assert [v["VersionId"] for v in versions] == ["5", "4", "3", "2", "1"]

    days = [f"2024-01-{d:02d}" for d in range(1, 8)]
    errors = glue.batch_create_partition(
        DatabaseName=db,
        TableName="t0",
        PartitionInputList=[
            {
                "Values": [d],
                "StorageDescriptor": {
                    "Location": f"s3://lake/t0/dt={d}/",
                    "Columns": _columns("id", "bigint"),
                },
            }
            for d in days
        ],
    )["Errors"]
    assert errors == []
    parts = _paginate(glue, "get_partitions", "Partitions", DatabaseName=db, TableName="t0")
    assert [p["Values"] for p in parts] == [[d] for d in days]
    some = _paginate(
        glue,
        "get_partitions",
        "Partitions",
        DatabaseName=db,
        TableName="t0",
        Expression="dt BETWEEN '2024-01-02' AND '2024-01-04'",
    )
    assert [p["Values"] for p in some] == [[d] for d in days[1:4]]
    segments = [
        p["Values"]
        for n in range(3)
        for p in _paginate(
            glue,
            "get_partitions",
            "Partitions",
            DatabaseName=db,
            TableName="t0",
            Segment={"SegmentNumber": n, "TotalSegments": 3},
        )
    ]
    assert sorted(segments) == [[d] for d in days]
    got = glue.batch_get_partition(
        DatabaseName=db, TableName="t0", PartitionsToGet=[{"Values": [days[0]]}, {"Values": ["x"]}]
    )
    assert [p["Values"] for p in got["Partitions"]] == [[days[0]]]

    crawlers = [f"{unique}_c{i}" for i in range(3)]
    for name in crawlers:
        glue.create_crawler(
            Name=name,
            Role="r",
            DatabaseName=db,
            Targets={"S3Targets": [{"Path": "s3://lake/none/"}]},
        )
    listed = [c["Name"] for c in _paginate(glue, "get_crawlers", "Crawlers")]
    assert [n for n in listed if n.startswith(unique)] == crawlers
    names, token = [], None  # ListCrawlers has no boto3 paginator: follow NextToken by hand
    while True:
        page = glue.list_crawlers(MaxResults=2, **({"NextToken": token} if token else {}))
        names += page["CrawlerNames"]
        if not (token := page.get("NextToken")):
            break
    assert [n for n in names if n.startswith(unique)] == crawlers
    with pytest.raises(glue.exceptions.InvalidInputException):
        glue.get_databases(NextToken="forged")


def test_crawler_discovers_data_uploaded_through_s3(
    glue: Any, s3: Any, new_bucket: str, unique: str
) -> None:
    bucket = new_bucket
    for year in ("2023", "2024"):
        s3.put_object(Bucket=bucket, Key=f"sales/year={year}/part-0.csv", Body=SALES_CSV)
    name, db = f"{unique}_crawler", f"{unique}_db"
    glue.create_crawler(
        Name=name,
        Role="arn:aws:iam::123456789012:role/crawler",
        DatabaseName=db,
        Targets={"S3Targets": [{"Path": f"s3://{bucket}/sales/"}]},
    )
    glue.start_crawler(Name=name)
    crawler = _wait_ready(glue, name)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]
    tables = glue.get_tables(DatabaseName=db)["TableList"]
    assert [t["Name"] for t in tables] == ["sales"]
    sales = tables[0]
    assert sales["StorageDescriptor"]["Location"] == f"s3://{bucket}/sales/"
    assert sales["StorageDescriptor"]["Columns"] == _columns(
        "id", "bigint", "amount", "double", "note", "string"
    )
    assert sales["PartitionKeys"] == _columns("year", "string")
    assert sales["Parameters"]["classification"] == "csv"
    assert sales["Parameters"]["recordCount"] == "4"
    parts = glue.get_partitions(DatabaseName=db, TableName="sales")["Partitions"]
    assert [p["Values"] for p in parts] == [["2023"], ["2024"]]
    metrics = glue.get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"]
    assert metrics[0]["TablesCreated"] == 1
    with pytest.raises(glue.exceptions.CrawlerNotRunningException):
        glue.stop_crawler(Name=name)
    glue.delete_crawler(Name=name)


def test_crawler_schedule_operations(glue: Any, unique: str) -> None:
    name = f"{unique}_scheduled"
    glue.create_crawler(
        Name=name,
        Role="arn:aws:iam::123456789012:role/crawler",
        DatabaseName=f"{unique}_db",
        Targets={"S3Targets": [{"Path": "s3://nowhere/yet/"}]},
        Schedule="cron(15 3 * * ? *)",
    )

    def schedule_state() -> str:
        return str(glue.get_crawler(Name=name)["Crawler"]["Schedule"]["State"])

    assert schedule_state() == "SCHEDULED"
    glue.stop_crawler_schedule(CrawlerName=name)
    assert schedule_state() == "NOT_SCHEDULED"
    with pytest.raises(glue.exceptions.SchedulerNotRunningException):
        glue.stop_crawler_schedule(CrawlerName=name)
    glue.start_crawler_schedule(CrawlerName=name)
    with pytest.raises(glue.exceptions.SchedulerRunningException):
        glue.start_crawler_schedule(CrawlerName=name)
    glue.update_crawler_schedule(CrawlerName=name, Schedule="cron(0 4 * * ? *)")
    got = glue.get_crawler(Name=name)["Crawler"]["Schedule"]
    assert got == {"ScheduleExpression": "cron(0 4 * * ? *)", "State": "SCHEDULED"}
    glue.update_crawler_schedule(CrawlerName=name, Schedule="")
    assert "Schedule" not in glue.get_crawler(Name=name)["Crawler"]
    with pytest.raises(glue.exceptions.NoScheduleException):
        glue.start_crawler_schedule(CrawlerName=name)
    glue.delete_crawler(Name=name)


def test_unsupported_crawler_targets_are_refused(glue: Any, unique: str) -> None:
    with pytest.raises(glue.exceptions.InvalidInputException, match="JdbcTargets"):
        glue.create_crawler(
            Name=f"{unique}_jdbc",
            Role="r",
            DatabaseName="db",
            Targets={"JdbcTargets": [{"ConnectionName": "pg", "Path": "db/%"}]},
        )
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_crawler(Name=f"{unique}_jdbc")


def _wait_ready(glue: Any, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crawler: dict[str, Any] = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY" and "LastCrawl" in crawler:
            return crawler
        time.sleep(0.1)
    raise AssertionError(f"crawler {name} did not finish in {timeout}s")


def test_new_catalog_has_the_default_database(boto3_client: Callable[..., Any]) -> None:
    # As Glue's catalog does: tools that name no database look for `default`.
    found = boto3_client("glue").get_database(Name="default")["Database"]
    assert found["Name"] == "default"
