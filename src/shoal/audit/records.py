"""CloudTrail records: one per API request, in CloudTrail's record format.

``build_record(call)`` turns the facts of one answered request (an ``ApiCall``: plain
values, no web framework objects) into a CloudTrail record, eventVersion 1.08.
What a record never holds: the Authorization header or any other header but the
user agent, signatures and credentials from presigned query strings, the body of an
S3 request, and any request field whose name says it is a secret. What is kept is
capped in size, so a huge request cannot make a huge record.

shoal's own facts about an API call (the role a request acted as, the mapping that
chose it) go in ``additionalEventData``, where CloudTrail puts a service's extra data;
handlers add them with ``annotate``. Events shoal causes itself (a query finishing, a
quota threshold crossed, a crawler run ending) are ``service_event`` records with
their facts in ``serviceEventDetails``. Both come through ``envelope``, the one place
that names a record's fields.
"""

from __future__ import annotations

import contextvars
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

EVENT_VERSION = "1.08"
MAX_STRING = 1024  # characters kept of any one request value
MAX_PARAMETERS = 8 * 1024  # serialised requestParameters / responseElements
MAX_ERROR_MESSAGE = 512
REDACTED = "HIDDEN_DUE_TO_SECURITY_REASONS"  # CloudTrail's own spelling

SOURCE_S3 = "s3.amazonaws.com"
SOURCE_STS = "sts.amazonaws.com"
SOURCE_IAM = "iam.amazonaws.com"
SOURCE_SHOAL = "shoal"
CLI_USER_AGENT = "shoal-cli"
# The JSON-shaped services' event sources, by SigV4 signing name.
JSON_SOURCES = {"athena": "athena.amazonaws.com", "glue": "glue.amazonaws.com"}
READ_PREFIXES = ("Get", "List", "Describe", "BatchGet", "Search", "Head")
# additionalEventData fields shoal defines (the audit table declares these columns).
# The denied* fields name what a refusal refused: the action, the resource and, for
# SQL, the table (``db.table``).
EXTRA_FIELDS = (
    "role",
    "roleMapping",
    "bytesScanned",
    "queryExecutionId",
    "deniedAction",
    "deniedResource",
    "deniedTable",
)
# A request that succeeded while refusing what it asked for (StartQueryExecution of a
# statement refused in SQL) says so in the record's own errorCode and errorMessage.
OUTCOME_FIELDS = ("errorCode", "errorMessage")
SQL_REFUSED = "AccessDenied"  # errorCode of the records of a statement refused in SQL
API_CALL = "AwsApiCall"
SERVICE_EVENT = "AwsServiceEvent"  # CloudTrail's eventType for events no caller sent
CATEGORY_MANAGEMENT = "Management"
CATEGORY_DATA = "Data"
# S3 object-level operations: CloudTrail's data events (eventCategory Data).
S3_DATA_EVENTS = frozenset(
    {
        "GetObject",
        "HeadObject",
        "PutObject",
        "CopyObject",
        "DeleteObject",
        "DeleteObjects",
        "GetObjectAttributes",
        "GetObjectAcl",
        "PutObjectAcl",
        "GetObjectTagging",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "ListParts",
        "RestoreObject",
        "SelectObjectContent",
    }
)

# A request field is dropped when its name says it holds a credential.
_SECRET_NAME = re.compile(
    r"secret|password|passwd|credential|signature|authorization|sessiontoken|"
    r"securitytoken|privatekey|apikey",
    re.IGNORECASE,
)
_OPERATION = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,127}$")
_PRESIGN_PREFIX = "x-amz-"  # presigned-URL parameters: credential, signature, date, …


@dataclass(frozen=True)
class Caller:
    """Who signed an authenticated request."""

    user_name: str
    access_key_id: str
    arn: str
    account_id: str


@dataclass(frozen=True)
class ApiCall:
    """The facts of one answered API request that its audit record is built from.

    ``body`` is the request body of the JSON-shaped and query protocols only: S3
    bodies are object data and never reach the audit trail. ``operation`` is what
    the request named (S3: by S3's model); ``params`` what a JSON-shaped request
    (JSON 1.1, rest-json, RPC v2 CBOR) was decoded into, None when it could not be
    (the body is read as JSON instead). ``claimed_key_id`` is the access key id a
    request that failed authentication claimed to be signed with.
    """

    protocol: str  # "json" | "rest-json" | "rpc-v2-cbor" | "query" | "s3"
    method: str
    path: str
    query: Sequence[tuple[str, str]]
    operation: str | None  # the operation named (by the target, URI or S3's model), if any
    request_id: str
    event_time: datetime
    region: str
    account_id: str
    caller: Caller | None = None
    claimed_key_id: str | None = None
    body: bytes | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    response_body: bytes | None = None
    service: str | None = None  # the SigV4 signing service (athena, glue, sts, iam, s3)
    params: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


