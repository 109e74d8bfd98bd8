"""The engine seam: run an engine-neutral plan, return Arrow data plus what was read.

Engines never see the catalog or users. The query service parses Athena SQL,
resolves every table a statement names in the catalog, authorizes the statement and
plans it -- once, whatever engine runs it -- into a ``ResolvedQuery``: a sqlglot tree
in Athena's (Trino's) dialect whose catalog tables are named ``"database"."table"``,
and one ``TableScan`` per table (its schema, format, SerDe properties and the files
left after partition pruning). An engine turns that into its own SQL, runs it, and
returns a ``QueryResult``: an Arrow table and the bytes it read.

Each engine declares what it can run (``Capabilities``: statement kinds, table
formats, functions it lacks); the runner refuses a statement outside them with
``EngineGapError``, naming the engine and the gap, before the engine sees it.

Implementing an engine (see docs/engines.md): subclass ``Engine``; set ``name`` and
``capabilities``; implement ``execute`` (translate ``query.tree`` with
``query.schemas``, expose each scan under its qualified name reading exactly
``scan.files``, bind ``query.parameters`` to the ``?`` placeholders in order, honour
``max_bytes_scanned``, ``explain`` and the cancel token) and ``close``.

An engine may also write a statement's rows as files itself (CTAS, INSERT, UNLOAD):
it declares the formats and codecs it writes (``Capabilities.writes``) and implements
``result_schema`` and ``write``; for any other target the query service runs the
query through ``execute`` and writes the Arrow rows itself.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlglot import exp

from shoal.catalog.model import Column
from shoal.engine.athena import function_name
from shoal.errors import UnsupportedSqlError


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


def scan_key(scan: TableScan) -> Hashable | None:
    """Everything a scan's rows depend on -- the table's definition and its planned
    files with their sizes and mtimes -- for engines that keep what they built for a
    scan (its SQL, a view); None when a file's version is unknown."""
    if any(f.mtime is None for f in scan.files):
        return None  # without an mtime a rewritten file of the same size looks unchanged
    fmt = scan.format
    return (
        scan.database,
        scan.table,
        fmt.classification,
        fmt.delimiter,
        fmt.quote_char,
        fmt.escape_char,
        fmt.skip_header_lines,
        fmt.compression,
        fmt.null_format,
        tuple(sorted(fmt.serde_parameters.items())),
        fmt.serde,
        scan.columns,
        scan.partition_keys,
        scan.files,
    )


@dataclass(frozen=True)
class ResolvedQuery:
    """One query, planned and engine-neutral: what every engine is given to run.

    ``tree`` is the query in Athena's (Trino's) dialect as sqlglot parsed and checked
    it (``athena.parse``: a single read-only query), views inlined, every catalog
    table qualified as ``"database"."table"`` -- the name of its scan in ``scans``.
    Names left unqualified (CTEs) belong to ``database``. Shared between runs of the
    same text: engines read it, never change it (copy first).

    ``parameters`` are bound to the ``?`` placeholders in order, never spliced into
    SQL text. ``max_bytes_scanned``: the engine stops the query with
    BytesScannedCutoffError once it has read more than this many bytes. ``explain``:
    return the engine's plan for the query (one row per line) instead of running it.
    """

    tree: exp.Expr
    database: str = "default"
    scans: tuple[TableScan, ...] = ()
    parameters: Sequence[Any] = ()
    max_bytes_scanned: int | None = None
    explain: bool = False

    @property
    def schemas(self) -> dict[tuple[str, str], tuple[Column, ...]]:
        """Each scan's columns, partition keys last, by lower-cased (database, table)."""
        return {
            (s.database.lower(), s.table.lower()): (*s.columns, *s.partition_keys)
            for s in self.scans
        }


