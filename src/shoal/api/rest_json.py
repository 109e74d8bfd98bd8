"""The rest-json protocol: each operation has a method and a URI template of its own.

botocore 1.44.18 moved Athena here (``POST /query-executions``, ``GET
/workgroups/{WorkGroup}``, …). The model says where each input member travels: a
``uri`` label of the template, the ``querystring``, a ``header`` (or a ``headers``
prefix), or the JSON body (every other member, or the one ``payload`` member). A
request is read back into the JSON values JSON 1.1 would have carried, so validation
and handlers are the same for both. Answers put output members with a ``header``
location in headers and the rest in the JSON body; errors name their code in
``x-amzn-errortype``.

Which service a request is for comes from its SigV4 credential scope (the router);
which operation, from the model's URI templates (``api/uri_routes.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from typing import Any

from botocore.model import ServiceModel, Shape
from starlette.responses import Response

from shoal.api import json_protocol
from shoal.api.errors import ApiError
from shoal.api.json_protocol import JsonService, ServiceCall
from shoal.api.sigv4 import HttpRequest
from shoal.api.uri_routes import Match, Routes

PROTOCOL = "rest-json"
CONTENT_TYPE = "application/json"
_DEFAULT_TIME_FORMATS = {"querystring": "iso8601", "header": "rfc822", "uri": "iso8601"}


def speaks_rest_json(model: ServiceModel) -> bool:
    """Whether a model describes its service's rest-json bindings."""
    protocols = model.metadata.get("protocols") or [model.metadata.get("protocol")]
    return PROTOCOL in protocols


@cache
def routes(service: str) -> Routes | None:
    """The URI templates of ``service``, or None when its model is not rest-json."""
    model = json_protocol.service_model(service)
    return Routes(model) if speaks_rest_json(model) else None


# --- requests -------------------------------------------------------------------------


def decode(service: JsonService, match: Match, http: HttpRequest, body: bytes) -> ServiceCall:
    """The call a rest-json request makes, its members gathered from where they travel."""
    model = json_protocol.operation_model(service.model_name, match.operation)
    shape = model.input_shape
    if shape is None:
        return ServiceCall(service, match.operation, {})
    reader = _Reader(service, http, match.labels)
    params: dict[str, Any] = {}
    body_members = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location is None:
            body_members[name] = member
            continue
        value = reader.read(name, member, location)
        if value is not None:
            params[name] = value
    payload = shape.serialization.get("payload")
    if payload is not None:
        value = _payload(shape.members[payload], body)
        if value is not None:
            params[payload] = value
    else:
        params.update(_body(service, body_members, body))
    return ServiceCall(service, match.operation, params)


def _payload(member: Shape, body: bytes) -> Any:
    if member.type_name == "structure":
        return json_protocol.parse_body(body) if body.strip() else None
    if member.type_name == "blob":
        return base64.b64encode(body).decode() if body else None
    return body.decode("utf-8", "replace") if body else None


def _body(service: JsonService, members: Mapping[str, Shape], body: bytes) -> dict[str, Any]:
    values = json_protocol.parse_body(body)
    for name in values:
        if name not in members:
            raise _invalid(service, name, "is not a body field of this operation; refused")
    return values


