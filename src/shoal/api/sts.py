"""STS over the query protocol: ``GetCallerIdentity`` (awswrangler asks who it is).

Query-protocol requests are form-encoded ``POST /`` bodies with ``Action`` and
``Version``; answers are XML documents in STS's namespace.
"""

from __future__ import annotations

from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from starlette.responses import Response

from shoal.api.context import RequestContext
from shoal.api.errors import ApiError

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
MAX_PARAMS = 1000


def parse_form(body: bytes) -> dict[str, str]:
    """The form fields of a query-protocol body."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=MAX_PARAMS)  # fmt: skip
    except (UnicodeDecodeError, ValueError):
        raise ApiError("MalformedQueryString", "The request body is not a valid form") from None
    return dict(pairs)


def get_caller_identity(ctx: RequestContext, params: dict[str, str]) -> str:
    """Who signed the request: ARN, user id (the access key id) and account."""
    principal = ctx.principal
    return (
        f"<GetCallerIdentityResult><Arn>{escape(principal.arn)}</Arn>"
        f"<UserId>{escape(principal.access_key_id)}</UserId>"
        f"<Account>{escape(principal.account_id)}</Account></GetCallerIdentityResult>"
    )


ACTIONS = {"GetCallerIdentity": get_caller_identity}


def dispatch(ctx: RequestContext, body: bytes) -> Response:
    """Run the STS action named in the form body."""
    params = parse_form(body)
    action = params.get("Action", "")
    handler = ACTIONS.get(action)
    if handler is None:
        raise ApiError("InvalidAction", f"Could not find operation {action[:100]!r} for STS")
    result = handler(ctx, params)
    xml = (
        f'<{action}Response xmlns="{NAMESPACE}">{result}'
        f"<ResponseMetadata><RequestId>{ctx.request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return Response(xml, media_type="text/xml", headers={"x-amzn-RequestId": ctx.request_id})
