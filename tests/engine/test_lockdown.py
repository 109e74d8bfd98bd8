"""The walls around user SQL: dialect allow-list, engine statement check, DuckDB lock-down.

Each escape attempt must fail with an access (or unsupported-SQL) error and write nothing,
with direct local reads (DuckDB opens files under the storage roots itself) and with
every read going through shoal's counting filesystem.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.engine.athena import parse
from shoal.engine.base import TableFormat
from shoal.engine.duckdb import DuckDBEngine, DuckDBQuery
from shoal.errors import AccessDeniedError, QueryFailedError, ShoalError, SqlSyntaxError

from .helpers import query, scan


@pytest.fixture(params=[True, False], ids=["direct", "counted"])
def engine(root: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DuckDBEngine]:
    eng = DuckDBEngine(
        [str(root)], str(tmp_path / "spill"), memory_limit="1GB", direct_reads=request.param
    )
    yield eng
    eng.close()


def escape_attempts(target: Path) -> list[str]:
    """Raw DuckDB statements, as if the dialect layer had been bypassed."""
    return [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/hostname')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('shoal://0000/etc/passwd')",
        "SELECT * FROM query('SELECT 1')",
        "SELECT current_setting('memory_limit')",
        f"COPY (SELECT 1) TO '{target}/copied.csv'",
        f"ATTACH '{target}/attached.duckdb' AS x",
        f"EXPORT DATABASE '{target}/exported'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET memory_limit = '64GB'",
        "RESET memory_limit",
        "PRAGMA threads = 8",
        "SET enable_external_access = true",
        "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
        "CREATE TABLE t AS SELECT 1",
        "SELECT 1; SELECT * FROM read_csv('/etc/passwd')",
        # DuckDB's read log is where direct reads are counted: no query may touch it.
        "SELECT * FROM duckdb_logs()",
        "SELECT * FROM disable_logging()",
        "SELECT * FROM truncate_duckdb_logs()",
        "SELECT write_log('x', log_type := 'FileSystem', level := 'trace')",
        "CALL disable_logging()",
    ]


def _nothing_written(root: Path) -> None:
    assert sorted(p.name for p in root.iterdir()) == ["data.parquet"]


@pytest.fixture
def target(root: Path) -> Path:
    pq.write_table(pa.table({"a": [1]}), root / "data.parquet")
    return root


@pytest.mark.parametrize("index", range(len(escape_attempts(Path("/x")))))
def test_engine_refuses_escapes_without_the_dialect_layer(
    engine: DuckDBEngine, target: Path, index: int
) -> None:
    sql = escape_attempts(target)[index]
    with pytest.raises((AccessDeniedError, QueryFailedError)) as info:
        engine.run(DuckDBQuery(sql))
    if not sql.startswith("SELECT current_setting"):
        assert isinstance(info.value, AccessDeniedError), info.value
    _nothing_written(target)


@pytest.mark.parametrize("index", range(len(escape_attempts(Path("/x")))))
def test_dialect_refuses_escapes_before_duckdb(target: Path, index: int) -> None:
    sql = escape_attempts(target)[index]
    with pytest.raises(SqlSyntaxError):  # UnsupportedSqlError is a subclass
        parse(sql)


def test_duckdb_itself_is_locked(engine: DuckDBEngine, target: Path, tmp_path: Path) -> None:
    """The last wall, straight on DuckDB: a raw cursor cannot reach files outside the roots.

    With direct reads DuckDB may open files under the storage roots, so there the two
    statement checks above are what keep user SQL from them; with counted reads not
    even a raw cursor can open a lake file.
    """
    cursor = engine._con.cursor()
    outside = tmp_path / "outside.csv"
    statements = [
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_csv('{target}/../../outside.csv')",
        f"COPY (SELECT 1) TO '{outside}'",
        "INSTALL httpfs",
        "SET memory_limit = '64GB'",
        "SET allowed_directories = ['/']",
        "SET enable_external_access = true",
    ]
    if not engine._fs.direct_local:
        statements += [
            f"SELECT * FROM read_parquet('{target / 'data.parquet'}')",
            f"COPY (SELECT 1) TO '{target}/x.csv'",
        ]
    for sql in statements:
        with pytest.raises(Exception) as info:
            cursor.execute(sql)
        text = str(info.value)
        assert "Permission" in text or "locked" in text or "disabled" in text, (sql, text)
    assert not outside.exists()
    _nothing_written(target)
    cursor.close()


def test_symlink_out_of_the_root_is_refused(engine: DuckDBEngine, root: Path) -> None:
    link = root / "passwd.csv"
    link.symlink_to("/etc/passwd")
    table = scan("t", TableFormat("csv", delimiter=":"), "user string", [link])
    with pytest.raises(AccessDeniedError):
        engine.execute(query("SELECT * FROM t", table))


def test_files_outside_the_plan_are_refused(engine: DuckDBEngine, target: Path) -> None:
    planned = scan("t", TableFormat("parquet"), "a bigint", [target / "data.parquet"])
    (target / "secret.parquet").write_bytes((target / "data.parquet").read_bytes())
    sql = 'SELECT * FROM "db"."t", read_parquet(\'' + str(target / "secret.parquet") + "')"
    with pytest.raises(AccessDeniedError):
        engine.run(DuckDBQuery(sql, (planned,)))


def test_errors_are_shoal_errors(engine: DuckDBEngine) -> None:
    with pytest.raises(ShoalError):
        engine.run(DuckDBQuery("SELECT no_such_column FROM (SELECT 1 AS x)"))
