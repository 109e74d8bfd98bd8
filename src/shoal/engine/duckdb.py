"""The embedded engine: one locked-down DuckDB database, one cursor per query.

A plan (``ResolvedQuery``) becomes DuckDB SQL through ``dialect.to_duckdb`` (the
Athena-to-DuckDB translation, remembered per plan tree) and runs as a
``DuckDBQuery``; tests of the engine's walls send DuckDB SQL directly (``run``).

Lock-down, as checked on DuckDB 1.5.5 (tests/engine/test_lockdown.py):

* ``allowed_directories`` must be set *before* ``enable_external_access=false``
  (afterwards it cannot change; passing both in ``connect(config=...)`` fails with
  "Cannot change allowed_directories when enable_external_access is disabled").
  It holds the storage roots (direct reads, the default) and ``shoal://``, a
  registered fsspec filesystem (``scanfs.ScanFileSystem``) that opens only the
  files planned for the running query, read-only: remote objects, and local files
  too when direct reads are off. DuckDB refuses any other path, ``..`` out of a
  root and symlinks that lead out of one; it adds ``temp_directory`` (spilling)
  by itself.
* DuckDB cannot tell reading from writing: inside an allowed directory ``COPY …
  TO``, ``ATTACH`` and ``EXPORT DATABASE`` would succeed. With direct reads, what
  keeps user SQL to reading its planned files is the two statement walls — the
  dialect layer (sqlglot, first) and ``statement.inspect`` (below) — which let
  only a single SELECT through, with no file-reading table function. Direct reads
  off (``engine_direct_reads = false``), DuckDB itself cannot open a lake file,
  a third wall, for 10–15% of TPC-H time (measured in docs/benchmarks.md).
* Built-in extensions (parquet, json, icu) and avro (from the pip package
  ``duckdb-extension-avro``, loaded from its file) are loaded before locking; install,
  autoload and community extensions are off; ``lock_configuration=true`` makes
  ``SET``/``RESET``/``PRAGMA`` of any option fail.
* Second wall, in this engine (``statement.inspect``): the statement is parsed once
  by DuckDB itself (``json_serialize_sql``, which only serializes SELECT); table
  functions other than ``unnest``, the functions in ``athena.DENIED_FUNCTIONS`` and
  SHOW/DESCRIBE/SUMMARIZE subqueries are refused, and every table must be a planned
  scan or a CTE in scope. The same parse gives the byte offsets of the planned
  tables, where the scans' subqueries are spliced in (``statement.point_at_scans``),
  so the checked text is what runs.

Per query, the fixed work is small: the scans' SQL (and, for Parquet, the probe of
which catalog columns the files hold) comes from ``ScanSqlCache`` keyed by the
table's definition and its files' sizes and mtimes; one ``json_serialize_sql``; no
sqlglot in the engine.

Bytes scanned (DataScannedInBytes) are what DuckDB read: local files from its own
read log (``read_log.ReadLog``: every read of the statement, not of spilled data),
remote ones as counted by ``ScanFileSystem``. Measured on a 3-column Parquet file,
``sum(b)`` reads b's column chunks plus the footer (within 0.3%); a filter that
min/max statistics prune reads almost nothing; ``LIMIT`` reads the row groups it
needed. (DuckDB's profiling ``total_bytes_read`` does not count local reads.) A
Parquet footer DuckDB keeps from an earlier query (``_footers_cacheable``: local files
last modified ``FOOTER_CACHE_AGE`` ago) is not read again, so not counted again.

The external file cache is switched off so every query reads (and is charged for)
its own bytes, as Athena charges each query: a read the cache answers never reaches
the log. This is most of what separates shoal from plain DuckDB on TPC-H (~4-6% of
DuckDB's time, docs/benchmarks.md, "Where the rest goes").
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from shoal.catalog.model import Column
from shoal.engine import orc, scans, serdes, statement, trino_functions
from shoal.engine.athena import TableRef, referenced_columns
from shoal.engine.base import (
    EXECUTING,
    FETCHING,
    QUERY_STATEMENTS,
    SQL_JSON,
    SQL_TYPE_KEY,
    CancelToken,
    Capabilities,
    Engine,
    QueryResult,
    ResolvedQuery,
    TableScan,
)
from shoal.engine.dialect import DUCKDB_SESSION_SETTINGS, to_duckdb
from shoal.engine.read_log import ReadLog, Ticket
from shoal.engine.scan_cache import ScanSqlCache
from shoal.engine.scanfs import (
    PROTOCOL,
    BytesLimitReached,
    ScanCounter,
    ScanFileSystem,
    url_for,
)
from shoal.engine.serdes import udfs as serde_functions
from shoal.engine.serdes.json_keys import JsonRead
from shoal.engine.serdes.probe import JsonProbe
from shoal.errors import (
    AccessDeniedError,
    BytesScannedCutoffError,
    QueryCancelledError,
    QueryFailedError,
    UnsupportedSqlError,
)
from shoal.lru import LruCache
from shoal.storage.base import Storage

log = logging.getLogger(__name__)

BUILTIN_EXTENSIONS = ("parquet", "json", "icu")
# Extensions shipped in pip packages ``duckdb-extension-<name>`` as a file of their own.
PACKAGED_EXTENSIONS = ("avro",)
_POLL_SECONDS = 0.02
_LOG_POLL_SECONDS = 0.1  # a read-log query scans the whole log; poll it less often
# Rows per Arrow batch of a result. DuckDB's default (10^6) overflows a string array's
# 2 GiB once values average 2 KB ("Arrow Appender: The maximum total string size ...");
# this takes 32 KB values, and costs nothing measurable (5M rows, 3 columns).
FETCH_BATCH_ROWS = 65_536
# A local file last modified this long ago may have its Parquet footer kept by DuckDB
# (see ``_footers_cacheable``): DuckDB's own trust window for modification times.
FOOTER_CACHE_AGE = timedelta(seconds=10)
_TRANSLATIONS = 256  # plan trees whose DuckDB SQL is remembered (as the planner's texts)


@dataclass(frozen=True)
class DuckDBQuery:
    """A query in DuckDB's SQL whose table references are the scans' qualified names.

    What ``DuckDBEngine.execute`` makes of a plan; the fields other than ``sql`` are
    the plan's (see ``ResolvedQuery``).
    """

    sql: str
    scans: tuple[TableScan, ...] = ()
    parameters: Sequence[Any] = ()
    max_bytes_scanned: int | None = None
    explain: bool = False
    # Lower-cased names the query may read as columns (``athena.referenced_columns``);
    # None: any. A scan leaves out partition columns no name can be.
    columns_read: frozenset[str] | None = None


@dataclass(frozen=True)
class _Translation:
    """A plan tree's DuckDB SQL, and what it was translated with."""

    tree: exp.Expr
    database: str
    schemas: Mapping[tuple[str, str], tuple[Column, ...]]
    sql: str
    columns_read: frozenset[str] | None

    def answers(self, query: ResolvedQuery, schemas: Mapping[Any, Any]) -> bool:
        """Whether this is ``query``'s translation: its very tree, database and schemas."""
        same_tree = self.tree is query.tree
        return same_tree and self.database == query.database and self.schemas == schemas


