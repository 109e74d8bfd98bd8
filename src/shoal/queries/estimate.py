"""Estimate the bytes a planned query will scan, before it runs.

The planner already knows the files left after partition pruning (``QueryPlan``);
its ``total_bytes`` is an upper bound. The estimate adds column projection:

* Parquet: per file, the compressed sizes of the column chunks of the columns the
  query references, plus the footer (Thrift metadata, its 4-byte length and the
  ``PAR1`` magic), which the engine reads first. DuckDB (1.5.5, with Parquet
  prefetching on, as the engine runs it) reads the footer by fetching the file's
  last 16 KiB, then whatever of a longer footer is left, so a footer costs
  ``max(footer, min(file size, 16 KiB))``; on small files that tail dominates
  (sample ``trips``: 2.6 KB footer, 16 KiB read). Footers are read once and cached
  by (path, size, mtime).
* CSV, JSON and anything else: whole files (compressed size), as no projection is
  possible.

Which columns a table's scan needs: every identifier the (view-expanded) query
names, matched against the file's top-level columns; a ``*`` (other than
``count(*)``) means all of them. Identifiers that are aliases or belong to another
table can only add columns, so the estimate errs upward, never below a
``SELECT *``. Row-group statistics and ``LIMIT`` make the engine read less, never more
(DuckDB's read log and the ``ScanFileSystem`` counter measured footers plus chunks
within 0.5%).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from shoal.engine.athena import referenced_columns
from shoal.engine.base import DataFile
from shoal.lru import LruCache
from shoal.queries.planner import QueryPlan
from shoal.storage.base import Storage, parse_uri

PARQUET = "parquet"
FOOTER_TAIL = 8  # the metadata length (4 bytes) and the "PAR1" magic
ENGINE_FOOTER_PREFETCH = 16 * 1024  # DuckDB's first read of a Parquet file: its tail
MAX_CACHED_FOOTERS = 10_000


@dataclass(frozen=True)
class Footer:
    """What an estimate needs from one Parquet footer."""

    footer_bytes: int  # metadata + length + magic
    chunk_bytes: Mapping[str, int]  # lower-cased top-level column -> compressed bytes


@dataclass(frozen=True)
class TableEstimate:
    """One table's share: bytes, and the columns projection kept (None: all)."""

    database: str
    table: str
    classification: str
    files: int
    bytes: int
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Estimate:
    """The bytes a query is expected to scan, per table and in total."""

    tables: tuple[TableEstimate, ...]
    upper_bound: int

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    def describe(self) -> str:
        """``Estimated bytes scanned: N (…)``, for EXPLAIN."""
        parts = []
        for t in self.tables:
            if t.classification == PARQUET:
                kept = "all columns" if t.columns is None else f"columns {list(t.columns)}"
                parts.append(f"{t.database}.{t.table}: {t.bytes} bytes, {kept} and footers")
            else:
                parts.append(f"{t.database}.{t.table}: {t.bytes} bytes, whole files")
        detail = "; ".join(parts) if parts else "no files"
        return f"Estimated bytes scanned: {self.bytes} ({detail})"


# ---------------------------------------------------------------- columns referenced


# ---------------------------------------------------------------- footers


class FooterCache:
    """Parquet footers by (path, size, mtime), bounded, safe to share between threads."""

    def __init__(self, capacity: int = MAX_CACHED_FOOTERS) -> None:
        self._footers: LruCache[Footer] = LruCache(capacity)

    def get(self, file: DataFile, storage: Storage) -> Footer:
        key = (file.path, file.size, file.mtime)
        return self._footers.get_or_make(key, lambda: read_footer(file, storage))


FOOTERS = FooterCache()


def read_footer(file: DataFile, storage: Storage) -> Footer:
    """The footer of one Parquet file: a local path, or ranged reads through storage."""
    if "://" in file.path:
        bucket, key = parse_uri(file.path)
        metadata = pq.read_metadata(pa.PythonFile(_RangedReader(storage, bucket, key, file.size)))
    else:
        metadata = pq.read_metadata(file.path)
    chunks: dict[str, int] = {}
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            name = chunk.path_in_schema.split(".", 1)[0].lower()
            chunks[name] = chunks.get(name, 0) + chunk.total_compressed_size
    return Footer(metadata.serialized_size + FOOTER_TAIL, chunks)


class _RangedReader(io.RawIOBase):
    """A read-only, seekable file over ``Storage.read`` ranges (footers of remote files)."""

    def __init__(self, storage: Storage, bucket: str, key: str, size: int) -> None:
        self.storage, self.bucket, self.key, self.size = storage, bucket, key, size
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        end = min(self.size, self.position + len(buffer))
        if end <= self.position:
            return 0
        data = self.storage.read(self.bucket, self.key, self.position, end)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


# ---------------------------------------------------------------- the estimate


def footer_read(footer: Footer, size: int) -> int:
    """Bytes the engine reads to get a file's footer (its 16 KiB tail at least)."""
    return max(footer.footer_bytes, min(size, ENGINE_FOOTER_PREFETCH))


def estimate_plan(plan: QueryPlan, storage: Storage, cache: FooterCache | None = None) -> Estimate:
    """Bytes ``plan`` is expected to scan: projected Parquet chunks, whole other files."""
    cache = cache or FOOTERS
    wanted = referenced_columns(plan.resolution.tree)
    tables = []
    for planned in plan.tables:
        scan = planned.scan
        classification = scan.format.classification.lower()
        if classification != PARQUET:
            tables.append(
                TableEstimate(
                    scan.database, scan.table, classification, len(scan.files), planned.bytes
                )
            )
            continue
        total = 0
        kept: set[str] = set()
        for file in scan.files:
            try:
                footer = cache.get(file, storage)
            except (OSError, pa.ArrowException):
                total += file.size  # unreadable footer: the engine will fail or read it all
                continue
            for name, size in footer.chunk_bytes.items():
                if wanted is None or name in wanted:
                    total += size
                    kept.add(name)
            total += footer_read(footer, file.size)
        columns = None if wanted is None else tuple(sorted(kept))
        tables.append(
            TableEstimate(
                scan.database, scan.table, classification, len(scan.files), total, columns
            )
        )
    return Estimate(tuple(tables), plan.total_bytes)


__all__ = [
    "Estimate",
    "FooterCache",
    "Footer",
    "TableEstimate",
    "estimate_plan",
    "footer_read",
    "read_footer",
]
