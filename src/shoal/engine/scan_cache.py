"""Each table scan's SQL, built once per table version and reused by later queries.

Building a scan's SELECT costs 2–20 ms (a sqlglot tree printed to text, plus for
Parquet a ``LIMIT 0`` probe that opens the files to learn which catalog columns they
hold); on TPC-H that was a third of shoal's fixed cost per query. The text depends
only on the table (format, columns, partition keys) and its planned files, so it is
cached under exactly those, files with their size and mtime: a rewritten file or a
changed definition is a different key, never a stale answer.

Files read through shoal's filesystem carry the reading query's token
(``shoal://<token>/…``; files DuckDB reads directly are named by their path), so the
cache stores templates written with a random token of its own and substitutes the
real one per query. That token never leaves the engine, so no path or partition
value in a table can spell it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from functools import partial

from shoal.engine import scans
from shoal.engine.base import TableScan, scan_key
from shoal.engine.scanfs import PROTOCOL
from shoal.engine.serdes import json_sql
from shoal.engine.serdes.json_keys import JsonRead
from shoal.lru import LruCache

# Probes a Parquet or Avro scan through the running query's token: the columns its
# files hold, and whether they share one schema.
Probe = Callable[[TableScan], scans.FileColumns]
# Probes a JSON SerDe scan likewise: how its files spell its keys (``serdes.probe``).
JsonProbe = Callable[[TableScan], JsonRead]
# Where DuckDB reads a planned file for the query holding a token: (token, path) -> URL.
FileUrl = Callable[[str, str], str]

MAX_ENTRIES = 512
MAX_CHARS = 32_000_000  # partitioned tables list every file; bound the memory held


class ScanSqlCache:
    """Scan SQL templates by table version; safe to share between threads."""

    def __init__(
        self, url: FileUrl, max_entries: int = MAX_ENTRIES, max_chars: int = MAX_CHARS
    ) -> None:
        self._url = url
        self._token = secrets.token_hex(12)
        self._entries: LruCache[str] = LruCache(max_entries, max_chars, len)
        self._max_chars = max_chars

    def scan_sql(
        self,
        scan: TableScan,
        token: str,
        probe: Probe,
        json_probe: JsonProbe | None = None,
        partitions: bool = True,
    ) -> str:
        """The SELECT reading ``scan``'s files through ``shoal://<token>/``; without its
        partition columns unless ``partitions``."""
        version = scan_key(scan)
        key = (version, partitions) if version is not None else None
        template = self._get(key) if key is not None else None
        if template is None:
            template, final = self._build(scan, probe, json_probe, partitions)
            if key is not None and final:
                self._put(key, template)
        return template.replace(f"{PROTOCOL}://{self._token}", f"{PROTOCOL}://{token}")

    def _build(
        self, scan: TableScan, probe: Probe, json_probe: JsonProbe | None, partitions: bool
    ) -> tuple[str, bool]:
        """The template, and whether it is final: not while a JSON table's files are
        left for later queries to check (a faster template will follow)."""
        if not scan.files:
            return scans.empty_query(scan).sql(dialect="duckdb", identify=True), True
        present = probe(scan) if scan.format.classification.lower() in scans.PROBED else None
        json_fast = None
        if json_probe is not None and json_sql.fast_path_allowed(scan):
            json_fast = json_probe(scan)
        url = partial(self._url, self._token)
        query = scans.scan_query(scan, url, present, json_fast, partitions)
        final = json_fast is None or not json_fast.pending
        return query.sql(dialect="duckdb", identify=True), final

    def _get(self, key: Hashable) -> str | None:
        return self._entries.get(key)

    def _put(self, key: Hashable, template: str) -> None:
        if len(template) > self._max_chars // 4:
            return  # one giant table would evict everything else
        self._entries.put(key, template)
