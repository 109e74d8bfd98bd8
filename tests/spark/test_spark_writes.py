"""CTAS, INSERT INTO and UNLOAD written by Spark's own writers (``SparkEngine.write``).

A Spark Connect server on ``local[2]`` writes into shoal's lake (local folders here,
shoal's own S3 API through S3A at the end); shoal registers the tables and
partitions. Every table written is read back through shoal on DuckDB and compared
with rows computed in Python from the source rows; that Spark wrote the files is
seen in their names (Spark's ``part-NNNNN-<job uuid>``; shoal's writer names files
``<query id>_<n>``).
"""

from __future__ import annotations

import io
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shoal
from clients.server import ShoalServer, served
from shoal.app import Shoal
from shoal.catalog.store import CatalogStore
from shoal.engine.base import CancelToken
from shoal.engine.duckdb import DuckDBEngine
from shoal.engine.spark import SparkEngine
from shoal.errors import EntityNotFoundError, InvalidInputError, QueryCancelledError
from shoal.queries.context import StatementContext, StatementOutcome
from shoal.queries.model import SPARK_ENGINE_VERSION, SUCCEEDED, WorkGroup, WorkGroupConfiguration
from shoal.queries.runner import StatementRunner
from shoal.storage.local import LocalStorage

from .spark_server import SparkProcesses

pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]  # JVMs start slowly

# Partition values Hive must escape ('/', '=', '%'), or need not (space, unicode), and NULL.
PARTS = ["a/b", "x=y", "100%", "with space", "é☃", None]
ROWS = [
    {
        "id": n,
        # NULL, empty, and spaces at both ends (Spark's CSV writer trims unless told not to)
        "name": None if n % 17 == 0 else "" if n % 23 == 0 else f" name {n % 5} é ",
        "amount": n * 1.25,
        "day": date(2024, 1, 1) + timedelta(days=n % 10),
        "ts": datetime(2024, 1, 1, 12) + timedelta(seconds=n * 37, microseconds=(n % 3) * 250000),
        "part": PARTS[n % len(PARTS)],
    }
    for n in range(240)
]
COLUMNS = ("id", "name", "amount", "day", "ts", "part")
BIG_ROWS = 2_000_000  # the cancelled CTAS's input
SPARK_FILE = re.compile(r"/part-\d{5}-[0-9a-f-]{36}[^/]*$")


@dataclass
class Lake:
    root: Path
    catalog: CatalogStore
    storage: LocalStorage
    spark: StatementRunner
    duckdb: StatementRunner


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, spark_local: SparkProcesses) -> Iterator[Lake]:
    root = tmp_path_factory.mktemp("writes-lake")
    storage = LocalStorage(root / "lake")
    storage.create_bucket("lake")
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(ROWS), sink)
    storage.put("lake", "src/rows.parquet", sink.getvalue())
    sink = io.BytesIO()
    pq.write_table(
        pa.table({"n": pa.array(range(BIG_ROWS), pa.int64())}), sink, row_group_size=65536
    )
    storage.put("lake", "big/n.parquet", sink.getvalue())
    catalog = CatalogStore(f"sqlite:///{root / 'catalog.db'}")
    duck = DuckDBEngine([str(root / "lake")], str(root / "spill"))
    spark = SparkEngine(spark_local.url, storage=storage)
    lake = Lake(
        root,
        catalog,
        storage,
        StatementRunner(catalog, storage, spark),
        StatementRunner(catalog, storage, duck),
    )
    try:
        run(lake.duckdb, "CREATE DATABASE lake")
        run(
            lake.duckdb,
            "CREATE EXTERNAL TABLE src (id bigint, name string, amount double, day date,"
            " ts timestamp, part string) STORED AS PARQUET LOCATION 's3://lake/src/'",
        )
        run(
            lake.duckdb,
            "CREATE EXTERNAL TABLE big (n bigint) STORED AS PARQUET LOCATION 's3://lake/big/'",
        )
        yield lake
    finally:
        spark.close()
        duck.close()


def run(runner: StatementRunner, sql: str, **context: Any) -> StatementOutcome:
    return runner.run(sql, StatementContext(query_id=uuid.uuid4().hex, database="lake", **context))


