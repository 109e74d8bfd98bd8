"""Crawls of real folder trees on LocalStorage into a real SQLite catalog.

Expectations are worked out by hand from the files each test writes.
"""

from __future__ import annotations

import bz2
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from shoal.catalog.formats import JSON_SERDE, OPEN_CSV_SERDE, PARQUET_SERDE
from shoal.catalog.model import (
    CRAWL_NEW_FOLDERS_ONLY,
    DELETE_FROM_DATABASE,
    LOG,
    RUN_FAILED,
    RUN_SUCCEEDED,
    Crawler,
    CrawlRun,
    CrawlTarget,
    SchemaChangePolicy,
    Table,
)
from shoal.catalog.store import CatalogStore
from shoal.crawler import crawl_path, run_crawler, runner
from shoal.errors import CrawlerRunningError
from shoal.storage import LocalStorage

SALES = b"id,amount,Trip Distance\n1,2.5,10\n2,3,20\n"  # 41 bytes, 2 records


@pytest.fixture
def storage(tmp_path) -> LocalStorage:  # type: ignore[no-untyped-def]
    s = LocalStorage(tmp_path / "data")
    s.create_bucket("lake")
    return s


@pytest.fixture
def store(tmp_path) -> Iterator[CatalogStore]:  # type: ignore[no-untyped-def]
    s = CatalogStore(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield s
    s.close()


def _crawl(store: CatalogStore, storage: LocalStorage, path: str = "s3://lake/", **kw) -> CrawlRun:  # type: ignore[no-untyped-def]
    run = crawl_path(store, storage, path, "db", **kw)
    assert run.state == RUN_SUCCEEDED, run.error_message
    return run


def _columns(table: Table) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in table.columns]


def _tables(store: CatalogStore) -> dict[str, Table]:
    return {t.name: t for t in store.list_tables("db")}


def _partitions(store: CatalogStore, table: str) -> list[tuple[tuple[str, ...], str]]:
    return [(p.values, p.storage.location) for p in store.list_partitions("db", table)]


def _put_sales(storage: LocalStorage, months: list[tuple[str, str]]) -> None:
    for year, month in months:
        storage.put("lake", f"sales/year={year}/month={month}/part-0.csv", SALES)


