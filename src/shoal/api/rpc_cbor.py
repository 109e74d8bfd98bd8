"""Smithy RPC v2 CBOR, the protocol AWS moves services to next (CloudWatch speaks it).

A request is ``POST /service/<ServiceName>/operation/<Operation>`` with the header
``smithy-protocol: rpc-v2-cbor`` and a CBOR map as its body; the answer is a CBOR map
too, and an error one with ``__type`` and ``message``. ``ServiceName`` is the model's
``targetPrefix``. No service shoal serves speaks it in today's botocore, but every
one answers in it, so a service that moves needs no change here: requests are read
into the same JSON values as the other protocols, so validation and handlers are
shared (blobs and timestamps, native in CBOR, become base64 and epoch seconds).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import cbor2
from starlette.responses import Response

from shoal.api import json_protocol
from shoal.api.errors import ApiError, error_code
from shoal.api.json_protocol import JsonService, ServiceCall
from shoal.errors import ShoalError

PROTOCOL = "rpc-v2-cbor"
CONTENT_TYPE = "application/cbor"
HEADER = "smithy-protocol"
MAX_NESTING = 64  # deeper input is refused; cbor2 itself would recurse further


def split_path(raw_path: str) -> tuple[str, str]:
    """The service name (the model's targetPrefix) and operation a path names."""
    service, _, operation = raw_path.removeprefix("/service/").partition("/operation/")
    return service, operation


def service_for(service_name: str) -> JsonService | None:
    """The service a path names: Smithy's service name is the JSON 1.1 target prefix
    (``AmazonAthena``, ``AWSGlue``), as botocore's ``targetPrefix`` says for both."""
    return json_protocol.SERVICES.get(service_name)


def decode(service: JsonService, operation: str, body: bytes) -> ServiceCall:
    """The call a CBOR request makes, its values as the JSON protocols carry them."""
    json_protocol.operation_model(service.model_name, operation)
    if not body:
        return ServiceCall(service, operation, {})
    try:
        value = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError, RecursionError):
        raise ApiError("SerializationException", "Request body is not valid CBOR") from None
    if not isinstance(value, dict):
        raise ApiError("SerializationException", "Request body must be a CBOR map")
    return ServiceCall(service, operation, _as_json_values(value, 0))


def _as_json_values(value: Any, depth: int) -> Any:
    if depth > MAX_NESTING:
        raise ApiError("SerializationException", "Request body nests too deeply")
    if isinstance(value, dict):
        return {str(k): _as_json_values(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json_values(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def render(call: ServiceCall, result: Any, request_id: str) -> Response:
    """A handler's answer as a CBOR map."""
    body = cbor2.dumps(_cbor_values(result or {}), datetime_as_timestamp=True, timezone=UTC)
    return Response(body, media_type=CONTENT_TYPE, headers=_headers(request_id))


def _cbor_values(value: Any) -> Any:
    """``value`` with None members dropped and enums as their values; CBOR carries
    datetimes and bytes as they are."""
    if isinstance(value, dict):
        return {str(k): _cbor_values(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_cbor_values(v) for v in value]
    if isinstance(value, Enum):
        return _cbor_values(value.value)
    return value


def error(exc: ShoalError, request_id: str) -> Response:
    """The CBOR error response for ``exc``."""
    body = cbor2.dumps({"__type": error_code(exc, PROTOCOL), "message": exc.message})
    return Response(
        body, status_code=exc.status, media_type=CONTENT_TYPE, headers=_headers(request_id)
    )


def _headers(request_id: str) -> dict[str, str]:
    return {HEADER: PROTOCOL, "x-amzn-RequestId": request_id}
