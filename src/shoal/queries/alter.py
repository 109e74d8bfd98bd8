"""Athena's ``ALTER TABLE`` statements that change a table's definition.

- ``SET TBLPROPERTIES ('k' = 'v', …)``: table parameters added or replaced (dbt-athena
  runs ``set tblproperties ('classification' = 'parquet')`` after every table).
- ``SET LOCATION 's3://…'``: where the table's files are (partitions keep their own).
- ``ADD COLUMNS (c type [COMMENT '…'], …)``: columns after the existing ones.
- ``REPLACE COLUMNS (c type, …)``: every data column (partition keys stay).
- ``CHANGE [COLUMN] old new type [COMMENT '…'] [FIRST | AFTER c]``: rename, retype, move.

As with every DDL statement, data files are never touched, and the statement is
parsed and authorized whole before the catalog changes. Partition changes (ADD/DROP
PARTITION) are in ``ddl.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from shoal.catalog.model import TABLE_TYPE_VIEW, Column, Table
from shoal.errors import InvalidInputError
from shoal.queries.context import StatementContext, StatementOutcome, TableAccess
from shoal.queries.hive_ddl import Parser, check_new_name, column_list, hive_location
from shoal.queries.show import authorize, outcome
from shoal.queries.tools import StatementTools

Change = Callable[[Table], Table]


def _alter(
    runner: StatementTools,
    sql: str,
    context: StatementContext,
    kind: str,
    clause: Callable[[Parser], Change],
) -> StatementOutcome:
    """Parse ``ALTER TABLE name <clause>``, authorize, and apply the clause's change."""
    p = Parser(sql)
    p.expect("ALTER", "TABLE")
    database, name = p.table_name().resolve(context.database)
    change = clause(p)
    p.end()
    accesses = [TableAccess(database, name, "write")]
    authorize(context, accesses)
    table = runner.catalog.get_table(database, name)
    if table.table_type == TABLE_TYPE_VIEW:
        raise InvalidInputError(f"{database}.{name} is a view; ALTER TABLE does not apply")
    runner.catalog.update_table(change(table), expected_version=table.version_id)
    return outcome(kind, None, accesses)


def set_properties(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``ALTER TABLE t SET TBLPROPERTIES ('k' = 'v', …)``."""

    def clause(p: Parser) -> Change:
        p.expect("SET", "TBLPROPERTIES")
        given = p.properties("table property")
        if "" in given:
            raise InvalidInputError("a table property name must not be empty")
        return lambda table: replace(table, parameters={**table.parameters, **given})

    return _alter(runner, sql, context, "ALTER_TABLE_SET_TBLPROPERTIES", clause)


def set_location(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``ALTER TABLE t SET LOCATION 's3://bucket/folder/'``."""

    def clause(p: Parser) -> Change:
        p.expect("SET", "LOCATION")
        location = hive_location(p.string("a location"))
        return lambda table: replace(table, storage=replace(table.storage, location=location))

    return _alter(runner, sql, context, "ALTER_TABLE_SET_LOCATION", clause)


def add_columns(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``ALTER TABLE t ADD COLUMNS (c type [COMMENT '…'], …)``."""

    def clause(p: Parser) -> Change:
        p.expect("ADD", "COLUMNS")
        added = column_list(p)
        return lambda table: _with_columns(table, [*table.columns, *added])

    return _alter(runner, sql, context, "ALTER_TABLE_ADD_COLUMNS", clause)


def replace_columns(
    runner: StatementTools, sql: str, context: StatementContext
) -> StatementOutcome:
    """``ALTER TABLE t REPLACE COLUMNS (c type, …)``: the data columns, all of them."""

    def clause(p: Parser) -> Change:
        p.expect("REPLACE", "COLUMNS")
        columns = column_list(p)
        return lambda table: _with_columns(table, columns)

    return _alter(runner, sql, context, "ALTER_TABLE_REPLACE_COLUMNS", clause)


def change_column(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``ALTER TABLE t CHANGE [COLUMN] old new type [COMMENT '…'] [FIRST | AFTER c]``."""

    def clause(p: Parser) -> Change:
        p.expect("CHANGE")
        p.accept("COLUMN")
        old = p.identifier("the column to change").lower()
        new = check_new_name(p.identifier("the new column name"), "column name")
        type_ = p.column_type("FIRST", "AFTER")
        column = Column(new, type_, p.string("a comment") if p.accept("COMMENT") else None)
        first = p.accept("FIRST")
        after = p.identifier("a column name").lower() if not first and p.accept("AFTER") else None
        return lambda table: _with_columns(table, _changed(table, old, column, first, after))

    return _alter(runner, sql, context, "ALTER_TABLE_CHANGE_COLUMN", clause)


def _changed(
    table: Table, old: str, column: Column, first: bool, after: str | None
) -> list[Column]:
    names = [c.name.lower() for c in table.columns]
    if old not in names:
        raise InvalidInputError(f"column {old!r} does not exist in {table.database}.{table.name}")
    columns = list(table.columns)
    columns.pop(names.index(old))
    if first:
        return [column, *columns]
    if after is None:
        columns.insert(names.index(old), column)
        return columns
    remaining = [c.name.lower() for c in columns]
    if after not in remaining:
        raise InvalidInputError(f"column {after!r} does not exist in {table.database}.{table.name}")
    columns.insert(remaining.index(after) + 1, column)
    return columns


def _with_columns(table: Table, columns: Sequence[Column]) -> Table:
    """``table`` with these data columns; a name twice, or shared with a partition
    key, is refused."""
    seen: set[str] = set()
    keys = {k.name.lower() for k in table.partition_keys}
    for column in columns:
        name = column.name.lower()
        if name in seen or name in keys:
            raise InvalidInputError(
                f"column {column.name!r} appears twice in {table.database}.{table.name}"
                + (" (it is a partition key)" if name in keys else "")
            )
        seen.add(name)
    return replace(table, storage=replace(table.storage, columns=tuple(columns)))


ALTER_HANDLERS = {
    "ALTER_TABLE_SET_TBLPROPERTIES": set_properties,
    "ALTER_TABLE_SET_LOCATION": set_location,
    "ALTER_TABLE_ADD_COLUMNS": add_columns,
    "ALTER_TABLE_REPLACE_COLUMNS": replace_columns,
    "ALTER_TABLE_CHANGE_COLUMN": change_column,
}
