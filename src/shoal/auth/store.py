"""Groups, roles, policies and role mappings in the state database.

The identity store (``auth.keys``) keeps users and access keys; this store keeps
everything that decides what they may do:

* groups and their members (a user may be in several groups);
* roles, which requests finally act as;
* managed policies with numbered versions, one of them the default;
* inline policies embedded in one user, group or role;
* attachments of managed policies to users, groups and roles;
* the ordered role mappings and the base role (EMRFS authorization, generalised).

Rules follow IAM: names match IAM's patterns, documents must parse
(``MalformedPolicyDocumentError``), deleting something still in use is a
``DeleteConflictError``, and IAM's quotas raise ``LimitExceededError``. Policy
documents are stored as given (IAM returns them verbatim) and parsed when read for
enforcement, with a cache so each distinct text is parsed once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, Table, delete, func, insert, select, update

from shoal.auth.bucket_policies import BucketPolicyStore
from shoal.auth.policy import Policy, PolicyDocument, parse_policy
from shoal.auth.role_mappings import (
    DEFAULT_BASE_ROLE,
    RoleMapping,
    RoleMappings,
    load_emr_security_configuration,
)
from shoal.auth.schema import (
    group_members,
    groups,
    inline_policies,
    managed_policies,
    policy_attachments,
    policy_versions,
    role_mappings,
    roles,
    users,
)
from shoal.catalog.connection import StateDatabase
from shoal.errors import (
    DeleteConflictError,
    EntityAlreadyExistsError,
    InvalidInputError,
    LimitExceededError,
    NoSuchEntityError,
)

__all__ = [
    "KINDS",
    "GovernanceStore",
    "Group",
    "ManagedPolicy",
    "PolicyVersion",
    "Role",
]

KINDS = ("user", "group", "role")
_TABLES: dict[str, Table] = {"user": users, "group": groups, "role": roles}
_ENTITY_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
_POLICY_NAME_RE = re.compile(r"^[\w+=,.@-]{1,128}$")
# IAM's quotas (defaults): versions kept per managed policy, managed policies per
# principal, and document sizes in characters without whitespace.
MAX_POLICY_VERSIONS = 5
MAX_ATTACHED_POLICIES = 10
MAX_MANAGED_POLICY_CHARS = 6_144
MAX_INLINE_POLICY_CHARS = 10_240
_MAPPINGS_ROW = 1


class _Owned(NamedTuple):
    """One policy a user, group or role has: its owner's row id, name and text."""

    owner: int
    name: str
    document: str


@dataclass(frozen=True)
class Group:
    """A set of users that policies and role mappings can name at once."""

    name: str
    create_time: datetime


@dataclass(frozen=True)
class Role:
    """What a request acts as; its policies decide what the request may do."""

    name: str
    description: str | None
    assume_role_policy: str | None
    create_time: datetime


@dataclass(frozen=True)
class ManagedPolicy:
    """A named, versioned policy that can be attached to users, groups and roles."""

    name: str
    description: str | None
    default_version: int
    attachment_count: int
    create_time: datetime
    update_time: datetime

    @property
    def default_version_id(self) -> str:
        """IAM's spelling of the default version: ``v3``."""
        return f"v{self.default_version}"


@dataclass(frozen=True)
class PolicyVersion:
    """One version of a managed policy: the document text as given."""

    policy_name: str
    version: int
    document: str
    is_default: bool
    create_time: datetime

    @property
    def version_id(self) -> str:
        """IAM's spelling: ``v1``."""
        return f"v{self.version}"


def check_name(kind: str, name: str) -> None:
    """Raise InvalidInputError unless ``name`` is a valid IAM name for ``kind``."""
    pattern, limit = (_POLICY_NAME_RE, 128) if kind == "policy" else (_ENTITY_NAME_RE, 64)
    if not isinstance(name, str) or not pattern.match(name):
        raise InvalidInputError(
            f"invalid {kind} name {str(name)[:200]!r}: 1-{limit} letters, digits or +=,.@_-"
        )


