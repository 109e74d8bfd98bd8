"""Running one query execution, on a worker thread of ``QueryService``.

QUEUED -> RUNNING -> (reuse an earlier result | run the statement, write result
files) -> SUCCEEDED; errors become FAILED with Athena's AthenaError, cancellation
CANCELLED. Times are measured here for Athena's statistics:

* QueryQueueTime: submission until a worker picks the execution up;
* ServicePreProcessingTime: pick-up until the runner starts (the reuse check);
* EngineExecutionTime: the runner's whole run (planning included, as in Athena);
  QueryPlanningTime: the runner's planning part;
* ServiceProcessingTime: writing result files and recording the outcome;
* TotalExecutionTime: submission until completion.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shoal.errors import (
    BytesScannedCutoffError,
    NotAuthorizedError,
    QueryCancelledError,
    ShoalError,
)
from shoal.queries.classify import Statement
from shoal.queries.context import Authorizer, StatementContext, StatementOutcome, TableAccess
from shoal.queries.live import Live
from shoal.queries.model import (
    ACTIVE_STATES,
    CANCELLED,
    DUCKDB,
    ERROR_SYSTEM,
    ERROR_TYPE_INTERNAL,
    ERROR_TYPE_RESULT_WRITE,
    ERROR_TYPE_TIMEOUT,
    ERROR_TYPE_USER,
    ERROR_USER,
    FAILED,
    PLANNING,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    WRITING,
    AthenaError,
    QueryStatistics,
    Refusal,
    engine_of,
)
from shoal.queries.outputs import ResultOutputs
from shoal.queries.results import (
    StoredResult,
    delete_result_files,
    manifest_uri,
    result_file_uri,
    write_result_files,
)
from shoal.queries.reuse import fingerprint, fingerprint_tables, read_tables
from shoal.queries.runner import StatementRunner
from shoal.queries.store import ExecutionRecord, ExecutionStore, now
from shoal.storage.base import parse_uri

# ``(query_id, expected states, **values) -> stored?``: ``QueryService.store_final``.
StoreFinal = Callable[..., bool]

WRITES_MANIFEST = ("CREATE_TABLE_AS_SELECT", "INSERT", "UNLOAD")
TIMEOUT_REASON = "Query timeout: the query ran longer than the {minutes:g} minute limit"


@dataclass
class _Clock:
    submitted: float
    picked: float = 0.0
    engine_start: float = 0.0
    engine_end: float = 0.0

    def ms(self, start: float, end: float | None = None) -> int:
        """Whole milliseconds from ``start`` to ``end`` (now), rounded up: a phase
        that took any time at all is never reported as 0 ms (Athena never does)."""
        return max(0, math.ceil(((end or time.perf_counter()) - start) * 1000))


@dataclass(frozen=True)
class ExecutionWorker:
    """What a worker needs to run executions: the stored executions, the statement
    runner, the result outputs, and the worker's way of storing a final state."""

    executions: ExecutionStore
    runner: StatementRunner
    outputs: ResultOutputs
    store_final: StoreFinal
    timeout_seconds: float

    def run(self, live: Live) -> None:
        """Run ``live`` to a final state; never raises."""
        run(self, live)


def run(worker: ExecutionWorker, live: Live) -> None:
    """Run ``live`` to a final state; never raises."""
    clock = _Clock(live.submitted, picked=time.perf_counter())
    query_id = live.query_id
    if not worker.executions.transition(query_id, (QUEUED,), state=RUNNING):  # not final
        return  # stopped (or failed by a shutdown) before it started
    try:
        _run(worker, live, clock)
    except QueryCancelledError as err:
        _cancelled(worker, live, clock, err)
    except Exception as err:  # noqa: BLE001 - every failure becomes FAILED, never lost
        _failed(worker, live, clock, _athena_error(err), str(_message(err)))


def _run(worker: ExecutionWorker, live: Live, clock: _Clock) -> None:
    if live.refusal is not None:  # refused when it was submitted (QueryService.start)
        raise live.refusal
    execution = live.record.execution
    token = live.token
    assert token is not None  # set by the worker before this runs
    token.enter(PLANNING)
    statement = live.statement
    if isinstance(statement, ShoalError):  # found when it was submitted
        raise statement
    authorize = _bound_authorizer(live, statement)
    if execution.result_reuse_max_age_minutes and _reuse(worker, live, clock, authorize):
        return
    context = StatementContext(
        query_id=execution.query_execution_id,
        database=execution.database or "default",
        parameters=statement.parameters,
        output_location=live.output_folder,
        cancel=token,
        bytes_scanned_cutoff=live.cutoff,
        authorize=authorize,
        visible=live.visible,
        engine=_pinned_engine(execution.engine_version),
        on_engine=live.ran_on,
    )
    # Before running: a CTAS without external_location writes its table in there.
    worker.outputs.ensure_bucket(live.output_folder)
    clock.engine_start = time.perf_counter()
    outcome = worker.runner.run(statement, context)
    clock.engine_end = time.perf_counter()
    if live.cutoff is not None and outcome.bytes_scanned > live.cutoff:
        raise BytesScannedCutoffError(live.cutoff, outcome.bytes_scanned)
    if token.cancelled:
        raise QueryCancelledError(f"query {token.reason}")
    _succeeded(worker, live, clock, outcome)