class DuckDBEngine(Engine):
    """A locked-down embedded DuckDB running planned queries, many at a time.

    Args:
        allowed_directories: storage roots; planned files must lie under one of them.
        temp_directory: where DuckDB may spill; created if missing.
        memory_limit: DuckDB's memory cap (``"2GB"``).
        threads: worker threads shared by all queries.
        max_temp_directory_size: cap on spilled data.
        storage: reads planned files that are not local (``s3://`` URIs, when
            ``storage.local_path`` is None); without it such files are refused.
        direct_reads: let DuckDB read planned local files itself (the storage roots
            are then in ``allowed_directories``) and count their bytes from its read
            log; off, they go through the counting filesystem like remote files.
    """

    name = "DuckDB"
    capabilities = Capabilities(
        statements=QUERY_STATEMENTS,
        formats=scans.FORMATS,
        serdes=frozenset(serdes.LINE_READERS),  # lines read by shoal's own readers
    )

    def __init__(
        self,
        allowed_directories: Sequence[str],
        temp_directory: str,
        memory_limit: str = "2GB",
        threads: int = 2,
        max_temp_directory_size: str = "10GB",
        storage: Storage | None = None,
        direct_reads: bool = True,
    ) -> None:
        # One spelling for DuckDB and the read log, which tells spilled data by it.
        temp_directory = os.path.abspath(temp_directory)
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
        self._fs = ScanFileSystem(allowed_directories, storage, direct_local=direct_reads)
        self._scans = ScanSqlCache(self._fs.url)
        self._json_probe = JsonProbe()
        self._watcher = _Watcher()
        # Plan trees are shared by every run of a prepared text: known by identity.
        self._translations: LruCache[_Translation] = LruCache(_TRANSLATIONS)
        self._con = duckdb.connect(
            ":memory:",
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "allow_community_extensions": False,
            },
        )
        for extension in BUILTIN_EXTENSIONS:
            self._con.execute(f"LOAD {extension}")
        for path in _packaged_extensions():
            self._con.execute(f"LOAD {exp.Literal.string(path).sql(dialect='duckdb')}")
        for macro in trino_functions.MACROS:
            self._con.execute(macro)
        self._con.register_filesystem(self._fs)
        serde_functions.register(self._con)
        self._reads = ReadLog(self._con, spill_directory=temp_directory) if direct_reads else None
        if self._reads is not None:
            self._reads.enable()
        direct_roots = list(self._fs.roots) if direct_reads else []
        settings: dict[str, Any] = {
            "threads": threads,
            "memory_limit": memory_limit,
            "temp_directory": temp_directory,
            "max_temp_directory_size": max_temp_directory_size,
            "enable_external_file_cache": False,
            # Local Parquet column chunks in few large reads, not thousands of small
            # ones: each read is a read-log entry (TPC-H Q19: 10,128 reads -> 253).
            "prefetch_all_parquet_files": True,
            # Off, but a query's cursor may switch it on (``_footers_cacheable``).
            "parquet_metadata_cache": False,
            "allowed_configs": ["parquet_metadata_cache"],
            **DUCKDB_SESSION_SETTINGS,
            "allowed_directories": [f"{PROTOCOL}://", *direct_roots],
            # Order matters: the two below freeze everything set above.
            "enable_external_access": False,
            "lock_configuration": True,
        }
        for name, value in settings.items():
            self._con.execute(_set_statement(name, value))
        # Also at interpreter exit (finalize runs then): the engine's own threads may be
        # inside DuckDB (the read log's truncation follows every query) and DuckDB must
        # not be torn down under them (an engine left open aborted the process, 134).
        self._close = weakref.finalize(self, _close_engine, self._watcher, self._reads, self._con)

    def execute(self, query: ResolvedQuery, cancel: CancelToken | None = None) -> QueryResult:
        """Run ``query``; see ``Engine.execute``. Raises ShoalError subclasses only."""
        translation = self._translation(query)
        translated = DuckDBQuery(
            translation.sql,
            query.scans,
            query.parameters,
            query.max_bytes_scanned,
            query.explain,
            translation.columns_read,
        )
        return self.run(translated, cancel)

    def translate(self, query: ResolvedQuery) -> str:
        """The plan's query in DuckDB SQL (``dialect.to_duckdb``).

        Remembered by the plan's tree object: the planner hands every run of a
        prepared text the same tree, and a changed table gets a new one.

        Raises:
            UnsupportedSqlError: a construct has no faithful DuckDB translation.
        """
        return self._translation(query).sql

    def _translation(self, query: ResolvedQuery) -> _Translation:
        schemas = query.schemas
        known = self._translations.get(id(query.tree))
        if known is not None and known.answers(query, schemas):
            return known
        refs = {TableRef(*key): columns for key, columns in schemas.items()}
        sql = to_duckdb(query.tree, query.database, refs)
        columns = referenced_columns(query.tree)
        translation = _Translation(query.tree, query.database, schemas, sql, columns)
        self._translations.put(id(query.tree), translation)
        return translation

    def run(self, query: DuckDBQuery, cancel: CancelToken | None = None) -> QueryResult:
        """Run DuckDB SQL behind both walls; ``execute`` without the translation."""
        cancel = cancel or CancelToken()
        if not self._close.alive:  # as the queries it interrupted when it closed
            raise QueryCancelledError("query cancelled: the engine is closed")
        files = [f for scan in query.scans for f in scan.files]
        # No local file planned: DuckDB can read none (nothing else is reachable).
        local = any(f.path.startswith("/") for f in files)
        running = self._reads.running(local) if self._reads is not None else nullcontext()
        with running as ticket, self._fs.scan(files) as counter:
            logged = self._reads if local and ticket is not None else None
            scanned = _ScanBytes(counter, logged, query.max_bytes_scanned, ticket)
            with _Cursor(self._con, self._watcher, cancel, scanned.over_limit) as watched:
                if logged is not None and _footers_cacheable(query.scans):
                    watched.cursor.execute("SET SESSION parquet_metadata_cache = true")
                try:
                    table = self._run(watched, query, scanned, cancel)
                    total = scanned.total(watched.cursor)
                except duckdb.Error as err:
                    so_far = scanned.so_far()
                    if scanned.counter.exceeded or so_far > (query.max_bytes_scanned or so_far):
                        raise _cutoff(query, so_far) from None
                    raise _translate_error(err, cancel) from None
            if query.max_bytes_scanned is not None and total > query.max_bytes_scanned:
                raise _cutoff(query, total)
            if cancel.cancelled:
                raise QueryCancelledError(f"query {cancel.reason}")
            return QueryResult(table=table, bytes_scanned=total)

    def _run(
        self, watched: _Cursor, query: DuckDBQuery, scanned: _ScanBytes, cancel: CancelToken
    ) -> pa.Table:
        sql = self._bind_scans(watched, query, scanned)
        cursor = watched.cursor
        scanned.start(cursor)  # schema probes are not part of the query's scan
        self._register_orc(cursor, query, scanned, cancel)
        if cancel.cancelled:
            raise QueryCancelledError(f"query {cancel.reason}")
        cancel.enter(EXECUTING)
        if query.explain:
            cursor.execute(f"EXPLAIN {sql}", _parameters(query))
            return cursor.to_arrow_table()
        cursor.execute(sql, _parameters(query))
        # A streaming statement is still running while it is fetched: both are
        # interrupted alike.
        cancel.enter(FETCHING)
        return _normalize(cursor.to_arrow_table(FETCH_BATCH_ROWS), cursor.description)

    def close(self) -> None:
        """Close the database; running queries fail."""
        self._close()

    def _register_orc(
        self,
        cursor: duckdb.DuckDBPyConnection,
        query: DuckDBQuery,
        scanned: _ScanBytes,
        cancel: CancelToken,
    ) -> None:
        """Read the ORC scans' files with pyarrow (DuckDB has no ORC reader) through the
        query's counting filesystem, and register their rows for the scan SQL."""
        counter = scanned.counter
        for scan in query.scans:
            if scan.format.classification.lower() != orc.CLASSIFICATION or not scan.files:
                continue
            try:
                rows = orc.read_scan(
                    scan,
                    lambda path: self._fs.open(url_for(counter.token, path)),
                    counter.url,
                    cancel,
                )
            except (BytesLimitReached, QueryFailedError):
                if counter.exceeded:
                    raise _cutoff(query, scanned.so_far()) from None
                raise
            cursor.register(scans.orc_relation(scan), rows)

    def _bind_scans(self, watched: _Cursor, query: DuckDBQuery, scanned: _ScanBytes) -> str:
        """Check the statement once and splice each scan's subquery where it is named."""
        by_key = {(s.database.lower(), s.table.lower()): s for s in query.scans}
        references = statement.inspect(watched.cursor, query.sql, by_key)
        probe = partial(_probe_columns, watched, scanned)
        json_probe = partial(_probe_json, self._json_probe, watched, scanned)
        token = scanned.counter.token
        scan_sql = {}
        for key in {r.key for r in references}:
            planned = by_key[key]
            partitions = _partitions_read(planned, query.columns_read)
            scan_sql[key] = self._scans.scan_sql(planned, token, probe, json_probe, partitions)
        return statement.point_at_scans(query.sql, references, scan_sql)


