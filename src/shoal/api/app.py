"""The ASGI application: every AWS protocol shoal speaks, on one port.

``create_app(shoal)`` returns a Starlette app; ``shoal serve`` runs it with uvicorn,
and tests can drive it in-process with Starlette's TestClient.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.routing import Route

from shoal.api.context import JsonHandler
from shoal.api.router import Router
from shoal.app import Shoal

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]


def create_app(
    shoal: Shoal, json_handlers: Mapping[str, Mapping[str, JsonHandler]] | None = None
) -> Starlette:
    """The ASGI app serving ``shoal`` (Athena, Glue, S3, STS and /healthz).

    Args:
        shoal: The application object whose services answer requests.
        json_handlers: Override the JSON-protocol handlers, by X-Amz-Target prefix
            (``{"AWSGlue": {"GetTables": fn}}``); by default they come from
            ``shoal.api.athena`` and ``shoal.api.glue``.
    """
    router = Router(shoal, json_handlers)
    app = Starlette(routes=[Route("/{path:path}", router.handle, methods=METHODS)])
    app.state.shoal = shoal
    app.state.router = router
    return app
