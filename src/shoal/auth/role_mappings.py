"""Ordered role mappings: which role a request acts as (EMRFS authorization, generalised).

A mapping names a role and who or what it is for: some users, members of some
groups, or storage locations under some ``s3://bucket/prefix``. Mappings are tried
top to bottom and the first match wins; when none matches, the request acts as the
base role, which is meant to be weak. ``choose`` reports the mapping that decided,
so the audit record can name it.

One request may touch several resources (a query reading two tables, writing a
third). The role is chosen per resource: user and group mappings look at the
request's principal, prefix mappings at that resource's storage location (a
resource without one — a workgroup, a view — is never matched by a prefix). Each
resource is then authorized under its own role; the request goes ahead only if
every one is allowed.

Prefixes respect path boundaries: ``s3://b/proj`` (or ``s3://b/proj/``) covers
``s3://b/proj`` and ``s3://b/proj/x``, not ``s3://b/project2``. A location with a
``.`` or ``..`` segment is matched by no prefix (it falls to user/group mappings or
the base role) rather than trusting how some store would resolve it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.errors import InvalidInputError
from shoal.storage.base import parse_uri

__all__ = [
    "DEFAULT_BASE_ROLE",
    "IDENTIFIER_TYPES",
    "RoleChoice",
    "RoleMapping",
    "RoleMappings",
    "dump_emr_security_configuration",
    "load_emr_security_configuration",
]

DEFAULT_BASE_ROLE = "shoal-base"
USER, GROUP, PREFIX = "user", "group", "prefix"
IDENTIFIER_TYPES = (USER, GROUP, PREFIX)
# EMR's spelling of each identifier type in a security configuration.
_EMR_TYPES = {"User": USER, "Group": GROUP, "Prefix": PREFIX}
_EMR_NAMES = {v: k for k, v in _EMR_TYPES.items()}
_MAPPING_KEYS = {"Role", "IdentifierType", "Identifiers"}


@dataclass(frozen=True)
class RoleMapping:
    """One mapping: ``role`` for the users, groups or prefixes in ``identifiers``."""

    role: str
    identifier_type: str
    identifiers: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.role, str) or not self.role.strip():
            raise InvalidInputError("a role mapping must name a role")
        if self.identifier_type not in IDENTIFIER_TYPES:
            raise InvalidInputError(
                f"unknown identifier type {self.identifier_type!r}: use user, group or prefix"
            )
        if not self.identifiers or not all(isinstance(i, str) and i for i in self.identifiers):
            raise InvalidInputError(f"the mapping to {self.role} needs at least one identifier")
        if self.identifier_type == PREFIX:
            for prefix in self.identifiers:
                parse_uri(prefix)  # s3://bucket[/prefix], valid bucket name

    def match(self, user_name: str, groups: Iterable[str], location: str | None) -> str | None:
        """The identifier that matches the request, or None."""
        if self.identifier_type == USER:
            return user_name if user_name in self.identifiers else None
        if self.identifier_type == GROUP:
            member_of = set(groups)
            return next((g for g in self.identifiers if g in member_of), None)
        if location is None:
            return None
        return next((p for p in self.identifiers if prefix_covers(p, location)), None)


@dataclass(frozen=True)
class RoleChoice:
    """The role a request acts as, and the mapping that chose it (None: the base role)."""

    role: str
    mapping_index: int | None = None
    identifier_type: str | None = None
    identifier: str | None = None

    @property
    def reason(self) -> str:
        """One line for the audit record: ``mapping #2 (group analysts)``."""
        if self.mapping_index is None:
            return "base role (no mapping matched)"
        return f"mapping #{self.mapping_index + 1} ({self.identifier_type} {self.identifier})"


