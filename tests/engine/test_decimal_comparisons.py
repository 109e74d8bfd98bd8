"""A DECIMAL column compared with a point literal: Athena's answer (the literal is a
DOUBLE), read as a decimal comparison where that answer cannot differ, so the Parquet
reader skips row groups by their statistics."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.catalog.model import Column
from shoal.engine.athena import TableRef, parse
from shoal.engine.base import TableFormat
from shoal.engine.dialect import to_duckdb
from shoal.engine.duckdb import DuckDBEngine

from .helpers import query, scan

PARQUET = TableFormat("parquet")


@pytest.fixture
def prices(root: Path) -> tuple[Path, list[Decimal]]:
    """200,000 DECIMAL(15,2) prices, sorted, in 20 row groups (statistics can prune)."""
    rng = random.Random(5)
    values = sorted(Decimal(rng.randrange(0, 100_000)) / 100 for _ in range(200_000))
    path = root / "prices.parquet"
    table = pa.table({"price": pa.array(values, pa.decimal128(15, 2))})
    pq.write_table(table, path, row_group_size=10_000)
    return path, values


@pytest.mark.parametrize(
    "condition",
    [
        "price > 0.5",
        "price >= 999.5",
        "price = 12.34",
        "price <> 0.01",
        "0.07 < price",
        "price BETWEEN 0.05 AND 0.07",
        "price BETWEEN 10.005 AND 10.015",
        "price IN (0.05, 12.34, -0.5)",
        "price < -0.5",
    ],
)
def test_answers_are_athenas_double_comparisons(
    engine: DuckDBEngine, prices: tuple[Path, list[Decimal]], condition: str
) -> None:
    path, values = prices
    table = scan("p", PARQUET, "price decimal(15,2); note string", [path])
    sql = f"SELECT count(*) AS n FROM p WHERE {condition}"
    found = engine.execute(query(sql, table)).table.column("n").to_pylist()
    # Athena compares the decimal as a double with the literal's double: Python floats.
    test = eval(  # noqa: S307 -- the condition is one of the literals above
        "lambda price: " + _python(condition)
    )
    assert found == [sum(1 for v in values if test(float(v)))]


def _python(condition: str) -> str:
    """The condition as a Python expression over floats."""
    text = condition.replace("<>", "!=").replace(" = ", " == ")
    if "BETWEEN" in text:
        column, bounds = text.split(" BETWEEN ")
        low, high = bounds.split(" AND ")
        return f"{low} <= {column} <= {high}"
    if " IN " in text:
        column, values = text.split(" IN ")
        return f"{column} in {values}"
    return text


def test_a_decimal_comparison_skips_row_groups(
    engine: DuckDBEngine, prices: tuple[Path, list[Decimal]]
) -> None:
    """16 significant digits stay a double comparison (a decimal could then differ):
    every value cast, every row group read. 15 digits reach the reader's statistics."""
    path, values = prices
    table = scan("p", PARQUET, "price decimal(15,2); note string", [path])
    pruned = engine.execute(query("SELECT count(*) AS n FROM p WHERE price > 990.5", table))
    cast = engine.execute(
        query("SELECT count(*) AS n FROM p WHERE price > 990.5000000000000", table)
    )
    expected = [sum(1 for v in values if float(v) > 990.5)]
    assert pruned.table.column("n").to_pylist() == cast.table.column("n").to_pylist() == expected
    assert pruned.bytes_scanned < cast.bytes_scanned / 4


def test_only_exact_comparisons_stay_decimal() -> None:
    columns = {
        TableRef("db", "t"): (
            Column("small", "decimal(15,2)"),
            Column("wide", "decimal(18,2)"),
            Column("d", "double"),
        )
    }

    def where(condition: str) -> str:
        sql = to_duckdb(parse(f"SELECT 1 FROM t WHERE {condition}"), "db", columns)
        return sql.split("WHERE ", 1)[1]

    assert where("small < 0.05") == '"small" < 0.05'
    assert where("small < 0.1234567890123456") == '"small" < CAST(0.1234567890123456 AS DOUBLE)'
    assert where("wide < 0.05") == '"wide" < CAST(0.05 AS DOUBLE)'
    assert where("d < 0.05") == '"d" < CAST(0.05 AS DOUBLE)'
    # A computed bound is Athena's double arithmetic (0.06 + 0.01 is 0.0699...).
    assert where("small = 0.06 + 0.01") == ('"small" = CAST(0.06 AS DOUBLE) + CAST(0.01 AS DOUBLE)')
