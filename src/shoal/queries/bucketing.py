"""Hive bucketing of written rows, as Athena engine version 3 (Trino) buckets CTAS.

A bucketed table (``bucketed_by = ARRAY['c', …], bucket_count = n``) gets, per
partition, one file per bucket that holds rows. Trino names bucket files
``0{bucket:05d}_0_<query id>``; shoal does too, followed by the format's extension.

The bucket of a row is Hive's bucketing version 1 hash, which Trino's Hive
connector uses for tables it creates (``HiveBucketing.BucketingVersion.BUCKETING_V1``):

* per value: NULL 0; boolean 1/0; tinyint, smallint, int and date (days since
  1970-01-01) the value itself; bigint ``(int) (v ^ (v >>> 32))``; float its IEEE
  bits (``Float.floatToIntBits``); double ``(int) (b ^ (b >>> 32))`` of its bits
  (``Double.doubleToLongBits``); string/varchar ``h = 31 * h + byte`` over its UTF-8
  bytes as signed bytes, from 0;
* per row: ``h = 31 * h + hash(value)`` over the bucket columns in order, from 0,
  all in 32-bit two's complement arithmetic;
* bucket: ``(h & 0x7fffffff) % bucket_count``.

Other column types (timestamps, decimals, complex types) are refused, as Athena only
lists these types for bucket columns.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from datetime import date

import pyarrow as pa

from shoal.catalog.model import Column
from shoal.catalog.types import parse_type
from shoal.errors import InvalidInputError

_EPOCH = date(1970, 1, 1)
_INT32 = 1 << 32


def _int32(value: int) -> int:
    value &= _INT32 - 1
    return value - _INT32 if value >= 1 << 31 else value


def _long_fold(bits: int) -> int:
    bits &= (1 << 64) - 1
    return _int32(bits ^ (bits >> 32))


def _boolean(value: object) -> int:
    return 1 if value else 0


def _integer(value: object) -> int:
    return _int32(int(value))  # type: ignore[call-overload]


def _bigint(value: object) -> int:
    return _long_fold(int(value))  # type: ignore[call-overload]


def _float(value: object) -> int:
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return 0x7FC00000  # floatToIntBits: every NaN is the canonical one
    return _int32(struct.unpack(">i", struct.pack(">f", number))[0])


def _double(value: object) -> int:
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return _long_fold(0x7FF8000000000000)
    return _long_fold(struct.unpack(">q", struct.pack(">d", number))[0])


def _string(value: object) -> int:
    result = 0
    for byte in str(value).encode("utf-8"):
        result = _int32(result * 31 + (byte - 256 if byte > 127 else byte))
    return result


def _date(value: object) -> int:
    if not isinstance(value, date):
        raise InvalidInputError(f"not a date: {value!r}")
    return _int32((value - _EPOCH).days)


_HASHES: dict[str, Callable[[object], int]] = {
    "boolean": _boolean,
    "tinyint": _integer,
    "smallint": _integer,
    "int": _integer,
    "integer": _integer,
    "bigint": _bigint,
    "float": _float,
    "real": _float,
    "double": _double,
    "string": _string,
    "varchar": _string,
    "date": _date,
}


def check_columns(columns: Sequence[Column], bucketed_by: Sequence[str]) -> None:
    """Each bucket column is a data column of a type Hive's hash covers."""
    types = {c.name.lower(): parse_type(c.type).name for c in columns}
    missing = [name for name in bucketed_by if name not in types]
    if missing:
        raise InvalidInputError(f"Bucketing columns {missing} not present in schema")
    for name in bucketed_by:
        if types[name] not in _HASHES:
            raise InvalidInputError(
                f"Cannot bucket on column {name!r} of type {types[name]}: bucket columns must "
                "be boolean, tinyint, smallint, int, bigint, float, double, string, varchar "
                "or date"
            )


def row_hash(values: Sequence[object], types: Sequence[str]) -> int:
    """Hive's bucketing-version-1 hash of one row's bucket column values."""
    result = 0
    for value, type_name in zip(values, types, strict=True):
        hashed = 0 if value is None else _HASHES[type_name](value)
        result = _int32(result * 31 + hashed)
    return result


def bucket_numbers(
    rows: pa.Table, columns: Sequence[Column], bucketed_by: Sequence[str], count: int
) -> list[int]:
    """The bucket of each row of ``rows`` (``bucketed_by`` checked by ``check_columns``)."""
    types = {c.name.lower(): parse_type(c.type).name for c in columns}
    wanted = [types[name] for name in bucketed_by]
    values = [rows.column(name).to_pylist() for name in bucketed_by]
    return (
        [(row_hash(row, wanted) & 0x7FFFFFFF) % count for row in zip(*values, strict=True)]
        if values
        else [0] * rows.num_rows
    )


def file_name(bucket: int, query_id: str) -> str:
    """Trino's name for a bucket's file, without an extension."""
    return f"0{bucket:05d}_0_{query_id}"
