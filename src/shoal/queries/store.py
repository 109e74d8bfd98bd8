"""Query executions in the state database: history that survives a restart.

State changes are compare-and-set on the current state (``QUEUED -> RUNNING`` only
from QUEUED, a finish only from RUNNING), so a stop and a finish racing each other,
or two processes sharing the database, never overwrite a final state.

Each live service stamps its executions with an ``owner`` (host, pid, instance) and
refreshes ``heartbeat_time`` while they run; an active execution whose owner is gone
(a dead pid on this host, or no heartbeat for ``STALE_AFTER``) was orphaned by a
crash and is marked FAILED when a service starts.

A finished execution never changes again (no transition leaves a final state, and
executions are never deleted), and neither does any execution's workgroup: the store
keeps the most recent of both in memory, so polling a finished execution, paging
its results and authorizing by workgroup read no database. Active executions are
always read from the database, where another process may have stopped them.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Insert,
    Update,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from shoal.catalog.connection import StateDatabase
from shoal.errors import InvalidRequestError, QueryExecutionNotFoundError
from shoal.lru import LruCache
from shoal.queries.model import (
    ACTIVE_STATES,
    ENGINE_VERSION,
    ERROR_SYSTEM,
    ERROR_TYPE_INTERNAL,
    FAILED,
    FINISHED_STATES,
    RESTARTED_REASON,
    AthenaError,
    ColumnInfo,
    QueryExecution,
    QueryStatistics,
)
from shoal.queries.schema import query_executions as executions

STALE_AFTER = timedelta(seconds=60)
KEPT_FINISHED = 4096  # finished executions kept in memory
KEPT_WORKGROUPS = 65536  # execution id -> workgroup, kept in memory
# Built once: executions are read by id on every poll.
_BY_ID = select(executions).where(executions.c.id == bindparam("id"))
_WORKGROUP_BY_ID = select(executions.c.workgroup).where(executions.c.id == bindparam("id"))
_BY_TOKEN = select(executions).where(executions.c.client_request_token == bindparam("token"))


@cache
def _insert(columns: tuple[str, ...]) -> Insert:
    """INSERT of ``columns`` (values by name): built once per column set."""
    return insert(executions).values({name: _bind(name) for name in columns})


@cache
def _transition(columns: tuple[str, ...], expected: int) -> Update:
    """UPDATE of ``columns`` where id is ``query_id`` and the state one of ``expected_0``…"""
    states = [bindparam(f"expected_{i}", type_=executions.c.state.type) for i in range(expected)]
    return (
        update(executions)
        .where(executions.c.id == bindparam("query_id"), executions.c.state.in_(states))
        .values({name: _bind(name) for name in columns})
    )


def _bind(column: str) -> BindParameter[Any]:
    # Named after the column: a prepared statement takes its values by name.
    return bindparam(column, type_=executions.c[column].type)


_LISTENERS_RAN = (
    update(executions)
    .where(executions.c.id == bindparam("query_id"))
    .values(listeners_pending=_bind("listeners_pending"))
)


def now() -> datetime:
    return datetime.now(UTC)


def new_owner() -> str:
    """An owner stamp for one service instance: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


@dataclass(frozen=True)
class ExecutionRecord:
    """An execution with what the service keeps beside Athena's fields."""

    execution: QueryExecution
    result_columns: tuple[ColumnInfo, ...] | None = None
    reuse_key: str | None = None
    reuse_fingerprint: dict[str, Any] | None = None
    client_request_token: str | None = None
    request_hash: str | None = None


