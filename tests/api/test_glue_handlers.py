"""Glue API handlers called directly, on a real Shoal in a temporary folder.

Requests are what boto3 would send after the protocol layer validated them;
expected answers are worked out by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import botocore.session
import pytest

import shoal
from shoal.api.context import Principal, RequestContext
from shoal.api.glue import OPERATIONS
from shoal.catalog.model import RUN_CANCELLED, RUN_SUCCEEDED, CrawlRun
from shoal.crawler.background import current_run, start_crawler, stop_crawler
from shoal.crawler.runner import run_crawler
from shoal.errors import (
    AlreadyExistsError,
    ConcurrentModificationError,
    CrawlerNotRunningError,
    CrawlerRunningError,
    CrawlerStoppingError,
    EntityNotFoundError,
    InvalidInputError,
    NoScheduleError,
    SchedulerNotRunningError,
    SchedulerRunningError,
)

from .shapes import assert_output_shape

ACCOUNT = "123456789012"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
Call = Callable[..., dict[str, Any]]


@pytest.fixture
def lake(tmp_path) -> Iterator[shoal.Shoal]:  # type: ignore[no-untyped-def]
    with shoal.open(data_dir=str(tmp_path)) as app:
        app.storage.create_bucket("lake")
        yield app


@pytest.fixture
def glue(lake: shoal.Shoal) -> Call:
    principal = Principal("admin", "AKIDEXAMPLE", f"arn:aws:iam::{ACCOUNT}:user/admin", ACCOUNT)
    ctx = RequestContext(lake, principal, "req-1")

    def call(operation: str, **params: Any) -> dict[str, Any]:
        answer = OPERATIONS[operation](ctx, params)
        assert_output_shape(GLUE_MODEL, operation, answer)
        return answer

    return call


GLUE_MODEL = botocore.session.get_session().get_service_model("glue")


def _columns(*pairs: str) -> list[dict[str, str]]:
    return [{"Name": n, "Type": t} for n, t in zip(pairs[::2], pairs[1::2], strict=True)]


def _sd(location: str, *pairs: str, **extra: Any) -> dict[str, Any]:
    return {"Columns": _columns(*pairs), "Location": location, **extra}


def _table_input(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "StorageDescriptor": _sd(f"s3://lake/{name}/", "id", "bigint"),
        "PartitionKeys": _columns("year", "int", "month", "string"),
        **extra,
    }


@pytest.fixture
def sales(glue: Call) -> Call:
    """Database ``db`` with table ``sales`` partitioned by (year int, month string)."""
    glue("CreateDatabase", DatabaseInput={"Name": "db"})
    glue("CreateTable", DatabaseName="db", TableInput=_table_input("sales"))
    return glue


def _part(year: str, month: str) -> dict[str, Any]:
    return {
        "Values": [year, month],
        "StorageDescriptor": _sd(f"s3://lake/sales/year={year}/month={month}/", "id", "bigint"),
        "Parameters": {"recordCount": "1"},
    }


def _all_pages(glue: Call, operation: str, key: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    token = None
    while True:
        page = glue(operation, **params, **({"NextToken": token} if token else {}))
        items += page[key]
        token = page.get("NextToken")
        if token is None:
            return items


# --- databases -----------------------------------------------------------------------------


def test_database_lifecycle(glue: Call) -> None:
    glue(
        "CreateDatabase",
        DatabaseInput={
            "Name": "Sales",
            "Description": "d",
            "LocationUri": "s3://lake/sales/",
            "Parameters": {"k": "v"},
        },
    )
    db = glue("GetDatabase", Name="sales")["Database"]
    assert isinstance(db.pop("CreateTime"), datetime)
    assert db == {
        "Name": "sales",
        "Description": "d",
        "LocationUri": "s3://lake/sales/",
        "Parameters": {"k": "v"},
        "CreateTableDefaultPermissions": [
            {
                "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                "Permissions": ["ALL"],
            }
        ],
        "CatalogId": ACCOUNT,
    }
    with pytest.raises(AlreadyExistsError):
        glue("CreateDatabase", DatabaseInput={"Name": "sales"})
    glue("UpdateDatabase", Name="sales", DatabaseInput={"Name": "sales", "Description": "e"})
    assert glue("GetDatabase", Name="sales")["Database"]["Description"] == "e"
    glue("DeleteDatabase", Name="sales")
    with pytest.raises(EntityNotFoundError):
        glue("GetDatabase", Name="sales")
    with pytest.raises(EntityNotFoundError):
        glue("DeleteDatabase", Name="sales")


def test_database_refusals(glue: Call) -> None:
    with pytest.raises(InvalidInputError, match="TargetDatabase"):
        glue("CreateDatabase", DatabaseInput={"Name": "x", "TargetDatabase": {"CatalogId": "1"}})
    with pytest.raises(InvalidInputError, match="Tags"):
        glue("CreateDatabase", DatabaseInput={"Name": "x"}, Tags={"a": "b"})
    with pytest.raises(EntityNotFoundError, match="catalog"):
        glue("GetDatabase", Name="x", CatalogId="999999999999")
    glue("CreateDatabase", DatabaseInput={"Name": "x"}, CatalogId=ACCOUNT)


def test_get_databases_pages_equal_full_list(glue: Call) -> None:
    names = [f"db{i:02d}" for i in range(7)]
    for name in reversed(names):
        glue("CreateDatabase", DatabaseInput={"Name": name})
    first = glue("GetDatabases", MaxResults=3)
    assert [d["Name"] for d in first["DatabaseList"]] == names[:3]
    paged = _all_pages(glue, "GetDatabases", "DatabaseList", MaxResults=3)
    assert [d["Name"] for d in paged] == [*names, "default"]  # every catalog has `default`
    assert "NextToken" not in glue("GetDatabases")
    assert glue("GetDatabases", ResourceShareType="FOREIGN")["DatabaseList"] == []
    assert glue("GetDatabases", AttributesToGet=["NAME"])["DatabaseList"][0] == {"Name": "db00"}


def test_page_tokens_are_checked(glue: Call) -> None:
    for i in range(3):
        glue("CreateDatabase", DatabaseInput={"Name": f"d{i}"})
    token = glue("GetDatabases", MaxResults=1)["NextToken"]
    with pytest.raises(InvalidInputError, match="NextToken"):
        glue("GetDatabases", NextToken="not-a-token")
    with pytest.raises(InvalidInputError, match="different request"):
        glue("GetTables", DatabaseName="d0", NextToken=token)
    with pytest.raises(InvalidInputError, match="different request"):
        glue("GetDatabases", NextToken=token, ResourceShareType="FOREIGN")
    # A page size may change between pages.
    rest = glue("GetDatabases", NextToken=token, MaxResults=5)
    assert [d["Name"] for d in rest["DatabaseList"]] == ["d1", "d2", "default"]


def test_pages_survive_changes_between_calls(glue: Call) -> None:
    for name in ("a", "c", "e"):
        glue("CreateDatabase", DatabaseInput={"Name": name})
    first = glue("GetDatabases", MaxResults=2)
    glue("DeleteDatabase", Name="c")  # the last item of the page vanishes
    glue("CreateDatabase", DatabaseInput={"Name": "b"})  # one appears before the cursor
    rest = glue("GetDatabases", MaxResults=2, NextToken=first["NextToken"])
    assert [d["Name"] for d in rest["DatabaseList"]] == ["default", "e"]


# --- tables --------------------------------------------------------------------------------


def test_table_round_trip(glue: Call) -> None:
    glue("CreateDatabase", DatabaseInput={"Name": "db"})
    sent = {
        "Name": "events",
        "Description": "all events",
        "Owner": "alice",
        "StorageDescriptor": {
            "Columns": [
                {"Name": "id", "Type": "bigint", "Comment": "key"},
                {"Name": "tags", "Type": "array<string>"},
                {"Name": "price", "Type": "decimal(10,2)"},
            ],
            "Location": "s3://lake/events/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "Compressed": True,
            "NumberOfBuckets": 8,
            "SerdeInfo": {
                "SerializationLibrary": PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
            "BucketColumns": ["id"],
            "SortColumns": [{"Column": "price", "SortOrder": 0}],
            "Parameters": {"p": "q"},
            "StoredAsSubDirectories": False,
        },
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet"},
    }
    glue("CreateTable", DatabaseName="db", TableInput=sent)
    got = glue("GetTable", DatabaseName="db", Name="events")["Table"]
    server = {k: got.pop(k) for k in ("CreateTime", "UpdateTime")}
    assert all(isinstance(v, datetime) for v in server.values())
    assert got == {
        **sent,
        "DatabaseName": "db",
        "Retention": 0,
        "IsRegisteredWithLakeFormation": False,
        "CatalogId": ACCOUNT,
        "VersionId": "1",
    }
    # What GetTable returns goes back as TableInput unchanged (awswrangler does this).
    table_input = {k: v for k, v in got.items() if k in sent or k == "Retention"}
    glue("UpdateTable", DatabaseName="db", TableInput=table_input, VersionId="1")
    assert glue("GetTable", DatabaseName="db", Name="events")["Table"]["VersionId"] == "2"


def test_view_round_trip(glue: Call) -> None:
    glue("CreateDatabase", DatabaseInput={"Name": "db"})
    view = {
        "Name": "v",
        "TableType": "VIRTUAL_VIEW",
        "ViewOriginalText": "/* Presto View: e30= */",
        "ViewExpandedText": "/* Presto View */",
        "StorageDescriptor": {"Columns": _columns("a", "int")},
    }
    glue("CreateTable", DatabaseName="db", TableInput=view)
    got = glue("GetTable", DatabaseName="db", Name="v")["Table"]
    assert got["TableType"] == "VIRTUAL_VIEW"
    assert got["ViewOriginalText"] == view["ViewOriginalText"]
    assert got["StorageDescriptor"]["Location"] == ""


@pytest.mark.parametrize(
    ("table_input", "message"),
    [
        ({"Name": "t", "StorageDescriptor": _sd("s3://l/t/", "a", "no_such_type")}, "type"),
        ({"Name": "t", "StorageDescriptor": _sd("s3://l/t/", "a", "int", "A", "int")}, "more than"),
        ({"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a"}]}}, "no Type"),
        (
            {
                "Name": "t",
                "StorageDescriptor": _sd(
                    "s3://l/", "a", "int", NumberOfBuckets=4, BucketColumns=["b"]
                ),
            },
            "'b' is not a column",
        ),
        (
            {
                "Name": "t",
                "StorageDescriptor": _sd("s3://l/", "a", "int", BucketColumns=["a"]),
            },
            "number of buckets",
        ),
        (
            {
                "Name": "t",
                "StorageDescriptor": _sd("s3://l/", SortColumns=[{"Column": "a", "SortOrder": 1}]),
            },
            "'a' is not a column",
        ),  # noqa: E501
        (
            {
                "Name": "t",
                "StorageDescriptor": _sd("s3://l/", SkewedInfo={"SkewedColumnNames": ["a"]}),
            },
            "SkewedInfo",
        ),  # noqa: E501
        ({"Name": "t", "TableType": "GOVERNED"}, "TableType"),
        (
            {
                "Name": "t",
                "StorageDescriptor": {
                    "Columns": [{"Name": "a", "Type": "int", "Parameters": {"x": "y"}}]
                },
            },
            "Parameters",
        ),  # noqa: E501
    ],
)
def test_create_table_refuses(glue: Call, table_input: dict[str, Any], message: str) -> None:
    glue("CreateDatabase", DatabaseInput={"Name": "db"})
    with pytest.raises(InvalidInputError, match=message):
        glue("CreateTable", DatabaseName="db", TableInput=table_input)
    assert glue("GetTables", DatabaseName="db")["TableList"] == []


def test_create_table_errors(sales: Call) -> None:
    with pytest.raises(AlreadyExistsError):
        sales("CreateTable", DatabaseName="db", TableInput=_table_input("sales"))
    with pytest.raises(EntityNotFoundError, match="nodb"):
        sales("CreateTable", DatabaseName="nodb", TableInput=_table_input("x"))
    with pytest.raises(InvalidInputError, match="TableInput"):
        sales("CreateTable", DatabaseName="db", Name="x")
    with pytest.raises(InvalidInputError, match="TransactionId"):
        sales("CreateTable", DatabaseName="db", TableInput=_table_input("y"), TransactionId="t")
    with pytest.raises(EntityNotFoundError):
        sales("GetTable", DatabaseName="db", Name="nope")


def test_get_tables_expression_and_pages(glue: Call) -> None:
    glue("CreateDatabase", DatabaseInput={"Name": "db"})
    names = [f"sales_{i}" for i in range(5)] + ["orders"]
    for name in names:
        glue("CreateTable", DatabaseName="db", TableInput=_table_input(name))
    matched = glue("GetTables", DatabaseName="db", Expression="sales_*")["TableList"]
    assert [t["Name"] for t in matched] == [f"sales_{i}" for i in range(5)]
    paged = _all_pages(glue, "GetTables", "TableList", DatabaseName="db", MaxResults=2)
    assert [t["Name"] for t in paged] == sorted(names)
    only = glue("GetTables", DatabaseName="db", Expression="orders", AttributesToGet=["NAME"])
    assert only["TableList"] == [{"Name": "orders"}]
    with pytest.raises(EntityNotFoundError):
        glue("GetTables", DatabaseName="nodb")


def test_update_table_optimistic_concurrency(sales: Call) -> None:
    changed = _table_input("sales", Description="v2")
    sales("UpdateTable", DatabaseName="db", TableInput=changed, VersionId="1")
    with pytest.raises(ConcurrentModificationError):
        sales("UpdateTable", DatabaseName="db", TableInput=changed, VersionId="1")
    with pytest.raises(InvalidInputError, match="VersionId"):
        sales("UpdateTable", DatabaseName="db", TableInput=changed, VersionId="abc")
    sales("UpdateTable", DatabaseName="db", TableInput=changed, SkipArchive=True)
    table = sales("GetTable", DatabaseName="db", Name="sales")["Table"]
    assert (table["VersionId"], table["Description"]) == ("3", "v2")
    with pytest.raises(EntityNotFoundError):
        sales("UpdateTable", DatabaseName="db", TableInput=_table_input("nope"))


def test_table_versions(sales: Call) -> None:
    for i in range(2, 6):
        sales(
            "UpdateTable", DatabaseName="db", TableInput=_table_input("sales", Description=str(i))
        )
    versions = _all_pages(
        sales,
        "GetTableVersions",
        "TableVersions",
        DatabaseName="db",
        TableName="sales",
        MaxResults=2,
    )
    assert [v["VersionId"] for v in versions] == ["5", "4", "3", "2", "1"]
    assert [v["Table"]["VersionId"] for v in versions] == ["5", "4", "3", "2", "1"]
    assert versions[1]["Table"]["Description"] == "4"
    one = sales("GetTableVersion", DatabaseName="db", TableName="sales", VersionId="2")
    assert one["TableVersion"]["Table"]["Description"] == "2"
    latest = sales("GetTableVersion", DatabaseName="db", TableName="sales")
    assert latest["TableVersion"]["VersionId"] == "5"
    with pytest.raises(EntityNotFoundError):
        sales("GetTableVersion", DatabaseName="db", TableName="sales", VersionId="9")


def test_delete_table_versions(sales: Call) -> None:
    # dbt-athena keeps the newest version of each table it builds and deletes the rest.
    for i in range(2, 5):
        sales(
            "UpdateTable", DatabaseName="db", TableInput=_table_input("sales", Description=str(i))
        )
    sales("DeleteTableVersion", DatabaseName="db", TableName="sales", VersionId="2")
    result = sales(
        "BatchDeleteTableVersion",
        DatabaseName="db",
        TableName="sales",
        VersionIds=["1", "2", "4", "x"],
    )
    failed = {e["VersionId"]: e["ErrorDetail"]["ErrorCode"] for e in result["Errors"]}
    assert failed == {
        "2": "EntityNotFoundException",  # already gone
        "4": "InvalidInputException",  # the current version is the table itself
        "x": "InvalidInputException",
    }
    versions = sales("GetTableVersions", DatabaseName="db", TableName="sales")["TableVersions"]
    assert [v["VersionId"] for v in versions] == ["4", "3"]
    assert sales("GetTable", DatabaseName="db", Name="sales")["Table"]["Description"] == "4"
    with pytest.raises(EntityNotFoundError):
        sales("DeleteTableVersion", DatabaseName="db", TableName="sales", VersionId="1")
    with pytest.raises(InvalidInputError, match="current version"):
        sales("DeleteTableVersion", DatabaseName="db", TableName="sales", VersionId="4")
    with pytest.raises(EntityNotFoundError):
        sales("BatchDeleteTableVersion", DatabaseName="db", TableName="nope", VersionIds=["1"])


def test_delete_tables(sales: Call) -> None:
    sales("CreateTable", DatabaseName="db", TableInput=_table_input("other"))
    result = sales("BatchDeleteTable", DatabaseName="db", TablesToDelete=["sales", "ghost"])
    assert [e["TableName"] for e in result["Errors"]] == ["ghost"]
    assert result["Errors"][0]["ErrorDetail"]["ErrorCode"] == "EntityNotFoundException"
    assert [t["Name"] for t in sales("GetTables", DatabaseName="db")["TableList"]] == ["other"]
    sales("DeleteTable", DatabaseName="db", Name="other")
    with pytest.raises(EntityNotFoundError):
        sales("DeleteTable", DatabaseName="db", Name="other")
    with pytest.raises(EntityNotFoundError):
        sales("BatchDeleteTable", DatabaseName="nodb", TablesToDelete=["x"])


# --- partitions ----------------------------------------------------------------------------


def test_partition_lifecycle(sales: Call) -> None:
    sales(
        "CreatePartition", DatabaseName="db", TableName="sales", PartitionInput=_part("2020", "01")
    )
    with pytest.raises(AlreadyExistsError):
        sales(
            "CreatePartition",
            DatabaseName="db",
            TableName="sales",
            PartitionInput=_part("2020", "01"),
        )
    got = sales(
        "GetPartition", DatabaseName="db", TableName="sales", PartitionValues=["2020", "01"]
    )
    partition = got["Partition"]
    assert isinstance(partition.pop("CreationTime"), datetime)
    assert partition["Values"] == ["2020", "01"]
    assert (partition["DatabaseName"], partition["TableName"]) == ("db", "sales")
    assert partition["StorageDescriptor"]["Location"] == "s3://lake/sales/year=2020/month=01/"
    assert partition["Parameters"] == {"recordCount": "1"}
    assert partition["CatalogId"] == ACCOUNT

    moved = _part("2020", "01") | {"Parameters": {"recordCount": "2"}}
    sales(
        "UpdatePartition",
        DatabaseName="db",
        TableName="sales",
        PartitionValueList=["2020", "01"],
        PartitionInput=moved,
    )
    got = sales(
        "GetPartition", DatabaseName="db", TableName="sales", PartitionValues=["2020", "01"]
    )
    assert got["Partition"]["Parameters"] == {"recordCount": "2"}
    # New values in PartitionInput move the partition.
    sales(
        "UpdatePartition",
        DatabaseName="db",
        TableName="sales",
        PartitionValueList=["2020", "01"],
        PartitionInput=_part("2020", "02"),
    )
    with pytest.raises(EntityNotFoundError):
        sales("GetPartition", DatabaseName="db", TableName="sales", PartitionValues=["2020", "01"])
    sales("DeletePartition", DatabaseName="db", TableName="sales", PartitionValues=["2020", "02"])
    with pytest.raises(EntityNotFoundError):
        sales(
            "DeletePartition", DatabaseName="db", TableName="sales", PartitionValues=["2020", "02"]
        )
    with pytest.raises(InvalidInputError, match="partition keys"):
        sales("GetPartition", DatabaseName="db", TableName="sales", PartitionValues=["2020"])


def test_batch_create_reports_each_failure(sales: Call) -> None:
    sales(
        "CreatePartition", DatabaseName="db", TableName="sales", PartitionInput=_part("2020", "01")
    )
    batch = [_part("2020", "01"), _part("2020", "02"), {"Values": ["2020"]}, _part("2021", "01")]
    result = sales(
        "BatchCreatePartition", DatabaseName="db", TableName="sales", PartitionInputList=batch
    )
    errors = {tuple(e["PartitionValues"]): e["ErrorDetail"]["ErrorCode"] for e in result["Errors"]}
    assert errors == {("2020", "01"): "AlreadyExistsException", ("2020",): "InvalidInputException"}
    listed = sales("GetPartitions", DatabaseName="db", TableName="sales")["Partitions"]
    assert [p["Values"] for p in listed] == [["2020", "01"], ["2020", "02"], ["2021", "01"]]
    ok = sales(
        "BatchCreatePartition",
        DatabaseName="db",
        TableName="sales",
        PartitionInputList=[_part("2022", "01")],
    )
    assert ok == {"Errors": []}
    with pytest.raises(EntityNotFoundError):
        sales("BatchCreatePartition", DatabaseName="db", TableName="nope", PartitionInputList=[])


def _make_partitions(glue: Call, years: range, months: int) -> list[list[str]]:
    inputs = [_part(str(y), f"{m:02d}") for y in years for m in range(1, months + 1)]
    for start in range(0, len(inputs), 100):
        glue(
            "BatchCreatePartition",
            DatabaseName="db",
            TableName="sales",
            PartitionInputList=inputs[start : start + 100],
        )
    return [p["Values"] for p in inputs]


def test_get_partitions_expression_order_and_pages(sales: Call) -> None:
    # year is an int key: 9 sorts before 10, as numbers do.
    expected = _make_partitions(sales, range(9, 12), 3)
    listed = _all_pages(
        sales, "GetPartitions", "Partitions", DatabaseName="db", TableName="sales", MaxResults=4
    )
    assert [p["Values"] for p in listed] == expected
    filtered = sales(
        "GetPartitions",
        DatabaseName="db",
        TableName="sales",
        Expression="year >= 10 AND month IN ('01', '03')",
    )["Partitions"]
    assert [p["Values"] for p in filtered] == [
        ["10", "01"],
        ["10", "03"],
        ["11", "01"],
        ["11", "03"],
    ]
    bare = sales(
        "GetPartitions",
        DatabaseName="db",
        TableName="sales",
        ExcludeColumnSchema=True,
        MaxResults=1,
    )
    assert "Columns" not in bare["Partitions"][0]["StorageDescriptor"]
    with pytest.raises(InvalidInputError):
        sales("GetPartitions", DatabaseName="db", TableName="sales", Expression="year >>> 1")


def test_get_partitions_segments_partition_the_set(sales: Call) -> None:
    expected = _make_partitions(sales, range(2000, 2010), 12)
    seen: list[list[str]] = []
    for number in range(4):
        segment = {"SegmentNumber": number, "TotalSegments": 4}
        part = _all_pages(
            sales,
            "GetPartitions",
            "Partitions",
            DatabaseName="db",
            TableName="sales",
            Segment=segment,
            MaxResults=7,
        )
        assert part, "120 partitions should reach every one of 4 segments"
        seen += [p["Values"] for p in part]
    assert len(seen) == len(expected) == 120
    assert sorted(map(tuple, seen)) == sorted(map(tuple, expected))
    # A token of one segment is no good for another.
    token = sales(
        "GetPartitions",
        DatabaseName="db",
        TableName="sales",
        MaxResults=1,
        Segment={"SegmentNumber": 0, "TotalSegments": 4},
    )["NextToken"]
    with pytest.raises(InvalidInputError):
        sales(
            "GetPartitions",
            DatabaseName="db",
            TableName="sales",
            NextToken=token,
            Segment={"SegmentNumber": 1, "TotalSegments": 4},
        )
    with pytest.raises(InvalidInputError, match="SegmentNumber"):
        sales(
            "GetPartitions",
            DatabaseName="db",
            TableName="sales",
            Segment={"SegmentNumber": 4, "TotalSegments": 4},
        )


def test_batch_get_and_delete_partitions(sales: Call) -> None:
    _make_partitions(sales, range(2020, 2022), 2)
    got = sales(
        "BatchGetPartition",
        DatabaseName="db",
        TableName="sales",
        PartitionsToGet=[
            {"Values": ["2020", "01"]},
            {"Values": ["1999", "01"]},
            {"Values": ["2021", "02"]},
        ],
    )
    assert [p["Values"] for p in got["Partitions"]] == [["2020", "01"], ["2021", "02"]]
    assert got["UnprocessedKeys"] == []
    result = sales(
        "BatchDeletePartition",
        DatabaseName="db",
        TableName="sales",
        PartitionsToDelete=[{"Values": ["2020", "01"]}, {"Values": ["1999", "01"]}],
    )
    assert [(e["PartitionValues"], e["ErrorDetail"]["ErrorCode"]) for e in result["Errors"]] == [
        (["1999", "01"], "EntityNotFoundException")
    ]
    left = sales("GetPartitions", DatabaseName="db", TableName="sales")["Partitions"]
    assert [p["Values"] for p in left] == [["2020", "02"], ["2021", "01"], ["2021", "02"]]


# --- crawlers ------------------------------------------------------------------------------

SALES_CSV = b"id,amount\n1,2.5\n2,3\n"


def _crawler(name: str = "nightly", **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Role": "arn:aws:iam::123456789012:role/crawler",
        "DatabaseName": "lakedb",
        "Targets": {"S3Targets": [{"Path": "s3://lake/sales/", "Exclusions": ["**/_SUCCESS"]}]},
        **extra,
    }


def _wait_ready(glue: Call, name: str) -> dict[str, Any]:
    for _ in range(500):
        crawler = glue("GetCrawler", Name=name)["Crawler"]
        if crawler["State"] == "READY":
            return crawler
        threading.Event().wait(0.01)
    raise AssertionError(f"crawler {name} still {crawler['State']}")


def test_crawler_definition_round_trip(glue: Call) -> None:
    glue(
        "CreateCrawler",
        **_crawler(
            Description="sales files",
            Schedule="cron(0 2 * * ? *)",
            TablePrefix="raw_",
            SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "DELETE_FROM_DATABASE"},
            RecrawlPolicy={"RecrawlBehavior": "CRAWL_EVERYTHING"},
            Configuration='{"Version": 1.0}',
        ),
    )
    crawler = glue("GetCrawler", Name="nightly")["Crawler"]
    assert isinstance(crawler.pop("CreationTime"), datetime)
    assert isinstance(crawler.pop("LastUpdated"), datetime)
    assert crawler == {
        "Name": "nightly",
        "Targets": {
            "S3Targets": [{"Path": "s3://lake/sales/", "Exclusions": ["**/_SUCCESS"]}],
            "JdbcTargets": [],
            "MongoDBTargets": [],
            "DynamoDBTargets": [],
            "CatalogTargets": [],
            "DeltaTargets": [],
            "IcebergTargets": [],
            "HudiTargets": [],
        },
        "DatabaseName": "lakedb",
        "Description": "sales files",
        "Role": "arn:aws:iam::123456789012:role/crawler",
        "Classifiers": [],
        "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
        "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "DELETE_FROM_DATABASE"},
        "LineageConfiguration": {"CrawlerLineageSettings": "DISABLE"},
        "State": "READY",
        "TablePrefix": "raw_",
        "Schedule": {"ScheduleExpression": "cron(0 2 * * ? *)", "State": "SCHEDULED"},
        "CrawlElapsedTime": 0,
        "Version": 1,
        "Configuration": '{"Version": 1.0}',
        "LakeFormationConfiguration": {"UseLakeFormationCredentials": False, "AccountId": ""},
    }
    with pytest.raises(AlreadyExistsError):
        glue("CreateCrawler", **_crawler())
    glue(
        "UpdateCrawler",
        Name="nightly",
        Description="",
        TablePrefix="t_",
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE"},
    )
    updated = glue("GetCrawler", Name="nightly")["Crawler"]
    assert "Description" not in updated and updated["TablePrefix"] == "t_"
    assert updated["SchemaChangePolicy"] == {
        "UpdateBehavior": "UPDATE_IN_DATABASE",
        "DeleteBehavior": "DELETE_FROM_DATABASE",
    }
    assert updated["Version"] == 2 and updated["Schedule"]["ScheduleExpression"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"Targets": {"JdbcTargets": [{"ConnectionName": "c", "Path": "db/%"}]}}, "JdbcTargets"),
        ({"Targets": {"S3Targets": []}}, "at least one"),
        ({"Targets": {"S3Targets": [{"Path": "/local/folder"}]}}, "s3://"),
        ({"Targets": {"S3Targets": [{"Path": "s3://lake/", "ConnectionName": "c"}]}}, "Connection"),
        ({"Targets": {"S3Targets": [{"Path": "s3://lake/", "SampleSize": 500}]}}, "SampleSize"),
        ({"Classifiers": ["mine"]}, "Classifiers"),
        ({"LineageConfiguration": {"CrawlerLineageSettings": "ENABLE"}}, "lineage"),
        ({"LakeFormationConfiguration": {"UseLakeFormationCredentials": True}}, "LakeFormation"),
        ({"Schedule": "cron(bad)"}, "schedule"),
        ({"Configuration": "[1]"}, "JSON object"),
        ({"RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVENT_MODE"}}, "recrawl"),
        ({"DatabaseName": ""}, "DatabaseName"),
    ],
)
def test_create_crawler_refuses(glue: Call, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        glue("CreateCrawler", **_crawler(**extra))
    assert glue("ListCrawlers")["CrawlerNames"] == []


def test_crawler_listings(glue: Call) -> None:
    names = [f"c{i}" for i in range(5)]
    for name in names:
        glue("CreateCrawler", **_crawler(name))
    listed = _all_pages(glue, "ListCrawlers", "CrawlerNames", MaxResults=2)
    assert listed == names
    crawlers = _all_pages(glue, "GetCrawlers", "Crawlers", MaxResults=3)
    assert [c["Name"] for c in crawlers] == names
    assert glue("ListCrawlers", Tags={"team": "a"})["CrawlerNames"] == []
    metrics = glue("GetCrawlerMetrics", CrawlerNameList=["c1", "ghost"])["CrawlerMetricsList"]
    assert metrics == [
        {
            "CrawlerName": "c1",
            "TimeLeftSeconds": 0.0,
            "StillEstimating": False,
            "LastRuntimeSeconds": 0.0,
            "MedianRuntimeSeconds": 0.0,
            "TablesCreated": 0,
            "TablesUpdated": 0,
            "TablesDeleted": 0,
        }
    ]
    glue("DeleteCrawler", Name="c0")
    with pytest.raises(EntityNotFoundError):
        glue("GetCrawler", Name="c0")
    with pytest.raises(EntityNotFoundError):
        glue("DeleteCrawler", Name="c0")


def test_start_crawler_discovers_data(lake: shoal.Shoal, glue: Call) -> None:
    lake.storage.put("lake", "sales/year=2020/part-0.csv", SALES_CSV)
    lake.storage.put("lake", "sales/year=2021/part-0.csv", SALES_CSV)
    glue("CreateCrawler", **_crawler())
    glue("StartCrawler", Name="nightly")
    crawler = _wait_ready(glue, "nightly")
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert crawler["LastCrawl"]["MessagePrefix"]
    table = glue("GetTable", DatabaseName="lakedb", Name="sales")["Table"]
    assert table["StorageDescriptor"]["Columns"] == _columns("id", "bigint", "amount", "double")
    assert table["PartitionKeys"] == _columns("year", "string")
    assert table["Parameters"]["UPDATED_BY_CRAWLER"] == "nightly"
    parts = glue("GetPartitions", DatabaseName="lakedb", TableName="sales")["Partitions"]
    assert [p["Values"] for p in parts] == [["2020"], ["2021"]]
    metrics = glue("GetCrawlerMetrics")["CrawlerMetricsList"][0]
    assert (metrics["TablesCreated"], metrics["TablesUpdated"]) == (1, 0)
    assert metrics["LastRuntimeSeconds"] > 0 and metrics["MedianRuntimeSeconds"] > 0
    with pytest.raises(CrawlerNotRunningError):
        glue("StopCrawler", Name="nightly")
    with pytest.raises(EntityNotFoundError):
        glue("StartCrawler", Name="ghost")


def test_running_crawler_refuses_changes(lake: shoal.Shoal, glue: Call) -> None:
    glue("CreateCrawler", **_crawler())
    lake.catalog.set_crawler_state("nightly", "READY", "RUNNING")  # as a run would
    with pytest.raises(CrawlerRunningError):
        glue("StartCrawler", Name="nightly")
    with pytest.raises(CrawlerRunningError):
        glue("DeleteCrawler", Name="nightly")
    with pytest.raises(CrawlerRunningError):
        glue("UpdateCrawler", Name="nightly", TablePrefix="x_")
    glue("StopCrawler", Name="nightly")
    assert glue("GetCrawler", Name="nightly")["Crawler"]["State"] == "STOPPING"
    with pytest.raises(CrawlerStoppingError):
        glue("StopCrawler", Name="nightly")


def test_crawler_schedule_pause_resume_and_update(lake: shoal.Shoal, glue: Call) -> None:
    glue("CreateCrawler", **_crawler())  # no schedule yet

    def schedule() -> dict[str, Any] | None:
        found: dict[str, Any] | None = glue("GetCrawler", Name="nightly")["Crawler"].get("Schedule")
        return found

    with pytest.raises(NoScheduleError):
        glue("StartCrawlerSchedule", CrawlerName="nightly")
    with pytest.raises(SchedulerNotRunningError):
        glue("StopCrawlerSchedule", CrawlerName="nightly")
    with pytest.raises(InvalidInputError):
        glue("UpdateCrawlerSchedule", CrawlerName="nightly", Schedule="every night")
    assert schedule() is None

    glue("UpdateCrawlerSchedule", CrawlerName="nightly", Schedule="cron(0 2 * * ? *)")
    assert schedule() == {"ScheduleExpression": "cron(0 2 * * ? *)", "State": "SCHEDULED"}
    with pytest.raises(SchedulerRunningError):
        glue("StartCrawlerSchedule", CrawlerName="nightly")
    lake.catalog.set_crawler_state("nightly", "READY", "RUNNING")  # a run is no obstacle
    glue("StopCrawlerSchedule", CrawlerName="nightly")
    assert schedule() == {"ScheduleExpression": "cron(0 2 * * ? *)", "State": "NOT_SCHEDULED"}
    with pytest.raises(SchedulerNotRunningError):
        glue("StopCrawlerSchedule", CrawlerName="nightly")
    glue("UpdateCrawlerSchedule", CrawlerName="nightly", Schedule="0 3 * * *")  # stays paused
    assert schedule() == {"ScheduleExpression": "0 3 * * *", "State": "NOT_SCHEDULED"}
    glue("StartCrawlerSchedule", CrawlerName="nightly")
    assert schedule() == {"ScheduleExpression": "0 3 * * *", "State": "SCHEDULED"}
    glue("UpdateCrawlerSchedule", CrawlerName="nightly", Schedule="")
    assert schedule() is None
    assert lake.catalog.get_crawler("nightly").state == "RUNNING"  # the run went on
    with pytest.raises(EntityNotFoundError):
        glue("StopCrawlerSchedule", CrawlerName="nowhere")


def test_stopped_run_is_cancelled_and_changes_nothing(lake: shoal.Shoal, glue: Call) -> None:
    lake.storage.put("lake", "sales/a.csv", SALES_CSV)
    glue("CreateCrawler", **_crawler())
    crawler = lake.catalog.get_crawler("nightly")
    run = run_crawler(lake.catalog, lake.storage, crawler, stop=lambda: True)
    assert run.state == RUN_CANCELLED
    got = glue("GetCrawler", Name="nightly")["Crawler"]
    assert (got["State"], got["LastCrawl"]["Status"]) == ("READY", "CANCELLED")
    with pytest.raises(EntityNotFoundError):
        glue("GetDatabase", Name="lakedb")


def test_background_stop_reaches_the_run(lake: shoal.Shoal, glue: Call) -> None:
    """A stop request lands while the run is listing its first target."""
    for i in range(3):
        lake.storage.put("lake", f"sales/t{i}/a.csv", SALES_CSV)
    targets = [{"Path": f"s3://lake/sales/t{i}/"} for i in range(3)]
    glue("CreateCrawler", **_crawler(Targets={"S3Targets": targets}))
    listing = threading.Event()
    release = threading.Event()
    original = lake.storage.walk

    def slow_walk(*args: Any, **kwargs: Any) -> Any:
        listing.set()
        release.wait(5)
        return original(*args, **kwargs)

    lake.storage.walk = slow_walk  # type: ignore[method-assign]
    thread = start_crawler(lake.catalog, lake.storage, "nightly")
    assert listing.wait(5)
    running = glue("GetCrawler", Name="nightly")["Crawler"]
    assert running["State"] == "RUNNING" and "LastCrawl" not in running
    assert current_run(lake.catalog, "nightly") is not None
    assert glue("GetCrawlerMetrics")["CrawlerMetricsList"][0]["StillEstimating"] is True
    stop_crawler(lake.catalog, "nightly")
    release.set()
    thread.join(10)
    runs: list[CrawlRun] = lake.catalog.list_runs("nightly")
    assert [r.state for r in runs] == [RUN_CANCELLED]
    assert glue("GetCrawler", Name="nightly")["Crawler"]["State"] == "READY"
    with pytest.raises(EntityNotFoundError):  # cancelled before it created anything
        glue("GetDatabase", Name="lakedb")
    # A new start after a cancelled run works.
    lake.storage.walk = original  # type: ignore[method-assign]
    glue("StartCrawler", Name="nightly")
    assert _wait_ready(glue, "nightly")["LastCrawl"]["Status"] == RUN_SUCCEEDED
    tables = glue("GetTables", DatabaseName="lakedb")["TableList"]
    assert [t["Name"] for t in tables] == ["t0", "t1", "t2"]
