"""IAM policy documents and their evaluation, as IAM does it.

A document is parsed once (``parse_policy``) into frozen values with every pattern
and condition value checked; anything IAM would refuse raises
``MalformedPolicyDocumentError``. ``evaluate`` then decides one (action, resource)
request against a set of named policies:

* default deny: nothing is allowed unless a statement allows it;
* an applicable ``Deny`` in any policy wins over every ``Allow``;
* actions match case-insensitively, resources case-sensitively; ``*`` and ``?`` are
  the only wildcards (``.`` and ``[`` are themselves) and ``*`` spans ``/`` and ``:``;
* conditions: operators AND'ed, keys AND'ed, values of one key OR'ed.

Condition operators and policy variables live in ``shoal.auth.conditions``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.auth.conditions import (
    Condition,
    ConditionContext,
    ContextValue,
    Pattern,
    normalize_context,
    parse_conditions,
)
from shoal.errors import MalformedPolicyDocumentError

__all__ = [
    "ALLOW",
    "DENY",
    "Decision",
    "Policy",
    "PolicyDocument",
    "Statement",
    "evaluate",
    "parse_policy",
]

ALLOW, DENY = "Allow", "Deny"
VERSION_2012, VERSION_2008 = "2012-10-17", "2008-10-17"
# Far above IAM's 6,144-character managed-policy limit; only bounds parsing work.
MAX_DOCUMENT_CHARS = 131_072
_DOCUMENT_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_SID_RE = re.compile(r"^[A-Za-z0-9]*$")
# service prefix, then any action name: unknown actions are legal in IAM, just useless.
_ACTION_RE = re.compile(r"^[A-Za-z0-9*?-]+:[^\s:]+$")


@dataclass(frozen=True)
class Statement:
    """One statement: an effect over actions and resources, under conditions.

    ``not_action`` / ``not_resource`` mean the lists came from ``NotAction`` /
    ``NotResource``: the statement applies to everything the patterns do *not* match.
    """

    effect: str
    actions: tuple[Pattern, ...]
    resources: tuple[Pattern, ...]
    conditions: tuple[Condition, ...] = ()
    not_action: bool = False
    not_resource: bool = False
    sid: str | None = None

    def applies(self, action: str, resource: str, context: ConditionContext) -> bool:
        """Whether this statement covers the request (its effect aside)."""
        return (
            _any_match(self.actions, action, context) != self.not_action
            and _any_match(self.resources, resource, context) != self.not_resource
            and all(c.holds(context) for c in self.conditions)
        )

    def to_json(self) -> dict[str, Any]:
        """The statement as IAM JSON (lists always, in the original order)."""
        out: dict[str, Any] = {} if self.sid is None else {"Sid": self.sid}
        out["Effect"] = self.effect
        out["NotAction" if self.not_action else "Action"] = [p.text for p in self.actions]
        out["NotResource" if self.not_resource else "Resource"] = [p.text for p in self.resources]
        if self.conditions:
            out["Condition"] = _conditions_json(self.conditions)
        return out


@dataclass(frozen=True)
class PolicyDocument:
    """A parsed, validated IAM policy document."""

    version: str
    statements: tuple[Statement, ...]
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The document as IAM JSON; ``parse_policy`` of it gives an equal document."""
        out: dict[str, Any] = {"Version": self.version}
        if self.id is not None:
            out["Id"] = self.id
        out["Statement"] = [s.to_json() for s in self.statements]
        return out


@dataclass(frozen=True)
class Policy:
    """A document under the name decisions cite (``"analysts"``, ``"role/x inline y"``)."""

    name: str
    document: PolicyDocument


@dataclass(frozen=True)
class Decision:
    """The outcome of one request and what decided it.

    ``kind`` is ``"allow"``, ``"explicit-deny"`` or ``"implicit-deny"``; ``policy``
    and ``statement`` name the deciding statement (None for an implicit deny).
    """

    allowed: bool
    kind: str
    action: str
    resource: str
    policy: str | None = None
    statement: str | None = None

    @property
    def reason(self) -> str:
        """One line for errors and audit records."""
        if self.kind == "implicit-deny":
            return f"implicit deny: no statement allows {self.action} on {self.resource}"
        verb = "allowed" if self.allowed else "explicit deny"
        return f"{verb} by policy {self.policy} statement {self.statement}"


def evaluate(
    policies: Iterable[Policy],
    action: str,
    resource: str,
    context: Mapping[str, ContextValue] | None = None,
) -> Decision:
    """Decide whether ``action`` on ``resource`` is allowed by ``policies``.

    Args:
        policies: Every policy that applies to the acting role (identity policies).
        action: ``service:Action`` as requested, e.g. ``glue:GetTable``.
        resource: The resource's ARN, taken literally (never as a pattern).
        context: Condition keys (``aws:SourceIp``, ``aws:username``, …); names are
            case-insensitive, values are strings, booleans, datetimes or lists.

    Returns:
        The first explicit deny found, else the first allow, else an implicit deny.
    """
    ctx = normalize_context(context or {})
    allow: Decision | None = None
    for policy in policies:
        for index, statement in enumerate(policy.document.statements):
            if not statement.applies(action, resource, ctx):
                continue
            label = statement.sid or f"#{index + 1}"
            if statement.effect == DENY:
                return Decision(False, "explicit-deny", action, resource, policy.name, label)
            if allow is None:
                allow = Decision(True, "allow", action, resource, policy.name, label)
    return allow or Decision(False, "implicit-deny", action, resource)


