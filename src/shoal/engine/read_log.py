"""Bytes scanned from DuckDB's own record of its local reads.

With direct reads (the default), DuckDB opens a query's planned local files itself,
and shoal learns what it read from DuckDB's ``FileSystem`` log: with
``enable_logging('FileSystem')`` every read of the local filesystem is logged with
its byte count, the connection and the query that made it. A query's
DataScannedInBytes is the sum of its own statement's reads, measured by the engine,
not estimated: after column projection, row-group pruning and early stops alike.

Picking a query's entries by context costs ~1 ms of a ~2.5 ms count, so a query that
ran alone (the log held no other query's reads when it started, and no query started
until it was counted) and read nothing on a side cursor sums every read in the log
instead, but those of spilled data, told by their path under the temporary folder.

The log lives in DuckDB's memory and grows with every read (TPC-H SF1 queries log
~1,500 reads each), so it is truncated whenever no query is running, by a thread of
its own once the last running query is answered (a query that starts meanwhile waits
for it). A service that never goes idle would grow it forever; once the entries
counted since the last truncation pass ``max_pending``, new queries wait until the
running ones finish and the log is emptied (rare, and short: it waits for queries
already running).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

log = logging.getLogger(__name__)

MAX_PENDING_ENTRIES = 250_000
TRUNCATE_AFTER_QUERIES = 100

# Local reads, from messages such as
# {"fs":"LocalFileSystem","path":"/…","op":"READ","bytes":"8192","pos":"0"}, of the
# log contexts (one per connection and query) that {contexts} picks. Contexts are
# picked first: the ``duckdb_logs`` view joins every entry to its context, which
# costs twice as much. Reads of spilled data are logged in the database's context,
# with no connection, so they are no query's scan (tests/engine/test_read_log.py).
_READS_SQL = """
SELECT coalesce(sum(CAST(json_extract_string(message, '$.bytes') AS BIGINT)), 0), count(*)
FROM duckdb_logs(denormalized_table = false)
WHERE context_id IN (SELECT context_id FROM duckdb_log_contexts() WHERE {contexts})
  AND type = 'FileSystem'
  AND contains(message, '"op":"READ"')
  AND json_extract_string(message, '$.fs') = 'LocalFileSystem'
"""
# A running statement's reads so far, seen from another cursor.
_CONNECTION_READS = _READS_SQL.format(contexts="connection_id = ?")
# The reads of the statements this cursor ran before this one.
_EARLIER_READS = _READS_SQL.format(
    contexts="connection_id = current_connection_id() AND query_id < current_query_id()"
)
# Every local read in the log but those of spilled data (their path starts with the
# marker): the reads of the one query that ran since the log was last emptied.
# Plain text tests against DuckDB 1.5.5's message layout, which the tests pin: this
# saves the context lookup and most JSON parsing (~1 ms of a ~2.5 ms count). It is
# prepared once, on the monitor cursor: planning it took half of what it costs.
_ALL_READS = "shoal_all_reads"
_PREPARE_ALL_READS = """
PREPARE {name} AS
SELECT coalesce(sum(CAST(json_extract_string(message, '$.bytes') AS BIGINT)), 0), count(*)
FROM duckdb_logs(denormalized_table = false)
WHERE type = 'FileSystem'
  AND starts_with(message, '{{"fs":"LocalFileSystem",')
  AND contains(message, '"op":"READ"')
  AND NOT contains(message, {spill_marker})