# --- annotations: facts handlers know and the router does not -----------------------

_annotations: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "shoal_audit_annotations", default=None
)


@contextmanager
def collecting_annotations() -> Iterator[dict[str, Any]]:
    """Collect what code running for one request passes to ``annotate``.

    The dict is shared, not copied, so handlers run in a worker thread (which see a
    copy of the context) still add to it.
    """
    found: dict[str, Any] = {}
    token = _annotations.set(found)
    try:
        yield found
    finally:
        _annotations.reset(token)


def annotate(**facts: Any) -> None:
    """Add shoal's facts (``EXTRA_FIELDS``: ``role``, ``roleMapping``, ``bytesScanned``
    …) to the audit record of the request being handled, or its outcome
    (``errorCode``, ``errorMessage``) when it succeeded but refused what it asked.

    Outside a request (CLI, tests, query workers) this does nothing.
    """
    found = _annotations.get()
    if found is not None:
        found.update({k: v for k, v in facts.items() if k in EXTRA_FIELDS + OUTCOME_FIELDS})


# --- the record ------------------------------------------------------------------


def build_record(call: ApiCall) -> dict[str, Any]:
    """The CloudTrail record of ``call`` (every field present, null when unknown)."""
    source, name = event_source_and_name(call)
    s3_read = call.protocol == "s3" and call.method in ("GET", "HEAD")
    read_only = s3_read or name.startswith(READ_PREFIXES)
    code, message = call.error_code, call.error_message
    if code is None:  # answered, yet refused what it asked (a statement refused in SQL)
        code, message = call.extra.get("errorCode"), call.extra.get("errorMessage")
    data_event = source == SOURCE_S3 and name in S3_DATA_EVENTS
    return envelope(
        identity=user_identity(call),
        event_time=call.event_time,
        source=source,
        name=name,
        region=call.region,
        account_id=call.account_id,
        request_id=call.request_id,
        read_only=read_only,
        source_ip=call.source_ip,
        user_agent=_cap(call.user_agent) if call.user_agent else None,
        error_code=code,
        error_message=_message(message),
        request_parameters=request_parameters(call),
        response_elements=None if read_only else response_elements(call),
        additional=_extra(call.extra),
        resources=_s3_resources(call) if source == SOURCE_S3 else None,
        category=CATEGORY_DATA if data_event else CATEGORY_MANAGEMENT,
    )


def service_event(
    *,
    source: str,
    name: str,
    event_time: datetime,
    region: str,
    account_id: str,
    request_id: str,
    details: Mapping[str, Any],
    user_name: str | None = None,
    read_only: bool = False,
    error_code: str | None = None,
    error_message: str | None = None,
) -> dict[str, Any]:
    """The CloudTrail record of an event shoal itself caused (a query finishing, a
    quota threshold crossed, a crawler run ending): eventType ``AwsServiceEvent``,
    its facts in ``serviceEventDetails``, where CloudTrail puts a service event's.

    ``user_name`` is the user on whose behalf it happened (the query's user), so
    ``useridentity.username`` groups service events and API calls alike; without one
    the identity is the service itself (``AWSService``, ``invokedBy`` the source).
    """
    identity = _named_user(user_name, account_id) if user_name else _service_identity(source)
    return envelope(
        identity=identity,
        event_time=event_time,
        source=source,
        name=name,
        region=region,
        account_id=account_id,
        request_id=request_id,
        read_only=read_only,
        error_code=error_code,
        error_message=_message(error_message),
        event_type=SERVICE_EVENT,
        service_details=_bounded(scrub(dict(details))),
    )


CLI_READ_VERBS = frozenset({"list", "show", "get", "describe", "tail", "verify", "usage"})


