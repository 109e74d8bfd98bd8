"""CREATE [OR REPLACE] VIEW and DROP VIEW [IF EXISTS].

A view is a catalog table of type VIRTUAL_VIEW whose ``view_original_text`` holds
Athena's Presto-view encoding (``planner.encode_view``). Creating one resolves and
type-checks its query (the engine runs it with no rows wanted) so a broken view is
refused up front; reading one inlines it (``Planner.resolve``), and authorization
covers the tables under it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pyarrow as pa
from sqlglot import exp

from shoal.catalog.model import TABLE_TYPE_VIEW, Column, StorageDescriptor, Table
from shoal.engine.athena import TableRef, check_query
from shoal.errors import AlreadyExistsError, EntityNotFoundError, InvalidInputError
from shoal.queries.context import (
    Access,
    StatementContext,
    StatementOutcome,
    elapsed_ms,
    outcome,
    table_write,
)
from shoal.queries.data_files import hive_columns
from shoal.queries.planner import encode_view
from shoal.queries.tools import StatementTools
from shoal.queries.writes import parse_statement, statement_sql, target_ref


def run_create_view(
    runner: StatementTools, sql: str, context: StatementContext
) -> StatementOutcome:
    """Store a view after checking its query resolves and runs."""
    start = time.perf_counter()
    tree = parse_statement(sql, exp.Create)
    ref = target_ref(tree.this, context)
    body = check_query(tree.expression)
    columns, accesses = _view_columns(runner, body, ref, context)
    view = Table(
        database=ref.database,
        name=ref.table,
        storage=StorageDescriptor(location="", columns=tuple(columns)),
        table_type=TABLE_TYPE_VIEW,
        parameters={"presto_view": "true", "comment": "Presto View"},
        view_original_text=encode_view(statement_sql(body), ref.database, columns),
        view_expanded_text="/* Presto View */",
    )
    _store(runner, view, replace_existing=bool(tree.args.get("replace")))
    return outcome(
        "CREATE_VIEW",
        pa.table({}),
        accesses=accesses,
        planning_ms=elapsed_ms(start),
    )


def run_drop_view(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """Drop a view (only a view: tables are dropped with DROP TABLE)."""
    tree = parse_statement(sql, exp.Drop)
    ref = target_ref(tree.find(exp.Table), context)
    accesses = runner.authorize(context, [table_write(ref)])
    try:
        existing = runner.catalog.get_table(ref.database, ref.table)
    except EntityNotFoundError:
        if tree.args.get("exists"):
            return outcome("DROP_VIEW", pa.table({}), accesses=accesses)
        raise InvalidInputError(f"View '{ref.database}.{ref.table}' does not exist") from None
    if existing.table_type != TABLE_TYPE_VIEW:
        raise InvalidInputError(f"'{ref.database}.{ref.table}' is a table, not a view")
    runner.catalog.delete_table(ref.database, ref.table)
    return outcome("DROP_VIEW", pa.table({}), accesses=accesses)


def _view_columns(
    runner: StatementTools, body: exp.Expr, ref: TableRef, context: StatementContext
) -> tuple[list[Column], tuple[Access, ...]]:
    """Resolve, authorize and run the query for no rows: its columns and types."""
    subquery = exp.Subquery(this=body.copy(), alias=exp.TableAlias(this=exp.to_identifier("v")))
    probe = exp.select(exp.Star()).from_(subquery).limit(0)
    plan, accesses = runner.plan_query(probe, context, writes=[table_write(ref)])
    result = runner.execute(plan, replace(context, bytes_scanned_cutoff=None))
    return hive_columns(result.table.schema), accesses


def _store(runner: StatementTools, view: Table, replace_existing: bool) -> None:
    try:
        existing = runner.catalog.get_table(view.database, view.name)
    except EntityNotFoundError:
        runner.catalog.create_table(view)
        return
    if existing.table_type != TABLE_TYPE_VIEW:
        raise AlreadyExistsError(f"'{view.database}.{view.name}' is a table, not a view")
    if not replace_existing:
        raise AlreadyExistsError(f"View '{view.database}.{view.name}' already exists")
    runner.catalog.update_table(view, expected_version=existing.version_id)
