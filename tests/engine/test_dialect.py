"""Athena SQL -> DuckDB SQL: each translated function gives Athena's documented answer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from shoal.catalog.model import Column
from shoal.engine.athena import TableRef, parse, referenced_tables
from shoal.engine.dialect import DUCKDB_SESSION_SETTINGS, to_duckdb, translate
from shoal.errors import SqlSyntaxError, UnsupportedSqlError


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name, value in DUCKDB_SESSION_SETTINGS.items():
        connection.execute(
            f"SET {name} = {value!r}" if isinstance(value, str) else f"SET {name} = {value}"
        )
    return connection


def run(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """Translate ``SELECT <expr> AS v`` and return v (through Arrow, as the engine does)."""
    rows = con.execute(translate(sql, "default")).to_arrow_table().to_pylist()
    return rows[0]["v"] if rows else None


DOC: dict[str, Any] = {"a": {"b": [1, 2], "s": "x"}, "n": 5}
DOC_SQL = "'" + json.dumps(DOC) + "'"


def test_json_extract_returns_json_text(con: duckdb.DuckDBPyConnection) -> None:
    assert json.loads(run(con, f"SELECT json_extract({DOC_SQL}, '$.a.b') AS v")) == DOC["a"]["b"]
    # A JSON string stays JSON: quoted.
    assert run(con, f"SELECT json_extract({DOC_SQL}, '$.a.s') AS v") == json.dumps("x")


def test_json_extract_scalar_returns_varchar_and_null_for_containers(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert run(con, f"SELECT json_extract_scalar({DOC_SQL}, '$.a.s') AS v") == "x"
    assert run(con, f"SELECT json_extract_scalar({DOC_SQL}, '$.n') AS v") == "5"
    assert run(con, f"SELECT json_extract_scalar({DOC_SQL}, '$.a.b') AS v") is None
    assert run(con, f"SELECT json_extract_scalar({DOC_SQL}, '$.a') AS v") is None


def test_from_iso8601_timestamp_is_timestamp_with_time_zone(con: duckdb.DuckDBPyConnection) -> None:
    sql = translate("SELECT from_iso8601_timestamp('2024-03-01T10:20:30.123+02:00') AS v", "d")
    value = con.execute(sql).to_arrow_table()
    assert value.schema.field("v").type.tz is not None
    expected = datetime(2024, 3, 1, 8, 20, 30, 123000, tzinfo=UTC)
    assert value.to_pylist()[0]["v"] == expected


def test_date_add_and_now(con: duckdb.DuckDBPyConnection) -> None:
    value = run(con, "SELECT date_add('day', -1, now()) AS v")
    delta = datetime.now(UTC) - value
    assert 86_390 < delta.total_seconds() < 86_410
    assert run(con, "SELECT date_add('month', 1, DATE '2024-01-31') AS v") == date(2024, 2, 29)
    ts = run(con, "SELECT date_add('hour', 5, TIMESTAMP '2024-01-01 22:00:00') AS v")
    assert ts == datetime(2024, 1, 2, 3, 0)


@pytest.mark.parametrize(
    ("unit", "start", "end", "expected"),
    [
        ("day", "2024-01-01 00:00:00", "2024-03-01 12:00:00", 60),  # 60.5 days -> 60
        ("hour", "2024-01-01 00:30:00", "2024-01-01 02:10:00", 1),  # 1h40m: whole hours
        ("day", "2024-01-02 12:00:00", "2024-01-01 00:00:00", -1),  # b - a, negative
        ("minute", "2024-01-01 00:00:59", "2024-01-01 00:01:00", 0),
    ],
)
def test_date_diff_counts_whole_units_from_a_to_b(
    con: duckdb.DuckDBPyConnection, unit: str, start: str, end: str, expected: int
) -> None:
    sql = f"SELECT date_diff('{unit}', TIMESTAMP '{start}', TIMESTAMP '{end}') AS v"
    elapsed = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    seconds = {"day": 86400, "hour": 3600, "minute": 60}[unit]
    assert int(elapsed.total_seconds() / seconds) == expected  # independent check
    assert run(con, sql) == expected


def test_date_trunc_keeps_the_input_type(con: duckdb.DuckDBPyConnection) -> None:
    ts = run(con, "SELECT date_trunc('hour', TIMESTAMP '2024-01-01 10:59:00') AS v")
    assert ts == datetime(2024, 1, 1, 10, 0)
    assert run(con, "SELECT date_trunc('month', DATE '2024-05-17') AS v") == date(2024, 5, 1)


def test_extract_hour(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT EXTRACT(HOUR FROM TIMESTAMP '2024-01-01 10:59:00') AS v") == 10


def test_cast_varchar_with_length_and_concat(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT CAST(12 AS VARCHAR(100)) || '_' || 'x' AS v") == "12_x"


def test_aggregates_and_casts(con: duckdb.DuckDBPyConnection) -> None:
    values = "(VALUES 1, 2, 2, 3) AS t(x)"
    assert run(con, f"SELECT approx_distinct(x) AS v FROM {values}") == 3
    assert run(con, "SELECT try_cast('abc' AS INTEGER) AS v") is None
    assert run(con, "SELECT try_cast('42' AS INTEGER) AS v") == 42
    assert run(con, "SELECT 7 / 2 AS v") == 3  # Trino integer division
    assert run(con, "SELECT -7 / 2 AS v") == -3  # truncates toward zero


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("DECIMAL '0.00000000001'", Decimal("0.00000000001")),  # DuckDB alone: 0.000
        ("DECIMAL '-123.450'", Decimal("-123.450")),
        ("DECIMAL '7'", Decimal(7)),
        ("typeof(DECIMAL '0.001')", "DECIMAL(3,3)"),
        ("CAST(2.75 AS DECIMAL)", Decimal(3)),  # Trino's decimal(38, 0)
        ("typeof(CAST(1 AS DECIMAL))", "DECIMAL(38,0)"),
        ("CAST('12.25' AS DECIMAL(6, 1))", Decimal("12.3")),  # given precision: kept
    ],
)
def test_decimal_without_precision_as_in_trino(
    con: duckdb.DuckDBPyConnection, expression: str, expected: Any
) -> None:
    assert run(con, f"SELECT {expression} AS v") == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("typeof(0.33)", "DOUBLE"),
        ("typeof(-1.5)", "DOUBLE"),
        ("typeof(ARRAY[1.5, 2.7])", "DOUBLE[]"),
        ("typeof(2)", "INTEGER"),  # integers stay integers
        ("typeof(DECIMAL '0.33')", "DECIMAL(2,2)"),  # the way to write a decimal
        ("typeof(CAST(1.23 AS DECIMAL(10, 2)))", "DECIMAL(10,2)"),
        ("CAST(1.23 AS DECIMAL(10, 2))", Decimal("1.23")),
        ("0.1 + 0.2", 0.1 + 0.2),  # double arithmetic, as Athena answers
    ],
)
def test_a_number_with_a_point_is_a_double_as_in_athena(
    con: duckdb.DuckDBPyConnection, expression: str, expected: Any
) -> None:
    # Athena parses 0.33 as DOUBLE (DECIMAL '0.33' is how its docs write a decimal);
    # PyAthena's suite, run on Athena, reads `VALUES (0.33)` back as a float.
    assert run(con, f"SELECT {expression} AS v") == expected


def test_a_sample_percentage_stays_a_literal(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT count(*) AS v FROM (VALUES 1, 2) AS t(x) TABLESAMPLE BERNOULLI (100.0)"
    assert run(con, sql) == 2


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Trino: a varchar cast to JSON is a JSON string holding that text ...
        ("""CAST('{"a": 1}' AS JSON)""", json.dumps('{"a": 1}')),
        ("CAST(x AS JSON)", '"plain"'),
        # ... json_parse reads the text as JSON, and other values cast as they are.
        ("""json_parse('{"a": 1}')""", '{"a":1}'),
        ("CAST(ARRAY[1, 2] AS JSON)", "[1,2]"),
    ],
)
def test_a_varchar_cast_to_json_is_a_json_string(
    con: duckdb.DuckDBPyConnection, expression: str, expected: str
) -> None:
    sql = f"SELECT {expression} AS v FROM (VALUES ('plain')) AS t(x)"
    assert run(con, sql) == expected


def test_regexp_like_matches_anywhere(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT regexp_like('abc123', '\\d+') AS v") is True
    assert run(con, "SELECT regexp_like('abc', '^b') AS v") is False


def test_unnest(con: duckdb.DuckDBPyConnection) -> None:
    sql = translate(
        "SELECT x FROM (SELECT ARRAY[1, 2, 3] AS arr) CROSS JOIN UNNEST(arr) AS t(x) ORDER BY x",
        "default",
    )
    assert [r["x"] for r in con.execute(sql).to_arrow_table().to_pylist()] == [1, 2, 3]


def test_arrays_maps_rows(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT ARRAY[1, 2, 3] AS v") == [1, 2, 3]
    assert dict(run(con, "SELECT MAP(ARRAY['a', 'b'], ARRAY[1, 2]) AS v")) == {"a": 1, "b": 2}
    assert run(con, "SELECT element_at(MAP(ARRAY['a', 'b'], ARRAY[1, 2]), 'b') AS v") == 2
    assert run(con, "SELECT element_at(MAP(ARRAY['a'], ARRAY[1]), 'z') AS v") is None
    assert run(con, "SELECT element_at(ARRAY[10, 20, 30], 2) AS v") == 20
    assert run(con, "SELECT element_at(ARRAY[10, 20, 30], -1) AS v") == 30
    assert run(con, "SELECT element_at(ARRAY[10, 20, 30], 5) AS v") is None
    assert run(con, "SELECT cardinality(ARRAY[1, 2, 3]) AS v") == 3
    assert run(con, "SELECT cardinality(MAP(ARRAY['a', 'b'], ARRAY[1, 2])) AS v") == 2
    assert list(run(con, "SELECT ROW(1, 'a') AS v").values()) == [1, "a"]
    row = run(con, "SELECT CAST(ROW(1, 'a') AS ROW(x INTEGER, y VARCHAR)) AS v")
    assert row == {"x": 1, "y": "a"}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 7 / 0 AS v",
        "SELECT 7 % 0 AS v",
        "SELECT CAST(7 AS DECIMAL(10, 2)) / 0 AS v",
        "SELECT sum(x) / sum(x - x) AS v FROM (VALUES 1, 2) AS t(x)",
        "SELECT x / (x - x) AS v FROM (VALUES 3) AS t(x)",
        "SELECT x / (y / 2) AS v FROM (VALUES (3, 1)) AS t(x, y)",  # the inner one is 0
    ],
)
def test_integer_and_decimal_division_by_zero_fails_as_in_trino(
    con: duckdb.DuckDBPyConnection, sql: str
) -> None:
    # DuckDB would answer NULL: a silently different answer.
    with pytest.raises(duckdb.InvalidInputException, match="Division by zero"):
        run(con, sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 7 / 2 AS v", 3),
        ("SELECT -7 % 3 AS v", -1),
        ("SELECT 7.5e0 / 2 AS v", 3.75),
        ("SELECT x / 0 AS v FROM (VALUES 1) AS t(x) WHERE x > 1", None),  # no row divides
        ("SELECT x / nullif(y, 0) AS v FROM (VALUES (1, 0)) AS t(x, y)", None),
        ("SELECT CAST(1 AS DECIMAL(10, 2)) / 4 AS v", 0.25),
    ],
)
def test_division_by_anything_else_is_unchanged(
    con: duckdb.DuckDBPyConnection, sql: str, expected: object
) -> None:
    value = run(con, sql)
    assert value == expected if not isinstance(expected, float) else float(value) == expected


def test_divisors_that_cannot_be_copied_are_not_guarded() -> None:
    # A subquery would run once per copy; random() would differ between copies.
    for sql in ("SELECT 1 / (SELECT 2) AS v", "SELECT 1 / random() AS v"):
        assert "Division by zero" not in translate(sql, "default")
    assert "Division by zero" not in translate("SELECT x / 7.0 AS v FROM t", "default")


def test_cardinality_of_a_map_column_uses_the_schema() -> None:
    tree = parse("SELECT cardinality(m) AS v, date_trunc('month', d) AS w FROM t")
    schema = {TableRef("db", "t"): [Column("m", "map<string,int>"), Column("d", "date")]}
    sql = to_duckdb(tree, "db", schema)
    assert "CARDINALITY(" in sql.upper()
    assert "CAST(DATE_TRUNC(" in sql.upper()


def test_unnamed_columns_are_named_like_athena() -> None:
    sql = translate("SELECT 1, a, a + 1, count(*) AS n FROM t", "db")
    assert '"_col0"' in sql and '"_col2"' in sql and '"_col1"' not in sql


def test_identifiers_are_quoted_and_catalog_stripped() -> None:
    sql = translate('SELECT fare FROM awsdatacatalog."blog-db".taxi', "default")
    assert sql == 'SELECT "fare" FROM "blog-db"."taxi"'
    assert translate("SELECT * FROM taxi", "blog-db") == 'SELECT * FROM "blog-db"."taxi"'


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(SqlSyntaxError) as info:
        parse("SELECT *\nFROM WHERE x")
    assert (info.value.line, info.value.column) == (2, 6)
    assert "line 2:6" in info.value.message


@pytest.mark.parametrize(
    ("sql", "construct", "position"),
    [
        ("SELECT 1,\n  array_sort(a, (x, y) -> x - y) FROM t", "comparator", (2, 3)),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv", (1, 15)),
        ("SELECT format_datetime(ts, 'GG yyyy') FROM t", "'GG'", (1, 8)),
        ("SELECT * FROM t WHERE x IN (SELECT read_text('/etc/passwd'))", "read_text", None),
        ("SELECT * FROM other.db.t", "catalog 'other'", (1, 15)),
        ("SELECT current_setting('memory_limit')", "current_setting", (1, 8)),
        ("INSERT INTO t VALUES (1)", "INSERT", None),
        ("CREATE TABLE t AS SELECT 1", "CREATE", None),
        ("DROP TABLE t", "DROP", None),
        # DuckDB knows these units and would answer; Trino fails.
        ("SELECT x,\n date_trunc('decade', ts) FROM t", "time unit 'decade'", (2, 2)),
        ("SELECT date_add('fortnight', 1, ts) FROM t", "time unit 'fortnight'", (1, 8)),
        ("SELECT date_diff('century', ts, ts) FROM t", "time unit 'century'", (1, 8)),
    ],
)
def test_untranslatable_constructs_fail_naming_them(
    sql: str, construct: str, position: tuple[int, int] | None
) -> None:
    with pytest.raises(UnsupportedSqlError) as info:
        translate(sql, "default")
    assert construct.lower() in info.value.message.lower()
    if position is not None:
        assert (info.value.line, info.value.column) == position


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; SELECT 2",
        "COPY (SELECT 1) TO '/tmp/x'",
        "ATTACH '/tmp/x.db'",
        "SET memory_limit = '10GB'",
        "PRAGMA threads = 4",
        "INSTALL httpfs",
        "LOAD httpfs",
    ],
)
def test_non_queries_are_refused(sql: str) -> None:
    with pytest.raises(SqlSyntaxError):
        parse(sql)


def test_referenced_tables_through_ctes_subqueries_and_joins() -> None:
    tree = parse(
        """
        WITH recent AS (SELECT * FROM trips WHERE dt > '2024'),
             joined AS (SELECT * FROM recent JOIN "blog-db".taxi USING (id))
        SELECT * FROM joined, awsdatacatalog.other.zones z
        WHERE EXISTS (SELECT 1 FROM audit.log l WHERE l.id = z.id)
          AND z.id IN (SELECT id FROM (SELECT id FROM nested_src) s)
        """
    )
    assert referenced_tables(tree, "main_db") == [
        TableRef("audit", "log"),
        TableRef("blog-db", "taxi"),
        TableRef("main_db", "nested_src"),
        TableRef("main_db", "trips"),
        TableRef("other", "zones"),
    ]


def test_cte_name_shadows_only_inside_its_query() -> None:
    tree = parse("SELECT * FROM (WITH t AS (SELECT 1 AS x) SELECT * FROM t) a, t")
    assert referenced_tables(tree, "db") == [TableRef("db", "t")]


def test_table_names_are_case_insensitive() -> None:
    tree = parse('SELECT * FROM "Blog-DB".Taxi, blog_db.TAXI')
    assert referenced_tables(tree, "x") == [
        TableRef("blog-db", "taxi"),
        TableRef("blog_db", "taxi"),
    ]


def test_sequence_is_capped_at_trinos_10000_entries(con: duckdb.DuckDBPyConnection) -> None:
    assert run(con, "SELECT cardinality(sequence(1, 10000)) AS v") == 10000
    assert run(con, "SELECT sequence(10, 1, -3) AS v") == [10, 7, 4, 1]
    for sql in (
        "SELECT sequence(1, 10001) AS v",
        "SELECT count(*) AS v FROM UNNEST(sequence(1, 100000000)) AS t(x)",  # refused at once
        "SELECT sequence(0, 100000, 5) AS v",
    ):
        with pytest.raises(duckdb.Error, match="more than 10000 entries"):
            run(con, sql)
    days = run(con, "SELECT sequence(date '2024-01-01', date '2024-01-03', interval '1' day) AS v")
    assert len(days) == 3  # date sequences are not capped (nor typed as Trino's: timestamps)
