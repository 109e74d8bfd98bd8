"""One port, several AWS protocols: authenticate, then dispatch (``api/routing.py``
tells the protocols apart and shapes their answers).

Every request is authenticated (SigV4) before any handler runs, so a request that
fails authentication has no effect. The SigV4 scope must name the service the
protocol belongs to (``s3``, ``athena``, ``glue``, ``sts``, ``iam``).

Blocking work (the key lookup, authorization, the handler) runs on a worker thread,
in one trip per request for the JSON-shaped and query protocols: a trip between
threads costs more than most of what is done there. S3 takes two, to look the key up
before reading a body that may be gigabytes.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.datastructures import State
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from shoal.api import json_protocol
from shoal.api.authorize import check_request
from shoal.api.context import JsonHandler, Principal, RequestContext, Route
from shoal.api.errors import JSON_PROTOCOLS, ApiError, as_shoal_error, new_request_id
from shoal.api.long_poll import FinalWaiter, waits
from shoal.api.routing import (
    QUERY_DISPATCH,
    classify,
    decode_call,
    render_call,
    render_error,
    signature_claim,
)
from shoal.api.s3 import S3Api, S3Request, split_path
from shoal.api.sigv4 import (
    HttpRequest,
    Payload,
    SignatureClaim,
    check_time,
    decode_payload,
    needs_body_hash,
    parse_claim,
    verify_signature,
)
from shoal.app import Shoal
from shoal.auth.keys import SigningIdentity, user_arn
from shoal.errors import IncompleteSignatureError, InvalidAccessKeyIdError, ShoalError

log = logging.getLogger("shoal.api")

MAX_SMALL_BODY = 16 * 1024 * 1024  # JSON and query protocols
MAX_S3_BODY = 5 * 1024**3  # S3's single PUT limit; bodies are held in memory
WORKER_THREADS = 40  # requests handled at once (as many as Starlette's thread pool)

T = TypeVar("T")


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
        json_handlers: Handlers of the JSON-shaped services, by X-Amz-Target prefix;
            by default loaded from ``shoal.api.athena`` / ``shoal.api.glue``
            (``OPERATIONS``), whichever protocol a request comes in.
    """

    def __init__(
        self, app: Shoal, json_handlers: Mapping[str, Mapping[str, JsonHandler]] | None = None
    ) -> None:
        self.app = app
        self.s3 = S3Api(app)
        # Handlers block (database, storage): they run here, never on the event loop.
        self._workers = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="shoal-api")
        self.json_handlers = dict(json_handlers) if json_handlers is not None else {
            prefix: json_protocol.load_handlers(service)
            for prefix, service in json_protocol.SERVICES.items()
        }  # fmt: skip

    async def handle(self, request: Request) -> Response:
        """Answer one HTTP request (the endpoint of every route but none)."""
        started = time.perf_counter()
        request_id = new_request_id()
        http = http_request(request)
        claim = signature_claim(http)  # parsed once: the route and the check both need it
        route = classify(http, claim)
        request.state.call = (request_id, http, route)  # for the audit hook (api/app.py)
        try:
            response = await self._handle(request, http, route, request_id, claim)
        except Exception as exc:  # every failure becomes the protocol's error shape
            request.state.error = as_shoal_error(exc, request_id)
            response = render_error(request.state.error, route, http, request_id)
        elapsed = (time.perf_counter() - started) * 1000
        # Never the query string or headers: they may hold signatures.
        log.info(
            "%s %s %s %s -> %d (%.1f ms)",
            request_id, route.protocol, http.method, http.raw_path[:200],
            response.status_code, elapsed,
        )  # fmt: skip
        return response

    async def _handle(
        self,
        request: Request,
        http: HttpRequest,
        route: Route,
        request_id: str,
        claim: SignatureClaim | None,
    ) -> Response:
        if route.protocol == "health":
            return JSONResponse({"status": "ok"})
        if claim is None:
            claim = parse_claim(http)  # raises the protocol's authentication error
        if route.service is not None and claim.service != route.service:
            raise IncompleteSignatureError(
                f"Credential should be scoped to correct service: '{route.service}'."
            )
        call = _Call(request.state, http, route, request_id, claim, _client_host(request))
        if route.protocol == "s3":
            return await self._s3_request(request, call)
        # JSON-shaped and query protocols: small bodies, so read first, then one
        # worker-thread trip for the key lookup, signature, authorization and handler.
        body = await _read_body(request, MAX_SMALL_BODY)
        waiter = None
        queries = self.app.queries_if_started  # none yet: no query runs here to wait for
        if queries is not None and waits(route):
            waiter = FinalWaiter.register(queries, _query_execution_id(route, http, body))
        response = await self._in_thread(self._small_request, call, body)
        if waiter is not None:
            # Long poll (api/long_poll.py): a query running here is awaited, no thread held.
            if response.status_code == 200 and await waiter.wait():
                response = await self._in_thread(self._small_request, call, body)
            waiter.close()
        return response

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on a worker thread, in a copy of this request's context
        (the audit annotations and the authorized caller live there)."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._workers, context.run, function, *args)

    def _small_request(self, call: _Call, body: bytes) -> Response:
        identity = self._identity(call.claim)
        payload = _verified(call.http, call.claim, identity.secret_access_key, body)
        return self._authorized(call, identity, payload)

    async def _s3_request(self, request: Request, call: _Call) -> Response:
        """S3 bodies may be gigabytes: read one only for a key that exists and, when
        the signature does not cover the body's hash, once the signature holds."""
        claim, http = call.claim, call.http
        if not _may_have_body(http):
            # GET, HEAD, DELETE…: nothing to hold back, so one worker-thread trip for
            # the key lookup, signature, authorization and the handler (~0.15 ms less).
            body = await _read_body(request, MAX_SMALL_BODY)
            return await self._in_thread(self._small_request, call, body)
        identity = await self._in_thread(self._identity, claim)
        check_time(claim)
        secret = identity.secret_access_key
        if needs_body_hash(claim):
            body = await _read_body(request, MAX_S3_BODY)
            key = verify_signature(http, claim, secret, hashlib.sha256(body).hexdigest())
        else:
            assert claim.payload_hash is not None
            key = verify_signature(http, claim, secret, claim.payload_hash)
            body = await _read_body(request, MAX_S3_BODY)
        payload = decode_payload(claim, key, body)
        _check_decoded_length(http, claim.payload_hash, payload)
        return await self._in_thread(self._authorized, call, identity, payload)

    def _identity(self, claim: SignatureClaim) -> SigningIdentity:
        identity = self.app.identities.signing_identity(claim.access_key_id)
        if identity is None or not identity.usable:
            raise InvalidAccessKeyIdError(
                "The AWS Access Key Id you provided does not exist in our records."
            )
        return identity

    def _authorized(self, call: _Call, identity: SigningIdentity, payload: Payload) -> Response:
        """Authorize an authenticated request, then answer it (on a worker thread)."""
        self.app.identities.record_use(identity.access_key_id)
        account = self.app.config.account_id
        principal = Principal(
            user_name=identity.user_name,
            access_key_id=identity.access_key_id,
            arn=user_arn(account, identity.user_name),
            account_id=account,
            is_admin=identity.is_admin,
        )
        call.state.principal, call.state.body = principal, payload.body  # for the audit
        http, route = call.http, call.route
        ctx = RequestContext(
            app=self.app,
            principal=principal,
            request_id=call.request_id,
            source_ip=call.source_ip,
            user_agent=http.header("user-agent"),
        )
        service_call = None
        if route.protocol in JSON_PROTOCOLS:
            service_call = call.state.service_call = decode_call(route, http, payload.body)
        # Authorized before any handler runs, so a denied request has no side effect.
        call.state.authorization = check_request(ctx, route, http, payload.body, service_call)
        if service_call is not None:
            handlers = self.json_handlers.get(service_call.service.target_prefix, {})
            result = json_protocol.run(ctx, service_call, handlers)
            return render_call(route, service_call, result, call.request_id)
        if route.protocol == "query":
            return QUERY_DISPATCH[route.service or "sts"](ctx, payload.body)
        return self._s3(http, payload, call.request_id, route.operation)

    def _s3(
        self, http: HttpRequest, payload: Payload, request_id: str, operation: str | None
    ) -> Response:
        bucket, key = split_path(http.raw_path)
        query: dict[str, str] = {}
        for name, value in http.query_pairs():
            query.setdefault(name, value)
        headers = {name: http.header(name) or "" for name, _ in http.headers}
        req = S3Request(
            http.method,
            bucket,
            key,
            query,
            headers,
            payload.body,
            request_id,
            payload.trailers,
            operation,
        )
        return self.s3.handle(req)


