"""Parquet footers kept by DuckDB between queries, only where a rewrite cannot hide.

DuckDB trusts a kept footer while the file's inode, size and mtime in seconds are
unchanged; the engine lets a query use kept footers only when every planned file is
local and was last modified ``FOOTER_CACHE_AGE`` ago (``duckdb._footers_cacheable``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shoal.engine.base import TableFormat
from shoal.engine.duckdb import FOOTER_CACHE_AGE, DuckDBEngine

from .helpers import chunk_bytes, query, scan

PARQUET = TableFormat("parquet")
# Written without compression, dictionaries or varying encodings: two versions whose
# values differ have the same size, layout and footer length (only min/max differ).
_PLAIN = {"compression": "NONE", "use_dictionary": False, "write_statistics": True}


def _write(path: Path, values: list[int]) -> None:
    pq.write_table(pa.table({"x": pa.array(values, pa.int64())}), path, **_PLAIN)


def _age(path: Path, seconds: float) -> None:
    """Set ``path``'s mtime ``seconds`` into the past."""
    stat = path.stat()
    mtime = stat.st_mtime_ns - int(seconds * 1e9)
    os.utime(path, ns=(stat.st_atime_ns, mtime))


def _rewrite_in_place(path: Path, values: list[int], mtime_ns: int) -> None:
    """New contents of the same size into the same inode, with the given mtime."""
    replacement = path.with_suffix(".next")
    _write(replacement, values)
    data = replacement.read_bytes()
    replacement.unlink()
    assert len(data) == path.stat().st_size  # the case under test: same size
    inode = path.stat().st_ino
    with path.open("r+b") as out:
        out.write(data)
    assert path.stat().st_ino == inode
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_settled_files_read_their_footer_once(engine: DuckDBEngine, wide: Path) -> None:
    _age(wide, 2 * FOOTER_CACHE_AGE.total_seconds())
    table = scan("w", PARQUET, "a bigint, b double, s string", [wide])
    first = engine.execute(query("SELECT sum(a) AS t FROM w", table))
    again = engine.execute(query("SELECT sum(a) AS t FROM w", table))
    assert first.table.equals(again.table)
    assert first.table.column("t").to_pylist() == [sum(range(200_000))]
    footer = pq.ParquetFile(wide).metadata.serialized_size + 8
    # The first query read the footer and a's chunks; the second only a's chunks.
    assert first.bytes_scanned >= chunk_bytes(wide, "a") + footer
    assert again.bytes_scanned == chunk_bytes(wide, "a")


def test_recent_files_read_their_footer_every_time(engine: DuckDBEngine, wide: Path) -> None:
    table = scan("w", PARQUET, "a bigint, b double, s string", [wide])
    first = engine.execute(query("SELECT sum(a) AS t FROM w", table))
    again = engine.execute(query("SELECT sum(a) AS t FROM w", table))
    assert first.bytes_scanned == again.bytes_scanned > chunk_bytes(wide, "a")


def test_a_rewrite_within_the_same_second_is_read_with_its_own_footer(
    engine: DuckDBEngine, root: Path
) -> None:
    """The case DuckDB cannot see: same inode, same size, same mtime second. The
    stale footer's statistics (max 3) would prune the row group: no row over 3."""
    path = root / "x.parquet"
    _write(path, [1, 2, 3])
    written = path.stat().st_mtime_ns
    sql = "SELECT count(*) AS n FROM t WHERE x > 3"
    before = engine.execute(query(sql, scan("t", PARQUET, "x bigint", [path])))
    assert before.table.column("n").to_pylist() == [0]
    _rewrite_in_place(path, [4, 5, 6], written - written % 1_000_000_000 + 999_000_000)
    after = engine.execute(query(sql, scan("t", PARQUET, "x bigint", [path])))
    assert after.table.column("n").to_pylist() == [3]


def test_a_settled_file_rewritten_later_is_read_anew(engine: DuckDBEngine, root: Path) -> None:
    """A kept footer is dropped when the file's mtime moves to another second."""
    path = root / "x.parquet"
    _write(path, [1, 2, 3])
    _age(path, 2 * FOOTER_CACHE_AGE.total_seconds())
    sql = "SELECT count(*) AS n, max(x) AS m FROM t WHERE x > 3"
    for _ in range(2):  # the second run reads the kept footer
        kept = engine.execute(query(sql, scan("t", PARQUET, "x bigint", [path])))
        assert kept.table.to_pylist() == [{"n": 0, "m": None}]
    old = path.stat().st_mtime_ns
    _rewrite_in_place(path, [4, 5, 6], old + 1_000_000_000)
    after = engine.execute(query(sql, scan("t", PARQUET, "x bigint", [path])))
    assert after.table.to_pylist() == [{"n": 3, "m": 6}]
