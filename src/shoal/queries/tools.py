"""``StatementTools``: what every statement handler works with.

The catalog, the storage and the engine, and the steps handlers share: authorize
accesses, resolve and plan a query (authorizing its reads before any listing), run
a plan on the engine. The runner (``shoal.queries.runner``) is built on these tools
and dispatches to the handlers; handlers depend on the tools only, never on the
runner, so the handler modules and the runner form no import cycle.

A handler is ``Handler(tools, sql, context) -> StatementOutcome``; it authorizes
every access through ``StatementTools.authorize`` before it reads or writes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sqlglot import exp

from shoal.catalog.store import CatalogStore
from shoal.engine.base import Engine, QueryResult, ResolvedQuery
from shoal.errors import ConfigError
from shoal.queries.context import Access, StatementContext, StatementOutcome, TableAccess
from shoal.queries.planner import Planner, QueryPlan, Resolution
from shoal.storage.base import Storage


class StatementTools:
    """The catalog, storage, engine and planner statements run against.

    Safe to share between threads: it holds no per-statement state.
    """

    def __init__(
        self,
        catalog: CatalogStore,
        storage: Storage,
        engine: Engine,
        engines: Callable[[str], Engine] | None = None,
    ) -> None:
        """``engine`` runs every query whose context names no engine; ``engines``
        gives the engine of a name (``StatementContext.engine``), built on first use."""
        self.catalog = catalog
        self.storage = storage
        self.engine = engine
        self.engines = engines
        self.planner = Planner(catalog, storage)

    def engine_for(self, context: StatementContext) -> Engine:
        """The engine ``context``'s query runs on.

        Raises:
            ConfigError: the context names an engine that is not configured.
        """
        if context.engine is None:
            return self.engine
        if self.engines is None:
            raise ConfigError(f"no engine named {context.engine!r} is configured")
        return self.engines(context.engine)

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
        """``plan_query`` for a query's text, resolved once per text while its tables
        are unchanged (``Planner.prepare``)."""
        prepared = self.planner.prepare(sql, context.database, check_placeholders)
        return self._plan(prepared.resolution, context, ())

    def _plan(
        self, resolution: Resolution, context: StatementContext, writes: Sequence[Access]
    ) -> tuple[QueryPlan, tuple[Access, ...]]:
        reads = [TableAccess(r.database, r.table, "read") for r in resolution.reads]
        accesses = self.authorize(context, [*reads, *writes])
        return self.planner.plan(resolution), accesses

    def execute(
        self, plan: QueryPlan, context: StatementContext, explain: bool = False
    ) -> QueryResult:
        """Run a plan on the engine with the context's parameters, cutoff and cancel token.

        Raises:
            EngineGapError: the plan needs a format or function the engine lacks.
        """
        query = self.resolved(plan, context, explain)
        engine = self.engine_for(context)
        engine.check(query)
        return engine.execute(query, context.cancel)

    def resolved(
        self, plan: QueryPlan, context: StatementContext, explain: bool = False
    ) -> ResolvedQuery:
        """What an engine is given to run ``plan`` with the context's parameters and cutoff."""
        return ResolvedQuery(
            plan.resolution.tree,
            plan.resolution.database,
            plan.scans,
            tuple(context.parameters),
            max_bytes_scanned=context.bytes_scanned_cutoff,
            explain=explain,
        )


Handler = Callable[[StatementTools, str, StatementContext], StatementOutcome]
