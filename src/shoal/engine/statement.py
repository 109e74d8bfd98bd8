"""The engine's own wall: DuckDB parses each statement once, and shoal reads that tree.

``json_serialize_sql`` is DuckDB's parser (it serializes only SELECT statements);
from its tree ``inspect`` proves, independently of the sqlglot dialect layer, that

* there is exactly one statement, and it is a query;
* its only table function is ``unnest`` and it calls none of
  ``athena.DENIED_FUNCTIONS`` (file readers, settings, environment);
* every qualified table is one of the query's planned scans and every unqualified
  one names a CTE in scope — nothing else in DuckDB's catalog can be reached.

The same tree gives the byte offset (``query_location``) of every planned table
reference, so ``point_at_scans`` replaces exactly those spans with the scans' own
SQL. The statement is not parsed again: the spliced text is the checked text with
table names swapped for shoal's trusted subqueries (``scans.scan_query``), which
read only through the ``shoal://`` filesystem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from shoal.engine.athena import DENIED_FUNCTIONS
from shoal.errors import AccessDeniedError, QueryFailedError
from shoal.lru import LruCache

ALLOWED_TABLE_FUNCTIONS = frozenset({"unnest"})
# Table references that would reach DuckDB's catalog by a path other than BASE_TABLE.
DENIED_TABLE_REFERENCES = frozenset({"SHOW_REF", "COLUMN_DATA", "DELIM_GET", "BOUND_TABLE_REF"})

_IDENTIFIER = r'(?:"(?:[^"]|"")*"|[^\W\d][\w$]*)'
_QUALIFIED_NAME = re.compile(rf"({_IDENTIFIER})\s*\.\s*({_IDENTIFIER})")

TableKey = tuple[str, str]  # (database, table), lower case


@dataclass(frozen=True)
class TableReference:
    """Where a planned table is named in the statement (byte offsets in its UTF-8)."""

    key: TableKey
    start: int
    end: int
    name: str  # the table name as written; the subquery's alias when none is given
    aliased: bool


# Statements that passed the check, by text and planned tables (see inspect).
_CHECKED: LruCache[tuple[TableReference, ...]] = LruCache(256)


def inspect(
    cursor: duckdb.DuckDBPyConnection, sql: str, planned: Collection[TableKey]
) -> tuple[TableReference, ...]:
    """Check ``sql`` (see the module docstring); return its planned table references.

    The outcome depends only on the text and the planned tables, so statements that
    passed are remembered by exactly those (a check costs ~2 ms on TPC-H queries).

    Raises:
        AccessDeniedError: not a single query, or it reaches for files or settings.
        QueryFailedError: it does not parse, or names a table outside the plan.
    """
    key = (sql, frozenset(planned))
    return _CHECKED.get_or_make(key, lambda: tuple(_inspect(cursor, sql, planned)))


def _inspect(
    cursor: duckdb.DuckDBPyConnection, sql: str, planned: Collection[TableKey]
) -> list[TableReference]:
    row = cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    document: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if document.get("error"):
        message = str(document.get("error_message", "not a query"))
        if "Only SELECT" in message:
            raise AccessDeniedError("access denied: only SELECT queries may run")
        raise QueryFailedError(message)
    if len(document["statements"]) != 1:
        raise AccessDeniedError("access denied: exactly one statement may run")
    encoded = sql.encode()
    found = []
    for node, ctes in _walk(document["statements"], frozenset()):
        _check_node(node)
        if node.get("type") == "BASE_TABLE":
            reference = _table_reference(node, ctes, planned, encoded)
            if reference is not None:
                found.append(reference)
    return found


def point_at_scans(
    sql: str, references: Sequence[TableReference], scan_sql: Mapping[TableKey, str]
) -> str:
    """``sql`` with each planned table reference replaced by its scan's subquery."""
    encoded = sql.encode()
    parts: list[bytes] = []
    position = 0
    for reference in sorted(references, key=lambda r: r.start):
        parts.append(encoded[position : reference.start])
        parts.append(f"({scan_sql[reference.key]})".encode())
        if not reference.aliased:  # keep the name the query qualifies columns with
            parts.append(f" AS {_quote(reference.name)}".encode())
        position = reference.end
    parts.append(encoded[position:])
    return b"".join(parts).decode()


def _check_node(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if not isinstance(kind, str):  # a CAST's target type is a dict, not a node kind
        kind = ""
    if kind == "TABLE_FUNCTION":
        name = str(node.get("function", {}).get("function_name", "")).lower()
        if name not in ALLOWED_TABLE_FUNCTIONS:
            raise AccessDeniedError(f"access denied: table function {name}")
    elif kind in DENIED_TABLE_REFERENCES:
        raise AccessDeniedError(f"access denied: {kind.lower()} in a query")
    if (
        node.get("class") == "FUNCTION"
        and str(node.get("function_name", "")).lower() in DENIED_FUNCTIONS
    ):
        raise AccessDeniedError(f"access denied: function {node['function_name']}")


def _table_reference(
    node: dict[str, Any], ctes: frozenset[str], planned: Collection[TableKey], sql: bytes
) -> TableReference | None:
    """A planned table's reference; None for a CTE; QueryFailedError for anything else."""
    schema, table = str(node.get("schema_name", "")), str(node.get("table_name", ""))
    key = (schema.lower(), table.lower())
    written = f'"{schema}"."{table}"' if schema else f'"{table}"'
    if not node.get("catalog_name") and not schema and table.lower() in ctes:
        return None
    if node.get("catalog_name") or key not in planned:
        raise QueryFailedError(f"table {written} is not in the query plan")
    location = node.get("query_location")
    start = location if isinstance(location, int) else -1
    match = _QUALIFIED_NAME.match(_text_at(sql, start)) if start >= 0 else None
    if match is None or (_unquote(match[1]).lower(), _unquote(match[2]).lower()) != key:
        raise QueryFailedError(f"cannot locate table {written} in the statement")
    end = start + len(match[0].encode())
    return TableReference(key, start, end, table, bool(node.get("alias")))


def _text_at(sql: bytes, start: int) -> str:
    # Enough text for the longest qualified name; identifiers are capped by Glue at 255.
    return sql[start : start + 4096].decode(errors="replace")


def _walk(value: Any, ctes: frozenset[str]) -> Iterator[tuple[dict[str, Any], frozenset[str]]]:
    """Every dict node with the CTE names visible at it (those of enclosing WITHs)."""
    if isinstance(value, dict):
        cte_map = value.get("cte_map")
        if isinstance(cte_map, dict) and cte_map.get("map"):
            ctes = ctes | {str(entry["key"]).lower() for entry in cte_map["map"]}
        yield value, ctes
        for child in value.values():
            yield from _walk(child, ctes)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child, ctes)


def _unquote(identifier: str) -> str:
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