def cli_record(
    *,
    command: Sequence[str],
    arguments: Mapping[str, Any],
    os_user: str,
    event_time: datetime,
    region: str,
    account_id: str,
    request_id: str,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The record of one ``shoal`` CLI command (``("quotas", "create")``): eventSource
    ``shoal``, eventName the command in CamelCase (``QuotasCreate``), its options in
    ``requestParameters`` (secrets scrubbed by name), and who ran it: the operating
    system user, acting with the data folder's full rights (``Root``)."""
    name = _operation("".join(word.title().replace("-", "") for word in command))
    identity = {
        "type": "Root",
        "principalId": f"cli:{os_user}",
        "arn": f"arn:aws:iam::{account_id}:root",
        "accountId": account_id,
        "accessKeyId": None,
        "userName": _cap(os_user, 128),
    }
    params = {k: v for k, v in arguments.items() if v is not None and v != ()}
    return envelope(
        identity=identity,
        event_time=event_time,
        source=SOURCE_SHOAL,
        name=name,
        region=region,
        account_id=account_id,
        request_id=request_id,
        read_only=bool(command) and command[-1] in CLI_READ_VERBS,
        source_ip="localhost",
        user_agent=CLI_USER_AGENT,
        error_code=error[0] if error else None,
        error_message=_message(error[1]) if error else None,
        request_parameters=_bounded(scrub(params)) if params else None,
    )


def envelope(
    *,
    identity: dict[str, Any],
    event_time: datetime,
    source: str,
    name: str,
    region: str,
    account_id: str,
    request_id: str,
    read_only: bool,
    source_ip: str | None = None,
    user_agent: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    request_parameters: dict[str, Any] | None = None,
    response_elements: dict[str, Any] | None = None,
    additional: dict[str, Any] | None = None,
    resources: list[dict[str, Any]] | None = None,
    event_type: str = API_CALL,
    category: str = CATEGORY_MANAGEMENT,
    service_details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every record's fields, in CloudTrail's order and spelling (the one place that
    names them: API calls and shoal's own events both come through here)."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": format_time(event_time),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "errorCode": error_code,
        "errorMessage": error_message,
        "requestParameters": request_parameters,
        "responseElements": response_elements,
        "additionalEventData": additional,
        "requestID": request_id,
        "eventID": str(uuid.uuid4()),
        "readOnly": read_only,
        "resources": resources,
        "eventType": event_type,
        "managementEvent": category == CATEGORY_MANAGEMENT,
        "recipientAccountId": account_id,
        "eventCategory": category,
    }
    if event_type == SERVICE_EVENT:
        record["serviceEventDetails"] = service_details
    return record


def format_time(moment: datetime) -> str:
    """CloudTrail's time format: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_identity(call: ApiCall) -> dict[str, Any]:
    """CloudTrail's userIdentity: Root for the admin, IAMUser for users, AssumedRole
    for role sessions; ``Unknown`` (with the claimed key id) when authentication
    failed."""
    caller = call.caller
    if caller is None:
        key = call.claimed_key_id
        return {
            "type": "Unknown",
            "principalId": None,
            "arn": None,
            "accountId": None,
            "accessKeyId": _cap(key, 128) if key else None,
            "userName": None,
        }
    if caller.arn.endswith(":root"):
        kind, principal_id = "Root", caller.account_id
    elif ":assumed-role/" in caller.arn:
        kind, principal_id = "AssumedRole", f"{caller.access_key_id}:{caller.user_name}"
    else:
        kind, principal_id = "IAMUser", caller.access_key_id
    return {
        "type": kind,
        "principalId": principal_id,
        "arn": caller.arn,
        "accountId": caller.account_id,
        "accessKeyId": caller.access_key_id,
        "userName": caller.user_name,
    }


def _named_user(user_name: str, account_id: str) -> dict[str, Any]:
    """An IAM user known by name only (service events on a user's behalf)."""
    return {
        "type": "IAMUser",
        "principalId": None,
        "arn": f"arn:aws:iam::{account_id}:user/{user_name}",
        "accountId": account_id,
        "accessKeyId": None,
        "userName": user_name,
    }


def _service_identity(source: str) -> dict[str, Any]:
    """CloudTrail's identity of a service acting on its own (``AWSService``)."""
    return {
        "type": "AWSService",
        "principalId": None,
        "arn": None,
        "accountId": None,
        "accessKeyId": None,
        "userName": None,
        "invokedBy": source,
    }


def event_source_and_name(call: ApiCall) -> tuple[str, str]:
    """The service and operation a request called (``("s3.amazonaws.com", "GetObject")``)."""
    if call.protocol == "query":
        action = _form(call.body).get("Action", "")
        return (SOURCE_IAM if call.service == "iam" else SOURCE_STS), _operation(action)
    if call.protocol == "s3":
        return SOURCE_S3, _operation(call.operation or "")
    # JSON 1.1, rest-json or RPC v2 CBOR: the router named the operation in any of them.
    return JSON_SOURCES.get(call.service or "", SOURCE_SHOAL), _operation(call.operation or "")


def request_parameters(call: ApiCall) -> dict[str, Any] | None:
    """What the caller asked for, without credentials, signatures or object data."""
    if call.protocol == "s3":
        params = _s3_parameters(call)
    elif call.protocol == "query":
        form = _form(call.body)
        params = {k: v for k, v in form.items() if k not in ("Action", "Version")}
    elif call.params is not None:
        params = dict(call.params)
    else:
        params = _json_object(call.body)
    return _bounded(scrub(params)) if params else None


def response_elements(call: ApiCall) -> dict[str, Any] | None:
    """A small, scrubbed part of a successful JSON answer (ids and names a write
    created); S3 and STS writes record none, as CloudTrail mostly does."""
    if call.error_code or call.protocol not in ("json", "rest-json"):
        return None
    body = _json_object(call.response_body)
    kept = {k: v for k, v in body.items() if isinstance(v, str | int | bool)}
    return _bounded(scrub(kept)) if kept else None


MAX_SCRUB_DEPTH = 32  # deeper request parameters are summarised, not recursed into
TRUNCATED_NESTING = "(nested too deep)"


def scrub(value: Any, depth: int = 0) -> Any:
    """``value`` with every field named like a secret replaced and strings capped.

    Nesting deeper than ``MAX_SCRUB_DEPTH`` becomes a placeholder: a hostile body
    nested thousands deep must not exhaust the stack while its request is audited.
    """
    if isinstance(value, Mapping | list) and depth >= MAX_SCRUB_DEPTH:
        return TRUNCATED_NESTING
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SECRET_NAME.search(str(k)) else scrub(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v, depth + 1) for v in value[:100]]
    if isinstance(value, str):
        return _cap(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _cap(str(value))


def _s3_parameters(call: ApiCall) -> dict[str, Any]:
    bucket, _, key = call.path.lstrip("/").partition("/")
    params: dict[str, Any] = {}
    if bucket:
        params["bucketName"] = _unquote(bucket)
    if key:
        params["key"] = _unquote(key)
    for name, value in call.query:
        # Presigned URLs carry their credential and signature as X-Amz-* parameters.
        if name.lower().startswith(_PRESIGN_PREFIX) or name in ("AWSAccessKeyId", "Signature"):
            continue
        params.setdefault(name, value)
    return params


def _s3_resources(call: ApiCall) -> list[dict[str, Any]] | None:
    """CloudTrail's ``resources`` of an S3 request: the object (if any), then the bucket."""
    bucket, _, key = call.path.lstrip("/").partition("/")
    if not bucket:
        return None
    bucket = _unquote(bucket)
    found = []
    if key:
        found.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{_unquote(key)}"})
    found.append(
        {"accountId": call.account_id, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}
    )
    return found


def _extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    data = {name: extra.get(name) for name in EXTRA_FIELDS}
    if extra.get("reconciled"):  # recorded after a crash, from its intent (audit.intents)
        data["reconciled"] = True
    bytes_scanned = data["bytesScanned"]
    data["bytesScanned"] = int(bytes_scanned) if bytes_scanned is not None else None
    return {k: _cap(str(v)) if isinstance(v, str) else v for k, v in data.items()}


def _bounded(params: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(params, default=str))
    if size <= MAX_PARAMETERS:
        return params
    return {"shoalTruncated": True, "originalSize": size, "keys": sorted(params)[:50]}


def _operation(name: str) -> str:
    return name if _OPERATION.match(name) else "UnknownOperation"


def _form(body: bytes | None) -> dict[str, str]:
    try:
        return dict(parse_qsl((body or b"").decode("utf-8"), max_num_fields=1000))
    except (UnicodeDecodeError, ValueError):
        return {}


def _json_object(body: bytes | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}  # the protocol layer has already refused such a body
    return value if isinstance(value, dict) else {}


def _unquote(text: str) -> str:
    return _cap(unquote(text))


def _message(text: str | None) -> str | None:
    return _cap(text, MAX_ERROR_MESSAGE) if text else None


def _cap(text: str, limit: int = MAX_STRING) -> str:
    return text if len(text) <= limit else text[:limit] + "...(truncated)"
