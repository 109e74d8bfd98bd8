"""Run one SQL statement against the catalog: the road every query takes.

parse (Athena dialect) -> resolve tables in the catalog -> authorize every table read
or written -> plan (files after partition pruning) -> execute on the engine -> write
data (CTAS / INSERT / UNLOAD) -> an outcome with rows and what was read.

The query-execution service (lifecycle, result files, history) calls
``StatementRunner.run`` and knows nothing of statement kinds; statement handlers
know nothing of executions.

Statement kinds (``classify``) pick a handler: queries, EXPLAIN, CTAS, INSERT, UNLOAD
and views live in ``select``, ``writes`` and ``views``; metadata and DDL statements
come from ``shoal.queries.ddl.HANDLERS``. A handler is
``Handler(runner, sql, context) -> StatementOutcome``; it authorizes every access
through ``StatementRunner.authorize`` before it reads or writes anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from shoal.catalog.model import Database, Table
from shoal.catalog.store import CatalogStore
from shoal.engine.base import CancelToken, Engine, QueryResult, ResolvedQuery
from shoal.engine.dialect import TableRef
from shoal.errors import InvalidInputError, SqlSyntaxError
from shoal.queries.classify import STATEMENT_TYPES, classify
from shoal.queries.planner import Planner, QueryPlan, Resolution
from shoal.storage.base import Storage

# Athena's StatementType values.
DML = "DML"
DDL = "DDL"
UTILITY = "UTILITY"


@dataclass(frozen=True)
class TableAccess:
    """One table a statement touches, and how: "read" or "write"."""

    database: str
    table: str
    mode: str


@dataclass(frozen=True)
class LocationAccess:
    """One storage location a statement writes to (CTAS, INSERT, UNLOAD)."""

    location: str


# Called with every table and location access before anything runs; raises to refuse.
Authorizer = Callable[[Sequence[TableAccess | LocationAccess]], None]


@dataclass(frozen=True)
class Visibility:
    """What listings may show the caller: ``SHOW TABLES|VIEWS|DATABASES`` keep only
    what these filters keep, as Glue ``GetTables`` / ``GetDatabases`` do."""

    tables: Callable[[Sequence[Table]], list[Table]]
    databases: Callable[[Sequence[Database]], list[Database]]


@dataclass(frozen=True)
class StatementContext:
    """Everything a statement needs besides its text."""

    query_id: str
    database: str = "default"
    catalog: str = "awsdatacatalog"
    parameters: Sequence[Any] = ()
    # Where CTAS without external_location puts its table: <output>/tables/<query_id>/
    output_location: str | None = None
    cancel: CancelToken = field(default_factory=CancelToken)
    bytes_scanned_cutoff: int | None = None
    authorize: Authorizer | None = None
    visible: Visibility | None = None  # None: listings are not filtered


@dataclass
class StatementOutcome:
    """What a statement produced.

    ``rows`` is the result set (for DDL/UTILITY, the lines Athena prints: SHOW TABLES
    gives one column of names). ``data_files`` lists files CTAS/INSERT/UNLOAD wrote,
    for the manifest.
    """

    statement_type: str  # DML | DDL | UTILITY
    substatement_type: str  # SELECT, CREATE_TABLE_AS_SELECT, INSERT, UNLOAD, SHOW_TABLES, ...
    rows: pa.Table
    bytes_scanned: int = 0
    accesses: tuple[TableAccess | LocationAccess, ...] = ()
    data_files: tuple[str, ...] = ()
    update_count: int | None = None
    planning_ms: float = 0.0
    engine_ms: float = 0.0


Handler = Callable[["StatementRunner", str, StatementContext], StatementOutcome]
Access = TableAccess | LocationAccess


class StatementRunner:
    """Runs single statements against the catalog, storage and engine.

    Safe to share between threads: it holds no per-statement state.
    """

    def __init__(self, catalog: CatalogStore, storage: Storage, engine: Engine) -> None:
        self.catalog = catalog
        self.storage = storage
        self.engine = engine
        self.planner = Planner(catalog, storage)

    def run(self, sql: str, context: StatementContext) -> StatementOutcome:
        """Run one statement. Raises a ShoalError subclass with a clear message."""
        kind = classify(sql)
        handler = handlers().get(kind)
        if handler is None:
            raise InvalidInputError(f"unsupported statement: {kind}")
        try:
            return handler(self, sql, context)
        except RecursionError:
            # Parsing and rewriting recurse with the SQL's nesting: thousands of levels
            # exhaust Python's stack. The statement's fault, as in Trino.
            raise SqlSyntaxError(
                "statement is too large: it nests deeper than shoal can analyze"
            ) from None

    # -- helpers for handlers

    def authorize(
        self, context: StatementContext, accesses: Iterable[Access]
    ) -> tuple[Access, ...]:
        """Ask the context's authorizer about every access (raises to refuse); return them."""
        found = tuple(dict.fromkeys(accesses))  # unique, in order
        if context.authorize is not None:
            context.authorize(found)
        return found

    def plan_query(
        self, tree: exp.Expr, context: StatementContext, writes: Sequence[Access] = ()
    ) -> tuple[QueryPlan, tuple[Access, ...]]:
        """Resolve ``tree``, authorize its reads (views and the tables under them)
        plus ``writes``, then plan it. Nothing is listed before authorization."""
        return self._plan(self.planner.resolve(tree, context.database), context, writes)

    def plan_sql(
        self, sql: str, context: StatementContext, check_placeholders: Callable[[int], None]
    ) -> tuple[QueryPlan, tuple[Access, ...]]:
        """``plan_query`` for a query's text, resolved and translated once per text
        while its tables are unchanged (``Planner.prepare``)."""
        prepared = self.planner.prepare(sql, context.database, check_placeholders)
        return self._plan(prepared.resolution, context, (), prepared.sql)

    def _plan(
        self,
        resolution: Resolution,
        context: StatementContext,
        writes: Sequence[Access],
        sql: str | None = None,
    ) -> tuple[QueryPlan, tuple[Access, ...]]:
        reads = [TableAccess(r.database, r.table, "read") for r in resolution.reads]
        accesses = self.authorize(context, [*reads, *writes])
        return self.planner.plan(resolution, sql), accesses

    def execute(
        self, plan: QueryPlan, context: StatementContext, explain: bool = False
    ) -> QueryResult:
        """Run a plan on the engine with the context's parameters, cutoff and cancel token."""
        query = ResolvedQuery(
            plan.sql,
            plan.scans,
            tuple(context.parameters),
            max_bytes_scanned=context.bytes_scanned_cutoff,
            explain=explain,
        )
        return self.engine.execute(query, context.cancel)


