"""``shoal groups|roles|policies|role-mappings`` through click's runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from shoal.cli import main

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "glue:Get*", "Resource": "*"}],
}
EMR = {
    "AuthorizationConfiguration": {
        "EmrFsConfiguration": {
            "RoleMappings": [
                {"Role": "analyst", "IdentifierType": "Group", "Identifiers": ["eng"]},
                {"Role": "proj", "IdentifierType": "Prefix", "Identifiers": ["s3://lake/p"]},
            ]
        }
    }
}
Shoal = Callable[..., Result]


@pytest.fixture
def shoal(tmp_path: Path) -> Shoal:
    runner = CliRunner()
    data = ["--data", str(tmp_path / "data")]

    def run(*args: str, ok: bool = True, stdin: str | None = None) -> Result:
        result = runner.invoke(main, [*data, *args], input=stdin)
        assert (result.exit_code == 0) == ok, result.output
        return result

    return run


def _json(result: Result) -> Any:
    return json.loads(result.output)


def test_groups(shoal: Shoal) -> None:
    shoal("users", "create", "alice")
    shoal("groups", "create", "eng")
    shoal("groups", "add-user", "eng", "alice")
    assert _json(shoal("groups", "list", "-o", "json"))[0]["members"] == ["alice"]
    refused = shoal("groups", "delete", "eng", ok=False)
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1
    assert "remove users" in refused.output
    shoal("groups", "remove-user", "eng", "alice")
    shoal("groups", "delete", "eng")
    assert "(none)" in shoal("groups", "list").output
    assert "cannot be found" in shoal("groups", "add-user", "nope", "alice", ok=False).output


def test_policies_and_roles(shoal: Shoal, tmp_path: Path) -> None:
    document = tmp_path / "policy.json"
    document.write_text(json.dumps(POLICY))
    shoal("policies", "create", "readers", "--document", str(document))
    shoal("policies", "create", "stdin", "--document", "-", stdin=json.dumps(POLICY))
    bad = shoal("policies", "create", "bad", "--document", "-", stdin="{}", ok=False)
    assert "Error:" in bad.output
    shown = _json(shoal("policies", "show", "readers", "-o", "json"))
    assert shown["document"] == POLICY and shown["default_version"] == "v1"
    shoal("roles", "create", "analyst", "--description", "reads the catalog")
    shoal("roles", "attach-policy", "analyst", "readers")
    role = _json(shoal("roles", "show", "analyst", "-o", "json"))
    assert role["attached_policies"] == ["readers"]
    assert "readers" in shoal("roles", "list").output
    assert "attached" in shoal("policies", "delete", "readers", ok=False).output
    shoal("roles", "detach-policy", "analyst", "readers")
    shoal("policies", "delete", "readers")
    shoal("roles", "delete", "analyst")
    assert [p["name"] for p in _json(shoal("policies", "list", "-o", "json"))] == ["stdin"]


def test_role_mappings(shoal: Shoal, tmp_path: Path) -> None:
    config = tmp_path / "emr.json"
    config.write_text(json.dumps(EMR))
    loaded = _json(shoal("role-mappings", "load", str(config), "-o", "json"))
    assert [m["role"] for m in loaded["mappings"]] == ["analyst", "proj"]
    added = shoal("role-mappings", "add", "--role", "admin", "--user", "root", "--position", "1",
                  "-o", "json")  # fmt: skip
    assert [m["role"] for m in _json(added)["mappings"]] == ["admin", "analyst", "proj"]
    both = shoal("role-mappings", "add", "--role", "x", "--user", "a", "--group", "b", ok=False)
    assert both.exit_code == 2
    bad_prefix = shoal("role-mappings", "add", "--role", "x", "--prefix", "nope", ok=False)
    assert bad_prefix.exit_code == 1
    shoal("role-mappings", "remove", "2")
    shoal("role-mappings", "set-base-role", "weak")
    table = shoal("role-mappings", "show").output
    assert "admin" in table and "analyst" not in table and "base role (no match): weak" in table
    emr = _json(shoal("role-mappings", "show", "--emr"))
    mappings = emr["AuthorizationConfiguration"]["EmrFsConfiguration"]["RoleMappings"]
    assert [m["IdentifierType"] for m in mappings] == ["User", "Prefix"]
    assert "no role mapping #9" in shoal("role-mappings", "remove", "9", ok=False).output
    shoal("role-mappings", "clear")
    assert _json(shoal("role-mappings", "show", "-o", "json")) == {
        "base_role": "weak",
        "mappings": [],
    }
    broken = shoal("role-mappings", "load", "-", stdin="{}", ok=False)
    assert "AuthorizationConfiguration" in broken.output
