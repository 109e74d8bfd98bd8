"""Users and access keys: creation, secrets at rest, the root bootstrap, the CLI."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import shoal
from shoal.auth.keys import ROOT_CREDENTIALS_FILE, SERVER_KEY_FILE, IdentityStore
from shoal.cli import main
from shoal.errors import EntityAlreadyExistsError, InvalidInputError, NoSuchEntityError


@pytest.fixture
def identities(tmp_path: Path) -> IdentityStore:
    app = shoal.open(data_dir=str(tmp_path / "data"))
    return app.identities


def test_keys_look_like_aws_and_secrets_are_encrypted(identities: IdentityStore) -> None:
    identities.create_user("alice")
    key = identities.create_key("alice")
    assert key.access_key_id.startswith("AKIA") and len(key.access_key_id) == 20
    assert key.access_key_id[4:].isalnum() and key.access_key_id.isupper()
    assert len(key.secret_access_key) == 40
    assert key.secret_access_key not in repr(key)
    found = identities.signing_identity(key.access_key_id)
    assert found is not None and found.secret_access_key == key.secret_access_key
    assert key.secret_access_key not in repr(found)
    db = (identities.data_path / "catalog.db").read_bytes()
    assert key.secret_access_key.encode() not in db
    mode = stat.S_IMODE((identities.data_path / SERVER_KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_enable_disable_delete(identities: IdentityStore) -> None:
    identities.create_user("bob")
    key = identities.create_key("bob")
    identities.set_key_enabled(key.access_key_id, False)
    assert not identities.signing_identity(key.access_key_id).usable  # type: ignore[union-attr]
    identities.set_key_enabled(key.access_key_id, True)
    identities.set_user_enabled("bob", False)
    assert not identities.signing_identity(key.access_key_id).usable  # type: ignore[union-attr]
    identities.delete_user("bob")
    assert identities.signing_identity(key.access_key_id) is None
    with pytest.raises(NoSuchEntityError):
        identities.delete_key(key.access_key_id)


def test_names_and_duplicates(identities: IdentityStore) -> None:
    identities.create_user("carol")
    with pytest.raises(EntityAlreadyExistsError):
        identities.create_user("carol")
    for bad in ["", "a b", "x" * 65, "../x"]:
        with pytest.raises(InvalidInputError):
            identities.create_user(bad)
    with pytest.raises(NoSuchEntityError):
        identities.create_key("nobody")


def test_root_from_environment_values(identities: IdentityStore) -> None:
    key_id = identities.ensure_root("AKIAROOT000000000001", "s" * 40)
    assert key_id == "AKIAROOT000000000001"
    identities.ensure_root("AKIAROOT000000000001", "t" * 40)  # secret rotated
    found = identities.signing_identity(key_id)
    assert found is not None and found.secret_access_key == "t" * 40 and found.is_admin
    assert not (identities.data_path / ROOT_CREDENTIALS_FILE).exists()
    with pytest.raises(InvalidInputError):
        identities.ensure_root("AKIAROOT000000000001", None)


def test_generated_root_is_written_owner_only(identities: IdentityStore) -> None:
    key_id = identities.ensure_root(None, None)
    path = identities.data_path / ROOT_CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert key_id in text
    secret = identities.signing_identity(key_id).secret_access_key  # type: ignore[union-attr]
    assert f"aws_secret_access_key = {secret}" in text
    assert identities.ensure_root(None, None) == key_id  # not regenerated


def test_users_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data", str(tmp_path / "data")]
    assert runner.invoke(main, [*data, "users", "create", "dave"]).exit_code == 0
    made = runner.invoke(main, [*data, "users", "create-key", "dave", "-o", "json"])
    key = json.loads(made.output)
    assert len(key["secret_access_key"]) == 40
    listed = runner.invoke(main, [*data, "users", "keys", "dave", "-o", "json"])
    assert key["secret_access_key"] not in listed.output
    assert json.loads(listed.output)[0]["enabled"] is True
    assert runner.invoke(main, [*data, "users", "disable-key", key["access_key_id"]]).exit_code == 0
    assert "dave" in runner.invoke(main, [*data, "users", "list"]).output
    assert runner.invoke(main, [*data, "users", "delete", "dave"]).exit_code == 0
    gone = runner.invoke(main, [*data, "users", "delete", "dave"])
    assert gone.exit_code == 1 and "no such user" in gone.output