def parse_version_id(version_id: str) -> int:
    """``v3`` -> 3 (InvalidInputError otherwise)."""
    if not re.fullmatch(r"v[1-9][0-9]{0,8}", version_id or ""):
        raise InvalidInputError(f"invalid policy version id {version_id[:50]!r}: use v1, v2, ...")
    return int(version_id[1:])


@lru_cache(maxsize=1024)
def _parsed(document: str) -> PolicyDocument:
    return parse_policy(document)


def _check_document(document: str, limit: int) -> None:
    _parsed(document)  # MalformedPolicyDocumentError if IAM would refuse it
    if len("".join(document.split())) > limit:
        raise LimitExceededError(f"Cannot exceed quota for PolicySize: {limit}")


def _now() -> datetime:
    return datetime.now(UTC)


class GovernanceStore:
    """Groups, roles, policies, attachments and role mappings.

    Args:
        state: The shared state database (users live there too, in ``auth.keys``).
    """

    def __init__(self, state: StateDatabase) -> None:
        self.state = state
        self.bucket_policies = BucketPolicyStore(state)

    # -- groups -----------------------------------------------------------------

    def create_group(self, name: str) -> Group:
        """Create an empty group. Raises EntityAlreadyExistsError, InvalidInputError."""
        check_name("group", name)
        with self.state.write() as conn:
            if self._row(conn, "group", name) is not None:
                raise EntityAlreadyExistsError(f"Group with name {name} already exists.")
            now = _now()
            conn.execute(insert(groups).values(name=name, create_time=now))
        return Group(name, now)

    def get_group(self, name: str) -> Group:
        """One group. Raises NoSuchEntityError."""
        with self.state.read() as conn:
            row = self._require(conn, "group", name)
        return Group(row.name, row.create_time)

    def list_groups(self) -> list[Group]:
        """Every group, by name."""
        with self.state.read() as conn:
            rows = conn.execute(select(groups).order_by(groups.c.name)).all()
        return [Group(r.name, r.create_time) for r in rows]

    def delete_group(self, name: str) -> None:
        """Delete a group with no members and no policies (else DeleteConflictError)."""
        with self.state.write() as conn:
            row = self._require(conn, "group", name)
            if self._count(conn, group_members, group_members.c.group_id == row.id):
                raise DeleteConflictError(
                    "Cannot delete entity, must remove users from group first."
                )
            self._check_no_policies(conn, "group", row.id)
            conn.execute(delete(groups).where(groups.c.id == row.id))

    def add_user_to_group(self, group: str, user: str) -> None:
        """Make ``user`` a member of ``group`` (adding a member again is a no-op, as in IAM)."""
        with self.state.write() as conn:
            group_id = self._require(conn, "group", group).id
            user_id = self._require(conn, "user", user).id
            if not self._is_member(conn, group_id, user_id):
                conn.execute(insert(group_members).values(group_id=group_id, user_id=user_id))

    def remove_user_from_group(self, group: str, user: str) -> None:
        """Remove ``user`` from ``group``. Raises NoSuchEntityError if not a member."""
        with self.state.write() as conn:
            group_id = self._require(conn, "group", group).id
            user_id = self._require(conn, "user", user).id
            if not self._is_member(conn, group_id, user_id):
                raise NoSuchEntityError(f"The user {user} is not in group {group}.")
            conn.execute(
                delete(group_members).where(
                    group_members.c.group_id == group_id, group_members.c.user_id == user_id
                )
            )

    def group_members(self, group: str) -> list[str]:
        """The user names in ``group``, sorted. Raises NoSuchEntityError."""
        query = (
            select(users.c.name)
            .join(group_members, group_members.c.user_id == users.c.id)
            .join(groups, groups.c.id == group_members.c.group_id)
            .where(groups.c.name == group)
            .order_by(users.c.name)
        )
        with self.state.read() as conn:
            self._require(conn, "group", group)
            return list(conn.execute(query).scalars())

    def groups_for_user(self, user: str) -> list[str]:
        """The groups ``user`` belongs to, sorted (empty for an unknown user)."""
        query = (
            select(groups.c.name)
            .join(group_members, group_members.c.group_id == groups.c.id)
            .join(users, users.c.id == group_members.c.user_id)
            .where(users.c.name == user)
            .order_by(groups.c.name)
        )
        with self.state.read() as conn:
            return list(conn.execute(query).scalars())

    # -- roles ------------------------------------------------------------------

    def create_role(
        self, name: str, description: str | None = None, assume_role_policy: str | None = None
    ) -> Role:
        """Create a role. Raises EntityAlreadyExistsError, InvalidInputError."""
        check_name("role", name)
        with self.state.write() as conn:
            if self._row(conn, "role", name) is not None:
                raise EntityAlreadyExistsError(f"Role with name {name} already exists.")
            now = _now()
            conn.execute(
                insert(roles).values(
                    name=name,
                    description=description,
                    assume_role_policy=assume_role_policy,
                    create_time=now,
                )
            )
        return Role(name, description, assume_role_policy, now)

    def get_role(self, name: str) -> Role:
        """One role. Raises NoSuchEntityError."""
        with self.state.read() as conn:
            return _role(self._require(conn, "role", name))

    def list_roles(self) -> list[Role]:
        """Every role, by name."""
        with self.state.read() as conn:
            return [_role(r) for r in conn.execute(select(roles).order_by(roles.c.name))]

    def delete_role(self, name: str) -> None:
        """Delete a role without policies that no role mapping names (else DeleteConflict)."""
        with self.state.write() as conn:
            row = self._require(conn, "role", name)
            self._check_no_policies(conn, "role", row.id)
            if any(_names_role(m.role, name) for m in self._mappings(conn).mappings):
                raise DeleteConflictError(
                    f"Cannot delete role {name}: a role mapping names it; remove the mapping first."
                )
            conn.execute(delete(roles).where(roles.c.id == row.id))

    # -- managed policies ---------------------------------------------------------

    def create_policy(
        self, name: str, document: str, description: str | None = None
    ) -> ManagedPolicy:
        """Create a managed policy whose version 1 is ``document`` (the default)."""
        check_name("policy", name)
        _check_document(document, MAX_MANAGED_POLICY_CHARS)
        with self.state.write() as conn:
            if self._row(conn, "policy", name) is not None:
                raise EntityAlreadyExistsError(f"A policy called {name} already exists.")
            now = _now()
            values = {"name": name, "description": description, "create_time": now}
            result = conn.execute(
                insert(managed_policies).values(
                    default_version=1, next_version=2, update_time=now, **values
                )
            )
            policy_id = result.inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                insert(policy_versions).values(
                    policy_id=policy_id, version=1, document=document, create_time=now
                )
            )
        return ManagedPolicy(name, description, 1, 0, now, now)

    def get_policy(self, name: str) -> ManagedPolicy:
        """One managed policy. Raises NoSuchEntityError."""
        with self.state.read() as conn:
            row = self._require(conn, "policy", name)
            return _policy(row, self._attachment_count(conn, row.id))

    def list_policies(self, only_attached: bool = False) -> list[ManagedPolicy]:
        """Every managed policy by name (only those attached somewhere, if asked)."""
        counts = (
            select(policy_attachments.c.policy_id, func.count().label("n"))
            .group_by(policy_attachments.c.policy_id)
            .subquery()
        )
        query = (
            select(managed_policies, func.coalesce(counts.c.n, 0).label("attached"))
            .outerjoin(counts, counts.c.policy_id == managed_policies.c.id)
            .order_by(managed_policies.c.name)
        )
        with self.state.read() as conn:
            rows = conn.execute(query).all()
        found = [_policy(r, int(r.attached)) for r in rows]
        return [p for p in found if p.attachment_count] if only_attached else found

    def delete_policy(self, name: str) -> None:
        """Delete a managed policy and its versions; refused while it is attached."""
        with self.state.write() as conn:
            row = self._require(conn, "policy", name)
            if self._attachment_count(conn, row.id):
                raise DeleteConflictError("Cannot delete a policy attached to entities.")
            conn.execute(delete(managed_policies).where(managed_policies.c.id == row.id))

    def policy_version(self, name: str, version: int | None = None) -> PolicyVersion:
        """One version of a managed policy (the default when ``version`` is None)."""
        with self.state.read() as conn:
            row = self._require(conn, "policy", name)
            wanted = row.default_version if version is None else version
            found = conn.execute(
                select(policy_versions).where(
                    policy_versions.c.policy_id == row.id, policy_versions.c.version == wanted
                )
            ).first()
        if found is None:
            raise NoSuchEntityError(f"Policy {name} version v{wanted} does not exist.")
        return _version(name, row.default_version, found)

    def list_policy_versions(self, name: str) -> list[PolicyVersion]:
        """Every kept version of a managed policy, newest first."""
        with self.state.read() as conn:
            row = self._require(conn, "policy", name)
            rows = conn.execute(
                select(policy_versions)
                .where(policy_versions.c.policy_id == row.id)
                .order_by(policy_versions.c.version.desc())
            ).all()
        return [_version(name, row.default_version, r) for r in rows]

    def create_policy_version(
        self, name: str, document: str, set_as_default: bool = False
    ) -> PolicyVersion:
        """Add a version (IAM keeps at most five: LimitExceededError beyond)."""
        _check_document(document, MAX_MANAGED_POLICY_CHARS)
        with self.state.write() as conn:
            row = self._require(conn, "policy", name)
            kept = self._count(conn, policy_versions, policy_versions.c.policy_id == row.id)
            if kept >= MAX_POLICY_VERSIONS:
                raise LimitExceededError(
                    f"A managed policy can have up to {MAX_POLICY_VERSIONS} versions. "
                    "Delete a version before creating a new one."
                )
            now, version = _now(), row.next_version
            conn.execute(
                insert(policy_versions).values(
                    policy_id=row.id, version=version, document=document, create_time=now
                )
            )
            values: dict[str, Any] = {"next_version": version + 1, "update_time": now}
            if set_as_default:
                values["default_version"] = version
            conn.execute(
                update(managed_policies).where(managed_policies.c.id == row.id).values(**values)
            )
        default = version if set_as_default else row.default_version
        return PolicyVersion(name, version, document, default == version, now)

    def set_default_policy_version(self, name: str, version: int) -> None:
        """Make ``version`` the one enforcement uses."""
        self.policy_version(name, version)  # NoSuchEntityError for a missing version
        with self.state.write() as conn:
            conn.execute(
                update(managed_policies)
                .where(managed_policies.c.name == name)
                .values(default_version=version, update_time=_now())
            )

    def delete_policy_version(self, name: str, version: int) -> None:
        """Delete a non-default version (the default one: DeleteConflictError)."""
        current = self.policy_version(name, version)
        if current.is_default:
            raise DeleteConflictError("Cannot delete the default version of a policy.")
        with self.state.write() as conn:
            row = self._require(conn, "policy", name)
            conn.execute(
                delete(policy_versions).where(
                    policy_versions.c.policy_id == row.id, policy_versions.c.version == version
                )
            )

    # -- attachments --------------------------------------------------------------

    def attach_policy(self, kind: str, principal: str, policy: str) -> None:
        """Attach managed ``policy`` to a user, group or role (again: a no-op)."""
        with self.state.write() as conn:
            owner = self._owner(conn, kind, principal)
            policy_id = self._require(conn, "policy", policy).id
            attached = self._attachments(conn, kind, owner)
            if policy_id in attached:
                return
            if len(attached) >= MAX_ATTACHED_POLICIES:
                raise LimitExceededError(
                    f"Cannot exceed quota for PoliciesPerEntity: {MAX_ATTACHED_POLICIES}"
                )
            conn.execute(insert(policy_attachments).values(policy_id=policy_id, **owner))

    def detach_policy(self, kind: str, principal: str, policy: str) -> None:
        """Detach managed ``policy``. Raises NoSuchEntityError if it was not attached."""
        with self.state.write() as conn:
            owner = self._owner(conn, kind, principal)
            policy_id = self._require(conn, "policy", policy).id
            if policy_id not in self._attachments(conn, kind, owner):
                raise NoSuchEntityError(f"Policy {policy} was not found on {kind} {principal}.")
            conn.execute(
                delete(policy_attachments).where(
                    policy_attachments.c.policy_id == policy_id,
                    _owned_by(policy_attachments, owner),
                )
            )

    def attached_policies(self, kind: str, principal: str) -> list[str]:
        """Names of the managed policies attached to a user, group or role, sorted."""
        with self.state.read() as conn:
            owner = self._owner(conn, kind, principal)
            query = (
                select(managed_policies.c.name)
                .join(policy_attachments, policy_attachments.c.policy_id == managed_policies.c.id)
                .where(_owned_by(policy_attachments, owner))
                .order_by(managed_policies.c.name)
            )
            return list(conn.execute(query).scalars())

    # -- inline policies ----------------------------------------------------------

    def put_inline_policy(self, kind: str, principal: str, name: str, document: str) -> None:
        """Create or replace the inline policy ``name`` of a user, group or role."""
        check_name("policy", name)
        _check_document(document, MAX_INLINE_POLICY_CHARS)
        with self.state.write() as conn:
            owner = self._owner(conn, kind, principal)
            where = (_owned_by(inline_policies, owner), inline_policies.c.name == name)
            if conn.execute(select(inline_policies.c.id).where(*where)).first() is None:
                conn.execute(insert(inline_policies).values(name=name, document=document, **owner))
            else:
                conn.execute(update(inline_policies).where(*where).values(document=document))

    def get_inline_policy(self, kind: str, principal: str, name: str) -> str:
        """The document of an inline policy, as it was put."""
        with self.state.read() as conn:
            owner = self._owner(conn, kind, principal)
            document = conn.execute(
                select(inline_policies.c.document).where(
                    _owned_by(inline_policies, owner), inline_policies.c.name == name
                )
            ).scalar()
        if document is None:
            raise NoSuchEntityError(f"The {kind} policy with name {name} cannot be found.")
        return str(document)

    def inline_policies(self, kind: str, principal: str) -> list[str]:
        """Names of the inline policies of a user, group or role, sorted."""
        with self.state.read() as conn:
            owner = self._owner(conn, kind, principal)
            query = (
                select(inline_policies.c.name)
                .where(_owned_by(inline_policies, owner))
                .order_by(inline_policies.c.name)
            )
            return list(conn.execute(query).scalars())

    def delete_inline_policy(self, kind: str, principal: str, name: str) -> None:
        """Delete an inline policy. Raises NoSuchEntityError."""
        self.get_inline_policy(kind, principal, name)
        with self.state.write() as conn:
            owner = self._owner(conn, kind, principal)
            conn.execute(
                delete(inline_policies).where(
                    _owned_by(inline_policies, owner), inline_policies.c.name == name
                )
            )

    # -- for enforcement ----------------------------------------------------------

    def policies_for_role(self, role: str) -> list[Policy]:
        """The policies a request acting as ``role`` is judged by.

        The default version of every attached managed policy (named by the policy)
        and every inline policy (named ``role/ROLE inline NAME``). ``role`` may be a
        name or an IAM role ARN; an unknown role has no policies (default deny).
        """
        name = _role_name(role)
        with self.state.read() as conn:
            row = self._row(conn, "role", name)
            if row is None:
                return []
            managed, inline = self._documents(conn, "role", [row.id])
        return [Policy(policy, _parsed(doc)) for _, policy, doc in managed] + [
            Policy(f"role/{name} inline {policy}", _parsed(doc)) for _, policy, doc in inline
        ]

    def policies_for_user(self, user: str) -> list[Policy]:
        """The identity policies of ``user`` itself and of every group it is in.

        IAM judges a request on all of them together with the role's (an explicit
        Deny in any wins). Managed ones are named ``user/NAME attached POLICY`` (or
        ``group/NAME attached POLICY``), inline ones ``user/NAME inline POLICY``, so
        a decision says where its statement came from. An unknown user has none.
        """
        member_of = (
            select(groups.c.id, groups.c.name)
            .join(group_members, group_members.c.group_id == groups.c.id)
            .join(users, users.c.id == group_members.c.user_id)
            .where(users.c.name == user)
            .order_by(groups.c.name)
        )
        with self.state.read() as conn:
            row = self._row(conn, "user", user)
            if row is None:
                return []
            owners = {("user", row.id): f"user/{user}"}
            for group in conn.execute(member_of):
                owners[("group", group.id)] = f"group/{group.name}"
            found: list[Policy] = []
            for kind in ("user", "group"):
                ids = [i for k, i in owners if k == kind]
                if not ids:
                    continue
                managed, inline = self._documents(conn, kind, ids)
                found += [
                    Policy(f"{owners[kind, o]} attached {p}", _parsed(d)) for o, p, d in managed
                ]
                found += [Policy(f"{owners[kind, o]} inline {p}", _parsed(d)) for o, p, d in inline]
        return found

    def _documents(
        self, conn: Connection, kind: str, owner_ids: list[int]
    ) -> tuple[list[_Owned], list[_Owned]]:
        """(owner id, policy name, document) of the managed policies (default version)
        attached to, and of the inline policies of, the ``kind`` rows ``owner_ids``."""
        attached_to = policy_attachments.c[f"{kind}_id"]
        inline_of = inline_policies.c[f"{kind}_id"]
        managed = conn.execute(
            select(attached_to, managed_policies.c.name, policy_versions.c.document)
            .join(policy_attachments, policy_attachments.c.policy_id == managed_policies.c.id)
            .join(policy_versions, policy_versions.c.policy_id == managed_policies.c.id)
            .where(
                attached_to.in_(owner_ids),
                policy_versions.c.version == managed_policies.c.default_version,
            )
            .order_by(attached_to, managed_policies.c.name)
        ).all()
        inline = conn.execute(
            select(inline_of, inline_policies.c.name, inline_policies.c.document)
            .where(inline_of.in_(owner_ids))
            .order_by(inline_of, inline_policies.c.name)
        ).all()
        return [_Owned(*r) for r in managed], [_Owned(*r) for r in inline]

    def user_conflicts(self, user: str) -> list[str]:
        """What keeps IAM from deleting ``user``: group memberships and policies."""
        found = [f"group {g}" for g in self.groups_for_user(user)]
        found += [f"attached policy {p}" for p in self.attached_policies("user", user)]
        found += [f"inline policy {p}" for p in self.inline_policies("user", user)]
        return found

    # -- role mappings ------------------------------------------------------------

    def role_mappings(self) -> RoleMappings:
        """The ordered mappings and base role (none and ``shoal-base`` until set)."""
        with self.state.read() as conn:
            return self._mappings(conn)

    def set_role_mappings(self, mappings: RoleMappings) -> None:
        """Replace the mappings and base role as one change."""
        check_name("role", _role_name(mappings.base_role))
        stored = [
            {"role": m.role, "type": m.identifier_type, "identifiers": list(m.identifiers)}
            for m in mappings.mappings
        ]
        values = {"base_role": mappings.base_role, "mappings": stored, "update_time": _now()}
        with self.state.write() as conn:
            exists = conn.execute(select(role_mappings.c.id)).first() is not None
            if exists:
                conn.execute(update(role_mappings).values(**values))
            else:
                conn.execute(insert(role_mappings).values(id=_MAPPINGS_ROW, **values))

    def load_emr_security_configuration(self, document: str | bytes) -> RoleMappings:
        """Replace the mappings from an EMR security configuration; keep the base role."""
        base = self.role_mappings().base_role
        mappings = load_emr_security_configuration(document, base_role=base)
        self.set_role_mappings(mappings)
        return mappings

    def add_role_mapping(self, mapping: RoleMapping, position: int | None = None) -> RoleMappings:
        """Insert ``mapping`` at 0-based ``position`` (the end when None)."""
        current = list(self.role_mappings().mappings)
        if position is None:
            position = len(current)
        if not 0 <= position <= len(current):
            raise InvalidInputError(f"position must be between 1 and {len(current) + 1}")
        current.insert(position, mapping)
        return self._replace_mappings(tuple(current))

    def remove_role_mapping(self, position: int) -> RoleMappings:
        """Remove the mapping at 0-based ``position``."""
        current = list(self.role_mappings().mappings)
        if not 0 <= position < len(current):
            raise NoSuchEntityError(f"there is no role mapping #{position + 1}")
        del current[position]
        return self._replace_mappings(tuple(current))

    def set_base_role(self, role: str) -> RoleMappings:
        """Change the role used when no mapping matches."""
        updated = RoleMappings(self.role_mappings().mappings, role)
        self.set_role_mappings(updated)
        return updated

    def _replace_mappings(self, mappings: tuple[RoleMapping, ...]) -> RoleMappings:
        updated = RoleMappings(mappings, self.role_mappings().base_role)
        self.set_role_mappings(updated)
        return updated

    def _mappings(self, conn: Connection) -> RoleMappings:
        row = conn.execute(select(role_mappings)).first()
        if row is None:
            return RoleMappings((), DEFAULT_BASE_ROLE)
        entries = tuple(
            RoleMapping(m["role"], m["type"], tuple(m["identifiers"])) for m in row.mappings
        )
        return RoleMappings(entries, row.base_role)

    # -- helpers ------------------------------------------------------------------

    def _row(self, conn: Connection, kind: str, name: str) -> Row[Any] | None:
        table = managed_policies if kind == "policy" else _TABLES[kind]
        return conn.execute(select(table).where(table.c.name == name)).first()

    def _require(self, conn: Connection, kind: str, name: str) -> Row[Any]:
        row = self._row(conn, kind, name)
        if row is None:
            noun = "Policy" if kind == "policy" else f"The {kind} with name"
            raise NoSuchEntityError(f"{noun} {name} cannot be found.")
        return row

    def _owner(self, conn: Connection, kind: str, principal: str) -> dict[str, int]:
        if kind not in KINDS:
            raise InvalidInputError(f"policies belong to a user, group or role, not {kind!r}")
        return {f"{kind}_id": self._require(conn, kind, principal).id}

    def _attachments(self, conn: Connection, kind: str, owner: dict[str, int]) -> set[int]:
        query = select(policy_attachments.c.policy_id).where(_owned_by(policy_attachments, owner))
        return set(conn.execute(query).scalars())

    def _attachment_count(self, conn: Connection, policy_id: int) -> int:
        return self._count(conn, policy_attachments, policy_attachments.c.policy_id == policy_id)

    def _is_member(self, conn: Connection, group_id: int, user_id: int) -> bool:
        where = (group_members.c.group_id == group_id, group_members.c.user_id == user_id)
        return conn.execute(select(group_members).where(*where)).first() is not None

    def _check_no_policies(self, conn: Connection, kind: str, row_id: int) -> None:
        owner = {f"{kind}_id": row_id}
        if self._count(conn, policy_attachments, _owned_by(policy_attachments, owner)):
            raise DeleteConflictError("Cannot delete entity, must detach all policies first.")
        if self._count(conn, inline_policies, _owned_by(inline_policies, owner)):
            raise DeleteConflictError("Cannot delete entity, must delete policies first.")

    @staticmethod
    def _count(conn: Connection, table: Table, where: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())


def _owned_by(table: Table, owner: dict[str, int]) -> Any:
    ((column, value),) = owner.items()
    return table.c[column] == value


def _role_name(role: str) -> str:
    """A role's name from its name or ARN (``arn:aws:iam::ACCOUNT:role/path/NAME``)."""
    if role.startswith("arn:") and ":role/" in role:
        return role.rsplit("/", 1)[-1]
    return role


def _names_role(mapped: str, name: str) -> bool:
    return _role_name(mapped) == name


def _role(row: Row[Any]) -> Role:
    return Role(row.name, row.description, row.assume_role_policy, row.create_time)


def _policy(row: Row[Any], attached: int) -> ManagedPolicy:
    return ManagedPolicy(
        row.name, row.description, row.default_version, attached, row.create_time, row.update_time
    )


def _version(name: str, default: int, row: Row[Any]) -> PolicyVersion:
    return PolicyVersion(name, row.version, row.document, row.version == default, row.create_time)
