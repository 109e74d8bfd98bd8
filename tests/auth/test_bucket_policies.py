"""Bucket policies: parsing, principals and how they combine with identity policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shoal.auth.bucket_policies import bucket_of, parse_bucket_policy
from shoal.errors import MalformedPolicyDocumentError

USER = "arn:aws:iam::123456789012:user/ann"
ACCOUNT = "123456789012"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect: str, principal: Any, action: str = "s3:GetObject", **extra: Any) -> dict[str, Any]:
    key = "NotPrincipal" if extra.pop("negated", False) else "Principal"
    return {"Effect": effect, key: principal, "Action": action,
            "Resource": "arn:aws:s3:::bkt/*", **extra}  # fmt: skip


def decide(text: str, caller: str = USER, action: str = "s3:GetObject") -> str | None:
    decision = parse_bucket_policy("bkt", text).decide(
        caller, ACCOUNT, action, "arn:aws:s3:::bkt/k", {}
    )
    return None if decision is None else decision.kind


@pytest.mark.parametrize(
    ("principal", "kind"),
    [
        ("*", "allow"),
        ({"AWS": "*"}, "allow"),
        ({"AWS": USER}, "allow"),
        ({"AWS": [USER, "arn:aws:iam::123456789012:user/bob"]}, "allow"),
        ({"AWS": "arn:aws:iam::123456789012:user/bob"}, None),
        ({"AWS": ACCOUNT}, None),  # naming the account delegates to its IAM policies
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, None),
        ({"Service": "logging.s3.amazonaws.com"}, None),
    ],
)
def test_who_an_allow_grants(principal: Any, kind: str | None) -> None:
    assert decide(doc(stmt("Allow", principal))) == kind


@pytest.mark.parametrize(
    ("principal", "negated", "kind"),
    [
        ({"AWS": ACCOUNT}, False, "explicit-deny"),  # every user of the account
        ({"AWS": USER}, False, "explicit-deny"),
        ({"AWS": "arn:aws:iam::123456789012:user/bob"}, False, None),
        ({"AWS": "arn:aws:iam::123456789012:user/bob"}, True, "explicit-deny"),
        ({"AWS": USER}, True, None),
    ],
)
def test_who_a_deny_refuses(principal: Any, negated: bool, kind: str | None) -> None:
    assert decide(doc(stmt("Deny", principal, negated=negated))) == kind


def test_deny_wins_over_allow_and_actions_must_match() -> None:
    text = doc(stmt("Allow", "*", "s3:*"), stmt("Deny", "*", "s3:GetObject"))
    assert decide(text) == "explicit-deny"
    assert decide(text, action="s3:PutObject") == "allow"
    assert decide(doc(stmt("Allow", "*", "s3:PutObject"))) is None


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/*"},
        stmt("Allow", "*", Resource="arn:aws:s3:::other/*"),
        stmt("Allow", "*", Resource="arn:aws:s3:::bktx/*"),
        stmt("Allow", {"AWS": USER}, negated=True),
        stmt("Allow", {"AWS": []}),
        stmt("Allow", "nobody"),
        stmt("Allow", "*", Action="GetObject"),
        "not an object",
    ],
)
def test_malformed(statement: Any) -> None:
    with pytest.raises(MalformedPolicyDocumentError):
        parse_bucket_policy("bkt", doc(statement))


@pytest.mark.parametrize(
    "resource", ["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*", "arn:aws:s3:::*", "arn:aws:s3:::b*"]
)
def test_resources_that_can_name_the_bucket(resource: str) -> None:
    parse_bucket_policy("bkt", doc(stmt("Allow", "*", Resource=resource)))


def test_bucket_of() -> None:
    assert bucket_of("arn:aws:s3:::bkt") == "bkt"
    assert bucket_of("arn:aws:s3:::bkt/a/b") == "bkt"
    assert bucket_of("arn:aws:glue:us-east-1:1:table/db/t") is None
    assert bucket_of("arn:aws:s3:::") is None
