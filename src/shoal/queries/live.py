"""``Live``: an execution this process owns and has not finished yet.

The query service (``service.py``) makes one when a query is submitted and keeps it
until a worker (``execution.py``) has stored its final state; both read it, neither
imports the other for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shoal.engine.base import CancelToken
from shoal.errors import NotAuthorizedError, ShoalError
from shoal.queries.classify import Statement
from shoal.queries.context import Access, Visibility
from shoal.queries.store import ExecutionRecord

# ``(statement, accesses) -> None``: raises to refuse a statement touching ``accesses``;
# the API builds one per request from the caller's roles (shoal.api.authorize).
StatementAuthorizer = Callable[[Statement, Sequence[Access]], None]


@dataclass
class Live:
    """An execution this process owns and has not finished yet.

    ``statement`` is the statement classified and bound at submission (for EXECUTE,
    the prepared statement's), or the error that made that impossible: the
    execution fails with it when it runs, as Athena fails it.
    """

    record: ExecutionRecord
    output_folder: str
    cutoff: int | None
    submitted: float  # perf_counter at submission
    statement: Statement | ShoalError
    token: CancelToken | None = None  # set when it starts running
    cancelled: bool = False  # stopped while still queued
    done: threading.Event = field(default_factory=threading.Event)
    final: threading.Event = field(default_factory=threading.Event)  # final state stored
    on_final: list[Callable[[], None]] = field(default_factory=list)  # called once final
    authorize: StatementAuthorizer | None = None  # the caller's permissions, checked at run
    visible: Visibility | None = None  # what the caller's listings may show
    refusal: NotAuthorizedError | None = None  # refused at submission: fails when picked up
    engine: str | None = None  # the engine its query was given to (``Engine.name``)

    def ran_on(self, engine: str) -> None:
        """Record that the query was given to ``engine`` (``StatementContext.on_engine``)."""
        self.engine = engine

    @property
    def query_id(self) -> str:
        return self.record.execution.query_execution_id
