"""S3's XML documents: rendering answers and parsing the few request bodies.

Rendering builds strings with escaping rather than a DOM: the documents are flat
and this is the hot path of every listing. Parsing refuses DTDs outright, so entity
expansion tricks never reach the parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

from shoal.api.errors import ApiError

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_XML_BODY = 2 * 1024 * 1024
MAX_DELETE_KEYS = 1000


@dataclass(frozen=True)
class ListedObject:
    """One object row of a listing."""

    key: str
    size: int
    mtime: datetime
    etag: str | None


@dataclass(frozen=True)
class ListPage:
    """Everything a ListObjects (v1 or v2) answer says."""

    bucket: str
    prefix: str
    delimiter: str | None
    max_keys: int
    objects: Sequence[ListedObject]
    prefixes: Sequence[str]
    is_truncated: bool
    url_encode: bool
    owner: str | None = None  # each object's Owner (ListObjects v1, or v2's fetch-owner)
    # botocore never URL-decodes v1's Prefix, so v1 answers it as sent when XML can.
    encode_prefix: bool = True


def iso(when: datetime) -> str:
    """S3's timestamp form: ``2024-01-31T12:00:00.000Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def element(name: str, value: object) -> str:
    """``<name>value</name>``, the value escaped."""
    return f"<{name}>{escape(str(value))}</{name}>"


def document(root: str, inner: str) -> str:
    """An S3 XML document with ``inner`` under ``root``."""
    return f'{_DECLARATION}<{root} xmlns="{NAMESPACE}">{inner}</{root}>'


_el, _doc = element, document


def _name(page: ListPage, text: str) -> str:
    # encoding-type=url: clients decode keys themselves, so any byte survives XML.
    return quote(text, safe="/") if page.url_encode else text


def list_buckets(buckets: Iterable[tuple[str, datetime]], owner_id: str) -> str:
    """ListAllMyBucketsResult."""
    rows = "".join(
        f"<Bucket>{_el('Name', name)}{_el('CreationDate', iso(created))}</Bucket>"
        for name, created in buckets
    )
    owner = f"<Owner>{_el('ID', owner_id)}{_el('DisplayName', owner_id)}</Owner>"
    return _doc("ListAllMyBucketsResult", f"{owner}<Buckets>{rows}</Buckets>")


def _common_prefixes(page: ListPage) -> list[str]:
    """A listing's CommonPrefixes elements (the "folders" a delimiter rolled up)."""
    return [
        f"<CommonPrefixes>{_el('Prefix', _name(page, p))}</CommonPrefixes>" for p in page.prefixes
    ]


def _listing_options(page: ListPage) -> list[str]:
    """The Delimiter and EncodingType a listing was asked with, echoed back."""
    parts = []
    if page.delimiter:
        parts.append(_el("Delimiter", _name(page, page.delimiter)))
    if page.url_encode:
        parts.append(_el("EncodingType", "url"))
    return parts


def _list_common(page: ListPage) -> str:
    parts = [
        _el("Name", page.bucket),
        _el("Prefix", _prefix(page)),
        _el("MaxKeys", page.max_keys),
        _el("IsTruncated", "true" if page.is_truncated else "false"),
        *_listing_options(page),
    ]
    owner = _owner(page.owner) if page.owner else ""
    for obj in page.objects:
        etag = _el("ETag", obj.etag) if obj.etag else ""
        parts.append(
            f"<Contents>{_el('Key', _name(page, obj.key))}"
            f"{_el('LastModified', iso(obj.mtime))}{etag}{_el('Size', obj.size)}"
            f"<StorageClass>STANDARD</StorageClass>{owner}</Contents>"
        )
    parts.extend(_common_prefixes(page))
    return "".join(parts)


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _prefix(page: ListPage) -> str:
    if page.encode_prefix or _NOT_XML.search(page.prefix):
        return _name(page, page.prefix)
    return page.prefix


def list_objects_v2(
    page: ListPage, start_after: str | None, token: str | None, next_token: str | None
) -> str:
    """ListBucketResult of ListObjectsV2."""
    extra = _el("KeyCount", len(page.objects) + len(page.prefixes))
    if start_after:
        extra += _el("StartAfter", _name(page, start_after))
    if token is not None:
        extra += _el("ContinuationToken", token)
    if next_token:
        extra += _el("NextContinuationToken", next_token)
    return _doc("ListBucketResult", _list_common(page) + extra)


def list_objects_v1(page: ListPage, marker: str, next_marker: str | None) -> str:
    """ListBucketResult of ListObjects (v1)."""
    extra = _el("Marker", _name(page, marker))
    if next_marker:
        extra += _el("NextMarker", _name(page, next_marker))
    return _doc("ListBucketResult", _list_common(page) + extra)


