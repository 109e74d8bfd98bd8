"""Direct local reads: bytes scanned from DuckDB's read log, and the log's upkeep."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.engine.base import TableFormat
from shoal.engine.duckdb import DuckDBEngine
from shoal.engine.read_log import MAX_PENDING_ENTRIES, ReadLog, Ticket
from shoal.errors import BytesScannedCutoffError

from .helpers import chunk_bytes, query, scan

PARQUET = TableFormat("parquet")
COLUMNS = "a bigint, b double, s string"


@pytest.fixture
def counted(root: Path, tmp_path: Path) -> Iterator[DuckDBEngine]:
    eng = DuckDBEngine([str(root)], str(tmp_path / "spill-counted"), direct_reads=False)
    yield eng
    eng.close()


def _log_entries(engine: DuckDBEngine) -> int:
    assert engine._reads is not None
    engine._reads.settle()  # the truncation runs on a thread of its own
    cursor = engine._con.cursor()
    row = cursor.execute("SELECT count(*) FROM duckdb_logs").fetchone()
    cursor.close()
    return int(row[0]) if row else -1


@contextmanager
def _read_log(
    spill: Path, max_pending: int = MAX_PENDING_ENTRIES
) -> Iterator[tuple[duckdb.DuckDBPyConnection, ReadLog]]:
    """A connection with its read log enabled, closed in the right order afterwards."""
    con = duckdb.connect(config={"threads": 1})
    log = ReadLog(con, max_pending, spill_directory=str(spill))
    log.enable()
    try:
        yield con, log
    finally:
        log.close()
        con.close()


def _sum_a_is_counted(
    log: ReadLog, con: duckdb.DuckDBPyConnection, wide: Path, ticket: Ticket
) -> None:
    """Sum column a on a fresh cursor: its count is a's chunks plus the footer."""
    cursor = con.cursor()
    cursor.execute(f"SELECT sum(a) FROM read_parquet('{wide}')").fetchall()
    expected = chunk_bytes(wide, "a") + pq.ParquetFile(wide).metadata.serialized_size + 8
    assert abs(log.collect(cursor, ticket) - expected) <= 0.01 * expected
    cursor.close()


@pytest.mark.parametrize("sql", ["SELECT sum(a) AS t FROM w", "SELECT * FROM w"])
def test_direct_and_counted_reads_agree(
    engine: DuckDBEngine, counted: DuckDBEngine, wide: Path, sql: str
) -> None:
    table = scan("w", PARQUET, COLUMNS, [wide])
    direct = engine.execute(query(sql, table))
    through_python = counted.execute(query(sql, table))
    assert direct.table.sort_by("a" if "*" in sql else "t").equals(
        through_python.table.sort_by("a" if "*" in sql else "t")
    )
    assert direct.bytes_scanned > 0
    # The counting filesystem fetches a footer as the file's last 16 KiB at least.
    assert abs(direct.bytes_scanned - through_python.bytes_scanned) <= 16 * 1024


def test_one_column_costs_its_chunks_and_footer(engine: DuckDBEngine, wide: Path) -> None:
    table = scan("w", PARQUET, COLUMNS, [wide])
    scanned = engine.execute(query("SELECT sum(b) AS t FROM w", table)).bytes_scanned
    # DuckDB fetches a footer as the file's last 16 KiB at least (Parquet prefetching).
    footer = max(pq.ParquetFile(wide).metadata.serialized_size + 8, 16 * 1024)
    expected = chunk_bytes(wide, "b") + footer
    assert abs(scanned - expected) <= 0.01 * expected, (scanned, expected)


def test_the_log_is_emptied_once_no_query_runs(engine: DuckDBEngine, wide: Path) -> None:
    table = scan("w", PARQUET, COLUMNS, [wide])
    engine.execute(query("SELECT * FROM w", table))
    assert _log_entries(engine) == 0


def test_spilled_data_is_not_scanned_data(root: Path, tmp_path: Path) -> None:
    one_row = root / "one.parquet"
    pq.write_table(pa.table({"k": [1]}), one_row)
    table = scan("t", PARQUET, "k bigint", [one_row])
    small = DuckDBEngine([str(root)], str(tmp_path / "spill"), memory_limit="40MB")
    try:
        sql = (
            "SELECT count(*) AS n FROM (SELECT x, md5(x::varchar) AS h "
            "FROM (SELECT unnest(range(0, 3000000)) AS x) ORDER BY h) AS s, t"
        )
        # Sorting 3M rows in 40 MB spills. The first run probes the file's columns
        # (its entries are picked by context); the second, alone, sums the whole log.
        results = [small.execute(query(sql, table)) for _ in range(2)]
        assert small._reads is not None and small._reads.counted_alone == 1
    finally:
        small.close()
    for result in results:
        assert result.table.to_pylist() == [{"n": 3_000_000}]
        assert 0 < result.bytes_scanned <= one_row.stat().st_size


