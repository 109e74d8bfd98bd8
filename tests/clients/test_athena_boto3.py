"""The Athena API through an unmodified boto3 client against a real ``shoal serve``.

The server holds the crawled sample lake (``sample_server``); expected rows are
computed without shoal, by pyarrow over the sample Parquet files in the server's
data folder. Result files are fetched through the S3 API, as clients do.
"""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_ds
import pytest
from botocore.exceptions import ClientError

from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]
pytestmark = pytest.mark.timeout(120)

# 10^12 joined rows: far more work than any test waits for, interruptible at any point.
# (sequence() is capped at 10,000 entries, as in Trino.)
LONG_QUERY = (
    "SELECT count(*) FROM UNNEST(sequence(1, 10000)) AS a(x) "
    "CROSS JOIN UNNEST(sequence(1, 10000)) AS b(y) "
    "CROSS JOIN UNNEST(sequence(1, 10000)) AS c(z) WHERE x + y + z > 7"
)
FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")
TRIPS_SQL = """
SELECT vendor_id, pickup_datetime, trip_distance, fare_amount,
       CASE WHEN payment_type = 2 THEN NULL ELSE tip_amount END AS card_tip
FROM trips WHERE month IN ('01', '02')
ORDER BY pickup_datetime, dropoff_datetime, fare_amount, trip_distance
LIMIT 2500
"""


@pytest.fixture(scope="module")
def athena(sample_server: ShoalServer) -> Any:
    return sample_server.client("athena")


@pytest.fixture(scope="module")
def s3(sample_server: ShoalServer) -> Any:
    return sample_server.client("s3")


@pytest.fixture(scope="module")
def output(results_bucket: str) -> str:
    return f"s3://{results_bucket}/boto3/"


@pytest.fixture(scope="module")
def run(athena: Any, output: str) -> Callable[..., dict[str, Any]]:
    """``run(sql, **params)``: start, poll until finished, return the QueryExecution."""

    def start_and_wait(sql: str, **params: Any) -> dict[str, Any]:
        params.setdefault("QueryExecutionContext", {"Database": "sample"})
        params.setdefault("ResultConfiguration", {"OutputLocation": output})
        query_id = athena.start_query_execution(QueryString=sql, **params)["QueryExecutionId"]
        return wait(athena, query_id)

    return start_and_wait


def wait(athena: Any, query_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution: dict[str, Any] = athena.get_query_execution(QueryExecutionId=query_id)[
            "QueryExecution"
        ]
        if execution["Status"]["State"] in FINISHED or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)


def values(page: dict[str, Any]) -> list[tuple[str | None, ...]]:
    return [tuple(d.get("VarCharValue") for d in r["Data"]) for r in page["ResultSet"]["Rows"]]


