"""Rows to data files: Hive column types from Arrow, partition folders escaped as
Hive escapes them, bucket files (``bucketing.py``), and the Parquet, ORC, Avro,
JSON-lines and TEXTFILE serialisers."""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import fastavro
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.orc as orc
import pyarrow.parquet as pq
import zstandard

from shoal.catalog import avro_schema
from shoal.catalog.model import Column, Table
from shoal.engine.base import CancelToken
from shoal.engine.scans import HIVE_NULL_PARTITION
from shoal.errors import InvalidInputError, QueryCancelledError
from shoal.queries import bucketing
from shoal.queries.write_options import WriteOptions, folder_of
from shoal.storage.base import Storage, parse_uri

MAX_PARTITIONS = 100  # Athena's limit per CTAS / INSERT / UNLOAD

# ---------------------------------------------------------------- rows to files


@dataclass(frozen=True)
class PreparedData:
    """Rows ready to write: Hive-compatible columns, partition columns last."""

    table: pa.Table
    columns: tuple[Column, ...]  # data columns (without partition keys)
    partition_keys: tuple[Column, ...]


@dataclass(frozen=True)
class Written:
    """Files written (s3:// URIs) and the folder of each partition written to."""

    files: tuple[str, ...]
    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)


def hive_columns(schema: pa.Schema) -> list[Column]:
    """Catalog columns for an Arrow schema (lower-case names, Hive types)."""
    return [Column(f.name.lower(), hive_type(f.type, f.name)) for f in schema]


def hive_type(t: pa.DataType, name: str = "?") -> str:
    """The Hive type that stores Arrow type ``t``; InvalidInputError when none does."""
    simple = {
        pa.bool_(): "boolean",
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.float16(): "float",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.string(): "string",
        pa.large_string(): "string",
        pa.binary(): "binary",
        pa.large_binary(): "binary",
        pa.date32(): "date",
        pa.date64(): "date",
    }
    if t in simple:
        return simple[t]
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{hive_type(t.value_type, name)}>"
    if pa.types.is_map(t):
        return f"map<{hive_type(t.key_type, name)},{hive_type(t.item_type, name)}>"
    if pa.types.is_struct(t):
        inner = ",".join(f"{f.name.lower()}:{hive_type(f.type, name)}" for f in t)
        return f"struct<{inner}>"
    if pa.types.is_dictionary(t):
        return hive_type(t.value_type, name)
    raise InvalidInputError(f"column {name!r} has type {t}, which a table cannot store")


