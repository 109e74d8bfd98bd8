"""Every operation shoal implements, driven through each protocol its service speaks.

The installed botocore's models say how each operation travels now (in 1.44.18:
Athena rest-json, Glue JSON 1.1, IAM and STS query). Clients built from Athena's
model rewritten to another protocol say how it travelled before (JSON 1.1, every
botocore up to 1.44.13) and how it may next (Smithy RPC v2 CBOR). Each call must
reach shoal's handler and come back as something botocore parses: a result, or a
domain error (no such entity, already exists, …) — never an unknown operation, a
complaint about the request's shape or fields, a 404/405, or a 5xx.

The requests carry the members the model requires, with values made from the model
(enums, lengths, ranges, patterns): a server that decodes any member wrongly fails
validation, and that counts as a failure here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.serialize
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape

from shoal.api import athena, glue, iam, sts
from shoal.api.json_protocol import MODELS_DIR

from .server import ShoalServer, served

IMPLEMENTED = {
    "athena": sorted(athena.OPERATIONS),
    "glue": sorted(glue.OPERATIONS),
    "iam": sorted(iam.ACTIONS),
    "sts": sorted(sts.ACTIONS),
}
# Codes that mean the request never reached its handler as the client meant it.
NOT_ANSWERED = {
    "UnknownOperationException",
    "UnsupportedOperationException",
    "SerializationException",
    "InvalidAction",
    "MalformedQueryString",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "AuthorizationHeaderMalformed",
    "SignatureDoesNotMatch",
    "AccessDeniedException",
    "AccessDenied",
    "InternalFailure",
    "InternalServerException",
    "InternalError",
}
VALIDATION = "validation error detected"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    """A server of this module's own: the calls create and delete things."""
    with served(tmp_path_factory.mktemp("protocols") / "data") as server:
        yield server


