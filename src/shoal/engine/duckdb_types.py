"""Hive/Athena column types in DuckDB's spelling."""

from __future__ import annotations

from collections.abc import Mapping

from shoal.catalog.types import HiveType
from shoal.errors import InvalidInputError

_PRIMITIVES: Mapping[str, str] = {
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "binary": "BLOB",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def duckdb_type(hive: HiveType) -> str:
    """The DuckDB spelling of a Hive type (``array<int>`` -> ``INTEGER[]``)."""
    if hive.name in _PRIMITIVES:
        return _PRIMITIVES[hive.name]
    if hive.name == "decimal":
        precision, scale = (tuple(hive.params) + (10, 0)[len(hive.params) :])[:2]
        return f"DECIMAL({precision},{scale})"
    if hive.name == "array":
        return f"{duckdb_type(hive.args[0])}[]"
    if hive.name == "map":
        return f"MAP({duckdb_type(hive.args[0])}, {duckdb_type(hive.args[1])})"
    if hive.name == "struct":
        fields = ", ".join(f"{_quote(name)} {duckdb_type(t)}" for name, t in hive.fields)
        return f"STRUCT({fields})"
    raise InvalidInputError(f"type {hive} has no DuckDB equivalent")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
