"""One port, several AWS protocols: authenticate, then dispatch (``api/routing.py``
tells the protocols apart and shapes their answers).

Every request is authenticated (SigV4) before any handler runs, so a request that
fails authentication has no effect. The SigV4 scope must name the service the
protocol belongs to (``s3``, ``athena``, ``glue``, ``sts``, ``iam``).

Blocking work (the key lookup, authorization, the handler) runs on a worker thread,
in one trip per request when the body came with the headers: a trip between threads
costs more than most of what is done there. A larger body is read only after a first
trip has found the key (``api/bodies.py`` bounds every body: size, time, memory);
object data streams through the handler in pieces, never held whole.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shoal.api import json_protocol
from shoal.api.authorize import check_request
from shoal.api.bodies import (
    MAX_OBJECT_BODY,
    MAX_SMALL_BODY,
    BodyBudget,
    BodyReader,
    BodyStream,
    check_declared,
)
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
    check_payload_mode,
    check_time,
    decode_payload,
    decode_stream,
    is_streaming,
    parse_claim,
    verify_signature,
)
from shoal.app import Shoal
from shoal.auth.keys import SigningIdentity, user_arn
from shoal.errors import IncompleteSignatureError, InvalidAccessKeyIdError, ShoalError

log = logging.getLogger("shoal.api")

SMALL_READ = 64 * 1024  # a body this small arrives with its headers (one socket read)
DRAIN_LIMIT = 32 * 1024 * 1024  # an unread body larger than this ends its connection
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
        self.budget = BodyBudget(app.config.body_bytes_in_flight)
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
            # The state outlives the answer (a kept-alive connection holds it), and a
            # traceback holds every frame's locals: a body read in part, say.
            exc.__traceback__ = None
        if not getattr(request.state, "body_read", False) and _not_worth_draining(http):
            response.headers["Connection"] = "close"
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
        check_payload_mode(claim)
        call = _Call(request.state, http, route, request_id, claim, _client_host(request))
        streams = route.protocol == "s3" and _streams_object(route, http, claim)
        limit = MAX_OBJECT_BODY if streams else MAX_SMALL_BODY
        reader = BodyReader(request, self.budget, self.app.config.body_timeout_seconds, limit)
        try:
            if streams:
                return await self._streamed(call, reader)
            return await self._buffered(call, reader)
        finally:
            request.state.body_read = reader.finished
            reader.release()

    async def _buffered(self, call: _Call, reader: BodyReader) -> Response:
        """A request whose body is small enough to hold: read it, then one worker-thread
        trip for the key lookup, signature, authorization and handler.

        A body that cannot be at hand with its headers (declared larger than one read,
        or awaiting ``100-continue``) is read only once the key is known, its scope
        and date hold and its declared size is within the limit: a stranger makes the
        server hold no more than the socket buffers anyway."""
        http = call.http
        if _may_have_body(http) and not _arrives_with_headers(http):
            identity = await self._in_thread(self._identity, call.claim)
            check_time(call.claim)
            check_declared(http, reader.limit)
            body = await reader.read_all()
            return await self._in_thread(self._known_request, call, identity, body)
        check_declared(http, reader.limit)
        body = await reader.read_all() if _may_have_body(http) else b""
        return await self._answer(call, body)

    async def _answer(self, call: _Call, body: bytes) -> Response:
        waiter = None
        queries = self.app.queries_if_started  # none yet: no query runs here to wait for
        if queries is not None and waits(call.route):
            waiter = FinalWaiter.register(queries, _query_execution_id(call.route, call.http, body))
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
        return self._known_request(call, self._identity(call.claim), body)

    def _known_request(self, call: _Call, identity: SigningIdentity, body: bytes) -> Response:
        payload = _verified(call.http, call.claim, identity.secret_access_key, body)
        return self._authorized(call, identity, payload)

    async def _streamed(self, call: _Call, reader: BodyReader) -> Response:
        """Object data (PutObject, UploadPart): the key, date, scope and signature are
        checked from the headers alone; then the body streams through the handler in
        pieces, its hash, chunk signatures and checksums checked as it goes."""
        claim, http = call.claim, call.http
        identity = await self._in_thread(self._identity, claim)
        check_time(claim)
        assert claim.payload_hash is not None  # _streams_object saw to it
        key = verify_signature(http, claim, identity.secret_access_key, claim.payload_hash)
        check_declared(http, reader.limit)
        stream = BodyStream(reader, asyncio.get_running_loop())
        return await self._in_thread(self._stream_request, call, identity, key, stream)

    def _stream_request(
        self, call: _Call, identity: SigningIdentity, key: bytes, stream: BodyStream
    ) -> Response:
        trailers: dict[str, str] = {}
        pieces = decode_stream(call.claim, key, stream, trailers)
        if is_streaming(call.claim):
            pieces = _decoded_length_checked(call.http, pieces)
        return self._authorized(call, identity, Payload(b"", trailers), pieces)

    def _identity(self, claim: SignatureClaim) -> SigningIdentity:
        identity = self.app.identities.signing_identity(claim.access_key_id)
        if identity is None or not identity.usable:
            raise InvalidAccessKeyIdError(
                "The AWS Access Key Id you provided does not exist in our records."
            )
        return identity

    def _authorized(
        self,
        call: _Call,
        identity: SigningIdentity,
        payload: Payload,
        stream: Iterator[bytes] | None = None,
    ) -> Response:
        """Authorize an authenticated request, then answer it (on a worker thread).

        ``stream``: the object data of a streamed S3 request, still to be read."""
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
        return self._s3(http, payload, call.request_id, route.operation, stream)

    def _s3(
        self,
        http: HttpRequest,
        payload: Payload,
        request_id: str,
        operation: str | None,
        stream: Iterator[bytes] | None,
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
            stream,
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


def _not_worth_draining(http: HttpRequest) -> bool:
    """Whether a request answered before its body was read should end its connection.

    The server reads and drops an unread body to keep the connection (the client then
    reads the answer as it expects to). Not a body that will never come (its client
    awaits ``100 Continue``, never sent: it would be misread as the next request), nor
    one too large to be worth reading for nothing. A client that sent ``Expect:
    100-continue`` and got a final answer instead ends the connection even with no
    body: botocore 1.40 (a year old; 1.44 does not) keeps that early answer's status line for the
    connection's next response (a 404 answered a later PutObject that succeeded).
    """
    if http.header("expect") is not None:
        return True
    if not _may_have_body(http):
        return False
    length = http.header("content-length")
    return length is None or not length.isdigit() or int(length) > DRAIN_LIMIT


def _arrives_with_headers(http: HttpRequest) -> bool:
    """Whether the body is small enough to come in the reads that brought the headers
    (the server's socket buffer holds that much whatever is done with it)."""
    length = http.header("content-length")
    return (
        http.header("expect") is None
        and length is not None
        and length.isascii()
        and length.isdigit()
        and int(length) <= SMALL_READ
    )


# Object data S3 streams: every other S3 body is an XML document or a policy.
_STREAMED_OPERATIONS = frozenset({"PutObject", "UploadPart"})


def _streams_object(route: Route, http: HttpRequest, claim: SignatureClaim) -> bool:
    """Whether a request's body is object data to stream: PutObject or UploadPart
    whose signature covers a declared payload hash or mode (a body whose hash is part
    of the signature must be held whole to check it, so it is small-bodied)."""
    return (
        route.operation in _STREAMED_OPERATIONS
        and claim.payload_hash is not None
        and http.header("x-amz-copy-source") is None
    )


def _check_decoded_length(http: HttpRequest, mode: str | None, payload: Payload) -> None:
    declared = http.header("x-amz-decoded-content-length")
    if declared is None or mode is None or not mode.startswith("STREAMING-"):
        return
    if not declared.isdigit() or int(declared) != len(payload.body):
        raise _incomplete_body()


def _decoded_length_checked(http: HttpRequest, pieces: Iterator[bytes]) -> Iterator[bytes]:
    """``pieces``, raising IncompleteBody (before they end) when their total is not
    the declared x-amz-decoded-content-length."""
    declared = http.header("x-amz-decoded-content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else None
    if declared is not None and expected is None:
        raise _incomplete_body()
    size = 0
    for piece in pieces:
        size += len(piece)
        if expected is not None and size > expected:
            raise _incomplete_body()
        yield piece
    if expected is not None and size != expected:
        raise _incomplete_body()


def _incomplete_body() -> ApiError:
    return ApiError("IncompleteBody", "The body is not as long as x-amz-decoded-content-length")
