"""Run one SQL statement against the catalog: the road every query takes.

parse (Athena dialect) -> resolve tables in the catalog -> authorize every table read
or written -> plan (files after partition pruning) -> execute on the engine -> write
data (CTAS / INSERT / UNLOAD) -> an outcome with rows and what was read.

The query-execution service (lifecycle, result files, history) calls
``StatementRunner.run`` and knows nothing of statement kinds; statement handlers
know nothing of executions.

A statement's kind (``classify``) picks its handler from ``HANDLERS``: queries,
EXPLAIN, CTAS, INSERT, UNLOAD and views live in ``select``, ``writes`` and ``views``;
metadata and DDL statements come from ``shoal.queries.ddl.HANDLERS``. Handlers get the
runner's ``StatementTools`` and import nothing from here. A statement whose query
runs on the engine is refused up front when the engine does not declare its kind.
"""

from __future__ import annotations

from dataclasses import replace

from shoal.engine.base import QUERY_STATEMENTS
from shoal.errors import InvalidInputError, SqlSyntaxError
from shoal.queries import select, views, writes
from shoal.queries.classify import Statement
from shoal.queries.context import StatementContext, StatementOutcome
from shoal.queries.ddl import HANDLERS as DDL_HANDLERS
from shoal.queries.tools import Handler, StatementTools

HANDLERS: dict[str, Handler] = {
    **DDL_HANDLERS,
    "SELECT": select.run_select,
    "EXPLAIN": select.run_explain,
    "CREATE_TABLE_AS_SELECT": writes.run_ctas,
    "INSERT": writes.run_insert,
    "UNLOAD": writes.run_unload,
    "CREATE_VIEW": views.run_create_view,
    "DROP_VIEW": views.run_drop_view,
}


class StatementRunner(StatementTools):
    """Runs single statements against the catalog, storage and engine.

    Safe to share between threads: it holds no per-statement state.
    """

    def run(self, statement: Statement | str, context: StatementContext) -> StatementOutcome:
        """Run one statement, classified already (a ``Statement``) or given as text.

        Raises a ShoalError subclass with a clear message.
        """
        if isinstance(statement, str):
            statement = Statement.of(statement)
        handler = HANDLERS.get(statement.kind)
        if handler is None:
            raise InvalidInputError(f"unsupported statement: {statement.kind}")
        if statement.kind in QUERY_STATEMENTS:
            self.engine_for(context).check_statement(statement.kind)
            context = replace(context, kind=statement.kind)  # for routing AUTO queries
        try:
            return handler(self, statement.sql, context)
        except RecursionError:
            # Parsing and rewriting recurse with the SQL's nesting: thousands of levels
            # exhaust Python's stack. The statement's fault, as in Trino.
            raise SqlSyntaxError(
                "statement is too large: it nests deeper than shoal can analyze"
            ) from None