def client(server: ShoalServer, service: str, data_path: Path | None = None) -> Any:
    """A boto3 client on ``server``; with ``data_path``, built from the models there."""
    session = botocore.session.get_session()
    if data_path is not None:
        session = botocore.session.Session()
        session.set_config_variable("data_path", str(data_path))
    return boto3.session.Session(botocore_session=session).client(
        service,
        endpoint_url=server.url,
        region_name=server.region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def athena_model_as(tmp: Path, protocol: str) -> Path:
    """A data path holding Athena's model, rewritten to speak ``protocol``. The model
    is shoal's snapshot (the first with rest-json bindings), so this works beside any
    installed botocore."""
    loader = botocore.loaders.Loader(extra_search_paths=[str(MODELS_DIR)])
    model = loader.load_service_model("athena", "service-2")
    model["metadata"].update(
        protocol=protocol, protocols=[protocol], targetPrefix="AmazonAthena", jsonVersion="1.1"
    )
    if protocol != "rest-json":  # RPC protocols: every operation is a POST to one place
        for operation in model["operations"].values():
            operation["http"] = {"method": "POST", "requestUri": "/"}
    folder = tmp / protocol / "athena" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    return tmp / protocol


# --- values the model accepts -----------------------------------------------------------


def sample(shape: Shape, name: str = "") -> Any:
    """A value of ``shape`` that its constraints accept; only required members."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        if shape.metadata.get("union"):
            first = next(iter(members))
            return {first: sample(members[first], first)}
        return {m: sample(members[m], m) for m in shape.required_members}
    if kind == "list":
        count = shape.metadata.get("min", 0) or 1
        return [sample(shape.member, name) for _ in range(count)]  # type: ignore[attr-defined]
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return max(shape.metadata.get("min", 1), 1)
    if kind in ("double", "float"):
        return float(shape.metadata.get("min", 1))
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime.now(UTC)
    if kind == "blob":
        return b"x"
    return sample_text(shape, name)


def sample_text(shape: Shape, name: str) -> str:
    if shape.enum:  # type: ignore[attr-defined]
        return str(shape.enum[0])  # type: ignore[attr-defined]
    low = max(shape.metadata.get("min", 1), 1)
    lowered = name.lower()
    if "policydocument" in lowered or lowered == "assumerolepolicydocument":
        return '{"Version":"2012-10-17","Statement":[]}'
    if lowered.endswith("arn"):
        return "arn:aws:iam::123456789012:policy/nothing"
    if lowered.endswith("id") and "key" not in lowered:
        return str(uuid.uuid4())
    text = "protocols"
    if lowered in ("accesskeyid",):
        text = "AKIANOTAKEYATALL0000"
    if lowered.endswith(("string", "statement", "querystring")):
        text = "SELECT 1"
    if lowered.endswith(("location", "uri", "path")) and "s3" not in text:
        text = "s3://protocols/folder/"
    text = (text * (low // len(text) + 1))[: max(low, len(text))]
    pattern = shape.metadata.get("pattern")
    if pattern and not _matches(pattern, text):
        text = "a" * low
    return text


def _matches(pattern: str, text: str) -> bool:
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return True


def request(shape: Shape) -> dict[str, Any]:
    """The required members, and the optional ones that travel outside the body in
    rest-json (query string, headers): those are read from text, so a wrong read
    shows. Pagination tokens stay out (a made-up one is refused, rightly)."""
    params: dict[str, Any] = sample(shape)
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        outside = member.serialization.get("location") in ("querystring", "header")
        if outside and name not in params and "token" not in name.lower():
            params[name] = sample(member, name)
    return params


def call(client: Any, operation: str) -> str:
    """What calling ``operation`` came to: "answered", or why it was not."""
    model = client.meta.service_model.operation_model(operation)
    params = request(model.input_shape) if model.input_shape is not None else {}
    method = getattr(client, botocore.xform_name(operation))
    try:
        method(**params)
    except ClientError as exc:
        error = exc.response["Error"]
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if status >= 500 or code in NOT_ANSWERED or code.isdigit() or VALIDATION in message:
            return f"{status} {code}: {message[:160]}"
    return "answered"


def drive(client: Any, operations: list[str]) -> dict[str, str]:
    results = {op: call(client, op) for op in operations}
    return {op: why for op, why in results.items() if why != "answered"}


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(IMPLEMENTED))
def test_every_operation_answers_in_the_current_protocol(server: ShoalServer, service: str) -> None:
    assert IMPLEMENTED[service], "shoal implements no operation of this service?"
    failures = drive(client(server, service), IMPLEMENTED[service])
    assert failures == {}


@pytest.fixture(params=["json", "rest-json", "smithy-rpc-v2-cbor"])
def athena_in(request: pytest.FixtureRequest, server: ShoalServer, tmp_path: Path) -> Any:
    """An Athena client speaking each protocol in turn (Athena's model rewritten)."""
    protocol = request.param
    if protocol not in botocore.serialize.SERIALIZERS:
        pytest.skip(f"this botocore cannot speak {protocol}")
    athena_client = client(server, "athena", athena_model_as(tmp_path, protocol))
    assert athena_client.meta.service_model.protocol == protocol
    return athena_client


def test_every_athena_operation_answers_in_each_protocol(athena_in: Any) -> None:
    assert drive(athena_in, IMPLEMENTED["athena"]) == {}


def test_a_query_runs_in_each_protocol(athena_in: Any) -> None:
    started = athena_in.start_query_execution(QueryString="SELECT 6 * 7 AS answer")
    query_id = started["QueryExecutionId"]
    execution = athena_in.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    for _ in range(50):
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            break
        execution = athena_in.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert isinstance(execution["Status"]["SubmissionDateTime"], datetime)
    rows = athena_in.get_query_results(QueryExecutionId=query_id, MaxResults=10)
    values = [[d.get("VarCharValue") for d in row["Data"]] for row in rows["ResultSet"]["Rows"]]
    assert values == [["answer"], ["42"]]
    assert query_id in athena_in.list_query_executions(MaxResults=50)["QueryExecutionIds"]


def test_errors_come_back_in_the_protocol_of_the_request(athena_in: Any) -> None:
    with pytest.raises(ClientError) as missing:
        athena_in.get_work_group(WorkGroup="no-such-group")
    assert missing.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "no-such-group" in missing.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as invalid:
        athena_in.get_query_results(QueryExecutionId=str(uuid.uuid4()), MaxResults=5000)
    assert invalid.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "MaxResults" in invalid.value.response["Error"]["Message"]
