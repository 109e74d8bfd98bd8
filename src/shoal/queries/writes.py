"""CREATE TABLE AS SELECT, INSERT INTO and UNLOAD: run a query, write its rows as files.

Parsing, the WITH options, permissions, the empty-target check, the table's and
partitions' registration and the outcome are done here once, whoever writes the
files. Who writes them is the engine's declaration (``Capabilities.writes``):

* an engine that writes the target's format and codec itself (Spark: Parquet, ORC,
  JSON, TEXTFILE; not bucketed) is given the query and a ``WriteTarget`` and writes
  the rows where they are (``Engine.write``); the rows never reach shoal;
* otherwise (DuckDB, which is locked down and never writes; Avro; bucketed tables)
  the query runs like any SELECT and shoal writes the Arrow result with pyarrow
  through ``Storage.put`` (``data_files.write``), so the same code writes local
  folders and S3.

Athena's rules, kept by both:

* ``format`` PARQUET (default), ORC, AVRO, JSON or TEXTFILE; ``write_compression``
  GZIP (default), SNAPPY (Parquet), ZSTD or NONE; for ORC ZLIB (default), SNAPPY,
  ZSTD, LZ4 or NONE; for Avro DEFLATE (default), ZSTD or NONE; ``field_delimiter`` for TEXTFILE
  (default ``\\001``, NULL written as ``\\N``).
* ``bucketed_by`` / ``bucket_count``: per partition, one file per bucket with rows,
  by Hive's hash (``bucketing.py``); INSERT adds to a bucketed table only new
  partitions, as Trino does.
* ``partitioned_by`` columns are the last columns of the SELECT, in order; one
  folder ``col=value/`` per partition (values escaped as Hive escapes them, so no
  value can leave the location); at most 100 partitions per statement.
* CTAS and UNLOAD write only into an empty location (``HIVE_PATH_ALREADY_EXISTS``);
  without ``external_location`` a CTAS table goes to ``<output>/tables/<query_id>/``.
* A failure after files were written deletes them and any half-registered table.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from shoal.catalog.model import Column, Partition, StorageDescriptor, Table
from shoal.engine.athena import DATA_CATALOG, TableRef, check_query, parse
from shoal.engine.base import Engine, ResolvedQuery, WriteTarget
from shoal.errors import (
    AlreadyExistsError,
    EntityNotFoundError,
    InvalidInputError,
    SqlSyntaxError,
    TargetNotEmptyError,
    UnsupportedSqlError,
)
from shoal.queries.classify import strip_comments
from shoal.queries.context import (
    Access,
    LocationAccess,
    StatementContext,
    StatementOutcome,
    elapsed_ms,
    outcome,
    table_write,
)
from shoal.queries.data_files import (
    MAX_PARTITIONS,
    Written,
    conform,
    delete,
    hive_columns,
    insert_sources,
    prepare,
    write,
)
from shoal.queries.model import WRITING_DATA
from shoal.queries.planner import QueryPlan, table_format
from shoal.queries.select import check_parameters
from shoal.queries.tools import StatementTools
from shoal.queries.write_options import WriteOptions, folder_of
from shoal.storage.base import parse_uri

__all__ = ["hive_columns", "parse_statement", "run_ctas", "run_insert", "run_unload"]

_Node = TypeVar("_Node", bound=exp.Expr)
_UNLOAD_RE = re.compile(r"^\s*unload\b", re.IGNORECASE)


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


def run_ctas(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
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
    done = _write_query(runner, plan, context, options, location, options.with_data)
    try:
        _register(runner, ref, done, options, location)
    except BaseException:
        delete(runner.storage, done.written.files)
        raise
    return _written_outcome("CREATE_TABLE_AS_SELECT", done, accesses, planning_ms, start)


def _exists(runner: StatementTools, ref: TableRef) -> bool:
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


def _require_empty(runner: StatementTools, location: str) -> None:
    bucket, prefix = parse_uri(folder_of(location))
    if runner.storage.list(bucket, prefix, max_keys=1).objects:
        raise TargetNotEmptyError(
            f"HIVE_PATH_ALREADY_EXISTS: Target directory for table or unload already exists: "
            f"{location}. You may need to manually clean the data at location before retrying."
        )


def _register(
    runner: StatementTools,
    ref: TableRef,
    data: _Rows,
    options: WriteOptions,
    location: str,
) -> None:
    """Create the table and its partitions; all or nothing."""
    table = Table(
        database=ref.database,
        name=ref.table,
        storage=options.storage_descriptor(folder_of(location), data.columns),
        partition_keys=data.partition_keys,
        parameters=options.table_parameters(),
    )
    runner.catalog.create_table(table)
    try:
        _add_partitions(runner, table, data.written)
    except BaseException:
        runner.catalog.delete_table(ref.database, ref.table)
        raise


def _add_partitions(runner: StatementTools, table: Table, written: Written) -> None:
    new = [
        Partition(table.database, table.name, values, _partition_storage(table, folder))
        for values, folder in written.partitions.items()
    ]
    if new:
        runner.catalog.create_partitions(new)


def _partition_storage(table: Table, folder: str) -> StorageDescriptor:
    return replace(table.storage, location=folder)


# ---------------------------------------------------------------- INSERT INTO


def run_insert(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """INSERT INTO db.t [(cols)] SELECT …: new files in the table's format and folders."""
    start = time.perf_counter()
    tree = parse_statement(sql, exp.Insert)
    ref = target_ref(tree.this, context)
    table = runner.planner.get_table(ref, tree.this)
    if table.table_type != "EXTERNAL_TABLE" and table.view_original_text:
        raise InvalidInputError(f"cannot insert into view {ref.database}.{ref.table}")
    query = _query_of(tree.expression)
    check_parameters(query, context)
    location = folder_of(table.storage.location)
    plan, accesses = runner.plan_query(
        query, context, writes=[table_write(ref), LocationAccess(location)]
    )
    planning_ms = elapsed_ms(start)
    start = time.perf_counter()
    names = [i.name for i in tree.this.expressions] if isinstance(tree.this, exp.Schema) else None
    options = WriteOptions.for_table(table, table_format(table))
    existing = _existing_partitions(runner, table)
    done = _insert_rows(runner, plan, context, table, names, options, existing)
    try:
        new = {v: f for v, f in done.written.partitions.items() if v not in existing}
        _add_partitions(runner, table, Written(done.written.files, new))
    except BaseException:
        delete(runner.storage, done.written.files)
        raise
    return _written_outcome("INSERT", done, accesses, planning_ms, start)


def _insert_rows(
    runner: StatementTools,
    plan: QueryPlan,
    context: StatementContext,
    table: Table,
    names: Sequence[str] | None,
    options: WriteOptions,
    existing: dict[tuple[str, ...], str],
) -> _Rows:
    """INSERT's rows written into ``table``'s folders: by the engine when it writes
    the table's format itself, else by shoal from the query's Arrow rows."""
    location = folder_of(table.storage.location)
    keys = tuple(k.name for k in table.partition_keys)
    engine = runner.route(plan, context)
    if _engine_writes(engine, options):
        query = runner.resolved(plan, context)
        runner.admit(engine, query, context)
        count = len(engine.result_schema(query))
        columns = (*table.columns, *table.partition_keys)
        sources = insert_sources(count, table, names)
        target = _target(options, location, columns, sources, keys, context.query_id)
        target = replace(target, append=True, partition_folders=existing)
        return _engine_write(engine, query, target, context)
    result = runner.execute(plan, context, engine=engine)
    rows = conform(result.table, table, names)
    data = prepare(rows, keys)
    context.cancel.enter(WRITING_DATA)
    written = write(
        runner.storage, data, options, location, context.query_id, existing, context.cancel
    )
    return _Rows(data.columns, data.partition_keys, written, rows.num_rows, result.bytes_scanned)


def _existing_partitions(runner: StatementTools, table: Table) -> dict[tuple[str, ...], str]:
    if not table.partition_keys:
        return {}
    return {
        p.values: folder_of(p.storage.location)
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


def run_unload(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """UNLOAD: write the query's rows as files; nothing is catalogued."""
    start = time.perf_counter()
    statement = parse_unload(sql)
    query = parse(statement.query)
    check_parameters(query, context)
    plan, accesses = runner.plan_query(query, context, writes=[LocationAccess(statement.location)])
    _require_empty(runner, statement.location)
    planning_ms = elapsed_ms(start)
    start = time.perf_counter()
    done = _write_query(runner, plan, context, statement.options, statement.location)
    return _written_outcome("UNLOAD", done, accesses, planning_ms, start)


# ---------------------------------------------------------------- writing the rows


@dataclass(frozen=True)
class _Rows:
    """A statement's rows, written: the columns and partition keys they have as a
    table, the files and partition folders written, the rows and bytes scanned."""

    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    written: Written
    rows: int
    bytes_scanned: int


def _engine_writes(engine: Engine, options: WriteOptions) -> bool:
    """Whether the engine writes files of ``options``' format and codec itself."""
    bucketed = bool(options.bucketed_by)
    return engine.capabilities.writable(options.format, options.compression, bucketed)


def _write_query(
    runner: StatementTools,
    plan: QueryPlan,
    context: StatementContext,
    options: WriteOptions,
    location: str,
    with_data: bool = True,
) -> _Rows:
    """CTAS's and UNLOAD's rows written into the empty folder ``location``: by the
    engine when it writes ``options``' format itself, else by shoal from the query's
    Arrow rows. Without data only the columns are found (the engine runs nothing)."""
    engine = runner.route(plan, context)
    if _engine_writes(engine, options):
        query = runner.resolved(plan, context)
        runner.admit(engine, query, context)
        data = prepare(engine.result_schema(query).empty_table(), options.partitioned_by)
        if not with_data:
            return _Rows(data.columns, data.partition_keys, Written(()), 0, 0)
        columns = (*data.columns, *data.partition_keys)
        sources = tuple(range(len(columns)))
        keys = tuple(k.name for k in data.partition_keys)
        target = _target(options, location, columns, sources, keys, context.query_id)
        done = _engine_write(engine, query, target, context)
        return replace(done, columns=data.columns, partition_keys=data.partition_keys)
    result = runner.execute(plan, context, engine=engine)
    rows = result.table if with_data else result.table.slice(0, 0)
    data = prepare(rows, options.partitioned_by)
    context.cancel.enter(WRITING_DATA)
    written = write(
        runner.storage, data, options, location, context.query_id, cancel=context.cancel
    )
    return _Rows(data.columns, data.partition_keys, written, rows.num_rows, result.bytes_scanned)


def _target(
    options: WriteOptions,
    location: str,
    columns: tuple[Column, ...],
    sources: tuple[int | None, ...],
    keys: tuple[str, ...],
    query_id: str,
) -> WriteTarget:
    return WriteTarget(
        location=folder_of(location),
        columns=columns,
        sources=sources,
        query_id=query_id,
        format=options.format,
        compression=options.compression,
        partitioned_by=keys,
        field_delimiter=options.field_delimiter,
        quote_char=options.quote_char,
        bucketed_by=options.bucketed_by,
        bucket_count=options.bucket_count,
        max_partitions=MAX_PARTITIONS,
    )


def _engine_write(
    engine: Engine, query: ResolvedQuery, target: WriteTarget, context: StatementContext
) -> _Rows:
    result = engine.write(query, target, context.cancel)
    written = Written(tuple(result.files), dict(result.partitions))
    return _Rows((), (), written, result.rows, result.bytes_scanned)


def _written_outcome(
    kind: str,
    done: _Rows,
    accesses: tuple[Access, ...],
    planning_ms: float,
    start: float,
) -> StatementOutcome:
    """What CTAS, INSERT and UNLOAD answer: the row count written (UpdateCount), and
    the files. As in Athena, the result has a ``rows`` column but no data row."""
    return outcome(
        kind,
        pa.table({"rows": pa.array([], pa.int64())}),
        bytes_scanned=done.bytes_scanned,
        accesses=accesses,
        data_files=done.written.files,
        update_count=done.rows,
        planning_ms=planning_ms,
        engine_ms=elapsed_ms(start),
    )
