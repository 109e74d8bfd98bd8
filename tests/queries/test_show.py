"""SHOW and DESCRIBE against a real catalog (SQLite) and real local storage.

Expected rows are written out by hand; SHOW CREATE TABLE is also checked by running
its output into another database and comparing the tables.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from shoal.catalog.formats import DiscoveredFormat, format_parameters, storage_descriptor
from shoal.catalog.model import TABLE_TYPE_VIEW, Column, StorageDescriptor, Table
from shoal.catalog.store import CatalogStore
from shoal.engine.base import Engine
from shoal.errors import EntityNotFoundError, InvalidInputError, UnsupportedSqlError
from shoal.queries.classify import classify
from shoal.queries.context import StatementContext, StatementOutcome, TableAccess
from shoal.queries.ddl import HANDLERS
from shoal.queries.planner import encode_view
from shoal.queries.runner import StatementRunner
from shoal.queries.show import create_table_lines, hive_pattern
from shoal.storage import LocalStorage


class Lake:
    """A catalog and a bucket 'lake'; ``run`` calls the statement's handler directly."""

    def __init__(self, tmp_path: Path, template: Path) -> None:
        self.storage = LocalStorage(tmp_path / "lake")
        self.storage.create_bucket("lake")
        shutil.copy(template, tmp_path / "catalog.db")
        self.catalog = CatalogStore(f"sqlite:///{tmp_path / 'catalog.db'}")
        self.runner = StatementRunner(self.catalog, self.storage, cast(Engine, None))

    def run(self, sql: str, database: str = "default") -> StatementOutcome:
        context = StatementContext("q-1", database=database)
        return HANDLERS[classify(sql)](self.runner, sql, context)

    def rows(self, sql: str, database: str = "default") -> list[tuple[Any, ...]]:
        table = self.run(sql, database).rows
        return list(zip(*(c.to_pylist() for c in table.columns), strict=True))

    def column(self, sql: str, database: str = "default") -> list[Any]:
        out = self.run(sql, database).rows
        assert out.num_columns == 1
        values: list[Any] = out.column(0).to_pylist()
        return values


