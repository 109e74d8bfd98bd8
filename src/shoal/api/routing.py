"""Which protocol, service and operation a request speaks, and its answers' shapes.

One port carries every protocol botocore's models use for the services shoal serves:

- ``POST`` with ``X-Amz-Target: AmazonAthena.*`` / ``AWSGlue.*``: JSON 1.1.
- ``smithy-protocol: rpc-v2-cbor``: Smithy RPC v2 CBOR (``api/rpc_cbor.py``).
- ``POST /`` with a form body (``Action=…``): the query protocol (STS, or IAM when
  the SigV4 scope names ``iam``).
- An unsigned ``GET /healthz``: the health check (a signed one is S3's bucket).
- Signed for a JSON-shaped service (the SigV4 credential scope says ``athena``, …):
  rest-json, the operation found by the model's URI templates (``api/rest_json.py``).
- Anything else: S3, path style; its operation named by S3's model (``uri_routes``).

The JSON-shaped protocols decode a request into one ``ServiceCall`` and render the
handler's answer back in the protocol it came in (``decode_call``, ``render_call``);
``render_error`` gives any failure the shape its protocol expects.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.responses import Response

from shoal.api import iam, json_protocol, rest_json, rpc_cbor, sts
from shoal.api.context import Route
from shoal.api.errors import ApiError, json_error, query_error, rest_json_error, s3_error
from shoal.api.json_protocol import ServiceCall
from shoal.api.sigv4 import HttpRequest, SignatureClaim, is_signed, parse_claim
from shoal.api.uri_routes import Match, Routes
from shoal.errors import ShoalError

# Both query-protocol services share POST / with a form body; the SigV4 scope tells them apart.
QUERY_DISPATCH = {"sts": sts.dispatch, "iam": iam.dispatch}


def signature_claim(http: HttpRequest) -> SignatureClaim | None:
    """What a request's signature claims, or None when it is unsigned or malformed
    (authentication then fails with the usual error)."""
    try:
        return parse_claim(http)
    except ShoalError:
        return None


def classify(http: HttpRequest, claim: SignatureClaim | None = None) -> Route:
    """The route of a request, from its signature's scope (``claim``; None: unsigned),
    headers, method and path."""
    if http.method in ("GET", "HEAD") and http.raw_path == "/healthz" and not is_signed(http):
        return Route("health", None)
    target = http.header("x-amz-target")
    if http.method == "POST" and target is not None:
        service = json_protocol.SERVICES.get(target.partition(".")[0])
        return Route("json", service.model_name if service else None, target.partition(".")[2])
    if http.header(rpc_cbor.HEADER) == rpc_cbor.PROTOCOL:
        return _rpc_cbor_route(http)
    scope = claim.service if claim is not None else None
    if _is_form_post(http):
        return Route("query", scope if scope in QUERY_DISPATCH else "sts")
    if scope in json_protocol.BY_SIGNING_NAME:
        return _rest_json_route(http, scope)
    return Route("s3", "s3", _s3_operation(http))


def _is_form_post(http: HttpRequest) -> bool:
    content_type = (http.header("content-type") or "").lower()
    return (
        http.method == "POST"
        and http.raw_path in ("", "/")
        and content_type.startswith("application/x-www-form-urlencoded")
    )


def _rest_json_route(http: HttpRequest, service: str) -> Route:
    routes = rest_json.routes(service)
    match = _match(routes, http) if routes else None
    if match is None:
        return Route(rest_json.PROTOCOL, service)
    return Route(rest_json.PROTOCOL, service, match.operation, match.labels)


@cache
def _s3_routes() -> Routes:
    return Routes(json_protocol.service_model("s3"))


def _s3_operation(http: HttpRequest) -> str | None:
    """The S3 operation a path-style request names, by S3's model (None: none does)."""
    match = _match(_s3_routes(), http)
    return match.operation if match else None


def _match(routes: Routes, http: HttpRequest) -> Match | None:
    keys = (name for name, _ in http.query_pairs())
    headers = (name for name, _ in http.headers)
    return routes.match(http.method, http.raw_path, keys, headers)


def _rpc_cbor_route(http: HttpRequest) -> Route:
    prefix, operation = rpc_cbor.split_path(http.raw_path)
    service = rpc_cbor.service_for(prefix)
    return Route(rpc_cbor.PROTOCOL, service.model_name if service else None, operation or None)


def decode_call(route: Route, http: HttpRequest, body: bytes) -> ServiceCall:
    """The operation a JSON-shaped request calls, with its parameters as JSON values.

    Raises:
        ApiError: no such operation, or a body that is not the protocol's.
    """
    if route.protocol == "json":
        return json_protocol.decode(http.header("x-amz-target") or "", body)
    service = json_protocol.BY_SIGNING_NAME.get(route.service or "")
    if route.protocol == rest_json.PROTOCOL:
        if service is None or route.operation is None:
            raise rest_json.unknown_operation(http)
        match = Match(route.operation, route.labels)
        return rest_json.decode(service, match, http, body)
    if service is None or route.operation is None:
        raise ApiError("UnknownOperationException", f"Unknown operation {http.raw_path[:200]!r}")
    return rpc_cbor.decode(service, route.operation, body)


def render_call(route: Route, call: ServiceCall, result: Any, request_id: str) -> Response:
    """A handler's answer in the protocol its request came in."""
    if route.protocol == rest_json.PROTOCOL:
        return rest_json.render(call, result, request_id)
    if route.protocol == rpc_cbor.PROTOCOL:
        return rpc_cbor.render(call, result, request_id)
    return json_protocol.render(result, request_id)


def render_error(exc: ShoalError, route: Route, http: HttpRequest, request_id: str) -> Response:
    """``exc`` in the shape the request's protocol expects."""
    if route.protocol == "json":
        return json_error(exc, request_id)
    if route.protocol == rest_json.PROTOCOL:
        return rest_json_error(exc, request_id)
    if route.protocol == rpc_cbor.PROTOCOL:
        return rpc_cbor.error(exc, request_id)
    if route.protocol == "query":
        return query_error(exc, request_id)
    return s3_error(exc, request_id, http.raw_path[:1024], head=http.method == "HEAD")
