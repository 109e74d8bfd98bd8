"""Scan SQL is built once per table version; the counting filesystem's contract."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.engine import duckdb as engine_module
from shoal.engine.base import DataFile, TableFormat, scan_key
from shoal.engine.duckdb import DuckDBEngine
from shoal.engine.scan_cache import ScanSqlCache
from shoal.engine.scanfs import ScanFileSystem, url_for
from shoal.errors import AccessDeniedError

from .helpers import query, scan

PARQUET = TableFormat("parquet")


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables whose Parquet files were probed for their columns."""
    seen: list[str] = []
    original = engine_module._probe_columns

    def counting(*args: object) -> set[str]:
        seen.append(args[-1].table)  # type: ignore[attr-defined]
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "_probe_columns", counting)
    return seen


def test_a_table_is_probed_once_and_charged_every_time(
    engine: DuckDBEngine, root: Path, probes: list[str]
) -> None:
    path = root / "t.parquet"
    pq.write_table(pa.table({"a": list(range(1000))}), path)
    table = scan("t", PARQUET, "a bigint", [path])
    first = engine.execute(query("SELECT sum(a) AS s FROM t", table))
    second = engine.execute(query("SELECT sum(a) AS s FROM t", table))
    assert probes == ["t"]
    assert first.table.to_pylist() == second.table.to_pylist() == [{"s": 499500}]
    assert first.bytes_scanned == second.bytes_scanned > 0


def test_a_rewritten_file_is_probed_again(
    engine: DuckDBEngine, root: Path, probes: list[str]
) -> None:
    path = root / "t.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    old = scan("t", PARQUET, "a bigint, b string", [path])
    assert engine.execute(query("SELECT * FROM t", old)).table.to_pylist() == [{"a": 1, "b": None}]
    pq.write_table(pa.table({"a": [2], "b": ["new"]}), path)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a later mtime, surely
    new = scan("t", PARQUET, "a bigint, b string", [path])
    assert engine.execute(query("SELECT * FROM t", new)).table.to_pylist() == [{"a": 2, "b": "new"}]
    assert probes == ["t", "t"]


def test_files_without_a_version_are_not_cached(root: Path) -> None:
    path = root / "t.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    table = scan("t", PARQUET, "a bigint", [path])
    assert scan_key(table) is not None
    unversioned = replace(table, files=tuple(replace(f, mtime=None) for f in table.files))
    assert scan_key(unversioned) is None


def test_the_cache_is_bounded(root: Path) -> None:
    cache = ScanSqlCache(url_for, max_entries=2)
    path = root / "t.csv"
    path.write_text("1\n")
    tables = [scan(f"t{i}", TableFormat("csv"), "a bigint", [path]) for i in range(3)]
    for table in tables:
        cache.scan_sql(table, "token", lambda _: set())
    assert len(cache._entries) == 2
    assert "shoal://token/" in cache.scan_sql(tables[0], "token", lambda _: set())


def test_the_filesystem_reads_only_planned_files_read_only(root: Path) -> None:
    path = root / "data.bin"
    path.write_bytes(bytes(range(256)) * 4)
    (root / "other.bin").write_bytes(b"secret")
    fs = ScanFileSystem([str(root)])
    with fs.scan([DataFile(str(path), 1024)]) as counter:
        url = counter.url(str(path))
        assert fs.size(url) == 1024 and fs.info(url)["type"] == "file"
        with fs.open(url, "rb") as handle:
            handle.seek(1000)
            assert handle.read(100) == (bytes(range(256)) * 4)[1000:]  # clamped at the end
            assert handle.read(10) == b""
        assert counter.bytes_read == 24
        for denied in (counter.url(str(root / "other.bin")), url.replace(counter.token, "x")):
            with pytest.raises(AccessDeniedError):
                fs.open(denied, "rb")
            assert not fs.exists(denied)
        with pytest.raises(AccessDeniedError):
            fs.open(url, "wb")
        with pytest.raises(AccessDeniedError):
            fs.rm(url)
    with pytest.raises(AccessDeniedError):  # the window closes with the query
        fs.open(url, "rb")
