"""Hostile and malformed Athena requests in rest-json, signed correctly: never a 5xx,
every 4xx a rest-json error (``x-amzn-errortype`` and a JSON ``message``), and no file
outside the data folder.

Each case starts from a minimal valid request of an operation in the rest-json model
(the generator and mutations of ``test_fuzz_json``) and places its members where the
model says they travel: URI labels (so hostile text reaches the path), the query
string and the JSON body. Some cases then bend the request itself: another method,
broken percent-encoding, extra or dot segments, a path past any sensible length.
"""

from __future__ import annotations

import http.client
import json
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel

from shoal.api.json_protocol import service_model

from .server import ShoalServer
from .test_fuzz_json import MARK, Generator, escaped_files, outside_links

pytest_plugins = [f"{__package__}.sample_server"]

SEED = 20261206
CASES = 300
HTTP_LINE_LIMIT = 64 * 1024  # uvicorn's parser refuses longer request lines itself
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
BENT_PATHS = [
    "/query-executions/%zz", "/query-executions/%00", "/query-executions/%ff%fe",
    f"/query-executions/../../{MARK}", "/query-executions/./x/../y", "//query-executions",
    "/workgroups/" + "w" * 20_000, "/data-catalogs/%2e%2e/databases/%2e%2e/tables/x",
    "/query-executions/" + quote("é✓𝄞", safe=""), "/" + "a/" * 500,
]  # fmt: skip


@dataclass
class Request:
    label: str
    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes

    def target(self) -> str:
        """The request target: the path and the query string."""
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in self.query)


def place(model: OperationModel, params: dict[str, Any], label: str) -> Request:
    """``params`` where the rest-json model puts each member."""
    path = model.http["requestUri"].partition("?")[0]
    query: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    shape = model.input_shape
    members = shape.members if shape is not None else {}
    for name, value in params.items():
        member = members.get(name)
        where = member.serialization.get("location") if member is not None else None
        wire = member.serialization.get("name", name) if member is not None else name
        if where == "uri":
            path = path.replace("{" + wire + "}", quote(str(value), safe=""))
        elif where == "querystring":
            values = value if isinstance(value, list) else [value]
            query += [(wire, str(v)) for v in values]
        else:
            body[name] = value
    path = path.replace("{", "%7B").replace("}", "%7D")  # a required label left out
    data = json.dumps(body).encode() if body or model.http["method"] != "GET" else b""
    return Request(label, model.http["method"], path, query, data)


def bend(rng: random.Random, request: Request) -> Request:
    """The same request made wrong in a way no model describes."""
    choice = rng.randrange(4)
    if choice == 0:
        request.method = rng.choice(METHODS)
        request.label += f" as {request.method}"
    elif choice == 1:
        request.path = rng.choice(BENT_PATHS)
        request.label += f" at {request.path[:60]}"
    elif choice == 2:
        request.query += [("MaxResults", rng.choice(["-1", "1e3", "", "9" * 40, "0x10"]))]
        request.label += " with a bad MaxResults"
    else:
        request.body = rng.choice([b"[1", b"null", b'"x"', b"{" * 5000, b"\xff\xfe"])
        request.label += f" with body {request.body[:20]!r}"
    return request


def cases(rng: random.Random) -> list[Request]:
    model = service_model("athena")
    generator = Generator(rng)
    made = []
    for index in range(CASES):
        operation = model.operation_model(rng.choice(model.operation_names))
        shape = operation.input_shape
        params = generator.value(shape) if shape is not None else {}
        label = operation.name
        if shape is not None and rng.random() < 0.7:
            mutation, params = generator.mutate(shape, params)
            label += f": {mutation}"
        request = place(operation, params, label)
        made.append(bend(rng, request) if index % 3 == 0 else request)
    return made


class Client:
    """Keep-alive HTTP, each request signed with SigV4 for Athena."""

    def __init__(self, server: ShoalServer) -> None:
        self.server = server
        parts = urlsplit(server.url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.credentials = Credentials(server.access_key_id, server.secret_access_key)
        self.conn = http.client.HTTPConnection(*self.address, timeout=30)

    def send(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        target = request.target()
        headers = {"Content-Type": "application/json"} if request.body else {}
        signed = AWSRequest(request.method, self.server.url + target, data=request.body,
                            headers=headers)  # fmt: skip
        SigV4Auth(self.credentials, "athena", self.server.region).add_auth(signed)
        for attempt in range(2):  # the server may close an idle keep-alive connection
            try:
                self.conn.request(request.method, target, body=request.body,
                                  headers=dict(signed.headers))  # fmt: skip
                response = self.conn.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(*self.address, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def problem(request: Request, status: int, headers: dict[str, str], body: bytes) -> str | None:
    """Why an answer is wrong, or None."""
    if status >= 500:
        return f"{status}: {body[:300]!r}"
    if status < 400:
        return None
    if len(request.target()) > HTTP_LINE_LIMIT and body == b"Invalid HTTP request received.":
        return None  # refused by the HTTP server before any protocol could answer
    lowered = {k.lower(): v for k, v in headers.items()}
    if not lowered.get("x-amzn-errortype"):
        return f"{status} without x-amzn-errortype: {body[:200]!r}"
    if request.method == "HEAD":
        return None
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        return f"{status} with a body that is not a JSON object: {body[:200]!r}"
    return None if isinstance(message, str) and message else f"{status} without a message"


def test_fuzz_rest_json_requests(sample_server: ShoalServer) -> None:
    rng = random.Random(SEED)
    client = Client(sample_server)
    assert not escaped_files(sample_server)
    failures, statuses = [], {}
    for request in cases(rng):
        status, headers, body = client.send(request)
        statuses[status] = statuses.get(status, 0) + 1
        why = problem(request, status, headers, body)
        if why:
            failures.append(f"{request.label} [{request.method} {request.path[:80]}]: {why}")
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:40])
    assert 200 in statuses and 400 in statuses and 404 in statuses, statuses
    assert not escaped_files(sample_server)
    assert not outside_links(sample_server)
    status, _, body = client.send(Request("health", "GET", "/workgroups/primary", [], b""))
    assert status == 200, body
