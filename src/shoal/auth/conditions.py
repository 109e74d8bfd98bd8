"""Wildcard patterns, policy variables and Condition operators of IAM policies.

A ``Pattern`` is policy text with ``*`` (any run of characters, ``/`` and ``:``
included) and ``?`` (one character); everything else is literal, so ``.`` and ``[``
are themselves. In ``2012-10-17`` documents a pattern may hold policy variables,
``${aws:username}`` or ``${aws:username, 'default'}``, replaced by the request's
value (taken literally: a user called ``a*`` is no wildcard), and IAM's escapes
``${*}``, ``${?}`` and ``${$}`` for a literal ``*``, ``?`` and ``$``. A variable the
request lacks, without a default, makes the pattern match nothing.

Condition semantics follow IAM: values of one key are OR'ed; a key missing from the
request makes a condition false, except that ``...IfExists`` operators and
``ForAllValues:`` are then true, negated operators (``StringNotEquals``,
``NotIpAddress``, …) are then true as well, and ``Null`` tests presence itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shoal.errors import MalformedPolicyDocumentError

__all__ = [
    "Condition",
    "ContextValue",
    "OPERATORS",
    "Pattern",
    "ConditionContext",
    "normalize_context",
    "parse_conditions",
    "request_context",
]

ContextValue = str | bool | int | float | datetime | Sequence[str]
# Lower-cased key -> values (IAM condition key names are case-insensitive).
ConditionContext = Mapping[str, tuple[str, ...]]

_TOKEN_RE = re.compile(r"\$\{([^}]*)\}|[*?]")
_WILDCARD_RE = re.compile(r"[*?]")  # 2008-10-17 documents have no ${...}
_VARIABLE_RE = re.compile(r"^\s*([A-Za-z0-9:._/-]+)\s*(?:,\s*'([^']*)'\s*)?$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_ANY, _ONE = object(), object()  # wildcard tokens


@dataclass(frozen=True)
class _Variable:
    key: str  # lower-cased
    default: str | None


class Pattern:
    """A policy pattern; ``matches`` is a full match, never a search.

    Args:
        text: The pattern as written in the policy.
        wildcards: Whether ``*`` and ``?`` are wildcards (False for ``StringEquals``).
        variables: Whether ``${…}`` is a policy variable (``2012-10-17`` documents).
        ignore_case: Match case-insensitively (actions).
    """

    def __init__(
        self,
        text: str,
        *,
        wildcards: bool = True,
        variables: bool = True,
        ignore_case: bool = False,
    ) -> None:
        self.text = text
        self.ignore_case = ignore_case
        self._key = (text, wildcards, variables, ignore_case)
        self._tokens = _tokenize(text, wildcards, variables)
        self._has_variables = any(isinstance(t, _Variable) for t in self._tokens)
        self._regex = None if self._has_variables else self._compile({})

    def matches(self, value: str, context: ConditionContext) -> bool:
        """Whether ``value`` (taken literally) matches the whole pattern."""
        regex = self._regex if self._regex is not None else self._compile(context)
        return regex is not None and regex.fullmatch(value) is not None

    def literal(self, context: ConditionContext) -> str | None:
        """The text with variables replaced (None if one is missing); for ``*Equals``."""
        parts = [_resolve(t, context) if isinstance(t, _Variable) else t for t in self._tokens]
        return None if any(p is None for p in parts) else "".join(str(p) for p in parts)

    def _compile(self, context: ConditionContext) -> re.Pattern[str] | None:
        pieces: list[str] = []
        for token in self._tokens:
            if token is _ANY:
                pieces.append(".*")
            elif token is _ONE:
                pieces.append(".")
            else:
                text = _resolve(token, context) if isinstance(token, _Variable) else token
                if text is None:
                    return None
                pieces.append(re.escape(str(text)))
        flags = re.DOTALL | (re.IGNORECASE if self.ignore_case else 0)
        return re.compile("".join(pieces), flags)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pattern) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def _tokenize(text: str, wildcards: bool, variables: bool) -> list[Any]:
    tokens: list[Any] = []
    pos = 0
    for m in (_TOKEN_RE if variables else _WILDCARD_RE).finditer(text):
        if m.lastindex is None and not wildcards:
            continue  # a literal * or ?: stays in the surrounding text
        tokens.append(text[pos : m.start()])
        tokens.append(_token(m))
        pos = m.end()
    tokens.append(text[pos:])
    return [t for t in tokens if t != ""]


def _token(m: re.Match[str]) -> Any:
    if m.lastindex is None:
        return _ANY if m.group(0) == "*" else _ONE
    inner = m.group(1)
    if inner in _ESCAPES:
        return _ESCAPES[inner]
    var = _VARIABLE_RE.match(inner)
    if var is None:
        raise MalformedPolicyDocumentError(f"invalid policy variable {m.group(0)!r}")
    return _Variable(var.group(1).lower(), var.group(2))


def _resolve(variable: _Variable, context: ConditionContext) -> str | None:
    values = context.get(variable.key)
    if values and len(values) == 1:
        return values[0]
    return variable.default  # absent, or multi-valued (no single value to substitute)


# --- operators -------------------------------------------------------------------------

Test = Callable[[str, Any, ConditionContext], bool]  # (request value, policy value, context)


@dataclass(frozen=True)
class _Operator:
    parse: Callable[[str, bool], Any]  # (policy text, variables allowed) -> policy value
    test: Test
    negated: bool = False


def _literal(text: str, variables: bool) -> Pattern:
    return Pattern(text, wildcards=False, variables=variables)


def _like(text: str, variables: bool) -> Pattern:
    return Pattern(text, variables=variables)


def _equals(value: str, pattern: Pattern, ctx: ConditionContext) -> bool:
    return value == pattern.literal(ctx)


def _equals_ignore_case(value: str, pattern: Pattern, ctx: ConditionContext) -> bool:
    literal = pattern.literal(ctx)
    return literal is not None and value.casefold() == literal.casefold()


def _like_test(value: str, pattern: Pattern, ctx: ConditionContext) -> bool:
    return pattern.matches(value, ctx)


def _number(text: str, variables: bool = False) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise MalformedPolicyDocumentError(f"{text!r} is not a number")
    return number


def _date(text: str, variables: bool = False) -> datetime:
    """ISO 8601 (``2024-05-01``, ``2024-05-01T12:00:00Z``) or epoch seconds; naive is UTC."""
    try:
        when = datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise MalformedPolicyDocumentError(f"{text!r} is not an ISO 8601 date") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _network(text: str, variables: bool = False) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise MalformedPolicyDocumentError(f"{text!r} is not an IP address or CIDR") from None


def _bool(text: str, variables: bool = False) -> str:
    if text.lower() not in ("true", "false"):
        raise MalformedPolicyDocumentError(f"{text!r} is not true or false")
    return text.lower()


def _compare(parse: Callable[[str], Any], op: Callable[[Any, Any], bool]) -> Test:
    def test(value: str, policy_value: Any, ctx: ConditionContext) -> bool:
        try:
            return bool(op(parse(value), policy_value))
        except (MalformedPolicyDocumentError, TypeError):
            return False  # a request value of the wrong shape matches nothing

    return test


def _in_network(value: str, network: Any, ctx: ConditionContext) -> bool:
    try:
        return ipaddress.ip_address(value.strip()) in network
    except ValueError:
        return False


_ORDER_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # the operator is negated
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _operators() -> dict[str, _Operator]:
    ops = {
        "StringEquals": _Operator(_literal, _equals),
        "StringNotEquals": _Operator(_literal, _equals, negated=True),
        "StringEqualsIgnoreCase": _Operator(_literal, _equals_ignore_case),
        "StringNotEqualsIgnoreCase": _Operator(_literal, _equals_ignore_case, negated=True),
        "StringLike": _Operator(_like, _like_test),
        "StringNotLike": _Operator(_like, _like_test, negated=True),
        # IAM lets ArnEquals take wildcards too: both behave as ArnLike.
        "ArnEquals": _Operator(_like, _like_test),
        "ArnLike": _Operator(_like, _like_test),
        "ArnNotEquals": _Operator(_like, _like_test, negated=True),
        "ArnNotLike": _Operator(_like, _like_test, negated=True),
        "Bool": _Operator(_bool, lambda v, p, c: v.lower() == p),
        "IpAddress": _Operator(_network, _in_network),
        "NotIpAddress": _Operator(_network, _in_network, negated=True),
    }
    for family, parse in (("Numeric", _number), ("Date", _date)):
        for suffix, op in _ORDER_TESTS.items():
            ops[family + suffix] = _Operator(
                parse, _compare(parse, op), negated=suffix == "NotEquals"
            )
    return ops


OPERATORS: dict[str, _Operator] = _operators()
NULL = "Null"
_QUALIFIERS = ("ForAnyValue:", "ForAllValues:")
_IF_EXISTS = "IfExists"


@dataclass(frozen=True)
class Condition:
    """One (operator, key, values) triple of a Condition block.

    ``operator`` is the full name as written (``ForAnyValue:StringLikeIfExists``).
    """

    operator: str
    key: str
    texts: tuple[str, ...]
    base: str = field(compare=False)
    qualifier: str | None = field(compare=False, default=None)
    if_exists: bool = field(compare=False, default=False)
    values: tuple[Any, ...] = field(compare=False, default=())

    def holds(self, context: ConditionContext) -> bool:
        """Whether the request satisfies this condition."""
        found = context.get(self.key.lower())
        if self.base == NULL:
            return any((not found) == (v == "true") for v in self.values)
        op = OPERATORS[self.base]
        if not found:
            return (
                self.if_exists
                or self.qualifier == "ForAllValues:"
                or (op.negated and self.qualifier is None)
            )
        each = [self._one(op, v, context) for v in found]
        if self.qualifier == "ForAllValues:" or (op.negated and self.qualifier is None):
            return all(each)  # negated without qualifier: no request value may match
        return any(each)

    def _one(self, op: _Operator, value: str, context: ConditionContext) -> bool:
        hit = any(op.test(value, pv, context) for pv in self.values)
        return hit != op.negated


def parse_conditions(raw: Any, where: str, variables: bool) -> tuple[Condition, ...]:
    """The Condition element of a statement, validated (unknown operators refused)."""
    if not isinstance(raw, Mapping):
        raise MalformedPolicyDocumentError(f"{where}: Condition must be a JSON object")
    out: list[Condition] = []
    for operator, block in raw.items():
        if not isinstance(block, Mapping) or not block:
            raise MalformedPolicyDocumentError(
                f"{where}: Condition {operator} must map condition keys to values"
            )
        for key, value in block.items():
            out.append(_condition(operator, key, value, f"{where}: {operator}", variables))
    return tuple(out)


def _condition(operator: str, key: str, raw: Any, where: str, variables: bool) -> Condition:
    qualifier = next((q for q in _QUALIFIERS if operator.startswith(q)), None)
    base = operator[len(qualifier) :] if qualifier else operator
    if_exists = base.endswith(_IF_EXISTS) and base != _IF_EXISTS
    base = base[: -len(_IF_EXISTS)] if if_exists else base
    if base not in OPERATORS and not (base == NULL and not if_exists and not qualifier):
        raise MalformedPolicyDocumentError(f"{where}: unknown condition operator {operator!r}")
    if not isinstance(key, str) or not key or key != key.strip():
        raise MalformedPolicyDocumentError(f"{where}: invalid condition key {key!r}")
    texts = _texts(raw, f"{where} {key}")
    try:
        parse = _bool if base == NULL else OPERATORS[base].parse
        values = tuple(parse(t, variables) for t in texts)
    except MalformedPolicyDocumentError as exc:
        raise MalformedPolicyDocumentError(f"{where} {key}: {exc.message}") from None
    return Condition(operator, key, texts, base, qualifier, if_exists, values)


def _texts(raw: Any, where: str) -> tuple[str, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if not values or not all(isinstance(v, str | bool | int | float) for v in values):
        raise MalformedPolicyDocumentError(f"{where}: values must be strings, numbers or booleans")
    return tuple(_text(v) for v in values)


def _text(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- request context ---------------------------------------------------------------------


def normalize_context(context: Mapping[str, ContextValue]) -> ConditionContext:
    """Lower-case key names and turn every value into a tuple of strings."""
    return {k.lower(): _context_values(v) for k, v in context.items() if v is not None}


def _context_values(value: ContextValue) -> tuple[str, ...]:
    if isinstance(value, datetime):
        return (value.astimezone(UTC).isoformat(),)
    if isinstance(value, str | bool | int | float):
        return (_text(value),)
    return tuple(str(v) for v in value)


def request_context(
    *,
    user_name: str,
    principal_arn: str,
    user_id: str | None = None,
    source_ip: str | None = None,
    secure_transport: bool | None = None,
    current_time: datetime | None = None,
    extra: Mapping[str, ContextValue] | None = None,
) -> dict[str, ContextValue]:
    """The global condition keys shoal puts in every request's context.

    ``aws:userid`` defaults to the user name (shoal has no separate unique ids).
    """
    now = current_time or datetime.now(UTC)
    context: dict[str, ContextValue] = {
        "aws:username": user_name,
        "aws:userid": user_id or user_name,
        "aws:PrincipalArn": principal_arn,
        "aws:CurrentTime": now,
        "aws:EpochTime": str(int(now.timestamp())),
    }
    if source_ip is not None:
        context["aws:SourceIp"] = source_ip
    if secure_transport is not None:
        context["aws:SecureTransport"] = secure_transport
    context.update(extra or {})
    return context