class _Reader:
    """Reads the members that travel outside the body, as JSON values."""

    def __init__(self, service: JsonService, http: HttpRequest, labels: Mapping[str, str]):
        self.service = service
        self.http = http
        self.labels = labels
        self.query: dict[str, list[str]] = {}
        for key, value in http.query_pairs():
            self.query.setdefault(key, []).append(value)

    def read(self, name: str, member: Shape, location: str) -> Any:
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            text = self.labels.get(wire_name)
            return None if text is None else self.scalar(name, member, text, location)
        if location == "querystring":
            return self._query(name, member, wire_name)
        if location == "header":
            return self._header(name, member, wire_name)
        if location == "headers":
            prefix = wire_name.lower()
            found = {k[len(prefix) :]: v for k, v in self.http.headers if k.startswith(prefix)}
            return found or None
        return None  # statusCode and the like: output only

    def _query(self, name: str, member: Shape, wire_name: str) -> Any:
        if member.type_name == "map":
            return {k: v[0] for k, v in self.query.items()} or None
        values = self.query.get(wire_name)
        if not values:
            return None
        if member.type_name == "list":
            item = member.member  # type: ignore[attr-defined]
            return [self.scalar(name, item, value, "querystring") for value in values]
        return self.scalar(name, member, values[0], "querystring")

    def _header(self, name: str, member: Shape, wire_name: str) -> Any:
        text = self.http.header(wire_name.lower())
        if text is None:
            return None
        if member.type_name == "list":
            item = member.member  # type: ignore[attr-defined]
            return [self.scalar(name, item, part.strip(), "header") for part in text.split(",")]
        if member.serialization.get("jsonvalue"):
            try:
                return json.loads(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError):
                raise _invalid(self.service, name, "is not base64-encoded JSON") from None
        return self.scalar(name, member, text, "header")

    def scalar(self, name: str, shape: Shape, text: str, location: str) -> Any:
        """``text`` as the JSON value of a ``shape``; a clear error when it is not one."""
        kind = shape.type_name
        try:
            if kind in ("integer", "long"):
                if not re.fullmatch(r"[+-]?\d{1,20}", text):
                    raise ValueError
                return int(text)
            if kind in ("float", "double"):
                return float(text)
            if kind == "boolean":
                return {"true": True, "false": False}[text]
            if kind == "timestamp":
                style = (
                    shape.serialization.get("timestampFormat") or _DEFAULT_TIME_FORMATS[location]
                )
                return _epoch(text, style)
        except (ValueError, KeyError, OverflowError, TypeError):
            raise _invalid(self.service, name, f"is not a valid {kind}: {text[:100]!r}") from None
        return text


def _epoch(text: str, style: str) -> float:
    if style == "unixTimestamp":
        return float(text)
    when = parsedate_to_datetime(text) if style == "rfc822" else datetime.fromisoformat(text)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _invalid(service: JsonService, name: str, why: str) -> ApiError:
    """The service's validation error, worded as the model's validator words it."""
    return json_protocol.Validator(service.validation_code).fail(name, why)


def unknown_operation(http: HttpRequest) -> ApiError:
    """The error for a request no template of its service matches."""
    path = http.raw_path[:200]
    return ApiError("UnknownOperationException", f"No operation at {http.method} {path}", 404)


# --- answers --------------------------------------------------------------------------


def render(call: ServiceCall, result: Any, request_id: str) -> Response:
    """A handler's answer: header members in headers, the rest as the JSON body."""
    model = json_protocol.operation_model(call.service.model_name, call.operation)
    status = int(model.http.get("responseCode", 200))
    shape = model.output_shape
    if shape is None or not isinstance(result, dict):
        return json_protocol.render(result or {}, request_id, CONTENT_TYPE, status)
    body, headers = dict(result), {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location is None or name not in body:
            continue
        value = body.pop(name)
        wire_name = member.serialization.get("name", name)
        if location == "header" and value is not None:
            headers[wire_name] = _header_text(member, value)
        elif location == "headers" and isinstance(value, dict):
            headers.update({f"{wire_name}{k}": str(v) for k, v in value.items()})
        elif location == "statusCode" and isinstance(value, int):
            status = value
    payload = shape.serialization.get("payload")
    answer = body.get(payload) if payload else body
    return json_protocol.render(answer or {}, request_id, CONTENT_TYPE, status, headers)


def _header_text(member: Shape, value: Any) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return format_datetime(aware.astimezone(UTC), usegmt=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if member.serialization.get("jsonvalue"):
        return base64.b64encode(json_protocol.encode_json(value)).decode()
    return str(value)
