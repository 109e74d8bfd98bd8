"""The engine's statement wall: one DuckDB parse checks the query and places the scans."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from shoal.engine.statement import inspect, point_at_scans
from shoal.errors import AccessDeniedError, QueryFailedError

PLANNED = {("db", "t"), ("db", "u")}


@pytest.fixture
def cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    yield con
    con.close()


def _spliced(cursor: duckdb.DuckDBPyConnection, sql: str) -> str:
    references = inspect(cursor, sql, PLANNED)
    return point_at_scans(sql, references, {key: f"SCAN_{key[1]}" for key in PLANNED})


def test_planned_tables_are_replaced_in_place(cursor: duckdb.DuckDBPyConnection) -> None:
    sql = 'SELECT * FROM "db"."t" AS a JOIN "db"."u" ON a.x = "u".y'
    assert _spliced(cursor, sql) == (
        'SELECT * FROM (SCAN_t) AS a JOIN (SCAN_u) AS "u" ON a.x = "u".y'
    )


def test_offsets_are_bytes_not_characters(cursor: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT 'é€😀' AS \"ü\", * FROM \"db\".\"t\" WHERE 'ß' <> ''"
    assert _spliced(cursor, sql) == (
        "SELECT 'é€😀' AS \"ü\", * FROM (SCAN_t) AS \"t\" WHERE 'ß' <> ''"
    )


def test_every_reference_is_replaced(cursor: duckdb.DuckDBPyConnection) -> None:
    sql = (
        'WITH c AS (SELECT * FROM "db"."t") SELECT * FROM c, "db"."t" x '
        'WHERE x.a IN (SELECT a FROM "DB"."T")'
    )
    assert _spliced(cursor, sql) == (
        'WITH c AS (SELECT * FROM (SCAN_t) AS "t") SELECT * FROM c, (SCAN_t) x '
        'WHERE x.a IN (SELECT a FROM (SCAN_t) AS "T")'
    )


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT * FROM "db"."missing"',
        'SELECT * FROM "other"."t"',
        'SELECT * FROM "memory"."db"."t"',
        "SELECT * FROM t",  # unqualified and not a CTE
        # A CTE is visible only under its own WITH, not in a sibling subquery.
        "SELECT * FROM (WITH c AS (SELECT 1) SELECT * FROM c), c",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM duckdb_settings",
    ],
)
def test_tables_outside_the_plan_are_refused(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    with pytest.raises(QueryFailedError, match="not in the query plan"):
        inspect(cursor, sql, PLANNED)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM (SELECT 1) t, glob('/etc/*')",
        "SELECT read_text('/etc/passwd')",
        "SELECT current_setting('memory_limit')",
        "SELECT * FROM (DESCRIBE SELECT 1)",
        "SELECT * FROM (SHOW TABLES)",
        'SELECT * FROM (SUMMARIZE "db"."t")',
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "SELECT 1; SELECT 2",
    ],
)
def test_escapes_are_refused(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    with pytest.raises(AccessDeniedError):
        inspect(cursor, sql, PLANNED)


def test_ctes_and_unnest_are_allowed(cursor: duckdb.DuckDBPyConnection) -> None:
    sql = "WITH c AS (SELECT unnest([1, 2]) AS x) SELECT * FROM c, (SELECT * FROM c) d"
    assert inspect(cursor, sql, PLANNED) == ()


def test_syntax_errors_fail_cleanly(cursor: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QueryFailedError):
        inspect(cursor, "SELECT FROM WHERE", PLANNED)


def test_a_checked_statement_is_remembered_only_for_the_same_plan(
    cursor: duckdb.DuckDBPyConnection,
) -> None:
    sql = 'SELECT * FROM "db"."t"'
    assert [r.key for r in inspect(cursor, sql, PLANNED)] == [("db", "t")]
    with pytest.raises(QueryFailedError, match="not in the query plan"):
        inspect(cursor, sql, {("db", "other")})