def location(region: str) -> str:
    """LocationConstraint: empty for us-east-1, as S3 answers."""
    value = "" if region == "us-east-1" else escape(region)
    return f'{_DECLARATION}<LocationConstraint xmlns="{NAMESPACE}">{value}</LocationConstraint>'


def versioning() -> str:
    """A bucket that never had versioning enabled."""
    return _doc("VersioningConfiguration", "")


def _owner(owner_id: str) -> str:
    return f"<Owner>{_el('ID', owner_id)}{_el('DisplayName', owner_id)}</Owner>"


def acl(owner_id: str) -> str:
    """AccessControlPolicy: the owner, with FULL_CONTROL."""
    grantee = (
        '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:type="CanonicalUser">{_el("ID", owner_id)}{_el("DisplayName", owner_id)}</Grantee>'
    )
    grants = f"<AccessControlList><Grant>{grantee}<Permission>FULL_CONTROL</Permission></Grant>"
    return _doc("AccessControlPolicy", _owner(owner_id) + grants + "</AccessControlList>")


def list_versions(page: ListPage, key_marker: str, owner_id: str) -> str:
    """ListVersionsResult of an unversioned bucket: one ``null`` version per object."""
    parts = [
        _el("Name", page.bucket),
        _el("Prefix", _name(page, page.prefix)),
        _el("KeyMarker", _name(page, key_marker)),
        _el("VersionIdMarker", "null" if key_marker else ""),
        _el("MaxKeys", page.max_keys),
        _el("IsTruncated", "true" if page.is_truncated else "false"),
        *_listing_options(page),
    ]
    last = max([o.key for o in page.objects] + list(page.prefixes), default=None)
    if page.is_truncated and last is not None:
        parts.append(_el("NextKeyMarker", _name(page, last)) + _el("NextVersionIdMarker", "null"))
    owner = _owner(owner_id)
    for obj in page.objects:
        etag = _el("ETag", obj.etag) if obj.etag else ""
        parts.append(
            f"<Version>{_el('Key', _name(page, obj.key))}<VersionId>null</VersionId>"
            f"<IsLatest>true</IsLatest>{_el('LastModified', iso(obj.mtime))}{etag}"
            f"{_el('Size', obj.size)}<StorageClass>STANDARD</StorageClass>{owner}</Version>"
        )
    parts.extend(_common_prefixes(page))
    return _doc("ListVersionsResult", "".join(parts))


def copy_result(root: str, etag: str, mtime: datetime) -> str:
    """CopyObjectResult / CopyPartResult."""
    return _doc(root, _el("LastModified", iso(mtime)) + _el("ETag", etag))


def initiate_multipart(bucket: str, key: str, upload_id: str) -> str:
    return _doc(
        "InitiateMultipartUploadResult",
        _el("Bucket", bucket) + _el("Key", key) + _el("UploadId", upload_id),
    )


def complete_multipart(
    location_url: str, bucket: str, key: str, etag: str, checksum: Sequence[str] = ()
) -> str:
    """CompleteMultipartUploadResult; ``checksum`` is (algorithm, value, type) if any."""
    extra = ""
    if checksum:
        algorithm, value, kind = checksum
        extra = _el(checksum_element(algorithm), value) + _el("ChecksumType", kind)
    return _doc(
        "CompleteMultipartUploadResult",
        _el("Location", location_url) + _el("Bucket", bucket) + _el("Key", key)
        + _el("ETag", etag) + extra,
    )  # fmt: skip


def checksum_element(algorithm: str) -> str:
    """``ChecksumSHA256`` for ``sha256``: how S3's XML names a checksum."""
    return "Checksum" + algorithm.upper()


def list_parts(
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[tuple[int, str, int, datetime]],
    marker: int,
    max_parts: int,
    truncated: bool,
) -> str:
    """ListPartsResult; ``parts`` are (number, etag, size, mtime)."""
    rows = "".join(
        f"<Part>{_el('PartNumber', n)}{_el('LastModified', iso(t))}{_el('ETag', e)}"
        f"{_el('Size', s)}</Part>"
        for n, e, s, t in parts
    )
    head = _el("Bucket", bucket) + _el("Key", key) + _el("UploadId", upload_id)
    head += _el("PartNumberMarker", marker) + _el("MaxParts", max_parts)
    head += _el("IsTruncated", "true" if truncated else "false")
    if truncated and parts:
        head += _el("NextPartNumberMarker", parts[-1][0])
    return _doc("ListPartsResult", head + "<StorageClass>STANDARD</StorageClass>" + rows)


