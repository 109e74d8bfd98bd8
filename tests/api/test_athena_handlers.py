"""Athena API handlers called directly, on a real Shoal holding the crawled sample lake.

Requests are what boto3 would send after the protocol layer validated them; every
answer is checked, as it goes on the wire, against botocore's output shape.
Expected values are worked out by hand or read with pyarrow from the sample files.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import botocore.session
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

import shoal
from shoal.api.athena import OPERATIONS
from shoal.api.context import Principal, RequestContext
from shoal.crawler import crawl_path
from shoal.errors import InvalidRequestError, MetadataError, ResourceNotFoundError
from shoal.samples import write_sample_data
from shoal.storage.base import parse_uri

from .shapes import assert_output_shape

ACCOUNT = "123456789012"
Call = Callable[..., dict[str, Any]]
ATHENA_MODEL = botocore.session.get_session().get_service_model("athena")
# 10^12 joined rows: far more work than any test waits for, interruptible at any point.
# (sequence() is capped at 10,000 entries, as in Trino.)
LONG_QUERY = (
    "SELECT count(*) FROM UNNEST(sequence(1, 10000)) AS a(x) "
    "CROSS JOIN UNNEST(sequence(1, 10000)) AS b(y) "
    "CROSS JOIN UNNEST(sequence(1, 10000)) AS c(z) WHERE x + y + z > 7"
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[shoal.Shoal]:
    with shoal.open(data_dir=str(tmp_path_factory.mktemp("athena"))) as app:
        write_sample_data(app.storage)
        crawl_path(app.catalog, app.storage, "s3://samples/", "sample")
        app.storage.create_bucket("results")
        yield app


@pytest.fixture(scope="module")
def athena(lake: shoal.Shoal) -> Call:
    principal = Principal("alice", "AKIDEXAMPLE", f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT)
    ctx = RequestContext(lake, principal, "req-1")

    def call(operation: str, **params: Any) -> dict[str, Any]:
        answer = OPERATIONS[operation](ctx, params)
        assert_output_shape(ATHENA_MODEL, operation, answer)
        return answer

    return call


def _run(athena: Call, lake: shoal.Shoal, sql: str, **params: Any) -> dict[str, Any]:
    """Start ``sql`` in database ``sample``, wait for it, return its QueryExecution."""
    params.setdefault("QueryExecutionContext", {"Database": "sample"})
    query_id = athena("StartQueryExecution", QueryString=sql, **params)["QueryExecutionId"]
    lake.queries.wait(query_id, timeout=30)
    execution: dict[str, Any] = athena("GetQueryExecution", QueryExecutionId=query_id)[
        "QueryExecution"
    ]
    return execution


def _rows(answer: dict[str, Any]) -> list[tuple[str | None, ...]]:
    return [tuple(d.get("VarCharValue") for d in r["Data"]) for r in answer["ResultSet"]["Rows"]]


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# --- query executions ------------------------------------------------------------------------


def test_select_execution_and_results(athena: Call, lake: shoal.Shoal) -> None:
    sql = "SELECT 1 AS one, CAST(NULL AS varchar) AS nothing, CAST(2.50 AS decimal(5,2)) AS d"
    execution = _run(athena, lake, sql)
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["StatementType"] == "DML" and execution["SubstatementType"] == "SELECT"
    query_id = execution["QueryExecutionId"]
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location.endswith(f"/{query_id}.csv")
    assert execution["QueryExecutionContext"] == {"Database": "sample", "Catalog": "AwsDataCatalog"}
    assert execution["WorkGroup"] == "primary"
    assert execution["EngineVersion"]["EffectiveEngineVersion"] == "Athena engine version 3"
    stats = execution["Statistics"]
    assert stats["TotalExecutionTimeInMillis"] >= stats["EngineExecutionTimeInMillis"] >= 0
    assert stats["ResultReuseInformation"] == {"ReusedPreviousResult": False}
    assert "CompletionDateTime" in {k for k, v in execution["Status"].items() if v is not None}

    answer = athena("GetQueryResults", QueryExecutionId=query_id)
    assert _rows(answer) == [("one", "nothing", "d"), ("1", None, "2.50")]
    assert answer["ResultSet"]["Rows"][1]["Data"][1] == {}  # NULL: a Datum without a value
    columns = answer["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"], c["Precision"], c["Scale"]) for c in columns] == [
        ("one", "integer", 10, 0),
        ("nothing", "varchar", 2147483647, 0),
        ("d", "decimal", 5, 2),
    ]
    assert all(c["Nullable"] == "UNKNOWN" and c["CatalogName"] == "hive" for c in columns)
    assert "NextToken" not in answer

    bucket, key = parse_uri(location)
    text = lake.storage.read(bucket, key).decode()
    assert text == '"one","nothing","d"\n"1",,"2.50"\n'


def test_results_page_through_trips(athena: Call, lake: shoal.Shoal) -> None:
    sql = "SELECT trip_distance FROM trips WHERE month = '01' ORDER BY trip_distance, fare_amount"
    execution = _run(athena, lake, sql)
    query_id = execution["QueryExecutionId"]
    rows: list[tuple[str | None, ...]] = []
    token = None
    pages = 0
    while True:
        extra = {"NextToken": token} if token else {}
        answer = athena("GetQueryResults", QueryExecutionId=query_id, MaxResults=700, **extra)
        rows.extend(_rows(answer))
        pages += 1
        token = answer.get("NextToken")
        if token is None:
            break
    assert pages == 3 and rows[0] == ("trip_distance",)
    trips = ds.dataset(lake.config.lake_path / "samples/trips/year=2024/month=01").to_table()
    expected = sorted(
        zip(trips["trip_distance"].to_pylist(), trips["fare_amount"].to_pylist(), strict=True)
    )
    assert [float(r[0] or "nan") for r in rows[1:]] == [d for d, _ in expected]

    other = _run(athena, lake, "SELECT 1")["QueryExecutionId"]
    first = athena("GetQueryResults", QueryExecutionId=query_id, MaxResults=10)
    with pytest.raises(InvalidRequestError, match="NextToken"):
        athena("GetQueryResults", QueryExecutionId=other, NextToken=first["NextToken"])


def test_unknown_execution_ids_are_invalid_requests(athena: Call) -> None:
    missing = str(uuid.uuid4())
    for operation in ("GetQueryExecution", "GetQueryResults", "StopQueryExecution"):
        with pytest.raises(InvalidRequestError, match=f"QueryExecution {missing} was not found"):
            athena(operation, QueryExecutionId=missing)


def test_stop_running_query_and_results_before_finish(athena: Call, lake: shoal.Shoal) -> None:
    query_id = athena("StartQueryExecution", QueryString=LONG_QUERY)["QueryExecutionId"]
    with pytest.raises(InvalidRequestError, match="Query has not yet finished. Current state: "):
        athena("GetQueryResults", QueryExecutionId=query_id)
    athena("StopQueryExecution", QueryExecutionId=query_id)
    done = lake.queries.wait(query_id, timeout=20)
    assert done.state == "CANCELLED"
    status = athena("GetQueryExecution", QueryExecutionId=query_id)["QueryExecution"]["Status"]
    assert status["State"] == "CANCELLED" and status["StateChangeReason"]


def test_failed_query_reports_athena_error(athena: Call, lake: shoal.Shoal) -> None:
    execution = _run(athena, lake, "SELECT no_such_column FROM trips")
    status = execution["Status"]
    assert status["State"] == "FAILED"
    error = status["AthenaError"]
    assert error["ErrorCategory"] == 2 and error["Retryable"] is False
    assert "no_such_column" in error["ErrorMessage"]
    with pytest.raises(InvalidRequestError, match="no_such_column"):
        athena("GetQueryResults", QueryExecutionId=execution["QueryExecutionId"])


def test_ddl_writes_txt_and_ctas_a_manifest(athena: Call, lake: shoal.Shoal) -> None:
    show = _run(athena, lake, "SHOW TABLES")
    assert show["StatementType"] == "UTILITY"
    assert show["ResultConfiguration"]["OutputLocation"].endswith(".txt")
    names = [
        r[0] for r in _rows(athena("GetQueryResults", QueryExecutionId=show["QueryExecutionId"]))
    ]
    assert names[0] != "tab_name"  # no header row for DDL
    assert {"cloudtrail", "payment_types", "trips", "zones"} <= set(names)

    table = _unique("ctas")
    ctas = _run(
        athena,
        lake,
        f"CREATE TABLE {table} WITH (format='PARQUET', external_location='s3://results/{table}/')"
        " AS SELECT payment_type, count(*) AS n FROM trips GROUP BY payment_type",
    )
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas["Status"]
    manifest = ctas["Statistics"]["DataManifestLocation"]
    listed = lake.storage.read(*parse_uri(manifest)).decode().split()
    assert listed and all(uri.startswith(f"s3://results/{table}/") for uri in listed)
    answer = athena("GetQueryResults", QueryExecutionId=ctas["QueryExecutionId"])
    assert answer["UpdateCount"] == 4  # four payment types in the sample trips


def test_start_options(athena: Call, lake: shoal.Shoal) -> None:
    token = uuid.uuid4().hex
    first = athena("StartQueryExecution", QueryString="SELECT 7", ClientRequestToken=token)
    again = athena("StartQueryExecution", QueryString="SELECT 7", ClientRequestToken=token)
    assert first == again
    with pytest.raises(InvalidRequestError) as caught:
        athena("StartQueryExecution", QueryString="SELECT 8", ClientRequestToken=token)
    assert caught.value.code == "InvalidRequestException"  # Athena's code, not another's

    bound = _run(athena, lake, "SELECT ? + 1, ?", ExecutionParameters=["41", "'x'"])
    assert bound["ExecutionParameters"] == ["41", "'x'"]
    rows = _rows(athena("GetQueryResults", QueryExecutionId=bound["QueryExecutionId"]))
    assert rows[1] == ("42", "x")

    reuse = {"ResultReuseByAgeConfiguration": {"Enabled": True}}
    reused = _run(athena, lake, "SELECT 7", ResultReuseConfiguration=reuse)
    assert reused["ResultReuseConfiguration"] == {
        "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}
    }
    placed = _run(
        athena,
        lake,
        "SELECT 1",
        ResultConfiguration={
            "OutputLocation": "s3://results/here/",
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            "ExpectedBucketOwner": ACCOUNT,
            "AclConfiguration": {"S3AclOption": "BUCKET_OWNER_FULL_CONTROL"},
        },
    )
    assert placed["ResultConfiguration"]["OutputLocation"] == (
        f"s3://results/here/{placed['QueryExecutionId']}.csv"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"WorkGroup": "nowhere"}, "WorkGroup nowhere is not found"),
        (
            {"ResultConfiguration": {"EncryptionConfiguration": {"EncryptionOption": "SSE_KMS"}}},
            "SSE_KMS is not supported",
        ),
        ({"ResultConfiguration": {"ExpectedBucketOwner": "999999999999"}}, "ExpectedBucketOwner"),
        ({"QueryExecutionContext": {"Catalog": "other"}}, "Catalog other was not found"),
        ({"EngineConfiguration": {"MaxConcurrentDpus": 4}}, "EngineConfiguration is not supported"),
        ({"ExecutionParameters": ["now()"]}, "not a literal"),
    ],
)
def test_start_refusals(athena: Call, params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        athena("StartQueryExecution", QueryString="SELECT ?", **params)


def test_batch_get_and_list_newest_first(athena: Call, lake: shoal.Shoal) -> None:
    group = _unique("wg")
    athena("CreateWorkGroup", Name=group, Configuration={"ResultConfiguration": {
        "OutputLocation": f"s3://results/{group}/"}})  # fmt: skip
    ids = [_run(athena, lake, f"SELECT {i}", WorkGroup=group)["QueryExecutionId"] for i in range(5)]
    listed: list[str] = []
    params: dict[str, Any] = {"WorkGroup": group, "MaxResults": 2}
    while True:
        page = athena("ListQueryExecutions", **params)
        listed.extend(page["QueryExecutionIds"])
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    assert listed == ids[::-1]
    with pytest.raises(InvalidRequestError, match="NextToken"):
        athena("ListQueryExecutions", NextToken=athena(
            "ListQueryExecutions", WorkGroup=group, MaxResults=1)["NextToken"])  # fmt: skip

    missing = str(uuid.uuid4())
    answer = athena("BatchGetQueryExecution", QueryExecutionIds=[ids[0], missing])
    assert [e["QueryExecutionId"] for e in answer["QueryExecutions"]] == [ids[0]]
    assert answer["UnprocessedQueryExecutionIds"] == [
        {
            "QueryExecutionId": missing,
            "ErrorCode": "InvalidRequestException",
            "ErrorMessage": f"QueryExecution {missing} was not found",
        }
    ]


# --- work groups -----------------------------------------------------------------------------


def test_work_group_lifecycle(athena: Call, lake: shoal.Shoal) -> None:
    name = _unique("wg")
    athena("CreateWorkGroup", Name=name, Description="team", Configuration={
        "ResultConfiguration": {"OutputLocation": "s3://results/team/"},
        "BytesScannedCutoffPerQuery": 20_000_000})  # fmt: skip
    group = athena("GetWorkGroup", WorkGroup=name)["WorkGroup"]
    config = group["Configuration"]
    assert group["State"] == "ENABLED" and group["Description"] == "team"
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"] == {"OutputLocation": "s3://results/team/"}
    assert config["BytesScannedCutoffPerQuery"] == 20_000_000
    assert config["EngineVersion"]["EffectiveEngineVersion"] == "Athena engine version 3"

    athena("UpdateWorkGroup", WorkGroup=name, State="DISABLED", ConfigurationUpdates={
        "RemoveBytesScannedCutoffPerQuery": True, "EnforceWorkGroupConfiguration": False,
        "ResultConfigurationUpdates": {"RemoveOutputLocation": True}})  # fmt: skip
    config = athena("GetWorkGroup", WorkGroup=name)["WorkGroup"]["Configuration"]
    assert config["EnforceWorkGroupConfiguration"] is False
    assert config["BytesScannedCutoffPerQuery"] is None  # dropped on the wire
    assert config["ResultConfiguration"] == {}
    with pytest.raises(InvalidRequestError, match="disabled"):
        athena("StartQueryExecution", QueryString="SELECT 1", WorkGroup=name)

    summaries = athena("ListWorkGroups")["WorkGroups"]
    assert {"primary", name} <= {s["Name"] for s in summaries}
    primary = athena("GetWorkGroup", WorkGroup="primary")["WorkGroup"]["Configuration"]
    assert "EnforceWorkGroupConfiguration" in primary and primary["ResultConfiguration"]
    athena("DeleteWorkGroup", WorkGroup=name)
    with pytest.raises(InvalidRequestError, match="not found"):
        athena("GetWorkGroup", WorkGroup=name)


def test_work_group_refusals_and_pages(athena: Call) -> None:
    with pytest.raises(InvalidRequestError, match="ExecutionRole is not supported"):
        athena("CreateWorkGroup", Name=_unique("wg"), Configuration={
            "ExecutionRole": "arn:aws:iam::123456789012:role/x"})  # fmt: skip
    with pytest.raises(InvalidRequestError, match="already exists"):
        athena("CreateWorkGroup", Name="primary")
    with pytest.raises(InvalidRequestError, match="cannot be deleted"):
        athena("DeleteWorkGroup", WorkGroup="primary")
    names = sorted(_unique("page") for _ in range(3))
    for name in names:
        athena("CreateWorkGroup", Name=name)
    listed: list[str] = []
    params: dict[str, Any] = {"MaxResults": 2}
    while True:
        page = athena("ListWorkGroups", **params)
        listed.extend(s["Name"] for s in page["WorkGroups"])
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    assert listed == sorted(listed) and set(names) <= set(listed)
    with pytest.raises(InvalidRequestError, match="NextToken"):
        athena("ListWorkGroups", NextToken="garbage")


# --- named queries and prepared statements ---------------------------------------------------


def test_named_queries(athena: Call) -> None:
    group = _unique("wg")
    athena("CreateWorkGroup", Name=group)
    ids = [
        athena(
            "CreateNamedQuery",
            Name=f"q{i}",
            Database="sample",
            QueryString=f"SELECT {i}",
            WorkGroup=group,
        )["NamedQueryId"]  # fmt: skip
        for i in range(3)
    ]
    query = athena("GetNamedQuery", NamedQueryId=ids[0])["NamedQuery"]
    assert query == {
        "Name": "q0",
        "Description": None,
        "Database": "sample",
        "QueryString": "SELECT 0",
        "NamedQueryId": ids[0],
        "WorkGroup": group,
    }
    first = athena("ListNamedQueries", WorkGroup=group, MaxResults=2)
    rest = athena("ListNamedQueries", WorkGroup=group, NextToken=first["NextToken"])
    assert sorted(first["NamedQueryIds"] + rest["NamedQueryIds"]) == sorted(ids)
    athena("UpdateNamedQuery", NamedQueryId=ids[1], Name="renamed", QueryString="SELECT 10")
    missing = str(uuid.uuid4())
    batch = athena("BatchGetNamedQuery", NamedQueryIds=[ids[1], missing])
    assert [(q["Name"], q["QueryString"]) for q in batch["NamedQueries"]] == [
        ("renamed", "SELECT 10")
    ]
    assert batch["UnprocessedNamedQueryIds"][0]["NamedQueryId"] == missing
    athena("DeleteNamedQuery", NamedQueryId=ids[2])
    with pytest.raises(InvalidRequestError, match="was not found"):
        athena("GetNamedQuery", NamedQueryId=ids[2])
    with pytest.raises(InvalidRequestError, match="in use|named queries"):
        athena("DeleteWorkGroup", WorkGroup=group)
    athena("DeleteWorkGroup", WorkGroup=group, RecursiveDeleteOption=True)


def test_prepared_statements(athena: Call, lake: shoal.Shoal) -> None:
    group = _unique("wg")
    athena("CreateWorkGroup", Name=group, Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://results/{group}/"}})  # fmt: skip
    sql = "SELECT count(*) FROM trips WHERE payment_type = ?"
    athena("CreatePreparedStatement", StatementName="by_type", WorkGroup=group, QueryStatement=sql)
    with pytest.raises(InvalidRequestError, match="already exists"):
        athena("CreatePreparedStatement", StatementName="by_type", WorkGroup=group,
               QueryStatement=sql)  # fmt: skip
    got = athena("GetPreparedStatement", StatementName="by_type", WorkGroup=group)
    assert got["PreparedStatement"]["QueryStatement"] == sql
    assert got["PreparedStatement"]["WorkGroupName"] == group

    execution = _run(athena, lake, "EXECUTE by_type USING 2", WorkGroup=group)
    count = _rows(athena("GetQueryResults", QueryExecutionId=execution["QueryExecutionId"]))[1][0]
    trips = ds.dataset(lake.config.lake_path / "samples/trips").to_table()
    assert int(count or 0) == pc.sum(pc.equal(trips["payment_type"], 2)).as_py()

    athena("UpdatePreparedStatement", StatementName="by_type", WorkGroup=group,
           QueryStatement="SELECT 1", Description="now trivial")  # fmt: skip
    batch = athena("BatchGetPreparedStatement", WorkGroup=group,
                   PreparedStatementNames=["by_type", "nope_1"])  # fmt: skip
    assert [s["Description"] for s in batch["PreparedStatements"]] == ["now trivial"]
    assert batch["UnprocessedPreparedStatementNames"][0]["StatementName"] == "nope_1"
    listed = athena("ListPreparedStatements", WorkGroup=group)["PreparedStatements"]
    assert [s["StatementName"] for s in listed] == ["by_type"]
    athena("DeletePreparedStatement", StatementName="by_type", WorkGroup=group)
    with pytest.raises(ResourceNotFoundError):
        athena("GetPreparedStatement", StatementName="by_type", WorkGroup=group)


# --- data catalogs and metadata --------------------------------------------------------------


def test_data_catalogs(athena: Call) -> None:
    assert athena("ListDataCatalogs")["DataCatalogsSummary"] == [
        {"CatalogName": "AwsDataCatalog", "Type": "GLUE"}
    ]
    catalog = athena("GetDataCatalog", Name="AwsDataCatalog")["DataCatalog"]
    assert catalog["Type"] == "GLUE" and catalog["Parameters"] == {"catalog-id": ACCOUNT}
    with pytest.raises(InvalidRequestError, match="Catalog hive was not found"):
        athena("GetDataCatalog", Name="hive")


def test_databases_and_table_metadata(athena: Call, lake: shoal.Shoal) -> None:
    names = [
        d["Name"] for d in athena("ListDatabases", CatalogName="AwsDataCatalog")["DatabaseList"]
    ]
    assert "sample" in names
    assert (
        athena("GetDatabase", CatalogName="AwsDataCatalog", DatabaseName="sample")["Database"][
            "Name"
        ]
        == "sample"
    )
    with pytest.raises(MetadataError):
        athena("GetDatabase", CatalogName="AwsDataCatalog", DatabaseName="nope")
    with pytest.raises(MetadataError):
        athena("ListDatabases", CatalogName="elsewhere")

    table = athena("GetTableMetadata", CatalogName="AwsDataCatalog", DatabaseName="sample",
                   TableName="trips")["TableMetadata"]  # fmt: skip
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["PartitionKeys"] == [
        {"Name": "year", "Type": "string", "Comment": None},
        {"Name": "month", "Type": "string", "Comment": None},
    ]
    assert table["Columns"][0] == {"Name": "vendor_id", "Type": "int", "Comment": None}
    assert table["Parameters"]["location"] == "s3://samples/trips/"
    assert table["Parameters"]["classification"] == "parquet"
    assert "comment" not in table["Parameters"]  # the crawler writes no description
    described = replace(lake.catalog.get_table("sample", "zones"), description="taxi zones")
    lake.catalog.update_table(described)
    zones = athena("GetTableMetadata", CatalogName="AwsDataCatalog", DatabaseName="sample",
                   TableName="zones")["TableMetadata"]  # fmt: skip
    assert zones["Parameters"]["comment"] == "taxi zones"
    with pytest.raises(MetadataError):
        athena("GetTableMetadata", CatalogName="AwsDataCatalog", DatabaseName="sample",
               TableName="nope")  # fmt: skip

    first = athena("ListTableMetadata", CatalogName="AwsDataCatalog", DatabaseName="sample",
                   MaxResults=3)  # fmt: skip
    rest = athena("ListTableMetadata", CatalogName="AwsDataCatalog", DatabaseName="sample",
                  MaxResults=3, NextToken=first["NextToken"])  # fmt: skip
    listed = [t["Name"] for t in first["TableMetadataList"] + rest["TableMetadataList"]]
    assert len(first["TableMetadataList"]) == 3 and listed == sorted(listed)
    assert {"cloudtrail", "payment_types", "trips", "zones"} <= set(listed)
    only = athena("ListTableMetadata", CatalogName="AwsDataCatalog", DatabaseName="sample",
                  Expression="t*", AttributesToGet=["NAME"])  # fmt: skip
    assert only["TableMetadataList"] == [{"Name": "trips"}]
    with pytest.raises(MetadataError):
        athena("ListTableMetadata", CatalogName="AwsDataCatalog", DatabaseName="nope")


def test_result_csv_parses_with_csv_module(athena: Call, lake: shoal.Shoal) -> None:
    execution = _run(athena, lake, "SELECT zone, borough FROM zones ORDER BY locationid LIMIT 6")
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    bucket, key = parse_uri(execution["ResultConfiguration"]["OutputLocation"])
    parsed = list(csv.reader(io.StringIO(lake.storage.read(bucket, key).decode())))
    answer = athena("GetQueryResults", QueryExecutionId=execution["QueryExecutionId"])
    assert [tuple(r) for r in parsed] == _rows(answer)
    assert parsed[5][0] == "Zone 5, North"  # a quoted comma survives
