"""SHOW and DESCRIBE: what the catalog holds, in the shape Athena prints it.

Each handler parses its statement (``hive_ddl.Parser``), authorizes a read of what it
names, and answers with an Arrow table of strings whose column names are Athena's
(``tab_name``, ``database_name``, ``field``, ``partition``, ``createtab_stmt`` …).
Database-wide statements name the table ``"*"`` in their ``TableAccess``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import pyarrow as pa

from shoal.catalog.model import (
    TABLE_TYPE_VIEW,
    Column,
    Partition,
    SortColumn,
    StorageDescriptor,
    Table,
)
from shoal.catalog.names import validate_name
from shoal.errors import EntityNotFoundError, InvalidInputError
from shoal.queries.classify import STATEMENT_TYPES
from shoal.queries.context import StatementContext, StatementOutcome, TableAccess
from shoal.queries.hive_ddl import Parser, TableName
from shoal.queries.planner import view_definition
from shoal.queries.tools import Handler, StatementTools

ALL_TABLES = "*"  # the table of a TableAccess that covers a whole database
# Hive's FileUtils.escapePathName: characters a partition folder name spells as %XX.
_PATH_ESCAPED = frozenset("\"#%'*/:=?\\\x7f{[]^") | frozenset(chr(c) for c in range(1, 32))


# --- results shared with ddl.py ----------------------------------------------------------------


def columns_table(names: Sequence[str], rows: Iterable[Sequence[str | None]]) -> pa.Table:
    """An Arrow table of string columns ``names`` holding ``rows``."""
    data = list(rows)
    arrays = [pa.array([row[i] for row in data], pa.string()) for i in range(len(names))]
    return pa.Table.from_arrays(arrays, names=list(names))


def lines_table(name: str, values: Iterable[str]) -> pa.Table:
    """A one-column Arrow table of strings."""
    return columns_table([name], ([v] for v in values))


def outcome(kind: str, rows: pa.Table | None, accesses: Sequence[TableAccess]) -> StatementOutcome:
    """The outcome of a statement of ``kind``; DDL without output has no rows."""
    return StatementOutcome(
        statement_type=STATEMENT_TYPES[kind],
        substatement_type=kind,
        rows=rows if rows is not None else pa.table({}),
        accesses=tuple(accesses),
    )


def authorize(context: StatementContext, accesses: Sequence[TableAccess]) -> None:
    """Let the caller refuse before anything is read or changed."""
    if context.authorize is not None:
        context.authorize(accesses)


def partition_name(keys: Sequence[Column], values: Sequence[str]) -> str:
    """Hive's partition name, ``year=2024/month=01``, values escaped as in folder names."""
    return "/".join(f"{k.name}={escape_path(v)}" for k, v in zip(keys, values, strict=True))


def escape_path(value: str) -> str:
    """Hive's escaping of a partition value in a folder name (``/`` -> ``%2F``)."""
    return "".join(f"%{ord(c):02X}" if c in _PATH_ESCAPED else c for c in value)


def hive_pattern(pattern: str) -> re.Pattern[str]:
    """A Hive SHOW pattern: ``*`` matches anything, ``|`` separates alternatives,
    everything else is literal; matching ignores case."""
    alternatives = [
        ".*".join(re.escape(part) for part in alt.strip().split("*")) for alt in pattern.split("|")
    ]
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


def _resolve(name: TableName, context: StatementContext) -> tuple[str, str]:
    return name.resolve(context.database)


def _read(context: StatementContext, database: str, table: str) -> list[TableAccess]:
    accesses = [TableAccess(database, table, "read")]
    authorize(context, accesses)
    return accesses


# --- SHOW DATABASES / TABLES / VIEWS -----------------------------------------------------------


