"""Usage metering: queries run, bytes scanned and engine time, per user, group,
workgroup or database, over a time window.

The figures are computed from ``query_executions``, the one record of what each
query scanned (``DataScannedInBytes`` is what the engine read), so ``shoal usage``,
``Shoal.usage.report`` and GetQueryExecution cannot disagree. An execution counts
once it has finished (succeeded, failed or cancelled), on the UTC day it finished.

The same facts reach the audit trail: ``audit_recorder`` turns each finished
execution into one CloudTrail service event (eventName ``QueryExecutionCompleted``,
figures in ``serviceEventDetails``), so the answer is also SQL over the documented
CloudTrail table ``shoal_audit.cloudtrail``::

    SELECT useridentity.username, count(*),
           sum(CAST(json_extract_scalar(serviceeventdetails, '$.dataScannedInBytes')
                    AS bigint))
    FROM shoal_audit.cloudtrail WHERE eventname = 'QueryExecutionCompleted'
    GROUP BY 1

Executions failed by a restart (``RESTARTED_REASON``) never finished on a worker,
get no audit record and are not metered either; they scanned nothing measurable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from shoal.audit.records import SQL_REFUSED, format_time, service_event
from shoal.catalog.connection import StateDatabase
from shoal.errors import InvalidInputError
from shoal.queries.model import (
    FINISHED_STATES,
    RESTARTED_REASON,
    AthenaError,
    QueryExecution,
    Refusal,
    execution_engine_version,
)
from shoal.queries.schema import query_executions as executions

if TYPE_CHECKING:
    from shoal.audit.trail import AuditTrail

log = logging.getLogger("shoal.usage")

DIMENSIONS = ("user", "group", "workgroup", "database")
COMPLETED_EVENT = "QueryExecutionCompleted"
EVENT_SOURCE = "athena.amazonaws.com"

GroupsOf = Callable[[str], list[str]]
_METERED_COLUMNS = [
    executions.c[name]
    for name in (
        "id",
        "user_name",
        "workgroup",
        "database",
        "completion_time",
        "statistics",
        "state_change_reason",
    )
]


@dataclass(frozen=True)
class MeteredQuery:
    """What one finished execution contributes to usage."""

    query_execution_id: str
    user: str | None
    workgroup: str
    database: str | None
    day: str  # YYYY-MM-DD (UTC) of completion
    bytes_scanned: int
    engine_time_ms: int


@dataclass(frozen=True)
class UsageRow:
    """Usage of one user, group, workgroup or database (``key``), on ``day`` when the
    report is per day. ``key`` is None for queries without one (no user, no group)."""

    by: str
    key: str | None
    day: str | None
    queries: int
    bytes_scanned: int
    engine_time_ms: int

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON values (``--output json`` and the API)."""
        return asdict(self)