# Statement kinds whose query runs on an engine; every other kind (DDL, SHOW,
# DESCRIBE) is answered from the catalog alone.
QUERY_STATEMENTS = frozenset(
    {"SELECT", "EXPLAIN", "CREATE_TABLE_AS_SELECT", "INSERT", "UNLOAD", "CREATE_VIEW"}
)


@dataclass(frozen=True)
class Capabilities:
    """What an engine can run; anything outside it is refused before the engine runs.

    ``statements``: the statement kinds (Athena SubstatementType names, a subset of
    ``QUERY_STATEMENTS``) whose query the engine runs; DDL and SHOW statements never
    reach an engine.
    ``formats``: the ``TableFormat.classification`` values it reads.
    ``serdes``: SerDe libraries (``TableFormat.serde``) whose tables it reads whatever
    their classification (DuckDB reads the lines of JSON, CloudTrail, Regex and Grok
    SerDe tables itself).
    ``missing_functions``: Athena functions (lower-case names) it cannot run, each
    with a short reason; every other function ``athena.parse`` accepts is expected to work.
    ``writes``: the output formats (``WriteTarget.format``: parquet, orc, avro, json,
    textfile) the engine writes itself through ``Engine.write``, each with the codecs
    it writes; empty (DuckDB): the query service writes every target. Bucketed
    targets (Hive's bucket hash) are always the query service's to write.
    """

    statements: frozenset[str]
    formats: frozenset[str]
    serdes: frozenset[str] = frozenset()
    missing_functions: Mapping[str, str] = field(default_factory=dict)
    writes: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def reads(self, fmt: TableFormat) -> bool:
        """Whether tables of format ``fmt`` are readable."""
        return fmt.classification.lower() in self.formats or fmt.serde in self.serdes

    def writable(self, fmt: str, compression: str, bucketed: bool = False) -> bool:
        """Whether the engine itself writes files of format ``fmt`` (``WriteTarget.format``)
        with codec ``compression`` (``Engine.write``); never bucketed ones."""
        return compression in self.writes.get(fmt, frozenset()) and not bucketed

    def gaps(self, query: ResolvedQuery) -> list[str]:
        """What ``query`` needs that these capabilities lack, one phrase each."""
        found = [
            f"reading {s.format.classification!r} tables ({s.database}.{s.table})"
            for s in query.scans
            if not self.reads(s.format)
        ]
        if self.missing_functions:
            for name in sorted({function_name(f) for f in query.tree.find_all(exp.Func)}):
                reason = self.missing_functions.get(name)
                if reason is not None:
                    found.append(f"the function {name}() ({reason})")
        return found


class EngineGapError(UnsupportedSqlError):
    """The statement needs something the engine running it does not declare."""

    def __init__(self, engine: str, gaps: Sequence[str]) -> None:
        super().__init__(f"the {engine} engine cannot run this statement: {'; '.join(gaps)}")
        self.engine = engine
        self.gaps = tuple(gaps)


@dataclass(frozen=True)
class WriteTarget:
    """Where and how an engine writes a statement's rows itself (``Engine.write``).

    ``location`` is the folder as the catalog names it (``s3://bucket/prefix/``, on
    whatever storage shoal runs). ``columns`` are what is written, in order, typed as
    the table stores them (Hive types), the last ``len(partitioned_by)`` of them the
    partition keys; ``sources[i]`` is the position of the query's column that feeds
    ``columns[i]`` (None: NULL), cast to its type. ``format`` and ``compression``
    are Athena's names (``parquet``/``gzip``, ``textfile``/``none`` ...); TEXTFILE
    rows are ``field_delimiter``-separated, NULL as ``\\N``, and no value may hold
    the delimiter, a line break or ``quote_char``.

    ``append`` (INSERT): the folder already holds the table's files, and
    ``partition_folders`` names existing partitions' folders (values in key order,
    as the catalog holds them), where their new files go. Otherwise (CTAS, UNLOAD)
    the folder is empty: the query service checked. At most ``max_partitions``
    partitions may be written (more fails, leaving nothing).
    """

    location: str
    columns: tuple[Column, ...]
    sources: tuple[int | None, ...]
    query_id: str
    format: str = "parquet"
    compression: str = "gzip"
    partitioned_by: tuple[str, ...] = ()
    field_delimiter: str = "\x01"
    quote_char: str | None = None
    bucketed_by: tuple[str, ...] = ()
    bucket_count: int = -1
    append: bool = False
    partition_folders: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    max_partitions: int = 100


