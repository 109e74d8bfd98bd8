"""Athena's text form of values and types: what GetQueryResults' ``VarCharValue`` and
the result ``.csv`` hold, and ``ColumnInfo`` from an Arrow schema.

Formats follow Athena engine version 3 (Trino), as PyAthena and awswrangler parse them:

* double/real: Java's ``Double.toString``/``Float.toString`` — plain decimal with at
  least one fractional digit between 1e-3 and 1e7 (``1.5``, ``2.0``), else
  scientific with an ``E`` exponent (``1.0E10``, ``1.0E-5``); ``NaN``, ``Infinity``.
* decimal: plain digits with the column's scale (``1.50``).
* timestamp: ``2024-01-01 10:00:00.000`` (milliseconds, Athena's default precision;
  six digits only when a value has sub-millisecond digits); with a time zone,
  `` UTC`` (the zone name) follows. date ``2024-01-01``; time ``10:00:00.000``.
* varbinary: bytes in lowercase hex separated by spaces (``68 69``).
* array ``[a, b]``; map and row ``{k=v, k2=v2}``; NULL inside them ``null``.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from shoal.engine.base import sql_type_of
from shoal.queries.model import ColumnInfo

Formatter = Callable[[Any], str]

# (Athena type name, Precision) for types without parameters; Scale is 0. As Athena
# reports them: REAL is "float" (Hive's name), varbinary's precision is 1 GiB.
_SIMPLE_TYPES: tuple[tuple[Callable[[pa.DataType], bool], str, int], ...] = (
    (pa.types.is_boolean, "boolean", 0),
    (pa.types.is_int8, "tinyint", 3),
    (pa.types.is_int16, "smallint", 5),
    (pa.types.is_int32, "integer", 10),
    (pa.types.is_int64, "bigint", 19),
    (pa.types.is_uint8, "smallint", 5),
    (pa.types.is_uint16, "integer", 10),
    (pa.types.is_uint32, "bigint", 19),
    (pa.types.is_uint64, "decimal", 20),
    (pa.types.is_float16, "float", 17),
    (pa.types.is_float32, "float", 17),
    (pa.types.is_float64, "double", 17),
    (pa.types.is_string, "varchar", 2147483647),
    (pa.types.is_large_string, "varchar", 2147483647),
    (pa.types.is_binary, "varbinary", 1073741824),
    (pa.types.is_large_binary, "varbinary", 1073741824),
    (pa.types.is_fixed_size_binary, "varbinary", 1073741824),
    (pa.types.is_date, "date", 0),
    (pa.types.is_time, "time", 3),
    (pa.types.is_list, "array", 0),
    (pa.types.is_large_list, "array", 0),
    (pa.types.is_fixed_size_list, "array", 0),
    (pa.types.is_map, "map", 0),
    (pa.types.is_struct, "row", 0),
    (pa.types.is_null, "unknown", 0),
)


def athena_type(data_type: pa.DataType) -> tuple[str, int, int]:
    """(type name, Precision, Scale) of an Arrow type, as Athena's ColumnInfo says it."""
    if pa.types.is_decimal(data_type):
        return "decimal", data_type.precision, data_type.scale
    if pa.types.is_timestamp(data_type):
        return ("timestamp with time zone" if data_type.tz else "timestamp"), 3, 0
    for test, name, precision in _SIMPLE_TYPES:
        if test(data_type):
            return name, precision, 0
    return "varchar", 2147483647, 0  # anything else is rendered as text


def column_infos(schema: pa.Schema, hive: bool = False) -> tuple[ColumnInfo, ...]:
    """Athena ColumnInfo for each column of a result. ``hive``: the statement ran on
    Athena's Hive DDL side (SHOW, DESCRIBE), which names text ``string``."""
    infos = []
    for arrow_field in schema:
        name, precision, scale = athena_type(arrow_field.type)
        name, precision = _declared(arrow_field, name, precision)
        if hive and name == "varchar":
            name, precision = "string", 0
        infos.append(
            ColumnInfo(
                name=arrow_field.name,
                type=name,
                precision=precision,
                scale=scale,
                case_sensitive=name in ("varchar", "char", "string"),
            )
        )
    return tuple(infos)


_BOUNDED_TEXT = re.compile(r"(varchar|char)\((\d+)\)")


def _declared(arrow_field: pa.Field, name: str, precision: int) -> tuple[str, int]:
    """(type name, Precision) as the SQL type an engine or the planner recorded for a
    field says: ``json`` (text to Arrow), ``varchar(10)`` (a length Arrow lacks)."""
    declared = sql_type_of(arrow_field)
    if declared == "json":
        return "json", 0
    found = _BOUNDED_TEXT.fullmatch(declared or "")
    if found is not None:
        return found.group(1), int(found.group(2))
    return name, precision


def format_column(column: pa.ChunkedArray | pa.Array) -> list[str | None]:
    """Every value of a column in Athena's text form; None for NULL."""
    return text_column(column).to_pylist()  # type: ignore[no-any-return]


def _casts_to_athena_text(data_type: pa.DataType) -> bool:
    # Arrow's own cast to string already prints these exactly as Athena does.
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_date32(data_type)
    )