def outcome(kind: str, rows: pa.Table, **values: Any) -> StatementOutcome:
    """A StatementOutcome of ``kind`` with Athena's StatementType."""
    return StatementOutcome(STATEMENT_TYPES[kind], kind, rows, **values)


def table_write(ref: TableRef) -> TableAccess:
    """The access a statement writing ``ref`` asks for."""
    return TableAccess(ref.database, ref.table, "write")


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - start) * 1000.0


def handlers() -> dict[str, Handler]:
    """Every statement kind's handler. Imported lazily: handler modules import this one."""
    from shoal.queries import select, views, writes

    found: dict[str, Handler] = {}
    try:
        from shoal.queries.ddl import HANDLERS

        found.update(HANDLERS)
    except ModuleNotFoundError as err:  # ddl.py not there yet; its kinds are unsupported
        if err.name != "shoal.queries.ddl":
            raise
    found.update(
        {
            "SELECT": select.run_select,
            "EXPLAIN": select.run_explain,
            "CREATE_TABLE_AS_SELECT": writes.run_ctas,
            "INSERT": writes.run_insert,
            "UNLOAD": writes.run_unload,
            "CREATE_VIEW": views.run_create_view,
            "DROP_VIEW": views.run_drop_view,
        }
    )
    return found


def parse_parameter(text: str) -> Any:
    """An Athena ExecutionParameter (SQL literal text) as a value to bind.

    ``'it''s'`` -> ``"it's"``, ``42`` -> 42, ``1.5`` -> Decimal, ``true``, ``NULL``,
    ``DATE '2024-01-01'`` / ``TIMESTAMP '…'`` -> their text (DuckDB casts on use).
    Anything else (expressions, identifiers) is refused: parameters are values.
    """
    try:
        tree = sqlglot.parse_one(f"SELECT {text}", read="athena")
    except sqlglot.errors.SqlglotError:
        raise InvalidInputError(f"execution parameter is not a literal: {text!r}") from None
    extra = any(v for k, v in tree.args.items() if k != "expressions")
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1 or extra:
        raise InvalidInputError(f"execution parameter is not a literal: {text!r}")
    node = tree.expressions[0]
    negative = isinstance(node, exp.Neg)
    if negative:
        node = node.this
    if isinstance(node, exp.Literal) and not (negative and node.is_string):
        if node.is_string:
            return node.this
        number = Decimal(("-" if negative else "") + node.this)
        return (
            int(number) if number == number.to_integral_value() and "." not in node.this else number
        )
    if isinstance(node, exp.Boolean) and not negative:
        return bool(node.this)
    if isinstance(node, exp.Null) and not negative:
        return None
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return node.this.this
    raise InvalidInputError(f"execution parameter is not a literal: {text!r}")