def read_back(lake: Lake, table: str, columns: tuple[str, ...] = COLUMNS) -> list[dict[str, Any]]:
    """The table's rows as shoal on DuckDB reads them, by id."""
    outcome = run(lake.duckdb, f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
    return list(outcome.rows.to_pylist())


def expected(where: Any = None, columns: tuple[str, ...] = COLUMNS) -> list[dict[str, Any]]:
    return [{c: r[c] for c in columns} for r in ROWS if where is None or where(r)]


def files_on_disk(lake: Lake, folder: str) -> list[str]:
    base = lake.root / "lake" / "lake" / folder
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())


def assert_written_by_spark(outcome: StatementOutcome, location: str) -> None:
    assert outcome.data_files, "no files reported"
    for uri in outcome.data_files:
        assert uri.startswith(location), uri
        assert SPARK_FILE.search(uri), f"not a Spark file name: {uri}"


def partitions(lake: Lake, table: str) -> dict[tuple[str, ...], str]:
    return {p.values: p.storage.location for p in lake.catalog.list_partitions("lake", table)}


def test_ctas_parquet_partitioned_by_awkward_values(lake: Lake) -> None:
    location = "s3://lake/ctas_pq/"
    outcome = run(
        lake.spark,
        f"CREATE TABLE ctas_pq WITH (partitioned_by = ARRAY['part'],"
        f" external_location = '{location}') AS SELECT * FROM src",
    )
    assert outcome.update_count == len(ROWS)
    assert_written_by_spark(outcome, location)
    assert read_back(lake, "ctas_pq") == expected()
    # Nothing but the data files: no _SUCCESS, no .crc checksums, no _temporary.
    assert len(files_on_disk(lake, "ctas_pq")) == len(outcome.data_files)

    table = lake.catalog.get_table("lake", "ctas_pq")
    assert [k.name for k in table.partition_keys] == ["part"]
    assert [c.name for c in table.storage.columns] == list(COLUMNS[:-1])
    found = partitions(lake, "ctas_pq")
    null = "__HIVE_DEFAULT_PARTITION__"
    assert set(found) == {(null if p is None else p,) for p in PARTS}
    for uri in outcome.data_files:
        assert any(uri.startswith(folder) for folder in found.values()), uri

    # Spark's partition folders are the ones shoal's own writer makes for the same values.
    shoal_written = run(
        lake.duckdb,
        "CREATE TABLE ctas_pq_duck WITH (partitioned_by = ARRAY['part'],"
        " external_location = 's3://lake/ctas_pq_duck/') AS SELECT * FROM src",
    )
    assert not any(SPARK_FILE.search(uri) for uri in shoal_written.data_files)
    duck_folders = partitions(lake, "ctas_pq_duck").items()
    theirs = {v: f.removeprefix("s3://lake/ctas_pq_duck/") for v, f in duck_folders}
    ours = {v: f.removeprefix(location) for v, f in found.items()}
    assert ours == theirs
    assert ours[("a/b",)] == "part=a%2Fb/" and ours[("x=y",)] == "part=x%3Dy/"


@pytest.mark.parametrize(
    ("properties", "suffix"),
    [
        ("format = 'PARQUET'", ".gz.parquet"),  # Athena's default codec: GZIP
        ("format = 'PARQUET', write_compression = 'SNAPPY'", ".snappy.parquet"),
        ("format = 'PARQUET', write_compression = 'ZSTD'", ".zstd.parquet"),
        ("format = 'PARQUET', write_compression = 'NONE'", ".parquet"),
        ("format = 'ORC'", ".zlib.orc"),
        ("format = 'ORC', write_compression = 'SNAPPY'", ".snappy.orc"),
        ("format = 'ORC', write_compression = 'LZ4'", ".lz4.orc"),
        ("format = 'ORC', write_compression = 'NONE'", ".orc"),
        ("format = 'JSON'", ".json.gz"),
        ("format = 'JSON', write_compression = 'NONE'", ".json"),
        ("format = 'TEXTFILE'", ".csv.gz"),
        ("format = 'TEXTFILE', write_compression = 'NONE', field_delimiter = ','", ".csv"),
    ],
)
def test_ctas_each_writable_format(lake: Lake, properties: str, suffix: str) -> None:
    name = f"ctas_{uuid.uuid4().hex[:8]}"
    location = f"s3://lake/{name}/"
    outcome = run(
        lake.spark,
        f"CREATE TABLE {name} WITH ({properties}, external_location = '{location}')"
        " AS SELECT * FROM src WHERE id % 2 = 0",
    )
    assert outcome.update_count == len(expected(lambda r: r["id"] % 2 == 0))
    assert_written_by_spark(outcome, location)
    for uri in outcome.data_files:
        assert uri.endswith(suffix) and not uri.endswith("." + suffix), uri
    assert read_back(lake, name) == expected(lambda r: r["id"] % 2 == 0)