_ARROW_TYPES = {
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def _arrow_type(hive: str) -> pa.DataType | None:
    from shoal.catalog.types import parse_type

    parsed = parse_type(hive)
    if parsed.name == "decimal":
        precision, scale = (tuple(parsed.params) + (10, 0)[len(parsed.params) :])[:2]
        return pa.decimal128(precision, scale)
    return _ARROW_TYPES.get(parsed.name)  # complex types: keep what the query made


def prepare(table: pa.Table, partitioned_by: Sequence[str]) -> PreparedData:
    """Lower-case names, Hive-storable types, partition columns last (Athena's rule)."""
    names = [n.lower() for n in table.column_names]
    if len(set(names)) != len(names) or not all(names):
        raise InvalidInputError(f"column names must be unique and non-empty: {names}")
    keys = [k.lower() for k in partitioned_by]
    if keys and names[-len(keys) :] != keys:
        raise InvalidInputError(
            f"partition columns {keys} must be the last columns of the SELECT, in that order"
        )
    if keys and len(keys) == len(names):
        raise InvalidInputError("a table needs at least one column that is not a partition key")
    arrays = [_storable(table.column(i), names[i]) for i in range(table.num_columns)]
    table = pa.table(arrays, names=names)
    columns = hive_columns(table.schema)
    split = len(columns) - len(keys)
    return PreparedData(table, tuple(columns[:split]), tuple(columns[split:]))


def _storable(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    if pa.types.is_null(column.type):
        raise InvalidInputError(f"column {name!r} has no type (NULL): CAST it to one")
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        column = column.cast(pa.timestamp(column.type.unit))  # Hive timestamps are UTC, naive
    hive_type(column.type, name)
    return column


def conform(result: pa.Table, table: Table, names: Sequence[str] | None) -> pa.Table:
    """INSERT: the query's columns matched to the table's (by position or by name list)."""
    target = [*table.columns, *table.partition_keys]
    sources = insert_sources(result.num_columns, table, names)
    arrays = []
    for column, source in zip(target, sources, strict=True):
        arrow = _arrow_type(column.type)
        if source is None:
            arrays.append(pa.nulls(result.num_rows, arrow or pa.string()))
            continue
        value = result.column(source)
        try:
            arrays.append(value.cast(arrow) if arrow is not None else value)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidInputError(
                f"Insert query has mismatched column types: cannot store {value.type} "
                f"in {column.name} ({column.type})"
            ) from None
    return pa.table(arrays, names=[c.name.lower() for c in target])


def insert_sources(count: int, table: Table, names: Sequence[str] | None) -> tuple[int | None, ...]:
    """INSERT: for each of the table's columns (partition keys last), the position of
    the query's column (of ``count``) that fills it, None where NULL does. Without
    ``names`` the query gives every column by position."""
    target = [*table.columns, *table.partition_keys]
    wanted = [n.lower() for n in names] if names else [c.name.lower() for c in target]
    if count != len(wanted):
        raise InvalidInputError(
            f"Insert query has mismatched column count: {len(wanted)} columns expected, "
            f"the query has {count}"
        )
    unknown = set(wanted) - {c.name.lower() for c in target}
    if unknown:
        raise InvalidInputError(
            f"Insert column name does not exist in target table: {sorted(unknown)[0]}"
        )
    position = {name: index for index, name in enumerate(wanted)}
    return tuple(position.get(c.name.lower()) for c in target)


def write(
    storage: Storage,
    data: PreparedData,
    options: WriteOptions,
    location: str,
    query_id: str,
    folders: dict[tuple[str, ...], str] | None = None,
    cancel: CancelToken | None = None,
) -> Written:
    """Write one file per partition (or one for all rows), or per bucket holding rows
    of each; on failure, delete them all.

    ``folders`` names existing partitions' folders (INSERT appends into them). A stop
    (``cancel``) is heard between files and after the last: QueryCancelledError, and
    none of them is left.
    """
    if options.bucketed_by:
        bucketing.check_columns(data.columns, options.bucketed_by)
    groups = _partition_groups(data)
    if options.bucketed_by:
        _check_bucketed_append(data, groups, folders)
    files: list[str] = []
    written: dict[tuple[str, ...], str] = {}
    try:
        for index, (values, rows) in enumerate(groups):
            folder = (folders or {}).get(values) or folder_of(location) + _partition_path(
                data.partition_keys, values
            )
            for name, part in _files_of(rows, data, options, f"{query_id}_{index}", query_id):
                _unless_stopped(cancel)
                uri = f"{folder}{name}{options.file_suffix}"
                bucket, key = parse_uri(uri)
                storage.put(bucket, key, serialize(part, options))
                files.append(uri)
            if data.partition_keys:
                written[values] = folder
        _unless_stopped(cancel)
    except BaseException:
        delete(storage, files)
        raise
    return Written(tuple(files), written)


def _unless_stopped(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise QueryCancelledError(f"query {cancel.reason}")


def _check_bucketed_append(
    data: PreparedData,
    groups: Sequence[tuple[tuple[str, ...], pa.Table]],
    folders: dict[tuple[str, ...], str] | None,
) -> None:
    """INSERT adds files to a bucketed table only in new partitions (Trino's rule: a
    bucket is one file, which an append cannot extend)."""
    if folders is None:
        return  # CTAS: a new table
    if not data.partition_keys:
        raise InvalidInputError("Cannot insert into bucketed unpartitioned Hive table")
    for values, _ in groups:
        if values in folders:
            raise InvalidInputError(
                f"Cannot insert into existing partition of bucketed Hive table: {list(values)}"
            )


def _files_of(
    rows: pa.Table, data: PreparedData, options: WriteOptions, name: str, query_id: str
) -> list[tuple[str, pa.Table]]:
    """The files one partition's rows go to: ``[(name, rows)]``, one per bucket with rows
    when the table is bucketed."""
    if not options.bucketed_by:
        return [(name, rows)]
    numbers = pa.array(
        bucketing.bucket_numbers(rows, data.columns, options.bucketed_by, options.bucket_count),
        pa.int32(),
    )
    return [
        (bucketing.file_name(number, query_id), rows.filter(pc.equal(numbers, number)))
        for number in sorted(set(numbers.to_pylist()))
    ]


def delete(storage: Storage, files: Sequence[str]) -> None:
    """Remove written files (best effort: the original error matters more)."""
    for uri in files:
        try:
            storage.delete(*parse_uri(uri))
        except Exception:  # noqa: BLE001 - keep cleaning up the rest
            continue


def _partition_groups(data: PreparedData) -> list[tuple[tuple[str, ...], pa.Table]]:
    table = data.table
    if not data.partition_keys:
        return [((), table)] if table.num_rows else []
    keys = [k.name for k in data.partition_keys]
    combos = table.select(keys).group_by(keys).aggregate([]).to_pylist()
    if len(combos) > MAX_PARTITIONS:
        raise InvalidInputError(
            f"HIVE_TOO_MANY_OPEN_PARTITIONS: the query writes {len(combos)} partitions; "
            f"the limit is {MAX_PARTITIONS}"
        )
    groups = []
    for combo in combos:
        mask = None
        for key in keys:
            column = table.column(key)
            test = pc.is_null(column) if combo[key] is None else pc.equal(column, combo[key])
            mask = test if mask is None else pc.and_(mask, test)
        rows = table.filter(mask).drop_columns(keys)
        groups.append((tuple(_partition_text(combo[k]) for k in keys), rows))
    return groups


def _partition_text(value: object) -> str:
    if value is None:
        return HIVE_NULL_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Hive's FileUtils.escapePathName: these characters become %XX in partition folders.
_HIVE_ESCAPED = frozenset("\"#%'*/:=?\\\x7f{[]^")


def _escape(text: str) -> str:
    return "".join(
        f"%{ord(ch):02X}" if ch in _HIVE_ESCAPED or ord(ch) < 0x20 else ch for ch in text
    )


def _partition_path(keys: Sequence[Column], values: Sequence[str]) -> str:
    return "".join(f"{_escape(k.name)}={_escape(v)}/" for k, v in zip(keys, values, strict=True))


# ---------------------------------------------------------------- serializers


def serialize(table: pa.Table, options: WriteOptions) -> bytes:
    """One file's bytes in ``options``' format and codec."""
    if options.format == "parquet":
        sink = pa.BufferOutputStream()
        codec = None if options.compression == "none" else options.compression
        pq.write_table(table, sink, compression=codec)
        return bytes(sink.getvalue().to_pybytes())
    if options.format == "orc":
        sink = pa.BufferOutputStream()
        orc.write_table(table, sink, compression=_ORC_CODECS[options.compression])
        return bytes(sink.getvalue().to_pybytes())
    if options.format == "avro":
        return _avro_file(table, options.compression)
    text = _json_lines(table) if options.format == "json" else _text_lines(table, options)
    return _compress(text.encode("utf-8"), options.compression)


_ORC_CODECS = {
    "zlib": "zlib",
    "snappy": "snappy",
    "zstd": "zstd",
    "lz4": "lz4",
    "none": "uncompressed",
}
_AVRO_CODECS = {"deflate": "deflate", "zstd": "zstandard", "none": "null"}


def _avro_file(table: pa.Table, compression: str) -> bytes:
    """An Avro container file: each column a nullable field (``avro_schema``)."""
    schema = avro_schema.avro_schema(hive_columns(table.schema), "row")
    sink = io.BytesIO()
    fastavro.writer(sink, schema, table.to_pylist(), codec=_AVRO_CODECS[compression])
    return sink.getvalue()


def _json_lines(table: pa.Table) -> str:
    return "".join(
        json.dumps(row, default=_json_value, separators=(",", ":")) + "\n"
        for row in table.to_pylist()
    )


def _json_value(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)  # datetime/date/Decimal: Hive's text forms


def _text_lines(table: pa.Table, options: WriteOptions) -> str:
    forbidden = ["\n", "\r", options.field_delimiter, *filter(None, [options.quote_char])]
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_nested(column.type):
            raise InvalidInputError(f"TEXTFILE cannot store column {name!r} ({column.type})")
        text = column.cast(pa.string())
        for char in forbidden:
            if pc.any(pc.match_substring(text, char)).as_py():
                raise InvalidInputError(
                    f"column {name!r} holds {char!r}, which TEXTFILE cannot store unescaped; "
                    "choose another field_delimiter or format"
                )
        columns.append(text.fill_null("\\N").to_pylist())
    return "".join(options.field_delimiter.join(row) + "\n" for row in zip(*columns, strict=True))


def _compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, mtime=0)
    if codec == "zstd":
        return bytes(zstandard.ZstdCompressor().compress(data))
    return data
