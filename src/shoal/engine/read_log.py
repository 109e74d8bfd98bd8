"""Bytes scanned from DuckDB's own record of its local reads.

With direct reads (the default), DuckDB opens a query's planned local files itself,
and shoal learns what it read from DuckDB's ``FileSystem`` log: with
``enable_logging('FileSystem')`` every read of the local filesystem is logged with
its byte count, the connection and the query that made it. A query's
DataScannedInBytes is the sum of its own statement's reads, measured by the engine,
not estimated: after column projection, row-group pruning and early stops alike.

The log lives in DuckDB's memory and grows with every read (TPC-H SF1 queries log
~1,500 reads each), so it is truncated whenever no query is running. A service that
never goes idle would grow it forever; once the entries counted since the last
truncation pass ``max_pending``, new queries wait until the running ones finish and
the log is emptied (rare, and short: it waits for queries already running).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

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
        self, con: duckdb.DuckDBPyConnection, max_pending: int = MAX_PENDING_ENTRIES
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

    def enable(self) -> None:
        """Start logging local reads (before ``lock_configuration``)."""
        self._con.execute("CALL enable_logging('FileSystem')")

    @contextmanager
    def running(self) -> Iterator[None]:
        """Bracket one query; the log is emptied when the last running query ends."""
        with self._idle:
            while self._pending > self._max_pending and self._running:
                self._idle.wait()
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                self._queries_since_truncation += 1
                if not self._running and self._worth_truncating():
                    with self._monitor_lock:
                        self._monitor.execute("CALL truncate_duckdb_logs()")
                    self._pending = 0
                    self._queries_since_truncation = 0
                    self._idle.notify_all()

    def _worth_truncating(self) -> bool:
        # A truncation costs ~0.5 ms: skip it after queries that read no local file,
        # but not forever (queries that spill log their temporary files too).
        return bool(self._pending) or self._queries_since_truncation >= TRUNCATE_AFTER_QUERIES

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

    def collect(self, cursor: duckdb.DuckDBPyConnection) -> int:
        """Bytes read by the statements ``cursor`` ran so far; their log entries count
        toward upkeep. Call on the query's cursor once its statement finished."""
        row = cursor.execute(_EARLIER_READS).fetchone()
        total, entries = (int(row[0]), int(row[1])) if row else (0, 0)
        with self._idle:
            self._pending += entries
        return total
