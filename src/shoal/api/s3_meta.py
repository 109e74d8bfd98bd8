"""Object metadata on the wire: request headers in, response headers out.

A PUT (or a CreateMultipartUpload, or a CopyObject with ``x-amz-metadata-directive:
REPLACE``) stores the standard headers S3 keeps (``STORED_HEADERS``) and the user
metadata (``x-amz-meta-*``); GET and HEAD answer them. Objects nobody described
(files written into the lake by other means) answer a Content-Type guessed from the
key's extension. ``partNumber`` on GET and HEAD selects one part of a multipart
upload, as recorded in ``ObjectMeta.part_sizes``.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping

from shoal.api.errors import ApiError
from shoal.storage.meta import STORED_HEADERS, ObjectMeta

USER_PREFIX = "x-amz-meta-"
MAX_USER_METADATA = 2048  # bytes of names and values together, S3's limit
_UNSAFE_VALUE = re.compile(r"[\r\n\x00]")


def meta_from_headers(headers: Mapping[str, str]) -> ObjectMeta:
    """The metadata a PUT's headers (lower-case names) ask to store."""
    stored = {}
    for name in STORED_HEADERS:
        value = headers.get(name.lower())
        if name == "Content-Encoding" and value is not None:
            value = _without_aws_chunked(value)
        if value:
            stored[name] = value
    user = {k[len(USER_PREFIX) :]: v for k, v in headers.items() if k.startswith(USER_PREFIX)}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in user.items())
    if size > MAX_USER_METADATA:
        raise ApiError(
            "MetadataTooLarge",
            f"Your metadata headers exceed the maximum allowed metadata size ({size} bytes)",
        )
    return ObjectMeta(headers=stored, user=user)


def _without_aws_chunked(value: str) -> str:
    # aws-chunked describes the request body's framing, not the stored object.
    codings = [c.strip() for c in value.split(",") if c.strip().lower() != "aws-chunked"]
    return ", ".join(codings)


def response_headers(meta: ObjectMeta, key: str) -> dict[str, str]:
    """The headers GET and HEAD answer for an object with ``meta``."""
    headers = {
        name: value for name, value in meta.headers.items() if not _UNSAFE_VALUE.search(value)
    }
    if "Content-Type" not in headers:
        headers["Content-Type"] = mimetypes.guess_type(key)[0] or "binary/octet-stream"
    for name, value in meta.user.items():
        if not _UNSAFE_VALUE.search(name + value):
            headers[USER_PREFIX + name] = value
    if meta.part_sizes:
        headers["x-amz-mp-parts-count"] = str(len(meta.part_sizes))
    return headers


def part_span(raw: str, meta: ObjectMeta, size: int) -> tuple[int, int]:
    """[start, stop) of the part a ``partNumber`` query parameter names."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5) or not 1 <= int(raw) <= 10000:
        raise ApiError("InvalidArgument", "Part number must be an integer between 1 and 10000")
    span = meta.part_range(int(raw), size)
    if span is None:
        # s3-tests expects 400 InvalidPart here (AWS documents 416 InvalidPartNumber).
        raise ApiError("InvalidPart", "The requested partnumber is not satisfiable")
    return span