def test_ctas_with_no_data_registers_the_columns_only(lake: Lake) -> None:
    outcome = run(
        lake.spark,
        "CREATE TABLE no_data WITH (partitioned_by = ARRAY['part'],"
        " external_location = 's3://lake/no_data/') AS SELECT id, ts, part FROM src WITH NO DATA",
    )
    assert outcome.update_count == 0 and outcome.data_files == ()
    table = lake.catalog.get_table("lake", "no_data")
    assert [(c.name, c.type) for c in table.storage.columns] == [
        ("id", "bigint"),
        ("ts", "timestamp"),
    ]
    assert [(k.name, k.type) for k in table.partition_keys] == [("part", "string")]
    assert read_back(lake, "no_data", ("id", "ts", "part")) == []


def test_textfile_writes_nulls_as_backslash_n(lake: Lake) -> None:
    location = "s3://lake/unload_text/"
    outcome = run(
        lake.spark,
        f"UNLOAD (SELECT id, name, day FROM src WHERE id < 40) TO '{location}'"
        " WITH (format = 'TEXTFILE', field_delimiter = '|', write_compression = 'NONE')",
    )
    assert outcome.update_count == 40
    assert_written_by_spark(outcome, location)
    lines = []
    for uri in outcome.data_files:
        lines += lake.storage.read("lake", uri.removeprefix("s3://lake/")).decode().splitlines()
    null = "\\N"
    want = [
        f"{r['id']}|{null if r['name'] is None else r['name']}|{r['day']}"
        for r in ROWS
        if r["id"] < 40
    ]
    assert sorted(lines) == sorted(want)
    with pytest.raises(EntityNotFoundError):  # UNLOAD registers nothing
        lake.catalog.get_table("lake", "unload_text")


def test_unload_parquet_partitioned(lake: Lake) -> None:
    location = "s3://lake/unload_pq/"
    outcome = run(
        lake.spark,
        f"UNLOAD (SELECT id, amount, part FROM src) TO '{location}'"
        " WITH (format = 'PARQUET', partitioned_by = ARRAY['part'])",
    )
    assert outcome.update_count == len(ROWS)
    assert_written_by_spark(outcome, location)
    run(
        lake.duckdb,
        "CREATE EXTERNAL TABLE unloaded (id bigint, amount double) PARTITIONED BY (part string)"
        f" STORED AS PARQUET LOCATION '{location}'",
    )
    run(lake.duckdb, "MSCK REPAIR TABLE unloaded")
    assert read_back(lake, "unloaded", ("id", "amount", "part")) == expected(
        columns=("id", "amount", "part")
    )


def test_insert_into_a_partitioned_table(lake: Lake) -> None:
    location = "s3://lake/ins/"
    run(
        lake.spark,
        f"CREATE TABLE ins WITH (partitioned_by = ARRAY['part'], external_location = '{location}')"
        " AS SELECT * FROM src WHERE id < 100 AND part <> 'é☃'",
    )
    before = partitions(lake, "ins")
    outcome = run(lake.spark, "INSERT INTO ins SELECT * FROM src WHERE id >= 100")
    added = [r for r in ROWS if r["id"] >= 100]
    assert outcome.update_count == len(added)
    assert_written_by_spark(outcome, location)
    # The CTAS kept rows below 100 whose part is neither 'é☃' nor NULL (NULL <> x is not true).
    kept = [r for r in ROWS if r["id"] < 100 and r["part"] is not None and r["part"] != "é☃"]
    want = sorted(kept + added, key=lambda r: r["id"])
    assert read_back(lake, "ins") == [{c: r[c] for c in COLUMNS} for r in want]

    after = partitions(lake, "ins")
    assert set(after) - set(before) == {("é☃",), ("__HIVE_DEFAULT_PARTITION__",)}
    assert {v: f for v, f in after.items() if v in before} == before  # same folders
    for uri in outcome.data_files:  # each new file in its partition's folder
        assert any(uri.startswith(folder) for folder in after.values()), uri
    assert not any("_shoal-staging" in f for f in files_on_disk(lake, "ins"))


