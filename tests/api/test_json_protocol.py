"""The JSON 1.1 layer: validation against botocore models, errors, serialisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from shoal.api.errors import ApiError
from shoal.api.json_protocol import Validator, encode_json, service_model, to_wire


def validate(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    model = service_model(service)
    code = "InvalidRequestException" if service == "athena" else "InvalidInputException"
    return Validator(code).validate(model.operation_model(operation).input_shape, params)


def test_valid_input_is_converted() -> None:
    params = validate(
        "athena",
        "StartQueryExecution",
        {"QueryString": "SELECT 1", "QueryExecutionContext": {"Database": "db"}},
    )
    assert params["QueryExecutionContext"] == {"Database": "db"}
    when = validate("glue", "GetTableVersions", {"DatabaseName": "d", "TableName": "t"})
    assert when == {"DatabaseName": "d", "TableName": "t"}


@pytest.mark.parametrize(
    ("service", "operation", "params", "fragment"),
    [
        ("athena", "StartQueryExecution", {}, "QueryString is required"),
        ("athena", "StartQueryExecution", {"QueryString": 5}, "must be a string"),
        ("athena", "StartQueryExecution", {"QueryString": ""}, "length at least 1"),
        ("athena", "StartQueryExecution", {"QueryString": "x", "Bogus": 1}, "Bogus"),
        ("athena", "GetQueryResults", {"QueryExecutionId": "a", "MaxResults": 5000}, "at most"),
        ("athena", "GetQueryResults", {"QueryExecutionId": "a", "MaxResults": True}, "integer"),
        ("athena", "ListQueryExecutions", {"MaxResults": "10"}, "integer"),
        ("athena", "CreateWorkGroup", {"Name": "bad name!"}, "pattern"),
        ("glue", "GetTables", {"DatabaseName": ["x"]}, "must be a string"),
        ("glue", "GetDatabases", {"ResourceShareType": "NOPE"}, "one of"),
        ("glue", "GetPartitions", {"DatabaseName": "d", "TableName": "t",
                                   "Segment": {"SegmentNumber": 0}}, "TotalSegments"),
    ],
)  # fmt: skip
def test_invalid_input_names_the_field(
    service: str, operation: str, params: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ApiError) as info:
        validate(service, operation, params)
    assert info.value.status == 400
    assert info.value.code in ("InvalidRequestException", "InvalidInputException")
    assert fragment in info.value.message


def test_to_wire_turns_datetimes_into_epoch_seconds() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    assert to_wire({"T": when, "N": None, "L": [b"\x00"]}) == {"T": when.timestamp(), "L": ["AA=="]}


def test_json_errors_through_the_app(tmp_path: Any) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    import shoal
    from shoal.api.app import create_app

    app = shoal.open(data_dir=str(tmp_path / "data"))
    app.identities.ensure_root("AKIAJSONTEST00000001", "j" * 40)

    def boom(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("secret detail")

    client = TestClient(create_app(app, {"AmazonAthena": {"ListWorkGroups": boom}}))

    def call(target: str, body: bytes) -> Any:
        request = AWSRequest(
            "POST", "http://testserver/", data=body,
            headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        )  # fmt: skip
        SigV4Auth(Credentials("AKIAJSONTEST00000001", "j" * 40), "athena", "us-east-1").add_auth(
            request
        )
        return client.post("/", content=body, headers=dict(request.headers))

    answer = call("AmazonAthena.ListWorkGroups", b"{}")
    assert answer.status_code == 500 and "secret detail" not in answer.text
    assert answer.json()["__type"] == "InternalServerException"
    assert call("AmazonAthena.Nope", b"{}").json()["__type"] == "UnknownOperationException"
    missing = call("AmazonAthena.GetWorkGroup", b"{}")
    assert missing.status_code == 400 and "WorkGroup" in missing.json()["message"]
    assert call("AmazonAthena.ListWorkGroups", b"[1").json()["__type"] == "SerializationException"
    unhandled = call("AmazonAthena.ListNamedQueries", b"{}")
    assert unhandled.status_code == 400 and "ListNamedQueries" in unhandled.json()["message"]
    assert "x-amzn-requestid" in {k.lower() for k in unhandled.headers}
    unsigned = client.post("/", content=b"{}", headers={"X-Amz-Target": "AmazonAthena.X"})
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    "value",
    [
        {"Rows": [{"Data": [{"VarCharValue": "é ✓ 𝄞"}, {}]}], "n": 1.5, "ok": True, "no": None},
        {"Huge": 2**70},  # beyond orjson's 64 bits: json writes it
        {"Text": "lone \ud800 surrogate"},  # not UTF-8: json escapes it
    ],
)
def test_encode_json_round_trips(value: dict[str, Any]) -> None:
    assert json.loads(encode_json(value)) == value
