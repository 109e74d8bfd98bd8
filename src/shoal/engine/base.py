"""The engine seam: run a resolved query, return Arrow data plus what was read.

Engines never see the catalog or users. The query service resolves every table a
statement names into a ``TableScan`` (location, format, schema, and the files left
after partition pruning) and hands the engine a ``ResolvedQuery``. DuckDB is the
embedded default; a Spark engine will implement the same interface later.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from shoal.catalog.model import Column


@dataclass(frozen=True)
class DataFile:
    """One file to read: where it is, its size, and its partition values (key order)."""

    path: str  # a local filesystem path, or an s3:// URI for remote storage
    size: int
    partition_values: tuple[str, ...] = ()


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
    """Engine-dialect SQL whose table references are the scans' qualified names."""

    sql: str
    scans: tuple[TableScan, ...] = ()
    parameters: Sequence[Any] = ()


@dataclass
class QueryResult:
    """The answer: an Arrow table, and the bytes the engine actually read."""

    table: pa.Table
    bytes_scanned: int
    rows_affected: int | None = None


class CancelToken:
    """Set by whoever wants a running query stopped; engines poll or interrupt on it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class Engine(ABC):
    """Runs resolved queries. Implementations must be safe to call from many threads."""

    @abstractmethod
    def execute(self, query: ResolvedQuery, cancel: CancelToken | None = None) -> QueryResult:
        """Run ``query`` to completion, or raise QueryCancelledError once ``cancel`` is set."""

    @abstractmethod
    def close(self) -> None:
        """Release every resource the engine holds."""
