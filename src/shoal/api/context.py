"""What every API handler receives: the application and who is asking.

Handlers of the JSON protocols (Athena, Glue, STS) are plain functions
``handler(ctx: RequestContext, params: dict) -> dict``: ``params`` is the request
body already validated against the botocore model of the operation, and the returned
dict is the response body. They raise ``ShoalError`` subclasses; the protocol layer
renders them as ``{"__type": code, "message": …}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
class RequestContext:
    app: Shoal
    principal: Principal
    request_id: str
    source_ip: str | None = None
    user_agent: str | None = None


JsonHandler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]