@dataclass(frozen=True)
class WriteResult:
    """What an engine wrote: the files (``s3://`` URIs, as the catalog names them),
    each partition written with its folder (values in key order, NULL as
    ``__HIVE_DEFAULT_PARTITION__``), the rows written and the bytes it read."""

    files: tuple[str, ...]
    partitions: Mapping[tuple[str, ...], str]
    rows: int
    bytes_scanned: int


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
    """Runs engine-neutral plans. Implementations must be safe to call from many threads.

    Class attributes every engine sets: ``name`` (shown in errors and EXPLAIN) and
    ``capabilities`` (what it can run; ``check_statement`` and ``check`` refuse the
    rest, called by the runner before ``execute``).
    """

    name: str
    capabilities: Capabilities

    def check_statement(self, kind: str) -> None:
        """Refuse a statement of ``kind`` (one of ``QUERY_STATEMENTS``) this engine
        cannot run; EngineGapError names the engine and the kind."""
        if kind not in self.capabilities.statements:
            raise EngineGapError(self.name, [f"{kind} statements"])

    def gaps(self, query: ResolvedQuery) -> list[str]:
        """What ``query`` needs that this engine lacks, one phrase each (none: it can
        run it). An engine with finer limits than ``capabilities`` adds them here."""
        return self.capabilities.gaps(query)

    def check(self, query: ResolvedQuery) -> None:
        """Refuse a query needing formats or functions this engine lacks;
        EngineGapError names the engine and every gap found."""
        gaps = self.gaps(query)
        if gaps:
            raise EngineGapError(self.name, gaps)

    @abstractmethod
    def execute(self, query: ResolvedQuery, cancel: CancelToken | None = None) -> QueryResult:
        """Run ``query``: its SQL translated for this engine, each scan exposed under its
        qualified name and reading only ``scan.files``, ``query.parameters`` bound.

        Returns:
            The rows as Arrow (column names as the query names them; a JSON column's
            field marked with ``SQL_TYPE_KEY``) and the bytes the engine read.

        Raises:
            QueryCancelledError: once ``cancel`` is set (or its time limit passes).
            BytesScannedCutoffError: more than ``query.max_bytes_scanned`` was read.
            ShoalError: any other failure, with a message for the user (never a raw
                engine exception).
        """

    def result_schema(self, query: ResolvedQuery) -> pa.Schema:
        """The columns ``query`` answers (names and Arrow types, as ``execute`` would
        return them), without running it; engines that declare ``writes`` implement it.

        Raises:
            EngineGapError: the engine does not describe queries.
        """
        raise EngineGapError(self.name, ["describing a query's columns"])

    def write(
        self, query: ResolvedQuery, target: WriteTarget, cancel: CancelToken | None = None
    ) -> WriteResult:
        """Run ``query`` and write its rows into ``target`` as files, without handing
        them to the caller; only for targets ``capabilities.writable`` accepts.

        All or nothing: on any failure (or cancel) no file written is left behind.

        Raises:
            QueryCancelledError: once ``cancel`` is set.
            BytesScannedCutoffError: more than ``query.max_bytes_scanned`` would be read.
            InvalidInputError: the rows cannot be stored as ``target`` says (too many
                partitions, a TEXTFILE value holding the delimiter).
            EngineGapError: the engine writes no files itself.
        """
        raise EngineGapError(self.name, [f"writing {target.format} files"])

    @abstractmethod
    def close(self) -> None:
        """Release every resource the engine holds; running queries fail."""
