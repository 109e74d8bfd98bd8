"""Cost up front: bytes a query would scan, from pruning and column projection."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import shoal as shoal_api
from shoal.cli import main
from shoal.crawler import crawl_path
from shoal.engine.athena import parse, referenced_columns
from shoal.engine.base import DataFile
from shoal.errors import InvalidRequestError
from shoal.queries.context import StatementContext, TableAccess
from shoal.queries.estimate import estimate_plan, read_footer
from shoal.queries.planner import QueryPlan
from shoal.samples import write_sample_data

from .conftest import Lake


def _plan(lake: Lake, sql: str) -> QueryPlan:
    plan, _ = lake.runner.plan_query(parse(sql), StatementContext("q", database="sample"))
    return plan


def _column_bytes(path: str, column: str) -> int:
    """Chunks of ``column`` plus the footer, straight from pyarrow's metadata; DuckDB
    reads a footer by fetching the file's last 16 KiB (more if the footer is longer)."""
    metadata = pq.read_metadata(path)
    chunks: int = sum(
        metadata.row_group(g).column(c).total_compressed_size
        for g in range(metadata.num_row_groups)
        for c in range(metadata.num_columns)
        if metadata.row_group(g).column(c).path_in_schema == column
    )
    footer = metadata.serialized_size + 8
    return int(chunks + max(footer, min(Path(path).stat().st_size, 16 * 1024)))


ONE_COLUMN = "SELECT sum(fare_amount) AS s FROM trips WHERE month = '02'"


def _read_anew(paths: Iterable[str]) -> None:
    """Mark files changed now: the engine then reads their footers, as an estimate
    assumes (it keeps the footers of files last changed a while ago)."""
    for path in paths:
        os.utime(path)


def test_one_column_with_a_partition_filter(lake: Lake) -> None:
    plan = _plan(lake, ONE_COLUMN)
    files = [f.path for f in plan.files]
    assert len(files) == 1 and "month=02" in files[0]
    estimate = estimate_plan(plan, lake.storage)
    expected = sum(_column_bytes(path, "fare_amount") for path in files)
    assert estimate.bytes == expected
    assert estimate.tables[0].columns == ("fare_amount",)
    assert estimate.bytes < plan.total_bytes
    _read_anew(files)
    scanned = lake.run(ONE_COLUMN).bytes_scanned
    assert abs(estimate.bytes - scanned) <= 0.1 * scanned, (estimate.bytes, scanned)


def test_select_star_counts_every_column(lake: Lake) -> None:
    one = estimate_plan(_plan(lake, "SELECT fare_amount FROM trips"), lake.storage)
    star = estimate_plan(_plan(lake, "SELECT * FROM trips"), lake.storage)
    assert star.tables[0].columns is None
    assert one.bytes < star.bytes
    _read_anew(f.path for f in _plan(lake, "SELECT * FROM trips").files)
    scanned = lake.run("SELECT * FROM trips").bytes_scanned
    assert abs(star.bytes - scanned) <= 0.1 * scanned, (star.bytes, scanned)


def test_csv_counts_whole_files(lake: Lake) -> None:
    plan = _plan(lake, "SELECT borough FROM zones")
    estimate = estimate_plan(plan, lake.storage)
    sizes = [Path(f.path).stat().st_size for f in plan.files]
    assert sizes and estimate.bytes == sum(sizes) == plan.total_bytes


def _names(sql: str) -> frozenset[str]:
    found = referenced_columns(parse(sql))
    assert found is not None
    return found


def test_referenced_columns() -> None:
    assert _names("SELECT a.x, y FROM t AS a") >= {"x", "y"}
    assert _names("SELECT count(*) FROM t") == {"t"}
    assert referenced_columns(parse("SELECT t.* FROM t")) is None
    assert referenced_columns(parse("SELECT * FROM (SELECT x FROM t)")) is None
    assert "k" in _names("SELECT 1 FROM t JOIN u USING (k)")
    # A table named as a value is its whole row in DuckDB.
    assert referenced_columns(parse("SELECT e FROM t AS e")) is None
    assert referenced_columns(parse("SELECT row_to_json(t) FROM t")) is None
    assert referenced_columns(parse("SELECT count(*) FROM t NATURAL JOIN u")) is None


def test_explain_shows_the_estimate(lake: Lake) -> None:
    lines = [r["Query Plan"] for r in lake.rows(f"EXPLAIN {ONE_COLUMN}")]
    estimate = estimate_plan(_plan(lake, ONE_COLUMN), lake.storage)
    line = next(x for x in lines if x.startswith("Estimated bytes scanned:"))
    assert line.startswith(f"Estimated bytes scanned: {estimate.bytes} (")
    assert "fare_amount" in line
    assert (
        lines.index(line)
        == next(i for i, x in enumerate(lines) if x.startswith("Files to read:")) + 1
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    with shoal_api.open(data_dir=str(folder)) as app:
        write_sample_data(app.storage)
        crawl_path(app.catalog, app.storage, "s3://samples/", "sample")
    return folder


def test_api_and_cli(data: Path, lake: Lake) -> None:
    expected = estimate_plan(_plan(lake, ONE_COLUMN), lake.storage).bytes
    with shoal_api.open(data_dir=str(data)) as app:
        assert app.queries.estimate(ONE_COLUMN, database="sample") == expected
        seen: list[tuple[str, list[object]]] = []
        app.queries.estimate(
            ONE_COLUMN,
            database="sample",
            authorize=lambda statement, a: seen.append((statement.sql, list(a))),
        )
        assert seen == [(ONE_COLUMN, [TableAccess("sample", "trips", "read")])]

        def refuse(statement: object, accesses: object) -> None:
            raise PermissionError("no")

        with pytest.raises(PermissionError):
            app.queries.estimate(ONE_COLUMN, database="sample", authorize=refuse)
        with pytest.raises(InvalidRequestError):
            app.queries.estimate("DROP TABLE trips", database="sample")
        assert app.queries.list_executions("primary", 10)[0] == []  # nothing ran
    result = CliRunner().invoke(
        main, ["--data", str(data), "sql", "--estimate", ONE_COLUMN, "-d", "sample"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(expected)


def test_remote_footers_through_ranged_reads(lake: Lake) -> None:
    key = "trips/year=2024/month=02/trips-2024-02.parquet"
    local = lake.path("samples", key)
    size = local.stat().st_size
    remote = read_footer(DataFile(f"s3://samples/{key}", size), lake.storage)
    assert remote == read_footer(DataFile(str(local), size), lake.storage)
    assert remote.footer_bytes == pq.read_metadata(local).serialized_size + 8
