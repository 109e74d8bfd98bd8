"""Bucket policies: resource policies on S3 buckets, stored and evaluated.

A bucket policy is an IAM policy document whose statements also name who they apply
to (``Principal`` or ``NotPrincipal``). It is parsed with the identity-policy parser
(``shoal.auth.policy``) once the principals are taken out, and must only name
resources in its own bucket. It is kept as the exact text the client sent (S3
answers GetBucketPolicy with it) in the state database's ``bucket_policies`` table.

Evaluation follows S3 for principals of the bucket's own account (shoal has one):

* an applicable explicit ``Deny`` in the bucket policy refuses the request, whatever
  the identity policies say (admin users too, except for the bucket-policy actions
  themselves, which the account root can always use: S3's way out of a lock-out);
* an ``Allow`` in the bucket policy for the caller (``"*"``, ``{"AWS": "*"}`` or the
  caller's user ARN) is enough, even when no identity policy allows the request;
* a statement naming the account (``"123456789012"`` or ``arn:aws:iam::…:root``)
  delegates to the account's IAM policies: its ``Allow`` grants nothing by itself,
  its ``Deny`` applies to every user of the account.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from shoal.auth.conditions import ContextValue, normalize_context
from shoal.auth.policy import ALLOW, DENY, Decision, PolicyDocument, parse_policy
from shoal.auth.schema import bucket_policies
from shoal.catalog.connection import StateDatabase
from shoal.errors import MalformedPolicyDocumentError

S3_ARN = "arn:aws:s3:::"
# The account root may always read, replace or delete a bucket's policy (S3 does the
# same so an owner cannot lock themselves out for good).
POLICY_ACTIONS = frozenset({"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"})
MAX_POLICY_BYTES = 20 * 1024  # S3's limit


@dataclass(frozen=True)
class Principals:
    """Who a statement names: ``everyone``, or these ARNs and account ids."""

    everyone: bool
    names: frozenset[str]
    negated: bool = False  # NotPrincipal

    def grants_to(self, caller_arn: str) -> bool:
        """Whether an Allow with these principals grants to the caller in its own right
        (naming the caller's account only delegates to the account's IAM policies)."""
        return not self.negated and (self.everyone or caller_arn in self.names)

    def refuses(self, caller_arn: str, account_id: str) -> bool:
        """Whether a Deny with these principals covers the caller (or its account)."""
        named = (
            self.everyone
            or caller_arn in self.names
            or account_id in self.names
            or f"arn:aws:iam::{account_id}:root" in self.names
        )
        return named != self.negated


@dataclass(frozen=True)
class BucketPolicy:
    """A parsed bucket policy: the document and each statement's principals."""

    bucket: str
    text: str
    document: PolicyDocument
    principals: tuple[Principals, ...]

    def decide(
        self,
        caller_arn: str,
        account_id: str,
        action: str,
        resource: str,
        context: Mapping[str, ContextValue],
    ) -> Decision | None:
        """The explicit Deny or Allow this policy has for the caller, else None."""
        ctx = normalize_context(context)
        allow = None
        name = f"bucket policy of {self.bucket}"
        for index, (statement, who) in enumerate(
            zip(self.document.statements, self.principals, strict=True)
        ):
            if not statement.applies(action, resource, ctx):
                continue
            label = statement.sid or f"#{index + 1}"
            if statement.effect == DENY and who.refuses(caller_arn, account_id):
                return Decision(False, "explicit-deny", action, resource, name, label)
            if statement.effect == ALLOW and allow is None and who.grants_to(caller_arn):
                allow = Decision(True, "allow", action, resource, name, label)
        return allow


def parse_bucket_policy(bucket: str, text: str) -> BucketPolicy:
    """Parse and check a bucket policy for ``bucket``.

    Raises:
        MalformedPolicyDocumentError: not a valid policy, a statement without a
            principal, an Allow with NotPrincipal, or a resource outside the bucket.
    """
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise MalformedPolicyDocumentError(f"Policies must be at most {MAX_POLICY_BYTES} bytes")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedPolicyDocumentError(f"Policies must be valid JSON: {exc}") from None
    raws = data.get("Statement") if isinstance(data, dict) else None
    raws = raws if isinstance(raws, list) else [raws]
    if not all(isinstance(raw, dict) for raw in raws):
        raise MalformedPolicyDocumentError("Each statement must be a JSON object")
    principals = tuple(_principals(raw, n) for n, raw in enumerate(raws, 1))
    stripped = [{k: v for k, v in raw.items() if k not in ("Principal", "NotPrincipal")}
                for raw in raws]  # fmt: skip
    document = parse_policy({**data, "Statement": stripped})
    for statement in document.statements:
        for pattern in statement.resources:
            if not _within(pattern.text, bucket):
                raise MalformedPolicyDocumentError(
                    f"Policy has invalid resource {pattern.text!r}: not in bucket {bucket}"
                )
    return BucketPolicy(bucket, text, document, principals)


