"""Planned tables kept as temporary views of the Spark session, reused while unchanged.

A planned table sent with every statement as a DataFrame is analysed by Spark again
for every query: its files looked up, its schema applied (~30–40 ms a table, measured
on a one-file table against a view analysed once), which made TPC-H's many-table
queries 1.15–1.25x raw PySpark's, whose views are analysed once. So each scan becomes
a temporary view once, named by a digest of everything its rows depend on
(``base.scan_key``: the definition and the planned files with their sizes and
mtimes): a changed table, or a query pruned to other partitions, is another view,
never a stale one. A scan whose files' versions are unknown is not kept (the caller
sends its DataFrame with the statement instead).

Views are dropped least recently used first beyond ``max_views``, but never while a
running statement holds them (``hold``), so a statement never loses a view between
being sent and being analysed. The names are the engine's own: the planner only lets
a statement name catalog tables, so no user SQL can reach a view by its name.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shoal.engine.base import TableScan, scan_key

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.connect.session import SparkSession

MAX_VIEWS = 256
PREFIX = "shoal_view_"


class ScanViews:
    """The session's views of planned tables; safe to share between threads.

    Args:
        spark: the session the views live in.
        frame_of: the DataFrame reading a scan's planned files (what a view holds).
        max_views: views kept; older ones unused by any statement are dropped.
    """

    def __init__(
        self,
        spark: SparkSession,
        frame_of: Callable[[TableScan], DataFrame],
        max_views: int = MAX_VIEWS,
    ) -> None:
        self._spark = spark
        self._frame_of = frame_of
        self._max_views = max_views
        self._salt = secrets.token_hex(8)  # names differ between engines sharing a server
        self._views: OrderedDict[str, None] = OrderedDict()  # created, least recent first
        self._holders: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._creating: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, scans: Sequence[TableScan]) -> Iterator[list[str | None]]:
        """A view name for each scan (None for one that cannot be kept), the views
        existing and kept until the block ends."""
        names = [self._name(scan) for scan in scans]
        held = [name for name in names if name is not None]
        with self._lock:
            self._holders.update(held)
        try:
            for scan, name in zip(scans, names, strict=True):
                if name is not None:
                    self._ensure(name, scan)
            yield names
        finally:
            with self._lock:
                self._holders.subtract(held)
                self._holders += Counter()  # drop the zero counts
                # Dropped under the lock: a statement wanting one of these views again
                # waits, then creates it anew, and is never left with a dropped view.
                for name in self._evictable():
                    self._spark.catalog.dropTempView(name)

    def _name(self, scan: TableScan) -> str | None:
        key = scan_key(scan)
        if key is None:
            return None
        digest = hashlib.sha256(f"{self._salt}\0{key!r}".encode()).hexdigest()[:32]
        return PREFIX + digest

    def _ensure(self, name: str, scan: TableScan) -> None:
        with self._lock:
            if name in self._views:
                self._views.move_to_end(name)
                return
            creating = self._creating.setdefault(name, threading.Lock())
        with creating:  # one creation per view, however many statements want it
            with self._lock:
                if name in self._views:
                    return
            self._frame_of(scan).createOrReplaceTempView(name)
            with self._lock:
                self._views[name] = None
                self._creating.pop(name, None)

    def _evictable(self) -> list[str]:
        """Views to drop: the least recently used beyond ``max_views`` that no running
        statement holds (called under the lock; they are forgotten here)."""
        excess = len(self._views) - self._max_views
        stale = []
        for name in self._views:
            if excess <= 0:
                break
            if not self._holders[name]:
                stale.append(name)
                excess -= 1
        for name in stale:
            del self._views[name]
        return stale
