"""SELECT and EXPLAIN: plan, authorize, run on the engine, report what was read.

``?`` parameters are bound by the engine (never spliced into SQL text); their count
must match the context's parameters, as Athena checks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from shoal.engine.athena import parse
from shoal.errors import InvalidInputError, UnsupportedSqlError
from shoal.queries import information_schema
from shoal.queries.context import StatementContext, StatementOutcome, elapsed_ms, outcome
from shoal.queries.declared_types import mark_text_lengths
from shoal.queries.estimate import estimate_plan
from shoal.queries.planner import QueryPlan
from shoal.queries.tools import StatementTools

# EXPLAIN [ANALYZE] [(TYPE …, FORMAT …)] <query>
_EXPLAIN_RE = re.compile(
    r"^\s*explain\s+(?P<analyze>analyze\s+(verbose\s+)?)?(?P<options>\([^)]*\)\s*)?",
    re.IGNORECASE,
)
PLAN_COLUMN = "Query Plan"  # Athena's EXPLAIN result column


def check_parameters(tree: exp.Expr, context: StatementContext) -> None:
    """Athena's rule: as many execution parameters as ``?`` placeholders."""
    parameter_count_check(context)(sum(1 for _ in tree.find_all(exp.Placeholder)))


def parameter_count_check(context: StatementContext) -> Callable[[int], None]:
    """Athena's rule as a check of a placeholder count (for ``plan_sql``)."""

    def check(expected: int) -> None:
        if expected != len(context.parameters):
            raise InvalidInputError(
                f"Incorrect number of parameters: expected {expected} but found "
                f"{len(context.parameters)}"
            )

    return check


def run_select(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """Run a query; rows stay Arrow, bytes scanned is what the engine read."""
    start = time.perf_counter()
    if information_schema.mentioned(sql):  # rows per caller: never a cached plan
        tree = information_schema.inline(
            parse(sql), runner.catalog, context.database, context.visible
        )
        check_parameters(tree, context)
        plan, accesses = runner.plan_query(tree, context)
    else:
        plan, accesses = runner.plan_sql(sql, context, parameter_count_check(context))
    planning_ms = elapsed_ms(start)
    start = time.perf_counter()
    result = runner.execute(plan, context)
    return outcome(
        "SELECT",
        mark_text_lengths(result.table, plan.resolution),
        bytes_scanned=result.bytes_scanned,
        accesses=accesses,
        planning_ms=planning_ms,
        engine_ms=elapsed_ms(start),
    )


def run_explain(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """The plan as text: tables, pruned partitions, files, bytes (the upper bound and the
    estimate after column projection), then the plan of the engine that ran it."""
    start = time.perf_counter()
    match = _EXPLAIN_RE.match(sql)
    if match is None:
        raise InvalidInputError("EXPLAIN needs a query")
    if match.group("analyze"):
        raise UnsupportedSqlError("not supported: EXPLAIN ANALYZE (run the query instead)")
    query = sql[match.end() :]
    plan, accesses = runner.plan_sql(query, context, parameter_count_check(context))
    planning_ms = elapsed_ms(start)
    start = time.perf_counter()
    estimate = estimate_plan(plan, runner.storage)
    engine = runner.route(plan, context)  # the engine the query itself would run on
    engine_plan = runner.execute(plan, context, explain=True, engine=engine).table
    lines = [
        *describe_plan(plan),
        estimate.describe(),
        "",
        f"Engine plan ({engine.name}):",
        *_engine_lines(engine_plan),
    ]
    return outcome(
        "EXPLAIN",
        pa.table({PLAN_COLUMN: pa.array(lines, pa.string())}),
        accesses=accesses,
        planning_ms=planning_ms,
        engine_ms=elapsed_ms(start),
    )


def describe_plan(plan: QueryPlan) -> list[str]:
    """Human-readable lines: each table's partitions, files and bytes."""
    lines = []
    for planned in plan.tables:
        scan = planned.scan
        head = f"Table {scan.database}.{scan.table} ({scan.format.classification})"
        if planned.partitions_total:
            head += f": {planned.partitions_read} of {planned.partitions_total} partitions"
            if planned.partition_filter:
                head += f" where {planned.partition_filter}"
        lines.append(f"{head}; {len(scan.files)} files, {planned.bytes} bytes")
        lines.extend(f"  {f.path} ({f.size} bytes)" for f in scan.files)
    lines.append(
        # Not an upper bound: the engine's footer prefetch may re-read column chunks
        # of small Parquet files; the estimate line below models what it reads.
        f"Files to read: {len(plan.files)}, {plan.total_bytes} bytes in all "
        "(column projection and statistics read less)"
    )
    return lines


def _engine_lines(table: pa.Table) -> list[str]:
    lines: list[str] = []
    for row in table.to_pylist():
        for value in list(row.values())[1:] or row.values():
            lines.extend(str(value).splitlines())
    return lines