@dataclass(frozen=True)
class RoleMappings:
    """The ordered mappings and the base role used when none matches."""

    mappings: tuple[RoleMapping, ...] = ()
    base_role: str = DEFAULT_BASE_ROLE

    def choose(
        self, user_name: str, groups: Iterable[str] = (), location: str | None = None
    ) -> RoleChoice:
        """The role for one resource of a request: first matching mapping, else the base.

        Args:
            user_name: The authenticated user.
            groups: The groups the user belongs to.
            location: The ``s3://`` location of the resource, if it has one.
        """
        groups = tuple(groups)
        for index, mapping in enumerate(self.mappings):
            identifier = mapping.match(user_name, groups, location)
            if identifier is not None:
                return RoleChoice(mapping.role, index, mapping.identifier_type, identifier)
        return RoleChoice(self.base_role)

    def choose_each(
        self, user_name: str, groups: Iterable[str], locations: Sequence[str | None]
    ) -> list[RoleChoice]:
        """``choose`` for each resource of a multi-resource request, in order."""
        groups = tuple(groups)
        return [self.choose(user_name, groups, location) for location in locations]


def prefix_covers(prefix: str, location: str) -> bool:
    """Whether ``location`` is ``prefix`` or inside it, on ``/`` boundaries."""
    base = prefix.rstrip("/")
    path = location.rstrip("/")
    if not location.startswith("s3://") or _has_dot_segment(path):
        return False
    return path == base or path.startswith(base + "/")


def _has_dot_segment(location: str) -> bool:
    return any(part in (".", "..") for part in location[len("s3://") :].split("/"))


# --- EMR security configuration -----------------------------------------------------------


def load_emr_security_configuration(
    document: str | bytes | Mapping[str, Any], base_role: str = DEFAULT_BASE_ROLE
) -> RoleMappings:
    """Role mappings from an EMR security configuration, as written for EMRFS.

    Reads ``AuthorizationConfiguration.EmrFsConfiguration.RoleMappings``; other
    sections of a security configuration (encryption, authentication) are ignored.

    Raises:
        InvalidInputError: bad JSON, a missing section, an unknown IdentifierType,
            or a mapping without role or identifiers.
    """
    data = _json(document) if isinstance(document, str | bytes) else document
    raw = _path(data, "AuthorizationConfiguration", "EmrFsConfiguration", "RoleMappings")
    if not isinstance(raw, list):
        raise InvalidInputError("RoleMappings must be a list")
    return RoleMappings(tuple(_emr_mapping(m, i + 1) for i, m in enumerate(raw)), base_role)


def dump_emr_security_configuration(mappings: RoleMappings) -> dict[str, Any]:
    """The mappings as an EMR security configuration (``load_…`` reads it back)."""
    entries = [
        {
            "Role": m.role,
            "IdentifierType": _EMR_NAMES[m.identifier_type],
            "Identifiers": list(m.identifiers),
        }
        for m in mappings.mappings
    ]
    return {"AuthorizationConfiguration": {"EmrFsConfiguration": {"RoleMappings": entries}}}


def _json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"the security configuration is not valid JSON: {exc}") from None


def _path(data: Any, *keys: str) -> Any:
    for depth, key in enumerate(keys):
        if not isinstance(data, Mapping) or key not in data:
            raise InvalidInputError(
                f"the security configuration has no {'.'.join(keys[: depth + 1])}"
            )
        data = data[key]
    return data


def _emr_mapping(raw: Any, number: int) -> RoleMapping:
    where = f"role mapping #{number}"
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{where} must be a JSON object")
    unknown = sorted(set(raw) - _MAPPING_KEYS)
    if unknown:
        raise InvalidInputError(f"{where} has an unknown key {unknown[0]!r}")
    kind = raw.get("IdentifierType")
    if kind not in _EMR_TYPES:
        raise InvalidInputError(
            f"{where}: IdentifierType must be User, Group or Prefix, not {kind!r}"
        )
    identifiers = raw.get("Identifiers")
    if not isinstance(identifiers, list):
        raise InvalidInputError(f"{where}: Identifiers must be a list of strings")
    try:
        return RoleMapping(raw.get("Role", ""), _EMR_TYPES[kind], tuple(identifiers))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc.message}") from None
