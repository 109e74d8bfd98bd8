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
from shoal.queries.model import AUTO
from shoal.queries.planner import Planner, QueryPlan, Resolution
from shoal.queries.routing import STAYS_HOME, AutoRouting, big_enough, runs
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
        auto: AutoRouting | None = None,
    ) -> None:
        """``engine`` runs every query whose context names no engine; ``engines``
        gives the engine of a name (``StatementContext.engine``), built on first use;
        ``auto`` says which big queries of AUTO contexts leave ``engine`` (None: none)."""
        self.catalog = catalog
        self.storage = storage
        self.engine = engine
        self.engines = engines
        self.auto = auto
        self.planner = Planner(catalog, storage)

    def engine_for(self, context: StatementContext) -> Engine:
        """The engine ``context`` pins its queries to, known before planning: the one
        it names, else the default engine (also for AUTO, until ``route`` decides).

        Raises:
            ConfigError: the context names an engine that is not configured.
        """
        if context.engine is None or context.engine == AUTO:
            return self.engine
        return self._named(context.engine)

    def route(self, plan: QueryPlan, context: StatementContext) -> Engine:
        """The engine that runs ``plan``'s query, chosen once it is planned.

        A pinned context gets its engine (``engine_for``). An AUTO one gets the auto
        engine when ``auto`` is configured, the query's size reaches its threshold and
        that engine declares all the statement needs (``shoal.queries.routing``);
        otherwise the default engine: a query the auto engine cannot run is not sent
        there to fail.
        """
        if context.engine != AUTO or self.auto is None:
            return self.engine_for(context)
        if context.kind in STAYS_HOME or not big_enough(plan, self.storage, self.auto.min_bytes):
            return self.engine
        candidate = self._named(self.auto.engine)
        if not runs(candidate, context.kind, self.resolved(plan, context)):
            return self.engine
        return candidate

    def _named(self, name: str) -> Engine:
        if self.engines is None:
            raise ConfigError(f"no engine named {name!r} is configured")
        return self.engines(name)

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
        self,
        plan: QueryPlan,
        context: StatementContext,
        explain: bool = False,
        engine: Engine | None = None,
    ) -> QueryResult:
        """Run a plan with the context's parameters, cutoff and cancel token, on
        ``engine`` or the one ``route`` chooses; ``context.on_engine`` hears its name.

        Raises:
            EngineGapError: the plan needs a format or function the engine lacks.
        """
        query = self.resolved(plan, context, explain)
        engine = engine or self.route(plan, context)
        self.admit(engine, query, context)
        return engine.execute(query, context.cancel)

    @staticmethod
    def admit(engine: Engine, query: ResolvedQuery, context: StatementContext) -> None:
        """Refuse what ``engine`` cannot run; else tell ``context.on_engine`` it runs it.

        Raises:
            EngineGapError: the query needs a format or function the engine lacks.
        """
        engine.check(query)
        if context.on_engine is not None:
            context.on_engine(engine.name)

    @staticmethod
    def resolved(
        plan: QueryPlan, context: StatementContext, explain: bool = False
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
