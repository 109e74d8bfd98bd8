"""Ordered role mappings (a decision table) and EMR security configurations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shoal.auth.role_mappings import (
    DEFAULT_BASE_ROLE,
    RoleChoice,
    RoleMapping,
    RoleMappings,
    dump_emr_security_configuration,
    load_emr_security_configuration,
    prefix_covers,
)
from shoal.errors import InvalidInputError

ROLE = "arn:aws:iam::123456789012:role/"
MAPPINGS = RoleMappings(
    (
        RoleMapping(ROLE + "admin", "user", ("root", "ops")),
        RoleMapping(ROLE + "secret", "prefix", ("s3://lake/secret/",)),
        RoleMapping(ROLE + "analysts", "group", ("analysts", "bi")),
        RoleMapping(ROLE + "project", "prefix", ("s3://lake/proj", "s3://other")),
        RoleMapping(ROLE + "eng", "group", ("eng",)),
    ),
    base_role="weak",
)

# (id, user, groups, location, role, index of the deciding mapping, identifier)
ROWS: list[tuple[str, str, tuple[str, ...], str | None, str, int | None, str | None]] = [
    ("user match", "ops", (), None, "admin", 0, "ops"),
    ("user first, over prefix", "ops", ("eng",), "s3://lake/secret/x", "admin", 0, "ops"),
    ("prefix before group", "ann", ("analysts",), "s3://lake/secret/x", "secret", 1,
     "s3://lake/secret/"),
    ("group when no prefix", "ann", ("analysts",), None, "analysts", 2, "analysts"),
    ("any listed group", "ann", ("x", "bi"), None, "analysts", 2, "bi"),
    ("group before later prefix", "ann", ("bi",), "s3://lake/proj/t", "analysts", 2, "bi"),
    ("prefix exact", "bob", (), "s3://lake/proj", "project", 3, "s3://lake/proj"),
    ("prefix child", "bob", (), "s3://lake/proj/a/b.csv", "project", 3, "s3://lake/proj"),
    ("prefix trailing slash", "bob", (), "s3://lake/secret", "secret", 1, "s3://lake/secret/"),
    ("prefix boundary", "bob", (), "s3://lake/project2/x", "weak", None, None),
    ("prefix bucket root", "bob", (), "s3://other/any/thing", "project", 3, "s3://other"),
    ("bucket boundary", "bob", (), "s3://otherwise/x", "weak", None, None),
    ("prefix case-sensitive", "bob", (), "s3://lake/PROJ/x", "weak", None, None),
    ("dot segments never match", "bob", (), "s3://lake/proj/../secret", "weak", None, None),
    ("later group", "eve", ("eng",), None, "eng", 4, "eng"),
    ("user names exact", "OPS", (), None, "weak", None, None),
    ("no match: base role", "zed", ("nobody",), "s3://elsewhere/x", "weak", None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("user", "groups", "location", "role", "index", "identifier"),
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
def test_decision_table(
    user: str,
    groups: tuple[str, ...],
    location: str | None,
    role: str,
    index: int | None,
    identifier: str | None,
) -> None:
    choice = MAPPINGS.choose(user, groups, location)
    expected_role = role if index is None else ROLE + role
    assert (choice.role, choice.mapping_index, choice.identifier) == (
        expected_role,
        index,
        identifier,
    )


def test_order_matters() -> None:
    by_group = RoleMapping("g", "group", ("eng",))
    by_user = RoleMapping("u", "user", ("ann",))
    assert RoleMappings((by_group, by_user)).choose("ann", ["eng"]).role == "g"
    assert RoleMappings((by_user, by_group)).choose("ann", ["eng"]).role == "u"


def test_reasons_for_the_audit_record() -> None:
    assert MAPPINGS.choose("ann", ["bi"]).reason == "mapping #3 (group bi)"
    assert MAPPINGS.choose("zed").reason == "base role (no mapping matched)"
    assert RoleMappings().choose("anyone") == RoleChoice(DEFAULT_BASE_ROLE)


def test_each_resource_gets_its_own_role() -> None:
    choices = MAPPINGS.choose_each("bob", [], ["s3://lake/proj/t1", "s3://lake/secret/t2", None])
    assert [c.role for c in choices] == [ROLE + "project", ROLE + "secret", "weak"]


@pytest.mark.parametrize(
    ("prefix", "location", "covered"),
    [
        ("s3://b00/proj", "s3://b00/proj", True),
        ("s3://b00/proj/", "s3://b00/proj", True),
        ("s3://b00/proj", "s3://b00/proj/", True),
        ("s3://b00/proj", "s3://b00/proj/x", True),
        ("s3://b00/proj/", "s3://b00/proj/x", True),
        ("s3://b00/proj", "s3://b00/project2", False),
        ("s3://b00/proj", "s3://b00/pro", False),
        ("s3://b00/", "s3://b00/x", True),
        ("s3://b00", "s3://b001/x", False),
        ("s3://b00/proj", "/local/b00/proj", False),
        ("s3://b00/proj", "s3://b00/proj/./x", False),
    ],
)
def test_prefix_boundaries(prefix: str, location: str, covered: bool) -> None:
    assert prefix_covers(prefix, location) is covered


EMR = {
    "AuthorizationConfiguration": {
        "EmrFsConfiguration": {
            "RoleMappings": [
                {
                    "Role": "arn:aws:iam::123456789012:role/allow_EMRFS_access_for_user1",
                    "IdentifierType": "User",
                    "Identifiers": ["user1"],
                },
                {
                    "Role": "arn:aws:iam::123456789012:role/allow_EMRFS_access_to_demo_s3_buckets",
                    "IdentifierType": "Prefix",
                    "Identifiers": ["s3://emrfs-auth-bucket/demo/"],
                },
                {
                    "Role": "arn:aws:iam::123456789012:role/allow_EMRFS_access_for_AdminGroup",
                    "IdentifierType": "Group",
                    "Identifiers": ["AdminGroup", "Ops"],
                },
            ]
        }
    }
}


def test_emr_configuration_round_trip() -> None:
    mappings = load_emr_security_configuration(json.dumps(EMR), base_role="weak")
    assert [m.identifier_type for m in mappings.mappings] == ["user", "prefix", "group"]
    assert mappings.base_role == "weak"
    assert dump_emr_security_configuration(mappings) == EMR
    assert load_emr_security_configuration(dump_emr_security_configuration(mappings)) == (
        RoleMappings(mappings.mappings)
    )
    choice = mappings.choose("someone", ["Ops"], "s3://emrfs-auth-bucket/demo/t")
    assert choice.role.endswith("demo_s3_buckets") and choice.mapping_index == 1


def test_emr_configuration_ignores_other_sections() -> None:
    document = {**EMR, "EncryptionConfiguration": {"EnableInTransitEncryption": False}}
    assert len(load_emr_security_configuration(document).mappings) == 3


def _one(**mapping: Any) -> dict[str, Any]:
    entry = {"Role": "r", "IdentifierType": "User", "Identifiers": ["u"], **mapping}
    entry = {k: v for k, v in entry.items() if v is not None}
    return {"AuthorizationConfiguration": {"EmrFsConfiguration": {"RoleMappings": [entry]}}}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "not valid JSON"),
        ({}, "no AuthorizationConfiguration"),
        ({"AuthorizationConfiguration": {}}, "no AuthorizationConfiguration.EmrFsConfiguration"),
        (
            {"AuthorizationConfiguration": {"EmrFsConfiguration": {"RoleMappings": {}}}},
            "must be a list",
        ),
        (_one(IdentifierType="Bucket"), "IdentifierType must be User, Group or Prefix"),
        (_one(IdentifierType="user"), "IdentifierType must be"),
        (_one(Role=None), "must name a role"),
        (_one(Role=""), "must name a role"),
        (_one(Identifiers=[]), "at least one identifier"),
        (_one(Identifiers="u"), "Identifiers must be a list"),
        (_one(Identifiers=["u", 3]), "at least one identifier"),
        (_one(IdentifierType="Prefix", Identifiers=["/data/x"]), "s3:// URI"),
        (_one(IdentifierType="Prefix", Identifiers=["s3://A_B/x"]), "bucket name"),
        (_one(Extra=1), "unknown key 'Extra'"),
    ],
)
def test_invalid_emr_configurations(document: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_emr_security_configuration(
            document if isinstance(document, str) else json.dumps(document)
        )


def test_invalid_mapping_values() -> None:
    with pytest.raises(InvalidInputError, match="unknown identifier type"):
        RoleMapping("r", "bucket", ("x",))
