"""``QueryService``: Athena's query executions over the statement runner.

start -> QUEUED (persisted) -> a bounded pool picks it up -> RUNNING -> the runner
runs the statement -> result files written -> SUCCEEDED; or FAILED (with an
AthenaError) or CANCELLED (stop, bytes-scanned cutoff). Every transition is a
compare-and-set in the state database, so history survives restarts and a stop
never loses to a finishing query. The Athena API, the CLI and the console call the
methods here; each maps to one Athena operation:

* ``start`` StartQueryExecution, ``get`` GetQueryExecution, ``batch_get``
  BatchGetQueryExecution, ``list_executions`` ListQueryExecutions, ``stop``
  StopQueryExecution, ``get_results`` GetQueryResults;
* ``workgroups`` (a ``WorkGroupStore``): work groups, named queries, prepared statements.

A statement is classified and bound once, when it is submitted (``Statement``), and
carried to the worker. Next to this module, each with one job: ``live`` (what an
owned execution carries), ``execution`` (a worker's road for one execution, on an
``ExecutionWorker``), ``outputs`` (result files, the results bucket, the cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any

from shoal.catalog.connection import StateDatabase
from shoal.catalog.store import CatalogStore
from shoal.engine.athena import parse
from shoal.engine.base import CancelToken
from shoal.errors import (
    IdempotentParameterMismatchError,
    InvalidRequestError,
    NotAuthorizedError,
    QueryExecutionNotFoundError,
    ShoalError,
    WorkGroupDisabledError,
)
from shoal.queries import information_schema
from shoal.queries.classify import Statement
from shoal.queries.context import StatementContext, TableAccess, Visibility
from shoal.queries.estimate import estimate_plan
from shoal.queries.execution import ExecutionWorker
from shoal.queries.live import Live, StatementAuthorizer
from shoal.queries.model import (
    ACTIVE_STATES,
    CANCELLED,
    DISABLED,
    FAILED,
    PRIMARY,
    QUEUED,
    RESTARTED_REASON,
    QueryExecution,
    ResultSet,
    WorkGroup,
)
from shoal.queries.outputs import ResultOutputs
from shoal.queries.parameters import bind_values, is_unicode_text, parse_execute
from shoal.queries.results import DEFAULT_CACHE_BYTES, MAX_PAGE, StoredResult, result_file_uri
from shoal.queries.reuse import reuse_key
from shoal.queries.runner import StatementRunner
from shoal.queries.store import ExecutionRecord, ExecutionStore, new_owner, now
from shoal.queries.workgroups import WorkGroupStore
from shoal.storage.base import Storage, parse_uri

log = logging.getLogger("shoal.queries")

DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT_SECONDS = 30 * 60.0
MAX_QUERY_LENGTH = 262_144  # Athena's QueryString limit
MAX_BATCH = 50
CANCELLED_BY_USER = "Query cancelled by user"
_MONITOR_SECONDS = 0.5
_HEARTBEAT_SECONDS = 10.0


# --- usage hooks (shoal.audit.quotas, shoal.audit.usage) ---
# ``(user, workgroup) -> None``: raises (QuotaExceededError) to refuse a new query.
Admission = Callable[[str | None, str], None]
# Called with each execution a worker finished (audit record, quota thresholds).
FinishedListener = Callable[[QueryExecution], None]
# ``(query_id, phase) -> None``: a running execution began ``phase`` (model.PLANNING …).
PhaseListener = Callable[[str, str], None]


class QueryService:
    """Query executions with Athena semantics; safe to call from many threads.

    Args:
        state: the state database (executions, workgroups … live there).
        catalog, storage, runner: what statements run against.
        account_id, region: name the default results bucket
            ``aws-athena-query-results-<account>-<region>``, created on first use.
        max_concurrent: executions running at once; more wait QUEUED.
        timeout_seconds: per-execution time limit (Athena's default is 30 minutes).
        result_cache_bytes: Arrow results kept in memory for paging.
        admission: asked before a new query is stored; raises to refuse it (quotas).
        on_finished: called with each execution a worker finished, before ``wait``
            returns it (the audit record, quota thresholds).

    ``on_phase`` listeners hear, on the worker's thread, each step a running execution
    begins (``phase`` says which it is in now).
    """

    def __init__(
        self,
        state: StateDatabase,
        catalog: CatalogStore,
        storage: Storage,
        runner: StatementRunner,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        max_concurrent: int = DEFAULT_CONCURRENCY,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        result_cache_bytes: int = DEFAULT_CACHE_BYTES,
        admission: Admission | None = None,
        on_finished: list[FinishedListener] | None = None,
    ) -> None:
        self.catalog = catalog
        self.storage = storage
        self.runner = runner
        self.timeout_seconds = timeout_seconds
        self.results_bucket = f"aws-athena-query-results-{account_id}-{region}"
        self.executions = ExecutionStore(state, new_owner())
        self.workgroups = WorkGroupStore(state, f"s3://{self.results_bucket}/")
        self.workgroups.ensure_primary()
        self.outputs = ResultOutputs(
            storage, self.executions, self.results_bucket, result_cache_bytes, max_concurrent
        )
        self.cache = self.outputs.cache
        self._worker = ExecutionWorker(
            self.executions, runner, self.outputs, self.store_final, timeout_seconds
        )
        self._live: dict[str, Live] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._pool = ThreadPoolExecutor(max_concurrent, thread_name_prefix="shoal-query")
        self.recovered = self.executions.recover_orphans()
        self._monitor = threading.Thread(target=self._watch, name="shoal-query-monitor")
        self._monitor.daemon = True
        self._monitor.start()
        # Usage hooks; ``on_finished`` is kept, not copied, so listeners added later count.
        self.admission = admission
        self.on_finished = on_finished if on_finished is not None else []
        self.on_phase: list[PhaseListener] = []
        self._durable_listeners = False  # make_listeners_durable turns it on

    # --- StartQueryExecution -----------------------------------------------------------

    def start(
        self,
        sql: str,
        database: str | None = None,
        workgroup: str = PRIMARY,
        output_location: str | None = None,
        parameters: Sequence[str] = (),
        client_request_token: str | None = None,
        result_reuse_max_age_minutes: int | None = None,
        user: str | None = None,
        catalog: str = "AwsDataCatalog",
        authorize: StatementAuthorizer | None = None,
        visible: Visibility | None = None,
    ) -> str:
        """Queue ``sql`` and return its new execution id (a UUID).

        ``parameters`` are Athena ExecutionParameters: literal texts bound to ``?``.
        The same ``client_request_token`` with the same request returns the first id;
        with a different request it raises IdempotentParameterMismatchError.
        ``authorize`` is asked about every table and location the statement touches
        before it runs (None: no checks); ``visible`` filters what SHOW statements list.
        """
        if self._closed.is_set():
            raise InvalidRequestError("the query service is shutting down")
        request = {
            "sql": sql,
            "database": database,
            "workgroup": workgroup,
            "output": output_location,
            "parameters": list(parameters),
            "reuse": result_reuse_max_age_minutes,
            "catalog": catalog,
        }
        request_hash = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        if client_request_token:
            earlier = self._by_token(client_request_token, request_hash)
            if earlier:
                return earlier
        group = self.workgroups.get_workgroup(workgroup)
        if self.admission is not None:
            self.admission(user, group.name)  # quotas: refused before anything is stored
        record, live = self._prepare(
            sql, database, group, output_location, parameters, result_reuse_max_age_minutes
        )
        record = replace(
            record,
            execution=replace(record.execution, user=user, catalog=catalog),
            client_request_token=client_request_token,
            request_hash=request_hash,
        )
        live.record = record
        live.authorize, live.visible = authorize, visible
        live.refusal = self._refused_at_submission(sql, live.statement, database, authorize)
        if not self.executions.insert(record):  # the token was taken meanwhile
            earlier = self._by_token(client_request_token or "", request_hash)
            if earlier:
                return earlier
            raise InvalidRequestError("could not store the query execution")
        with self._lock:
            self._live[live.query_id] = live
        self._pool.submit(self._run, live)
        return live.query_id

    def _refused_at_submission(
        self,
        sql: str,
        statement: Statement | ShoalError,
        database: str | None,
        authorize: StatementAuthorizer | None,
    ) -> NotAuthorizedError | None:
        """A query's refusal, known before StartQueryExecution answers (so its audit
        record can say so); None when allowed, or when only the run can tell.

        A plain query (SELECT, WITH, VALUES) has its reads, views expanded, authorized
        now as its run would (the resolution is cached for the run); the run checks
        again against the catalog and policies of its own time. Other statements,
        EXECUTE and queries of information_schema are checked only when they run.
        Any other error here (bad SQL, unknown table) is left for the run to report.
        """
        if authorize is None or information_schema.mentioned(sql):
            return None
        # Not a query, not a statement, or EXECUTE (its statement is the prepared one).
        if not isinstance(statement, Statement) or statement.kind != "SELECT":
            return None
        if statement.sql != sql:
            return None
        try:
            prepared = self.runner.planner.prepare(sql, database or "default", _any_count)
            reads = [TableAccess(r.database, r.table, "read") for r in prepared.resolution.reads]
            authorize(statement, reads)
        except NotAuthorizedError as refusal:
            return refusal
        except (ShoalError, RecursionError):
            return None
        return None

    def _by_token(self, token: str, request_hash: str) -> str | None:
        earlier = self.executions.by_token(token)
        if earlier is None:
            return None
        if earlier.request_hash != request_hash:
            raise IdempotentParameterMismatchError(
                "ClientRequestToken was already used with different request parameters"
            )
        return earlier.execution.query_execution_id

    def _prepare(
        self,
        sql: str,
        database: str | None,
        group: WorkGroup,
        output_location: str | None,
        parameters: Sequence[str],
        reuse_minutes: int | None,
    ) -> tuple[ExecutionRecord, Live]:
        if group.state == DISABLED:
            raise WorkGroupDisabledError(f"WorkGroup {group.name} is disabled.")
        if not sql.strip() or len(sql) > MAX_QUERY_LENGTH:
            raise InvalidRequestError(f"QueryString must be 1 to {MAX_QUERY_LENGTH} characters")
        if not is_unicode_text(sql):
            raise InvalidRequestError("QueryString must be Unicode text (no lone surrogates)")
        if reuse_minutes is not None and not 0 <= reuse_minutes <= 10080:
            raise InvalidRequestError("MaxAgeInMinutes must be between 0 and 10080")
        values = bind_values(parameters)  # refuse non-literals now, as Athena does
        folder = self._output_folder(group, output_location)
        query_id = str(uuid.uuid4())
        statement = self._statement(sql, group.name, parameters, values)
        statement_type = substatement = None
        if isinstance(statement, Statement):
            statement_type, substatement = statement.statement_type, statement.kind
        execution_ = QueryExecution(
            query_execution_id=query_id,
            query=sql,
            workgroup=group.name,
            state=QUEUED,
            submission_date_time=now(),
            database=database,
            statement_type=statement_type,
            substatement_type=substatement,
            output_location=result_file_uri(folder, query_id, statement_type),
            execution_parameters=tuple(parameters),
            result_reuse_max_age_minutes=reuse_minutes,
            engine_version=group.configuration.selected_engine_version,
        )
        key = reuse_key(sql, "awsdatacatalog", database, group.name, parameters)
        record = ExecutionRecord(execution_, reuse_key=key)
        cutoff = group.configuration.bytes_scanned_cutoff_per_query
        return record, Live(record, folder, cutoff, time.perf_counter(), statement)

    def _output_folder(self, group: WorkGroup, requested: str | None) -> str:
        """The request's location, else the workgroup's (always the workgroup's when it
        enforces its configuration), else the default results bucket."""
        configured = group.configuration.output_location
        if group.configuration.enforce_work_group_configuration and configured:
            folder = configured
        else:
            folder = requested or configured or f"s3://{self.results_bucket}/"
        parse_uri(folder)
        return folder

    def _statement(
        self, sql: str, workgroup: str, texts: Sequence[str], values: Sequence[Any]
    ) -> Statement | ShoalError:
        """The statement to run, classified and bound once: ``sql`` with ``values``, or
        for EXECUTE the prepared statement with the USING values then ``texts``.

        An error (unknown statement, unknown prepared statement) is returned, not
        raised: the execution is stored and fails with it when it runs, as in Athena.
        """
        try:
            execute = parse_execute(sql)
            if execute is None:
                return Statement.of(sql, values)
            prepared = self.workgroups.get_prepared_statement(workgroup, execute.name)
            bound = bind_values([*execute.values, *texts])
            return Statement.of(prepared.query_statement, bound)
        except ShoalError as err:
            return err

    # --- running -----------------------------------------------------------------------

    def _run(self, live: Live) -> None:
        try:
            with self._lock:
                if live.cancelled or self._closed.is_set():
                    return
                entered = partial(self._entered, live.query_id)
                live.token = CancelToken(timeout=self.timeout_seconds, on_phase=entered)
            self._worker.run(live)
        finally:
            with self._lock:  # with ``when_final``'s check: no callback is missed
                live.final.set()
                callbacks = list(live.on_final)
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # a waiter's failure must not lose the worker
                    log.exception("query %s: final-state callback failed", live.query_id)
            self._tell_finished(live.query_id)
            with self._lock:
                self._live.pop(live.query_id, None)
            live.done.set()

    def _entered(self, query_id: str, phase: str) -> None:
        """Tell the ``on_phase`` listeners that ``query_id`` began ``phase``."""
        log.debug("query %s: %s", query_id, phase)
        for listener in list(self.on_phase):
            try:
                listener(query_id, phase)
            except Exception:  # a listener's failure must not fail the query
                log.exception("query %s: phase listener failed", query_id)

    def store_final(self, query_id: str, expected: Sequence[str], **values: Any) -> bool:
        """Store a final state (``values``) if the execution is in an ``expected`` state.

        With durable listeners (``make_listeners_durable``) it is stored marked as not
        yet heard by the ``on_finished`` listeners, in the same statement.
        """
        if self._durable_listeners:
            values["listeners_pending"] = True
        return self.executions.transition(query_id, expected, **values)

    def make_listeners_durable(self) -> int:
        """Have ``on_finished`` hear of every execution at least once, crashes included.

        From now on a final state is stored marked until every listener has run on it;
        executions a dead process left marked (it stopped between storing a final state
        and its listeners: no audit record, no quota check) are heard now. The API
        server calls this once its listeners are in place. Returns how many were.
        """
        self._durable_listeners = True
        caught_up = self.executions.unheard()
        for unheard in caught_up:
            if self._run_listeners(unheard):
                self.executions.listeners_ran(unheard.query_execution_id)
        return len(caught_up)

    def _tell_finished(self, query_id: str) -> None:
        """Run the usage listeners; before ``wait`` returns, so its caller sees them done."""
        if not self.on_finished:
            return
        try:
            found = self.get(query_id)
        except ShoalError:
            return
        if not found.finished:
            return
        if self._run_listeners(found) and self._durable_listeners:
            self.executions.listeners_ran(query_id)

    def _run_listeners(self, execution: QueryExecution) -> bool:
        """Tell every ``on_finished`` listener; False if one failed (it stays marked)."""
        heard = True
        for listener in list(self.on_finished):
            try:
                listener(execution)
            except Exception:  # a listener's failure must not lose the worker
                log.exception("query %s: finished listener failed", execution.query_execution_id)
                heard = False
        return heard

    # --- GetQueryExecution, BatchGet, List, Stop ----------------------------------------

    def get(self, query_id: str) -> QueryExecution:
        """One execution; QueryExecutionNotFoundError when unknown (``wait`` blocks
        until it finishes)."""
        return self.executions.get(query_id).execution

    def when_final(self, query_id: str, callback: Callable[[], None]) -> bool:
        """Have ``callback`` called, on a worker thread, once the execution running here
        has stored its final state. False, and no call, when it is not running here
        (finished, unknown, or another process's); ``forget_final`` undoes it."""
        with self._lock:
            live = self._live.get(query_id)
            if live is None or live.final.is_set():
                return False
            live.on_final.append(callback)
            return True

    def forget_final(self, query_id: str, callback: Callable[[], None]) -> None:
        """Drop a ``when_final`` callback that is no longer wanted (a poll gave up)."""
        with self._lock:
            live = self._live.get(query_id)
            if live is not None and callback in live.on_final:
                live.on_final.remove(callback)

    def workgroup_of(self, query_id: str) -> str:
        """The workgroup an execution ran in; QueryExecutionNotFoundError when unknown."""
        return self.executions.workgroup_of(query_id)

    def batch_get(
        self, query_ids: Sequence[str]
    ) -> tuple[list[QueryExecution], list[tuple[str, str, str]]]:
        """Executions found, and (id, error code, message) for each id not found."""
        if not 1 <= len(query_ids) <= MAX_BATCH:
            raise InvalidRequestError(f"give 1 to {MAX_BATCH} query execution ids")
        found = self.executions.many(query_ids)
        known = {e.query_execution_id for e in found}
        missing = [
            (i, QueryExecutionNotFoundError.code, f"QueryExecution {i} was not found")
            for i in dict.fromkeys(query_ids)
            if i not in known
        ]
        return found, missing

    def list_executions(
        self, workgroup: str | None = PRIMARY, max_results: int = 50, next_token: str | None = None
    ) -> tuple[list[QueryExecution], str | None]:
        """Executions of ``workgroup`` (None: all), newest first, and the next page's token."""
        if not 0 <= max_results <= 50:
            raise InvalidRequestError("MaxResults must be between 0 and 50")
        if workgroup is not None:
            self.workgroups.get_workgroup(workgroup)
        return self.executions.page(workgroup, max_results or 50, next_token)

    def stop(self, query_id: str) -> None:
        """Cancel an execution at any point; a finished one is left as it is."""
        record = self.executions.get(query_id)
        with self._lock:
            live = self._live.get(query_id)
            if live is not None and live.token is None:
                live.cancelled = True  # never starts
            elif live is not None and live.token is not None:
                live.token.cancel(CANCELLED_BY_USER)  # the worker records CANCELLED
                return
        if record.execution.state in ACTIVE_STATES:
            # Queued here, or run by another process: its monitor sees the new state.
            self.store_final(
                query_id,
                ACTIVE_STATES,
                state=CANCELLED,
                state_change_reason=CANCELLED_BY_USER,
                completion_time=now(),
            )
        if live is not None:
            live.done.set()

    def wait(self, query_id: str, timeout: float | None = None) -> QueryExecution:
        """Block until the execution finishes (or ``timeout`` seconds pass); return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                live = self._live.get(query_id)
            found = self.get(query_id)
            remaining = None if deadline is None else deadline - time.monotonic()
            settled = found.finished and (live is None or live.done.is_set())
            if settled or (remaining is not None and remaining <= 0):
                return found
            step = 0.2 if remaining is None else min(0.2, remaining)
            if live is not None:
                live.done.wait(step)
            else:
                time.sleep(min(step, 0.05))

    # --- cost up front ------------------------------------------------------------------

    def estimate(
        self,
        sql: str,
        database: str | None = None,
        user: str | None = None,
        authorize: StatementAuthorizer | None = None,
    ) -> int:
        """Bytes the query ``sql`` is expected to scan, without running it.

        Partition pruning and column projection as the run would apply them
        (``shoal.queries.estimate``). ``authorize`` is asked about the query's reads
        as a run would ask (raises to refuse); ``user`` names the caller, for the
        authorizer's sake. Only queries (SELECT, WITH, VALUES) can be estimated.
        """
        del user  # the authorizer is built for the caller; kept for the API's symmetry
        statement = Statement.of(sql)
        if statement.kind != "SELECT":
            raise InvalidRequestError("only queries (SELECT, WITH, VALUES) can be estimated")
        check = authorize
        context = StatementContext(
            query_id="estimate",
            database=database or "default",
            authorize=None if check is None else (lambda accesses: check(statement, accesses)),
        )
        plan, _ = self.runner.plan_query(parse(sql), context)
        return estimate_plan(plan, self.storage).bytes

    # --- GetQueryResults ---------------------------------------------------------------

    def get_results(
        self, query_id: str, max_results: int = MAX_PAGE, next_token: str | None = None
    ) -> ResultSet:
        """One page of a SUCCEEDED execution's results (header row first for DML)."""
        if not 1 <= max_results <= MAX_PAGE:
            raise InvalidRequestError(f"MaxResults must be between 1 and {MAX_PAGE}")
        result = self.result(query_id)
        return result.page(query_id, max_results, next_token)

    def result(self, query_id: str) -> StoredResult:
        """The whole result of a SUCCEEDED execution, from memory or its file."""
        return self.outputs.result(query_id)

    # --- housekeeping ------------------------------------------------------------------

    def live_token(self, query_id: str) -> CancelToken | None:
        with self._lock:
            live = self._live.get(query_id)
            return None if live is None else live.token

    def phase(self, query_id: str) -> str | None:
        """What an execution running here is doing now: ``model.PLANNING``, the
        engine's ``EXECUTING`` or ``FETCHING``, ``model.WRITING``. None when it is not
        running in this process (queued, finished, another process's, unknown)."""
        token = self.live_token(query_id)
        return None if token is None else token.phase

    def _watch(self) -> None:
        """Cancel executions stopped by other processes; keep heartbeats fresh."""
        last_beat = time.monotonic()
        while not self._closed.wait(_MONITOR_SECONDS):
            with self._lock:
                running = {i: lv.token for i, lv in self._live.items() if lv.token is not None}
            if not running:
                continue
            try:
                states = self.executions.states(running)
                for query_id, state in states.items():
                    token = running[query_id]
                    if state not in ACTIVE_STATES and token is not None:
                        token.cancel(CANCELLED_BY_USER)
                if time.monotonic() - last_beat > _HEARTBEAT_SECONDS:
                    self.executions.heartbeat(running)
                    last_beat = time.monotonic()
            except Exception:  # noqa: BLE001 - the monitor must outlive a database hiccup
                continue

    def close(self) -> None:
        """Stop taking queries; executions still active are marked FAILED as after a
        restart, running ones are cancelled; wait for the workers to end."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            live = list(self._live.values())
        for item in live:
            if item.token is not None:
                item.token.cancel(RESTARTED_REASON)
            self.executions.transition(
                item.query_id,
                ACTIVE_STATES,
                state=FAILED,
                state_change_reason=RESTARTED_REASON,
                completion_time=now(),
            )
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._monitor.join(timeout=5)
        self.outputs.close()

    def __enter__(self) -> QueryService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _any_count(placeholders: int) -> None:
    """Placeholders are counted against the parameters when the query runs."""
