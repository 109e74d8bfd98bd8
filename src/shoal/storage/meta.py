"""What S3 keeps about an object besides its bytes: headers, user metadata, parts.

``ObjectMeta`` travels with ``Storage.put`` and comes back from ``Storage.head``.
Local storage keeps it in a JSON file beside the lake (see ``local_keys``); S3
storage hands it to the endpoint as the object's own headers and metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

# The standard headers S3 stores with an object and answers on GET and HEAD.
STORED_HEADERS = (
    "Content-Type",
    "Cache-Control",
    "Expires",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
)


@dataclass(frozen=True)
class ObjectMeta:
    """An object's stored headers, user metadata and multipart shape.

    Args:
        headers: Standard headers by their canonical name (``STORED_HEADERS``).
        user: User metadata (``x-amz-meta-<name>``) by lower-case name.
        part_sizes: Sizes of the parts of a multipart upload, in order; empty for a
            single put.
        etag: The ETag when it is not the MD5 of the content (a multipart upload's
            ``"<md5 of part md5s>-<parts>"``); None otherwise.
        checksums: Checksums the writer asked S3 to keep, by lower-case algorithm
            (``sha256``, ``crc32``…), base64 as S3 answers them.
        checksum_type: ``FULL_OBJECT`` or ``COMPOSITE`` (a checksum of part checksums).
        part_checksums: Each part's checksum (same algorithm), for a multipart upload.
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    user: Mapping[str, str] = field(default_factory=dict)
    part_sizes: tuple[int, ...] = ()
    etag: str | None = None
    checksums: Mapping[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    part_checksums: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.headers or self.user or self.part_sizes or self.etag or self.checksums)

    def to_json(self, **extra: Any) -> bytes:
        """This metadata as JSON, with ``extra`` fields beside it."""
        data = asdict(self)
        data["headers"], data["user"] = dict(self.headers), dict(self.user)
        data["part_sizes"] = list(self.part_sizes)
        data["checksums"], data["part_checksums"] = dict(self.checksums), list(self.part_checksums)
        return json.dumps({**data, **extra}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectMeta:
        """The metadata ``to_json`` wrote (extra fields are ignored)."""
        headers = {k: v for k, v in data.get("headers", {}).items() if k in STORED_HEADERS}
        return cls(
            headers=headers,
            user=dict(data.get("user", {})),
            part_sizes=tuple(int(n) for n in data.get("part_sizes", ())),
            etag=data.get("etag"),
            checksums=dict(data.get("checksums", {})),
            checksum_type=data.get("checksum_type"),
            part_checksums=tuple(data.get("part_checksums", ())),
        )

    def part_range(self, number: int, size: int) -> tuple[int, int] | None:
        """[start, stop) of part ``number`` (1-based); None when there is no such part.

        An object stored in one piece is its own single part 1.
        """
        sizes = self.part_sizes or (size,)
        if not 1 <= number <= len(sizes):
            return None
        start = sum(sizes[: number - 1])
        return start, start + sizes[number - 1]