def _packaged_extensions() -> list[str]:
    """The files of ``PACKAGED_EXTENSIONS`` for this DuckDB version, from their packages."""
    paths = []
    for name in PACKAGED_EXTENSIONS:
        try:
            package = importlib.import_module(f"duckdb_extension_{name}")
        except ImportError:
            log.warning(
                "DuckDB extension %s not installed: pip install duckdb-extension-%s", name, name
            )
            continue
        folder = Path(package.__file__ or "").parent / "extensions" / f"v{duckdb.__version__}"
        paths.append(str(folder / f"{name}.duckdb_extension"))
    return paths


def _close_engine(watcher: _Watcher, reads: ReadLog | None, con: duckdb.DuckDBPyConnection) -> None:
    """Stop the engine's queries and threads, then close its database."""
    watcher.close()  # interrupts the running queries and waits for them to end
    if reads is not None:
        reads.close()
    con.close()


def _partitions_read(scan: TableScan, columns_read: frozenset[str] | None) -> bool:
    """Whether the query may read ``scan``'s partition columns: if not, its scan leaves
    them out (binding a thousand partitions' values cost DuckDB ~3 ms a query)."""
    if columns_read is None:
        return True
    return any(key.name.lower() in columns_read for key in scan.partition_keys)


def _footers_cacheable(planned: Sequence[TableScan]) -> bool:
    """Whether a query may read its Parquet footers from DuckDB's metadata cache.

    The footer is much of what reading a small file costs (1,000 files of 12 KB: ~19 ms
    of the scan's ~100 ms of CPU, docs/benchmarks.md). DuckDB keeps footers by path
    and trusts one while the file's device, inode, size and mtime *in seconds* are
    unchanged: a file rewritten in place, at the same size, within the second its
    footer was read, would be read with the old footer. So footers are cached only
    when every planned file is local (read by DuckDB itself) and was last modified
    ``FOOTER_CACHE_AGE`` ago: a later write gives the file a later second. Remote
    files are read through per-query URLs, which a cache could never match.

    Bytes scanned stay what DuckDB read: a cached footer is not read again.
    """
    parquet = [s for s in planned if s.format.classification.lower() == "parquet"]
    if not parquet:
        return False
    settled = datetime.now(UTC) - FOOTER_CACHE_AGE
    return all(
        f.path.startswith("/") and f.mtime is not None and f.mtime <= settled
        for scan in planned
        for f in scan.files
    )