class ExecutionStore:
    """Reads and writes ``query_executions``."""

    def __init__(self, state: StateDatabase, owner: str) -> None:
        self.state = state
        self.owner = owner
        self._finished: LruCache[ExecutionRecord] = LruCache(KEPT_FINISHED)
        self._workgroups: LruCache[str] = LruCache(KEPT_WORKGROUPS)

    def insert(self, record: ExecutionRecord) -> bool:
        """Store a new execution; False when its ClientRequestToken is already taken."""
        values = _values(record.execution)
        values.update(
            reuse_key=record.reuse_key,
            client_request_token=record.client_request_token,
            request_hash=record.request_hash,
            owner=self.owner,
            heartbeat_time=now(),
        )
        try:
            self.state.execute(_insert(tuple(values)), values)
        except IntegrityError:
            return False
        self._workgroups.put(record.execution.query_execution_id, record.execution.workgroup)
        return True

    def get(self, query_id: str) -> ExecutionRecord:
        """One execution; QueryExecutionNotFoundError when unknown."""
        kept = self._finished.get(query_id)
        if kept is not None:
            return kept
        row = self.state.first(_BY_ID, {"id": query_id})
        if row is None:
            raise QueryExecutionNotFoundError(f"QueryExecution {query_id} was not found")
        record = _record(row)
        self._keep(record)
        return record

    def workgroup_of(self, query_id: str) -> str:
        """The workgroup of an execution (it never changes); QueryExecutionNotFoundError
        when unknown."""
        workgroup = self._workgroups.get(query_id)
        if workgroup is not None:
            return workgroup
        row = self.state.first(_WORKGROUP_BY_ID, {"id": query_id})
        if row is None:
            raise QueryExecutionNotFoundError(f"QueryExecution {query_id} was not found")
        workgroup = str(row["workgroup"])
        self._workgroups.put(query_id, workgroup)
        return workgroup

    def _keep(self, record: ExecutionRecord) -> None:
        execution = record.execution
        self._workgroups.put(execution.query_execution_id, execution.workgroup)
        if execution.state in FINISHED_STATES:  # else it may still change, anywhere
            self._finished.put(execution.query_execution_id, record)

    def by_token(self, token: str) -> ExecutionRecord | None:
        """The execution started with ClientRequestToken ``token``, if any."""
        # boto3 sends a fresh token with every StartQueryExecution: a prepared read.
        row = self.state.first(_BY_TOKEN, {"token": token})
        return None if row is None else _record(row)

    def transition(self, query_id: str, expected: Sequence[str], **values: Any) -> bool:
        """Set ``values`` if the execution is in one of the ``expected`` states."""
        for name in ("statistics", "athena_error"):
            if name in values and values[name] is not None:
                values[name] = asdict(values[name])
        if values.get("result_columns") is not None:
            values["result_columns"] = [asdict(c) for c in values["result_columns"]]
        statement = _transition(tuple(values), len(expected))
        where = {f"expected_{i}": state for i, state in enumerate(expected)}
        return self.state.execute(statement, {**values, **where, "query_id": query_id}) == 1

    def page(
        self, workgroup: str | None, limit: int, next_token: str | None
    ) -> tuple[list[QueryExecution], str | None]:
        """Executions newest first; the token is the last (time, id) of the previous page."""
        query = select(executions).order_by(
            executions.c.submission_time.desc(), executions.c.id.desc()
        )
        if workgroup is not None:
            query = query.where(executions.c.workgroup == workgroup)
        if next_token:
            when, last_id = _decode_token(next_token)
            query = query.where(
                or_(
                    executions.c.submission_time < when,
                    and_(executions.c.submission_time == when, executions.c.id < last_id),
                )
            )
        with self.state.read() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
        found = [_execution(row._mapping) for row in rows[:limit]]
        token = None
        if len(rows) > limit:
            last = found[-1]
            token = _encode_token(last.submission_date_time, last.query_execution_id)
        return found, token

    def many(self, ids: Iterable[str]) -> list[QueryExecution]:
        wanted = list(ids)
        with self.state.read() as conn:
            rows = conn.execute(select(executions).where(executions.c.id.in_(wanted))).all()
        by_id = {row._mapping["id"]: _execution(row._mapping) for row in rows}
        return [by_id[i] for i in wanted if i in by_id]

    def states(self, ids: Iterable[str]) -> dict[str, str]:
        wanted = list(ids)
        if not wanted:
            return {}
        with self.state.read() as conn:
            rows = conn.execute(
                select(executions.c.id, executions.c.state).where(executions.c.id.in_(wanted))
            ).all()
        return {row[0]: row[1] for row in rows}

    def heartbeat(self, ids: Iterable[str]) -> None:
        wanted = list(ids)
        if wanted:
            with self.state.write() as conn:
                conn.execute(
                    update(executions)
                    .where(executions.c.id.in_(wanted), executions.c.owner == self.owner)
                    .values(heartbeat_time=now())
                )

    def unheard(self) -> list[QueryExecution]:
        """Final executions whose finished-listeners have not all run, of dead owners
        (a crash came between the final state and the listeners)."""
        with self.state.read() as conn:
            rows = conn.execute(
                select(executions).where(executions.c.listeners_pending.is_(True))
            ).all()
        found = [row._mapping for row in rows]
        return [
            _execution(row)
            for row in found
            if row["state"] in FINISHED_STATES
            and _orphaned(row["owner"], row["heartbeat_time"], self.owner)
        ]

    def listeners_ran(self, query_id: str) -> None:
        """Clear an execution's ``listeners_pending`` mark."""
        self.state.execute(_LISTENERS_RAN, {"query_id": query_id, "listeners_pending": False})

    def reuse_candidates(self, reuse_key: str, since: datetime) -> list[ExecutionRecord]:
        """Succeeded executions with this reuse key finished after ``since``, newest first."""
        with self.state.read() as conn:
            rows = conn.execute(
                select(executions)
                .where(
                    executions.c.reuse_key == reuse_key,
                    executions.c.state == "SUCCEEDED",
                    executions.c.completion_time >= since,
                    executions.c.reuse_fingerprint.is_not(None),
                )
                .order_by(executions.c.completion_time.desc())
                .limit(5)
            ).all()
        return [_record(row._mapping) for row in rows]

    def recover_orphans(self) -> int:
        """Mark active executions of dead owners FAILED; returns how many."""
        with self.state.read() as conn:
            rows = conn.execute(
                select(executions.c.id, executions.c.owner, executions.c.heartbeat_time).where(
                    executions.c.state.in_(ACTIVE_STATES)
                )
            ).all()
        orphans = [row[0] for row in rows if _orphaned(row[1], row[2], self.owner)]
        error = AthenaError(ERROR_SYSTEM, ERROR_TYPE_INTERNAL, True, RESTARTED_REASON)
        for query_id in orphans:
            self.transition(
                query_id,
                ACTIVE_STATES,
                state=FAILED,
                state_change_reason=RESTARTED_REASON,
                athena_error=error,
                completion_time=now(),
            )
        return len(orphans)


