"""Avro schemas and Hive columns, both ways, as Hive's AvroSerDe maps them.

A table of the Avro SerDe may declare its schema as ``avro.schema.literal`` (JSON);
its columns are then the record's fields (``hive_columns``). CTAS with
``format = 'AVRO'`` writes files whose schema is built from the table's columns
(``avro_schema``): every field nullable, ``["null", T]`` with a null default, as
Hive writes them.

Type mapping (AvroSerDe / Trino's Avro reader): boolean, int, long -> bigint,
float, double, string and enum -> string, bytes and fixed -> binary, record ->
struct, array, map (string keys); logical types date, timestamp-millis/micros ->
timestamp, decimal -> decimal(p,s). A union of null and one type is that type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shoal.catalog.model import Column
from shoal.catalog.types import HiveType, parse_type
from shoal.errors import InvalidInputError, UnsupportedSqlError

_PRIMITIVES = {
    "boolean": "boolean",
    "int": "int",
    "long": "bigint",
    "float": "float",
    "double": "double",
    "string": "string",
    "bytes": "binary",
}
_LOGICAL = {
    "date": "date",
    "timestamp-millis": "timestamp",
    "timestamp-micros": "timestamp",
}


def parse_literal(literal: str) -> dict[str, Any]:
    """The record schema of an ``avro.schema.literal``; InvalidInputError if it is none."""
    try:
        schema = json.loads(literal)
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"avro.schema.literal is not valid JSON: {err}") from None
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise InvalidInputError('avro.schema.literal must be a schema of "type": "record"')
    if not isinstance(schema.get("fields"), list):
        raise InvalidInputError("avro.schema.literal: a record needs a list of fields")
    return schema


def hive_columns(literal: str) -> list[Column]:
    """The columns of a record schema given as text, one per field, lower-cased."""
    schema = parse_literal(literal)
    return [
        Column(str(f["name"]).lower(), _hive_type(f.get("type"), str(f.get("name"))))
        for f in schema["fields"]
    ]


def _hive_type(avro: Any, field: str) -> str:
    if isinstance(avro, list):
        others = [t for t in avro if t != "null"]
        if len(others) != 1:
            raise UnsupportedSqlError(
                f"Avro field {field!r}: unions other than [null, T] are not supported"
            )
        return _hive_type(others[0], field)
    if isinstance(avro, str):
        if avro in _PRIMITIVES:
            return _PRIMITIVES[avro]
        raise UnsupportedSqlError(f"Avro field {field!r}: type {avro!r} is not supported")
    if not isinstance(avro, dict):
        raise InvalidInputError(f"Avro field {field!r} has no type")
    return _complex_type(avro, field)


def _complex_type(avro: Mapping[str, Any], field: str) -> str:
    logical = avro.get("logicalType")
    if logical == "decimal":
        return f"decimal({int(avro['precision'])},{int(avro.get('scale', 0))})"
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    kind = avro.get("type")
    if kind == "record":
        inner = ",".join(
            f"{str(f['name']).lower()}:{_hive_type(f.get('type'), f['name'])}"
            for f in avro.get("fields", ())
        )
        return f"struct<{inner}>"
    if kind == "array":
        return f"array<{_hive_type(avro.get('items'), field)}>"
    if kind == "map":
        return f"map<string,{_hive_type(avro.get('values'), field)}>"
    if kind == "enum":
        return "string"
    if kind == "fixed":
        return "binary"
    return _hive_type(kind, field)


def avro_schema(columns: Sequence[Column], name: str) -> dict[str, Any]:
    """A record schema for ``columns``: each field nullable with a null default."""
    return {
        "type": "record",
        "name": _avro_name(name),
        "fields": [
            {
                "name": c.name,
                "type": ["null", _avro_type(parse_type(c.type), c.name)],
                "default": None,
            }
            for c in columns
        ],
    }


def _nullable(name: str, avro: Any) -> dict[str, Any]:
    return {"name": name, "type": ["null", avro], "default": None}


_AVRO_PRIMITIVES = {
    "boolean": "boolean",
    "tinyint": "int",
    "smallint": "int",
    "int": "int",
    "integer": "int",
    "bigint": "long",
    "float": "float",
    "real": "float",
    "double": "double",
    "string": "string",
    "varchar": "string",
    "char": "string",
    "binary": "bytes",
    "varbinary": "bytes",
}


def _avro_type(hive: HiveType, column: str) -> Any:
    if hive.name in _AVRO_PRIMITIVES:
        return _AVRO_PRIMITIVES[hive.name]
    if hive.name == "date":
        return {"type": "int", "logicalType": "date"}
    if hive.name == "timestamp":
        return {"type": "long", "logicalType": "timestamp-millis"}
    if hive.name == "decimal":
        precision, scale = (tuple(hive.params) + (10, 0)[len(hive.params) :])[:2]
        return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
    if hive.name == "array":
        return {"type": "array", "items": ["null", _avro_type(hive.args[0], f"{column}_item")]}
    if hive.name == "map":
        if hive.args[0].name not in ("string", "varchar", "char"):
            raise InvalidInputError(f"column {column!r}: Avro maps need string keys")
        return {"type": "map", "values": ["null", _avro_type(hive.args[1], f"{column}_value")]}
    if hive.name == "struct":
        return {
            "type": "record",
            "name": _avro_name(f"{column}_record"),  # record names must be unique
            "fields": [_nullable(n, _avro_type(t, f"{column}_{n}")) for n, t in hive.fields],
        }
    raise InvalidInputError(f"column {column!r} has type {hive}, which Avro cannot store")


def _avro_name(name: str) -> str:
    # Avro names: [A-Za-z_][A-Za-z0-9_]*; table names may hold '-'.
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"_{cleaned}"