def s3_text(s3: Any, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body.decode()


def expected_trips(lake: Path) -> list[tuple[Any, ...]]:
    """The rows of TRIPS_SQL, computed by pyarrow from the sample Parquet files."""
    months = pa.schema([("year", pa.string()), ("month", pa.string())])
    dataset = pa_ds.dataset(
        lake / "trips", format="parquet", partitioning=pa_ds.partitioning(months, flavor="hive")
    )
    trips = dataset.to_table()
    trips = trips.filter(pc.is_in(trips["month"], pa.array(["01", "02"])))
    keys = ["pickup_datetime", "dropoff_datetime", "fare_amount", "trip_distance"]
    trips = trips.sort_by([(k, "ascending") for k in keys]).slice(0, 2500)
    card_tip = pc.if_else(pc.equal(trips["payment_type"], 2), None, trips["tip_amount"])
    columns = [trips["vendor_id"], trips["pickup_datetime"], trips["trip_distance"]]
    columns += [trips["fare_amount"], card_tip]
    return list(zip(*(c.to_pylist() for c in columns), strict=True))


def test_select_pages_match_pyarrow(
    athena: Any, s3: Any, run: Callable[..., dict[str, Any]], sample_lake: Path, output: str
) -> None:
    execution = run(TRIPS_SQL)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    query_id = execution["QueryExecutionId"]
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location == f"{output}{query_id}.csv"
    assert execution["Statistics"]["DataScannedInBytes"] > 0

    paginator = athena.get_paginator("get_query_results")
    pages = list(paginator.paginate(QueryExecutionId=query_id, PaginationConfig={"PageSize": 1000}))
    assert [len(p["ResultSet"]["Rows"]) for p in pages] == [1000, 1000, 501]
    header = ("vendor_id", "pickup_datetime", "trip_distance", "fare_amount", "card_tip")
    assert values(pages[0])[0] == header
    assert all(values(p)[0] != header for p in pages[1:])
    columns = pages[0]["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [c["Type"] for c in columns] == ["integer", "timestamp", "double", "double", "double"]
    for column in columns:
        assert {"Precision", "Scale", "Nullable", "CatalogName", "CaseSensitive"} <= set(column)

    rows = [row for page in pages for row in values(page)][1:]
    got = [
        (int(v or 0), t, float(d or 0), float(f or 0), None if tip is None else float(tip))
        for v, t, d, f, tip in rows
    ]
    want = [
        (v, t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], d, f, tip)
        for v, t, d, f, tip in expected_trips(sample_lake)
    ]
    assert got == want
    assert any(r[4] is None for r in got)  # NULLs came as Datums without VarCharValue

    parsed = list(csv.reader(io.StringIO(s3_text(s3, location)), quoting=csv.QUOTE_ALL))
    assert parsed[0] == list(header)
    assert parsed[1:] == [[v or "" for v in row] for row in rows]


def test_ddl_writes_txt_and_ctas_writes_manifest(
    athena: Any, s3: Any, run: Callable[..., dict[str, Any]], results_bucket: str
) -> None:
    db = f"athena_{uuid.uuid4().hex[:10]}"
    created = run(f"CREATE DATABASE {db}")
    assert created["Status"]["State"] == "SUCCEEDED", created["Status"]
    assert created["StatementType"] == "DDL"
    assert created["ResultConfiguration"]["OutputLocation"].endswith(".txt")
    table = run(
        f"CREATE EXTERNAL TABLE {db}.kinds (payment_type int, description string) "
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
        "LOCATION 's3://samples/payment_types/' TBLPROPERTIES ('skip.header.line.count'='1')"
    )
    assert table["Status"]["State"] == "SUCCEEDED", table["Status"]

    shown = run("SHOW TABLES", QueryExecutionContext={"Database": db})
    location = shown["ResultConfiguration"]["OutputLocation"]
    assert location.endswith(f"{shown['QueryExecutionId']}.txt")
    assert s3_text(s3, location) == "kinds\n"
    shown_results = athena.get_query_results(QueryExecutionId=shown["QueryExecutionId"])
    assert values(shown_results) == [("kinds",)]
    # Hive DDL's results name text "string", as Athena's do; SQL's name it "varchar".
    (info,) = shown_results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert (info["Name"], info["Type"], info["Precision"]) == ("tab_name", "string", 0)

    target = f"s3://{results_bucket}/{db}/cash/"
    ctas = run(
        f"CREATE TABLE {db}.cash WITH (format='PARQUET', external_location='{target}') AS "
        f"SELECT * FROM {db}.kinds WHERE payment_type <= 2"
    )
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas["Status"]
    assert ctas["SubstatementType"] == "CREATE_TABLE_AS_SELECT"
    files = s3_text(s3, ctas["Statistics"]["DataManifestLocation"]).split()
    assert files and all(f.startswith(target) for f in files)
    for uri in files:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert athena.get_query_results(QueryExecutionId=ctas["QueryExecutionId"])["UpdateCount"] == 2
    check = run(f"SELECT description FROM {db}.cash ORDER BY payment_type")
    rows = values(athena.get_query_results(QueryExecutionId=check["QueryExecutionId"]))
    assert rows == [("description",), ("Credit card",), ("Cash",)]


def test_token_idempotency_and_parameters(athena: Any, run: Callable[..., dict[str, Any]]) -> None:
    token = uuid.uuid4().hex
    ids = {
        athena.start_query_execution(QueryString="SELECT 1", ClientRequestToken=token)[
            "QueryExecutionId"
        ]
        for _ in range(2)
    }
    assert len(ids) == 1
    with pytest.raises(ClientError) as caught:
        athena.start_query_execution(QueryString="SELECT 2", ClientRequestToken=token)
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"

    execution = run(
        "SELECT count(*) FROM trips WHERE payment_type = ? AND vendor_id = ?",
        ExecutionParameters=["2", "1"],
    )
    assert execution["ExecutionParameters"] == ["2", "1"]
    count = values(athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"]))[1]
    assert int(count[0] or -1) > 0


def test_stop_long_query(athena: Any) -> None:
    query_id = athena.start_query_execution(QueryString=LONG_QUERY)["QueryExecutionId"]
    with pytest.raises(ClientError, match="Query has not yet finished"):
        athena.get_query_results(QueryExecutionId=query_id)
    athena.stop_query_execution(QueryExecutionId=query_id)
    assert wait(athena, query_id, timeout=20)["Status"]["State"] == "CANCELLED"


def test_get_query_execution_long_polls_a_running_query(athena: Any) -> None:
    """GetQueryExecution of a running query answers RUNNING after the long poll, and
    a poll in progress answers the final state as soon as there is one."""
    query_id = athena.start_query_execution(QueryString=LONG_QUERY)["QueryExecutionId"]
    try:
        first = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        assert first["Status"]["State"] in ("QUEUED", "RUNNING")
        polled: list[dict[str, Any]] = []
        poll = threading.Thread(
            target=lambda: polled.append(athena.get_query_execution(QueryExecutionId=query_id))
        )
        poll.start()
        time.sleep(0.3)  # the poll is waiting (on a slow machine it may come late: fine)
        athena.stop_query_execution(QueryExecutionId=query_id)
        poll.join(timeout=30)
        # Without the long poll, a poll that arrived before the stop would say RUNNING.
        assert polled[0]["QueryExecution"]["Status"]["State"] == "CANCELLED"
    finally:
        athena.stop_query_execution(QueryExecutionId=query_id)


def test_batch_get_and_list_newest_first(
    athena: Any, run: Callable[..., dict[str, Any]], output: str
) -> None:
    group = f"wg-{uuid.uuid4().hex[:10]}"
    athena.create_work_group(
        Name=group, Configuration={"ResultConfiguration": {"OutputLocation": output}}
    )
    ids = [run(f"SELECT {i}", WorkGroup=group)["QueryExecutionId"] for i in range(5)]
    pages = athena.get_paginator("list_query_executions").paginate(
        WorkGroup=group, PaginationConfig={"PageSize": 2}
    )
    assert [i for page in pages for i in page["QueryExecutionIds"]] == ids[::-1]

    missing = str(uuid.uuid4())
    answer = athena.batch_get_query_execution(QueryExecutionIds=[ids[0], missing])
    assert [e["QueryExecutionId"] for e in answer["QueryExecutions"]] == [ids[0]]
    (unprocessed,) = answer["UnprocessedQueryExecutionIds"]
    assert unprocessed["QueryExecutionId"] == missing
    assert unprocessed["ErrorCode"] == "InvalidRequestException"


def test_work_group_crud(athena: Any, output: str) -> None:
    name = f"wg-{uuid.uuid4().hex[:10]}"
    athena.create_work_group(
        Name=name,
        Description="analysts",
        Configuration={
            "ResultConfiguration": {"OutputLocation": output},
            "EnforceWorkGroupConfiguration": False,
            "BytesScannedCutoffPerQuery": 50_000_000,
        },
    )
    group = athena.get_work_group(WorkGroup=name)["WorkGroup"]
    assert group["Configuration"]["EnforceWorkGroupConfiguration"] is False
    assert group["Configuration"]["BytesScannedCutoffPerQuery"] == 50_000_000
    athena.update_work_group(
        WorkGroup=name,
        Description="all analysts",
        ConfigurationUpdates={"RemoveBytesScannedCutoffPerQuery": True},
    )
    group = athena.get_work_group(WorkGroup=name)["WorkGroup"]
    assert group["Description"] == "all analysts"
    assert "BytesScannedCutoffPerQuery" not in group["Configuration"]
    assert "EnforceWorkGroupConfiguration" in group["Configuration"]
    primary = athena.get_work_group(WorkGroup="primary")["WorkGroup"]["Configuration"]
    assert "EnforceWorkGroupConfiguration" in primary
    assert primary["ResultConfiguration"]["OutputLocation"].startswith("s3://")
    listed = [g["Name"] for g in athena.list_work_groups()["WorkGroups"]]
    assert "primary" in listed and name in listed
    athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)
    with pytest.raises(ClientError, match="InvalidRequestException"):
        athena.get_work_group(WorkGroup=name)


def test_named_queries_and_prepared_statements(
    athena: Any, run: Callable[..., dict[str, Any]]
) -> None:
    query_id = athena.create_named_query(
        Name="cash trips", Database="sample", QueryString="SELECT count(*) FROM trips"
    )["NamedQueryId"]
    pages = athena.get_paginator("list_named_queries").paginate(PaginationConfig={"PageSize": 5})
    assert query_id in [i for page in pages for i in page["NamedQueryIds"]]
    athena.update_named_query(NamedQueryId=query_id, Name="all trips", QueryString="SELECT 1")
    assert athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]["Name"] == "all trips"
    batch = athena.batch_get_named_query(NamedQueryIds=[query_id, str(uuid.uuid4())])
    assert len(batch["NamedQueries"]) == 1 and len(batch["UnprocessedNamedQueryIds"]) == 1
    athena.delete_named_query(NamedQueryId=query_id)

    name = f"fares_{uuid.uuid4().hex[:8]}"
    athena.create_prepared_statement(
        StatementName=name,
        WorkGroup="primary",
        QueryStatement="SELECT count(*) FROM trips WHERE fare_amount > ?",
    )
    executed = run(f"EXECUTE {name} USING 1000")
    assert executed["Status"]["State"] == "SUCCEEDED", executed["Status"]
    assert values(athena.get_query_results(QueryExecutionId=executed["QueryExecutionId"]))[1] == (
        "0",
    )
    athena.update_prepared_statement(
        StatementName=name, WorkGroup="primary", QueryStatement="SELECT 1", Description="d"
    )
    got = athena.get_prepared_statement(StatementName=name, WorkGroup="primary")
    assert got["PreparedStatement"]["QueryStatement"] == "SELECT 1"
    listed = athena.list_prepared_statements(WorkGroup="primary")["PreparedStatements"]
    assert name in [s["StatementName"] for s in listed]
    athena.delete_prepared_statement(StatementName=name, WorkGroup="primary")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        athena.get_prepared_statement(StatementName=name, WorkGroup="primary")