def _parameters(query: DuckDBQuery) -> list[object] | None:
    # None, not []: an empty list still sends the statement through prepare + execute.
    return list(query.parameters) or None


def _set_statement(name: str, value: Any) -> str:
    if isinstance(value, bool):
        literal: exp.Expr = exp.Boolean(this=value)
    elif isinstance(value, int):
        literal = exp.Literal.number(value)
    elif isinstance(value, list):
        literal = exp.Array(expressions=[exp.Literal.string(v) for v in value])
    else:
        literal = exp.Literal.string(str(value))
    # GLOBAL: every query runs on a cursor, a connection of its own, which inherits the
    # database's global settings but not the session settings of the connection that
    # set them (TimeZone, integer_division and Parquet prefetching are session-scoped).
    return f"SET GLOBAL {name} = {literal.sql(dialect='duckdb')}"


def _probe_columns(watched: _Cursor, scanned: _ScanBytes, scan: TableScan) -> scans.FileColumns:
    """Which columns ``scan``'s files hold, and, for Parquet, whether they share one schema.

    Probed on a side cursor: its reads are not the query's (see ``ReadLog``).
    """
    scanned.side_reads = True
    url = scanned.counter.url
    with watched.side() as cursor:
        parquet = scan.format.classification.lower() == "parquet"
        same_schema = parquet and len(scan.files) == 1
        if parquet and len(scan.files) > 1:
            count = scans.schema_count_query(scan, url).sql(dialect="duckdb", identify=True)
            row = cursor.execute(count).fetchone()
            same_schema = row is not None and row[0] == 1
        probe = scans.probe_query(scan, url, same_schema)
        cursor.execute(probe.sql(dialect="duckdb", identify=True))
        names = frozenset(str(column[0]).lower() for column in cursor.description or ())
        return scans.FileColumns(names, same_schema)