def _pinned_engine(engine_version: str) -> str | None:
    """The engine a query's EngineVersion pins it to ("spark"), or ``AUTO`` (the
    runner routes it once planned); None: the runner's default engine (DuckDB in
    ``Shoal``; the one engine of a runner built with one)."""
    engine = engine_of(engine_version)
    return None if engine == DUCKDB else engine


def _bound_authorizer(live: Live, statement: Statement) -> Authorizer | None:
    """The caller's check for this statement (its kind picks the Glue write action)."""
    check = live.authorize
    if check is None:
        return None
    return lambda accesses: check(statement, accesses)


def _succeeded(
    worker: ExecutionWorker, live: Live, clock: _Clock, outcome: StatementOutcome
) -> None:
    execution = live.record.execution
    query_id = execution.query_execution_id
    header = outcome.statement_type == "DML"
    # Athena answers DDL and SHOW/DESCRIBE on its Hive side; EXPLAIN on Trino's.
    hive = not header and outcome.substatement_type != "EXPLAIN"
    result = StoredResult.from_table(outcome.rows, header, outcome.update_count, hive)
    output = result_file_uri(live.output_folder, query_id, outcome.statement_type)
    manifest = None
    if outcome.substatement_type in WRITES_MANIFEST or outcome.data_files:
        manifest = manifest_uri(live.output_folder, query_id)
    token = live.token
    assert token is not None  # set by the worker before this runs
    token.enter(WRITING)
    try:
        worker.outputs.ensure_bucket(live.output_folder)
        write_result_files(
            worker.runner.storage,
            output,
            result,
            manifest,
            outcome.data_files,
            worker.outputs.file_writers,
            token,
        )
    except QueryCancelledError:
        raise
    except ShoalError as err:
        error = AthenaError(ERROR_USER, ERROR_TYPE_RESULT_WRITE, False, err.message)
        _failed(worker, live, clock, error, f"Unable to write query results: {err.message}")
        return
    statistics = _statistics(
        clock,
        live,
        engine_execution_time_in_millis=clock.ms(clock.engine_start, clock.engine_end),
        data_scanned_in_bytes=outcome.bytes_scanned,
        query_planning_time_in_millis=round(outcome.planning_ms),
        data_manifest_location=manifest,
    )
    fingerprint_ = None
    if execution.result_reuse_max_age_minutes is not None and outcome.substatement_type == "SELECT":
        tables = read_tables(outcome.accesses)
        # Anything changed since submission may or may not be in the result: no reuse.
        started = execution.submission_date_time
        fingerprint_ = fingerprint(worker.runner.catalog, worker.runner.storage, tables, started)
    _unless_stopped(worker, live, output, manifest)
    worker.outputs.cache.put(query_id, result)
    worker.store_final(
        query_id,
        (RUNNING,),
        state=SUCCEEDED,
        statement_type=outcome.statement_type,
        substatement_type=outcome.substatement_type,
        output_location=output,
        update_count=outcome.update_count,
        result_columns=result.columns,
        statistics=statistics,
        reuse_fingerprint=fingerprint_,
        completion_time=now(),
    )


def _reuse(
    worker: ExecutionWorker, live: Live, clock: _Clock, authorize: Authorizer | None = None
) -> bool:
    """Finish ``live`` with an earlier identical result if one may stand in; True if so.

    A reused result still needs the caller's permission to read what it came from.
    """
    execution = live.record.execution
    minutes = execution.result_reuse_max_age_minutes or 0
    since = execution.submission_date_time - timedelta(minutes=minutes)
    for earlier in worker.executions.reuse_candidates(live.record.reuse_key or "", since):
        if not _still_valid(worker, earlier):
            continue
        if authorize is not None and earlier.reuse_fingerprint is not None:
            tables = fingerprint_tables(earlier.reuse_fingerprint)
            authorize([TableAccess(d, t, "read") for d, t in tables])
        if _copy_result(worker, live, earlier, clock):
            return True
    return False


def _still_valid(worker: ExecutionWorker, earlier: ExecutionRecord) -> bool:
    stored = earlier.reuse_fingerprint
    if stored is None:
        return False
    tables = fingerprint_tables(stored)
    return fingerprint(worker.runner.catalog, worker.runner.storage, tables) == stored