def test_catalog_metadata(athena: Any) -> None:
    catalogs = athena.get_paginator("list_data_catalogs").paginate().build_full_result()
    assert catalogs["DataCatalogsSummary"] == [{"CatalogName": "AwsDataCatalog", "Type": "GLUE"}]
    databases = athena.get_paginator("list_databases").paginate(CatalogName="AwsDataCatalog")
    assert "sample" in [d["Name"] for page in databases for d in page["DatabaseList"]]
    pages = list(
        athena.get_paginator("list_table_metadata").paginate(
            CatalogName="AwsDataCatalog", DatabaseName="sample", PaginationConfig={"PageSize": 2}
        )
    )
    names = [t["Name"] for page in pages for t in page["TableMetadataList"]]
    assert len(pages) >= 2 and names == sorted(names)
    assert {"cloudtrail", "payment_types", "trips", "zones"} <= set(names)
    trips = athena.get_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName="sample", TableName="trips"
    )["TableMetadata"]
    assert [k["Name"] for k in trips["PartitionKeys"]] == ["year", "month"]
    assert {"Name": "fare_amount", "Type": "double"} in trips["Columns"]
    with pytest.raises(ClientError) as caught:
        athena.get_table_metadata(
            CatalogName="AwsDataCatalog", DatabaseName="sample", TableName="nope"
        )
    assert caught.value.response["Error"]["Code"] == "MetadataException"


