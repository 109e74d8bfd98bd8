"""Users and access keys: who may sign requests to shoal.

Secrets are stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a server
key kept in ``DATA/server.key`` (owner-only). They cannot be hashed like passwords:
SigV4 proves knowledge of the secret by an HMAC the server must recompute, so the
server needs the raw secret. Someone with the state database alone learns nothing;
someone with the database *and* the data folder's key file can read every secret.

The bootstrap admin (``root``) gets its key from ``SHOAL_ROOT_ACCESS_KEY_ID`` /
``SHOAL_ROOT_SECRET_ACCESS_KEY`` when set, otherwise one generated on first start and
written to ``DATA/root-credentials`` (mode 0600). Secrets are never logged.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from shoal.auth.schema import access_keys, users
from shoal.catalog.connection import StateDatabase
from shoal.errors import (
    EntityAlreadyExistsError,
    InvalidInputError,
    NoSuchEntityError,
    StorageError,
    is_disk_full,
)

log = logging.getLogger("shoal.auth")

ROOT_USER = "root"
SERVER_KEY_FILE = "server.key"
ROOT_CREDENTIALS_FILE = "root-credentials"
_USER_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
_KEY_ID_RE = re.compile(r"^[A-Z0-9]{16,128}$")
_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
# Recording last use costs a write; once a minute per key is precise enough.
LAST_USED_RESOLUTION_SECONDS = 60.0
_DECRYPTED_KEPT = 1024
# Built once: asked on every signed request.
_SIGNING_IDENTITY = (
    select(
        access_keys.c.secret_encrypted,
        access_keys.c.enabled,
        users.c.name,
        users.c.is_admin,
        users.c.enabled.label("u_on"),
    )
    .join(users)
    .where(access_keys.c.access_key_id == bindparam("key_id"))
)


@dataclass(frozen=True)
class User:
    """A person or program that signs requests."""

    name: str
    is_admin: bool
    enabled: bool
    create_time: datetime


@dataclass(frozen=True)
class AccessKey:
    """An access key's public facts (never its secret)."""

    access_key_id: str
    user_name: str
    enabled: bool
    create_time: datetime
    last_used_time: datetime | None


@dataclass(frozen=True)
class NewAccessKey:
    """A key just made: the only time its secret is handed out."""

    access_key_id: str
    secret_access_key: str
    user_name: str

    def __repr__(self) -> str:
        return f"NewAccessKey({self.access_key_id!r}, user={self.user_name!r})"


@dataclass(frozen=True)
class SigningIdentity:
    """What the SigV4 verifier needs to know about an access key id."""

    access_key_id: str
    secret_access_key: str
    user_name: str
    is_admin: bool
    usable: bool  # key and user both enabled

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"SigningIdentity({self.access_key_id!r}, user={self.user_name!r})"


