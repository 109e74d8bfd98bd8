"""ACLs as a single-owner S3 answers them.

Every bucket and object in shoal belongs to its one account, and who may do what is
decided by IAM policies (``shoal.auth``) and bucket policies, never by ACLs. So an
ACL is always the owner with FULL_CONTROL: GetBucketAcl / GetObjectAcl answer that,
and PutBucketAcl / PutObjectAcl, or an ``x-amz-acl`` header on a PUT, are accepted
when they ask for exactly that (``private``, or a grant of FULL_CONTROL to the owner
alone; ``bucket-owner-full-control`` and ``bucket-owner-read`` mean the same thing
when bucket and object owner are one). Any other grant (``public-read``, grants to
other accounts, groups or e-mail addresses) is refused with 501 NotImplemented rather
than accepted and ignored: shoal serves no anonymous or cross-account requests, so
pretending to make an object public would mislead.
"""

from __future__ import annotations

from collections.abc import Mapping

from shoal.api import s3_xml
from shoal.api.errors import ApiError

SINGLE_OWNER_CANNED = frozenset({"private", "bucket-owner-full-control", "bucket-owner-read"})
CANNED = SINGLE_OWNER_CANNED | {
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "log-delivery-write",
}
GRANT_HEADERS = (
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
)


def check_acl_headers(headers: Mapping[str, str], owner_id: str) -> None:
    """Accept ``x-amz-acl`` / ``x-amz-grant-*`` headers only when they change nothing."""
    canned = headers.get("x-amz-acl")
    if canned is not None:
        if canned not in CANNED:
            raise ApiError("InvalidArgument", f"Unknown canned ACL: {canned!r}")
        if canned not in SINGLE_OWNER_CANNED:
            raise _not_implemented(f"the canned ACL {canned!r}")
    for name in GRANT_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if name != "x-amz-grant-full-control" or not _names_only(value, owner_id):
            raise _not_implemented(f"the grant {name}: {value}")


def _names_only(value: str, owner_id: str) -> bool:
    grantees = [g.strip() for g in value.split(",") if g.strip()]
    return bool(grantees) and all(g in (f'id="{owner_id}"', f"id={owner_id}") for g in grantees)


def check_acl_body(body: bytes, owner_id: str) -> None:
    """Accept an AccessControlPolicy body only when it grants the owner FULL_CONTROL alone."""
    grants = s3_xml.parse_acl(body)
    if grants != [(owner_id, "FULL_CONTROL")]:
        raise _not_implemented("grants other than FULL_CONTROL to the owner")


def _not_implemented(what: str) -> ApiError:
    return ApiError(
        "NotImplemented",
        f"shoal does not implement {what}: every bucket and object belongs to its one "
        "account, and IAM and bucket policies decide access",
        501,
    )
