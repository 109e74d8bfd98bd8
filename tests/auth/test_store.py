"""The governance store: groups, roles, managed and inline policies, attachments and
role mappings, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import shoal
from shoal.app import Shoal
from shoal.auth.policy import evaluate
from shoal.auth.role_mappings import RoleMapping
from shoal.auth.store import MAX_POLICY_VERSIONS, GovernanceStore
from shoal.errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
)

READ_SALES = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "glue:Get*", "Resource": "*"}],
    }
)
DENY_SECRET = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Deny", "Action": "*", "Resource": "arn:aws:s3:::secret/*"},
    }
)
TABLE = "arn:aws:glue:us-east-1:123456789012:table/sales/orders"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shoal]:
    overrides: dict[str, object] = {"data_dir": str(tmp_path / "data")}
    if request.param == "postgres":
        overrides["catalog_url"] = request.getfixturevalue("postgres_schema_url")
    opened = shoal.open(None, **overrides)
    yield opened
    opened.close()


@pytest.fixture
def gov(app: Shoal) -> GovernanceStore:
    for name in ("alice", "bob"):
        app.identities.create_user(name)
    return app.governance


def test_groups_and_membership(gov: GovernanceStore) -> None:
    gov.create_group("analysts")
    gov.create_group("eng")
    with pytest.raises(EntityAlreadyExistsError):
        gov.create_group("analysts")
    gov.add_user_to_group("analysts", "alice")
    gov.add_user_to_group("analysts", "alice")  # again: no-op, as in IAM
    gov.add_user_to_group("eng", "alice")
    gov.add_user_to_group("eng", "bob")
    assert gov.groups_for_user("alice") == ["analysts", "eng"]
    assert gov.group_members("eng") == ["alice", "bob"]
    assert [g.name for g in gov.list_groups()] == ["analysts", "eng"]
    with pytest.raises(DeleteConflictError):
        gov.delete_group("eng")
    gov.remove_user_from_group("eng", "bob")
    with pytest.raises(NoSuchEntityError):
        gov.remove_user_from_group("eng", "bob")
    with pytest.raises(NoSuchEntityError):
        gov.add_user_to_group("eng", "nobody")
    assert gov.groups_for_user("bob") == []


def test_deleting_a_user_drops_memberships_and_policies(app: Shoal, gov: GovernanceStore) -> None:
    gov.create_group("eng")
    gov.add_user_to_group("eng", "bob")
    gov.put_inline_policy("user", "bob", "p", READ_SALES)
    assert gov.user_conflicts("bob") == ["group eng", "inline policy p"]
    app.identities.delete_user("bob")
    app.identities.create_user("bob")  # a new bob inherits nothing from the old one
    assert gov.groups_for_user("bob") == []
    assert gov.inline_policies("user", "bob") == []
    gov.delete_group("eng")


@pytest.mark.parametrize(
    ("kind", "name"),
    [("group", ""), ("group", "a b"), ("role", "x" * 65), ("policy", "p/q"), ("policy", "x" * 129)],
)
def test_names_follow_iam_patterns(gov: GovernanceStore, kind: str, name: str) -> None:
    extra = (READ_SALES,) if kind == "policy" else ()
    with pytest.raises(InvalidInputError):
        getattr(gov, f"create_{kind}")(name, *extra)


def test_managed_policy_versions(gov: GovernanceStore) -> None:
    created = gov.create_policy("readers", READ_SALES, "read the catalog")
    assert created.default_version_id == "v1"
    with pytest.raises(MalformedPolicyDocumentError):
        gov.create_policy("bad", '{"Statement": []}')
    with pytest.raises(MalformedPolicyDocumentError):
        gov.create_policy_version("readers", "{not json")
    v2 = gov.create_policy_version("readers", DENY_SECRET)
    assert (v2.version_id, v2.is_default) == ("v2", False)
    assert gov.policy_version("readers").document == READ_SALES
    gov.set_default_policy_version("readers", 2)
    assert gov.get_policy("readers").default_version == 2
    with pytest.raises(DeleteConflictError):
        gov.delete_policy_version("readers", 2)
    gov.delete_policy_version("readers", 1)
    for _ in range(MAX_POLICY_VERSIONS - 1):
        gov.create_policy_version("readers", READ_SALES)
    with pytest.raises(LimitExceededError):
        gov.create_policy_version("readers", READ_SALES)
    assert [v.version for v in gov.list_policy_versions("readers")] == [6, 5, 4, 3, 2]
    with pytest.raises(NoSuchEntityError):
        gov.policy_version("readers", 1)


def test_attachments_and_delete_conflicts(gov: GovernanceStore) -> None:
    gov.create_policy("readers", READ_SALES)
    gov.create_role("analyst")
    gov.create_group("eng")
    gov.attach_policy("role", "analyst", "readers")
    gov.attach_policy("role", "analyst", "readers")  # again: no-op
    gov.attach_policy("group", "eng", "readers")
    gov.attach_policy("user", "alice", "readers")
    assert gov.attached_policies("role", "analyst") == ["readers"]
    assert gov.get_policy("readers").attachment_count == 3
    assert [p.name for p in gov.list_policies(only_attached=True)] == ["readers"]
    with pytest.raises(DeleteConflictError):
        gov.delete_policy("readers")
    with pytest.raises(DeleteConflictError):
        gov.delete_role("analyst")
    with pytest.raises(DeleteConflictError):
        gov.delete_group("eng")
    for kind, name in (("role", "analyst"), ("group", "eng"), ("user", "alice")):
        gov.detach_policy(kind, name, "readers")
    with pytest.raises(NoSuchEntityError):
        gov.detach_policy("role", "analyst", "readers")
    gov.delete_policy("readers")
    gov.delete_role("analyst")
    with pytest.raises(NoSuchEntityError):
        gov.get_role("analyst")


def test_inline_policies(gov: GovernanceStore) -> None:
    gov.create_role("analyst")
    gov.put_inline_policy("role", "analyst", "extra", READ_SALES)
    gov.put_inline_policy("role", "analyst", "extra", DENY_SECRET)  # replaces
    assert gov.inline_policies("role", "analyst") == ["extra"]
    assert gov.get_inline_policy("role", "analyst", "extra") == DENY_SECRET
    with pytest.raises(MalformedPolicyDocumentError):
        gov.put_inline_policy("role", "analyst", "bad", "[]")
    with pytest.raises(NoSuchEntityError):
        gov.put_inline_policy("role", "nobody", "x", READ_SALES)
    gov.delete_inline_policy("role", "analyst", "extra")
    with pytest.raises(NoSuchEntityError):
        gov.get_inline_policy("role", "analyst", "extra")


def test_policies_for_role_use_default_versions_and_inline(gov: GovernanceStore) -> None:
    gov.create_role("analyst")
    gov.create_policy("readers", READ_SALES)
    gov.create_policy_version("readers", DENY_SECRET)  # not default: not used
    gov.attach_policy("role", "analyst", "readers")
    gov.put_inline_policy("role", "analyst", "no-secret", DENY_SECRET)
    policies = gov.policies_for_role("arn:aws:iam::123456789012:role/analyst")
    assert [p.name for p in policies] == ["readers", "role/analyst inline no-secret"]
    assert evaluate(policies, "glue:GetTable", TABLE).allowed
    assert not evaluate(policies, "s3:GetObject", "arn:aws:s3:::secret/x").allowed
    assert gov.policies_for_role("unknown") == []


def test_role_mappings_edit_load_and_protect_roles(gov: GovernanceStore) -> None:
    assert gov.role_mappings().mappings == ()
    gov.create_role("analyst")
    gov.add_role_mapping(RoleMapping("analyst", "group", ("eng",)))
    gov.add_role_mapping(RoleMapping("admin", "user", ("alice",)), position=0)
    mappings = gov.role_mappings()
    assert [m.role for m in mappings.mappings] == ["admin", "analyst"]
    assert mappings.choose("bob", ["eng"]).role == "analyst"
    with pytest.raises(DeleteConflictError):
        gov.delete_role("analyst")
    gov.remove_role_mapping(1)
    with pytest.raises(NoSuchEntityError):
        gov.remove_role_mapping(5)
    gov.set_base_role("weak")
    emr = {
        "AuthorizationConfiguration": {
            "EmrFsConfiguration": {
                "RoleMappings": [
                    {"Role": "arn:aws:iam::1:role/p", "IdentifierType": "Prefix",
                     "Identifiers": ["s3://lake/proj"]},
                ]
            }
        }
    }  # fmt: skip
    loaded = gov.load_emr_security_configuration(json.dumps(emr))
    assert gov.role_mappings() == loaded
    assert loaded.base_role == "weak"
    assert loaded.choose("bob", (), "s3://lake/proj/x").role == "arn:aws:iam::1:role/p"
    gov.delete_role("analyst")  # no mapping names it any more
