"""CREATE TABLE AS SELECT, INSERT INTO and UNLOAD: run a query, write its rows as files.

The query runs on the locked-down engine like any SELECT (DuckDB never writes);
shoal writes the Arrow result with pyarrow through ``Storage.put``, so the same
code writes local folders and S3. Athena's rules, kept here:

* ``format`` PARQUET (default), JSON or TEXTFILE; ``write_compression`` GZIP
  (default), SNAPPY (Parquet), ZSTD or NONE; ``field_delimiter`` for TEXTFILE
  (default ``\\001``, NULL written as ``\\N``).
* ``partitioned_by`` columns are the last columns of the SELECT, in order; one
  folder ``col=value/`` per partition (values escaped as Hive escapes them, so no
  value can leave the location); at most 100 partitions per statement.
* CTAS and UNLOAD write only into an empty location (``HIVE_PATH_ALREADY_EXISTS``);
  without ``external_location`` a CTAS table goes to ``<output>/tables/<query_id>/``.
* A failure after files were written deletes them and any half-registered table.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot
import zstandard
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from shoal.catalog import formats
from shoal.catalog.model import Column, Partition, StorageDescriptor, Table
from shoal.engine.base import TableFormat
from shoal.engine.dialect import DATA_CATALOG, TableRef, check_query, parse
from shoal.engine.scans import HIVE_NULL_PARTITION
from shoal.errors import (
    AlreadyExistsError,
    EntityNotFoundError,
    InvalidInputError,
    SqlSyntaxError,
    TargetNotEmptyError,
    UnsupportedSqlError,
)
from shoal.queries.classify import strip_comments
from shoal.queries.planner import table_format
from shoal.queries.runner import (
    LocationAccess,
    StatementContext,
    StatementOutcome,
    StatementRunner,
    elapsed_ms,
    outcome,
    table_write,
)
from shoal.queries.select import check_parameters
from shoal.storage.base import Storage, parse_uri

__all__ = ["hive_columns", "parse_statement", "run_ctas", "run_insert", "run_unload"]

_Node = TypeVar("_Node", bound=exp.Expr)
_UNLOAD_RE = re.compile(r"^\s*unload\b", re.IGNORECASE)
MAX_PARTITIONS = 100  # Athena's limit per CTAS / INSERT / UNLOAD


# ---------------------------------------------------------------- parsing helpers


def parse_statement(sql: str, kind: type[_Node]) -> _Node:
    """Parse one Athena statement that must be a ``kind`` node."""
    try:
        tree = sqlglot.parse_one(sql, read="athena")
    except (ParseError, TokenError) as err:
        raise SqlSyntaxError(f"cannot parse the statement: {str(err).splitlines()[0]}") from None
    if not isinstance(tree, kind):
        raise UnsupportedSqlError(f"not supported: {sql.split(None, 3)[:3]}")
    return tree


def statement_sql(tree: exp.Expr) -> str:
    """Athena SQL text of a parsed query."""
    return tree.sql(dialect="athena")


def target_ref(node: exp.Expr | None, context: StatementContext) -> TableRef:
    """The table a statement creates or writes, with the context's default database."""
    if isinstance(node, exp.Schema):
        node = node.this
    if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
        raise InvalidInputError("the statement names no table")
    catalog = node.args.get("catalog")
    if catalog is not None and catalog.name.lower() != DATA_CATALOG:
        raise UnsupportedSqlError(f"not supported: catalog {catalog.name!r}")
    database = node.args["db"].name if node.args.get("db") else context.database
    return TableRef(database.lower(), node.name.lower())


def _query_of(node: exp.Expr) -> exp.Expr:
    """The query of a CTAS/INSERT/UNLOAD, checked like any query; VALUES becomes a SELECT."""
    if isinstance(node, exp.Subquery) and not node.alias:
        node = node.this
    if isinstance(node, exp.Values):
        node = exp.select(exp.Star()).from_(node.copy())
    return check_query(node)