def _error(call: Callable[..., Any], **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response["Error"]


def test_bad_inputs_are_400s(athena: Any, run: Callable[..., dict[str, Any]]) -> None:
    start = athena.start_query_execution
    assert "not found" in _error(start, QueryString="SELECT 1", WorkGroup="nowhere")["Message"]
    disabled = f"wg-{uuid.uuid4().hex[:10]}"
    athena.create_work_group(Name=disabled)
    athena.update_work_group(WorkGroup=disabled, State="DISABLED")
    assert "disabled" in _error(start, QueryString="SELECT 1", WorkGroup=disabled)["Message"]
    assert _error(athena.get_query_execution, QueryExecutionId="nope")["Code"] == (
        "InvalidRequestException"
    )
    assert _error(athena.get_data_catalog, Name="other")["Code"] == "InvalidRequestException"
    kms = {"EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": "k"}}
    assert "SSE_KMS" in _error(start, QueryString="SELECT 1", ResultConfiguration=kms)["Message"]

    failed = run("SELEC 1")
    assert failed["Status"]["State"] == "FAILED"
    assert failed["Status"]["AthenaError"]["ErrorCategory"] == 2
    error = _error(athena.get_query_results, QueryExecutionId=failed["QueryExecutionId"])
    assert error["Code"] == "InvalidRequestException"


def test_default_database_without_context(run: Callable[..., dict[str, Any]], athena: Any) -> None:
    # A new user's first statements name no database: Athena runs them in `default`,
    # which every catalog has from the start.
    name = f"first_{uuid.uuid4().hex[:8]}"
    ddl = f"CREATE EXTERNAL TABLE {name} (id int) STORED AS PARQUET LOCATION 's3://samples/{name}/'"
    created = run(ddl, QueryExecutionContext={})
    assert created["Status"]["State"] == "SUCCEEDED", created["Status"]
    table = athena.get_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName="default", TableName=name
    )
    assert table["TableMetadata"]["Name"] == name
    assert run(f"DROP TABLE {name}", QueryExecutionContext={})["Status"]["State"] == "SUCCEEDED"
