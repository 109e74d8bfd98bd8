"""CloudTrail record shape, event naming and what a record must never contain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shoal.audit.records import (
    ApiCall,
    Caller,
    annotate,
    build_record,
    cli_record,
    collecting_annotations,
    service_event,
)

CLOUDTRAIL_FIELDS = {
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "errorCode",
    "errorMessage", "requestID", "eventID", "readOnly", "eventType",
}  # fmt: skip
IDENTITY_FIELDS = {"type", "principalId", "arn", "accountId", "accessKeyId", "userName"}
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
SIGNATURE = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
CALLER = Caller(
    "alice", "AKIAALICE0000000001", "arn:aws:iam::123456789012:user/alice", "123456789012"
)


def call(**fields: Any) -> ApiCall:
    base: dict[str, Any] = {
        "protocol": "s3",
        "method": "GET",
        "path": "/bucket/key",
        "query": [],
        "operation": "GetObject",
        "request_id": "req-1",
        "event_time": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "region": "us-east-1",
        "account_id": "123456789012",
        "caller": CALLER,
    }
    base.update(fields)
    return ApiCall(**base)


def test_every_cloudtrail_field_is_present() -> None:
    record = build_record(call(source_ip="10.0.0.1", user_agent="Boto3/1.34"))
    assert CLOUDTRAIL_FIELDS <= set(record)
    assert set(record["userIdentity"]) == IDENTITY_FIELDS
    assert record["eventVersion"] == "1.08"
    assert record["eventTime"] == "2024-05-06T07:08:09Z"
    assert record["eventType"] == "AwsApiCall"
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["userIdentity"]["userName"] == "alice"
    assert (record["eventSource"], record["eventName"]) == ("s3.amazonaws.com", "GetObject")
    assert record["readOnly"] is True and record["responseElements"] is None
    assert record["requestParameters"] == {"bucketName": "bucket", "key": "key"}
    assert set(record["additionalEventData"]) == {
        "role", "roleMapping", "bytesScanned", "queryExecutionId",
        "deniedAction", "deniedResource", "deniedTable",
    }  # fmt: skip
    json.dumps(record)  # serialisable as is


def test_root_and_unauthenticated_identities() -> None:
    root = Caller("root", "AKIAROOT000000000001", "arn:aws:iam::123456789012:root", "123456789012")
    assert build_record(call(caller=root))["userIdentity"]["type"] == "Root"
    anonymous = build_record(call(caller=None, claimed_key_id="AKIANOBODY0000000001"))
    assert anonymous["userIdentity"]["type"] == "Unknown"
    assert anonymous["userIdentity"]["accessKeyId"] == "AKIANOBODY0000000001"


@pytest.mark.parametrize(
    ("method", "operation", "name"),
    [
        ("GET", "ListObjectVersions", "ListObjectVersions"),
        ("PUT", "CopyObject", "CopyObject"),
        ("HEAD", "HeadObject", "HeadObject"),
        ("GET", None, "UnknownOperation"),  # no operation of S3's model
        ("GET", "<script>", "UnknownOperation"),
    ],
)
def test_s3_event_names_are_the_operations_the_router_named(
    method: str, operation: str | None, name: str
) -> None:
    # Which operation a request names is the router's (tests/api/test_routing.py).
    record = build_record(call(method=method, path="/b/k", operation=operation))
    assert record["eventName"] == name
    assert record["readOnly"] is (method in ("GET", "HEAD"))


def test_json_and_query_protocols() -> None:
    athena = build_record(
        call(
            protocol="json",
            method="POST",
            path="/",
            service="athena",
            operation="StartQueryExecution",
            body=b'{"QueryString": "SELECT 1", "WorkGroup": "primary"}',
            response_body=b'{"QueryExecutionId": "q-1"}',
        )
    )
    assert (athena["eventSource"], athena["eventName"]) == (
        "athena.amazonaws.com",
        "StartQueryExecution",
    )
    assert athena["readOnly"] is False
    assert athena["requestParameters"] == {"QueryString": "SELECT 1", "WorkGroup": "primary"}
    assert athena["responseElements"] == {"QueryExecutionId": "q-1"}
    glue = build_record(
        call(protocol="json", method="POST", path="/", service="glue", operation="GetTables")
    )
    assert (glue["eventSource"], glue["eventName"], glue["readOnly"]) == (
        "glue.amazonaws.com",
        "GetTables",
        True,
    )
    sts = build_record(
        call(protocol="query", method="POST", path="/", body=b"Action=GetCallerIdentity&Version=x")
    )
    assert (sts["eventSource"], sts["eventName"]) == ("sts.amazonaws.com", "GetCallerIdentity")
    garbage = build_record(call(protocol="json", method="POST", path="/", operation="<script>"))
    assert (garbage["eventSource"], garbage["eventName"]) == ("shoal", "UnknownOperation")


def test_errors_are_recorded() -> None:
    record = build_record(call(error_code="NoSuchKey", error_message="The key does not exist"))
    assert record["errorCode"] == "NoSuchKey"
    assert record["errorMessage"] == "The key does not exist"
    assert record["responseElements"] is None


def test_no_secret_reaches_a_record() -> None:
    presigned = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"AKIAALICE0000000001/20240506/us-east-1/s3/aws4_request{SECRET}"),
        ("X-Amz-Signature", SIGNATURE),
        ("X-Amz-Security-Token", SECRET),
        ("Signature", SECRET),
        ("prefix", "ok"),
    ]
    s3 = build_record(call(query=presigned, body=f"PUT body {SECRET}".encode()))
    glue_body = {
        "DatabaseInput": {"Name": "db", "Parameters": {"password": SECRET, "owner": "me"}},
        "SecretAccessKey": SECRET,
        "Credentials": {"Token": SECRET},
    }
    glue = build_record(
        call(
            protocol="json",
            method="POST",
            path="/",
            service="glue",
            operation="CreateDatabase",
            body=json.dumps(glue_body).encode(),
            response_body=json.dumps({"SecretAccessKey": SECRET}).encode(),
        )
    )
    sts = build_record(
        call(protocol="query", method="POST", path="/", body=f"Action=X&Password={SECRET}".encode())
    )
    text = json.dumps([s3, glue, sts])
    assert SECRET not in text and SIGNATURE not in text
    assert "X-Amz-Credential" not in text and "Authorization" not in text
    assert s3["requestParameters"]["prefix"] == "ok"
    assert glue["requestParameters"]["DatabaseInput"]["Parameters"]["owner"] == "me"


def test_sizes_are_capped() -> None:
    huge = json.dumps({f"Key{i}": "x" * 5000 for i in range(50)}).encode()
    record = build_record(
        call(
            protocol="json",
            method="POST",
            path="/",
            service="glue",
            operation="CreateTable",
            body=huge,
        )
    )
    assert len(json.dumps(record)) < 20_000
    assert record["requestParameters"]["shoalTruncated"] is True


def test_annotations_reach_additional_event_data() -> None:
    with collecting_annotations() as extra:
        annotate(role="analyst", roleMapping="group:eng", bytesScanned=1234, other="dropped")
    record = build_record(call(extra=extra))
    assert record["additionalEventData"] == {
        "role": "analyst",
        "roleMapping": "group:eng",
        "bytesScanned": 1234,
        "queryExecutionId": None,
        "deniedAction": None,
        "deniedResource": None,
        "deniedTable": None,
    }
    assert record["errorCode"] is None and record["errorMessage"] is None
    annotate(role="outside a request: ignored")


def test_a_request_answered_yet_refused_carries_the_annotated_error() -> None:
    """StartQueryExecution of a query refused in SQL: accepted, recorded as refused."""
    with collecting_annotations() as extra:
        annotate(errorCode="AccessDenied", errorMessage="User: x is not authorized",
                 deniedTable="sales.hr", deniedAction="glue:GetTable")  # fmt: skip
    record = build_record(call(extra=extra))
    assert (record["errorCode"], record["errorMessage"]) == (
        "AccessDenied",
        "User: x is not authorized",
    )
    assert record["additionalEventData"]["deniedTable"] == "sales.hr"
    assert "errorCode" not in record["additionalEventData"]
    failed = build_record(call(extra=extra, error_code="Throttling", error_message="slow down"))
    assert (failed["errorCode"], failed["errorMessage"]) == ("Throttling", "slow down")


def test_scrub_caps_nesting_depth() -> None:
    from shoal.audit.records import MAX_SCRUB_DEPTH, TRUNCATED_NESTING, scrub

    deep: object = "leaf"
    for _ in range(5000):
        deep = {"a": [deep]}
    scrubbed = scrub(deep)
    for _ in range(MAX_SCRUB_DEPTH // 2):
        scrubbed = scrubbed["a"][0]
    assert scrubbed == TRUNCATED_NESTING


def test_s3_object_calls_are_data_events_with_resources() -> None:
    record = build_record(call(method="PUT", operation="PutObject", path="/bucket/a%20b.csv"))
    assert (record["eventCategory"], record["managementEvent"]) == ("Data", False)
    assert record["resources"] == [
        {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::bucket/a b.csv"},
        {"accountId": "123456789012", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::bucket"},
    ]
    bucket = build_record(call(method="PUT", operation="CreateBucket", path="/bucket"))
    assert (bucket["eventCategory"], bucket["managementEvent"]) == ("Management", True)
    glue = build_record(call(protocol="json", service="glue", operation="GetTables", path="/"))
    assert glue["eventCategory"] == "Management" and glue["resources"] is None


def test_cli_commands_are_records_without_secrets() -> None:
    record = cli_record(
        command=["users", "create-key"],
        arguments={"name": "alice", "secret_access_key": SECRET, "output": "json", "tag": ()},
        os_user="ops",
        event_time=datetime(2024, 5, 6, tzinfo=UTC),
        region="us-east-1",
        account_id="123456789012",
        request_id="r-1",
        error=("NoSuchEntity", "user alice not found"),
    )
    assert (record["eventSource"], record["eventName"]) == ("shoal", "UsersCreateKey")
    assert record["userIdentity"]["type"] == "Root" and record["userIdentity"]["userName"] == "ops"
    assert record["requestParameters"] == {
        "name": "alice",
        "secret_access_key": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "output": "json",
    }
    assert (record["errorCode"], record["errorMessage"]) == ("NoSuchEntity", "user alice not found")
    assert SECRET not in json.dumps(record)
    listing = cli_record(
        command=["quotas", "list"],
        arguments={},
        os_user="ops",
        event_time=datetime(2024, 5, 6, tzinfo=UTC),
        region="us-east-1",
        account_id="123456789012",
        request_id="r-2",
    )
    assert listing["readOnly"] is True and record["readOnly"] is False


def test_service_events_keep_their_facts_in_service_event_details() -> None:
    record = service_event(
        source="athena.amazonaws.com",
        name="QueryExecutionCompleted",
        event_time=datetime(2024, 5, 6, tzinfo=UTC),
        region="us-east-1",
        account_id="123456789012",
        request_id="q-1",
        details={"dataScannedInBytes": 10, "password": "x"},
    )
    assert record["eventType"] == "AwsServiceEvent"
    assert record["serviceEventDetails"] == {
        "dataScannedInBytes": 10,
        "password": "HIDDEN_DUE_TO_SECURITY_REASONS",
    }
    assert record["userIdentity"]["type"] == "AWSService"
    assert record["userIdentity"]["invokedBy"] == "athena.amazonaws.com"
    assert "serviceEventDetails" not in build_record(call())  # API calls have none
