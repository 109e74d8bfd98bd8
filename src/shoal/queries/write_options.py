"""The WITH properties of CTAS and UNLOAD (format, compression, location,
partitioning, bucketing, delimiter), validated into ``WriteOptions``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

from sqlglot import exp

from shoal.catalog import formats
from shoal.catalog.model import Column, StorageDescriptor, Table
from shoal.engine.base import TableFormat
from shoal.errors import (
    InvalidInputError,
    UnsupportedSqlError,
)
from shoal.storage.base import parse_uri

# ---------------------------------------------------------------- write options


@dataclass(frozen=True)
class _OutputFormat:
    """One writable format: its catalog classification, file extension, codecs (the
    first is Athena's default), and whether it compresses inside the file."""

    classification: str
    extension: str
    compressions: tuple[str, ...]
    internal: bool = False


_FORMATS: dict[str, _OutputFormat] = {
    "parquet": _OutputFormat("parquet", "parquet", ("gzip", "snappy", "zstd", "none"), True),
    "orc": _OutputFormat("orc", "orc", ("zlib", "snappy", "zstd", "lz4", "none"), True),
    "avro": _OutputFormat("avro", "avro", ("deflate", "zstd", "none"), True),
    "json": _OutputFormat("json", "json", ("gzip", "zstd", "none")),
    "textfile": _OutputFormat("csv", "txt", ("gzip", "zstd", "none")),
}
MAX_BUCKETS = 100_000  # the catalog's bound (catalog/store.py)
_CODEC_EXTENSIONS = {"gzip": ".gz", "zstd": ".zst"}
_PROPERTY_ALIASES = {
    "compression": "write_compression",
    "parquet_compression": "write_compression",
    "location": "external_location",
}
_IGNORED_PROPERTIES = frozenset({"table_type", "compression_level"})


@dataclass(frozen=True)
class WriteOptions:
    """How CTAS / INSERT / UNLOAD write files: Athena's WITH properties, checked."""

    format: str = "parquet"
    compression: str = "gzip"
    partitioned_by: tuple[str, ...] = ()
    field_delimiter: str = "\x01"
    quote_char: str | None = None  # a character TEXTFILE values may not contain
    location: str | None = None
    with_data: bool = True
    bucketed_by: tuple[str, ...] = ()
    bucket_count: int = -1

    @classmethod
    def from_properties(cls, properties: exp.Expr | None, unload: bool = False) -> WriteOptions:
        """Options from a WITH (…) clause; unknown or unsupported properties fail."""
        values = _property_values(properties)
        fmt = str(values.pop("format", "parquet")).lower()
        if fmt not in _FORMATS:
            raise UnsupportedSqlError(
                f"not supported: format {fmt.upper()!r} (use PARQUET, ORC, AVRO, JSON or TEXTFILE)"
            )
        compression = str(values.pop("write_compression", _FORMATS[fmt].compressions[0])).lower()
        if compression not in _FORMATS[fmt].compressions:
            raise UnsupportedSqlError(
                f"not supported: compression {compression.upper()!r} for {fmt}"
            )
        partitioned = cast(list[str], values.pop("partitioned_by", []))
        delimiter = str(values.pop("field_delimiter", "\x01"))
        if len(delimiter) != 1 or delimiter in "\n\r":
            raise InvalidInputError("field_delimiter must be one character (not a line break)")
        location = values.pop("external_location", None)
        if str(values.pop("is_external", "true")).lower() != "true":
            # Athena: only Iceberg tables are managed (is_external = false).
            raise UnsupportedSqlError(
                "not supported: is_external = false (it is for Iceberg tables; "
                "shoal writes Hive tables, which are external)"
            )
        with_data = not values.pop("with_no_data", False)
        bucketed_by, bucket_count = _bucketing(values)
        if values:
            raise UnsupportedSqlError(f"not supported: property {sorted(values)[0]!r}")
        if location is not None:
            parse_uri(str(location))
        return cls(
            format=fmt,
            compression=compression,
            partitioned_by=tuple(str(p).lower() for p in partitioned),
            field_delimiter=delimiter,
            location=None if location is None else folder_of(str(location)),
            with_data=with_data or unload,
            bucketed_by=bucketed_by,
            bucket_count=bucket_count,
        )

    @classmethod
    def for_table(cls, table: Table, fmt: TableFormat) -> WriteOptions:
        """Options that write more files of an existing table (INSERT INTO)."""
        name = {"csv": "textfile"}.get(fmt.classification, fmt.classification)
        if name not in _FORMATS:
            raise UnsupportedSqlError(f"not supported: INSERT into {fmt.classification} tables")
        spec = _FORMATS[name]
        default = spec.compressions[0] if spec.internal else "none"
        compression = fmt.compression if fmt.compression in spec.compressions else default
        return cls(
            format=name,
            compression=compression,
            field_delimiter=fmt.delimiter,
            quote_char=fmt.quote_char,
            bucketed_by=table.storage.bucket_columns if table.storage.bucketed else (),
            bucket_count=table.storage.number_of_buckets if table.storage.bucketed else -1,
        )

    @property
    def file_suffix(self) -> str:
        """``.parquet``, ``.json.gz``, ``.txt`` …"""
        suffix = "." + _FORMATS[self.format].extension
        if not _FORMATS[self.format].internal:  # Parquet, ORC, Avro compress inside
            suffix += _CODEC_EXTENSIONS.get(self.compression, "")
        return suffix

    def _discovered(self) -> formats.DiscoveredFormat:
        text = self.format == "textfile"
        return formats.DiscoveredFormat(
            classification=_FORMATS[self.format].classification,
            compression="none" if _FORMATS[self.format].internal else self.compression,
            delimiter=self.field_delimiter if text else None,
        )

    def storage_descriptor(self, location: str, columns: Sequence[Column]) -> StorageDescriptor:
        """The table's StorageDescriptor, with the SerDe Athena gives this format."""
        sd = formats.storage_descriptor(self._discovered(), location, columns)
        if self.bucketed_by:
            sd = replace(sd, bucket_columns=self.bucketed_by, number_of_buckets=self.bucket_count)
        if self.format == "textfile":  # NULL is written as \N, Hive's default
            params = {**sd.serde.parameters, "serialization.null.format": "\\N"}
            sd = replace(sd, serde=replace(sd.serde, parameters=params))
        return sd

    def table_parameters(self) -> dict[str, str]:
        """Table parameters: the format's, plus the codec Athena records."""
        params = formats.format_parameters(self._discovered())
        params["write.compression"] = self.compression.upper()
        return params


def _bucketing(values: dict[str, object]) -> tuple[tuple[str, ...], int]:
    """``bucketed_by`` and ``bucket_count``, taken out of ``values``: both or neither."""
    columns = cast(list[str], values.pop("bucketed_by", []))
    count_text = values.pop("bucket_count", None)
    if not columns and count_text is None:
        return (), -1
    if not columns or count_text is None:
        raise InvalidInputError("bucketed_by and bucket_count must be given together")
    count = str(count_text)
    if not count.isdigit() or not 0 < int(count) <= MAX_BUCKETS:
        raise InvalidInputError(f"bucket_count must be between 1 and {MAX_BUCKETS}, not {count}")
    return tuple(str(c).lower() for c in columns), int(count)


def _property_values(properties: exp.Expr | None) -> dict[str, object]:
    values: dict[str, object] = {}
    for prop in properties.expressions if properties is not None else []:
        if isinstance(prop, exp.FileFormatProperty):
            values["format"] = prop.name or prop.this.name
        elif isinstance(prop, exp.PartitionedByProperty):
            values["partitioned_by"] = _names(prop.this)
        elif isinstance(prop, exp.WithDataProperty):
            values["with_no_data"] = bool(prop.args.get("no"))
        elif isinstance(prop, exp.Property):
            name = prop.name.lower()
            name = _PROPERTY_ALIASES.get(name, name)
            if name in _IGNORED_PROPERTIES:
                if name == "table_type" and prop.args["value"].name.upper() != "HIVE":
                    raise UnsupportedSqlError(
                        f"not supported: table_type {prop.args['value'].name}"
                    )
                continue
            value = prop.args["value"]
            if isinstance(value, exp.Array):
                values[name] = _names(value)
            elif isinstance(value, exp.Boolean):
                values[name] = "true" if value.this else "false"
            else:
                values[name] = value.name
        else:
            raise UnsupportedSqlError(f"not supported: {prop.sql(dialect='athena')}")
    return values


def _names(node: exp.Expr) -> list[str]:
    items = node.expressions if isinstance(node, (exp.Array, exp.Schema, exp.Tuple)) else [node]
    return [item.name for item in items]


def folder_of(location: str) -> str:
    """A location as a folder: ending in '/'."""
    return location if location.endswith("/") else location + "/"
