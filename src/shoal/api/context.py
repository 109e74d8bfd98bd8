"""What every API handler receives: the application, who is asking, and the route
(protocol, service, operation) the request took.

Handlers of the JSON protocols (Athena, Glue, STS) are plain functions
``handler(ctx: RequestContext, params: dict) -> dict``: ``params`` is the request
body already validated against the botocore model of the operation, and the returned
dict is the response body. They raise ``ShoalError`` subclasses; the protocol layer
renders them as ``{"__type": code, "message": …}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shoal.app import Shoal


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_name: str
    access_key_id: str
    arn: str
    account_id: str
    is_admin: bool | None = None  # as read when the request was authenticated; None: ask


@dataclass(frozen=True)
class Route:
    """What a request speaks, before anything about it is trusted."""

    protocol: str  # "json" | "rest-json" | "rpc-v2-cbor" | "query" | "s3" | "health"
    service: str | None  # the SigV4 signing name it must carry; None: checked later
    operation: str | None = None  # when the target, URI or path names one
    labels: Mapping[str, str] = field(default_factory=dict)  # rest-json URI labels


@dataclass(frozen=True)
class RequestContext:
    app: Shoal
    principal: Principal
    request_id: str
    source_ip: str | None = None
    user_agent: str | None = None


JsonHandler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]
