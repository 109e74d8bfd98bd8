"""Schema inference: column types from CSV values, JSON values and Parquet schemas.

Types are ``HiveType`` trees. While inferring, ``UNKNOWN`` stands for "no evidence
yet" (an empty CSV field, a JSON null, an empty array): it merges into whatever
the other side is, so a column that is empty in one file does not turn into
``string`` when another file has numbers. ``finalize`` turns what is still
unknown at the end into ``string``, the type every value can be read as.

CSV values are typed as Glue's CSV classifier does — ``boolean``, ``bigint``,
``double`` or ``string`` (dates and timestamps stay ``string``) — with one
deliberate difference: an integer with a leading zero (``007``, a ZIP code) is a
``string``, because reading it as ``bigint`` would lose the zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import pyarrow as pa

from shoal.catalog.names import normalize_name, unique_names
from shoal.catalog.types import HiveType, widen

UNKNOWN = HiveType("unknown")
BOOLEAN = HiveType("boolean")
BIGINT = HiveType("bigint")
DOUBLE = HiveType("double")
STRING = HiveType("string")

_INT_RE = re.compile(r"[+-]?\d+\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?\Z")
_INT64 = (-(2**63), 2**63 - 1)
_FLOATS = {"float": 1, "double": 2}
_INTEGERS = {"tinyint", "smallint", "int", "bigint"}


class InferredColumn(NamedTuple):
    """A column as inferred from samples; ``type`` may still be ``UNKNOWN``."""

    name: str
    type: HiveType


# --- merging --------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def merge_types(a: HiveType, b: HiveType) -> HiveType:
    """Widen two inferred types; ``UNKNOWN`` yields to the other side.

    Complex types merge element-wise (struct fields by name, missing fields kept);
    ``float`` and integers widen to ``double``; decimals widen to hold both;
    everything else follows ``catalog.types.widen``.
    """
    if a == b or b == UNKNOWN:
        return a
    if a == UNKNOWN:
        return b
    if a.name == b.name == "struct":
        merged = dict(a.fields)
        for name, typ in b.fields:
            merged[name] = merge_types(merged[name], typ) if name in merged else typ
        return HiveType("struct", fields=tuple(merged.items()))
    if a.name == b.name == "array":
        return HiveType("array", args=(merge_types(a.args[0], b.args[0]),))
    if a.name == b.name == "map":
        args = tuple(merge_types(x, y) for x, y in zip(a.args, b.args, strict=True))
        return HiveType("map", args=args)
    return _merge_numbers(a, b) or widen(a, b)


def _merge_numbers(a: HiveType, b: HiveType) -> HiveType | None:
    """Cases ``types.widen`` does not know: float, and decimal with decimal."""
    names = {a.name, b.name}
    if "float" in names and names <= set(_FLOATS) | _INTEGERS:
        return DOUBLE if names != {"float"} else a
    if names == {"decimal"} and a.params and b.params:
        scale = max(a.params[1], b.params[1])
        digits = max(a.params[0] - a.params[1], b.params[0] - b.params[1])
        return HiveType("decimal", params=(min(38, digits + scale), scale))
    return None


def merge_columns(
    a: Sequence[InferredColumn], b: Sequence[InferredColumn], by_position: bool
) -> tuple[InferredColumn, ...]:
    """Union of two column lists with widened types.

    CSV is read by position, so the longer list's names win and types merge
    position by position; JSON and Parquet are read by name, so columns merge by
    name in order of first appearance.
    """
    if by_position:
        longer, shorter = (a, b) if len(a) >= len(b) else (b, a)
        merged = [
            InferredColumn(col.name, merge_types(col.type, shorter[i].type))
            if i < len(shorter)
            else col
            for i, col in enumerate(longer)
        ]
        return tuple(merged)
    types = {col.name: col.type for col in a}
    for col in b:
        types[col.name] = merge_types(types[col.name], col.type) if col.name in types else col.type
    return tuple(InferredColumn(name, typ) for name, typ in types.items())


def finalize(typ: HiveType) -> HiveType:
    """Replace remaining ``UNKNOWN`` parts with ``string``."""
    if typ == UNKNOWN:
        return STRING
    if typ.args:
        return HiveType(typ.name, args=tuple(finalize(t) for t in typ.args))
    if typ.fields:
        return HiveType("struct", fields=tuple((n, finalize(t)) for n, t in typ.fields))
    return typ


# --- CSV ------------------------------------------------------------------------------


def csv_value_type(value: str) -> HiveType:
    """The Glue CSV type of one field; ``UNKNOWN`` for an empty field."""
    text = value.strip()
    if not text:
        return UNKNOWN
    if text.lower() in ("true", "false"):
        return BOOLEAN
    if _INT_RE.match(text):
        digits = text.lstrip("+-")
        if len(digits) > 1 and digits[0] == "0":
            return STRING  # leading zeros are identifiers (ZIP codes), not numbers
        return BIGINT if _INT64[0] <= int(text) <= _INT64[1] else DOUBLE
    if _FLOAT_RE.match(text):
        return DOUBLE
    return STRING


def csv_column_types(rows: Iterable[Sequence[str]], width: int) -> list[HiveType]:
    """Per-column types over data rows; empty fields are ignored."""
    rows = list(rows)
    if rows and all(len(row) == width for row in rows):
        # The usual, rectangular sample: transposed in C.
        return [_column_type(values) for values in zip(*rows, strict=True)]
    columns: list[list[str]] = [[] for _ in range(width)]
    for row in rows:
        for values, value in zip(columns, row, strict=False):
            values.append(value)
    return [_column_type(values) for values in columns]


# Whole-column patterns over the non-empty values joined by newlines: one regex call
# per column instead of one classification per value. Integers of at most 18 digits
# always fit bigint, and their leading-zero rule matches ``csv_value_type``.
_INT_VALUE = r"[+-]?(?:0|[1-9]\d{0,17})"
_BOOLEAN_COLUMN_RE = re.compile(r"(?:true|false)(?:\n(?:true|false))*\Z", re.IGNORECASE)
_BIGINT_COLUMN_RE = re.compile(rf"{_INT_VALUE}(?:\n{_INT_VALUE})*\Z")
_DECIMAL_VALUE = rf"(?:{_INT_VALUE}|[+-]?\d*\.\d+)"
_DOUBLE_COLUMN_RE = re.compile(rf"{_DECIMAL_VALUE}(?:\n{_DECIMAL_VALUE})*\Z")


def _column_type(values: Sequence[str]) -> HiveType:
    """The merged type of one column's values, fast paths first.

    Each fast path only answers when every value alone would give that type (or
    bigint within double), so the result equals merging ``csv_value_type`` of each.
    """
    present = [text for text in map(str.strip, values) if text]
    if not present:
        return UNKNOWN
    joined = "\n".join(present)
    if _BOOLEAN_COLUMN_RE.match(joined):
        return BOOLEAN
    if _BIGINT_COLUMN_RE.match(joined):
        return BIGINT
    if _DOUBLE_COLUMN_RE.match(joined):
        return DOUBLE
    merged = UNKNOWN
    for text in present:
        merged = merge_types(merged, csv_value_type(text))
        if merged == STRING:
            break  # string absorbs everything
    return merged


_HEADER_NAME_RE = re.compile(r"[^\W\d][\w .\-/()#%$]*\Z")


def _identifier_like(value: str) -> bool:
    return len(value) <= 128 and bool(_HEADER_NAME_RE.match(value.strip()))


def detect_header(
    rows: Sequence[Sequence[str]], data_types: Sequence[HiveType] | None = None
) -> bool:
    """Whether the first row is a header. The rule, in order:

    1. No data rows (a one-row file): header when every field looks like a
       name (starts with a letter or ``_``; letters, digits, space and ``_-./()#%$``).
    2. As Glue: header when every first-row field is a string (or empty, at least
       one not) and some column's data rows parse as boolean, bigint or double.
    3. When every column is all strings (Glue would give up and call the first row
       data): header when the first-row fields are non-empty, distinct, all look
       like names, and none of them appears again in its own column's data.

    ``data_types`` are the column types of ``rows[1:]`` when already computed.
    """
    first, data = rows[0], rows[1:]
    width = len(first)
    if not data:
        return all(_identifier_like(v) for v in first)
    first_types = [csv_value_type(v) for v in first]
    if any(t not in (STRING, UNKNOWN) for t in first_types) or all(
        t == UNKNOWN for t in first_types
    ):
        return False
    if data_types is None:
        data_types = csv_column_types(data, width)
    if any(t not in (STRING, UNKNOWN) for t in data_types):
        return True
    if UNKNOWN in first_types or len(set(first)) != width:
        return False
    if not all(_identifier_like(v) for v in first):
        return False
    return not any(row[i] == first[i] for row in data for i in range(min(width, len(row))))


def csv_columns(
    rows: Sequence[Sequence[str]], header: bool, data_types: Sequence[HiveType] | None = None
) -> tuple[InferredColumn, ...]:
    """Columns of a CSV sample: header names (normalised, unique) or ``col0..colN``.

    ``data_types`` are the types of the data rows when already computed.
    """
    width = len(rows[0])
    if header:
        raw = [normalize_name(v, fallback=f"col{i}") for i, v in enumerate(rows[0])]
        names = unique_names(raw)
        data = rows[1:]
    else:
        names = [f"col{i}" for i in range(width)]
        data = rows
    types = list(data_types) if data_types is not None else csv_column_types(data, width)
    return tuple(InferredColumn(n, t) for n, t in zip(names, types, strict=True))


# --- JSON -----------------------------------------------------------------------------


def json_value_type(value: Any) -> HiveType:
    """The Hive type of one decoded JSON value (nested objects become structs)."""
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return BIGINT if _INT64[0] <= value <= _INT64[1] else DOUBLE
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        element = UNKNOWN
        for item in value:
            element = merge_types(element, json_value_type(item))
        return HiveType("array", args=(element,))
    if isinstance(value, dict):
        return _struct_of(value)
    return STRING


def _struct_of(obj: dict[str, Any]) -> HiveType:
    keys = list(obj)
    names = unique_names([normalize_name(k) for k in keys])
    fields = tuple((n, json_value_type(obj[k])) for n, k in zip(names, keys, strict=True))
    return HiveType("struct", fields=fields)


def json_columns(
    records: Sequence[dict[str, Any]],
) -> tuple[tuple[InferredColumn, ...], dict[str, str]]:
    """Top-level columns of JSON records, and the name -> original key mapping
    for keys that normalisation changed (the JSON SerDe needs it)."""
    types: dict[str, HiveType] = {}
    for record in records:
        for key, value in record.items():
            types[key] = merge_types(types.get(key, UNKNOWN), json_value_type(value))
    keys = list(types)
    names = unique_names([normalize_name(k) for k in keys])
    columns = tuple(InferredColumn(n, types[k]) for n, k in zip(names, keys, strict=True))
    mapping = {n: k for n, k in zip(names, keys, strict=True) if n != k}
    return columns, mapping


# --- Parquet --------------------------------------------------------------------------

_ARROW_PRIMITIVES: list[tuple[Any, HiveType]] = [
    (pa.types.is_boolean, BOOLEAN),
    (pa.types.is_int8, HiveType("tinyint")),
    (pa.types.is_int16, HiveType("smallint")),
    (pa.types.is_uint8, HiveType("smallint")),
    (pa.types.is_int32, HiveType("int")),
    (pa.types.is_uint16, HiveType("int")),
    (pa.types.is_int64, BIGINT),
    (pa.types.is_uint32, BIGINT),
    (pa.types.is_uint64, BIGINT),
    (pa.types.is_float16, HiveType("float")),
    (pa.types.is_float32, HiveType("float")),
    (pa.types.is_float64, DOUBLE),
    (pa.types.is_string, STRING),
    (pa.types.is_large_string, STRING),
    (pa.types.is_binary, HiveType("binary")),
    (pa.types.is_large_binary, HiveType("binary")),
    (pa.types.is_fixed_size_binary, HiveType("binary")),
    (pa.types.is_timestamp, HiveType("timestamp")),
    (pa.types.is_date, HiveType("date")),
    (pa.types.is_null, UNKNOWN),
]


def arrow_to_hive(typ: pa.DataType) -> HiveType:
    """Map an Arrow type (from a Parquet schema) to its Hive type."""
    for test, hive in _ARROW_PRIMITIVES:
        if test(typ):
            return hive
    if pa.types.is_decimal(typ):
        return HiveType("decimal", params=(typ.precision, typ.scale))
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        return HiveType("array", args=(arrow_to_hive(typ.value_type),))
    if pa.types.is_map(typ):
        return HiveType("map", args=(arrow_to_hive(typ.key_type), arrow_to_hive(typ.item_type)))
    if pa.types.is_struct(typ):
        raw = [typ.field(i) for i in range(typ.num_fields)]
        names = unique_names([normalize_name(f.name) for f in raw])
        fields = tuple((n, arrow_to_hive(f.type)) for n, f in zip(names, raw, strict=True))
        return HiveType("struct", fields=fields)
    if pa.types.is_dictionary(typ):
        return arrow_to_hive(typ.value_type)
    return STRING  # time, interval, … have no Hive type; strings read them all


def parquet_columns(schema: pa.Schema) -> tuple[InferredColumn, ...]:
    """Columns of a Parquet file's Arrow schema, names normalised and unique."""
    names = unique_names([normalize_name(name) for name in schema.names])
    return tuple(
        InferredColumn(n, arrow_to_hive(f.type)) for n, f in zip(names, schema, strict=True)
    )