def _probe_json(
    probe: JsonProbe, watched: _Cursor, scanned: _ScanBytes, scan: TableScan
) -> JsonRead:
    """How a JSON SerDe scan's files spell its keys (``serdes.probe``), on a side cursor."""
    scanned.side_reads = True
    with watched.side() as cursor:
        return probe.fast_path(cursor, scan, scanned.counter.url)


def _normalize(table: pa.Table, description: Any) -> pa.Table:
    """DuckDB sums integers into HUGEINT (Arrow decimal128(38,0)); Athena answers bigint.
    JSON arrives as plain Arrow strings: its fields are marked (``SQL_TYPE_KEY``)."""
    for index, column in enumerate(description or ()):
        if str(column[1]) == "JSON":
            marked = table.field(index).with_metadata({SQL_TYPE_KEY: SQL_JSON})
            table = table.set_column(index, marked, table.column(index))
        elif str(column[1]) == "HUGEINT":
            try:
                table = table.set_column(
                    index, table.field(index).name, table.column(index).cast(pa.int64())
                )
            except pa.ArrowInvalid:
                raise QueryFailedError(f"bigint overflow in column {column[0]!r}") from None
    return table


def _cutoff(query: DuckDBQuery, scanned: int) -> BytesScannedCutoffError:
    return BytesScannedCutoffError(query.max_bytes_scanned or 0, scanned)


