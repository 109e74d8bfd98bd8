"""AWS Signature Version 4, verified on the server.

A request is signed either in its ``Authorization`` header or in its query string
(a presigned URL). Verification rebuilds what the client signed — the canonical
request, the string to sign, the signing key (an HMAC chain over date, region,
service and ``aws4_request``) — and compares signatures in constant time.

S3 signs the path exactly as sent; every other service signs it normalised and
URI-encoded once more, so the path of ``GET /a%20b`` is ``/a%2520b`` to them.

The payload is covered by ``x-amz-content-sha256``: the body's SHA-256, or
``UNSIGNED-PAYLOAD``, or one of the ``STREAMING-…`` modes whose ``aws-chunked`` body
carries a signature per chunk (each chained to the previous) and/or checksum
trailers. ``decode_payload`` checks and unwraps all of them.

Nothing here logs: signatures and secrets must never reach a log.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from shoal.errors import (
    ContentHashMismatchError,
    IncompleteSignatureError,
    InvalidInputError,
    MissingAuthenticationError,
    RequestExpiredError,
    RequestTimeTooSkewedError,
    SignatureMismatchError,
)

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800  # seven days, AWS's limit
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_STREAMING_MODES = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders")


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request a signature covers, as they came off the wire.

    ``raw_path`` is still percent-encoded and ``query`` is the raw query string;
    header names are lower-case, in arrival order, repeated names kept.
    """

    method: str
    raw_path: str
    query: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """All values of header ``name`` joined with ',' (None when absent)."""
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None

    def query_pairs(self) -> list[tuple[str, str]]:
        """The decoded query parameters, repeated keys kept."""
        pairs = []
        for part in self.query.split("&") if self.query else []:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
        return pairs


@dataclass(frozen=True)
class SignatureClaim:
    """What a request says about its signature, before anything is checked."""

    access_key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    timestamp: str  # YYYYMMDDTHHMMSSZ the client signed at
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    presigned: bool
    expires: int | None = None  # presigned only
    payload_hash: str | None = None  # None: the body's SHA-256 must be computed

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class Payload:
    """A body with its transport wrapping removed, and any checksum trailers."""

    body: bytes
    trailers: dict[str, str] = field(default_factory=dict)


# -- parsing ----------------------------------------------------------------------


def is_signed(request: HttpRequest) -> bool:
    """Whether the request carries any SigV4 signature (header or query)."""
    auth = request.header("authorization")
    return auth is not None or any(k == "X-Amz-Signature" for k, _ in request.query_pairs())


def parse_claim(request: HttpRequest) -> SignatureClaim:
    """The signature claim of ``request``.

    Raises:
        MissingAuthenticationError: the request is not signed at all.
        IncompleteSignatureError: the signature is malformed or not SigV4.
    """
    auth = request.header("authorization")
    if auth is not None and not auth.startswith("AWS "):
        return _claim_from_header(request, auth)
    params = dict(request.query_pairs())
    if "X-Amz-Signature" in params:
        return _claim_from_query(params)
    if "AWSAccessKeyId" in params or (auth or "").startswith("AWS "):
        raise IncompleteSignatureError(
            "Signature Version 2 is not supported; sign with SigV4 "
            "(boto3: Config(signature_version='s3v4'))"
        )
    raise MissingAuthenticationError("Request is missing Authentication Token")


