"""Versioning as S3 answers it for a bucket that was never versioned.

shoal does not keep object versions: a put replaces the file DuckDB reads, and a
lake of plain files has nowhere to keep older ones. So every object has exactly one
version, whose id is ``null`` (what S3 reports for objects of unversioned buckets),
GetBucketVersioning answers an empty configuration, PutBucketVersioning with
``Suspended`` is accepted as the no-op it is on a never-versioned bucket, and
``Enabled`` is refused with 501 NotImplemented.
"""

from __future__ import annotations

from shoal.api import s3_xml
from shoal.api.errors import ApiError

NULL_VERSION = "null"


def check_versioning_request(body: bytes) -> None:
    """Accept a PutBucketVersioning body only when it changes nothing."""
    status, mfa_delete = s3_xml.parse_versioning(body)
    if status == "Enabled" or mfa_delete == "Enabled":
        raise ApiError(
            "NotImplemented",
            "shoal does not version objects: every object has the single version 'null'",
            501,
        )
    if status not in (None, "Suspended") or mfa_delete not in (None, "Disabled"):
        raise ApiError("MalformedXML", "Status must be Enabled or Suspended")


def version_start(key_marker: str | None, version_marker: str | None) -> str | None:
    """The key a ListObjectVersions page starts after.

    The only version of a key is ``null``, so a version-id marker names nothing
    beyond its key marker; a marker that is neither empty nor ``null`` is refused,
    as S3 refuses version ids it never issued.
    """
    if version_marker and version_marker != NULL_VERSION:
        raise ApiError("InvalidArgument", "Invalid version id specified")
    if version_marker and not key_marker:
        raise ApiError(
            "InvalidArgument", "A version-id marker cannot be specified without a key marker."
        )
    return key_marker or None
