"""Hive DDL against a real catalog (SQLite) and real local storage.

Handlers are called directly (``HANDLERS[kind]``) so these tests do not depend on the
rest of the query path; a few at the end go through ``StatementRunner.run``.
Expected values are written out by hand.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from shoal.catalog.formats import (
    JSON_OUTPUT,
    JSON_SERDE,
    LAZY_SIMPLE_SERDE,
    OPEN_CSV_SERDE,
    PARQUET_INPUT,
    PARQUET_OUTPUT,
    PARQUET_SERDE,
    TEXT_INPUT,
    TEXT_OUTPUT,
)
from shoal.catalog.model import (
    TABLE_TYPE_VIEW,
    Column,
    Partition,
    SerDeInfo,
    StorageDescriptor,
    Table,
)
from shoal.catalog.store import CatalogStore
from shoal.engine.base import Engine
from shoal.engine.duckdb import DuckDBEngine
from shoal.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    EntityNotFoundError,
    InvalidInputError,
    InvalidNameError,
    ShoalError,
    SqlSyntaxError,
    UnsupportedSqlError,
)
from shoal.queries.classify import classify
from shoal.queries.context import LocationAccess, StatementContext, StatementOutcome, TableAccess
from shoal.queries.ddl import HANDLERS
from shoal.queries.runner import StatementRunner
from shoal.storage import LocalStorage

TRIPS = "CREATE EXTERNAL TABLE trips (id int, city string) LOCATION 's3://lake/trips/'"
SALES = (
    "CREATE EXTERNAL TABLE sales (amount double) PARTITIONED BY (year string, month string) "
    "LOCATION 's3://lake/sales/'"
)


@dataclass
class Lake:
    """A catalog, a bucket 'lake' and a runner; ``run`` calls the statement's handler."""

    catalog: CatalogStore
    storage: LocalStorage
    runner: StatementRunner
    seen: list[tuple[TableAccess | LocationAccess, ...]] = field(default_factory=list)

    def run(
        self,
        sql: str,
        database: str = "default",
        authorize: Callable[[Sequence[TableAccess | LocationAccess]], None] | None = None,
    ) -> StatementOutcome:
        def record(accesses: Sequence[TableAccess | LocationAccess]) -> None:
            self.seen.append(tuple(accesses))
            if authorize is not None:
                authorize(accesses)

        context = StatementContext("q-1", database=database, authorize=record)
        return HANDLERS[classify(sql)](self.runner, sql, context)

    def rows(self, sql: str, database: str = "default") -> list[tuple[Any, ...]]:
        table = self.run(sql, database).rows
        return list(zip(*(c.to_pylist() for c in table.columns), strict=True))

    def table(self, name: str, database: str = "default") -> Table:
        return self.catalog.get_table(database, name)

    def put(self, key: str, data: bytes = b"1\n") -> None:
        self.storage.put("lake", key, data)

    def snapshot(self) -> list[Any]:
        """Everything in the catalog, to prove a failed statement changed nothing."""
        state: list[Any] = []
        for db in self.catalog.list_databases():
            state.append(db)
            for t in self.catalog.list_tables(db.name):
                parts = self.catalog.list_partitions(db.name, t.name) if t.partition_keys else []
                state.append((t, parts))
        return state


