"""Execution parameters: Athena literal text (``'O''Brien'``, ``42``, ``DATE '2024-01-01'``)
turned into values that the engine binds to ``?`` — never spliced into SQL.

Also ``EXECUTE name [USING v1, v2]``, which runs a prepared statement with values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp

from shoal.errors import InvalidInputError, InvalidRequestError

# Only leading comments are skipped: '--' inside a USING string literal is data.
_LEADING_RE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_EXECUTE_RE = re.compile(
    r"execute\s+([A-Za-z_][A-Za-z0-9_@:]*)(?:\s+using\b(.*)|\s*;?\s*)$", re.IGNORECASE | re.DOTALL
)
MAX_PARAMETER_LENGTH = 1024  # Athena's limit for one ExecutionParameter


@dataclass(frozen=True)
class ExecuteStatement:
    """A parsed ``EXECUTE``: the statement's name and the literal texts after USING."""

    name: str
    values: tuple[str, ...]


def parse_execute(sql: str) -> ExecuteStatement | None:
    """The EXECUTE in ``sql``, or None when ``sql`` is another kind of statement."""
    start = _LEADING_RE.match(sql)
    match = _EXECUTE_RE.match(sql[start.end() if start else 0 :].rstrip())
    if match is None:
        return None
    using = (match.group(2) or "").strip()
    if not using:
        return ExecuteStatement(match.group(1), ())
    try:
        tree = sqlglot.parse_one(f"SELECT {using}", read="trino")
    except sqlglot.errors.SqlglotError as err:
        raise InvalidRequestError(f"EXECUTE … USING values do not parse: {err}") from None
    if not isinstance(tree, exp.Select):
        raise InvalidRequestError("EXECUTE … USING takes a list of literal values")
    return ExecuteStatement(match.group(1), tuple(e.sql(dialect="trino") for e in tree.expressions))


def is_unicode_text(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form: Python strings may hold lone surrogates (from
    undecodable bytes or ``\\ud800`` escapes), which no database or file can store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_parameter(text: str) -> Any:
    """An Athena ExecutionParameter (SQL literal text) as a value to bind.

    ``'it''s'`` -> ``"it's"``, ``42`` -> 42, ``1.5`` -> Decimal, ``true``, ``NULL``,
    ``DATE '2024-01-01'`` / ``TIMESTAMP '…'`` -> their text (DuckDB casts on use).
    Anything else (expressions, identifiers) is refused: parameters are values.
    """
    try:
        tree = sqlglot.parse_one(f"SELECT {text}", read="athena")
    except sqlglot.errors.SqlglotError:
        raise InvalidInputError(f"execution parameter is not a literal: {text!r}") from None
    extra = any(v for k, v in tree.args.items() if k != "expressions")
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1 or extra:
        raise InvalidInputError(f"execution parameter is not a literal: {text!r}")
    node = tree.expressions[0]
    negative = isinstance(node, exp.Neg)
    if negative:
        node = node.this
    if isinstance(node, exp.Literal) and not (negative and node.is_string):
        if node.is_string:
            return node.this
        number = Decimal(("-" if negative else "") + node.this)
        return (
            int(number) if number == number.to_integral_value() and "." not in node.this else number
        )
    if isinstance(node, exp.Boolean) and not negative:
        return bool(node.this)
    if isinstance(node, exp.Null) and not negative:
        return None
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return node.this.this
    raise InvalidInputError(f"execution parameter is not a literal: {text!r}")


def bind_values(texts: Sequence[str]) -> list[Any]:
    """Python values of Athena literal texts, in order (the runner's literal rules)."""
    for text in texts:
        if not text or len(text) > MAX_PARAMETER_LENGTH:
            raise InvalidRequestError(
                f"an execution parameter must be 1 to {MAX_PARAMETER_LENGTH} characters"
            )
        if not is_unicode_text(text):
            raise InvalidRequestError("an execution parameter must be Unicode text")
    try:
        return [parse_parameter(text) for text in texts]
    except InvalidInputError as err:  # the API answers InvalidRequestException, as Athena
        raise InvalidRequestError(err.message) from None