def show_databases(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``SHOW DATABASES|SCHEMAS [[LIKE] 'pattern']`` -> ``database_name``."""
    p = Parser(sql)
    p.expect("SHOW")
    if not p.accept("DATABASES"):
        p.expect("SCHEMAS")
    pattern = _optional_pattern(p)
    p.end()
    authorize(context, [])
    databases = runner.catalog.list_databases()
    if context.visible is not None:
        databases = context.visible.databases(databases)
    names = [d.name for d in databases]
    return outcome("SHOW_DATABASES", lines_table("database_name", _matching(names, pattern)), [])


def show_tables(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``SHOW TABLES [IN db] [[LIKE] 'pattern']`` -> ``tab_name`` (views included, as Hive)."""
    return _list_tables(runner, sql, context, "TABLES", lambda t: True)


def show_views(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``SHOW VIEWS [IN db] [[LIKE] 'pattern']`` -> ``tab_name``."""
    return _list_tables(runner, sql, context, "VIEWS", lambda t: t.table_type == TABLE_TYPE_VIEW)


def _list_tables(
    runner: StatementTools,
    sql: str,
    context: StatementContext,
    what: str,
    keep: Callable[[Table], bool],
) -> StatementOutcome:
    p = Parser(sql)
    p.expect("SHOW", what)
    database = context.database
    if p.accept("IN") or p.accept("FROM"):
        database = p.identifier("a database name")
    pattern = _optional_pattern(p)
    p.end()
    database = validate_name(database, "database name")
    accesses = _read(context, database, ALL_TABLES)
    tables = [t for t in runner.catalog.list_tables(database) if keep(t)]
    if context.visible is not None:
        tables = context.visible.tables(tables)
    names = [t.name for t in tables]
    kind = f"SHOW_{what}"
    return outcome(kind, lines_table("tab_name", _matching(names, pattern)), accesses)


def _optional_pattern(p: Parser) -> str | None:
    if p.accept("LIKE"):
        return p.string("a pattern")
    return p.string("a pattern") if p.peek().kind == "string" else None


def _matching(names: Iterable[str], pattern: str | None) -> list[str]:
    matcher = hive_pattern(pattern) if pattern is not None else None
    return sorted(n for n in names if matcher is None or matcher.fullmatch(n))


# --- statements about one table ----------------------------------------------------------------


def _one_table(
    runner: StatementTools, context: StatementContext, name: TableName
) -> tuple[Table, list[TableAccess]]:
    database, table = _resolve(name, context)
    accesses = _read(context, database, table)
    return runner.catalog.get_table(database, table), accesses


def show_columns(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``SHOW COLUMNS {IN|FROM} t [{IN|FROM} db]`` -> ``field``, partition keys last."""
    p = Parser(sql)
    p.expect("SHOW", "COLUMNS")
    if not p.accept("IN"):
        p.expect("FROM")
    name = p.table_name()
    if p.accept("IN") or p.accept("FROM"):
        if name.database is not None:
            raise p.error("the database is given twice")
        name = TableName(p.identifier("a database name"), name.name)
    p.end()
    table, accesses = _one_table(runner, context, name)
    # Hive pads each name to 20 characters, and Athena passes that on.
    fields = [c.name.ljust(20) for c in (*table.columns, *table.partition_keys)]
    return outcome("SHOW_COLUMNS", lines_table("field", fields), accesses)


def show_partitions(
    runner: StatementTools, sql: str, context: StatementContext
) -> StatementOutcome:
    """``SHOW PARTITIONS t`` -> ``partition`` (``year=2024/month=01``) in value order."""
    p = Parser(sql)
    p.expect("SHOW", "PARTITIONS")
    name = p.table_name()
    if p.at("PARTITION"):
        raise p.unsupported("SHOW PARTITIONS … PARTITION (…)")
    p.end()
    table, accesses = _one_table(runner, context, name)
    if not table.partition_keys:
        raise InvalidInputError(f"Table {table.database}.{table.name} is not a partitioned table")
    found: list[Partition] = runner.catalog.list_partitions(table.database, table.name)
    rows = [partition_name(table.partition_keys, part.values) for part in found]
    return outcome("SHOW_PARTITIONS", lines_table("partition", rows), accesses)


def show_tblproperties(
    runner: StatementTools, sql: str, context: StatementContext
) -> StatementOutcome:
    """``SHOW TBLPROPERTIES t [('key')]`` -> ``prpt_name, prpt_value`` (or the value)."""
    p = Parser(sql)
    p.expect("SHOW", "TBLPROPERTIES")
    name = p.table_name()
    key = None
    if p.accept_symbol("("):
        key = p.string("a property name")
        p.expect_symbol(")")
    p.end()
    table, accesses = _one_table(runner, context, name)
    params = table.parameters
    if key is None:
        rows = columns_table(["prpt_name", "prpt_value"], sorted(params.items()))
    elif key in params:
        rows = lines_table("prpt_value", [params[key]])
    else:
        message = f"Table {table.database}.{table.name} does not have property: {key}"
        rows = lines_table("prpt_value", [message])
    return outcome("SHOW_TBLPROPERTIES", rows, accesses)


def describe(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``DESCRIBE [EXTENDED|FORMATTED] t [column]`` -> ``col_name, data_type, comment``."""
    p = Parser(sql)
    if not p.accept("DESCRIBE"):
        p.expect("DESC")
    style = "FORMATTED" if p.accept("FORMATTED") else "EXTENDED" if p.accept("EXTENDED") else ""
    name = p.table_name()
    if p.at("PARTITION"):
        raise p.unsupported("DESCRIBE … PARTITION (…)")
    column = None if p.peek().kind == "end" or p.peek().value == ";" else p.identifier("a column")
    p.end()
    table, accesses = _one_table(runner, context, name)
    if column is not None:
        rows = _describe_column(table, column.lower())
    else:
        rows = _describe_columns(table) + _DETAILS[style](table)
    names = ["col_name", "data_type", "comment"]
    return outcome("DESCRIBE", columns_table(names, rows), accesses)


def _row(column: Column) -> tuple[str, str, str]:
    return (column.name, column.type, column.comment or "")


def _describe_column(table: Table, column: str) -> list[tuple[str, str, str]]:
    for c in (*table.columns, *table.partition_keys):
        if c.name == column:
            return [_row(c)]
    raise EntityNotFoundError(f"column {column} not found in {table.database}.{table.name}")


def _describe_columns(table: Table) -> list[tuple[str, str, str]]:
    rows = [_row(c) for c in (*table.columns, *table.partition_keys)]
    if table.partition_keys:
        rows += [("", "", ""), ("# Partition Information", "", "")]
        rows += [("# col_name", "data_type", "comment"), ("", "", "")]
        rows += [_row(c) for c in table.partition_keys]
    return rows


def _formatted(table: Table) -> list[tuple[str, str, str]]:
    sd = table.storage
    created = table.create_time.strftime("%a %b %d %H:%M:%S UTC %Y") if table.create_time else ""
    rows = [("", "", ""), ("# Detailed Table Information", "", "")]
    rows += [
        ("Database:", table.database, ""),
        ("Owner:", table.owner or "", ""),
        ("CreateTime:", created, ""),
        ("LastAccessTime:", "UNKNOWN", ""),
        ("Location:", sd.location, ""),
        ("Table Type:", table.table_type, ""),
        ("Table Parameters:", "", ""),
    ]
    rows += [("", k, v) for k, v in sorted(table.parameters.items())]
    rows += [("", "", ""), ("# Storage Information", "", "")]
    rows += [
        ("SerDe Library:", sd.serde.serialization_library or "", ""),
        ("InputFormat:", sd.input_format or "", ""),
        ("OutputFormat:", sd.output_format or "", ""),
        ("Compressed:", "Yes" if sd.compressed else "No", ""),
        ("Num Buckets:", str(sd.number_of_buckets), ""),
        ("Bucket Columns:", f"[{', '.join(sd.bucket_columns)}]", ""),
        ("Sort Columns:", f"[{', '.join(_sort_text(c) for c in sd.sort_columns)}]", ""),
        ("Storage Desc Params:", "", ""),
    ]
    rows += [("", k, v) for k, v in sorted(sd.serde.parameters.items())]
    return rows


def _sort_text(column: SortColumn) -> str:
    return f"Order(col:{column.name}, order:{column.order})"


def _extended(table: Table) -> list[tuple[str, str, str]]:
    sd = table.storage
    detail = (
        f"Table(tableName:{table.name}, dbName:{table.database}, owner:{table.owner or ''}, "
        f"tableType:{table.table_type}, location:{sd.location}, "
        f"inputFormat:{sd.input_format or ''}, outputFormat:{sd.output_format or ''}, "
        f"serializationLib:{sd.serde.serialization_library or ''}, "
        f"serdeParameters:{dict(sd.serde.parameters)}, parameters:{dict(table.parameters)})"
    )
    return [("", "", ""), ("Detailed Table Information", detail, "")]


def _no_details(table: Table) -> list[tuple[str, str, str]]:
    return []


_DETAILS: dict[str, Callable[[Table], list[tuple[str, str, str]]]] = {
    "": _no_details,
    "FORMATTED": _formatted,
    "EXTENDED": _extended,
}


# --- SHOW CREATE TABLE / VIEW ------------------------------------------------------------------


def show_create_table(
    runner: StatementTools, sql: str, context: StatementContext
) -> StatementOutcome:
    """``SHOW CREATE TABLE t`` -> ``createtab_stmt``: Hive DDL recreating the table."""
    table, accesses = _show_create(runner, sql, context, "TABLE")
    if table.table_type == TABLE_TYPE_VIEW:
        raise InvalidInputError(
            f"{table.database}.{table.name} is a view; use SHOW CREATE VIEW {table.name}"
        )
    rows = lines_table("createtab_stmt", create_table_lines(table))
    return outcome("SHOW_CREATE_TABLE", rows, accesses)


def show_create_view(
    runner: StatementTools, sql: str, context: StatementContext
) -> StatementOutcome:
    """``SHOW CREATE VIEW v`` -> ``Create View``: the view's SQL as Athena shows it."""
    view, accesses = _show_create(runner, sql, context, "VIEW")
    if view.table_type != TABLE_TYPE_VIEW:
        raise InvalidInputError(f"{view.database}.{view.name} is not a view")
    header = f'CREATE VIEW "{view.database}"."{view.name}" AS'
    rows = lines_table("Create View", [header, *view_definition(view).sql.splitlines()])
    return outcome("SHOW_CREATE_VIEW", rows, accesses)


def _show_create(
    runner: StatementTools, sql: str, context: StatementContext, what: str
) -> tuple[Table, list[TableAccess]]:
    p = Parser(sql)
    p.expect("SHOW", "CREATE", what)
    name = p.table_name()
    p.end()
    return _one_table(runner, context, name)


def create_table_lines(table: Table) -> list[str]:
    """Hive DDL for ``table``, one line per element, unqualified as Athena prints it."""
    sd = table.storage
    lines = [f"CREATE EXTERNAL TABLE {quote_name(table.name)}("]
    lines += _column_lines(table.columns)
    if table.description is not None:
        lines.append(f"COMMENT {hive_string(table.description)}")
    if table.partition_keys:
        lines.append("PARTITIONED BY (")
        lines += _column_lines(table.partition_keys)
    lines += _bucket_lines(sd)
    lines += ["ROW FORMAT SERDE", f"  {hive_string(sd.serde.serialization_library or '')}"]
    if sd.serde.parameters:
        lines.append("WITH SERDEPROPERTIES (")
        lines += _property_lines(sd.serde.parameters)
    lines += ["STORED AS INPUTFORMAT", f"  {hive_string(sd.input_format or '')}"]
    lines += ["OUTPUTFORMAT", f"  {hive_string(sd.output_format or '')}"]
    lines += ["LOCATION", f"  {hive_string(sd.location)}"]
    if table.parameters:
        lines.append("TBLPROPERTIES (")
        lines += _property_lines(table.parameters)
    return lines


def _bucket_lines(sd: StorageDescriptor) -> list[str]:
    """``CLUSTERED BY (…) [SORTED BY (…)] INTO n BUCKETS``, laid out as Hive prints it."""
    if not sd.bucketed:
        return []
    lines = ["CLUSTERED BY ( ", *_listed([quote_name(c) for c in sd.bucket_columns])]
    if sd.sort_columns:
        sorts = [f"{quote_name(c.name)} {'ASC' if c.order else 'DESC'}" for c in sd.sort_columns]
        lines += ["SORTED BY ( ", *_listed(sorts)]
    return [*lines, f"INTO {sd.number_of_buckets} BUCKETS"]


def _listed(items: Sequence[str]) -> list[str]:
    return [f"  {item}" + (")" if i == len(items) - 1 else ", ") for i, item in enumerate(items)]


def _column_lines(columns: Sequence[Column]) -> list[str]:
    lines = []
    for i, c in enumerate(columns):
        text = f"  {quote_name(c.name)} {c.type}"
        if c.comment is not None:
            text += f" COMMENT {hive_string(c.comment)}"
        lines.append(text + (")" if i == len(columns) - 1 else ","))
    return lines


def _property_lines(params: Mapping[str, str]) -> list[str]:
    items = sorted(params.items())
    return [
        f"  {hive_string(k)}={hive_string(v)}" + (")" if i == len(items) - 1 else ",")
        for i, (k, v) in enumerate(items)
    ]


def quote_name(name: str) -> str:
    """A Hive identifier in backquotes."""
    return "`" + name.replace("`", "``") + "`"


def hive_string(value: str) -> str:
    """A Hive string literal: backslash escapes, control characters as octal."""
    out = []
    for ch in value:
        if ch in ("\\", "'"):
            out.append("\\" + ch)
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


SHOW_HANDLERS: dict[str, Handler] = {
    "DESCRIBE": describe,
    "SHOW_DATABASES": show_databases,
    "SHOW_TABLES": show_tables,
    "SHOW_VIEWS": show_views,
    "SHOW_COLUMNS": show_columns,
    "SHOW_PARTITIONS": show_partitions,
    "SHOW_CREATE_TABLE": show_create_table,
    "SHOW_CREATE_VIEW": show_create_view,
    "SHOW_TBLPROPERTIES": show_tblproperties,
}