class _ScanBytes:
    """One query's bytes scanned: DuckDB's logged local reads plus the filesystem's count.

    Reads through shoal's filesystem stop the query at the limit themselves (the
    read that passes it fails); direct local reads are checked by the engine's
    watcher thread, from the read log, every ``_LOG_POLL_SECONDS``.
    """

    def __init__(
        self,
        counter: ScanCounter,
        reads: ReadLog | None,
        limit: int | None,
        ticket: Ticket | None = None,
    ) -> None:
        self.counter = counter
        self._reads = reads
        self._limit = limit
        self._ticket = ticket
        self.side_reads = False  # files were read on a side cursor (schema probes)
        self._connection: int | None = None  # known only when a watcher needs it
        self._next_poll = 0.0

    def start(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Count from here: call right before the statement runs on ``cursor``."""
        self.counter.reset()
        self.counter.arm(self._limit)
        if self._reads is not None and self._limit is not None:
            self._connection = self._reads.connection_of(cursor)

    def over_limit(self) -> bool:
        """Whether the query has read past its limit (called from the watcher)."""
        if self.counter.exceeded:
            return True
        if self._limit is None or self._connection is None:
            return False
        now = time.monotonic()
        if now < self._next_poll:
            return False
        self._next_poll = now + _LOG_POLL_SECONDS
        return self.so_far() > self._limit

    def so_far(self) -> int:
        """Bytes read since ``start`` as far as a limit needs them, from any thread."""
        local = 0
        if self._reads is not None and self._connection is not None:
            local = self._reads.bytes_read(self._connection)
        return local + self.counter.bytes_read

    def total(self, cursor: duckdb.DuckDBPyConnection) -> int:
        """All bytes read since ``start``; call on the query's cursor once it finished."""
        local = 0
        if self._reads is not None and self._ticket is not None:
            local = self._reads.collect(cursor, self._ticket, self.side_reads)
        return local + self.counter.bytes_read


def _translate_error(err: duckdb.Error, cancel: CancelToken) -> Exception:
    message = str(err).strip()
    if isinstance(err, duckdb.InterruptException) or cancel.cancelled:
        return QueryCancelledError(f"query {cancel.reason}")
    if isinstance(err, duckdb.PermissionException) or "AccessDeniedError" in message:
        first = message.splitlines()[0]
        return AccessDeniedError(f"access denied: {first}")
    if isinstance(err, duckdb.ParserException):
        return UnsupportedSqlError(message.splitlines()[0])
    return QueryFailedError(message.splitlines()[0] if message else type(err).__name__)


class _Cursor:
    """A query's cursor (and side cursors), interrupted by the engine's ``_Watcher``
    when ``cancel`` fires or ``stop`` says so."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        watcher: _Watcher,
        cancel: CancelToken,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self._con = con
        self.cursor = con.cursor()
        self._sides: list[duckdb.DuckDBPyConnection] = []
        self._watcher = watcher
        self._cancel = cancel
        self._stop = stop  # a second reason to interrupt: the bytes-scanned cutoff
        self._done = False
        self._lock = threading.Lock()

    def __enter__(self) -> _Cursor:
        self._watcher.watch(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._done = True
            self.cursor.close()
        self._watcher.forget(self)  # last: closing the engine waits for this

    @contextmanager
    def side(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Another cursor, interrupted with the query's, closed when the block ends."""
        side = self._con.cursor()
        with self._lock:
            self._sides.append(side)
        try:
            yield side
        finally:
            with self._lock:
                self._sides.remove(side)
                side.close()

    def check(self) -> None:
        """Interrupt every cursor if the query is cancelled or must stop. Called again
        while it runs: a statement started after one interrupt (the query follows its
        schema probes) is stopped too."""
        if self._cancel.cancelled or self._stop():
            self.interrupt()

    def interrupt(self) -> None:
        """Interrupt the statement running on any of the query's cursors."""
        with self._lock:
            if not self._done:
                for cursor in (self.cursor, *self._sides):
                    cursor.interrupt()


class _Watcher:
    """One thread per engine that checks every running query's cursor each
    ``_POLL_SECONDS`` (a thread per query cost ~0.3 ms to start)."""

    def __init__(self) -> None:
        self._cursors: set[_Cursor] = set()
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)  # a watched query ended
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, cursor: _Cursor) -> None:
        with self._lock:
            self._cursors.add(cursor)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="shoal-engine-watcher", daemon=True
                )
                self._thread.start()

    def forget(self, cursor: _Cursor) -> None:
        with self._lock:
            self._cursors.discard(cursor)
            self._ended.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Interrupt the running queries and stop the thread; wait (up to ``timeout``
        each) for both, as they may be inside DuckDB."""
        self._closed.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            # Again and again, as the watcher would: an interrupt that lands between
            # two statements of a query, or in a step that cannot stop, is lost.
            while self._cursors and time.monotonic() < deadline:
                for cursor in self._cursors:
                    cursor.interrupt()
                self._ended.wait(_POLL_SECONDS)
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(deadline - time.monotonic(), 0.1))

    def _run(self) -> None:
        while not self._closed.wait(_POLL_SECONDS):
            with self._lock:
                cursors = list(self._cursors)
            for cursor in cursors:
                try:
                    cursor.check()
                except Exception:  # one query's failing check must not stop the others'
                    log.exception("engine watcher: a query's check failed")