class UsageMeter:
    """Usage reports over the executions history of one state database.

    Args:
        state: the state database holding ``query_executions``.
        groups_of: a user's groups (``GovernanceStore.groups_for_user``), for ``by="group"``.
    """

    def __init__(self, state: StateDatabase, groups_of: GroupsOf | None = None) -> None:
        self.state = state
        self.groups_of = groups_of or (lambda _user: [])

    def report(
        self,
        by: str = "user",
        since: datetime | None = None,
        until: datetime | None = None,
        per_day: bool = False,
    ) -> list[UsageRow]:
        """Usage per ``by`` (user, group, workgroup or database) of executions that
        finished in ``[since, until)``, sorted by key (and day).

        A user in several groups counts in each of them. Raises InvalidInputError for
        an unknown dimension.
        """
        if by not in DIMENSIONS:
            raise InvalidInputError(f"usage by must be one of {', '.join(DIMENSIONS)}")
        totals: dict[tuple[str | None, str | None], list[int]] = {}
        groups: dict[str, list[str]] = {}  # asked once per user, not per query
        for query in self.queries(since, until):
            for key in self._keys(by, query, groups):
                found = totals.setdefault((key, query.day if per_day else None), [0, 0, 0])
                found[0] += 1
                found[1] += query.bytes_scanned
                found[2] += query.engine_time_ms
        ordered = sorted(totals.items(), key=lambda item: (item[0][0] or "", item[0][1] or ""))
        return [UsageRow(by, key, day, *figures) for (key, day), figures in ordered]

    def queries(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[MeteredQuery]:
        """Every metered execution that finished in ``[since, until)``, oldest first."""
        query = select(*_METERED_COLUMNS).where(executions.c.state.in_(FINISHED_STATES))
        if since is not None:
            query = query.where(executions.c.completion_time >= since)
        if until is not None:
            query = query.where(executions.c.completion_time < until)
        with self.state.read() as conn:
            rows = conn.execute(query.order_by(executions.c.completion_time)).all()
        return [_metered(row._mapping) for row in rows if _metered_row(row._mapping)]

    def _keys(
        self, by: str, query: MeteredQuery, groups: dict[str, list[str]]
    ) -> Iterable[str | None]:
        if by == "group":
            if query.user is None:
                return [None]
            if query.user not in groups:
                groups[query.user] = self.groups_of(query.user)
            return groups[query.user] or [None]
        return [{"user": query.user, "workgroup": query.workgroup, "database": query.database}[by]]


def scanned_since(state: StateDatabase, scope: str, principal: str, since: datetime) -> int:
    """Bytes scanned by executions of user or workgroup ``principal`` finished since
    ``since``: the usage a quota is measured against."""
    column = executions.c.user_name if scope == "user" else executions.c.workgroup
    query = select(executions.c.statistics).where(
        column == principal,
        executions.c.state.in_(FINISHED_STATES),
        executions.c.completion_time >= since,
    )
    with state.read() as conn:
        return sum(_bytes(stats) for stats in conn.execute(query).scalars())


def _metered_row(row: Any) -> bool:
    return bool(
        row["completion_time"] is not None and row["state_change_reason"] != RESTARTED_REASON
    )


def _metered(row: Any) -> MeteredQuery:
    statistics = row["statistics"] or {}
    return MeteredQuery(
        query_execution_id=row["id"],
        user=row["user_name"],
        workgroup=row["workgroup"],
        database=row["database"],
        day=row["completion_time"].astimezone(UTC).strftime("%Y-%m-%d"),
        bytes_scanned=_bytes(statistics),
        engine_time_ms=int(statistics.get("engine_execution_time_in_millis") or 0),
    )


def _bytes(statistics: dict[str, Any] | None) -> int:
    return int((statistics or {}).get("data_scanned_in_bytes") or 0)


# --- the audit record of a finished execution --------------------------------------


def completed_record(execution: QueryExecution, account_id: str, region: str) -> dict[str, Any]:
    """The CloudTrail record of a finished execution, on behalf of its user.

    Its ``eventTime`` is the completion time, so the record falls on the same day as
    ``UsageMeter`` counts the execution; its figures are in ``serviceEventDetails``
    under the names of Athena's ``QueryExecution`` (camelCase, as CloudTrail spells).
    """
    statistics = execution.statistics
    finished = execution.completion_date_time or datetime.now(UTC)
    error = execution.athena_error
    return service_event(
        source=EVENT_SOURCE,
        name=COMPLETED_EVENT,
        event_time=finished,
        region=region,
        account_id=account_id,
        request_id=execution.query_execution_id,
        user_name=execution.user,
        read_only=True,
        error_code=_error_code(error),
        error_message=error.error_message if error else None,
        details={
            "queryExecutionId": execution.query_execution_id,
            "state": execution.state,
            "stateChangeReason": execution.state_change_reason,
            "workGroup": execution.workgroup,
            "database": execution.database,
            "statementType": execution.statement_type,
            "engineVersion": {
                "selectedEngineVersion": execution.engine_version,
                "effectiveEngineVersion": execution_engine_version(execution),
            },
            "engine": statistics.engine,
            "dataScannedInBytes": statistics.data_scanned_in_bytes,
            "engineExecutionTimeInMillis": statistics.engine_execution_time_in_millis,
            "totalExecutionTimeInMillis": statistics.total_execution_time_in_millis,
            "submissionDateTime": _time(execution.submission_date_time),
            "completionDateTime": format_time(finished),
            **_refusal_facts(error.refusal if error else None),
        },
    )


def _time(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None


def _error_code(error: AthenaError | None) -> str | None:
    """``AccessDenied`` for a statement authorization refused (as S3 and IAM say it),
    else the code of the error that failed the execution."""
    if error is None:
        return None
    return SQL_REFUSED if error.refusal is not None else error.error_code


_REFUSAL_KEYS = ("role", "roleMapping", "deniedAction", "deniedResource", "deniedTable")


def _refusal_facts(refusal: Refusal | None) -> dict[str, str | None]:
    """The role a refused statement was judged as, and what was refused (all null for
    a statement that was not refused)."""
    if refusal is None:
        return dict.fromkeys(_REFUSAL_KEYS)
    values = (refusal.role, refusal.role_mapping, refusal.action, refusal.resource, refusal.table)
    return dict(zip(_REFUSAL_KEYS, values, strict=True))


def audit_recorder(
    trail: AuditTrail, account_id: str, region: str
) -> Callable[[QueryExecution], None]:
    """A ``QueryService.on_finished`` listener appending each execution's record to
    ``trail`` (durably, before the execution counts as done to ``wait``).

    Make it before the trail starts rolling: the completions already in its journal
    are remembered, and never recorded twice. A server killed between journaling a
    record and marking the execution heard is caught up with at the next start
    (``QueryService.make_listeners_durable``), and finds its record here.
    """
    journaled = {
        r.get("requestID") for r in trail.pending_records() if r.get("eventName") == COMPLETED_EVENT
    }

    def record(execution: QueryExecution) -> None:
        if execution.state_change_reason == RESTARTED_REASON:
            return  # not metered either (see module doc)
        if execution.query_execution_id in journaled:
            return
        trail.append(completed_record(execution, account_id, region))

    return record