# ---------------------------------------------------------------- CTAS


def run_ctas(runner: StatementRunner, sql: str, context: StatementContext) -> StatementOutcome:
    """CREATE TABLE … WITH (…) AS SELECT: write the rows, then register the table."""
    start = time.perf_counter()
    tree = parse_statement(sql, exp.Create)
    ref = target_ref(tree.this, context)
    options = WriteOptions.from_properties(tree.args.get("properties"))
    if _exists(runner, ref):
        if tree.args.get("exists"):
            return outcome("CREATE_TABLE_AS_SELECT", pa.table({}), update_count=0)
        raise AlreadyExistsError(
            f"Table '{DATA_CATALOG}.{ref.database}.{ref.table}' already exists"
        )
    location = options.location or _default_location(context)
    query = _query_of(tree.expression)
    check_parameters(query, context)
    plan, accesses = runner.plan_query(
        query, context, writes=[table_write(ref), LocationAccess(location)]
    )
    _require_empty(runner, location)
    planning_ms = elapsed_ms(start)
    start = time.perf_counter()
    result = runner.execute(plan, context)
    rows = result.table if options.with_data else result.table.slice(0, 0)
    data = prepare(rows, options.partitioned_by)
    written = write(runner.storage, data, options, location, context.query_id)
    try:
        _register(runner, ref, data, options, location, written)
    except BaseException:
        delete(runner.storage, written.files)
        raise
    return outcome(
        "CREATE_TABLE_AS_SELECT",
        pa.table({"rows": pa.array([rows.num_rows], pa.int64())}),
        bytes_scanned=result.bytes_scanned,
        accesses=accesses,
        data_files=written.files,
        update_count=rows.num_rows,
        planning_ms=planning_ms,
        engine_ms=elapsed_ms(start),
    )


def _exists(runner: StatementRunner, ref: TableRef) -> bool:
    try:
        runner.catalog.get_table(ref.database, ref.table)
    except EntityNotFoundError:
        runner.catalog.get_database(ref.database)  # an unknown database is an error
        return False
    return True


def _default_location(context: StatementContext) -> str:
    if not context.output_location:
        raise InvalidInputError(
            "CREATE TABLE AS SELECT needs external_location or a query output location"
        )
    return f"{context.output_location.rstrip('/')}/tables/{context.query_id}/"


def _require_empty(runner: StatementRunner, location: str) -> None:
    bucket, prefix = parse_uri(_folder(location))
    if runner.storage.list(bucket, prefix, max_keys=1).objects:
        raise TargetNotEmptyError(
            f"HIVE_PATH_ALREADY_EXISTS: Target directory for table or unload already exists: "
            f"{location}. You may need to manually clean the data at location before retrying."
        )


def _folder(location: str) -> str:
    return location if location.endswith("/") else location + "/"


def _register(
    runner: StatementRunner,
    ref: TableRef,
    data: PreparedData,
    options: WriteOptions,
    location: str,
    written: Written,
) -> None:
    """Create the table and its partitions; all or nothing."""
    table = Table(
        database=ref.database,
        name=ref.table,
        storage=options.storage_descriptor(_folder(location), data.columns),
        partition_keys=data.partition_keys,
        parameters=options.table_parameters(),
    )
    runner.catalog.create_table(table)
    try:
        _add_partitions(runner, table, written)
    except BaseException:
        runner.catalog.delete_table(ref.database, ref.table)
        raise


def _add_partitions(runner: StatementRunner, table: Table, written: Written) -> None:
    new = [
        Partition(table.database, table.name, values, _partition_storage(table, folder))
        for values, folder in written.partitions.items()
    ]
    if new:
        runner.catalog.create_partitions(new)


def _partition_storage(table: Table, folder: str) -> StorageDescriptor:
    return replace(table.storage, location=folder)


# ---------------------------------------------------------------- INSERT INTO