def test_insert_into_a_partition_kept_elsewhere_and_named_columns(lake: Lake) -> None:
    run(
        lake.spark,
        "CREATE TABLE ins2 WITH (partitioned_by = ARRAY['part'],"
        " external_location = 's3://lake/ins2/') AS SELECT id, name, part FROM src WHERE id < 6",
    )
    run(
        lake.duckdb,
        "ALTER TABLE ins2 ADD PARTITION (part = 'moved') LOCATION 's3://lake/elsewhere/moved/'",
    )
    outcome = run(
        lake.spark, "INSERT INTO ins2 (part, id) SELECT 'moved', id FROM src WHERE id >= 230"
    )
    assert outcome.update_count == 10
    assert all(uri.startswith("s3://lake/elsewhere/moved/") for uri in outcome.data_files)
    got = read_back(lake, "ins2", ("id", "name", "part"))
    want = expected(lambda r: r["id"] < 6, ("id", "name", "part"))
    want += [{"id": n, "name": None, "part": "moved"} for n in range(230, 240)]
    assert got == want


def test_an_empty_partition_value_is_written_as_null(lake: Lake) -> None:
    """Spark (as Hive) writes an empty partition value as the NULL partition; shoal's
    own writer keeps it as ``k=/`` (docs/spark.md)."""
    run(
        lake.spark,
        "CREATE TABLE empty_part WITH (partitioned_by = ARRAY['k'],"
        " external_location = 's3://lake/empty_part/') AS"
        " SELECT id, CASE WHEN id % 2 = 0 THEN '' ELSE 'odd' END AS k FROM src WHERE id < 10",
    )
    assert set(partitions(lake, "empty_part")) == {("__HIVE_DEFAULT_PARTITION__",), ("odd",)}
    got = read_back(lake, "empty_part", ("id", "k"))
    assert got == [{"id": n, "k": None if n % 2 == 0 else "odd"} for n in range(10)]


def test_a_textfile_value_holding_the_delimiter_fails_and_leaves_nothing(lake: Lake) -> None:
    with pytest.raises(InvalidInputError, match="TEXTFILE cannot store column 'name'"):
        run(
            lake.spark,
            "CREATE TABLE spaced WITH (format = 'TEXTFILE', field_delimiter = ' ',"
            " external_location = 's3://lake/spaced/') AS SELECT id, name FROM src",
        )
    assert files_on_disk(lake, "spaced") == []
    with pytest.raises(EntityNotFoundError):
        lake.catalog.get_table("lake", "spaced")


def test_more_than_100_partitions_fail_and_leave_nothing(lake: Lake) -> None:
    with pytest.raises(InvalidInputError, match="HIVE_TOO_MANY_OPEN_PARTITIONS"):
        run(
            lake.spark,
            "CREATE TABLE many WITH (partitioned_by = ARRAY['id'],"
            " external_location = 's3://lake/many/') AS SELECT name, id FROM src WHERE id < 120",
        )
    assert files_on_disk(lake, "many") == []
    with pytest.raises(EntityNotFoundError):
        lake.catalog.get_table("lake", "many")


def test_a_cancelled_ctas_leaves_no_files_and_no_table(lake: Lake) -> None:
    """480 million rows stream into the files as the tasks run; the cancel comes once
    Spark's files are on disk (under ``_temporary/``). The large side is read in
    batches, between which a killed task hears it was killed (a task only producing
    rows from a small input would not stop)."""
    cancel = CancelToken()
    seen: list[str] = []

    def cancel_once_writing() -> None:
        deadline = time.monotonic() + 300
        while not seen and time.monotonic() < deadline:
            seen.extend(files_on_disk(lake, "slow"))
            time.sleep(0.1)
        cancel.cancel()

    watcher = threading.Thread(target=cancel_once_writing)
    watcher.start()
    try:
        with pytest.raises(QueryCancelledError):
            run(
                lake.spark,
                "CREATE TABLE slow WITH (format = 'TEXTFILE', external_location ="
                " 's3://lake/slow/') AS SELECT b.n, s.id, s.name FROM big b CROSS JOIN src s",
                cancel=cancel,
            )
    finally:
        cancel.cancel()
        watcher.join()
    assert seen, "the cancel came before Spark wrote any file"
    assert files_on_disk(lake, "slow") == []
    with pytest.raises(EntityNotFoundError):
        lake.catalog.get_table("lake", "slow")


