"""Builders shared by the engine tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from shoal.catalog.model import Column
from shoal.engine.athena import parse
from shoal.engine.base import DataFile, ResolvedQuery, TableFormat, TableScan


def columns(spec: str) -> tuple[Column, ...]:
    """``"a bigint, b string"`` -> Columns."""
    pairs = (part.strip().split(" ", 1) for part in spec.split(";" if ";" in spec else ","))
    return tuple(Column(name, typ.strip()) for name, typ in pairs)


def scan(
    table: str,
    fmt: TableFormat,
    cols: str,
    files: Sequence[Path | tuple[Path, tuple[str, ...]]],
    partition_keys: str = "",
    database: str = "db",
) -> TableScan:
    data_files = []
    for entry in files:
        path, values = entry if isinstance(entry, tuple) else (entry, ())
        stat = path.stat()
        mtime = datetime.fromtimestamp(stat.st_mtime, UTC)  # as the planner lists it
        data_files.append(DataFile(str(path), stat.st_size, values, mtime))
    keys = columns(partition_keys) if partition_keys else ()
    return TableScan(database, table, fmt, columns(cols), keys, tuple(data_files))


def query(
    sql: str, *scans: TableScan, parameters: Sequence[object] = (), db: str = "db"
) -> ResolvedQuery:
    """The engine-neutral plan of ``sql`` (Athena SQL) over ``scans``."""
    return ResolvedQuery(parse(sql), db, scans, parameters)


def chunk_bytes(path: Path, column: str) -> int:
    """The compressed size of ``column``'s chunks in a Parquet file, from its footer."""
    meta = pq.ParquetFile(path).metadata
    index = meta.schema.names.index(column)
    return sum(
        meta.row_group(g).column(index).total_compressed_size for g in range(meta.num_row_groups)
    )