"""


@dataclass
class Ticket:
    """One query's turn in the log (from ``ReadLog.running``).

    ``alone``: the log held no other query's reads when it started and no query was
    running; it stays alone while no other query starts (``ReadLog`` counts starts).
    """

    alone: bool
    started: int


class ReadLog:
    """Per-statement byte counts from DuckDB's FileSystem log, and the log's upkeep.

    A query's statement runs on a fresh cursor (a DuckDB connection of its own) that
    runs nothing else that reads files, so its connection's reads are the query's.

    Args:
        con: the engine's connection; ``enable`` must run before its configuration
            is locked.
        max_pending: log entries after which new queries wait for a truncation.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        max_pending: int = MAX_PENDING_ENTRIES,
        spill_directory: str | None = None,
    ) -> None:
        self._con = con
        # Watchers of running queries and the truncation share one cursor, in turn.
        self._monitor = con.cursor()
        self._monitor_lock = threading.Lock()
        self._max_pending = max_pending
        self._pending = 0
        self._queries_since_truncation = 0
        self._running = 0
        self._idle = threading.Condition()
        # Whether the log holds no read of a finished query (only spilled data's), and
        # how many queries started: what makes a query's reads all the log's reads.
        self._clean = True
        self._started = 0
        self._truncation_due = False
        self._truncator: threading.Thread | None = None
        self._closed = False
        self._spill_marker = _path_marker(spill_directory) if spill_directory else None
        if self._spill_marker is not None:
            literal = "'" + self._spill_marker.replace("'", "''") + "'"
            prepare = _PREPARE_ALL_READS.format(name=_ALL_READS, spill_marker=literal)
            self._monitor.execute(prepare)
        self.counted_alone = 0  # counts that took the short way (see ``collect``)

    def enable(self) -> None:
        """Start logging local reads (before ``lock_configuration``)."""
        self._con.execute("CALL enable_logging('FileSystem')")

    @contextmanager
    def running(self, reads_local: bool = True) -> Iterator[Ticket]:
        """Bracket one query; the log is emptied when the last running query ends.

        ``reads_local``: the query may read local files (a query that plans none
        cannot: DuckDB reaches nothing else but spilled data).
        """
        with self._idle:
            # A due truncation goes first (~0.5 ms): the log it leaves is clean.
            while not self._closed and (
                self._truncation_due or (self._pending > self._max_pending and self._running)
            ):
                self._idle.wait()
            self._started += 1
            ticket = Ticket(alone=self._clean and not self._running, started=self._started)
            self._running += 1
            if reads_local:
                self._clean = False
        try:
            yield ticket
        finally:
            with self._idle:
                self._running -= 1
                self._queries_since_truncation += 1
                if not self._running and self._worth_truncating():
                    # Emptied by the truncator thread, so the answer need not wait.
                    self._truncation_due = True
                    self._start_truncator()
                    self._idle.notify_all()

    def settle(self) -> None:
        """Wait until a due truncation is done (tests; a new query waits by itself)."""
        with self._idle:
            self._idle.wait_for(lambda: not self._truncation_due or self._closed)

    def close(self) -> None:
        """Stop the truncator thread (before the connection closes)."""
        with self._idle:
            self._closed = True
            self._idle.notify_all()
        if self._truncator is not None:
            self._truncator.join(timeout=5)

    def _start_truncator(self) -> None:
        if self._truncator is None:  # under self._idle
            self._truncator = threading.Thread(
                target=self._truncate_when_due, name="shoal-read-log", daemon=True
            )
            self._truncator.start()

    def _truncate_when_due(self) -> None:
        with self._idle:
            while True:
                self._idle.wait_for(lambda: self._truncation_due or self._closed)
                if self._closed:
                    return
                self._truncate()  # no query runs: new ones wait while it is due
                self._truncation_due = False  # even if it failed: no query may hang on it
                self._idle.notify_all()

    def _truncate(self) -> None:
        try:
            with self._monitor_lock:
                self._monitor.execute("CALL truncate_duckdb_logs()")
        except Exception:  # whatever it was, no query may hang on this thread
            # The log keeps its entries, and a count then picks its contexts: still right.
            log.exception("read log: truncation failed")
            return
        self._pending = 0
        self._queries_since_truncation = 0
        self._clean = True

    def _worth_truncating(self) -> bool:
        # A truncation costs ~0.5 ms: skip it after queries that read no local file,
        # but not forever (queries that spill log their temporary files too). Reads of
        # a query that failed before it counted them leave the log unclean: empty it.
        return (
            bool(self._pending)
            or not self._clean
            or self._queries_since_truncation >= TRUNCATE_AFTER_QUERIES
        )

    @staticmethod
    def connection_of(cursor: duckdb.DuckDBPyConnection) -> int:
        """The DuckDB connection id of ``cursor``, for ``bytes_read``."""
        row = cursor.execute("SELECT current_connection_id()").fetchone()
        assert row is not None
        return int(row[0])

    def bytes_read(self, connection_id: int) -> int:
        """Bytes read so far by a running statement's connection (for a watcher)."""
        with self._monitor_lock:
            row = self._monitor.execute(_CONNECTION_READS, [connection_id]).fetchone()
        return int(row[0]) if row else 0

    def collect(
        self, cursor: duckdb.DuckDBPyConnection, ticket: Ticket, side_reads: bool = False
    ) -> int:
        """Bytes read by the statements ``cursor`` ran so far; their log entries count
        toward upkeep. Call on the query's cursor once its statement finished.

        ``side_reads``: the query also read on other cursors (schema probes), which are
        not its scan. Without them, a query that ran alone is every read in the log.
        """
        row = None
        if ticket.alone and not side_reads and self._spill_marker is not None:
            if self._alone_still(ticket):
                with self._monitor_lock:
                    row = self._monitor.execute(f"EXECUTE {_ALL_READS}").fetchone()
                if self._alone_still(ticket):
                    self.counted_alone += 1
                else:
                    row = None  # another query started meanwhile: its reads may be in it
        if row is None:
            row = cursor.execute(_EARLIER_READS).fetchone()
        total, entries = (int(row[0]), int(row[1])) if row else (0, 0)
        with self._idle:
            self._pending += entries
        return total

    def _alone_still(self, ticket: Ticket) -> bool:
        with self._idle:
            return self._started == ticket.started


def _path_marker(folder: str) -> str | None:
    """How a log message names a path under ``folder``; None when DuckDB would escape
    some character of it (then every count picks its contexts)."""
    if any(c in folder for c in '"\\') or any(ord(c) < 0x20 for c in folder):
        return None
    return '"path":"' + folder.rstrip("/") + "/"