def run_insert(runner: StatementRunner, sql: str, context: StatementContext) -> StatementOutcome:
    """INSERT INTO db.t [(cols)] SELECT …: new files in the table's format and folders."""
    start = time.perf_counter()
    tree = parse_statement(sql, exp.Insert)
    ref = target_ref(tree.this, context)
    table = runner.planner.get_table(ref, tree.this)
    if table.table_type != "EXTERNAL_TABLE" and table.view_original_text:
        raise InvalidInputError(f"cannot insert into view {ref.database}.{ref.table}")
    query = _query_of(tree.expression)
    check_parameters(query, context)
    location = _folder(table.storage.location)
    plan, accesses = runner.plan_query(
        query, context, writes=[table_write(ref), LocationAccess(location)]
    )
    planning_ms = elapsed_ms(start)
    start = time.perf_counter()
    result = runner.execute(plan, context)
    names = [i.name for i in tree.this.expressions] if isinstance(tree.this, exp.Schema) else None
    rows = conform(result.table, table, names)
    options = WriteOptions.for_table(table, table_format(table))
    data = prepare(rows, tuple(k.name for k in table.partition_keys))
    existing = _existing_partitions(runner, table)
    written = write(runner.storage, data, options, location, context.query_id, existing)
    try:
        _add_partitions(
            runner,
            table,
            Written(
                written.files, {v: f for v, f in written.partitions.items() if v not in existing}
            ),
        )
    except BaseException:
        delete(runner.storage, written.files)
        raise
    return outcome(
        "INSERT",
        pa.table({"rows": pa.array([rows.num_rows], pa.int64())}),
        bytes_scanned=result.bytes_scanned,
        accesses=accesses,
        data_files=written.files,
        update_count=rows.num_rows,
        planning_ms=planning_ms,
        engine_ms=elapsed_ms(start),
    )


def _existing_partitions(runner: StatementRunner, table: Table) -> dict[tuple[str, ...], str]:
    if not table.partition_keys:
        return {}
    return {
        p.values: _folder(p.storage.location)
        for p in runner.catalog.list_partitions(table.database, table.name)
    }


# ---------------------------------------------------------------- UNLOAD


@dataclass(frozen=True)
class UnloadStatement:
    """``UNLOAD (query) TO 'location' WITH (…)`` taken apart."""

    query: str
    location: str
    options: WriteOptions


def parse_unload(sql: str) -> UnloadStatement:
    """Split UNLOAD with sqlglot's tokenizer (it has no UNLOAD grammar)."""
    usage = "expected UNLOAD (query) TO 's3://…' [WITH (…)]"
    head = _UNLOAD_RE.match(strip_comments(sql))
    if head is None:
        raise SqlSyntaxError(usage)
    text = strip_comments(sql)[head.end() :]
    tokens = sqlglot.Dialect.get_or_raise("athena").tokenize(text)
    close = _closing_paren(tokens)
    rest = tokens[close + 1 :]
    if len(rest) < 2 or rest[0].text.upper() != "TO" or rest[1].token_type != TokenType.STRING:
        raise SqlSyntaxError(usage)
    properties = None
    if len(rest) > 2:
        if rest[2].text.upper() != "WITH":
            raise SqlSyntaxError(f"unexpected {rest[2].text!r} after the UNLOAD location")
        # Reuse sqlglot's WITH (…) grammar by parsing it as a CTAS property list.
        with_text = text[rest[2].start : tokens[-1].end + 1]
        holder = parse_statement(f"CREATE TABLE __unload {with_text} AS SELECT 1", exp.Create)
        properties = holder.args.get("properties")
    options = WriteOptions.from_properties(properties, unload=True)
    return UnloadStatement(text[tokens[0].end + 1 : tokens[close].start], rest[1].text, options)


def _closing_paren(tokens: Sequence[Token]) -> int:
    if not tokens or tokens[0].token_type != TokenType.L_PAREN:
        raise SqlSyntaxError("expected '(' after UNLOAD")
    depth = 0
    for index, token in enumerate(tokens):
        depth += token.token_type == TokenType.L_PAREN
        depth -= token.token_type == TokenType.R_PAREN
        if depth == 0:
            return index
    raise SqlSyntaxError("UNLOAD: the query's parenthesis is never closed")


