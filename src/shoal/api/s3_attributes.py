"""GetObjectAttributes: an object's ETag, checksum, parts, storage class and size.

Answers only what ``x-amz-object-attributes`` asks for. ``ObjectParts`` exists only
for objects made by a multipart upload, and pages with ``x-amz-max-parts`` and
``x-amz-part-number-marker`` as ListParts does.
"""

from __future__ import annotations

from collections.abc import Mapping

from shoal.api import s3_xml
from shoal.api.errors import ApiError
from shoal.storage.base import ObjectInfo
from shoal.storage.meta import ObjectMeta

ATTRIBUTES = frozenset({"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"})
MAX_PARTS = 1000


def requested(headers: Mapping[str, str]) -> set[str]:
    """The attributes a request names; InvalidArgument for none or unknown ones."""
    names = {n.strip() for n in (headers.get("x-amz-object-attributes") or "").split(",")}
    names.discard("")
    if not names or not names <= ATTRIBUTES:
        raise ApiError("InvalidArgument", f"x-amz-object-attributes must name some of "
                                          f"{', '.join(sorted(ATTRIBUTES))}")  # fmt: skip
    return names


def attributes_xml(
    headers: Mapping[str, str], info: ObjectInfo, meta: ObjectMeta, etag: str
) -> str:
    """The GetObjectAttributesResponse document."""
    names = requested(headers)
    parts = []
    if "ETag" in names:
        parts.append(s3_xml.element("ETag", etag.strip('"')))
    if "Checksum" in names and meta.checksums:
        sums = "".join(s3_xml.element(s3_xml.checksum_element(a), v)
                       for a, v in meta.checksums.items())  # fmt: skip
        kind = s3_xml.element("ChecksumType", meta.checksum_type) if meta.checksum_type else ""
        parts.append(f"<Checksum>{sums}{kind}</Checksum>")
    if "ObjectParts" in names and meta.part_sizes:
        parts.append(_object_parts(headers, meta))
    if "StorageClass" in names:
        parts.append(s3_xml.element("StorageClass", "STANDARD"))
    if "ObjectSize" in names:
        parts.append(s3_xml.element("ObjectSize", info.size))
    return s3_xml.document("GetObjectAttributesResponse", "".join(parts))


def _object_parts(headers: Mapping[str, str], meta: ObjectMeta) -> str:
    marker = _number(headers.get("x-amz-part-number-marker"), 0, "x-amz-part-number-marker")
    max_parts = min(_number(headers.get("x-amz-max-parts"), MAX_PARTS, "x-amz-max-parts"),
                    MAX_PARTS)  # fmt: skip
    numbers = list(range(marker + 1, len(meta.part_sizes) + 1))
    page, truncated = numbers[:max_parts], len(numbers) > max_parts
    algorithm = next(iter(meta.checksums), None)
    rows = []
    for n in page:
        row = s3_xml.element("PartNumber", n) + s3_xml.element("Size", meta.part_sizes[n - 1])
        if algorithm and len(meta.part_checksums) >= n:
            row += s3_xml.element(s3_xml.checksum_element(algorithm), meta.part_checksums[n - 1])
        rows.append(f"<Part>{row}</Part>")
    head = s3_xml.element("PartsCount", len(meta.part_sizes))
    head += s3_xml.element("PartNumberMarker", marker) + s3_xml.element("MaxParts", max_parts)
    head += s3_xml.element("IsTruncated", "true" if truncated else "false")
    if truncated and page:
        head += s3_xml.element("NextPartNumberMarker", page[-1])
    return f"<ObjectParts>{head}{''.join(rows)}</ObjectParts>"


def _number(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise ApiError("InvalidArgument", f"{name} must be a non-negative integer")
    return int(raw)