def text_column(column: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    """A column as an Arrow string column of Athena's text forms (NULL stays NULL).

    Strings, integers, booleans and dates are cast in C; the other types go through
    the per-value formatters (Java-style doubles, timestamps, nested values).
    """
    if _casts_to_athena_text(column.type):
        return pc.cast(column, pa.string())
    if pa.types.is_float64(column.type):
        return _double_text(column)
    fmt = formatter(column.type)
    values = [None if value is None else fmt(value) for value in column.to_pylist()]
    return pa.array(values, pa.string())


def formatter(data_type: pa.DataType) -> Formatter:
    """The function turning one non-NULL Python value of ``data_type`` into text."""
    if pa.types.is_float32(data_type) or pa.types.is_float16(data_type):
        return _java_float
    if pa.types.is_floating(data_type):
        return _java_double
    if pa.types.is_struct(data_type):
        fields = [(f.name, formatter(f.type)) for f in data_type]
        return lambda v: _row(v, fields)
    if pa.types.is_map(data_type):
        key_fmt, item_fmt = formatter(data_type.key_type), formatter(data_type.item_type)
        return lambda v: _map(v, key_fmt, item_fmt)
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return _list_formatter(data_type.value_type)
    if pa.types.is_fixed_size_list(data_type):
        return _list_formatter(data_type.value_type)
    if pa.types.is_timestamp(data_type) and data_type.tz:
        return _timestamp_tz
    return format_scalar


def _double_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Java's ``Double.toString`` for a whole column.

    Between 1e-3 and 1e7 Java prints the shortest round-trip digits in plain decimal
    with at least one fractional digit, which is Arrow's cast plus ``.0`` where it
    printed an integer. The rare values outside that range (and NaN, infinities) take
    the per-value formatter.
    """
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    magnitude = pc.abs(values)
    plain = pc.or_(
        pc.and_(pc.greater_equal(magnitude, 1e-3), pc.less(magnitude, 1e7)),
        pc.equal(values, 0.0),
    )
    text = pc.cast(values, pa.string())
    integral = pc.invert(pc.match_substring_regex(text, r"[.eEna]"))
    text = pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)
    others = pc.and_(pc.invert(plain), pc.is_valid(values))
    if not pc.any(others).as_py():
        return text
    fixed = [
        _java_double(v) if outside else t
        for v, t, outside in zip(
            values.to_pylist(), text.to_pylist(), others.to_pylist(), strict=True
        )
    ]
    return pa.array(fixed, pa.string())


def format_scalar(value: Any) -> str:
    """Text of a scalar whose type needs no column context."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return _clock(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return " ".join(f"{b:02x}" for b in bytes(value))
    return str(value)


def _nested(value: Any, fmt: Formatter) -> str:
    return "null" if value is None else fmt(value)


def _list_formatter(value_type: pa.DataType) -> Formatter:
    item = formatter(value_type)
    return lambda v: "[" + ", ".join(_nested(x, item) for x in v) + "]"


def _map(value: Any, key_fmt: Formatter, item_fmt: Formatter) -> str:
    pairs = value.items() if isinstance(value, dict) else value
    return "{" + ", ".join(f"{_nested(k, key_fmt)}={_nested(v, item_fmt)}" for k, v in pairs) + "}"


def _row(value: dict[str, Any], fields: list[tuple[str, Formatter]]) -> str:
    return "{" + ", ".join(f"{name}={_nested(value.get(name), fmt)}" for name, fmt in fields) + "}"


def _fraction(microsecond: int) -> str:
    return f"{microsecond // 1000:03d}" if microsecond % 1000 == 0 else f"{microsecond:06d}"


def _clock(value: time | datetime) -> str:
    return f"{value:%H:%M:%S}.{_fraction(value.microsecond)}"


def _timestamp(value: datetime) -> str:
    return f"{value:%Y-%m-%d} {_clock(value)}"


def _timestamp_tz(value: datetime) -> str:
    zone = value.tzname() or "UTC"
    return f"{_timestamp(value)} {zone}"


def _java_double(value: float) -> str:
    """``Double.toString``: shortest round-trip digits, Java's layout."""
    return _java_layout(value, repr(value))


def _java_float(value: float) -> str:
    """``Float.toString``: the shortest digits that give back the same 32-bit float."""
    if math.isfinite(value) and value != 0.0:
        for digits in range(1, 10):
            text = f"{value:.{digits}g}"
            if _as_float32(float(text)) == _as_float32(value):
                return _java_layout(value, text)
    return _java_layout(value, repr(value))


def _as_float32(value: float) -> float:
    result: float = struct.unpack("f", struct.pack("f", value))[0]
    return result


def _java_layout(value: float, shortest: str) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign, digits, exponent = Decimal(shortest).normalize().as_tuple()
    assert isinstance(exponent, int)  # finite values only here
    text = "".join(map(str, digits))
    point = len(text) + exponent  # position of the decimal point in ``text``
    prefix = "-" if sign else ""
    if 1e-3 <= abs(value) < 1e7:
        if point <= 0:
            return f"{prefix}0.{'0' * -point}{text}"
        whole, fraction = text[:point].ljust(point, "0"), text[point:]
        return f"{prefix}{whole}.{fraction or '0'}"
    return f"{prefix}{text[0]}.{text[1:] or '0'}E{point - 1}"