def _copy_result(
    worker: ExecutionWorker, live: Live, earlier: ExecutionRecord, clock: _Clock
) -> bool:
    """Give ``live`` its own copy of the earlier result files; record SUCCEEDED."""
    source = earlier.execution
    query_id = live.query_id
    if not source.output_location or earlier.result_columns is None:
        return False
    output = result_file_uri(live.output_folder, query_id, source.statement_type)
    if live.token is not None:
        live.token.enter(WRITING)
    try:
        worker.outputs.ensure_bucket(live.output_folder)
        _copy(worker, source.output_location, output)
        if output.endswith(".csv"):
            _copy(worker, source.output_location + ".metadata", output + ".metadata")
        result = worker.outputs.result(source.query_execution_id)
    except ShoalError:
        return False  # the earlier files are gone: run the query instead
    _unless_stopped(worker, live, output)
    worker.outputs.cache.put(query_id, result)
    statistics = _statistics(clock, live, reused_previous_result=True)
    return worker.store_final(
        query_id,
        (RUNNING,),
        state=SUCCEEDED,
        statement_type=source.statement_type,
        substatement_type=source.substatement_type,
        output_location=output,
        update_count=source.update_count,
        result_columns=earlier.result_columns,
        statistics=statistics,
        completion_time=now(),
    )


def _unless_stopped(
    worker: ExecutionWorker, live: Live, output: str, manifest: str | None = None
) -> None:
    """Raise QueryCancelledError if ``live`` was stopped while its result files were
    stored, deleting them: a stop heard before SUCCEEDED is recorded wins."""
    token = live.token
    if token is not None and token.cancelled:
        delete_result_files(worker.runner.storage, output, manifest)
        raise QueryCancelledError(f"query {token.reason}")


def _copy(worker: ExecutionWorker, source: str, target: str) -> None:
    source_bucket, source_key = parse_uri(source)
    target_bucket, target_key = parse_uri(target)
    data = worker.runner.storage.read(source_bucket, source_key)
    worker.runner.storage.put(target_bucket, target_key, data)


def _cancelled(
    worker: ExecutionWorker, live: Live, clock: _Clock, err: QueryCancelledError
) -> None:
    token = live.token
    if token is not None and token.reason == "timed out":
        minutes = worker.timeout_seconds / 60
        reason = TIMEOUT_REASON.format(minutes=minutes)
        error = AthenaError(ERROR_USER, ERROR_TYPE_TIMEOUT, False, reason)
        _failed(worker, live, clock, error, reason)
        return
    scanned, reason = 0, token.reason if token is not None else err.message
    if isinstance(err, BytesScannedCutoffError):
        scanned, reason = err.bytes_scanned, err.message
    statistics = _statistics(clock, live, data_scanned_in_bytes=scanned)
    worker.store_final(
        live.query_id,
        ACTIVE_STATES,
        state=CANCELLED,
        state_change_reason=reason,
        statistics=statistics,
        completion_time=now(),
    )


def _failed(
    worker: ExecutionWorker, live: Live, clock: _Clock, error: AthenaError, reason: str
) -> None:
    worker.store_final(
        live.query_id,
        ACTIVE_STATES,
        state=FAILED,
        state_change_reason=reason,
        athena_error=error,
        statistics=_statistics(clock, live),
        completion_time=now(),
    )


def _statistics(clock: _Clock, live: Live, **values: Any) -> QueryStatistics:
    """Statistics with the worker's own times measured up to now, the engine the query
    was given to, plus ``values``."""
    end = time.perf_counter()
    engine_start = clock.engine_start or clock.picked
    engine_end = clock.engine_end or engine_start
    return QueryStatistics(
        total_execution_time_in_millis=clock.ms(clock.submitted, end),
        query_queue_time_in_millis=clock.ms(clock.submitted, clock.picked),
        service_pre_processing_time_in_millis=clock.ms(clock.picked, engine_start),
        service_processing_time_in_millis=clock.ms(engine_end, end),
        engine=live.engine,
        **values,
    )


def _athena_error(err: Exception) -> AthenaError:
    """User errors (bad SQL, unknown tables, refused access) are category 2; a refusal
    keeps what was refused, for the audit record."""
    if isinstance(err, NotAuthorizedError):
        refusal = Refusal(err.action, err.resource, err.role, err.role_mapping, err.table)
        return AthenaError(ERROR_USER, ERROR_TYPE_USER, False, err.message, err.code, refusal)
    if isinstance(err, ShoalError) and err.status < 500:
        return AthenaError(ERROR_USER, ERROR_TYPE_USER, False, err.message, err.code)
    code = err.code if isinstance(err, ShoalError) else ShoalError.code
    return AthenaError(ERROR_SYSTEM, ERROR_TYPE_INTERNAL, True, _message(err), code)


def _message(err: Exception) -> str:
    if isinstance(err, ShoalError):
        return err.message
    return f"internal error: {type(err).__name__}: {err}"