@pytest.fixture(scope="module")
def template_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated catalog (holding database 'default', as every new one does); copying
    it is faster than migrating."""
    path = tmp_path_factory.mktemp("template") / "catalog.db"
    CatalogStore(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def lake(tmp_path: Path, template_catalog: Path) -> Iterator[Lake]:
    storage = LocalStorage(tmp_path / "lake")
    storage.create_bucket("lake")
    shutil.copy(template_catalog, tmp_path / "catalog.db")
    catalog = CatalogStore(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield Lake(catalog, storage, StatementRunner(catalog, storage, cast(Engine, None)))
    catalog.close()


def _definition(table: Table) -> Table:
    """A table without what the store sets (times, version)."""
    return replace(table, create_time=None, update_time=None, version_id=0)


# --- databases -------------------------------------------------------------------------------


def test_create_database_with_every_clause(lake: Lake) -> None:
    out = lake.run(
        "CREATE DATABASE `blog-db` COMMENT 'the blog' LOCATION 's3://lake/blog/' "
        "WITH DBPROPERTIES ('creator'='ana', 'team'='data')"
    )
    db = lake.catalog.get_database("blog-db")
    assert (db.name, db.description, db.location_uri) == ("blog-db", "the blog", "s3://lake/blog/")
    assert dict(db.parameters) == {"creator": "ana", "team": "data"}
    assert (out.statement_type, out.substatement_type) == ("DDL", "CREATE_DATABASE")
    assert out.rows.num_rows == 0
    assert out.accesses == (TableAccess("blog-db", "*", "write"),)


def test_create_schema_lowercases_and_if_not_exists_is_quiet(lake: Lake) -> None:
    lake.run("CREATE SCHEMA Sales")
    lake.run("CREATE SCHEMA IF NOT EXISTS sales COMMENT 'ignored'")
    assert lake.catalog.get_database("sales").description is None
    with pytest.raises(AlreadyExistsError, match="sales already exists"):
        lake.run("CREATE DATABASE sales")


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("CREATE DATABASE `x; DROP`", InvalidNameError),
        ("CREATE DATABASE `a b`", InvalidNameError),
        ("CREATE DATABASE d LOCATION '/etc/'", InvalidInputError),
        ("CREATE DATABASE d; DROP DATABASE default", SqlSyntaxError),
        ("CREATE DATABASE d WITH DBPROPERTIES ('a'='1', 'a'='2')", SqlSyntaxError),
        ("CREATE DATABASE blog-db", SqlSyntaxError),
    ],
)
def test_bad_create_database_changes_nothing(lake: Lake, sql: str, error: type[Exception]) -> None:
    before = lake.snapshot()
    with pytest.raises(error):
        lake.run(sql)
    assert lake.snapshot() == before


def test_drop_database_restrict_and_cascade(lake: Lake) -> None:
    lake.run("CREATE DATABASE shop")
    lake.run(TRIPS, database="shop")
    before = lake.snapshot()
    with pytest.raises(InvalidInputError, match="Database shop is not empty"):
        lake.run("DROP DATABASE shop")
    with pytest.raises(InvalidInputError, match="not empty"):
        lake.run("DROP SCHEMA shop RESTRICT")
    assert lake.snapshot() == before
    out = lake.run("DROP DATABASE shop CASCADE")
    assert [d.name for d in lake.catalog.list_databases()] == ["default"]
    assert out.accesses == (TableAccess("shop", "*", "write"),)


def test_drop_database_missing_and_default(lake: Lake) -> None:
    lake.run("DROP DATABASE IF EXISTS nowhere")
    with pytest.raises(EntityNotFoundError, match="nowhere"):
        lake.run("DROP DATABASE nowhere")
    with pytest.raises(InvalidInputError, match="default"):
        lake.run("DROP DATABASE default CASCADE")
    lake.run("CREATE DATABASE empty")
    lake.run("DROP DATABASE empty")
    assert [d.name for d in lake.catalog.list_databases()] == ["default"]


# --- CREATE EXTERNAL TABLE -------------------------------------------------------------------


def test_a_location_is_stored_without_its_trailing_slash(lake: Lake, tmp_path: Path) -> None:
    # Hive (Hadoop's Path) drops it: Athena's GetTableMetadata answers 's3://b/t' for
    # LOCATION 's3://b/t/' (PyAthena's reflection tests expect exactly that).
    lake.run("CREATE EXTERNAL TABLE slashed (n int) LOCATION 's3://lake/slash/t/'")
    assert lake.table("slashed").storage.location == "s3://lake/slash/t"
    lake.run("ALTER TABLE slashed SET LOCATION 's3://lake/slash/t2//'")
    assert lake.table("slashed").storage.location == "s3://lake/slash/t2"
    lake.run("CREATE EXTERNAL TABLE root (n int) LOCATION 's3://lake/'")
    assert lake.table("root").storage.location == "s3://lake/"  # a bucket keeps its slash
    lake.run("DROP TABLE root")
    # Read as the folder it names: not a sibling whose name starts alike.
    lake.put("slash/t2/rows.csv", b"1\n2\n")
    lake.put("slash/t22/rows.csv", b"99\n")
    engine = DuckDBEngine([str(tmp_path / "lake")], str(tmp_path / "spill"), threads=1)
    try:
        runner = StatementRunner(lake.catalog, lake.storage, engine)
        rows = runner.run("SELECT n FROM slashed", StatementContext("q-5", database="default"))
    finally:
        engine.close()
    assert sorted(rows.rows["n"].to_pylist()) == [1, 2]
    lake.run("DROP TABLE slashed")


def test_a_table_comment_has_its_whitespace_squashed(lake: Lake) -> None:
    # Athena stores a table COMMENT with each run of whitespace (line breaks included)
    # as one space; PyAthena's suite reads it back so.
    lake.run(
        "CREATE EXTERNAL TABLE commented (n int) "
        "COMMENT '\ntable comment\n\n  multiline\ttable comment\n' LOCATION 's3://lake/c/'"
    )
    table = lake.table("commented")
    assert table.description == " table comment multiline table comment "
    lake.run("DROP TABLE commented")


def test_create_delimited_csv_table_exact_fields(lake: Lake) -> None:
    out = lake.run(
        """CREATE EXTERNAL TABLE IF NOT EXISTS taxi (
             `vendor` STRING COMMENT 'who drove',
             fare DECIMAL(10, 2),
             tags array<string>,
             trip struct<a:string, b:array<INTEGER>>,
             code varchar(100)
           )
           COMMENT 'yellow cabs'
           PARTITIONED BY (year string COMMENT 'from the folder', month string)
           ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' ESCAPED BY '\\\\'
             COLLECTION ITEMS TERMINATED BY '|' MAP KEYS TERMINATED BY ':'
             LINES TERMINATED BY '\\n' NULL DEFINED AS ''
           STORED AS TEXTFILE
           LOCATION 's3://lake/taxi/'
           TBLPROPERTIES ('skip.header.line.count'='1', 'owner.team'='rides');"""
    )
    expected = Table(
        database="default",
        name="taxi",
        storage=StorageDescriptor(
            location="s3://lake/taxi",
            columns=(
                Column("vendor", "string", "who drove"),
                Column("fare", "decimal(10,2)"),
                Column("tags", "array<string>"),
                Column("trip", "struct<a:string,b:array<int>>"),
                Column("code", "varchar(100)"),
            ),
            input_format=TEXT_INPUT,
            output_format=TEXT_OUTPUT,
            serde=SerDeInfo(
                LAZY_SIMPLE_SERDE,
                {
                    "field.delim": ",",
                    "serialization.format": ",",
                    "escape.delim": "\\",
                    "collection.delim": "|",
                    "mapkey.delim": ":",
                    "line.delim": "\n",
                    "serialization.null.format": "",
                },
            ),
        ),
        partition_keys=(Column("year", "string", "from the folder"), Column("month", "string")),
        parameters={
            "skip.header.line.count": "1",
            "owner.team": "rides",
            "classification": "csv",
        },
        description="yellow cabs",
    )
    assert _definition(lake.table("taxi")) == expected
    assert (out.statement_type, out.substatement_type) == ("DDL", "CREATE_TABLE")
    assert out.rows.num_rows == 0
    assert out.accesses == (TableAccess("default", "taxi", "write"),)


def test_open_csv_serde_completes_separator_and_quote(lake: Lake) -> None:
    lake.run(
        "CREATE EXTERNAL TABLE q (a string, b string) "
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' "
        "WITH SERDEPROPERTIES ('separatorChar'=';', 'escapeChar'='\\\\') "
        "LOCATION 's3://lake/q/' TBLPROPERTIES ('skip.header.line.count'='1')"
    )
    table = lake.table("q")
    assert table.storage.serde == SerDeInfo(
        OPEN_CSV_SERDE, {"separatorChar": ";", "escapeChar": "\\", "quoteChar": '"'}
    )
    assert (table.storage.input_format, table.storage.output_format) == (TEXT_INPUT, TEXT_OUTPUT)
    assert dict(table.parameters) == {"skip.header.line.count": "1", "classification": "csv"}


@pytest.mark.parametrize(
    ("clause", "serde", "params"),
    [
        ("ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t'", LAZY_SIMPLE_SERDE, "\t"),
        ("ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\001'", LAZY_SIMPLE_SERDE, "\x01"),
        ("STORED AS TEXTFILE", LAZY_SIMPLE_SERDE, None),
        ("", LAZY_SIMPLE_SERDE, None),
    ],
)
def test_text_delimiters_follow_hive(lake: Lake, clause: str, serde: str, params: str) -> None:
    lake.run(f"CREATE EXTERNAL TABLE t (a string) {clause} LOCATION 's3://lake/t/'")
    sd = lake.table("t").storage
    expected = {"field.delim": params, "serialization.format": params} if params else {}
    # No delimiter given: LazySimpleSerDe's default, Ctrl-A, is written out.
    assert dict(sd.serde.parameters) == (expected or {"field.delim": "\x01"})
    assert sd.serde.serialization_library == serde


def test_lazy_simple_serde_delimiter_from_serialization_format(lake: Lake) -> None:
    lake.run(
        "CREATE EXTERNAL TABLE t (a string) ROW FORMAT SERDE "
        "'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe' "
        "WITH SERDEPROPERTIES ('serialization.format'='\\t') LOCATION 's3://lake/t/'"
    )
    params = dict(lake.table("t").storage.serde.parameters)
    assert params == {"serialization.format": "\t", "field.delim": "\t"}


@pytest.mark.parametrize(
    ("clause", "serde", "output"),
    [
        # Athena (PyAthena's suite): the OpenX SerDe alone gets IgnoreKeyTextOutputFormat,
        # as Glue crawlers write it for JSON; with STORED AS, TEXTFILE's output format.
        ("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'", JSON_SERDE, JSON_OUTPUT),
        (
            "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe' "
            "WITH SERDEPROPERTIES ('ignore.malformed.json'='true')",
            "org.apache.hive.hcatalog.data.JsonSerDe",
            TEXT_OUTPUT,
        ),
        ("STORED AS JSON", JSON_SERDE, TEXT_OUTPUT),
    ],
)
def test_json_tables(lake: Lake, clause: str, serde: str, output: str) -> None:
    lake.run(
        f"CREATE EXTERNAL TABLE j (a string, b map<string,int>) {clause} LOCATION 's3://lake/j/'"
    )
    table = lake.table("j")
    assert table.storage.serde.serialization_library == serde
    assert (table.storage.input_format, table.storage.output_format) == (TEXT_INPUT, output)
    assert dict(table.parameters) == {"classification": "json"}


@pytest.mark.parametrize(
    "clause",
    [
        "STORED AS PARQUET",
        f"ROW FORMAT SERDE '{PARQUET_SERDE}' STORED AS INPUTFORMAT '{PARQUET_INPUT}' "
        f"OUTPUTFORMAT '{PARQUET_OUTPUT}'",
    ],
)
def test_parquet_tables(lake: Lake, clause: str) -> None:
    lake.run(
        f"CREATE EXTERNAL TABLE p (a bigint, b timestamp) {clause} LOCATION 's3://lake/p/' "
        "TBLPROPERTIES ('classification'='parquet', 'compressionType'='snappy')"
    )
    sd = lake.table("p").storage
    assert sd.serde == SerDeInfo(PARQUET_SERDE, {"serialization.format": "1"})
    assert (sd.input_format, sd.output_format, sd.compressed) == (
        PARQUET_INPUT,
        PARQUET_OUTPUT,
        True,
    )


def test_names_quoted_qualified_and_lowercased(lake: Lake) -> None:
    lake.run("CREATE DATABASE `blog-db`")
    lake.run(
        "CREATE EXTERNAL TABLE awsdatacatalog.`blog-db`.`Events` "
        "(`select` string, `From` int) LOCATION 's3://lake/e/'"
    )
    lake.run('CREATE EXTERNAL TABLE "blog-db"."other" (a int) LOCATION \'s3://lake/o/\'')
    table = lake.table("events", "blog-db")
    assert [c.name for c in table.columns] == ["select", "from"]
    assert [t.name for t in lake.catalog.list_tables("blog-db")] == ["events", "other"]


def test_if_not_exists_keeps_the_existing_table(lake: Lake) -> None:
    lake.run(TRIPS)
    before = lake.snapshot()
    lake.run("CREATE EXTERNAL TABLE IF NOT EXISTS trips (x string) LOCATION 's3://lake/x/'")
    assert lake.snapshot() == before
    with pytest.raises(AlreadyExistsError, match="default.trips already exists"):
        lake.run(TRIPS)


@pytest.mark.parametrize(
    ("sql", "error", "names"),
    [
        (
            "CREATE TABLE t (a int) LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "CREATE EXTERNAL TABLE",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) STORED AS RCFILE LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "RCFILE",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) STORED AS AVRO LOCATION 's3://lake/t/' "
            "TBLPROPERTIES ('avro.schema.url'='s3://lake/schema.avsc')",
            UnsupportedSqlError,
            "avro.schema.literal",
        ),
        (
            "CREATE EXTERNAL TABLE t ROW FORMAT SERDE "
            "'org.apache.hadoop.hive.serde2.avro.AvroSerDe' WITH SERDEPROPERTIES "
            "('avro.schema.literal'='{\"type\": \"record\"') "
            "STORED AS AVRO LOCATION 's3://lake/t/'",
            InvalidInputError,
            "not valid JSON",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) PARTITIONED BY (p int) CLUSTERED BY (p) "
            "INTO 4 BUCKETS LOCATION 's3://lake/t/'",
            InvalidInputError,
            "'p' is not a column",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) CLUSTERED BY (a) INTO 0 BUCKETS LOCATION 's3://lake/t/'",
            SqlSyntaxError,
            "number of buckets",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) CLUSTERED BY (a) SORTED BY (b) INTO 2 BUCKETS "
            "LOCATION 's3://lake/t/'",
            InvalidInputError,
            "'b' is not a column",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) SKEWED BY (a) ON (1) LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "SKEWED BY",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) STORED BY 'x.Handler' LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "STORED BY",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) ROW FORMAT SERDE "
            "'org.apache.hadoop.hive.serde2.lazybinary.LazyBinarySerDe' LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "LazyBinarySerDe",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) STORED AS INPUTFORMAT "
            "'org.apache.hadoop.hive.ql.io.RCFileInputFormat' OUTPUTFORMAT 'x' "
            "LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "RCFileInputFormat",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) ROW FORMAT DELIMITED FIELDS TERMINATED BY '::' "
            "LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "one character",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) ROW FORMAT DELIMITED LINES TERMINATED BY '\\r' "
            "LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "LINES TERMINATED BY",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) ROW FORMAT SERDE "
            "'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe' WITH SERDEPROPERTIES "
            "('serialization.encoding'='windows-1252') LOCATION 's3://lake/t/'",
            UnsupportedSqlError,
            "serialization.encoding",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://lake/t/' "
            "TBLPROPERTIES ('table_type'='ICEBERG')",
            UnsupportedSqlError,
            "table_type",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) STORED AS PARQUET LOCATION 's3://lake/t/' "
            "TBLPROPERTIES ('classification'='csv')",
            InvalidInputError,
            "contradicts",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
            "STORED AS PARQUET LOCATION 's3://lake/t/'",
            InvalidInputError,
            "ROW FORMAT DELIMITED",
        ),
        (
            f"CREATE EXTERNAL TABLE t (a int) ROW FORMAT SERDE '{PARQUET_SERDE}' "
            "LOCATION 's3://lake/t/'",
            InvalidInputError,
            "cannot read",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) STORED AS PARQUET LOCATION 's3://lake/t/' "
            "TBLPROPERTIES ('skip.header.line.count'='1')",
            InvalidInputError,
            "skip.header.line.count",
        ),
        ("CREATE EXTERNAL TABLE t (a int)", InvalidInputError, "LOCATION"),
        ("CREATE EXTERNAL TABLE t (a int) LOCATION '/etc/passwd'", InvalidInputError, "s3://"),
        ("CREATE EXTERNAL TABLE t (a strin) LOCATION 's3://lake/t/'", SqlSyntaxError, "strin"),
        ("CREATE EXTERNAL TABLE t (a struct<b int>) LOCATION 's3://lake/t/'", SqlSyntaxError, "1:"),
        (
            "CREATE EXTERNAL TABLE t (a int, A string) LOCATION 's3://lake/t/'",
            InvalidInputError,
            "more than once",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) PARTITIONED BY (a string) LOCATION 's3://lake/t/'",
            InvalidInputError,
            "more than once",
        ),
        (
            "CREATE EXTERNAL TABLE `x; DROP` (a int) LOCATION 's3://lake/t/'",
            InvalidNameError,
            "x; DROP",
        ),
        (
            "CREATE EXTERNAL TABLE t (`a; DROP` int) LOCATION 's3://lake/t/'",
            InvalidNameError,
            "a; DROP",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://lake/t/'; DROP TABLE x",
            SqlSyntaxError,
            "'DROP'",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://lake/t/' WHATEVER",
            SqlSyntaxError,
            "line 1:57: unexpected 'WHATEVER'",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://lake/t/' LOCATION 's3://lake/u/'",
            SqlSyntaxError,
            "twice",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) COMMENT 'it''s' LOCATION 's3://lake/t/'",
            SqlSyntaxError,
            "adjacent",
        ),
        (
            "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://lake/t/' COMMENT 'open",
            SqlSyntaxError,
            "unterminated",
        ),
        ("CREATE EXTERNAL TABLE t LOCATION 's3://lake/t/'", InvalidInputError, "column list"),
        (
            "CREATE EXTERNAL TABLE other.x.t (a int) LOCATION 's3://lake/t/'",
            SqlSyntaxError,
            "catalog",
        ),
        (
            "CREATE EXTERNAL TABLE nowhere.t (a int) LOCATION 's3://lake/t/'",
            EntityNotFoundError,
            "nowhere",
        ),
    ],
)
def test_bad_create_table_changes_nothing(
    lake: Lake, sql: str, error: type[ShoalError], names: str
) -> None:
    before = lake.snapshot()
    with pytest.raises(error) as raised:
        lake.run(sql)
    assert names in raised.value.message
    assert lake.snapshot() == before


def test_syntax_errors_carry_line_and_column(lake: Lake) -> None:
    with pytest.raises(SqlSyntaxError) as raised:
        lake.run("CREATE EXTERNAL TABLE t (\n  a int,\n  b bogus\n) LOCATION 's3://lake/t/'")
    assert (raised.value.line, raised.value.column) == (3, 5)
    assert raised.value.message.startswith("line 3:5: ")


# --- authorization ---------------------------------------------------------------------------


def test_refused_authorization_changes_nothing(lake: Lake) -> None:
    def refuse(accesses: Sequence[TableAccess | LocationAccess]) -> None:
        raise AccessDeniedError(f"no: {accesses}")

    lake.run(SALES)
    lake.put("sales/year=2024/month=01/a.csv")
    before = lake.snapshot()
    statements = [
        TRIPS,
        "DROP TABLE sales",
        "ALTER TABLE sales ADD PARTITION (year='2024', month='02')",
        "ALTER TABLE sales DROP IF EXISTS PARTITION (year='2024')",
        "MSCK REPAIR TABLE sales",
        "CREATE DATABASE d2",
        "DROP DATABASE IF EXISTS d3",
    ]
    for sql in statements:
        with pytest.raises(AccessDeniedError):
            lake.run(sql, authorize=refuse)
    assert lake.snapshot() == before
    assert lake.seen[-3:] == [
        (TableAccess("default", "sales", "write"),),
        (TableAccess("d2", "*", "write"),),
        (TableAccess("d3", "*", "write"),),
    ]


# --- DROP TABLE ------------------------------------------------------------------------------


def test_drop_table_keeps_files(lake: Lake) -> None:
    lake.run(TRIPS)
    lake.put("trips/a.csv")
    out = lake.run("DROP TABLE default.trips")
    assert lake.catalog.list_tables("default") == []
    assert [o.key for o in lake.storage.walk("lake", "trips/")] == ["trips/a.csv"]
    assert (out.substatement_type, out.accesses) == (
        "DROP_TABLE",
        (TableAccess("default", "trips", "write"),),
    )
    lake.run("DROP TABLE IF EXISTS trips")
    lake.run("DROP TABLE IF EXISTS nowhere.trips")
    with pytest.raises(EntityNotFoundError, match="trips"):
        lake.run("DROP TABLE trips")


def test_drop_table_refuses_views_and_purge(lake: Lake) -> None:
    view = Table("default", "v", StorageDescriptor(""), table_type=TABLE_TYPE_VIEW)
    lake.catalog.create_table(view)
    before = lake.snapshot()
    with pytest.raises(InvalidInputError, match="DROP VIEW"):
        lake.run("DROP TABLE v")
    with pytest.raises(UnsupportedSqlError, match="PURGE"):
        lake.run("DROP TABLE v PURGE")
    assert lake.snapshot() == before


# --- ALTER TABLE ADD / DROP PARTITION ----------------------------------------------------------


def _values(lake: Lake, table: str = "sales") -> list[tuple[str, ...]]:
    return [p.values for p in lake.catalog.list_partitions("default", table)]


def test_add_partitions_with_default_and_given_locations(lake: Lake) -> None:
    lake.run(SALES)
    out = lake.run(
        "ALTER TABLE sales ADD PARTITION (year='2024', month='01') "
        "PARTITION (month='02', year=2024) LOCATION 's3://lake/elsewhere/feb/'"
    )
    table = lake.table("sales")
    first, second = lake.catalog.list_partitions("default", "sales")
    assert first.values == ("2024", "01")
    assert first.storage == replace(table.storage, location="s3://lake/sales/year=2024/month=01/")
    assert second.values == ("2024", "02")
    assert second.storage.location == "s3://lake/elsewhere/feb/"
    assert (out.statement_type, out.substatement_type, out.rows.num_rows) == (
        "DDL",
        "ALTER_TABLE_ADD_PARTITION",
        0,
    )


def test_add_partition_value_is_data_not_sql(lake: Lake) -> None:
    lake.run(SALES)
    lake.run("ALTER TABLE sales ADD PARTITION (year='1\\' OR \\'1\\'=\\'1', month='a/b')")
    (part,) = lake.catalog.list_partitions("default", "sales")
    assert part.values == ("1' OR '1'='1", "a/b")
    # Hive escapes folder names, so the value cannot add or climb folder levels.
    assert part.storage.location == "s3://lake/sales/year=1%27 OR %271%27%3D%271/month=a%2Fb/"


def test_add_partition_if_not_exists_and_duplicates(lake: Lake) -> None:
    lake.run(SALES)
    lake.run("ALTER TABLE sales ADD PARTITION (year='2024', month='01')")
    before = lake.snapshot()
    with pytest.raises(AlreadyExistsError):
        lake.run(
            "ALTER TABLE sales ADD PARTITION (year='2024', month='02') "
            "PARTITION (year='2024', month='01')"
        )
    assert lake.snapshot() == before
    lake.run(
        "ALTER TABLE sales ADD IF NOT EXISTS PARTITION (year='2024', month='01') "
        "LOCATION 's3://lake/x/' PARTITION (year='2024', month='02')"
    )
    assert _values(lake) == [("2024", "01"), ("2024", "02")]
    assert lake.catalog.get_partition("default", "sales", ("2024", "01")).storage.location == (
        "s3://lake/sales/year=2024/month=01/"
    )


@pytest.mark.parametrize(
    ("sql", "error", "names"),
    [
        ("ALTER TABLE sales ADD PARTITION (year='2024')", InvalidInputError, "month"),
        (
            "ALTER TABLE sales ADD PARTITION (year='2024', day='1', month='1')",
            InvalidInputError,
            "day",
        ),
        ("ALTER TABLE sales ADD PARTITION (year='2024', month='')", InvalidInputError, "empty"),
        ("ALTER TABLE sales ADD PARTITION (year='1', year='2')", SqlSyntaxError, "twice"),
        (
            "ALTER TABLE sales ADD PARTITION (year='1', month='1') LOCATION 'file:///etc'",
            InvalidInputError,
            "s3://",
        ),
        ("ALTER TABLE trips ADD PARTITION (id='1')", InvalidInputError, "not a partitioned"),
        ("ALTER TABLE nope ADD PARTITION (a='1')", EntityNotFoundError, "nope"),
        ("ALTER TABLE sales DROP PARTITION (year < '2024')", UnsupportedSqlError, "'<'"),
        ("ALTER TABLE sales DROP PARTITION (year='2024') PURGE", UnsupportedSqlError, "PURGE"),
        ("ALTER TABLE sales DROP PARTITION (day='1')", InvalidInputError, "day"),
        ("ALTER TABLE sales DROP PARTITION (year='1999')", EntityNotFoundError, "1999"),
        (
            "ALTER TABLE sales DROP PARTITION (year='2024'), PARTITION (year='1999')",
            EntityNotFoundError,
            "1999",
        ),
    ],
)
def test_bad_partition_statements_change_nothing(
    lake: Lake, sql: str, error: type[ShoalError], names: str
) -> None:
    lake.run(SALES)
    lake.run(TRIPS)
    lake.run("ALTER TABLE sales ADD PARTITION (year='2024', month='01')")
    before = lake.snapshot()
    with pytest.raises(error) as raised:
        lake.run(sql)
    assert names in raised.value.message
    assert lake.snapshot() == before


def test_drop_partitions_full_partial_and_if_exists(lake: Lake) -> None:
    lake.run(SALES)
    lake.run(
        "ALTER TABLE sales ADD PARTITION (year='2023', month='12') "
        "PARTITION (year='2024', month='01') PARTITION (year='2024', month='02') "
        "PARTITION (year='2025', month='01')"
    )
    lake.put("sales/year=2023/month=12/a.csv")
    out = lake.run("ALTER TABLE sales DROP PARTITION (year='2023', month='12')")
    assert _values(lake) == [("2024", "01"), ("2024", "02"), ("2025", "01")]
    assert out.accesses == (TableAccess("default", "sales", "write"),)
    assert [o.key for o in lake.storage.walk("lake")] == ["sales/year=2023/month=12/a.csv"]
    lake.run("ALTER TABLE sales DROP IF EXISTS PARTITION (year='2024'), PARTITION (year='1999')")
    assert _values(lake) == [("2025", "01")]


# --- MSCK REPAIR TABLE -----------------------------------------------------------------------


def test_msck_adds_exactly_the_new_hive_folders(lake: Lake) -> None:
    lake.run(SALES)
    lake.run("ALTER TABLE sales ADD PARTITION (year='2024', month='01')")
    for key in (
        "sales/year=2024/month=01/a.csv",  # already catalogued
        "sales/year=2024/month=02/a.csv",
        "sales/year=2024/month=02/b.csv",
        "sales/year=2023/month=12/deeper/c.csv",
        "sales/year=2025/month=1' OR '1'='1/d.csv",
        "sales/year=2026/month=%2Fx/e.csv",  # %XX is unescaped, as Hive does
        "sales/year=2024/other/f.csv",  # not month=…
        "sales/month=01/year=2024/g.csv",  # keys out of order
        "sales/year=2024/h.csv",  # not deep enough
        "sales/top.csv",  # table root: not a partition
        "sales/_tmp/year=2030/month=01/i.csv",  # hidden folders are ignored
        "sales/year=2031/month=01/_SUCCESS",  # markers alone make no partition
        "elsewhere/year=2032/month=01/j.csv",  # outside the table
    ):
        lake.put(key)
    out = lake.run("MSCK REPAIR TABLE sales")
    assert _values(lake) == [
        ("2023", "12"),
        ("2024", "01"),
        ("2024", "02"),
        ("2025", "1' OR '1'='1"),
        ("2026", "/x"),
    ]
    table = lake.table("sales")
    injected = lake.catalog.get_partition("default", "sales", ("2025", "1' OR '1'='1"))
    assert injected.storage == replace(
        table.storage, location="s3://lake/sales/year=2025/month=1' OR '1'='1/"
    )
    added = [
        "sales:year=2023/month=12",
        "sales:year=2024/month=02",
        "sales:year=2025/month=1%27 OR %271%27%3D%271",
        "sales:year=2026/month=%2Fx",
    ]
    assert out.rows.column_names == ["result"]
    assert out.rows.column("result").to_pylist() == [
        "Partitions not in metastore:\t" + "\t".join(added),
        *(f"Repair: Added partition to metastore {a}" for a in added),
        "Skipped invalid partition path: month=01/year=2024",
        "Skipped invalid partition path: year=2024",
        "Skipped invalid partition path: year=2024/other",
    ]
    assert (out.statement_type, out.substatement_type) == ("DDL", "MSCK_REPAIR_TABLE")
    assert out.accesses == (TableAccess("default", "sales", "write"),)
    again = lake.run("MSCK REPAIR TABLE sales")
    assert again.rows.column("result").to_pylist()[0].startswith("Skipped")


def test_msck_on_unpartitioned_or_missing_table(lake: Lake) -> None:
    lake.run(TRIPS)
    with pytest.raises(InvalidInputError, match="not a partitioned"):
        lake.run("MSCK REPAIR TABLE trips")
    with pytest.raises(EntityNotFoundError):
        lake.run("MSCK REPAIR TABLE nope")
    with pytest.raises(UnsupportedSqlError, match="SYNC PARTITIONS"):
        lake.run("MSCK REPAIR TABLE trips SYNC PARTITIONS")


def test_msck_partition_inherits_table_format(lake: Lake) -> None:
    lake.run(
        "CREATE EXTERNAL TABLE logs (line string) PARTITIONED BY (dt string) "
        "STORED AS PARQUET LOCATION 's3://lake/logs'"
    )
    lake.put("logs/dt=2024-01-01/part-0.parquet")
    lake.run("MSCK REPAIR TABLE logs")
    part: Partition = lake.catalog.get_partition("default", "logs", ("2024-01-01",))
    assert part.storage == replace(
        lake.table("logs").storage, location="s3://lake/logs/dt=2024-01-01/"
    )


# --- through StatementRunner.run ---------------------------------------------------------------


def test_runner_dispatches_ddl(lake: Lake) -> None:
    context = StatementContext("q-2", database="default")
    try:
        out = lake.runner.run(SALES, context)
    except NotImplementedError:
        pytest.skip("StatementRunner.run is not implemented yet")
    assert out.substatement_type == "CREATE_TABLE"
    lake.put("sales/year=2024/month=01/a.csv")
    lake.runner.run("MSCK REPAIR TABLE sales", context)
    shown = lake.runner.run("SHOW PARTITIONS sales", context)
    assert shown.rows.column("partition").to_pylist() == ["year=2024/month=01"]


def test_tables_made_by_ddl_are_readable(lake: Lake, tmp_path: Path) -> None:
    engine = DuckDBEngine([str(tmp_path / "lake")], str(tmp_path / "spill"), threads=1)
    runner = StatementRunner(lake.catalog, lake.storage, engine)
    context = StatementContext("q-3", database="default")
    lake.put("csv/year=2024/a.csv", b"id,name\n1,ann\n2,bob\n")
    lake.put("csv/year=2025/a.csv", b"id,name\n3,cy\n")
    lake.put("tsv/a.tsv", b'1\t"z"\n')
    try:
        runner.run(
            "CREATE EXTERNAL TABLE c (id int, name string) PARTITIONED BY (year string) "
            "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://lake/csv/' "
            "TBLPROPERTIES ('skip.header.line.count'='1')",
            context,
        )
        runner.run("MSCK REPAIR TABLE c", context)
        runner.run(
            "CREATE EXTERNAL TABLE t (a int, b string) "
            "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LOCATION 's3://lake/tsv/'",
            context,
        )
        rows = runner.run("SELECT id, name, year FROM c ORDER BY id", context).rows
        tsv = runner.run("SELECT a, b FROM t", context).rows
    finally:
        engine.close()
    assert rows.to_pylist() == [
        {"id": 1, "name": "ann", "year": "2024"},
        {"id": 2, "name": "bob", "year": "2024"},
        {"id": 3, "name": "cy", "year": "2025"},
    ]
    assert tsv.to_pylist() == [{"a": 1, "b": '"z"'}]  # LazySimpleSerDe does not unquote


# PyAthena's one_row_complex: Hive text with \x02 / \x03 separators, gzipped.
COMPLEX_ROW = (
    "true\t127\t32767\t2147483647\t9223372036854775807\t0.5\t0.25\ta string\tvarchar\t"
    "2017-01-01 00:00:00\t2017-01-02\tMTIz\t1\x022\t1\x032\x023\x034\t1\x022\t0.1\n"
)
COMPLEX_DDL = (
    "CREATE EXTERNAL TABLE one_row_complex (col_boolean BOOLEAN, col_tinyint TINYINT, "
    "col_smallint SMALLINT, col_int INT, col_bigint BIGINT, col_float FLOAT, col_double DOUBLE, "
    "col_string STRING, col_varchar VARCHAR(10), col_timestamp TIMESTAMP, col_date DATE, "
    "col_binary BINARY, col_array ARRAY<int>, col_map MAP<int, int>, "
    "col_struct STRUCT<a: int, b: int>, col_decimal DECIMAL(10,1)) "
    "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' "
    "STORED AS TEXTFILE LOCATION 's3://lake/complex/'"
)


def test_hive_text_tables_hold_complex_values(lake: Lake, tmp_path: Path) -> None:
    engine = DuckDBEngine([str(tmp_path / "lake")], str(tmp_path / "spill"), threads=1)
    runner = StatementRunner(lake.catalog, lake.storage, engine)
    context = StatementContext("q-4", database="default")
    lake.put("complex/one_row_complex.gz", gzip.compress(COMPLEX_ROW.encode()))
    nested = "[1,2]\x02[]\x02\\N\x011\x03a\x04b\x022\x03\x01\\N\nx\x013\x03c\x015\x02five\n"
    lake.put("nested/rows.txt", nested.encode())
    try:
        runner.run(COMPLEX_DDL, context)
        runner.run(
            "CREATE EXTERNAL TABLE nested (lists ARRAY<string>, tags MAP<int, ARRAY<string>>, "
            "s STRUCT<x: int, y: string>) LOCATION 's3://lake/nested/'",
            context,
        )
        row = runner.run("SELECT * FROM one_row_complex", context).rows.to_pylist()
        rows = runner.run("SELECT * FROM nested", context).rows.to_pylist()
    finally:
        engine.close()
    assert row == [{
        "col_boolean": True, "col_tinyint": 127, "col_smallint": 32767,
        "col_int": 2147483647, "col_bigint": 9223372036854775807, "col_float": 0.5,
        "col_double": 0.25, "col_string": "a string", "col_varchar": "varchar",
        "col_timestamp": datetime(2017, 1, 1), "col_date": date(2017, 1, 2),
        "col_binary": b"123", "col_array": [1, 2], "col_map": [(1, 2), (3, 4)],
        "col_struct": {"a": 1, "b": 2}, "col_decimal": Decimal("0.1"),
    }]  # fmt: skip
    assert rows == [
        # Items split at \x02; a map's entries at \x02, key from value at \x03, and the
        # value's own items one level deeper, at \x04. \N is NULL at any level.
        {"lists": ["[1,2]", "[]", None], "tags": [(1, ["a", "b"]), (2, [])], "s": None},
        {"lists": ["x"], "tags": [(3, ["c"])], "s": {"x": 5, "y": "five"}},
    ]


# --- ALTER TABLE: properties, location, columns (what dbt-athena and Athena users run) ----------


def test_set_tblproperties_as_dbt_athena_writes_it(lake: Lake) -> None:
    lake.run("CREATE DATABASE analytics")
    lake.run(TRIPS.replace("trips", "customer_orders"), database="analytics")
    before = lake.table("customer_orders", "analytics")
    out = lake.run(
        "alter table `analytics`.`customer_orders` set tblproperties "
        "('classification' = 'parquet', 'owner.team' = 'data')"
    )
    after = lake.table("customer_orders", "analytics")
    assert after.parameters == {**before.parameters, "classification": "parquet",
                                "owner.team": "data"}  # fmt: skip
    assert after.version_id == before.version_id + 1
    assert (out.statement_type, out.substatement_type) == ("DDL", "ALTER_TABLE_SET_TBLPROPERTIES")
    assert out.accesses == (TableAccess("analytics", "customer_orders", "write"),)
    assert out.rows.num_rows == 0


def test_set_location_moves_the_table_not_its_partitions(lake: Lake) -> None:
    lake.run(SALES)
    lake.run("ALTER TABLE sales ADD PARTITION (year='2024', month='01')")
    lake.run("ALTER TABLE sales SET LOCATION 's3://lake/sales-v2/'")
    assert lake.table("sales").storage.location == "s3://lake/sales-v2"
    (partition,) = lake.catalog.list_partitions("default", "sales")
    assert partition.storage.location == "s3://lake/sales/year=2024/month=01/"


def test_add_and_replace_columns(lake: Lake) -> None:
    lake.run(SALES)
    lake.run("ALTER TABLE sales ADD COLUMNS (Region string COMMENT 'where', units bigint)")
    assert lake.table("sales").columns == (
        Column("amount", "double"),
        Column("region", "string", "where"),
        Column("units", "bigint"),
    )
    lake.run("ALTER TABLE sales REPLACE COLUMNS (total decimal(10,2), tags array<string>)")
    table = lake.table("sales")
    assert table.columns == (Column("total", "decimal(10,2)"), Column("tags", "array<string>"))
    assert [k.name for k in table.partition_keys] == ["year", "month"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("CHANGE city town varchar(20)", [("id", "int"), ("town", "varchar(20)")]),
        ("CHANGE COLUMN id id bigint COMMENT 'k' AFTER city",
         [("city", "string"), ("id", "bigint")]),
        ("CHANGE city city string FIRST", [("city", "string"), ("id", "int")]),
    ],
)  # fmt: skip
def test_change_column_renames_retypes_and_moves(
    lake: Lake, change: str, expected: list[tuple[str, str]]
) -> None:
    lake.run(TRIPS)
    lake.run(f"ALTER TABLE trips {change}")
    assert [(c.name, c.type) for c in lake.table("trips").columns] == expected


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("ALTER TABLE trips ADD COLUMNS (city string)", InvalidInputError),
        ("ALTER TABLE sales ADD COLUMNS (year string)", InvalidInputError),
        ("ALTER TABLE trips CHANGE nope x int", InvalidInputError),
        ("ALTER TABLE trips CHANGE id x int AFTER nope", InvalidInputError),
        ("ALTER TABLE trips CHANGE id x notatype", SqlSyntaxError),
        ("ALTER TABLE trips ADD COLUMNS (`bad name` int)", InvalidNameError),
        ("ALTER TABLE trips SET LOCATION '/etc/'", InvalidInputError),
        ("ALTER TABLE trips SET TBLPROPERTIES ('a' = 'b', 'a' = 'c')", SqlSyntaxError),
        ("ALTER TABLE trips SET TBLPROPERTIES ('' = 'b')", InvalidInputError),
        ("ALTER TABLE trips SET TBLPROPERTIES ('a' = 'b') extra", SqlSyntaxError),
        ("ALTER TABLE missing SET TBLPROPERTIES ('a' = 'b')", EntityNotFoundError),
        ("ALTER TABLE recent SET TBLPROPERTIES ('a' = 'b')", InvalidInputError),
    ],
)
def test_bad_alter_statements_change_nothing(lake: Lake, sql: str, error: type[ShoalError]) -> None:
    lake.run(TRIPS)
    lake.run(SALES)
    view = Table("default", "recent", StorageDescriptor(""), table_type=TABLE_TYPE_VIEW)
    lake.catalog.create_table(view)
    before = lake.snapshot()
    with pytest.raises(error):
        lake.run(sql)
    assert lake.snapshot() == before


def test_alter_is_authorized_before_anything_changes(lake: Lake) -> None:
    lake.run(TRIPS)
    before = lake.snapshot()

    def refuse(accesses: object) -> None:
        raise AccessDeniedError("no")

    with pytest.raises(AccessDeniedError):
        lake.run("ALTER TABLE trips SET TBLPROPERTIES ('a' = 'b')", authorize=refuse)
    assert lake.snapshot() == before