def _principals(raw: Mapping[str, Any], number: int) -> Principals:
    where = f"Statement #{number}"
    if ("Principal" in raw) == ("NotPrincipal" in raw):
        raise MalformedPolicyDocumentError(f"{where} must have one Principal or NotPrincipal")
    negated = "NotPrincipal" in raw
    if negated and raw.get("Effect") == ALLOW:
        raise MalformedPolicyDocumentError(f"{where}: NotPrincipal is only allowed with Deny")
    value = raw["NotPrincipal" if negated else "Principal"]
    if value == "*":
        return Principals(True, frozenset(), negated)
    if not isinstance(value, dict) or not value:
        raise MalformedPolicyDocumentError(f"{where}: Principal must be '*' or an object")
    names: set[str] = set()
    for kind, entries in value.items():
        entries = entries if isinstance(entries, list) else [entries]
        if not entries or not all(isinstance(e, str) and e for e in entries):
            raise MalformedPolicyDocumentError(f"{where}: Principal {kind} must be strings")
        if kind == "AWS":  # Service, Federated, CanonicalUser name no shoal caller
            names.update(entries)
    return Principals("*" in names, frozenset(names - {"*"}), negated)


def _within(pattern: str, bucket: str) -> bool:
    """Whether a resource pattern can name the bucket or an object in it."""
    literal = pattern.split("*", 1)[0].split("?", 1)[0]
    arn = S3_ARN + bucket
    if literal != pattern:  # a wildcard: its literal start must agree with the bucket's
        return (arn + "/").startswith(literal) or literal.startswith(arn + "/")
    return pattern == arn or pattern.startswith(arn + "/")


def bucket_of(resource: str) -> str | None:
    """The bucket an S3 ARN names (``arn:aws:s3:::b`` or ``arn:aws:s3:::b/key``)."""
    if not resource.startswith(S3_ARN):
        return None
    return resource[len(S3_ARN) :].split("/", 1)[0] or None


class BucketPolicyStore:
    """Bucket policies in the state database, by bucket name.

    Args:
        state: The shared state database.
    """

    def __init__(self, state: StateDatabase) -> None:
        self.state = state

    def put(self, bucket: str, text: str) -> BucketPolicy:
        """Check and store ``text`` as ``bucket``'s policy, replacing any other."""
        policy = parse_bucket_policy(bucket, text)
        now = datetime.now(UTC)
        with self.state.write() as conn:
            found = conn.execute(
                select(bucket_policies.c.bucket).where(bucket_policies.c.bucket == bucket)
            ).first()
            if found is None:
                conn.execute(insert(bucket_policies).values(bucket=bucket, document=text,
                                                            update_time=now))  # fmt: skip
            else:
                conn.execute(update(bucket_policies).where(bucket_policies.c.bucket == bucket)
                             .values(document=text, update_time=now))  # fmt: skip
        return policy

    def get(self, bucket: str) -> BucketPolicy | None:
        """``bucket``'s policy, or None."""
        with self.state.read() as conn:
            text = conn.execute(
                select(bucket_policies.c.document).where(bucket_policies.c.bucket == bucket)
            ).scalar()
        return None if text is None else parse_bucket_policy(bucket, text)

    def get_many(self, buckets: Iterable[str]) -> dict[str, BucketPolicy]:
        """The policies of those of ``buckets`` that have one, in one read."""
        with self.state.read() as conn:
            rows = conn.execute(
                select(bucket_policies.c.bucket, bucket_policies.c.document).where(
                    bucket_policies.c.bucket.in_(sorted(buckets))
                )
            ).all()
        return {r.bucket: parse_bucket_policy(r.bucket, r.document) for r in rows}

    def delete(self, bucket: str) -> None:
        """Forget ``bucket``'s policy (none is fine)."""
        with self.state.write() as conn:
            conn.execute(delete(bucket_policies).where(bucket_policies.c.bucket == bucket))


__all__ = [
    "BucketPolicy",
    "BucketPolicyStore",
    "bucket_of",
    "parse_bucket_policy",
]