def test_hive_partitions_exact_table(store: CatalogStore, storage: LocalStorage) -> None:
    _put_sales(storage, [("2020", "01"), ("2020", "02"), ("2021", "01")])
    storage.put("lake", "sales/year=2021/month=01/_SUCCESS", b"")
    run = _crawl(store, storage, "s3://lake/sales")
    assert (run.tables_created, run.partitions_added, run.files_read) == (1, 3, 3)
    assert run.bytes_read == 3 * len(SALES)
    assert any("_SUCCESS" in line and "skipped" in line for line in run.log)
    table = store.get_table("db", "sales")
    assert table.storage.location == "s3://lake/sales/"
    assert _columns(table) == [("id", "bigint"), ("amount", "double"), ("trip_distance", "bigint")]
    assert [(c.name, c.type) for c in table.partition_keys] == [
        ("year", "string"),
        ("month", "string"),
    ]
    assert dict(table.parameters) == {
        "classification": "csv",
        "compressionType": "none",
        "typeOfData": "file",
        "delimiter": ",",
        "areColumnsQuoted": "false",
        "skip.header.line.count": "1",
        "recordCount": "6",
        "objectCount": "3",
        "sizeKey": str(3 * len(SALES)),
        "averageRecordSize": str(3 * len(SALES) // 6),
        "CrawlerSchemaSerializerVersion": "1.0",
        "CrawlerSchemaDeserializerVersion": "1.0",
    }
    sd = table.storage
    assert sd.serde.serialization_library == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert dict(sd.serde.parameters) == {"field.delim": ","}
    assert sd.input_format == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd.output_format == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert _partitions(store, "sales") == [
        (("2020", "01"), "s3://lake/sales/year=2020/month=01/"),
        (("2020", "02"), "s3://lake/sales/year=2020/month=02/"),
        (("2021", "01"), "s3://lake/sales/year=2021/month=01/"),
    ]
    part = store.get_partition("db", "sales", ("2020", "01"))
    assert part.parameters["recordCount"] == "2" and part.parameters["objectCount"] == "1"
    assert _columns(table) == [(c.name, c.type) for c in part.storage.columns]


def test_unnamed_partitions(store: CatalogStore, storage: LocalStorage) -> None:
    storage.put("lake", "events/2020/01/a.json", b'{"a": 1}\n')
    storage.put("lake", "events/2020/02/a.json", b'{"a": 2}\n')
    storage.put("lake", "events/2021/01/a.json", b'{"a": 3}\n')
    _crawl(store, storage, "s3://lake/events/")
    table = store.get_table("db", "events")
    assert [c.name for c in table.partition_keys] == ["partition_0", "partition_1"]
    assert [v for v, _ in _partitions(store, "events")] == [
        ("2020", "01"),
        ("2020", "02"),
        ("2021", "01"),
    ]
    assert table.storage.serde.serialization_library == JSON_SERDE
    assert dict(table.storage.serde.parameters) == {"paths": "a"}


def test_incompatible_subfolders_become_tables(store: CatalogStore, storage: LocalStorage) -> None:
    storage.put("lake", "raw/orders/o1.csv", b"order_id,amount\n1,2.5\n")
    storage.put("lake", "raw/orders/o2.csv", b"order_id,amount\n2,7\n")
    storage.put("lake", "raw/customers/c.csv", b"customer_id,name,email\n1,a,b\n")
    run = _crawl(store, storage, "s3://lake/raw/", table_prefix="t_")
    assert sorted(_tables(store)) == ["t_customers", "t_orders"]
    assert _columns(store.get_table("db", "t_orders")) == [
        ("order_id", "bigint"),
        ("amount", "double"),
    ]
    assert store.get_table("db", "t_customers").storage.location == "s3://lake/raw/customers/"
    assert any(
        "sub-folders become separate tables" in line and "headers differ" in line
        for line in run.log
    )


def test_drift_updates_schema_instead_of_splitting(
    store: CatalogStore, storage: LocalStorage
) -> None:
    storage.put("lake", "m/dt=1/a.json", b'{"id": 1, "v": 1}\n')
    storage.put("lake", "m/dt=2/a.json", b'{"id": 2, "v": 1.5, "note": "x"}\n')
    run = _crawl(store, storage, "s3://lake/m/")
    table = store.get_table("db", "m")
    assert _columns(table) == [("id", "bigint"), ("v", "double"), ("note", "string")]
    assert [v for v, _ in _partitions(store, "m")] == [("1",), ("2",)]
    assert any("widened bigint -> double" in line for line in run.log)
    assert any("new column note" in line for line in run.log)


def test_compression_delimiters_quoting_headers(store: CatalogStore, storage: LocalStorage) -> None:
    text = b"a,b\n1,x\n2,y\n"
    storage.put("lake", "gz/f.csv.gz", gzip.compress(text))
    storage.put("lake", "bz/f.csv.bz2", bz2.compress(text))
    storage.put("lake", "zs/f.csv.zst", zstandard.ZstdCompressor().compress(text))
    storage.put("lake", "tsv/f.tsv", b"a\tb\n1\tx\n")
    storage.put("lake", "quoted/f.csv", b'"name","n"\n"a, b",1\n')
    storage.put("lake", "nohead/f.csv", b"1,x,true\n2,y,false\n")
    _crawl(store, storage)
    t = _tables(store)
    assert {n: t[n].parameters["compressionType"] for n in ("gz", "bz", "zs", "tsv")} == {
        "gz": "gzip",
        "bz": "bzip2",
        "zs": "zstd",
        "tsv": "none",
    }
    assert t["gz"].storage.compressed and not t["tsv"].storage.compressed
    assert t["gz"].parameters["recordCount"] == "2"
    assert t["tsv"].parameters["delimiter"] == "\t"
    assert dict(t["tsv"].storage.serde.parameters) == {"field.delim": "\t"}
    quoted = t["quoted"]
    assert quoted.storage.serde.serialization_library == OPEN_CSV_SERDE
    assert dict(quoted.storage.serde.parameters) == {"separatorChar": ",", "quoteChar": '"'}
    assert quoted.parameters["areColumnsQuoted"] == "true"
    assert _columns(quoted) == [("name", "string"), ("n", "bigint")]
    nohead = t["nohead"]
    assert _columns(nohead) == [("col0", "bigint"), ("col1", "string"), ("col2", "boolean")]
    assert "skip.header.line.count" not in nohead.parameters


def test_nested_json_and_name_mapping(store: CatalogStore, storage: LocalStorage) -> None:
    storage.put(
        "lake",
        "j/a.json",
        b'{"User Id": 1, "geo": {"lat": 1.5, "tags": ["a"]}, "items": [{"q": 1}]}\n',
    )
    _crawl(store, storage, "s3://lake/j")
    table = store.get_table("db", "j")
    assert _columns(table) == [
        ("user_id", "bigint"),
        ("geo", "struct<lat:double,tags:array<string>>"),
        ("items", "array<struct<q:bigint>>"),
    ]
    assert dict(table.storage.serde.parameters) == {
        "paths": "User Id,geo,items",
        "mapping.user_id": "User Id",
    }


def test_parquet_nested_and_decimal(store: CatalogStore, storage: LocalStorage) -> None:
    for day in ("1", "2"):
        t = pa.table(
            {
                "id": pa.array([1, 2], pa.int64()),
                "price": pa.array([1, 2], pa.decimal128(10, 2)),
                "tags": pa.array([["x"], []], pa.list_(pa.string())),
                "meta": pa.array([{"k": 1}, {"k": 2}], pa.struct([("k", pa.int32())])),
            }
        )
        buf = io.BytesIO()
        pq.write_table(t, buf)
        storage.put("lake", f"pq/day={day}/part.parquet", buf.getvalue())
    run = _crawl(store, storage, "s3://lake/pq/")
    table = store.get_table("db", "pq")
    assert _columns(table) == [
        ("id", "bigint"),
        ("price", "decimal(10,2)"),
        ("tags", "array<string>"),
        ("meta", "struct<k:int>"),
    ]
    assert table.storage.serde.serialization_library == PARQUET_SERDE
    assert table.parameters["classification"] == "parquet"
    assert table.parameters["recordCount"] == "4"
    assert run.bytes_read < int(table.parameters["sizeKey"])  # footers only


def test_bad_files_skipped_run_succeeds(store: CatalogStore, storage: LocalStorage) -> None:
    storage.put("lake", "d/good.csv", b"a,b\n1,2\n")
    storage.put("lake", "d/trunc.csv.gz", gzip.compress(b"a,b\n1,2\n" * 50)[:-20])
    storage.put("lake", "d/garbage.parquet", b"\x00\x01garbage")
    storage.put("lake", "d/latin1.csv", "a,b\né,2\n".encode("latin-1"))
    storage.put("lake", "d/empty.csv", b"")
    storage.put("lake", "d/_SUCCESS", b"")
    run = _crawl(store, storage, "s3://lake/d/")
    assert run.tables_created == 1
    assert store.get_table("db", "d").parameters["objectCount"] == "1"
    skipped = "\n".join(line for line in run.log if line.startswith("skipped"))
    for name, reason in [
        ("trunc.csv.gz", "truncated gzip"),
        ("garbage.parquet", "PAR1"),
        ("latin1.csv", "not valid UTF-8"),
        ("empty.csv", "empty file"),
        ("_SUCCESS", "marker"),
    ]:
        assert f"d/{name}: " in skipped and reason in skipped, name


def _listing_then(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> None:
    """Make ``change`` happen between a crawl's listing and its reads."""
    real = runner.list_target

    def list_then_change(*args: Any, **kwargs: Any) -> Any:
        files = real(*args, **kwargs)
        change()
        return files

    monkeypatch.setattr(runner, "list_target", list_then_change)


def test_files_unreadable_after_listing_are_skipped(
    store: CatalogStore, storage: LocalStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c", "d"):
        storage.put("lake", f"t/{name}.csv", SALES)
    secret = tmp_path / "secret.csv"
    secret.write_bytes(b"password,pin\nhunter2,1234\n")
    folder = Path(storage.local_path("lake", "t"))

    def swap() -> None:
        (folder / "b.csv").unlink()  # vanished
        (folder / "c.csv").unlink()
        (folder / "c.csv").symlink_to(secret)  # a symlink planted in its place

    _listing_then(monkeypatch, swap)
    run = _crawl(store, storage, "s3://lake/t/")
    table = store.get_table("db", "t")
    assert _columns(table) == [("id", "bigint"), ("amount", "double"), ("trip_distance", "bigint")]
    assert table.parameters["objectCount"] == "2"
    skipped = [line for line in run.log if line.startswith("skipped")]
    assert len(skipped) == 2 and all("could not read it" in line for line in skipped)
    assert "t/b.csv" in skipped[0] and "t/c.csv" in skipped[1] and "symlink" in skipped[1]
    assert run.files_read == 4 and run.bytes_read == 2 * len(SALES)


def test_sample_size_reads_on_when_samples_fail(
    store: CatalogStore, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c", "d", "e"):
        storage.put("lake", f"s/{name}.csv", SALES)
    folder = Path(storage.local_path("lake", "s"))
    _listing_then(monkeypatch, lambda: (folder / "a.csv").unlink())
    run = _crawl(store, storage, "s3://lake/s/", sample_size=2)
    assert run.files_read == 3  # a (gone), then b and c: two samples
    table = store.get_table("db", "s")
    assert table.parameters["objectCount"] == "4" and table.parameters["recordCount"] == "8"


def test_sample_size_is_per_folder_even_when_its_files_are_not_together(
    store: CatalogStore, storage: LocalStorage
) -> None:
    # Key order puts "u/b/..." between "u/a.csv" and "u/c.csv".
    for key in ("u/a.csv", "u/b/x.csv", "u/b/y.csv", "u/c.csv"):
        storage.put("lake", key, SALES)
    run = _crawl(store, storage, "s3://lake/u/", sample_size=1)
    assert run.files_read == 2  # one in u, one in u/b
    counts = {t.name: t.parameters["objectCount"] for t in store.list_tables("db")}
    assert counts == {"u": "2", "b": "2"}


def test_names_and_hostile_partition_values(store: CatalogStore, storage: LocalStorage) -> None:
    storage.put("lake", "Weird Data/dt=1' OR '1'='1/a.csv", "Éclair,x,x\n1,2,3\n".encode())
    storage.put("lake", "Weird Data/dt=2/a.csv", "Éclair,x,x\n4,5,6\n".encode())
    _crawl(store, storage, "s3://lake/Weird Data/")
    table = store.get_table("db", "weird_data")
    assert _columns(table) == [("eclair", "bigint"), ("x", "bigint"), ("x_1", "bigint")]
    assert _partitions(store, "weird_data") == [
        (("1' OR '1'='1",), "s3://lake/Weird Data/dt=1' OR '1'='1/"),
        (("2",), "s3://lake/Weird Data/dt=2/"),
    ]


def test_dry_run_changes_nothing(store: CatalogStore, storage: LocalStorage) -> None:
    _put_sales(storage, [("2020", "01")])
    run = crawl_path(store, storage, "s3://lake/sales/", "db", dry_run=True)
    assert run.dry_run and (run.tables_created, run.partitions_added) == (1, 1)
    assert [d.name for d in store.list_databases()] == ["default"]  # no "db" made
    assert store.get_run(run.id).dry_run


def test_rerun_unchanged_then_new_partition(store: CatalogStore, storage: LocalStorage) -> None:
    _put_sales(storage, [("2020", "01")])
    _crawl(store, storage, "s3://lake/sales/")
    version = store.get_table("db", "sales").version_id
    again = _crawl(store, storage, "s3://lake/sales/")
    counters = (again.tables_created, again.tables_updated, again.partitions_added)
    assert counters == (0, 0, 0) and again.partitions_updated == 0
    assert store.get_table("db", "sales").version_id == version
    _put_sales(storage, [("2020", "02")])
    third = _crawl(store, storage, "s3://lake/sales/")
    assert (third.partitions_added, third.tables_updated) == (1, 1)  # stats changed
    assert store.get_table("db", "sales").parameters["objectCount"] == "2"
    assert len(_partitions(store, "sales")) == 2


def _crawler(storage_path: str, **kw) -> Crawler:  # type: ignore[no-untyped-def]
    return Crawler(name="c1", database="db", targets=(CrawlTarget(storage_path),), **kw)


def test_deleted_folder_delete_and_deprecate(store: CatalogStore, storage: LocalStorage) -> None:
    storage.put("lake", "root/a/x.csv", b"a,b\n1,2\n")
    storage.put("lake", "root/b/y.csv", b"c,d,e\n1,2,3\n")
    storage.put("lake", "root/c/z.json", b'{"k": 1}\n')
    policy = SchemaChangePolicy(delete_behavior=DELETE_FROM_DATABASE)
    crawler = store.create_crawler(_crawler("s3://lake/root/", schema_change_policy=policy))
    run = run_crawler(store, storage, crawler)
    assert run.tables_created == 3
    assert store.get_table("db", "a").parameters["UPDATED_BY_CRAWLER"] == "c1"
    storage.delete("lake", "root/b/y.csv")
    run = run_crawler(store, storage, store.get_crawler("c1"))
    assert (run.tables_deleted, run.tables_updated) == (1, 0)
    assert sorted(_tables(store)) == ["a", "c"]
    storage.delete("lake", "root/a/x.csv")
    storage.put("lake", "root/a2/x.csv", b"z,q\n1,2\n")
    deprecating = store.update_crawler(_crawler("s3://lake/root/"))
    run = run_crawler(store, storage, deprecating)
    assert store.get_table("db", "a").parameters["DEPRECATED_BY_CRAWLER"] == "c1"
    assert (run.tables_updated, run.tables_created, run.tables_deleted) == (1, 1, 0)
    again = run_crawler(store, storage, deprecating)  # already deprecated: no new change
    assert (again.tables_updated, again.tables_created) == (0, 0)


def test_existing_table_keeps_its_root_when_sibling_vanishes(
    store: CatalogStore, storage: LocalStorage
) -> None:
    storage.put("lake", "root/a/x.csv", b"a,b\n1,2\n")
    storage.put("lake", "root/b/y.csv", b"c,d,e\n1,2,3\n")
    policy = SchemaChangePolicy(delete_behavior=DELETE_FROM_DATABASE)
    crawler = store.create_crawler(_crawler("s3://lake/root/", schema_change_policy=policy))
    assert run_crawler(store, storage, crawler).tables_created == 2
    storage.delete("lake", "root/b/y.csv")
    run = run_crawler(store, storage, store.get_crawler("c1"))
    # Without the known root, "a" alone would collapse into a table "root"
    # partitioned by partition_0; instead it stays where it is, unchanged.
    assert (run.tables_created, run.tables_updated, run.tables_deleted) == (0, 0, 1)
    table = store.get_table("db", "a")
    assert (table.storage.location, table.partition_keys, table.version_id) == (
        "s3://lake/root/a/",
        (),
        1,
    )
    assert "already a table's location" in "\n".join(run.log)


def test_partition_deleted_with_delete_policy(store: CatalogStore, storage: LocalStorage) -> None:
    _put_sales(storage, [("2020", "01"), ("2020", "02")])
    policy = SchemaChangePolicy(delete_behavior=DELETE_FROM_DATABASE)
    crawler = store.create_crawler(_crawler("s3://lake/sales/", schema_change_policy=policy))
    run_crawler(store, storage, crawler)
    storage.delete("lake", "sales/year=2020/month=02/part-0.csv")
    run = run_crawler(store, storage, crawler)
    assert run.partitions_deleted == 1
    assert [v for v, _ in _partitions(store, "sales")] == [("2020", "01")]


def test_log_policy_keeps_schema(store: CatalogStore, storage: LocalStorage) -> None:
    storage.put("lake", "t/p=1/a.json", b'{"a": 1}\n')
    policy = SchemaChangePolicy(update_behavior=LOG)
    crawler = store.create_crawler(_crawler("s3://lake/t/", schema_change_policy=policy))
    run_crawler(store, storage, crawler)
    storage.put("lake", "t/p=2/a.json", b'{"a": 1.5}\n')
    run = run_crawler(store, storage, crawler)
    assert _columns(store.get_table("db", "t")) == [("a", "bigint")]
    assert run.tables_updated == 0 and run.partitions_added == 1
    assert any("policy is LOG" in line for line in run.log)


def test_exclusions_and_sample_size(store: CatalogStore, storage: LocalStorage) -> None:
    for i in range(4):
        storage.put("lake", f"x/f{i}.csv", b"a,b\n1,2\n")
    storage.put("lake", "x/tmp/junk.csv", b"q,r,s\n1,2,3\n")
    run = _crawl(store, storage, "s3://lake/x/", exclusions=["tmp/**"], sample_size=2)
    assert run.files_read == 2
    table = store.get_table("db", "x")
    assert table.parameters["objectCount"] == "4" and table.parameters["recordCount"] == "4"
    assert any("excluded by pattern 'tmp/**'" in line for line in run.log)


def test_crawl_new_folders_only(store: CatalogStore, storage: LocalStorage) -> None:
    _put_sales(storage, [("2020", "01")])
    crawler = store.create_crawler(
        _crawler("s3://lake/sales/", recrawl_behavior=CRAWL_NEW_FOLDERS_ONLY)
    )
    run_crawler(store, storage, crawler)
    _put_sales(storage, [("2020", "02")])
    run = run_crawler(store, storage, crawler)
    assert (run.files_read, run.partitions_added, run.tables_created) == (1, 1, 0)
    assert len(_partitions(store, "sales")) == 2


def test_crawler_state_cas_and_failure(
    store: CatalogStore, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.put("lake", "s/a.csv", b"a,b\n1,2\n")
    crawler = store.create_crawler(_crawler("s3://lake/s/"))
    store.set_crawler_state("c1", "READY", "RUNNING")
    with pytest.raises(CrawlerRunningError):
        run_crawler(store, storage, crawler)
    store.set_crawler_state("c1", "RUNNING", "READY")

    def boom(table: Table) -> Table:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "create_table", boom)
    run = run_crawler(store, storage, crawler)
    assert run.state == RUN_FAILED and "disk full" in (run.error_message or "")
    assert store.get_crawler("c1").state == "READY"
    assert store.get_run(run.id).state == RUN_FAILED
