"""The ASGI application: every AWS protocol shoal speaks, on one port.

``create_app(shoal)`` returns a Starlette app; ``shoal serve`` runs it with uvicorn,
and tests can drive it in-process with Starlette's TestClient.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shoal.api.authorize import refusal_facts
from shoal.api.context import JsonHandler
from shoal.api.errors import error_code, new_request_id
from shoal.api.router import Router, http_request
from shoal.api.routing import classify, render_error, signature_claim
from shoal.api.sigv4 import parse_claim
from shoal.app import Shoal
from shoal.audit.intents import Intent, new_intent
from shoal.audit.records import ApiCall, Caller, build_record, collecting_annotations
from shoal.audit.trail import AuditTrail
from shoal.auth.enforce import ADMIN_REASON, Verdict
from shoal.errors import AuditError, NotAuthorizedError, ShoalError

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]  # PATCH: rest-json updates

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(
    shoal: Shoal,
    json_handlers: Mapping[str, Mapping[str, JsonHandler]] | None = None,
    audit: bool = True,
) -> Starlette:
    """The ASGI app serving ``shoal`` (Athena, Glue, S3, STS and /healthz).

    Args:
        shoal: The application object whose services answer requests.
        json_handlers: Override the JSON-protocol handlers, by X-Amz-Target prefix
            (``{"AWSGlue": {"GetTables": fn}}``); by default they come from
            ``shoal.api.athena`` and ``shoal.api.glue``.
        audit: Record every API request in the trail of ``shoal`` (``app.state.audit``)
            and roll it into the lake in the background.
    """
    router = Router(shoal, json_handlers)
    endpoint: Endpoint = router.handle
    trail = None
    if audit:
        trail = shoal.audit
        endpoint = audited(endpoint, trail, shoal)
        # Each finished query is one more record (``Shoal.queries`` wires it), crashes
        # included: the records a killed server owed are written now. Before the
        # trail starts, so the recorder still sees what that server journaled.
        caught_up = shoal.queries.make_listeners_durable()
        if caught_up:
            log.warning("audit: %d finished queries were not yet heard of; now they are", caught_up)
        trail.start()
    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)])
    app.state.shoal = shoal
    app.state.router = router
    app.state.audit = trail
    return app


# --- the audit hook: one record per API request, written before the answer leaves ---


def audited(handle: Endpoint, trail: AuditTrail, shoal: Shoal) -> Endpoint:
    """Wrap ``handle`` so each API request it answers is recorded in ``trail``.

    The record is written to the journal before the response is returned (it
    survives a process kill; the journal fsyncs it moments later, see
    ``audit.journal``); if it cannot be written the caller gets a 500 instead of an
    answer nobody could audit.
    """

    async def endpoint(request: Request) -> Response:
        started = datetime.now(UTC)
        intent = object_write_intent(request)
        if intent is not None:
            try:
                trail.begin(intent)
            except AuditError as exc:
                log.error("audit: intent of %s not journaled: %s", intent.id, exc)
                intent = None  # the record itself will fail to journal and say so
        with collecting_annotations() as extra:
            response = await handle(request)
        for name, value in role_facts(request.state).items():
            extra.setdefault(name, value)
        call = api_call(request, response, started, extra, shoal)
        if call is None:
            return response
        try:  # one write(): cheap enough for the loop
            trail.append(build_record(call), done=intent.id if intent else None)
        except AuditError as exc:
            return _audit_failure(request, exc)
        return response

    return endpoint


# The S3 operations whose effect a kill -9 could leave without its record.
_OBJECT_WRITES = frozenset({"PutObject", "CopyObject", "DeleteObject"})


def object_write_intent(request: Request) -> Intent | None:
    """The intent of a path-style S3 PutObject, CopyObject or DeleteObject (see
    ``audit.intents``), before it runs; None for any other request. The operation is
    named as the router names it (from S3's model)."""
    if request.method not in ("PUT", "DELETE"):
        return None
    http = http_request(request)
    claim = signature_claim(http)
    if claim is None or claim.service != "s3":
        return None  # unsigned: refused before it could change anything
    operation = classify(http, claim).operation
    if operation not in _OBJECT_WRITES:
        return None
    query = [(k, v) for k, v in http.query_pairs() if not k.lower().startswith("x-amz-")]
    return new_intent(
        new_request_id(), operation, request.method, http.raw_path, query, claim.access_key_id
    )


def role_facts(state: Any) -> dict[str, str | None]:
    """The role(s) a request acted as and the mapping(s) that chose them, for its
    audit record: from a denial (with what it denied), else from the verdicts."""
    error = getattr(state, "error", None)
    denied = error if isinstance(error, NotAuthorizedError) else getattr(error, "__cause__", None)
    if isinstance(denied, NotAuthorizedError):
        return refusal_facts(denied)
    verdicts: list[Verdict] | None = getattr(state, "authorization", None)
    if verdicts:
        choices = [v.role for v in verdicts if v.role is not None]
        if not choices:  # an admin: no policy was consulted
            return {"role": "admin", "roleMapping": ADMIN_REASON}
        return {
            "role": ",".join(sorted({c.role for c in choices})),
            "roleMapping": "; ".join(sorted({c.reason for c in choices})),
        }
    return {}


def api_call(
    request: Request, response: Response, started: datetime, extra: dict[str, Any], shoal: Shoal
) -> ApiCall | None:
    """The facts the router left on ``request.state``, as an ``ApiCall``; None for
    requests that are not API calls (the health check)."""
    state = request.state
    request_id, http, route = state.call
    if route.protocol == "health":
        return None
    error: ShoalError | None = getattr(state, "error", None)
    principal = getattr(state, "principal", None)
    caller = None
    if principal is not None:
        caller = Caller(
            principal.user_name, principal.access_key_id, principal.arn, principal.account_id
        )
    service_call = getattr(state, "service_call", None)
    return ApiCall(
        protocol=route.protocol,
        service=service_call.service.model_name if service_call else route.service,
        method=http.method,
        path=http.raw_path,
        query=http.query_pairs(),
        operation=service_call.operation if service_call else route.operation,
        params=service_call.params if service_call else None,
        request_id=request_id,
        event_time=started,
        region=shoal.config.region,
        account_id=shoal.config.account_id,
        caller=caller,
        claimed_key_id=None if caller else _claimed_key_id(http),
        # Never an S3 body: that is object data, not request parameters.
        body=None if route.protocol == "s3" else getattr(state, "body", None),
        source_ip=request.client.host if request.client else None,
        user_agent=http.header("user-agent"),
        error_code=error_code(error, route.protocol) if error else None,
        error_message=error.message if error else None,
        response_body=None if error else getattr(response, "body", None),
        extra=extra,
    )


def _claimed_key_id(http: Any) -> str | None:
    try:
        return parse_claim(http).access_key_id
    except ShoalError:
        return None


def _audit_failure(request: Request, exc: AuditError) -> Response:
    request_id, http, route = request.state.call
    return render_error(exc, route, http, request_id)