def _claim_from_header(request: HttpRequest, auth: str) -> SignatureClaim:
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureError(f"Unsupported authorization type; use {ALGORITHM}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts[name] = value
    missing = [p for p in ("Credential", "SignedHeaders", "Signature") if p not in parts]
    if missing:
        raise IncompleteSignatureError(f"Authorization header requires {', '.join(missing)}")
    timestamp = _request_timestamp(request)
    return _claim(
        parts["Credential"],
        timestamp,
        parts["SignedHeaders"],
        parts["Signature"],
        presigned=False,
        payload_hash=request.header("x-amz-content-sha256"),
    )


def _claim_from_query(params: dict[str, str]) -> SignatureClaim:
    missing = [p for p in _PRESIGN_PARAMS if p not in params]
    if missing:
        raise IncompleteSignatureError(f"Presigned URL requires {', '.join(missing)}")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignatureError(f"Unsupported X-Amz-Algorithm; use {ALGORITHM}")
    expires = _expires(params.get("X-Amz-Expires"))
    return _claim(
        params["X-Amz-Credential"],
        params["X-Amz-Date"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        presigned=True,
        expires=expires,
        payload_hash=params.get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD),
    )


def _claim(
    credential: str,
    timestamp: str,
    signed_headers: str,
    signature: str,
    *,
    presigned: bool,
    expires: int | None = None,
    payload_hash: str | None = None,
) -> SignatureClaim:
    pieces = credential.split("/")
    if len(pieces) != 5 or pieces[4] != "aws4_request" or not all(pieces):
        raise IncompleteSignatureError(
            "Credential must be <key id>/<date>/<region>/<service>/aws4_request"
        )
    _parse_timestamp(timestamp)
    if pieces[1] != timestamp[:8]:
        raise IncompleteSignatureError("Credential date does not match the request date")
    names = tuple(signed_headers.split(";"))
    if "host" not in names:
        raise IncompleteSignatureError("SignedHeaders must include host")
    return SignatureClaim(
        access_key_id=pieces[0],
        date=pieces[1],
        region=pieces[2],
        service=pieces[3],
        timestamp=timestamp,
        signed_headers=names,
        signature=signature,
        presigned=presigned,
        expires=expires,
        payload_hash=payload_hash,
    )


def _request_timestamp(request: HttpRequest) -> str:
    amz_date = request.header("x-amz-date")
    if amz_date is not None:
        return amz_date
    date = request.header("date")
    if date is None:
        raise IncompleteSignatureError("Request must carry X-Amz-Date or Date")
    try:
        return parsedate_to_datetime(date).astimezone(UTC).strftime(_TIMESTAMP)
    except (TypeError, ValueError):
        raise IncompleteSignatureError("Date header is not an HTTP date") from None


def _parse_timestamp(timestamp: str) -> datetime:
    try:
        if len(timestamp) == 16 and timestamp[8] == "T" and timestamp[15] == "Z":
            digits = timestamp[:8] + timestamp[9:15]  # the usual form, without strptime
            if digits.isdigit() and digits.isascii():
                year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
                hour, minute, second = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        return datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignatureError("X-Amz-Date must be YYYYMMDDTHHMMSSZ") from None


def _expires(raw: str | None) -> int:
    if raw is None or not raw.isdigit():
        raise IncompleteSignatureError("X-Amz-Expires must be a number of seconds")
    expires = int(raw)
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise IncompleteSignatureError(
            f"X-Amz-Expires must be between 1 and {MAX_PRESIGN_EXPIRES} seconds"
        )
    return expires


# -- verification -----------------------------------------------------------------


def check_time(claim: SignatureClaim, now: datetime | None = None) -> None:
    """Refuse requests signed too far from ``now`` and expired presigned URLs."""
    now = now or datetime.now(UTC)
    signed_at = _parse_timestamp(claim.timestamp)
    if claim.presigned:
        assert claim.expires is not None
        if signed_at - now > MAX_SKEW:
            raise RequestExpiredError("Request is not valid yet")
        if now > signed_at + timedelta(seconds=claim.expires):
            raise RequestExpiredError("Request has expired")
    elif abs(now - signed_at) > MAX_SKEW:
        raise RequestTimeTooSkewedError(
            "The difference between the request time and the current time is too large."
        )


def signing_key(secret: str, claim: SignatureClaim) -> bytes:
    """The key derived from ``secret`` for the claim's date, region and service."""
    key = _hmac(f"AWS4{secret}".encode(), claim.date)
    for part in (claim.region, claim.service, "aws4_request"):
        key = _hmac(key, part)
    return key


def verify_signature(
    request: HttpRequest, claim: SignatureClaim, secret: str, payload_hash: str
) -> bytes:
    """Check the claim's signature; return the signing key (chunk checks need it).

    ``payload_hash`` is ``claim.payload_hash`` or, when the request declared none,
    the SHA-256 of its body.

    Raises:
        SignatureMismatchError: the signature is not the one ``secret`` makes.
    """
    key = signing_key(secret, claim)
    for query in _query_forms(request.query, claim.presigned):
        canonical = canonical_request(request, claim, payload_hash, query)
        to_sign = string_to_sign(claim, canonical)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, claim.signature.lower()):
            return key
    raise SignatureMismatchError(
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


def _query_forms(query: str, presigned: bool) -> list[str]:
    """The canonical query by the specification, then as botocore builds it.

    They differ only for queries that were not percent-encoded canonically (botocore
    signs its own already-encoded query as sent); both cover every byte sent.
    """
    forms = [canonical_query(query, drop_signature=presigned)]
    raw = canonical_query(query, drop_signature=presigned, reencode=False)
    return forms if raw == forms[0] else [*forms, raw]


def canonical_request(
    request: HttpRequest, claim: SignatureClaim, payload_hash: str, query: str | None = None
) -> str:
    """The canonical request, as the SigV4 specification builds it.

    ``query`` is the canonical query when already computed.
    """
    headers = "".join(
        f"{name}:{_trim(request.header(name) or '')}\n" for name in claim.signed_headers
    )
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path, claim.service),
            canonical_query(request.query, claim.presigned) if query is None else query,
            headers,
            ";".join(claim.signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(claim: SignatureClaim, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{claim.timestamp}\n{claim.scope}\n{digest}"


def canonical_uri(raw_path: str, service: str) -> str:
    """S3 signs the path as sent; other services normalise it and encode it again."""
    path = raw_path or "/"
    if service == "s3":
        return path
    return quote(_remove_dot_segments(path), safe="/~")


def canonical_query(query: str, drop_signature: bool = False, reencode: bool = True) -> str:
    """Parameters decoded, re-encoded the AWS way, sorted by key then value.

    With ``reencode=False`` the pairs are sorted as sent, as botocore signs them.
    """
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        if reencode:
            key, value = _aws_quote(unquote(key)), _aws_quote(unquote(value))
        if drop_signature and key == "X-Amz-Signature":
            continue
        pairs.append((key, value))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _aws_quote(text: str) -> str:
    return quote(text, safe="-_.~")


def _trim(value: str) -> str:
    return " ".join(value.split())


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment and segment != ".":
            out.append(segment)
    trailing = "/" if path.endswith("/") and out else ""
    return "/" + "/".join(out) + trailing


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


# -- payload ----------------------------------------------------------------------


def needs_body_hash(claim: SignatureClaim) -> bool:
    """Whether the signature covers a body hash the request did not declare."""
    return claim.payload_hash is None


def check_payload_mode(claim: SignatureClaim) -> None:
    """Refuse an ``x-amz-content-sha256`` that is neither a digest nor a mode, before
    any of the body is read.

    Raises:
        IncompleteSignatureError: the payload mode is unknown.
    """
    mode = claim.payload_hash
    if mode is None or mode == UNSIGNED_PAYLOAD or mode in _STREAMING_MODES:
        return
    if len(mode) != 64 or not all(c in "0123456789abcdef" for c in mode):
        raise IncompleteSignatureError("x-amz-content-sha256 must be a SHA-256 hex digest or mode")


def is_streaming(claim: SignatureClaim) -> bool:
    """Whether the body is aws-chunked (one of the ``STREAMING-…`` modes)."""
    return claim.payload_hash in _STREAMING_MODES


def decode_payload(claim: SignatureClaim, key: bytes, body: bytes) -> Payload:
    """Check a whole body against the claim's payload mode; unwrap aws-chunked bodies.

    Raises:
        ContentHashMismatchError: a body hash or chunk signature does not match.
        IncompleteSignatureError: the payload mode is unknown.
        InvalidInputError: an aws-chunked body is malformed.
    """
    trailers: dict[str, str] = {}
    parts = list(decode_stream(claim, key, (body,), trailers))
    return Payload(parts[0] if len(parts) == 1 else b"".join(parts), trailers)


def decode_stream(
    claim: SignatureClaim, key: bytes, raw: Iterable[bytes], trailers: dict[str, str]
) -> Iterator[bytes]:
    """The payload of a body arriving as ``raw`` pieces, checked as it streams.

    Pieces are passed on as they come (an aws-chunked chunk in slices, never held
    whole); each check (body hash, chunk and trailer signatures) raises at the latest
    before the stream ends, so a consumer that commits only once the stream is
    exhausted commits nothing unverified. Trailers land in ``trailers``.

    Raises:
        ContentHashMismatchError, IncompleteSignatureError, InvalidInputError.
    """
    check_payload_mode(claim)
    mode = claim.payload_hash
    if mode is None or mode == UNSIGNED_PAYLOAD:
        return iter(raw)  # None: the hash was part of the verified signature
    if mode in _STREAMING_MODES:
        return _ChunkedBody(claim, key, mode, raw, trailers).payload()
    return _hashed(raw, mode)


def _hashed(raw: Iterable[bytes], expected: str) -> Iterator[bytes]:
    digest = hashlib.sha256()
    for piece in raw:
        digest.update(piece)
        yield piece
    if not hmac.compare_digest(digest.hexdigest(), expected):
        raise ContentHashMismatchError(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )


MAX_CHUNK_LINE = 4096  # a chunk header or trailer line: size, signature, a checksum


class _ChunkedBody:
    """Walks an aws-chunked body as it arrives:
    ``size[;chunk-signature=s]\r\ndata\r\n``… ``0…\r\n`` then trailer lines."""

    def __init__(
        self,
        claim: SignatureClaim,
        key: bytes,
        mode: str,
        raw: Iterable[bytes],
        trailers: dict[str, str],
    ) -> None:
        self.claim, self.key, self.mode = claim, key, mode
        self.signed = mode != STREAMING_UNSIGNED_TRAILER
        self.source = iter(raw)
        self.buffer = bytearray()
        self.trailers = trailers

    def payload(self) -> Iterator[bytes]:
        previous = self.claim.signature.lower()
        while True:
            size, chunk_signature = _chunk_header(self._line(), self.signed)
            digest = hashlib.sha256()
            for piece in self._data(size):
                digest.update(piece)
                yield piece
            if self.signed:
                previous = _check_chunk(self.claim, self.key, previous, digest, chunk_signature)
            if size == 0:
                break
        self._read_trailers(previous)

    def _fill(self) -> bool:
        piece = next(self.source, None)
        if piece is None:
            return False
        self.buffer += piece
        return True

    def _line(self, at_end_ok: bool = False) -> bytes | None:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > MAX_CHUNK_LINE:
                raise InvalidInputError("aws-chunked body has an overlong chunk header")
            if not self._fill():
                if at_end_ok and not self.buffer:
                    return None
                raise InvalidInputError("aws-chunked body ends inside a chunk header")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    def _data(self, size: int) -> Iterator[bytes]:
        left = size
        while left:
            if not self.buffer and not self._fill():
                raise InvalidInputError("aws-chunked body is shorter than its chunk sizes")
            piece = bytes(self.buffer[:left])
            del self.buffer[: len(piece)]
            left -= len(piece)
            yield piece
        if size:
            while len(self.buffer) < 2 and self._fill():
                pass
            if self.buffer[:2] != b"\r\n":
                raise InvalidInputError("aws-chunked body is shorter than its chunk sizes")
            del self.buffer[:2]

    def _read_trailers(self, previous: str) -> None:
        canonical = ""
        trailer_signature = None
        while (raw := self._line(at_end_ok=True)) is not None:
            line = raw.decode("latin-1")
            if not line:
                break
            name, sep, value = line.partition(":")
            if not sep:
                raise InvalidInputError("aws-chunked trailer is not 'name:value'")
            name, value = name.strip().lower(), value.strip()
            if name == "x-amz-trailer-signature":
                trailer_signature = value
                continue
            self.trailers[name] = value
            canonical += f"{name}:{value}\n"
        if self.mode == STREAMING_SIGNED_TRAILER:
            _check_trailer(self.claim, self.key, previous, canonical, trailer_signature)


def _chunk_header(line: bytes | None, signed: bool) -> tuple[int, str]:
    assert line is not None
    size_text, _, extension = line.decode("latin-1").partition(";")
    size_text = size_text.strip()
    if not size_text or len(size_text) > 16 or not all(c in _HEX for c in size_text):
        raise InvalidInputError("aws-chunked body has a malformed chunk size")
    size = int(size_text, 16)
    name, _, signature = extension.partition("=")
    if signed and name.strip() != "chunk-signature":
        raise ContentHashMismatchError("aws-chunked chunk is missing its chunk-signature")
    return size, signature.strip()


_HEX = frozenset("0123456789abcdefABCDEF")


def _check_chunk(
    claim: SignatureClaim, key: bytes, previous: str, digest: hashlib._Hash, signature: str
) -> str:
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            claim.timestamp,
            claim.scope,
            previous,
            EMPTY_SHA256,
            digest.hexdigest(),
        ]
    )
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise ContentHashMismatchError("A chunk signature of the aws-chunked body does not match")
    return expected


def _check_trailer(
    claim: SignatureClaim, key: bytes, previous: str, canonical: str, signature: str | None
) -> None:
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            claim.timestamp,
            claim.scope,
            previous,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if signature is None or not hmac.compare_digest(expected, signature.lower()):
        raise ContentHashMismatchError("The trailer signature of the aws-chunked body is wrong")
