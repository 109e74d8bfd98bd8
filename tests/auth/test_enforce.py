"""The authorizer: role choice per resource, admin bypass, deny reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import shoal
from shoal.app import Shoal
from shoal.auth.enforce import ADMIN_REASON, Authorizer, Caller, Check
from shoal.auth.role_mappings import RoleMapping, RoleMappings
from shoal.auth.store import GovernanceStore
from shoal.errors import NotAuthorizedError

ACCOUNT = "123456789012"
TRIPS = f"arn:aws:glue:us-east-1:{ACCOUNT}:table/sample/trips"
SECRET = f"arn:aws:glue:us-east-1:{ACCOUNT}:table/sample/secret"
ALICE = Caller("alice", f"arn:aws:iam::{ACCOUNT}:user/alice", source_ip="10.1.2.3")
BOB = Caller("bob", f"arn:aws:iam::{ACCOUNT}:user/bob")
CAROL = Caller("carol", f"arn:aws:iam::{ACCOUNT}:user/carol")


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Shoal]:
    opened = shoal.open(None, data_dir=str(tmp_path / "data"))
    yield opened
    opened.close()


@pytest.fixture
def gov(app: Shoal) -> GovernanceStore:
    """alice in analysts; bob in nothing; roles analysts, finance, alice-own."""
    for name in ("alice", "bob", "carol"):
        app.identities.create_user(name)
    gov = app.governance
    gov.create_group("analysts")
    gov.add_user_to_group("analysts", "alice")
    allow_trips = {"Sid": "Trips", "Effect": "Allow", "Action": "glue:GetTable", "Resource": TRIPS}
    gov.create_policy("read-trips", _doc(allow_trips))
    gov.create_policy(
        "read-finance",
        _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/fin/*"}),
    )
    gov.create_policy(
        "no-deletes",
        _doc({"Sid": "NoDel", "Effect": "Deny", "Action": "glue:Delete*", "Resource": "*"}),
    )
    for role, policies in (
        ("analysts", ["read-trips"]),
        ("finance", ["read-finance", "no-deletes"]),
        ("carol", []),
    ):
        gov.create_role(role)
        for policy in policies:
            gov.attach_policy("role", role, policy)
    gov.set_role_mappings(
        RoleMappings(
            (
                RoleMapping("finance", "prefix", ("s3://lake/fin",)),
                RoleMapping("analysts", "group", ("analysts",)),
                RoleMapping("carol", "user", ("carol",)),
            )
        )
    )
    return gov


def test_group_mapping_allows_what_its_role_allows(gov: GovernanceStore) -> None:
    [verdict] = Authorizer(gov).authorize(ALICE, [Check("glue:GetTable", TRIPS)])
    assert verdict.role is not None and verdict.role.role == "analysts"
    assert verdict.role.reason == "mapping #2 (group analysts)"
    assert verdict.reason.startswith("allowed by policy read-trips statement Trips")


def test_denial_names_action_resource_role_and_why(gov: GovernanceStore) -> None:
    with pytest.raises(NotAuthorizedError) as caught:
        Authorizer(gov).authorize(
            ALICE, [Check("glue:GetTable", TRIPS), Check("glue:GetTable", SECRET)]
        )
    err = caught.value
    assert (err.action, err.resource, err.role) == ("glue:GetTable", SECRET, "analysts")
    assert err.code == "AccessDeniedException" and err.status == 400
    assert err.message == (
        f"User: {ALICE.arn} is not authorized to perform: glue:GetTable on resource: {SECRET} "
        f"because implicit deny: no statement allows glue:GetTable on {SECRET} "
        "(role analysts, mapping #2 (group analysts))"
    )


def test_role_is_chosen_per_resource_by_location(gov: GovernanceStore) -> None:
    fin = Check("s3:GetObject", "arn:aws:s3:::lake/fin/q1/", "s3://lake/fin/q1")
    other = Check("s3:GetObject", "arn:aws:s3:::lake/finance2/", "s3://lake/finance2")
    verdicts = Authorizer(gov).judge(ALICE, [fin, other, Check("glue:GetTable", TRIPS)])
    assert [v.role.role if v.role else None for v in verdicts] == [
        "finance",
        "analysts",
        "analysts",
    ]
    assert [v.allowed for v in verdicts] == [True, False, True]


def test_explicit_deny_is_named(gov: GovernanceStore) -> None:
    check = Check("glue:DeleteTable", TRIPS, "s3://lake/fin/t")
    [verdict] = Authorizer(gov).judge(ALICE, [check])
    assert not verdict.allowed
    assert verdict.reason.startswith("explicit deny by policy no-deletes statement NoDel")


def test_no_mapping_falls_back_to_the_weak_base_role(gov: GovernanceStore) -> None:
    [verdict] = Authorizer(gov).judge(BOB, [Check("glue:GetTable", TRIPS)])
    assert verdict.role is not None and verdict.role.role == "shoal-base"
    assert verdict.role.reason == "base role (no mapping matched)"
    assert not verdict.allowed


def test_user_mapping_to_a_role_without_policies_denies(gov: GovernanceStore) -> None:
    [verdict] = Authorizer(gov).judge(CAROL, [Check("glue:GetTable", TRIPS)])
    assert verdict.role is not None and verdict.role.role == "carol" and not verdict.allowed


def test_admin_is_allowed_everything_without_policies(gov: GovernanceStore) -> None:
    root = Caller("root", f"arn:aws:iam::{ACCOUNT}:root", is_admin=True)
    verdicts = Authorizer(gov).authorize(root, [Check("glue:DeleteTable", SECRET)])
    assert verdicts[0].allowed and verdicts[0].reason == ADMIN_REASON and verdicts[0].role is None


def test_changes_take_effect_on_the_next_call(gov: GovernanceStore) -> None:
    authorizer = Authorizer(gov)
    assert not authorizer.permitted(BOB, [Check("glue:GetTable", TRIPS)])[0]
    gov.add_user_to_group("analysts", "bob")
    assert authorizer.permitted(BOB, [Check("glue:GetTable", TRIPS)]) == [True]


def test_conditions_see_the_source_ip(gov: GovernanceStore) -> None:
    gov.put_inline_policy(
        "role",
        "analysts",
        "office-only",
        _doc(
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ),
    )
    check = Check("glue:GetTable", TRIPS)
    assert Authorizer(gov).permitted(ALICE, [check]) == [True]  # 10.1.2.3
    elsewhere = Caller("alice", ALICE.arn, source_ip="192.0.2.1")
    assert Authorizer(gov).permitted(elsewhere, [check]) == [False]


def test_no_checks_need_no_store_reads(gov: GovernanceStore) -> None:
    assert Authorizer(gov).authorize(BOB, []) == []
