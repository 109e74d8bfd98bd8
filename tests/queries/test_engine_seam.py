"""The engine seam: declared capabilities refuse what an engine cannot run, by name.

A narrower engine here is the real DuckDB engine declaring less (fewer statement
kinds, formats, functions), as a second engine would; nothing is faked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.engine.base import QUERY_STATEMENTS, Capabilities, EngineGapError, TableFormat
from shoal.engine.duckdb import DuckDBEngine
from shoal.engine.serdes import GROK
from shoal.errors import UnsupportedSqlError
from shoal.queries.context import StatementContext
from shoal.queries.runner import StatementRunner

from .conftest import Lake


class NarrowEngine(DuckDBEngine):
    """DuckDB declaring only SELECT over Parquet, and no regexp_like."""

    name = "Narrow"
    capabilities = Capabilities(
        statements=frozenset({"SELECT"}),
        formats=frozenset({"parquet"}),
        missing_functions={"regexp_like": "no regular expressions"},
    )


@pytest.fixture
def narrow(lake: Lake, tmp_path: Path) -> Iterator[StatementRunner]:
    engine = NarrowEngine([str(lake.root)], str(tmp_path / "spill-narrow"), threads=1)
    yield StatementRunner(lake.catalog, lake.storage, engine)
    engine.close()


def _run(runner: StatementRunner, sql: str) -> list[dict[str, object]]:
    context = StatementContext("q-seam", database="sample", output_location="s3://results/out/")
    rows: list[dict[str, object]] = runner.run(sql, context).rows.to_pylist()
    return rows


def test_what_the_engine_declares_runs(narrow: StatementRunner, lake: Lake) -> None:
    sql = "SELECT count(*) AS n FROM trips"
    assert _run(narrow, sql) == lake.rows(sql)


def test_an_undeclared_statement_kind_names_the_engine(narrow: StatementRunner) -> None:
    with pytest.raises(EngineGapError) as info:
        _run(narrow, "EXPLAIN SELECT count(*) FROM trips")
    assert info.value.message == "the Narrow engine cannot run this statement: EXPLAIN statements"
    assert isinstance(info.value, UnsupportedSqlError)  # InvalidRequestException to clients


def test_an_undeclared_format_names_the_table(narrow: StatementRunner) -> None:
    with pytest.raises(EngineGapError, match=r"reading 'csv' tables \(sample\.zones\)"):
        _run(narrow, "SELECT count(*) FROM zones")


def test_a_missing_function_is_named_with_its_reason(narrow: StatementRunner) -> None:
    sql = "SELECT count(*) FROM trips WHERE regexp_like(CAST(vendor_id AS varchar), '1')"
    with pytest.raises(EngineGapError, match=r"regexp_like\(\) \(no regular expressions\)"):
        _run(narrow, sql)


def test_a_refused_write_writes_nothing(narrow: StatementRunner, lake: Lake) -> None:
    sql = "CREATE TABLE copied WITH (external_location = 's3://results/copied/') AS SELECT 1 AS a"
    with pytest.raises(EngineGapError, match="CREATE_TABLE_AS_SELECT statements"):
        _run(narrow, sql)
    assert not lake.path("results", "copied").exists()
    assert "copied" not in [t.name for t in lake.catalog.list_tables("sample")]


def test_duckdb_declares_every_query_statement_and_its_readers(lake: Lake) -> None:
    assert lake.engine.capabilities.statements == QUERY_STATEMENTS
    assert {"csv", "json", "parquet"} <= lake.engine.capabilities.formats


def test_explain_names_the_engine_that_ran_it(lake: Lake) -> None:
    lines = [r["Query Plan"] for r in lake.rows("EXPLAIN SELECT count(*) FROM trips")]
    assert "Engine plan (DuckDB):" in lines


def test_a_serde_the_engine_reads_itself_is_readable_whatever_the_classification() -> None:
    declared = Capabilities(frozenset({"SELECT"}), frozenset({"csv"}), serdes=frozenset({GROK}))
    assert declared.reads(TableFormat("grok", serde=GROK))
    assert declared.reads(TableFormat("csv"))
    assert not declared.reads(TableFormat("orc"))
