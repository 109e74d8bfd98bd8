"""Execution parameters: Athena literal text (``'O''Brien'``, ``42``, ``DATE '2024-01-01'``)
turned into values that the engine binds to ``?`` — never spliced into SQL.

Also ``EXECUTE name [USING v1, v2]``, which runs a prepared statement with values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from shoal.errors import InvalidInputError, InvalidRequestError
from shoal.queries.runner import parse_parameter

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
