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
from dataclasses import dataclass

import duckdb

MAX_PENDING_ENTRIES = 250_000

# Local reads of one statement: the message is JSON such as
# {"fs":"LocalFileSystem","path":"/…","op":"READ","bytes":"8192","pos":"0"}.
# The log contexts (one per connection and query) are picked first: the
# ``duckdb_logs`` view joins every entry to its context, which costs twice as much.
# Reads of spilled data are logged in the database's context, with no connection,
# so they are not part of any query's scan (tests/engine/test_read_log.py).
_READS_SQL = """
SELECT coalesce(sum(CAST(json_extract_string(message, '$.bytes') AS BIGINT)), 0), count(*)
FROM duckdb_logs(denormalized_table = false)
WHERE context_id IN (
    SELECT context_id FROM duckdb_log_contexts() WHERE connection_id = ? AND query_id > ?
  )
  AND type = 'FileSystem'
  AND json_extract_string(message, '$.fs') = 'LocalFileSystem'
  AND json_extract_string(message, '$.op') = 'READ'
"""


@dataclass(frozen=True)
class ReadMark:
    """Where a statement's reads start: its cursor's connection, and the query before it."""

    connection_id: int
    query_id: int


class ReadLog:
    """Per-query byte counts from DuckDB's FileSystem log, and the log's upkeep.

    Args:
        con: the engine's connection; ``enable`` must run before its configuration
            is locked.
        max_pending: log entries after which new queries wait for a truncation.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        max_pending: int = MAX_PENDING_ENTRIES,
    ) -> None:
        self._con = con
        # Watchers of running queries and the truncation share one cursor, in turn.
        self._monitor = con.cursor()
        self._monitor_lock = threading.Lock()
        self._max_pending = max_pending
        self._pending = 0
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
                if not self._running:
                    with self._monitor_lock:
                        self._monitor.execute("CALL truncate_duckdb_logs()")
                    self._pending = 0
                    self._idle.notify_all()

    @staticmethod
    def mark(cursor: duckdb.DuckDBPyConnection) -> ReadMark:
        """Call on the query's cursor right before its statement runs."""
        row = cursor.execute("SELECT current_connection_id(), current_query_id()").fetchone()
        assert row is not None
        return ReadMark(int(row[0]), int(row[1]))

    def bytes_read(self, since: ReadMark) -> int:
        """Bytes read so far by a running statement (for a watcher thread)."""
        with self._monitor_lock:
            return self._reads(self._monitor, since)[0]

    def collect(self, cursor: duckdb.DuckDBPyConnection, since: ReadMark) -> int:
        """The finished statement's bytes read; its log entries count toward upkeep."""
        total, entries = self._reads(cursor, since)
        with self._idle:
            self._pending += entries
        return total

    def _reads(self, cursor: duckdb.DuckDBPyConnection, since: ReadMark) -> tuple[int, int]:
        # Any cursor of the engine's database sees the whole log; the mark picks ours.
        row = cursor.execute(_READS_SQL, [since.connection_id, since.query_id]).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