# --- parsing -----------------------------------------------------------------------


def parse_policy(document: str | bytes | Mapping[str, Any]) -> PolicyDocument:
    """Parse and validate an IAM policy document (JSON text or an already-loaded dict).

    Raises:
        MalformedPolicyDocumentError: the JSON is invalid, an element is missing,
            unknown or of the wrong type, an operator is unknown, or an ARN, CIDR,
            date or number in it is malformed.
    """
    data = _load_json(document) if isinstance(document, str | bytes) else document
    if not isinstance(data, Mapping):
        raise _malformed("a policy document must be a JSON object")
    _no_unknown_keys(data, _DOCUMENT_KEYS, "the policy document")
    version = data.get("Version", VERSION_2008)  # IAM's default when it is missing
    if version not in (VERSION_2012, VERSION_2008):
        raise _malformed(f"Version must be {VERSION_2012!r} or {VERSION_2008!r}, not {version!r}")
    policy_id = data.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise _malformed("Id must be a string")
    if "Statement" not in data:
        raise _malformed("the policy document has no Statement")
    raw = data["Statement"]
    raws = raw if isinstance(raw, list) else [raw]
    if not raws:
        raise _malformed("Statement must not be empty")
    statements = tuple(_statement(s, i + 1, version) for i, s in enumerate(raws))
    _check_unique_sids(statements)
    return PolicyDocument(version, statements, policy_id)


def _load_json(text: str | bytes) -> Any:
    if len(text) > MAX_DOCUMENT_CHARS:
        raise _malformed(f"the policy document is longer than {MAX_DOCUMENT_CHARS} characters")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError as exc:  # JSONDecodeError and duplicate keys
        raise _malformed(f"the policy document is not valid JSON: {exc}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two "Effect"s would be read differently by different parsers: refuse them.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _statement(raw: Any, number: int, version: str) -> Statement:
    where = f"Statement #{number}"
    if not isinstance(raw, Mapping):
        raise _malformed(f"{where} must be a JSON object")
    if "Principal" in raw or "NotPrincipal" in raw:
        raise _malformed(f"{where}: identity policies must not name a Principal")
    _no_unknown_keys(raw, _STATEMENT_KEYS, where)
    sid = raw.get("Sid")
    if sid is not None and (not isinstance(sid, str) or not _SID_RE.match(sid)):
        raise _malformed(f"{where}: Sid must be letters and digits, not {sid!r}")
    where = f"Statement {sid}" if sid else where
    effect = raw.get("Effect")
    if effect not in (ALLOW, DENY):
        raise _malformed(f"{where}: Effect must be 'Allow' or 'Deny', not {effect!r}")
    action_key = _one_of(raw, "Action", "NotAction", where)
    resource_key = _one_of(raw, "Resource", "NotResource", where)
    variables = version == VERSION_2012
    return Statement(
        effect=effect,
        actions=tuple(_action(a, where) for a in _strings(raw[action_key], action_key, where)),
        resources=tuple(
            _resource(r, where, variables) for r in _strings(raw[resource_key], resource_key, where)
        ),
        conditions=parse_conditions(raw.get("Condition", {}), where, variables),
        not_action=action_key == "NotAction",
        not_resource=resource_key == "NotResource",
        sid=sid,
    )


def _one_of(raw: Mapping[str, Any], key: str, not_key: str, where: str) -> str:
    if (key in raw) == (not_key in raw):
        raise _malformed(f"{where} must have exactly one of {key} and {not_key}")
    return key if key in raw else not_key


def _strings(value: Any, key: str, where: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise _malformed(f"{where}: {key} must be a non-empty string or list of strings")
    return values


def _action(text: str, where: str) -> Pattern:
    if text != "*" and not _ACTION_RE.match(text):
        raise _malformed(f"{where}: action {text!r} is not '*' or 'service:Action'")
    return Pattern(text, ignore_case=True, variables=False)


def _resource(text: str, where: str, variables: bool) -> Pattern:
    # arn:partition:service:region:account:resource — six parts, the last may hold ':';
    # fewer only when a trailing '*' stands for the rest ("arn:aws:glue:*").
    parts = text.split(":", 5)
    complete = len(parts) == 6 and parts[5] != ""
    if text != "*" and (
        parts[0] != "arn" or len(parts) < 2 or not parts[1] or not (complete or text.endswith("*"))
    ):
        raise _malformed(f"{where}: resource {text!r} is not '*' or an ARN")
    return Pattern(text, variables=variables)


def _check_unique_sids(statements: Sequence[Statement]) -> None:
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise _malformed("Statement ids (Sid) must be unique within a policy")


def _no_unknown_keys(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _malformed(f"{where} has an unknown element {unknown[0]!r}")


def _any_match(patterns: Sequence[Pattern], value: str, context: ConditionContext) -> bool:
    return any(p.matches(value, context) for p in patterns)


def _conditions_json(conditions: Sequence[Condition]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for c in conditions:
        out.setdefault(c.operator, {})[c.key] = list(c.texts)
    return out


def _malformed(message: str) -> MalformedPolicyDocumentError:
    return MalformedPolicyDocumentError(message)
