"""Errors on the wire: one ShoalError, rendered as each protocol expects.

- JSON 1.1 (Athena, Glue): ``{"__type": code, "message": msg}``.
- rest-json (Athena since botocore 1.44.18): the code in ``x-amzn-errortype``, the
  status code, and ``{"message": msg}``; Smithy RPC v2 CBOR: the same in CBOR
  (``api/rpc_cbor.py``). All three use the JSON services' error codes.
- S3 (rest-xml): ``<Error><Code/><Message/><Resource/><RequestId/></Error>``.
- Query (STS, IAM): ``<ErrorResponse><Error><Type/><Code/><Message/></Error>…``.

Errors shoal did not raise on purpose become a 500 with a generic message; the
traceback goes to the server log, never to the client.
"""

from __future__ import annotations

import json
import logging
import uuid
from xml.sax.saxutils import escape

from starlette.responses import Response

from shoal.errors import (
    DISK_FULL_MESSAGE,
    AuthenticationError,
    InsufficientStorageError,
    InvalidInputError,
    ShoalError,
    is_disk_full,
)

log = logging.getLogger("shoal.api")

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
XML_CONTENT_TYPE = "application/xml"
INTERNAL_MESSAGE = "We encountered an internal error. Please try again."

# ShoalError codes that S3 spells differently.
_S3_CODES = {"InvalidInputException": "InvalidArgument"}


class ApiError(ShoalError):
    """An error that exists only on the wire (a protocol's own complaint).

    Args:
        code: The AWS error code.
        message: Why.
        status: HTTP status.
        headers: Extra response headers (S3's Content-Range of a 416, say).
    """

    def __init__(
        self, code: str, message: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.headers = headers or {}


def new_request_id() -> str:
    """A fresh request id (AWS's JSON services use UUIDs)."""
    return str(uuid.uuid4())


def as_shoal_error(exc: Exception, request_id: str) -> ShoalError:
    """``exc`` itself if shoal raised it on purpose; a full disk as 507
    InsufficientStorage; else a logged, generic 500."""
    if isinstance(exc, ApiError | InsufficientStorageError) or (
        isinstance(exc, ShoalError) and exc.status < 500
    ):
        return exc  # ApiErrors are deliberate, 501 NotImplemented included
    if is_disk_full(exc):
        log.warning("request %s: disk full (%s)", request_id, exc)
        return InsufficientStorageError(DISK_FULL_MESSAGE)
    log.error("request %s failed", request_id, exc_info=exc)
    return ApiError("InternalFailure", INTERNAL_MESSAGE, 500)


def _deliberate(exc: ShoalError) -> bool:
    """A 5xx that is an answer, not a failure: its code goes out as it is (503
    SlowDown, 507 InsufficientStorage)."""
    return exc.code in _ANSWERED_5XX


_ANSWERED_5XX = frozenset({"SlowDown", "InsufficientStorage"})


# The JSON-shaped protocols: one decoded call each, errors named as JSON 1.1 names them.
JSON_PROTOCOLS = frozenset({"json", "rest-json", "rpc-v2-cbor"})


def error_code(exc: ShoalError, protocol: str) -> str:
    """The code ``exc`` has in ``protocol`` ("json", "rest-json", "rpc-v2-cbor",
    "s3" or "query")."""
    if protocol in JSON_PROTOCOLS:
        protocol = "json"
    if isinstance(exc, AuthenticationError):
        return exc.code_for(protocol)
    if protocol == "s3":
        if exc.status >= 500 and not isinstance(exc, ApiError) and not _deliberate(exc):
            return "InternalError"
        return _S3_CODES.get(exc.code, exc.code)
    if protocol == "json" and exc.status >= 500 and not _deliberate(exc):
        return "InternalServerException"
    return exc.code


def json_error(exc: ShoalError, request_id: str, code: str | None = None) -> Response:
    """The JSON 1.1 error response for ``exc``."""
    body = {"__type": code or error_code(exc, "json"), "message": exc.message}
    return Response(
        json.dumps(body),
        status_code=exc.status,
        media_type=JSON_CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id},
    )


def rest_json_error(exc: ShoalError, request_id: str) -> Response:
    """The rest-json error response for ``exc``: code in ``x-amzn-errortype``."""
    code = error_code(exc, "rest-json")
    return Response(
        json.dumps({"message": exc.message}),
        status_code=exc.status,
        media_type="application/json",
        headers={"x-amzn-errortype": code, "x-amzn-RequestId": request_id},
    )


def s3_error(exc: ShoalError, request_id: str, resource: str = "", head: bool = False) -> Response:
    """The S3 XML error document for ``exc`` (no body for HEAD requests)."""
    code = error_code(exc, "s3")
    status = 400 if isinstance(exc, InvalidInputError) and exc.status == 400 else exc.status
    headers = {"x-amz-request-id": request_id}
    if isinstance(exc, ApiError):
        headers.update(exc.headers)
    if head:
        return Response(status_code=status, headers=headers)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(exc.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    )
    return Response(body, status_code=status, media_type=XML_CONTENT_TYPE, headers=headers)


def query_error(exc: ShoalError, request_id: str) -> Response:
    """The query-protocol (STS, IAM) error document for ``exc``."""
    code = error_code(exc, "query")
    kind = "Receiver" if exc.status >= 500 else "Sender"
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(exc.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Response(
        body,
        status_code=exc.status,
        media_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )
