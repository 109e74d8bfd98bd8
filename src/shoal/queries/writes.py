"""CREATE TABLE AS SELECT, INSERT INTO and UNLOAD: run a query, write its rows as files.

The query runs on the locked-down engine like any SELECT (DuckDB never writes);
shoal writes the Arrow result with pyarrow through ``Storage.put``, so the same
code writes local folders and S3. Athena's rules, kept here:

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

from shoal.catalog.model import Partition, StorageDescriptor, Table
from shoal.engine.athena import DATA_CATALOG, TableRef, check_query, parse
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
    PreparedData,
    Written,
    conform,
    delete,
    hive_columns,
    prepare,
    write,
)
from shoal.queries.model import WRITING_DATA
from shoal.queries.planner import table_format
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
    result = runner.execute(plan, context)
    rows = result.table if options.with_data else result.table.slice(0, 0)
    data = prepare(rows, options.partitioned_by)
    context.cancel.enter(WRITING_DATA)
    written = write(
        runner.storage, data, options, location, context.query_id, cancel=context.cancel
    )
    try:
        _register(runner, ref, data, options, location, written)
    except BaseException:
        delete(runner.storage, written.files)
        raise
    return _written_outcome(
        "CREATE_TABLE_AS_SELECT",
        rows.num_rows,
        result.bytes_scanned,
        accesses,
        written,
        planning_ms,
        start,
    )


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
    data: PreparedData,
    options: WriteOptions,
    location: str,
    written: Written,
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
        _add_partitions(runner, table, written)
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
    result = runner.execute(plan, context)
    names = [i.name for i in tree.this.expressions] if isinstance(tree.this, exp.Schema) else None
    rows = conform(result.table, table, names)
    options = WriteOptions.for_table(table, table_format(table))
    data = prepare(rows, tuple(k.name for k in table.partition_keys))
    existing = _existing_partitions(runner, table)
    context.cancel.enter(WRITING_DATA)
    written = write(
        runner.storage, data, options, location, context.query_id, existing, context.cancel
    )
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
    return _written_outcome(
        "INSERT", rows.num_rows, result.bytes_scanned, accesses, written, planning_ms, start
    )


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
    result = runner.execute(plan, context)
    data = prepare(result.table, statement.options.partitioned_by)
    context.cancel.enter(WRITING_DATA)
    written = write(
        runner.storage,
        data,
        statement.options,
        statement.location,
        context.query_id,
        cancel=context.cancel,
    )
    return _written_outcome(
        "UNLOAD", result.table.num_rows, result.bytes_scanned, accesses, written, planning_ms, start
    )


def _written_outcome(
    kind: str,
    rows: int,
    bytes_scanned: int,
    accesses: tuple[Access, ...],
    written: Written,
    planning_ms: float,
    start: float,
) -> StatementOutcome:
    """What CTAS, INSERT and UNLOAD answer: the row count written (UpdateCount), and
    the files. As in Athena, the result has a ``rows`` column but no data row."""
    return outcome(
        kind,
        pa.table({"rows": pa.array([], pa.int64())}),
        bytes_scanned=bytes_scanned,
        accesses=accesses,
        data_files=written.files,
        update_count=rows,
        planning_ms=planning_ms,
        engine_ms=elapsed_ms(start),
    )