def new_access_key_id() -> str:
    """``AKIA`` and 16 random upper-case letters and digits, as AWS makes them."""
    return "AKIA" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    """40 random characters from AWS's secret alphabet."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def user_arn(account_id: str, user_name: str) -> str:
    """The ARN a user is known by (``arn:aws:iam::ACCOUNT:root`` for the admin)."""
    if user_name == ROOT_USER:
        return f"arn:aws:iam::{account_id}:root"
    return f"arn:aws:iam::{account_id}:user/{user_name}"


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only, before any byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _load_server_key(data_path: Path) -> Fernet:
    path = data_path / SERVER_KEY_FILE
    if not path.exists():
        try:
            _write_private(path, Fernet.generate_key().decode())
        except FileExistsError:
            pass  # another process made it first: use theirs
    try:
        return Fernet(path.read_text(encoding="utf-8").strip().encode())
    except (ValueError, OSError) as exc:
        raise StorageError(f"cannot use the server key {path}: {exc}") from None


class IdentityStore:
    """Users and access keys in the state database.

    Args:
        state: The shared state database.
        data_path: The data folder (holds the server key and root credentials).
        account_id: The account id reported in ARNs.
    """

    def __init__(self, state: StateDatabase, data_path: Path, account_id: str) -> None:
        self.state = state
        self.data_path = data_path
        self.account_id = account_id
        self._fernet = _load_server_key(data_path)
        self._last_touch: dict[str, float] = {}
        self._touch_lock = threading.Lock()
        self._decrypted: dict[str, str] = {}  # encrypted secret -> secret

    # -- users ------------------------------------------------------------------

    def create_user(self, name: str, is_admin: bool = False) -> User:
        """Create an enabled user. Raises EntityAlreadyExistsError, InvalidInputError."""
        if not _USER_NAME_RE.match(name):
            raise InvalidInputError(f"invalid user name {name!r}: 1-64 letters, digits or +=,.@_-")
        with self.state.write() as conn:
            if self._user_row(conn, name) is not None:
                raise EntityAlreadyExistsError(f"user {name!r} already exists")
            now = datetime.now(UTC)
            conn.execute(
                insert(users).values(name=name, is_admin=is_admin, enabled=True, create_time=now)
            )
        return User(name, is_admin, True, now)

    def list_users(self) -> list[User]:
        """Every user, by name."""
        with self.state.read() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).all()
        return [User(r.name, r.is_admin, r.enabled, r.create_time) for r in rows]

    def delete_user(self, name: str) -> None:
        """Delete a user and all their keys. Raises NoSuchEntityError."""
        with self.state.write() as conn:
            row = self._require_user(conn, name)
            conn.execute(delete(access_keys).where(access_keys.c.user_id == row.id))
            conn.execute(delete(users).where(users.c.id == row.id))

    def set_user_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a user; a disabled user's keys are refused."""
        with self.state.write() as conn:
            row = self._require_user(conn, name)
            conn.execute(update(users).where(users.c.id == row.id).values(enabled=enabled))

    # -- keys -------------------------------------------------------------------

    def create_key(
        self, user_name: str, access_key_id: str | None = None, secret: str | None = None
    ) -> NewAccessKey:
        """A new enabled key for ``user_name`` (generated unless both parts are given)."""
        key_id = access_key_id or new_access_key_id()
        secret = secret or new_secret_access_key()
        _check_key_id(key_id)
        with self.state.write() as conn:
            user = self._require_user(conn, user_name)
            if self._key_row(conn, key_id) is not None:
                raise EntityAlreadyExistsError(f"access key {key_id} already exists")
            conn.execute(
                insert(access_keys).values(
                    user_id=user.id,
                    access_key_id=key_id,
                    secret_encrypted=self._encrypt(secret),
                    enabled=True,
                    create_time=datetime.now(UTC),
                )
            )
        return NewAccessKey(key_id, secret, user_name)

    def list_keys(self, user_name: str | None = None) -> list[AccessKey]:
        """Keys of one user, or of everyone; never their secrets."""
        query = select(access_keys, users.c.name.label("user_name")).join(users)
        if user_name is not None:
            query = query.where(users.c.name == user_name)
        with self.state.read() as conn:
            if user_name is not None:
                self._require_user(conn, user_name)
            rows = conn.execute(query.order_by(users.c.name, access_keys.c.create_time)).all()
        return [_access_key(r) for r in rows]

    def set_key_enabled(self, access_key_id: str, enabled: bool) -> None:
        """Enable or disable a key; the change applies to the very next request."""
        with self.state.write() as conn:
            row = self._require_key(conn, access_key_id)
            conn.execute(
                update(access_keys).where(access_keys.c.id == row.id).values(enabled=enabled)
            )

    def delete_key(self, access_key_id: str) -> None:
        """Delete a key. Raises NoSuchEntityError."""
        with self.state.write() as conn:
            row = self._require_key(conn, access_key_id)
            conn.execute(delete(access_keys).where(access_keys.c.id == row.id))

    def signing_identity(self, access_key_id: str) -> SigningIdentity | None:
        """The secret and status of a key, or None if no such key exists.

        Read from the database on every call (every signed request asks), so a key or
        user disabled by any process is refused from its very next request.
        """
        row = self.state.first(_SIGNING_IDENTITY, {"key_id": access_key_id})
        if row is None:
            return None
        return SigningIdentity(
            access_key_id=access_key_id,
            secret_access_key=self._decrypt(row["secret_encrypted"]),
            user_name=row["name"],
            is_admin=bool(row["is_admin"]),
            usable=bool(row["enabled"] and row["u_on"]),
        )

    def record_use(self, access_key_id: str) -> None:
        """Note that a key signed a request (at most one write a minute per key)."""
        now = time.monotonic()
        with self._touch_lock:
            last = self._last_touch.get(access_key_id)
            if last is not None and now - last < LAST_USED_RESOLUTION_SECONDS:
                return
            self._last_touch[access_key_id] = now
        try:
            with self.state.write() as conn:
                conn.execute(
                    update(access_keys)
                    .where(access_keys.c.access_key_id == access_key_id)
                    .values(last_used_time=datetime.now(UTC))
                )
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            # A timestamp, not a decision: a full disk must not stop reads being served.
            log.warning("access key last-used time not recorded: the disk is full")

    # -- bootstrap --------------------------------------------------------------

    def ensure_root(self, access_key_id: str | None, secret: str | None) -> str:
        """Make sure the admin user has a key; return its access key id.

        With ``access_key_id`` and ``secret`` (from the environment) that key is
        installed, replacing the secret if the id exists. Otherwise the first start
        generates one and writes it to ``DATA/root-credentials`` (0600).
        """
        if bool(access_key_id) != bool(secret):
            raise InvalidInputError(
                "set both SHOAL_ROOT_ACCESS_KEY_ID and SHOAL_ROOT_SECRET_ACCESS_KEY, or neither"
            )
        self._ensure_root_user()
        if access_key_id and secret:
            return self._install_root_key(access_key_id, secret)
        keys = self.list_keys(ROOT_USER)
        if keys:
            return keys[0].access_key_id
        new = self.create_key(ROOT_USER)
        self._write_root_credentials(new)
        return new.access_key_id

    def _ensure_root_user(self) -> None:
        try:
            self.create_user(ROOT_USER, is_admin=True)
        except EntityAlreadyExistsError:
            pass

    def _install_root_key(self, access_key_id: str, secret: str) -> str:
        _check_key_id(access_key_id)
        with self.state.write() as conn:
            row = self._key_row(conn, access_key_id)
            if row is not None:
                conn.execute(
                    update(access_keys)
                    .where(access_keys.c.id == row.id)
                    .values(secret_encrypted=self._encrypt(secret), enabled=True)
                )
                return access_key_id
        self.create_key(ROOT_USER, access_key_id, secret)
        return access_key_id

    def _write_root_credentials(self, key: NewAccessKey) -> None:
        text = (
            "[default]\n"
            f"aws_access_key_id = {key.access_key_id}\n"
            f"aws_secret_access_key = {key.secret_access_key}\n"
        )
        path = self.data_path / ROOT_CREDENTIALS_FILE
        path.unlink(missing_ok=True)
        _write_private(path, text)

    # -- helpers ----------------------------------------------------------------

    def _encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def _decrypt(self, token: str) -> str:
        # Every request needs its key's secret; remember the few decrypted recently.
        # (Whoever can read this process's memory can read server.key as well.)
        secret = self._decrypted.get(token)
        if secret is not None:
            return secret
        try:
            secret = self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise StorageError("an access key secret does not decrypt with server.key") from None
        if len(self._decrypted) >= _DECRYPTED_KEPT:
            self._decrypted.clear()
        self._decrypted[token] = secret
        return secret

    def _user_row(self, conn: Connection, name: str) -> Row[Any] | None:
        return conn.execute(select(users).where(users.c.name == name)).first()

    def _require_user(self, conn: Connection, name: str) -> Row[Any]:
        row = self._user_row(conn, name)
        if row is None:
            raise NoSuchEntityError(f"no such user: {name!r}")
        return row

    def _key_row(self, conn: Connection, key_id: str) -> Row[Any] | None:
        return conn.execute(
            select(access_keys).where(access_keys.c.access_key_id == key_id)
        ).first()

    def _require_key(self, conn: Connection, key_id: str) -> Row[Any]:
        row = self._key_row(conn, key_id)
        if row is None:
            raise NoSuchEntityError(f"no such access key: {key_id!r}")
        return row

    def count_users(self) -> int:
        """How many users exist."""
        with self.state.read() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def _check_key_id(key_id: str) -> None:
    if not _KEY_ID_RE.match(key_id):
        raise InvalidInputError("an access key id is 16-128 upper-case letters and digits")


def _access_key(row: Row[Any]) -> AccessKey:
    return AccessKey(
        access_key_id=row.access_key_id,
        user_name=row.user_name,
        enabled=row.enabled,
        create_time=row.create_time,
        last_used_time=row.last_used_time,
    )
