"""Athena's SerDes through unmodified boto3 clients against a real ``shoal serve``:
CloudTrail log files put with S3's PutObject, the table declared with Athena's
documented CloudTrail DDL, queried with StartQueryExecution / GetQueryResults.
Expected rows are the records the test wrote; bytes scanned the size it put."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import pytest

from .athena_runs import run_query
from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]
pytestmark = pytest.mark.timeout(120)

RECORDS = [
    {"eventVersion": "1.08", "eventName": "GetObject", "eventTime": "2017-02-17T10:02:03Z",
     "userIdentity": {"type": "IAMUser", "userName": "bob",
                      "sessionContext": {"sessionIssuer": {"userName": "Admin"}}},
     "requestParameters": {"bucketName": "lake", "key": "hr/x.csv"}},
    {"eventVersion": "1.08", "eventName": "ConsoleLogin", "eventTime": "2017-02-17T11:00:00Z",
     "userIdentity": {"type": "IAMUser", "userName": "alice"}},
]  # fmt: skip
DDL = """CREATE EXTERNAL TABLE {name} (
eventversion STRING,
useridentity STRUCT<type:STRING, username:STRING,
  sessioncontext:STRUCT<sessionissuer:STRUCT<username:STRING>>>,
eventtime STRING,
eventname STRING,
requestparameters STRING
)
ROW FORMAT SERDE '{serde}'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://{bucket}/AWSLogs/123456789012/'"""


def _run(athena: Any, sql: str, output: str) -> dict[str, Any]:
    execution = run_query(athena, sql, output, database="default", timeout=60)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return execution


@pytest.mark.parametrize(
    "serde",
    ["com.amazon.emr.hive.serde.CloudTrailSerde", "org.apache.hive.hcatalog.data.JsonSerDe"],
)
def test_cloudtrail_tables_through_boto3(
    sample_server: ShoalServer, results_bucket: str, serde: str
) -> None:
    s3, athena = sample_server.client("s3"), sample_server.client("athena")
    bucket = f"trail-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = gzip.compress(json.dumps({"Records": RECORDS}).encode())
    key = "AWSLogs/123456789012/CloudTrail/us-east-1/2017/02/17/trail_20170217T1100Z.json.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    name = f"trail_{uuid.uuid4().hex[:8]}"
    output = f"s3://{results_bucket}/serdes/"
    _run(athena, DDL.format(name=name, serde=serde, bucket=bucket), output)
    execution = _run(
        athena,
        f"SELECT eventname, useridentity.username, "
        f"useridentity.sessioncontext.sessionissuer.username AS issuer, "
        f"json_extract_scalar(requestparameters, '$.bucketName') AS bucket "
        f"FROM {name} ORDER BY eventtime",
        output,
    )
    page = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    rows = [tuple(d.get("VarCharValue") for d in r["Data"]) for r in page["ResultSet"]["Rows"]]
    assert rows == [
        ("eventname", "username", "issuer", "bucket"),
        ("GetObject", "bob", "Admin", "lake"),
        ("ConsoleLogin", "alice", None, None),
    ]
    assert execution["Statistics"]["DataScannedInBytes"] == len(body)
