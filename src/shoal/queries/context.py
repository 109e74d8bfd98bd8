"""What a statement handler is given and what it gives back.

A handler (``shoal.queries.tools.Handler``) gets the statement's text and a
``StatementContext`` (database, bound parameters, cancel token, the caller's
authorizer and visibility filters) and returns a ``StatementOutcome`` (rows, bytes
scanned, every ``TableAccess`` / ``LocationAccess`` it asked for, files written).
These values sit below every handler and the runner, so none of them imports another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from shoal.catalog.model import Database, Table
from shoal.engine.athena import TableRef
from shoal.engine.base import CancelToken
from shoal.queries.classify import STATEMENT_TYPES


@dataclass(frozen=True)
class TableAccess:
    """One table a statement touches, and how: "read" or "write"."""

    database: str
    table: str
    mode: str


@dataclass(frozen=True)
class LocationAccess:
    """One storage location a statement writes to (CTAS, INSERT, UNLOAD)."""

    location: str


Access = TableAccess | LocationAccess

# Called with every table and location access before anything runs; raises to refuse.
Authorizer = Callable[[Sequence[Access]], None]


@dataclass(frozen=True)
class Visibility:
    """What listings may show the caller: ``SHOW TABLES|VIEWS|DATABASES`` keep only
    what these filters keep, as Glue ``GetTables`` / ``GetDatabases`` do."""

    tables: Callable[[Sequence[Table]], list[Table]]
    databases: Callable[[Sequence[Database]], list[Database]]


@dataclass(frozen=True)
class StatementContext:
    """Everything a statement needs besides its text."""

    query_id: str
    database: str = "default"
    catalog: str = "awsdatacatalog"
    parameters: Sequence[Any] = ()
    # Where CTAS without external_location puts its table: <output>/tables/<query_id>/
    output_location: str | None = None
    cancel: CancelToken = field(default_factory=CancelToken)
    bytes_scanned_cutoff: int | None = None
    authorize: Authorizer | None = None
    visible: Visibility | None = None  # None: listings are not filtered
    # The engine its query runs on, by name ("duckdb", "spark": its workgroup's
    # EngineVersion), or "auto": chosen once the query is planned
    # (``StatementTools.route``); None: the runner's default engine.
    engine: str | None = None
    # The statement's kind (``Statement.kind``), set by the runner: AUTO routing asks
    # whether an engine runs statements of this kind.
    kind: str | None = None
    # Told the name (``Engine.name``) of the engine chosen to run the statement's query.
    on_engine: Callable[[str], None] | None = None


@dataclass
class StatementOutcome:
    """What a statement produced.

    ``rows`` is the result set (for DDL/UTILITY, the lines Athena prints: SHOW TABLES
    gives one column of names). ``data_files`` lists files CTAS/INSERT/UNLOAD wrote,
    for the manifest.
    """

    statement_type: str  # DML | DDL | UTILITY
    substatement_type: str  # SELECT, CREATE_TABLE_AS_SELECT, INSERT, UNLOAD, SHOW_TABLES, ...
    rows: pa.Table
    bytes_scanned: int = 0
    accesses: tuple[Access, ...] = ()
    data_files: tuple[str, ...] = ()
    update_count: int | None = None
    planning_ms: float = 0.0
    engine_ms: float = 0.0


def outcome(kind: str, rows: pa.Table, **values: Any) -> StatementOutcome:
    """A StatementOutcome of ``kind`` with Athena's StatementType."""
    return StatementOutcome(STATEMENT_TYPES[kind], kind, rows, **values)


def table_write(ref: TableRef) -> TableAccess:
    """The access a statement writing ``ref`` asks for."""
    return TableAccess(ref.database, ref.table, "write")


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - start) * 1000.0