def test_avro_and_bucketed_tables_are_written_by_shoal(lake: Lake) -> None:
    """Spark does not write them (no Avro writer; Murmur3 buckets): shoal writes them
    from the Arrow rows Spark answered, and the answers are the same."""
    for name, properties in [
        ("avro_t", "format = 'AVRO'"),
        ("bucketed_t", "bucketed_by = ARRAY['id'], bucket_count = 4"),
    ]:
        outcome = run(
            lake.spark,
            f"CREATE TABLE {name} WITH ({properties}, external_location = 's3://lake/{name}/')"
            " AS SELECT id, name FROM src",
        )
        assert outcome.data_files and not any(SPARK_FILE.search(u) for u in outcome.data_files)
        assert read_back(lake, name, ("id", "name")) == expected(columns=("id", "name"))


def test_cluster_executors_write_the_files(lake: Lake, spark_cluster: SparkProcesses) -> None:
    """On a standalone cluster (two workers, each its own executor JVM) the executors
    write the files into the shared folder; shoal registers them as on local[2]."""
    engine = SparkEngine(spark_cluster.url, storage=lake.storage)
    try:
        runner = StatementRunner(lake.catalog, lake.storage, engine)
        location = "s3://lake/on_cluster/"
        outcome = run(
            runner,
            f"CREATE TABLE on_cluster WITH (format = 'ORC', partitioned_by = ARRAY['part'],"
            f" external_location = '{location}') AS SELECT * FROM src WHERE id < 120",
        )
        assert_written_by_spark(outcome, location)
        inserted = run(runner, "INSERT INTO on_cluster SELECT * FROM src WHERE id >= 120")
        assert (outcome.update_count, inserted.update_count) == (120, len(ROWS) - 120)
        assert_written_by_spark(inserted, location)
    finally:
        engine.close()
    assert read_back(lake, "on_cluster") == expected()


# --- through S3A into shoal's own S3 API -------------------------------------------------


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    with served(tmp_path_factory.mktemp("writes-s3") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def s3_app(
    tmp_path_factory: pytest.TempPathFactory, spark_local: SparkProcesses, s3_server: ShoalServer
) -> Iterator[Shoal]:
    """shoal whose lake is on ``s3_server``'s S3 API; Spark reaches it through S3A."""
    with shoal.open(
        data_dir=str(tmp_path_factory.mktemp("writes-app")),
        storage_endpoint_url=s3_server.url,
        storage_access_key_id=s3_server.access_key_id,
        storage_secret_access_key=s3_server.secret_access_key,
        region=s3_server.region,
        spark_connect_url=spark_local.url,
    ) as app:
        app.storage.create_bucket("s3lake")
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(ROWS), sink)
        app.storage.put("s3lake", "src/rows.parquet", sink.getvalue())
        spark = WorkGroupConfiguration(selected_engine_version=SPARK_ENGINE_VERSION)
        app.queries.workgroups.create_workgroup(WorkGroup("big", configuration=spark))
        service_run(
            app,
            "CREATE EXTERNAL TABLE src (id bigint, name string, amount double, day date,"
            " ts timestamp, part string) STORED AS PARQUET LOCATION 's3://s3lake/src/'",
            "primary",
        )
        yield app


def service_run(app: Shoal, sql: str, workgroup: str) -> Any:
    service = app.queries
    execution = service.wait(service.start(sql, database="default", workgroup=workgroup), 600)
    assert execution.state == SUCCEEDED, execution.state_change_reason
    return execution


def test_ctas_through_s3a_into_shoals_s3_api(s3_app: Shoal, s3_server: ShoalServer) -> None:
    service_run(
        s3_app,
        "CREATE TABLE s3_ctas WITH (partitioned_by = ARRAY['part'],"
        " external_location = 's3://s3lake/s3_ctas/') AS SELECT id, name, ts, part FROM src",
        "big",
    )
    service_run(s3_app, "INSERT INTO s3_ctas SELECT id + 1000, name, ts, part FROM src", "big")
    keys = [
        item["Key"]
        for page in s3_server.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket="s3lake", Prefix="s3_ctas/")
        for item in page.get("Contents", [])
    ]
    assert keys and all(SPARK_FILE.search("/" + key) for key in keys), keys
    assert not any("_shoal-staging" in key or "_SUCCESS" in key for key in keys)
    execution = service_run(s3_app, "SELECT id, name, ts, part FROM s3_ctas ORDER BY id", "primary")
    got = s3_app.queries.get_results(execution.query_execution_id).rows[1:]
    columns = ("id", "name", "ts", "part")
    want = expected(columns=columns) + [
        {**row, "id": row["id"] + 1000} for row in expected(columns=columns)
    ]
    assert [tuple(row) for row in got] == [
        (str(r["id"]), r["name"], _athena_timestamp(r["ts"]), r["part"]) for r in want
    ]


def _athena_timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