@dataclass(frozen=True)
class _Call:
    """One request on its way through the router."""

    state: State  # request.state: what the audit hook reads afterwards
    http: HttpRequest
    route: Route
    request_id: str
    claim: SignatureClaim
    source_ip: str | None


def _query_execution_id(route: Route, http: HttpRequest, body: bytes) -> str | None:
    """The execution a GetQueryExecution asks about; None when its request is
    malformed (the handler answers that, after authentication)."""
    try:
        value = decode_call(route, http, body).params.get("QueryExecutionId")
    except ShoalError:
        return None
    return value if isinstance(value, str) else None


def _client_host(request: Request) -> str | None:
    return request.client.host if request.client else None


def _verified(http: HttpRequest, claim: SignatureClaim, secret: str, body: bytes) -> Payload:
    """The payload of a request whose whole body is at hand, once its signature holds."""
    check_time(claim)
    declared = claim.payload_hash
    payload_hash = hashlib.sha256(body).hexdigest() if declared is None else declared
    key = verify_signature(http, claim, secret, payload_hash)
    payload = decode_payload(claim, key, body)
    _check_decoded_length(http, claim.payload_hash, payload)
    return payload


def _may_have_body(http: HttpRequest) -> bool:
    length = http.header("content-length")
    return http.header("transfer-encoding") is not None or (length is not None and length != "0")


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
