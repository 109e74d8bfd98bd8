"""Hand-made HTTP requests over plain sockets, for bodies no client would send: a
declared length that never arrives, a stall mid-body, a forged chunk signature.

Requests are signed with botocore's own SigV4 signer; the body the signature
covers is whatever the case says, not necessarily what is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .server import ShoalServer

STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def signed_head(
    server: ShoalServer,
    method: str,
    path: str,
    service: str,
    headers: Mapping[str, str],
    signed_body: bytes = b"",
    key_id: str | None = None,
) -> tuple[bytes, AWSRequest]:
    """The request line and headers of a signed request (``headers`` win over what
    the signer would set, Content-Length included)."""
    request = AWSRequest(method=method, url=server.url + path, data=signed_body)
    for name, value in headers.items():
        if name.lower() != "content-length":
            request.headers[name] = value
    credentials = Credentials(key_id or server.access_key_id, server.secret_access_key)
    SigV4Auth(credentials, service, server.region).add_auth(request)
    host = urlsplit(server.url).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    length = headers.get("Content-Length", str(len(signed_body)))
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), request


def connect(server: ShoalServer, timeout: float = 30.0) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout)


def read_answer(sock: socket.socket) -> Answer:
    """The server's answer on ``sock`` (which the caller keeps)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def chunk_signature(key: bytes, request: AWSRequest, previous: str, data: bytes) -> str:
    """The signature of one aws-chunked chunk (SigV4's streaming rules)."""
    timestamp = request.headers["X-Amz-Date"]
    credential = request.headers["Authorization"].split("Credential=")[1].split(",")[0]
    scope = credential.split("/", 1)[1]
    text = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            timestamp,
            scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        ]
    )
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signing_key(secret: str, request: AWSRequest) -> bytes:
    credential = request.headers["Authorization"].split("Credential=")[1].split(",")[0]
    _, date, region, service, _ = credential.split("/")
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` now."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
