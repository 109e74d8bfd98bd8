"""Integrity, conditions and ranges of S3 requests: checksums, If-* headers, Range.

Checksums (``x-amz-checksum-*``, Content-MD5) are verified against the body and
echoed; conditional headers follow RFC 7232's order; ranges follow S3's reading of
RFC 7233 (a malformed Range means the whole object).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from shoal.api.errors import ApiError

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def md5_etag(data: bytes) -> str:
    """S3's quoted MD5 ETag of ``data``."""
    return '"' + hashlib.md5(data).hexdigest() + '"'


# -- checksums -------------------------------------------------------------------------


def _crc_table(poly: int, width: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & ((1 << width) - 1))
    return table


_CRC32C = _crc_table(0x82F63B78, 32)
_CRC64NVME = _crc_table(0x9A6C9329AC4BC9B5, 64)


def _reflected_crc(table: list[int], width: int, data: bytes, crc: int | None = None) -> int:
    """The running (inverted) CRC after ``data``; start with None."""
    mask = (1 << width) - 1
    crc = mask if crc is None else crc
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


class _Crc:
    """A running reflected CRC with a hashlib-like face."""

    def __init__(self, table: list[int], width: int) -> None:
        self.table, self.width = table, width
        self.crc: int | None = None

    def update(self, data: bytes) -> None:
        self.crc = _reflected_crc(self.table, self.width, data, self.crc)

    def digest(self) -> bytes:
        mask = (1 << self.width) - 1
        crc = mask if self.crc is None else self.crc
        return (crc ^ mask).to_bytes(self.width // 8, "big")


class _Crc32:
    def __init__(self) -> None:
        self.crc = 0

    def update(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)

    def digest(self) -> bytes:
        return self.crc.to_bytes(4, "big")


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


HASHERS: dict[str, Callable[[], _Hasher]] = {
    "crc32": _Crc32,
    "crc32c": lambda: _Crc(_CRC32C, 32),
    "crc64nvme": lambda: _Crc(_CRC64NVME, 64),
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}


def _one_shot(algorithm: str) -> Callable[[bytes], bytes]:
    def compute(data: bytes) -> bytes:
        hasher = HASHERS[algorithm]()
        hasher.update(data)
        return hasher.digest()

    return compute


CHECKSUMS: dict[str, Callable[[bytes], bytes]] = {name: _one_shot(name) for name in HASHERS}


class IntegrityCheck:
    """Content-MD5 and x-amz-checksum-* of a body, computed as its pieces go by.

    Args:
        headers: The request's headers (lower-case names): Content-MD5, checksums
            claimed up front, and ``x-amz-trailer`` naming a checksum that follows
            the body.
    """

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = headers
        self.md5: Any = None
        md5 = headers.get("content-md5")
        if md5 is not None:
            try:
                self.expected_md5 = base64.b64decode(md5, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(
                    "InvalidDigest", "The Content-MD5 you specified is not valid"
                ) from None
            self.md5 = hashlib.md5()
        trailing = {n.strip().lower() for n in headers.get("x-amz-trailer", "").split(",")}
        self.hashers = {
            name: make()
            for name, make in HASHERS.items()
            if f"x-amz-checksum-{name}" in headers or f"x-amz-checksum-{name}" in trailing
        }

    def update(self, data: bytes) -> None:
        if self.md5 is not None:
            self.md5.update(data)
        for hasher in self.hashers.values():
            hasher.update(data)

    def verify(self, trailers: Mapping[str, str]) -> dict[str, str]:
        """Check every claim (headers, then ``trailers`` once the body has ended);
        the checksum headers to echo.

        Raises:
            ApiError: BadDigest when a claim does not match.
        """
        if self.md5 is not None and self.md5.digest() != self.expected_md5:
            raise ApiError("BadDigest", "The Content-MD5 you specified did not match what we got")
        echoed = {}
        for name, hasher in self.hashers.items():
            header = f"x-amz-checksum-{name}"
            claimed = trailers.get(header) or self.headers.get(header)
            if claimed is None:
                continue
            if base64.b64encode(hasher.digest()).decode() != claimed.strip():
                raise ApiError(
                    "BadDigest",
                    f"The {name.upper()} you specified did not match the calculated one",
                )
            echoed[header] = claimed.strip()
        return echoed


def verify_integrity(
    headers: Mapping[str, str], trailers: Mapping[str, str], data: bytes
) -> dict[str, str]:
    """Check Content-MD5 and any x-amz-checksum-* (header or trailer); echo checksums."""
    check = IntegrityCheck({**headers, "x-amz-trailer": ",".join(trailers)})
    check.update(data)
    return check.verify(trailers)


# -- conditions and ranges -------------------------------------------------------------


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # an unparseable date is ignored, as HTTP says


def etag_matches(header: str, etag: str) -> bool:
    wanted = {t.strip() for t in header.split(",")}
    return "*" in wanted or etag in wanted or etag.strip('"') in wanted


def check_conditions(headers: Mapping[str, str], etag: str, mtime: datetime) -> int | None:
    """304 or 412 when If-* headers say so (RFC 7232 order), else None."""
    modified = mtime.replace(microsecond=0)
    if_match, if_none = headers.get("if-match"), headers.get("if-none-match")
    if if_match is not None:
        if not etag_matches(if_match, etag):
            return 412
    else:
        since = _http_date(headers.get("if-unmodified-since"))
        if since is not None and modified > since:
            return 412
    if if_none is not None:
        if etag_matches(if_none, etag):
            return 304
    else:
        since = _http_date(headers.get("if-modified-since"))
        if since is not None and modified <= since:
            return 304
    return None


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, stop) of a Range header, None to send everything; 416 if unsatisfiable."""
    match = _RANGE_RE.match(header.strip()) if header else None
    if match is None or match.group(0) == "bytes=-":
        return None  # absent or malformed: S3 answers the whole object
    first, last = match.groups()
    if not first:
        length = int(last)
        if length == 0:
            raise _invalid_range(size)
        return max(size - length, 0), size
    start = int(first)
    stop = size if not last else int(last) + 1
    if last and stop <= start:
        return None
    if start >= size:
        raise _invalid_range(size)
    return start, min(stop, size)


def _invalid_range(size: int) -> ApiError:
    return ApiError(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        headers={"Content-Range": f"bytes */{size}"},
    )


# -- stored checksums ------------------------------------------------------------------


def checksum_of(algorithm: str, data: bytes) -> str:
    """The base64 ``algorithm`` (``sha256``, ``crc32``…) checksum of ``data``."""
    return base64.b64encode(CHECKSUMS[algorithm](data)).decode()


def composite_checksum(algorithm: str, part_checksums: list[str]) -> str:
    """S3's COMPOSITE checksum: the checksum of the parts' checksums, then ``-N``."""
    joined = b"".join(base64.b64decode(c) for c in part_checksums)
    return f"{checksum_of(algorithm, joined)}-{len(part_checksums)}"


def checksum_request(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(algorithm, type) a CreateMultipartUpload asks for, or None."""
    algorithm = (headers.get("x-amz-checksum-algorithm") or "").lower()
    kind = (headers.get("x-amz-checksum-type") or "").upper()
    if not algorithm:
        if kind:
            raise ApiError("InvalidRequest", "x-amz-checksum-type needs x-amz-checksum-algorithm")
        return None
    if algorithm not in CHECKSUMS:
        raise ApiError("InvalidRequest", f"Checksum algorithm {algorithm!r} is not supported")
    # CRCs combine into a checksum of the whole object; SHAs only into one of parts.
    kind = kind or ("FULL_OBJECT" if algorithm == "crc64nvme" else "COMPOSITE")
    if kind not in ("FULL_OBJECT", "COMPOSITE") or (
        kind == "FULL_OBJECT" and algorithm.startswith("sha")
    ):
        raise ApiError("InvalidRequest", f"Checksum type {kind!r} cannot be used with {algorithm}")
    return algorithm, kind


def checksum_headers(
    checksums: Mapping[str, str], kind: str | None, part: str | None = None
) -> dict[str, str]:
    """x-amz-checksum-* answer headers (``part``: one part's checksum instead)."""
    headers = {f"x-amz-checksum-{a}": part or value for a, value in checksums.items()}
    if headers and kind:
        headers["x-amz-checksum-type"] = kind
    return headers