def list_uploads(bucket: str, uploads: Sequence[tuple[str, str, datetime]]) -> str:
    """ListMultipartUploadsResult; ``uploads`` are (key, upload id, initiated)."""
    rows = "".join(
        f"<Upload>{_el('Key', k)}{_el('UploadId', u)}{_el('Initiated', iso(t))}"
        "<StorageClass>STANDARD</StorageClass></Upload>"
        for k, u, t in uploads
    )
    head = _el("Bucket", bucket) + "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
    head += _el("MaxUploads", 1000) + "<IsTruncated>false</IsTruncated>"
    return _doc("ListMultipartUploadsResult", head + rows)


def delete_result(deleted: Sequence[str], errors: Sequence[tuple[str, str, str]]) -> str:
    """DeleteResult; ``errors`` are (key, code, message)."""
    body = "".join(f"<Deleted>{_el('Key', k)}</Deleted>" for k in deleted)
    body += "".join(
        f"<Error>{_el('Key', k)}{_el('Code', c)}{_el('Message', m)}</Error>" for k, c, m in errors
    )
    return _doc("DeleteResult", body)


# -- request bodies -----------------------------------------------------------------


def _parse(body: bytes) -> ET.Element:
    if len(body) > MAX_XML_BODY:
        raise ApiError("MalformedXML", "The XML body is too large")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise ApiError("MalformedXML", "XML bodies must not declare a DTD or entities")
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError):
        raise ApiError(
            "MalformedXML", "The XML you provided was not well-formed or did not validate"
        ) from None
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]  # drop the namespace
    return root


def _text(element: ET.Element, name: str) -> str | None:
    child = element.find(name)
    return None if child is None else (child.text or "")


def parse_create_bucket(body: bytes) -> str | None:
    """The LocationConstraint of a CreateBucketConfiguration body, if any."""
    if not body.strip():
        return None
    return _text(_parse(body), "LocationConstraint")


def parse_versioning(body: bytes) -> tuple[str | None, str | None]:
    """(Status, MfaDelete) of a VersioningConfiguration body."""
    root = _parse(body)
    if root.tag != "VersioningConfiguration":
        raise ApiError("MalformedXML", "The root element must be VersioningConfiguration")
    return _text(root, "Status"), _text(root, "MfaDelete")


def parse_acl(body: bytes) -> list[tuple[str, str]]:
    """(grantee, permission) of each Grant of an AccessControlPolicy body.

    The grantee is its ID, URI or EmailAddress, whichever it names.
    """
    root = _parse(body)
    if root.tag != "AccessControlPolicy":
        raise ApiError("MalformedACLError", "The root element must be AccessControlPolicy")
    grants = []
    for grant in root.iter("Grant"):
        grantee = grant.find("Grantee")
        permission = _text(grant, "Permission")
        if grantee is None or permission is None:
            raise ApiError("MalformedACLError", "Each Grant needs a Grantee and a Permission")
        who = next((_text(grantee, n) for n in ("ID", "URI", "EmailAddress")
                    if grantee.find(n) is not None), None)  # fmt: skip
        if who is None:
            raise ApiError("MalformedACLError", "A Grantee needs an ID, URI or EmailAddress")
        grants.append((who.strip(), permission.strip()))
    return grants


def parse_delete(body: bytes) -> tuple[bool, list[str]]:
    """(quiet, keys) of a DeleteObjects body."""
    root = _parse(body)
    if root.tag != "Delete":
        raise ApiError("MalformedXML", "The root element must be Delete")
    keys = [_text(obj, "Key") for obj in root.findall("Object")]
    if not keys or len(keys) > MAX_DELETE_KEYS or any(k is None for k in keys):
        raise ApiError("MalformedXML", f"Delete must name 1 to {MAX_DELETE_KEYS} keys")
    quiet = (_text(root, "Quiet") or "").strip().lower() == "true"
    return quiet, [k for k in keys if k is not None]


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """The (part number, ETag) list of a CompleteMultipartUpload body."""
    return [(number, etag) for number, etag, _ in parse_complete_parts(body)]


def parse_complete_parts(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    """(part number, ETag, checksums by lower-case algorithm) of each Part."""
    root = _parse(body)
    parts = []
    for part in root.findall("Part"):
        number, etag = _text(part, "PartNumber"), _text(part, "ETag")
        if number is None or etag is None or not number.strip().isdigit():
            raise ApiError("MalformedXML", "Each Part needs a PartNumber and an ETag")
        sums = {child.tag[len("Checksum") :].lower(): (child.text or "").strip()
                for child in part if child.tag.startswith("Checksum")}  # fmt: skip
        parts.append((int(number), etag.strip(), sums))
    if root.tag != "CompleteMultipartUpload" or not parts:
        raise ApiError("MalformedXML", "CompleteMultipartUpload must list at least one Part")
    return parts