def run_unload(runner: StatementRunner, sql: str, context: StatementContext) -> StatementOutcome:
    """UNLOAD: write the query's rows as files; nothing is catalogued."""
    start = time.perf_counter()
    statement = parse_unload(sql)
    query = parse(statement.query)
    check_parameters(query, context)
    plan, accesses = runner.plan_query(query, context, writes=[LocationAccess(statement.location)])
    _require_empty(runner, statement.location)
    planning_ms = elapsed_ms(start)
    start = time.perf_counter()
    result = runner.execute(plan, context)
    data = prepare(result.table, statement.options.partitioned_by)
    written = write(runner.storage, data, statement.options, statement.location, context.query_id)
    return outcome(
        "UNLOAD",
        pa.table({"rows": pa.array([result.table.num_rows], pa.int64())}),
        bytes_scanned=result.bytes_scanned,
        accesses=accesses,
        data_files=written.files,
        update_count=result.table.num_rows,
        planning_ms=planning_ms,
        engine_ms=elapsed_ms(start),
    )


# ---------------------------------------------------------------- write options


@dataclass(frozen=True)
class _OutputFormat:
    """One writable format: its catalog classification, file extension, codecs."""

    classification: str
    extension: str
    compressions: frozenset[str]


_FORMATS: dict[str, _OutputFormat] = {
    "parquet": _OutputFormat("parquet", "parquet", frozenset({"gzip", "snappy", "zstd", "none"})),
    "json": _OutputFormat("json", "json", frozenset({"gzip", "zstd", "none"})),
    "textfile": _OutputFormat("csv", "txt", frozenset({"gzip", "zstd", "none"})),
}
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

    @classmethod
    def from_properties(cls, properties: exp.Expr | None, unload: bool = False) -> WriteOptions:
        """Options from a WITH (…) clause; unknown or unsupported properties fail."""
        values = _property_values(properties)
        fmt = str(values.pop("format", "parquet")).lower()
        if fmt not in _FORMATS:
            raise UnsupportedSqlError(
                f"not supported: format {fmt.upper()!r} (use PARQUET, JSON or TEXTFILE)"
            )
        compression = str(values.pop("write_compression", "gzip")).lower()
        if compression not in _FORMATS[fmt].compressions:
            raise UnsupportedSqlError(
                f"not supported: compression {compression.upper()!r} for {fmt}"
            )
        partitioned = cast(list[str], values.pop("partitioned_by", []))
        delimiter = str(values.pop("field_delimiter", "\x01"))
        if len(delimiter) != 1 or delimiter in "\n\r":
            raise InvalidInputError("field_delimiter must be one character (not a line break)")
        location = values.pop("external_location", None)
        with_data = not values.pop("with_no_data", False)
        if values:
            raise UnsupportedSqlError(f"not supported: property {sorted(values)[0]!r}")
        if location is not None:
            parse_uri(str(location))
        return cls(
            format=fmt,
            compression=compression,
            partitioned_by=tuple(str(p).lower() for p in partitioned),
            field_delimiter=delimiter,
            location=None if location is None else _folder(str(location)),
            with_data=with_data or unload,
        )

    @classmethod
    def for_table(cls, table: Table, fmt: TableFormat) -> WriteOptions:
        """Options that write more files of an existing table (INSERT INTO)."""
        name = {"parquet": "parquet", "json": "json", "csv": "textfile"}.get(fmt.classification)
        if name is None:
            raise UnsupportedSqlError(f"not supported: INSERT into {fmt.classification} tables")
        default = "gzip" if name == "parquet" else "none"
        compression = fmt.compression if fmt.compression in ("gzip", "zstd") else default
        return cls(
            format=name,
            compression=compression,
            field_delimiter=fmt.delimiter,
            quote_char=fmt.quote_char,
        )

    @property
    def file_suffix(self) -> str:
        """``.parquet``, ``.json.gz``, ``.txt`` …"""
        suffix = "." + _FORMATS[self.format].extension
        if self.format != "parquet":  # Parquet compresses inside the file
            suffix += _CODEC_EXTENSIONS.get(self.compression, "")
        return suffix

    def _discovered(self) -> formats.DiscoveredFormat:
        text = self.format == "textfile"
        return formats.DiscoveredFormat(
            classification=_FORMATS[self.format].classification,
            compression="none" if self.format == "parquet" else self.compression,
            delimiter=self.field_delimiter if text else None,
        )

    def storage_descriptor(self, location: str, columns: Sequence[Column]) -> StorageDescriptor:
        """The table's StorageDescriptor, with the SerDe Athena gives this format."""
        sd = formats.storage_descriptor(self._discovered(), location, columns)
        if self.format == "textfile":  # NULL is written as \N, Hive's default
            params = {**sd.serde.parameters, "serialization.null.format": "\\N"}
            sd = replace(sd, serde=replace(sd.serde, parameters=params))
        return sd

    def table_parameters(self) -> dict[str, str]:
        """Table parameters: the format's, plus the codec Athena records."""
        params = formats.format_parameters(self._discovered())
        params["write.compression"] = self.compression.upper()
        return params


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
            values[name] = _names(value) if isinstance(value, exp.Array) else value.name
        else:
            raise UnsupportedSqlError(f"not supported: {prop.sql(dialect='athena')}")
    return values


