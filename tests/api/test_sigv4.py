"""The SigV4 verifier against requests botocore signs, and every tampered variant."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from shoal.api.sigv4 import (
    STREAMING_SIGNED,
    STREAMING_UNSIGNED_TRAILER,
    HttpRequest,
    check_time,
    decode_payload,
    parse_claim,
    signing_key,
    verify_signature,
)
from shoal.errors import (
    AuthenticationError,
    ContentHashMismatchError,
    IncompleteSignatureError,
    MissingAuthenticationError,
    RequestExpiredError,
    RequestTimeTooSkewedError,
    SignatureMismatchError,
)

KEY_ID = "AKIDEXAMPLE000000000"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDS = Credentials(KEY_ID, SECRET)


def to_http(request: AWSRequest) -> HttpRequest:
    parts = urlsplit(request.url)
    headers = [(k.lower(), v) for k, v in request.headers.items()]
    if "host" not in {k for k, _ in headers}:
        headers.append(("host", parts.netloc))
    return HttpRequest(request.method, parts.path, parts.query, tuple(headers))


def signed(
    method: str = "GET",
    url: str = "http://127.0.0.1:8066/bucket/a%20b/c.txt?list-type=2&prefix=x%2Fy",
    body: bytes = b"",
    service: str = "s3",
    headers: dict[str, str] | None = None,
) -> HttpRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(CREDS, service, "us-east-1").add_auth(request)
    return to_http(request)


def verify(http: HttpRequest, body: bytes = b"", secret: str = SECRET) -> bytes:
    claim = parse_claim(http)
    check_time(claim)
    payload_hash = claim.payload_hash or hashlib.sha256(body).hexdigest()
    key = verify_signature(http, claim, secret, payload_hash)
    return decode_payload(claim, key, body).body


def test_s3_header_signature_round_trip() -> None:
    http = signed("PUT", body=b"hello", headers={"Content-Type": "text/plain"})
    assert verify(http, b"hello") == b"hello"


def test_json_service_signature_round_trip() -> None:
    body = b'{"QueryString": "SELECT 1"}'
    http = signed(
        "POST", "http://localhost:8066/", body, "athena",
        {"X-Amz-Target": "AmazonAthena.StartQueryExecution",
         "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    claim = parse_claim(http)
    assert (claim.service, claim.region, claim.payload_hash) == ("athena", "us-east-1", None)
    assert verify(http, body) == body


def test_non_s3_services_double_encode_the_path() -> None:
    http = signed("GET", "http://h/a%20b/./c/../d", service="glue")
    verify(http)


def tampered(http: HttpRequest, **changes: object) -> HttpRequest:
    fields = {
        "method": http.method,
        "raw_path": http.raw_path,
        "query": http.query,
        "headers": http.headers,
    }
    fields.update(changes)
    return HttpRequest(**fields)  # type: ignore[arg-type]


def with_header(http: HttpRequest, name: str, value: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, value if k == name else v) for k, v in http.headers)


@pytest.mark.parametrize(
    "change",
    [
        lambda h: tampered(h, method="DELETE"),
        lambda h: tampered(h, raw_path=h.raw_path.replace("c.txt", "d.txt")),
        lambda h: tampered(h, query=h.query.replace("prefix=x", "prefix=z")),
        lambda h: tampered(h, query=h.query + "&extra=1"),
        lambda h: tampered(h, headers=with_header(h, "host", "evil:8066")),
        lambda h: tampered(h, headers=with_header(h, "content-type", "text/html")),
    ],
)
def test_any_tampered_part_is_refused(change: object) -> None:
    http = signed("PUT", body=b"data", headers={"Content-Type": "text/plain"})
    verify(http, b"data")
    with pytest.raises(SignatureMismatchError):
        verify(change(http), b"data")  # type: ignore[operator]


def test_tampered_body_is_refused() -> None:
    http = signed("PUT", body=b"data")
    with pytest.raises(ContentHashMismatchError):
        verify(http, b"datA")
    json_http = signed("POST", "http://h/", b"{}", "glue", {"X-Amz-Target": "AWSGlue.GetTables"})
    with pytest.raises(SignatureMismatchError):
        verify(json_http, b'{"a":1}')


def test_wrong_secret_and_tampered_signature_date_key() -> None:
    http = signed()
    with pytest.raises(SignatureMismatchError):
        verify(http, secret=SECRET[:-1] + "X")
    auth = http.header("authorization") or ""
    flipped = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    with pytest.raises(SignatureMismatchError):
        verify(tampered(http, headers=with_header(http, "authorization", flipped)))
    # The key id itself is not signed: it picks the secret. Its scope is signed.
    other_region = auth.replace("/us-east-1/", "/us-west-2/")
    with pytest.raises(SignatureMismatchError):
        verify(tampered(http, headers=with_header(http, "authorization", other_region)))
    date = http.header("x-amz-date") or ""
    later = date[:-3] + ("00Z" if date[-3:] != "00Z" else "01Z")
    with pytest.raises(SignatureMismatchError):
        verify(tampered(http, headers=with_header(http, "x-amz-date", later)))


def test_clock_skew() -> None:
    claim = parse_claim(signed())
    check_time(claim, datetime.now(UTC) + timedelta(minutes=14))
    for offset in (timedelta(minutes=16), timedelta(minutes=-16)):
        with pytest.raises(RequestTimeTooSkewedError):
            check_time(claim, datetime.now(UTC) + offset)


def presigned(expires: int = 60) -> HttpRequest:
    request = AWSRequest(method="GET", url="http://127.0.0.1:8066/bucket/key")
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=expires).add_auth(request)
    request.headers["host"] = "127.0.0.1:8066"
    return to_http(request)


def test_presigned_urls() -> None:
    http = presigned()
    claim = parse_claim(http)
    assert claim.presigned and claim.expires == 60
    verify(http)
    with pytest.raises(RequestExpiredError, match="expired"):
        check_time(claim, datetime.now(UTC) + timedelta(seconds=61))
    with pytest.raises(RequestExpiredError, match="not valid yet"):
        check_time(claim, datetime.now(UTC) - timedelta(minutes=16))
    with pytest.raises(SignatureMismatchError):
        verify(tampered(http, query=http.query.replace("X-Amz-Expires=60", "X-Amz-Expires=61")))
    too_long = tampered(http, query=http.query.replace("X-Amz-Expires=60", "X-Amz-Expires=604801"))
    with pytest.raises(IncompleteSignatureError):
        parse_claim(too_long)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ((), MissingAuthenticationError),
        ((("authorization", "Bearer x"),), IncompleteSignatureError),
        ((("authorization", "AWS AKID:sig"),), IncompleteSignatureError),
        ((("authorization", "AWS4-HMAC-SHA256 Credential=a/b"),), IncompleteSignatureError),
        (
            (("authorization", "AWS4-HMAC-SHA256 Credential=K/20240101/r/s/aws4_request, "
              "SignedHeaders=host, Signature=00"), ("x-amz-date", "garbage")),
            IncompleteSignatureError,
        ),
    ],
)  # fmt: skip
def test_malformed_authorization(
    headers: tuple[tuple[str, str], ...], error: type[AuthenticationError]
) -> None:
    with pytest.raises(error):
        parse_claim(HttpRequest("GET", "/", "", headers))


# -- aws-chunked bodies ----------------------------------------------------------------


def chunk_signature(key: bytes, timestamp: str, scope: str, previous: str, data: bytes) -> str:
    text = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            timestamp,
            scope,
            previous,
            hashlib.sha256(b"").hexdigest(),
            hashlib.sha256(data).hexdigest(),
        ]
    )
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def streaming_request(chunks: list[bytes]) -> tuple[HttpRequest, bytes]:
    """A request signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD and its chunked body."""
    http = signed("PUT", headers={"X-Amz-Content-SHA256": STREAMING_SIGNED})
    # botocore's S3 signer overwrote the header with the hash of b"": sign again by hand.
    request = AWSRequest(method="PUT", url="http://127.0.0.1:8066/bucket/key")
    request.headers["X-Amz-Content-SHA256"] = STREAMING_SIGNED
    SigV4Auth(CREDS, "s3", "us-east-1").add_auth(request)
    http = to_http(request)
    claim = parse_claim(http)
    key = signing_key(SECRET, claim)
    previous, body = claim.signature, b""
    for data in [*chunks, b""]:
        previous = chunk_signature(key, claim.timestamp, claim.scope, previous, data)
        body += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + b"\r\n"
    return http, body


def test_streaming_signed_chunks() -> None:
    http, body = streaming_request([b"a" * 70000, b"b" * 10])
    assert verify(http, body) == b"a" * 70000 + b"b" * 10
    with pytest.raises(ContentHashMismatchError):
        verify(http, body.replace(b"bbbb", b"bbbc"))
    sig_start = body.index(b"chunk-signature=") + len("chunk-signature=")
    with pytest.raises(ContentHashMismatchError):
        verify(http, body[:sig_start] + b"0" * 64 + body[sig_start + 64 :])


def test_unsigned_trailer_payload() -> None:
    request = AWSRequest(method="PUT", url="http://127.0.0.1:8066/bucket/key")
    request.headers["X-Amz-Content-SHA256"] = STREAMING_UNSIGNED_TRAILER
    SigV4Auth(CREDS, "s3", "us-east-1").add_auth(request)
    http = to_http(request)
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    claim = parse_claim(http)
    key = verify_signature(http, claim, SECRET, STREAMING_UNSIGNED_TRAILER)
    payload = decode_payload(claim, key, body)
    assert payload.body == b"hello world"
    assert payload.trailers == {"x-amz-checksum-crc32": "DUoRhQ=="}