@pytest.fixture(scope="module")
def template_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated catalog (holding database 'default', as every new one does); copying
    it is faster than migrating."""
    path = tmp_path_factory.mktemp("template") / "catalog.db"
    CatalogStore(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def lake(tmp_path: Path, template_catalog: Path) -> Iterator[Lake]:
    made = Lake(tmp_path, template_catalog)
    yield made
    made.catalog.close()


SALES = (
    "CREATE EXTERNAL TABLE sales (amount double COMMENT 'in EUR', item string) "
    "PARTITIONED BY (year string, month string COMMENT 'two digits') "
    "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://lake/sales/' "
    "TBLPROPERTIES ('skip.header.line.count'='1')"
)


def _view(database: str, name: str) -> Table:
    columns = (Column("n", "bigint"),)
    return Table(
        database,
        name,
        StorageDescriptor("", columns),
        table_type=TABLE_TYPE_VIEW,
        view_original_text=encode_view("SELECT count(*) AS n\nFROM sales", database, columns),
    )


# --- SHOW DATABASES / TABLES / VIEWS -----------------------------------------------------------


def test_show_databases_and_patterns(lake: Lake) -> None:
    for name in ("sales", "sales_eu", "`blog-db`", "logs"):
        lake.run(f"CREATE DATABASE {name}")
    out = lake.run("SHOW DATABASES")
    assert out.rows.column_names == ["database_name"]
    assert out.rows.column(0).to_pylist() == ["blog-db", "default", "logs", "sales", "sales_eu"]
    assert (out.statement_type, out.substatement_type) == ("UTILITY", "SHOW_DATABASES")
    assert lake.column("SHOW SCHEMAS LIKE 'sales*'") == ["sales", "sales_eu"]
    assert lake.column("SHOW DATABASES 'SALES|log*'") == ["logs", "sales"]
    assert lake.column("SHOW DATABASES LIKE 'blog-db'") == ["blog-db"]
    assert lake.column("SHOW DATABASES LIKE 'sales.eu'") == []  # '.' is literal


def test_hive_patterns() -> None:
    matcher = hive_pattern("a*| b_c ")
    assert [bool(matcher.fullmatch(n)) for n in ("abc", "a", "b_c", "bxc", "xa")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_show_tables_and_views(lake: Lake) -> None:
    lake.run("CREATE DATABASE `blog-db`")
    for name in ("posts", "post_tags", "authors"):
        lake.run(f"CREATE EXTERNAL TABLE {name} (a int) LOCATION 's3://lake/{name}/'", "blog-db")
    lake.catalog.create_table(_view("blog-db", "post_counts"))
    out = lake.run("SHOW TABLES IN `blog-db`")
    assert out.rows.column_names == ["tab_name"]
    assert out.rows.column(0).to_pylist() == ["authors", "post_counts", "post_tags", "posts"]
    assert out.accesses == (TableAccess("blog-db", "*", "read"),)
    assert lake.column("SHOW TABLES 'post*'", "blog-db") == ["post_counts", "post_tags", "posts"]
    assert lake.column("SHOW TABLES FROM `blog-db` LIKE 'a*|posts'") == ["authors", "posts"]
    assert lake.column("SHOW TABLES") == []
    assert lake.column("SHOW VIEWS IN `blog-db`") == ["post_counts"]
    assert lake.run("SHOW VIEWS", "blog-db").substatement_type == "SHOW_VIEWS"
    with pytest.raises(EntityNotFoundError, match="nowhere"):
        lake.run("SHOW TABLES IN nowhere")


# --- one table ---------------------------------------------------------------------------------


def test_show_columns(lake: Lake) -> None:
    lake.run("CREATE DATABASE shop")
    lake.run(SALES, "shop")
    # Padded to 20 characters, as Hive prints them and Athena answers them.
    expected = ["amount              ", "item                ", "year                ",
                "month               "]  # fmt: skip
    assert lake.column("SHOW COLUMNS IN shop.sales") == expected
    assert lake.column("SHOW COLUMNS FROM sales IN shop") == expected
    out = lake.run("SHOW COLUMNS FROM sales", "shop")
    assert out.rows.column_names == ["field"]
    assert out.accesses == (TableAccess("shop", "sales", "read"),)
    with pytest.raises(EntityNotFoundError, match="shop.nope"):
        lake.run("SHOW COLUMNS IN nope", "shop")


def test_show_partitions(lake: Lake) -> None:
    lake.run(SALES)
    lake.run(
        "ALTER TABLE sales ADD PARTITION (year='2024', month='02') "
        "PARTITION (year='2024', month='01') PARTITION (year='2023', month='1\\' OR \\'1')"
    )
    out = lake.run("SHOW PARTITIONS sales")
    assert out.rows.column_names == ["partition"]
    assert out.rows.column(0).to_pylist() == [
        "year=2023/month=1%27 OR %271",
        "year=2024/month=01",
        "year=2024/month=02",
    ]
    assert (out.statement_type, out.substatement_type) == ("UTILITY", "SHOW_PARTITIONS")
    lake.run("CREATE EXTERNAL TABLE flat (a int) LOCATION 's3://lake/flat/'")
    with pytest.raises(InvalidInputError, match="not a partitioned table"):
        lake.run("SHOW PARTITIONS flat")
    with pytest.raises(UnsupportedSqlError):
        lake.run("SHOW PARTITIONS sales PARTITION (year='2024')")


def test_show_tblproperties(lake: Lake) -> None:
    lake.run(SALES)
    out = lake.run("SHOW TBLPROPERTIES sales")
    assert out.rows.column_names == ["prpt_name", "prpt_value"]
    assert lake.rows("SHOW TBLPROPERTIES sales") == [
        ("classification", "csv"),
        ("skip.header.line.count", "1"),
    ]
    assert lake.column("SHOW TBLPROPERTIES sales('classification')") == ["csv"]
    assert lake.column("SHOW TBLPROPERTIES sales ('nope')") == [
        "Table default.sales does not have property: nope"
    ]


def test_describe(lake: Lake) -> None:
    lake.run(SALES)
    out = lake.run("DESCRIBE sales")
    assert out.rows.column_names == ["col_name", "data_type", "comment"]
    assert (out.statement_type, out.substatement_type) == ("UTILITY", "DESCRIBE")
    assert lake.rows("DESCRIBE sales") == [
        ("amount", "double", "in EUR"),
        ("item", "string", ""),
        ("year", "string", ""),
        ("month", "string", "two digits"),
        ("", "", ""),
        ("# Partition Information", "", ""),
        ("# col_name", "data_type", "comment"),
        ("", "", ""),
        ("year", "string", ""),
        ("month", "string", "two digits"),
    ]
    assert lake.rows("DESC default.sales month") == [("month", "string", "two digits")]
    lake.run("CREATE EXTERNAL TABLE flat (a int) LOCATION 's3://lake/flat/'")
    assert lake.rows("DESCRIBE awsdatacatalog.default.flat") == [("a", "int", "")]
    with pytest.raises(EntityNotFoundError, match="column nope"):
        lake.run("DESCRIBE sales nope")


def test_describe_formatted_and_extended(lake: Lake) -> None:
    lake.run(SALES)
    formatted = lake.rows("DESCRIBE FORMATTED sales")
    assert formatted[10:] == [
        ("", "", ""),
        ("# Detailed Table Information", "", ""),
        ("Database:", "default", ""),
        ("Owner:", "", ""),
        ("CreateTime:", formatted[14][1], ""),  # checked below
        ("LastAccessTime:", "UNKNOWN", ""),
        ("Location:", "s3://lake/sales", ""),
        ("Table Type:", "EXTERNAL_TABLE", ""),
        ("Table Parameters:", "", ""),
        ("", "classification", "csv"),
        ("", "skip.header.line.count", "1"),
        ("", "", ""),
        ("# Storage Information", "", ""),
        ("SerDe Library:", "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", ""),
        ("InputFormat:", "org.apache.hadoop.mapred.TextInputFormat", ""),
        ("OutputFormat:", "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat", ""),
        ("Compressed:", "No", ""),
        ("Num Buckets:", "-1", ""),
        ("Bucket Columns:", "[]", ""),
        ("Sort Columns:", "[]", ""),
        ("Storage Desc Params:", "", ""),
        ("", "field.delim", ","),
        ("", "serialization.format", ","),
    ]
    created = lake.catalog.get_table("default", "sales").create_time
    assert created is not None
    assert formatted[14][1] == created.strftime("%a %b %d %H:%M:%S UTC %Y")
    extended = lake.rows("DESCRIBE EXTENDED sales")
    assert extended[-1][0] == "Detailed Table Information"
    assert "location:s3://lake/sales," in extended[-1][1]


# --- SHOW CREATE TABLE / VIEW ------------------------------------------------------------------


def test_show_create_table_text(lake: Lake) -> None:
    lake.run(SALES.replace("item string)", "item string, tags array<struct<a:int,B:int>>)"))
    out = lake.run("SHOW CREATE TABLE sales")
    assert out.rows.column_names == ["createtab_stmt"]
    assert (out.statement_type, out.substatement_type) == ("UTILITY", "SHOW_CREATE_TABLE")
    assert out.rows.column(0).to_pylist() == [
        "CREATE EXTERNAL TABLE `sales`(",
        "  `amount` double COMMENT 'in EUR',",
        "  `item` string,",
        "  `tags` array<struct<a:int,B:int>>)",
        "PARTITIONED BY (",
        "  `year` string,",
        "  `month` string COMMENT 'two digits')",
        "ROW FORMAT SERDE",
        "  'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'",
        "WITH SERDEPROPERTIES (",
        "  'field.delim'=',',",
        "  'serialization.format'=',')",
        "STORED AS INPUTFORMAT",
        "  'org.apache.hadoop.mapred.TextInputFormat'",
        "OUTPUTFORMAT",
        "  'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
        "LOCATION",
        "  's3://lake/sales'",
        "TBLPROPERTIES (",
        "  'classification'='csv',",
        "  'skip.header.line.count'='1')",
    ]


ROUND_TRIPS = {
    "csv-lazy-simple": "CREATE EXTERNAL TABLE t (a int COMMENT 'it\\'s', b string) "
    "COMMENT 'tab\\tseparated' ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' "
    "ESCAPED BY '\\\\' NULL DEFINED AS '\\\\N' LOCATION 's3://lake/t/' "
    "TBLPROPERTIES ('skip.header.line.count'='1', 'compressionType'='gzip')",
    "csv-open-csv": "CREATE EXTERNAL TABLE t (a string, b decimal(10,2)) ROW FORMAT SERDE "
    "'org.apache.hadoop.hive.serde2.OpenCSVSerde' WITH SERDEPROPERTIES "
    "('separatorChar'=',', 'quoteChar'='\"', 'escapeChar'='\\\\') LOCATION 's3://lake/t/'",
    "json": "CREATE EXTERNAL TABLE t (a struct<x:string,y:array<int>>, m map<string,bigint>) "
    "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' "
    "WITH SERDEPROPERTIES ('ignore.malformed.json'='true') LOCATION 's3://lake/t/'",
    "parquet": "CREATE EXTERNAL TABLE t (a bigint, b varchar(10), c timestamp, d date) "
    "STORED AS PARQUET LOCATION 's3://lake/t/'",
    "partitioned": "CREATE EXTERNAL TABLE t (a double) PARTITIONED BY (dt string, h int) "
    "STORED AS PARQUET LOCATION 's3://lake/t/'",
}


@pytest.mark.parametrize("source", ["default", "blog-db"])
@pytest.mark.parametrize("case", sorted(ROUND_TRIPS))
def test_show_create_table_round_trips(lake: Lake, case: str, source: str) -> None:
    target = "copy-db" if source == "default" else "default"
    for name in {source, target} - {"default"}:
        lake.run(f"CREATE DATABASE `{name}`")
    lake.run(ROUND_TRIPS[case], source)
    statement = "\n".join(lake.column("SHOW CREATE TABLE t", source))
    lake.run(statement, target)
    original = lake.catalog.get_table(source, "t")
    copy = lake.catalog.get_table(target, "t")
    assert replace(copy, database=source, create_time=None, update_time=None) == replace(
        original, create_time=None, update_time=None
    )


def test_show_create_table_of_a_crawled_table_recreates_it(lake: Lake) -> None:
    fmt = DiscoveredFormat("csv", "gzip", "|", quoted=True, header=True)
    columns = (Column("id", "bigint"), Column("name", "string"))
    crawled = Table(
        "default",
        "crawled",
        storage_descriptor(fmt, "s3://lake/crawled/", columns),
        partition_keys=(Column("partition_0", "string"),),
        parameters={**format_parameters(fmt), "UPDATED_BY_CRAWLER": "c1"},
    )
    lake.catalog.create_table(crawled)
    lake.run("CREATE DATABASE copy")
    lake.run("\n".join(lake.column("SHOW CREATE TABLE crawled")), "copy")
    copy = lake.catalog.get_table("copy", "crawled")
    # A Hive DDL statement cannot set storage-descriptor parameters, and Hive stores a
    # LOCATION without its trailing slash; all else survives.
    assert copy.storage == replace(crawled.storage, parameters={}, location="s3://lake/crawled")
    assert (copy.partition_keys, copy.parameters) == (crawled.partition_keys, crawled.parameters)


def test_create_table_lines_escape_control_characters() -> None:
    table = Table(
        "d",
        "t",
        StorageDescriptor("s3://lake/t/", (Column("a", "string", "x\x01y"),)),
        parameters={"k": "\\'"},
    )
    lines = create_table_lines(table)
    assert "  `a` string COMMENT 'x\\001y')" in lines
    assert "  'k'='\\\\\\'')" in lines


def test_show_create_view(lake: Lake) -> None:
    lake.catalog.create_table(_view("default", "counts"))
    out = lake.run("SHOW CREATE VIEW counts")
    assert out.rows.column(0).to_pylist() == [
        'CREATE VIEW "default"."counts" AS',
        "SELECT count(*) AS n",
        "FROM sales",
    ]
    assert (out.statement_type, out.substatement_type) == ("UTILITY", "SHOW_CREATE_VIEW")
    with pytest.raises(InvalidInputError, match="SHOW CREATE VIEW"):
        lake.run("SHOW CREATE TABLE counts")
    lake.run(SALES)
    with pytest.raises(InvalidInputError, match="not a view"):
        lake.run("SHOW CREATE VIEW sales")


def test_reads_are_authorized_before_lookup(lake: Lake) -> None:
    seen: list[Any] = []

    def refuse(accesses: Any) -> None:
        seen.append(tuple(accesses))
        raise PermissionError("refused")

    context = StatementContext("q", database="default", authorize=refuse)
    with pytest.raises(PermissionError):
        HANDLERS["DESCRIBE"](lake.runner, "DESCRIBE nope", context)
    assert seen == [(TableAccess("default", "nope", "read"),)]


def test_runner_dispatches_show(lake: Lake) -> None:
    context = StatementContext("q-2", database="default")
    lake.run(SALES)
    try:
        out = lake.runner.run("SHOW COLUMNS IN sales", context)
    except NotImplementedError:
        pytest.skip("StatementRunner.run is not implemented yet")
    fields = [f.strip() for f in out.rows.column("field").to_pylist()]
    assert fields == ["amount", "item", "year", "month"]
    assert lake.runner.run("SHOW TABLES", context).rows.column(0).to_pylist() == ["sales"]