def _names(node: exp.Expr) -> list[str]:
    items = node.expressions if isinstance(node, (exp.Array, exp.Schema, exp.Tuple)) else [node]
    return [item.name for item in items]


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
    wanted = [n.lower() for n in names] if names else [c.name.lower() for c in target]
    if result.num_columns != len(wanted):
        raise InvalidInputError(
            f"Insert query has mismatched column count: {len(wanted)} columns expected, "
            f"the query has {result.num_columns}"
        )
    unknown = set(wanted) - {c.name.lower() for c in target}
    if unknown:
        raise InvalidInputError(
            f"Insert column name does not exist in target table: {sorted(unknown)[0]}"
        )
    given = dict(zip(wanted, result.columns, strict=True))
    arrays = []
    for column in target:
        arrow = _arrow_type(column.type)
        value = given.get(column.name.lower())
        if value is None:
            arrays.append(pa.nulls(result.num_rows, arrow or pa.string()))
            continue
        try:
            arrays.append(value.cast(arrow) if arrow is not None else value)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidInputError(
                f"Insert query has mismatched column types: cannot store {value.type} "
                f"in {column.name} ({column.type})"
            ) from None
    return pa.table(arrays, names=[c.name.lower() for c in target])


def write(
    storage: Storage,
    data: PreparedData,
    options: WriteOptions,
    location: str,
    query_id: str,
    folders: dict[tuple[str, ...], str] | None = None,
) -> Written:
    """Write one file per partition (or one for all rows); on failure, delete them all.

    ``folders`` names existing partitions' folders (INSERT appends into them).
    """
    groups = _partition_groups(data)
    files: list[str] = []
    written: dict[tuple[str, ...], str] = {}
    try:
        for index, (values, rows) in enumerate(groups):
            folder = (folders or {}).get(values) or _folder(location) + _partition_path(
                data.partition_keys, values
            )
            uri = f"{folder}{query_id}_{index}{options.file_suffix}"
            bucket, key = parse_uri(uri)
            storage.put(bucket, key, serialize(rows, options))
            files.append(uri)
            if data.partition_keys:
                written[values] = folder
    except BaseException:
        delete(storage, files)
        raise
    return Written(tuple(files), written)


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
    text = _json_lines(table) if options.format == "json" else _text_lines(table, options)
    return _compress(text.encode("utf-8"), options.compression)


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
