"""User, group and role policies judged together, as IAM combines identity policies.

Every combination of (user, group, role) × (Allow, Deny, none) for one request, with
the user's and the group's policy inline or attached (managed). The expected
decision comes from the rule written out in ``_iam_rule``, not from shoal.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import shoal
from shoal.app import Shoal
from shoal.auth.enforce import Authorizer, Caller, Check
from shoal.auth.role_mappings import RoleMapping, RoleMappings
from shoal.errors import NotAuthorizedError

ACCOUNT = "123456789012"
ACTION = "s3:GetObject"
OBJECT = "arn:aws:s3:::lake/hr/x.csv"
EFFECTS = ("Allow", "Deny", None)
HOW = ("inline", "attached")
CASES = list(itertools.product(EFFECTS, EFFECTS, EFFECTS, HOW))


def _iam_rule(*effects: str | None) -> bool:
    """IAM's combination: an explicit Deny anywhere wins; else any Allow allows."""
    return "Deny" not in effects and "Allow" in effects


def _document(effect: str) -> str:
    statement = {"Effect": effect, "Action": ACTION, "Resource": "arn:aws:s3:::lake/hr/*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shoal]:
    """One user, group and role per case: ``u<i>`` in ``g<i>``, mapped to ``r<i>``."""
    opened = shoal.open(None, data_dir=str(tmp_path_factory.mktemp("iam") / "data"))
    gov = opened.governance
    mappings = []
    for index, (user_effect, group_effect, role_effect, how) in enumerate(CASES):
        user, group, role = f"u{index}", f"g{index}", f"r{index}"
        opened.identities.create_user(user)
        gov.create_group(group)
        gov.add_user_to_group(group, user)
        gov.create_role(role)
        mappings.append(RoleMapping(role, "user", (user,)))
        for kind, name, effect in (
            ("user", user, user_effect),
            ("group", group, group_effect),
            ("role", role, role_effect),
        ):
            if effect is None:
                continue
            if how == "inline" or kind == "role":
                gov.put_inline_policy(kind, name, f"{effect.lower()}-hr", _document(effect))
            else:
                gov.create_policy(f"{kind}-{index}", _document(effect))
                gov.attach_policy(kind, name, f"{kind}-{index}")
    gov.set_role_mappings(RoleMappings(tuple(mappings)))
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("index", "user_effect", "group_effect", "role_effect", "how"),
    [(i, *case) for i, case in enumerate(CASES)],
    ids=[f"user-{u}-group-{g}-role-{r}-{h}" for u, g, r, h in CASES],
)
def test_every_combination_of_user_group_and_role_policies(
    app: Shoal,
    index: int,
    user_effect: str | None,
    group_effect: str | None,
    role_effect: str | None,
    how: str,
) -> None:
    caller = Caller(f"u{index}", f"arn:aws:iam::{ACCOUNT}:user/u{index}")
    [verdict] = Authorizer(app.governance).judge(caller, [Check(ACTION, OBJECT)])
    expected = _iam_rule(user_effect, group_effect, role_effect)
    assert verdict.allowed is expected
    assert verdict.role is not None and verdict.role.role == f"r{index}"
    if "Deny" in (user_effect, group_effect, role_effect):
        assert verdict.reason.startswith("explicit deny by policy ")
    elif not expected:
        assert verdict.reason.startswith("implicit deny")


def test_a_denial_names_where_the_deciding_statement_came_from(app: Shoal) -> None:
    user_deny = CASES.index(("Deny", None, "Allow", "inline"))
    group_deny = CASES.index((None, "Deny", "Allow", "attached"))
    authorizer = Authorizer(app.governance)
    for index, source in (
        (user_deny, f"user/u{user_deny} inline deny-hr"),
        (group_deny, f"group/g{group_deny} attached group-{group_deny}"),
    ):
        caller = Caller(f"u{index}", f"arn:aws:iam::{ACCOUNT}:user/u{index}")
        with pytest.raises(NotAuthorizedError) as caught:
            authorizer.authorize(caller, [Check(ACTION, OBJECT)])
        assert f"because explicit deny by policy {source} statement #1" in caught.value.message
        assert caught.value.role == f"r{index}"
        assert caught.value.role_mapping == f"mapping #{index + 1} (user u{index})"


def test_user_policies_count_under_every_role_the_mappings_choose(tmp_path: Path) -> None:
    """A prefix mapping picks another role for one resource: the user's Deny still holds."""
    with shoal.open(None, data_dir=str(tmp_path / "data")) as app:
        gov = app.governance
        app.identities.create_user("bob")
        for role in ("everything", "hr-data"):
            gov.create_role(role)
            gov.put_inline_policy("role", role, "all", _document("Allow"))
        gov.put_inline_policy("user", "bob", "no-hr", _document("Deny"))
        gov.set_role_mappings(
            RoleMappings(
                (
                    RoleMapping("hr-data", "prefix", ("s3://lake/hr",)),
                    RoleMapping("everything", "user", ("bob",)),
                )
            )
        )
        bob = Caller("bob", f"arn:aws:iam::{ACCOUNT}:user/bob")
        checks = [Check(ACTION, OBJECT, "s3://lake/hr/x.csv"), Check(ACTION, OBJECT)]
        verdicts = Authorizer(gov).judge(bob, checks)
        assert [v.role.role if v.role else None for v in verdicts] == ["hr-data", "everything"]
        assert [v.allowed for v in verdicts] == [False, False]
        gov.delete_inline_policy("user", "bob", "no-hr")  # takes effect on the next call
        assert Authorizer(gov).permitted(bob, checks) == [True, True]