def _orphaned(owner: str | None, heartbeat: datetime | None, me: str) -> bool:
    if owner == me:
        return False
    if heartbeat is None or now() - heartbeat > STALE_AFTER or not owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _encode_token(when: datetime, query_id: str) -> str:
    raw = json.dumps({"t": when.isoformat(), "id": query_id}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(document["t"]), str(document["id"])
    except (ValueError, KeyError, TypeError):
        raise InvalidRequestError("the NextToken is not valid") from None


def _values(execution: QueryExecution) -> dict[str, Any]:
    return {
        "id": execution.query_execution_id,
        "query": execution.query,
        "workgroup": execution.workgroup,
        "catalog": execution.catalog,
        "database": execution.database,
        "state": execution.state,
        "state_change_reason": execution.state_change_reason,
        "statement_type": execution.statement_type,
        "substatement_type": execution.substatement_type,
        "output_location": execution.output_location,
        "execution_parameters": list(execution.execution_parameters),
        "submission_time": execution.submission_date_time,
        "completion_time": execution.completion_date_time,
        "statistics": asdict(execution.statistics),
        "athena_error": asdict(execution.athena_error) if execution.athena_error else None,
        "update_count": execution.update_count,
        "reuse_max_age_minutes": execution.result_reuse_max_age_minutes,
        "user_name": execution.user,
        "engine_version": execution.engine_version,
    }


def _execution(row: Any) -> QueryExecution:
    error = row["athena_error"]
    return QueryExecution(
        query_execution_id=row["id"],
        query=row["query"],
        workgroup=row["workgroup"],
        state=row["state"],
        submission_date_time=row["submission_time"],
        database=row["database"],
        catalog=row["catalog"],
        statement_type=row["statement_type"],
        substatement_type=row["substatement_type"],
        output_location=row["output_location"],
        execution_parameters=tuple(row["execution_parameters"]),
        state_change_reason=row["state_change_reason"],
        completion_date_time=row["completion_time"],
        athena_error=AthenaError.from_dict(error) if error else None,
        statistics=QueryStatistics(**row["statistics"]),
        result_reuse_max_age_minutes=row["reuse_max_age_minutes"],
        update_count=row["update_count"],
        user=row["user_name"],
        engine_version=row["engine_version"] or ENGINE_VERSION,
    )


def _record(row: Any) -> ExecutionRecord:
    columns = row["result_columns"]
    return ExecutionRecord(
        execution=_execution(row),
        result_columns=None if columns is None else tuple(ColumnInfo(**c) for c in columns),
        reuse_key=row["reuse_key"],
        reuse_fingerprint=row["reuse_fingerprint"],
        client_request_token=row["client_request_token"],
        request_hash=row["request_hash"],
    )