def test_cutoff_stops_a_direct_read(engine: DuckDBEngine, wide: Path) -> None:
    table = scan("w", PARQUET, COLUMNS, [wide])
    limit = chunk_bytes(wide, "s") // 2
    limited = replace(query("SELECT count(DISTINCT s) AS n FROM w", table), max_bytes_scanned=limit)
    with pytest.raises(BytesScannedCutoffError) as info:
        engine.execute(limited)
    assert info.value.bytes_scanned > limit
    assert _log_entries(engine) == 0


def test_new_queries_wait_for_the_log_to_be_emptied(root: Path, wide: Path) -> None:
    """Past ``max_pending`` entries, a query starts only after the log was truncated."""
    second_started = threading.Event()
    with _read_log(root / "spill", max_pending=0) as (con, log):

        def second() -> None:
            with log.running():
                second_started.set()

        with log.running() as ticket:
            _sum_a_is_counted(log, con, wide, ticket)
            waiter = threading.Thread(target=second)
            waiter.start()
            assert not second_started.wait(0.3)  # held back: the log is over its cap
        waiter.join(timeout=10)
        assert second_started.is_set()
        assert con.execute("SELECT count(*) FROM duckdb_logs").fetchone() == (0,)


@pytest.mark.parametrize("spill", ["spill", "it's spill"])  # the quote: SQL text
def test_a_query_that_ran_alone_is_counted_the_short_way(
    root: Path, wide: Path, spill: str
) -> None:
    with _read_log(root / spill) as (con, log):
        for _ in range(2):  # the second starts on a log emptied after the first
            with log.running() as ticket:
                _sum_a_is_counted(log, con, wide, ticket)
        assert log.counted_alone == 2


def test_queries_that_overlap_each_count_their_own_reads(root: Path, wide: Path) -> None:
    # The first started alone, but the second started before the first was counted:
    # summing the whole log would count the second's reads as the first's too.
    footer = pq.ParquetFile(wide).metadata.serialized_size + 8
    with _read_log(root / "spill") as (con, log):
        with log.running() as first, log.running() as second:
            assert first.alone and not second.alone
            one, two = con.cursor(), con.cursor()
            one.execute(f"SELECT sum(a) FROM read_parquet('{wide}')").fetchall()
            two.execute(f"SELECT max(s) FROM read_parquet('{wide}')").fetchall()
            for cursor, ticket, column in ((one, first, "a"), (two, second, "s")):
                expected = chunk_bytes(wide, column) + footer
                assert abs(log.collect(cursor, ticket) - expected) <= 0.01 * expected, column
        assert log.counted_alone == 0


def test_schema_probes_are_not_the_query_s_reads(engine: DuckDBEngine, wide: Path) -> None:
    table = scan("w", PARQUET, COLUMNS, [wide])
    sql = query("SELECT sum(a) AS t FROM w", table)
    first = engine.execute(sql).bytes_scanned  # probes the files' columns first
    again = engine.execute(sql).bytes_scanned  # the probe's answer is cached
    assert first == again


def test_a_spill_folder_with_escaped_characters_turns_the_short_way_off(
    root: Path, wide: Path
) -> None:
    # DuckDB would escape '"' in the logged path: no text test could tell spill
    # reads, so every count picks its contexts, and stays right.
    with _read_log(root / 'sp"ill') as (con, log):
        with log.running() as ticket:
            _sum_a_is_counted(log, con, wide, ticket)
        assert log.counted_alone == 0


def test_a_failed_truncation_holds_no_query_back(root: Path, wide: Path) -> None:
    counted_after_failure = threading.Event()
    with _read_log(root / "spill") as (con, log):
        with log.running() as ticket:
            _sum_a_is_counted(log, con, wide, ticket)
            log._monitor.close()  # the truncation after this query fails

        def second() -> None:
            with log.running() as later:  # not alone: the first one's reads are still logged
                _sum_a_is_counted(log, con, wide, later)
            counted_after_failure.set()

        waiter = threading.Thread(target=second, daemon=True)
        waiter.start()
        waiter.join(timeout=30)
        assert counted_after_failure.is_set()
        assert log.counted_alone == 1
