"""One port, several AWS protocols: tell them apart, authenticate, dispatch.

- ``POST /`` with ``X-Amz-Target: AmazonAthena.*`` / ``AWSGlue.*``: JSON 1.1.
- ``POST /`` with a form body (``Action=…``): the query protocol (STS, or IAM when
  the SigV4 scope names ``iam``).
- An unsigned ``GET /healthz``: the health check (a signed one is S3's bucket
  "healthz"; console routes will follow the same rule).
- Anything else: S3, path style.

Every request is authenticated (SigV4) before any handler runs, so a request that
fails authentication has no effect. The SigV4 scope must name the service the
protocol belongs to (``s3``, ``athena``, ``glue``, ``sts``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from shoal.api import iam, json_protocol, sts
from shoal.api.authorize import authorize_request
from shoal.api.context import JsonHandler, Principal, RequestContext
from shoal.api.errors import (
    ApiError,
    as_shoal_error,
    json_error,
    new_request_id,
    query_error,
    s3_error,
)
from shoal.api.s3 import S3Api, S3Request, split_path
from shoal.api.sigv4 import (
    HttpRequest,
    Payload,
    check_time,
    decode_payload,
    is_signed,
    needs_body_hash,
    parse_claim,
    verify_signature,
)
from shoal.app import Shoal
from shoal.auth.keys import user_arn
from shoal.errors import IncompleteSignatureError, InvalidAccessKeyIdError, ShoalError

log = logging.getLogger("shoal.api")

MAX_SMALL_BODY = 16 * 1024 * 1024  # JSON and query protocols
MAX_S3_BODY = 5 * 1024**3  # S3's single PUT limit; bodies are held in memory


@dataclass(frozen=True)
class Route:
    """Which protocol a request speaks and which SigV4 service must have signed it."""

    protocol: str  # "json" | "query" | "s3" | "health"
    service: str | None  # expected signing name; None: checked later (unknown target)


def classify(http: HttpRequest) -> Route:
    """The protocol of a request, from its method, path, target and content type."""
    target = http.header("x-amz-target")
    if http.method == "POST" and target is not None:
        service = json_protocol.SERVICES.get(target.partition(".")[0])
        return Route("json", service.model_name if service else None)
    content_type = (http.header("content-type") or "").lower()
    if (
        http.method == "POST"
        and http.raw_path in ("", "/")
        and content_type.startswith("application/x-www-form-urlencoded")
    ):
        return Route("query", _query_service(http))
    if http.method in ("GET", "HEAD") and http.raw_path == "/healthz" and not is_signed(http):
        return Route("health", None)
    return Route("s3", "s3")


# --- query protocol services (IAM, STS) -----------------------------------------------
# Both share POST / with a form body; only the SigV4 scope tells them apart.
QUERY_DISPATCH = {"sts": sts.dispatch, "iam": iam.dispatch}


def _query_service(http: HttpRequest) -> str:
    """The query-protocol service a request is signed for (STS unless it says IAM)."""
    try:
        service = parse_claim(http).service
    except ShoalError:
        return "sts"  # authentication then fails with the usual error
    return service if service in QUERY_DISPATCH else "sts"


# --- end of query protocol services ---------------------------------------------------


def http_request(request: Request) -> HttpRequest:
    """The signed parts of a Starlette request, as raw as the server gives them."""
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    headers = tuple(
        (k.decode("latin-1").lower(), v.decode("utf-8", "surrogateescape"))
        for k, v in scope["headers"]
    )
    return HttpRequest(
        method=request.method,
        raw_path=raw_path.decode("utf-8", "surrogateescape"),
        query=scope.get("query_string", b"").decode("utf-8", "surrogateescape"),
        headers=headers,
    )


class Router:
    """Authenticates every request and hands it to its protocol's handlers.

    Args:
        app: The shoal application.
        json_handlers: Handlers by X-Amz-Target prefix; by default loaded from
            ``shoal.api.athena`` / ``shoal.api.glue`` (``OPERATIONS``).
    """

    def __init__(
        self, app: Shoal, json_handlers: Mapping[str, Mapping[str, JsonHandler]] | None = None
    ) -> None:
        self.app = app
        self.s3 = S3Api(app)
        self.json_handlers = dict(json_handlers) if json_handlers is not None else {
            prefix: json_protocol.load_handlers(service)
            for prefix, service in json_protocol.SERVICES.items()
        }  # fmt: skip

    async def handle(self, request: Request) -> Response:
        """Answer one HTTP request (the endpoint of every route but none)."""
        started = time.perf_counter()
        request_id = new_request_id()
        http = http_request(request)
        route = classify(http)
        request.state.call = (request_id, http, route)  # for the audit hook (api/app.py)
        try:
            response = await self._handle(request, http, route, request_id)
        except Exception as exc:  # every failure becomes the protocol's error shape
            request.state.error = as_shoal_error(exc, request_id)
            response = self._error(request.state.error, route, http, request_id)
        elapsed = (time.perf_counter() - started) * 1000
        # Never the query string or headers: they may hold signatures.
        log.info(
            "%s %s %s %s -> %d (%.1f ms)",
            request_id, route.protocol, http.method, http.raw_path[:200],
            response.status_code, elapsed,
        )  # fmt: skip
        return response

    async def _handle(
        self, request: Request, http: HttpRequest, route: Route, request_id: str
    ) -> Response:
        if route.protocol == "health":
            return JSONResponse({"status": "ok"})
        limit = MAX_S3_BODY if route.protocol == "s3" else MAX_SMALL_BODY
        principal, payload = await self._authenticate(request, http, route.service, limit)
        request.state.principal, request.state.body = principal, payload.body  # for the audit
        ctx = RequestContext(
            app=self.app,
            principal=principal,
            request_id=request_id,
            source_ip=request.client.host if request.client else None,
            user_agent=http.header("user-agent"),
        )
        # Authorized before any handler runs, so a denied request has no side effect.
        request.state.authorization = await authorize_request(
            ctx, route.protocol, route.service, http, payload.body
        )
        if route.protocol == "json":
            service, operation = json_protocol.split_target(http.header("x-amz-target") or "")
            handlers = self.json_handlers.get(service.target_prefix, {})
            return await json_protocol.dispatch(ctx, service, operation, payload.body, handlers)
        if route.protocol == "query":
            dispatch = QUERY_DISPATCH[route.service or "sts"]
            return await run_in_threadpool(dispatch, ctx, payload.body)
        return await run_in_threadpool(self._s3, http, payload, request_id)

    def _s3(self, http: HttpRequest, payload: Payload, request_id: str) -> Response:
        bucket, key = split_path(http.raw_path)
        query: dict[str, str] = {}
        for name, value in http.query_pairs():
            query.setdefault(name, value)
        headers = {name: http.header(name) or "" for name, _ in http.headers}
        req = S3Request(
            http.method, bucket, key, query, headers, payload.body, request_id, payload.trailers
        )
        return self.s3.handle(req)

    async def _authenticate(
        self, request: Request, http: HttpRequest, service: str | None, limit: int
    ) -> tuple[Principal, Payload]:
        claim = parse_claim(http)
        if service is not None and claim.service != service:
            raise IncompleteSignatureError(
                f"Credential should be scoped to correct service: '{service}'."
            )
        identities = self.app.identities
        identity = await run_in_threadpool(identities.signing_identity, claim.access_key_id)
        if identity is None or not identity.usable:
            raise InvalidAccessKeyIdError(
                "The AWS Access Key Id you provided does not exist in our records."
            )
        check_time(claim)
        secret = identity.secret_access_key
        if needs_body_hash(claim):
            body = await _read_body(request, limit)
            key = verify_signature(http, claim, secret, hashlib.sha256(body).hexdigest())
        else:
            assert claim.payload_hash is not None
            key = verify_signature(http, claim, secret, claim.payload_hash)
            body = await _read_body(request, limit)
        payload = decode_payload(claim, key, body)
        _check_decoded_length(http, claim.payload_hash, payload)
        await run_in_threadpool(identities.record_use, claim.access_key_id)
        account = self.app.config.account_id
        principal = Principal(
            user_name=identity.user_name,
            access_key_id=identity.access_key_id,
            arn=user_arn(account, identity.user_name),
            account_id=account,
        )
        return principal, payload

    def _error(self, exc: ShoalError, route: Route, http: HttpRequest, request_id: str) -> Response:
        if route.protocol == "json":
            return json_error(exc, request_id)
        if route.protocol == "query":
            return query_error(exc, request_id)
        resource = http.raw_path[:1024]
        return s3_error(exc, request_id, resource, head=http.method == "HEAD")


def _check_decoded_length(http: HttpRequest, mode: str | None, payload: Payload) -> None:
    declared = http.header("x-amz-decoded-content-length")
    if declared is None or mode is None or not mode.startswith("STREAMING-"):
        return
    if not declared.isdigit() or int(declared) != len(payload.body):
        raise ApiError("IncompleteBody", "The body is not as long as x-amz-decoded-content-length")


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError("EntityTooLarge", f"The body is larger than {limit} bytes", 413)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError("IncompleteBody", "The client closed the connection mid-body") from None
    return b"".join(chunks)
