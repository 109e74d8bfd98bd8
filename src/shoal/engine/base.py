"""The engine seam: run a resolved query, return Arrow data plus what was read.

Engines never see the catalog or users. The query service resolves every table a
statement names into a ``TableScan`` (location, format, schema, and the files left
after partition pruning) and hands the engine a ``ResolvedQuery``. DuckDB is the
embedded default; a Spark engine will implement the same interface later.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from shoal.catalog.model import Column


@dataclass(frozen=True)
class DataFile:
    """One file to read: where it is, its size, and its partition values (key order).

    ``mtime`` and ``etag`` (as listed when planning; the etag only where the storage
    reports it) tell engines a file was rewritten, so what they learnt about its
    contents (schemas, say) is stale.
    """

    path: str  # a local filesystem path, or an s3:// URI for remote storage
    size: int
    partition_values: tuple[str, ...] = ()
    mtime: datetime | None = None
    etag: str | None = None


@dataclass(frozen=True)
class TableFormat:
    """How a table's files are laid out, distilled from its SerDe and parameters."""

    classification: str  # csv | json | parquet
    delimiter: str = ","
    quote_char: str | None = None  # None: fields are not quoted (LazySimpleSerDe)
    escape_char: str | None = None
    skip_header_lines: int = 0
    compression: str | None = None  # None: detect from the file name / magic
    null_format: str | None = None
    serde_parameters: Mapping[str, str] = field(default_factory=dict)
    serde: str = ""  # the SerDe library: engines read some SerDes' lines themselves


@dataclass(frozen=True)
class TableScan:
    """A catalog table, resolved: the engine exposes it as ``"database"."table"``."""

    database: str
    table: str
    format: TableFormat
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    files: tuple[DataFile, ...]


@dataclass(frozen=True)
class ResolvedQuery:
    """Engine-dialect SQL whose table references are the scans' qualified names.

    ``max_bytes_scanned``: the engine stops the query with BytesScannedCutoffError
    once it has read more than this many bytes. ``explain``: return the engine's
    plan for the query (one row per line) instead of running it.
    """

    sql: str
    scans: tuple[TableScan, ...] = ()
    parameters: Sequence[Any] = ()
    max_bytes_scanned: int | None = None
    explain: bool = False


# Arrow has no type for some SQL types (JSON is text to Arrow): an engine names them in
# the result field's metadata under this key, so results can be typed as the SQL says.
SQL_TYPE_KEY = b"shoal.sql_type"
SQL_JSON = b"json"


def sql_type_of(arrow_field: pa.Field) -> str | None:
    """The SQL type an engine recorded for ``arrow_field`` (``"json"``), if any."""
    value = (arrow_field.metadata or {}).get(SQL_TYPE_KEY)
    return value.decode() if value else None


@dataclass
class QueryResult:
    """The answer: an Arrow table, and the bytes the engine actually read."""

    table: pa.Table
    bytes_scanned: int
    rows_affected: int | None = None


# What a running query is doing, as an engine reports it on the query's CancelToken.
EXECUTING = "executing"  # the engine runs the statement
FETCHING = "fetching"  # the engine hands the result over as Arrow


class CancelToken:
    """Set by whoever wants a running query stopped; engines poll or interrupt on it.

    A token made with ``timeout`` (seconds) also cancels itself when the time is up,
    which is how a workgroup's time limit reaches the engine.

    The query's side says on the same token what it is doing (``enter``: the engine
    ``EXECUTING``, then ``FETCHING``; the query service its own steps), so whoever
    holds it can tell which step a query is in; ``on_phase`` hears each step as it
    begins, on the query's thread.
    """

    def __init__(
        self, timeout: float | None = None, on_phase: Callable[[str], None] | None = None
    ) -> None:
        self._event = threading.Event()
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._on_phase = on_phase
        self.reason = "cancelled"
        self.phase: str | None = None  # None until a step is entered

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        if not self._event.is_set() and self._deadline is not None:
            if time.monotonic() >= self._deadline:
                self.cancel("timed out")
        return self._event.is_set()

    def enter(self, phase: str) -> None:
        """Record that the query now does ``phase``, and tell ``on_phase``."""
        self.phase = phase
        if self._on_phase is not None:
            self._on_phase(phase)


class Engine(ABC):
    """Runs resolved queries. Implementations must be safe to call from many threads."""

    @abstractmethod
    def execute(self, query: ResolvedQuery, cancel: CancelToken | None = None) -> QueryResult:
        """Run ``query`` to completion, or raise QueryCancelledError once ``cancel`` is set."""

    @abstractmethod
    def close(self) -> None:
        """Release every resource the engine holds."""
