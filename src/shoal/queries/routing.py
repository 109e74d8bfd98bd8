"""AUTO engine routing: a big query goes to the distributed engine, the rest stay home.

A workgroup whose EngineVersion is AUTO runs a query on the auto engine (Spark, in
``Shoal``) only when all of these hold, decided once, after planning:

1. an ``AutoRouting`` is configured (``spark_connect_url`` and
   ``spark_auto_min_bytes`` both set);
2. the query's size (``query_bytes``) is at least ``AutoRouting.min_bytes``;
3. the auto engine declares the statement's kind, and every format and function the
   query needs (``runs``), so a query it cannot run stays on the default engine
   instead of failing there.

Otherwise the default engine (DuckDB) runs it. CREATE VIEW's query, run for no rows
to learn its columns, always does (``STAYS_HOME``).

The size is the projection-aware estimate (``estimate_plan``: the Parquet column
chunks the query references, whole files otherwise), capped at the planned files'
bytes. Both engines' work grows with the bytes they decode, not with the size of the
files they were handed (TPC-H Q6 reads 4 of lineitem's 16 columns, a quarter of the
file); the cap leaves out the estimate's per-file footer prefetch, a DuckDB read
pattern rather than data. The planned bytes (free: the planner has them) are checked
first, so a query below the threshold reads no footers.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal.engine.base import Engine, ResolvedQuery
from shoal.queries.estimate import estimate_plan
from shoal.queries.planner import QueryPlan
from shoal.storage.base import Storage

# Statement kinds whose query reads no rows, however big its tables: never routed.
STAYS_HOME = frozenset({"CREATE_VIEW"})


@dataclass(frozen=True)
class AutoRouting:
    """Where AUTO queries go when they are big.

    ``engine``: the name of the engine big queries run on (``Shoal.engine_for``'s
    names: "spark"); ``min_bytes``: the size (``query_bytes``) from which they do.
    """

    engine: str
    min_bytes: int


def big_enough(plan: QueryPlan, storage: Storage, min_bytes: int) -> bool:
    """Whether ``plan``'s size reaches ``min_bytes``; reads no footers below it."""
    if plan.total_bytes < min_bytes:  # the size is capped at this: no need to estimate
        return False
    return query_bytes(plan, storage) >= min_bytes


def query_bytes(plan: QueryPlan, storage: Storage) -> int:
    """The size AUTO routing compares with its threshold: the estimate after column
    projection, at most the planned files' bytes."""
    return min(estimate_plan(plan, storage).bytes, plan.total_bytes)


def runs(engine: Engine, kind: str | None, query: ResolvedQuery) -> bool:
    """Whether ``engine`` declares all that ``query`` (a statement of ``kind``) needs."""
    if kind is not None and kind not in engine.capabilities.statements:
        return False
    return not engine.gaps(query)
