"""The catalog store's behaviour, run against every backend (see conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from shoal.catalog.model import (
    LOG,
    Column,
    Crawler,
    CrawlRun,
    CrawlTarget,
    Database,
    Partition,
    SchemaChangePolicy,
    SerDeInfo,
    StorageDescriptor,
    Table,
)
from shoal.catalog.schema import partitions, table_versions
from shoal.catalog.store import CatalogStore
from shoal.errors import (
    AlreadyExistsError,
    ConcurrentModificationError,
    CrawlerRunningError,
    EntityNotFoundError,
    InvalidInputError,
    InvalidNameError,
)

KEYS = (Column("year", "string"), Column("month", "string"), Column("day", "int"))


def make_table(name: str = "events", database: str = "sales", **changes: object) -> Table:
    storage = StorageDescriptor(
        location=f"s3://lake/{name}/",
        columns=(Column("id", "bigint", "row id"), Column("payload", "string")),
        input_format="org.apache.hadoop.mapred.TextInputFormat",
        serde=SerDeInfo("org.openx.data.jsonserde.JsonSerDe", {"ignore.malformed.json": "true"}),
        parameters={"compressionType": "none"},
    )
    table = Table(
        database=database,
        name=name,
        storage=storage,
        partition_keys=KEYS,
        parameters={"classification": "json"},
        description="raw events",
    )
    return replace(table, **changes)  # type: ignore[arg-type]


def make_partition(values: tuple[str, ...], table: str = "events") -> Partition:
    location = "s3://lake/events/" + "/".join(values) + "/"
    return Partition("sales", table, values, StorageDescriptor(location), {"files": "1"})


@pytest.fixture
def sales(store: CatalogStore) -> CatalogStore:
    store.create_database(Database("sales", "the sales lake", "s3://lake/", {"owner": "bi"}))
    return store


@pytest.fixture
def events(sales: CatalogStore) -> CatalogStore:
    sales.create_table(make_table())
    return sales


def row_count(url: str, table: object) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]
    finally:
        engine.dispose()


# --- databases ----------------------------------------------------------------------------


def test_database_crud(store: CatalogStore) -> None:
    created = store.create_database(Database("Blog-DB", "blog", "s3://b/", {"k": "v"}))
    assert created.name == "blog-db"
    assert created.create_time is not None and created.create_time.tzinfo == UTC
    assert abs(datetime.now(UTC) - created.create_time) < timedelta(minutes=1)

    fetched = store.get_database("BLOG-db")
    assert fetched == created
    assert dict(fetched.parameters) == {"k": "v"}

    store.create_database(Database("archive"))
    assert [d.name for d in store.list_databases()] == ["archive", "blog-db", "default"]

    updated = store.update_database("blog-db", Database("blog-db", "new text"))
    assert updated.description == "new text"
    assert updated.create_time == created.create_time
    assert store.get_database("blog-db").description == "new text"

    store.delete_database("blog-db")
    assert [d.name for d in store.list_databases()] == ["archive", "default"]


def test_fresh_catalog_has_the_default_database(store: CatalogStore) -> None:
    # As in Athena: queries without a database context land in `default`.
    assert [d.name for d in store.list_databases()] == ["default"]
    default = store.get_database("default")
    assert default.create_time is not None and default.create_time.tzinfo == UTC
    assert store.list_tables("default") == []


def test_default_database_is_made_once(catalog_url: str) -> None:
    # Opening an existing catalog again neither duplicates `default` nor brings back
    # one that was deleted (through Glue's DeleteDatabase, as AWS allows).
    with CatalogStore(catalog_url) as first:
        created = first.get_database("default")
    with CatalogStore(catalog_url) as again:
        assert again.get_database("default") == created
        again.delete_database("default")
    with CatalogStore(catalog_url) as third:
        assert third.list_databases() == []


def test_database_rename_keeps_tables(sales: CatalogStore) -> None:
    sales.create_table(make_table())
    sales.update_database("sales", Database("revenue"))
    assert sales.get_table("revenue", "events").database == "revenue"
    with pytest.raises(EntityNotFoundError):
        sales.get_database("sales")


def test_database_errors(store: CatalogStore) -> None:
    store.create_database(Database("sales"))
    store.create_database(Database("other"))
    with pytest.raises(AlreadyExistsError, match="sales"):
        store.create_database(Database("SALES"))
    with pytest.raises(EntityNotFoundError, match="'missing'"):
        store.get_database("missing")
    with pytest.raises(EntityNotFoundError, match="'missing'"):
        store.update_database("missing", Database("missing"))
    with pytest.raises(EntityNotFoundError, match="'missing'"):
        store.delete_database("missing")
    with pytest.raises(AlreadyExistsError, match="other"):
        store.update_database("sales", Database("other"))


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 256,
        "é" * 128,  # 256 bytes in UTF-8
        "bad\x00name",
        "tab\tname",
        "new\nline",
        'say "hi"',
        " padded",
        "padded ",
    ],
)
def test_invalid_names_are_refused(store: CatalogStore, name: str) -> None:
    with pytest.raises(InvalidNameError):
        store.create_database(Database(name))
    store.create_database(Database("ok"))
    with pytest.raises(InvalidNameError):
        store.create_table(make_table(name=name, database="ok"))
    with pytest.raises(InvalidNameError):
        store.create_table(make_table(database="ok", partition_keys=(Column(name, "string"),)))


@pytest.mark.parametrize("name", ["blog-db", "a" * 255, "é" * 127, "it's", "x.y", "日本"])
def test_glue_legal_names_are_kept(store: CatalogStore, name: str) -> None:
    assert store.create_database(Database(name)).name == name
    assert store.get_database(name).name == name


# --- tables -------------------------------------------------------------------------------


def test_table_crud(sales: CatalogStore) -> None:
    created = sales.create_table(make_table("Events"))
    assert created.name == "events"
    assert created.version_id == 1
    assert created.create_time == created.update_time
    assert sales.get_table("sales", "EVENTS") == created

    got = sales.get_table("sales", "events")
    assert got.columns[0] == Column("id", "bigint", "row id")
    assert got.storage.serde.parameters["ignore.malformed.json"] == "true"
    assert got.classification == "json"
    assert got.partition_keys == KEYS

    sales.create_table(make_table("clicks"))
    assert [t.name for t in sales.list_tables("sales")] == ["clicks", "events"]

    sales.delete_table("sales", "clicks")
    assert [t.name for t in sales.list_tables("sales")] == ["events"]


def test_table_errors(sales: CatalogStore) -> None:
    sales.create_table(make_table())
    with pytest.raises(AlreadyExistsError, match="sales.events"):
        sales.create_table(make_table())
    with pytest.raises(EntityNotFoundError, match="'nowhere'"):
        sales.create_table(make_table(database="nowhere"))
    with pytest.raises(EntityNotFoundError, match="sales.missing"):
        sales.get_table("sales", "missing")
    with pytest.raises(EntityNotFoundError, match="'nowhere'"):
        sales.get_table("nowhere", "events")
    with pytest.raises(EntityNotFoundError, match="sales.missing"):
        sales.update_table(make_table("missing"))
    with pytest.raises(EntityNotFoundError, match="sales.missing"):
        sales.delete_table("sales", "missing")
    with pytest.raises(EntityNotFoundError):
        sales.list_tables("nowhere")


def test_table_stamps_read_many_at_once(sales: CatalogStore) -> None:
    # More names than one read takes (16), some missing, one spelt in capitals, one in
    # a database that does not exist: each stamp is that of what get_table answers.
    for number in range(20):
        sales.create_table(make_table(f"t{number:02d}"))
    sales.create_database(Database("other"))
    sales.create_table(make_table("t00", database="other", description="elsewhere"))
    names = [("sales", f"t{n:02d}") for n in range(0, 40, 2)]
    names += [("SALES", "T03"), ("other", "t00"), ("nowhere", "t01"), ("other", "t01")]

    found = sales.table_stamps(names)

    missing = {("nowhere", "t01"), ("other", "t01")}
    missing |= {("sales", f"t{n}") for n in range(20, 40, 2)}
    assert found == {name: sales.get_table(*name).stamp for name in names if name not in missing}
    assert found[("SALES", "T03")].version_id == 1


def test_a_table_s_stamp_changes_with_every_change(sales: CatalogStore) -> None:
    first = sales.create_table(make_table("events"))
    updated = sales.update_table(replace(first, description="new"))
    sales.delete_table("sales", "events")
    again = sales.create_table(make_table("events"))  # version 1 again
    stamps = [first.stamp, updated.stamp, again.stamp]
    assert len(set(stamps)) == 3
    assert sales.table_stamps([("sales", "events")]) == {("sales", "events"): again.stamp}


def test_column_types_are_validated_and_normalised(sales: CatalogStore) -> None:
    storage = StorageDescriptor(
        "s3://x/",
        (Column("a", "INTEGER"), Column("b", "Array< String >"), Column("c", "DECIMAL(10, 2)")),
    )
    table = sales.create_table(make_table(storage=storage, partition_keys=(Column("d", "DATE"),)))
    assert [c.type for c in table.columns] == ["int", "array<string>", "decimal(10,2)"]
    assert table.partition_keys[0].type == "date"
    assert sales.get_table("sales", "events").columns == table.columns

    for bad in ("strin", "array<int", "varchar", "map<string>", ""):
        bad_storage = StorageDescriptor("s3://x/", (Column("a", bad),))
        with pytest.raises(InvalidInputError):
            sales.create_table(make_table("bad", storage=bad_storage))
        with pytest.raises(InvalidInputError):
            sales.create_table(make_table("bad", partition_keys=(Column("k", bad),)))


def test_column_names_must_be_unique(sales: CatalogStore) -> None:
    with pytest.raises(InvalidInputError, match="id"):
        sales.create_table(make_table(partition_keys=(Column("ID", "int"),)))


def test_versions(events: CatalogStore) -> None:
    first = events.get_table("sales", "events")
    second = events.update_table(replace(first, description="v2"))
    third = events.update_table(replace(second, description="v3"), expected_version=2)
    assert (second.version_id, third.version_id) == (2, 3)
    assert third.create_time == first.create_time
    assert third.update_time is not None and first.update_time is not None
    assert third.update_time >= first.update_time

    current = events.get_table("sales", "events")
    assert current == third

    versions = events.list_table_versions("sales", "events")
    assert [v.version_id for v in versions] == [3, 2, 1]
    assert [v.table.description for v in versions] == ["v3", "v2", "raw events"]
    assert versions[0].table == third
    assert versions[-1].table == first


def test_delete_table_version(events: CatalogStore) -> None:
    first = events.get_table("sales", "events")
    events.update_table(replace(first, description="v2"))
    events.delete_table_version("sales", "events", 1)
    assert [v.version_id for v in events.list_table_versions("sales", "events")] == [2]
    with pytest.raises(EntityNotFoundError, match="version 1"):
        events.delete_table_version("sales", "events", 1)
    with pytest.raises(InvalidInputError, match="current version"):
        events.delete_table_version("sales", "events", 2)
    assert events.get_table("sales", "events").description == "v2"


def test_stale_expected_version_is_refused(events: CatalogStore) -> None:
    seen = events.get_table("sales", "events")
    events.update_table(replace(seen, description="theirs"), expected_version=seen.version_id)
    with pytest.raises(ConcurrentModificationError, match="version 2"):
        events.update_table(replace(seen, description="mine"), expected_version=seen.version_id)
    assert events.get_table("sales", "events").description == "theirs"
    assert len(events.list_table_versions("sales", "events")) == 2


def test_list_tables_pattern(sales: CatalogStore) -> None:
    for name in ("events", "event_log", "users", "xevents"):
        sales.create_table(make_table(name))

    def names(pattern: str | None) -> list[str]:
        return [t.name for t in sales.list_tables("sales", pattern)]

    assert names(None) == ["event_log", "events", "users", "xevents"]
    assert names("event*") == ["event_log", "events"]
    assert names("EVENTS") == ["events"]
    assert names("*events") == ["events", "xevents"]
    assert names("users|events") == ["events", "users"]
    assert names("event.*") == ["event_log", "events"]
    assert names("e[a-z]+_log") == ["event_log"]
    for bad in ("[", "(a", "(a+)+", r"(a)\1", "*a*b*c*d"):
        with pytest.raises(InvalidInputError):
            sales.list_tables("sales", bad)


# --- partitions -----------------------------------------------------------------------------


def test_partition_crud(events: CatalogStore) -> None:
    created = events.create_partitions(
        [make_partition(("2024", "01", d)) for d in ("10", "2", "1")]
    )
    assert [p.values for p in created] == [
        ("2024", "01", "10"),
        ("2024", "01", "2"),
        ("2024", "01", "1"),
    ]
    assert all(p.create_time is not None and p.create_time.tzinfo == UTC for p in created)

    got = events.get_partition("sales", "events", ["2024", "01", "2"])
    assert got.values == ("2024", "01", "2")
    assert got.storage.location == "s3://lake/events/2024/01/2/"
    assert got.parameters == {"files": "1"}

    # Numeric keys sort as numbers: 1, 2, 10 (not 1, 10, 2).
    listed = events.list_partitions("sales", "events")
    assert [p.values[2] for p in listed] == ["1", "2", "10"]

    moved = replace(got, storage=StorageDescriptor("s3://elsewhere/", (Column("X", "INT"),)))
    updated = events.update_partition(moved)
    assert updated.create_time == got.create_time
    assert updated.storage.columns == (Column("x", "int"),)
    assert events.get_partition("sales", "events", ["2024", "01", "2"]) == updated

    events.delete_partitions("sales", "events", [("2024", "01", "1"), ("2024", "01", "10")])
    assert [p.values for p in events.list_partitions("sales", "events")] == [("2024", "01", "2")]


def test_partition_locations_follow_every_partition_change(
    events: CatalogStore, catalog_url: str
) -> None:
    """The remembered list is checked against the table on every call, so changes made
    through this store and through another one on the same database (another process)
    are seen at once."""
    other = CatalogStore(catalog_url)

    def locations() -> list[tuple[tuple[str, ...], str]]:
        return [(p.values, p.location) for p in events.partition_locations("sales", "events")]

    def expected() -> list[tuple[tuple[str, ...], str]]:
        return [(p.values, p.storage.location) for p in other.list_partitions("sales", "events")]

    assert locations() == []
    events.create_partitions([make_partition(("2024", "01", d)) for d in ("10", "2")])
    assert [v for v, _ in locations()] == [("2024", "01", "2"), ("2024", "01", "10")]
    other.create_partitions([make_partition(("2024", "01", "1"))])
    assert locations() == expected() and len(expected()) == 3
    moved = other.get_partition("sales", "events", ["2024", "01", "2"])
    other.update_partition(replace(moved, storage=StorageDescriptor("s3://elsewhere/x/")))
    assert (("2024", "01", "2"), "s3://elsewhere/x/") in locations()
    assert locations() == expected()
    other.delete_partitions("sales", "events", [("2024", "01", "10")])
    assert locations() == expected() and len(expected()) == 2
    other.delete_table("sales", "events")
    other.create_table(make_table())  # a new table of the same name has no partitions
    assert locations() == []
    other.close()
    with pytest.raises(EntityNotFoundError):
        events.partition_locations("sales", "nope")


def test_partition_errors(events: CatalogStore) -> None:
    events.create_partitions([make_partition(("2024", "01", "1"))])
    with pytest.raises(InvalidInputError, match="3 partition keys"):
        events.create_partitions([make_partition(("2024", "01"))])
    with pytest.raises(InvalidInputError):
        events.get_partition("sales", "events", ["2024", "01", "1", "x"])
    with pytest.raises(InvalidInputError):
        events.get_partition("sales", "events", "abc")
    with pytest.raises(EntityNotFoundError, match="2024"):
        events.get_partition("sales", "events", ["2024", "01", "9"])
    with pytest.raises(EntityNotFoundError, match="sales.missing"):
        events.list_partitions("sales", "missing")
    with pytest.raises(EntityNotFoundError, match="sales.missing"):
        events.create_partitions([make_partition(("2024", "01", "1"), table="missing")])
    with pytest.raises(EntityNotFoundError):
        events.update_partition(make_partition(("1999", "01", "1")))
    with pytest.raises(InvalidInputError, match="1024 bytes"):
        events.create_partitions([make_partition(("x" * 1025, "01", "1"))])
    with pytest.raises(InvalidInputError, match="together"):
        events.create_partitions([make_partition(("x" * 1024, "y" * 1024, "1"))])
    longest = ("é" * 512, "01", "1")  # 1024 bytes: fits the unique index on PostgreSQL
    assert events.create_partitions([make_partition(longest)])[0].values == longest


def test_create_partitions_is_all_or_nothing(events: CatalogStore) -> None:
    events.create_partitions([make_partition(("2024", "01", "1"))])
    batch = [make_partition(("2024", "01", "2")), make_partition(("2024", "01", "1"))]
    with pytest.raises(AlreadyExistsError, match="2024"):
        events.create_partitions(batch)
    twice = [make_partition(("2024", "02", "1")), make_partition(("2024", "02", "1"))]
    with pytest.raises(AlreadyExistsError):
        events.create_partitions(twice)
    bad_last = [make_partition(("2024", "03", "1")), make_partition(("2024",))]
    with pytest.raises(InvalidInputError):
        events.create_partitions(bad_last)
    assert [p.values for p in events.list_partitions("sales", "events")] == [("2024", "01", "1")]
    assert events.create_partitions([]) == []


def test_delete_partitions_missing(events: CatalogStore) -> None:
    events.create_partitions([make_partition(("2024", "01", "1"))])
    gone = [("2024", "01", "1"), ("2024", "01", "5")]
    with pytest.raises(EntityNotFoundError, match="5"):
        events.delete_partitions("sales", "events", gone)
    assert len(events.list_partitions("sales", "events")) == 1  # nothing deleted
    events.delete_partitions("sales", "events", gone, missing_ok=True)
    assert events.list_partitions("sales", "events") == []


INJECTION = "1' OR '1'='1"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("year = '2024' AND month IN ('01','02')", ["2024/01/1", "2024/01/15", "2024/02/2"]),
        ("day > 9", ["2023/12/31", "2024/01/15", "2024/03/10"]),
        ("day BETWEEN 2 AND 10", ["2024/02/2", "2024/03/10"]),
        ("month LIKE '0_' AND NOT year = '2024'", [f"{INJECTION}/01/1"]),
        ("year < '2024' OR day = 1", ["2023/12/31", "2024/01/1", f"{INJECTION}/01/1"]),
        ("year = '1'' OR ''1''=''1'", [f"{INJECTION}/01/1"]),
        ("year = '1' OR '1'='1'", None),  # a real OR: matches everything
        ("", None),
    ],
)
def test_list_partitions_expression(
    events: CatalogStore, expression: str, expected: list[str] | None
) -> None:
    all_values = ["2023/12/31", "2024/01/1", "2024/01/15", "2024/02/2", "2024/03/10"]
    all_values.append(f"{INJECTION}/01/1")
    events.create_partitions(make_partition(tuple(v.split("/"))) for v in all_values)
    found = events.list_partitions("sales", "events", expression)
    got = sorted("/".join(p.values) for p in found)
    assert got == sorted(all_values if expected is None else expected)
    # The injection-looking value was stored and comes back verbatim.
    assert events.get_partition("sales", "events", [INJECTION, "01", "1"]).values[0] == INJECTION


def test_list_partitions_bad_expression(events: CatalogStore) -> None:
    with pytest.raises(InvalidInputError, match="nope"):
        events.list_partitions("sales", "events", "nope = 1")
    with pytest.raises(InvalidInputError, match="column"):
        events.list_partitions("sales", "events", "year = ")


def test_delete_database_cascades(catalog_url: str, events: CatalogStore) -> None:
    table = events.get_table("sales", "events")
    events.update_table(table)
    events.create_partitions([make_partition(("2024", "01", "1"))])
    assert row_count(catalog_url, partitions) == 1

    events.delete_database("sales")
    with pytest.raises(EntityNotFoundError):
        events.get_table("sales", "events")
    assert row_count(catalog_url, partitions) == 0
    assert row_count(catalog_url, table_versions) == 0

    events.create_database(Database("sales"))
    assert events.create_table(make_table()).version_id == 1
    assert events.list_partitions("sales", "events") == []
    assert len(events.list_table_versions("sales", "events")) == 1


def test_delete_table_cascades(catalog_url: str, events: CatalogStore) -> None:
    events.create_partitions([make_partition(("2024", "01", "1"))])
    events.delete_table("sales", "events")
    assert row_count(catalog_url, partitions) == 0
    assert row_count(catalog_url, table_versions) == 0


# --- crawlers and runs ----------------------------------------------------------------------


def make_crawler(name: str = "nightly", **changes: object) -> Crawler:
    crawler = Crawler(
        name=name,
        database="sales",
        targets=(CrawlTarget("s3://lake/events/", ("**/_tmp/**",), 5), CrawlTarget("/data/x")),
        table_prefix="raw_",
        schema_change_policy=SchemaChangePolicy(update_behavior=LOG),
        schedule="0 3 * * *",
        description="every night",
        configuration='{"Version": 1.0}',
    )
    return replace(crawler, **changes)  # type: ignore[arg-type]


def test_crawler_crud(store: CatalogStore) -> None:
    created = store.create_crawler(make_crawler("Nightly", state="RUNNING"))
    assert (created.name, created.state, created.version) == ("nightly", "READY", 1)
    assert store.get_crawler("NIGHTLY") == created
    assert store.get_crawler("nightly").targets[0].exclusions == ("**/_tmp/**",)

    store.create_crawler(make_crawler("hourly"))
    assert [c.name for c in store.list_crawlers()] == ["hourly", "nightly"]

    updated = store.update_crawler(make_crawler(schedule="0 4 * * *", targets=()))
    assert (updated.version, updated.schedule, updated.targets) == (2, "0 4 * * *", ())
    assert updated.create_time == created.create_time
    assert store.get_crawler("nightly") == updated

    store.delete_crawler("nightly")
    assert [c.name for c in store.list_crawlers()] == ["hourly"]


def test_crawler_errors(store: CatalogStore) -> None:
    store.create_crawler(make_crawler())
    with pytest.raises(AlreadyExistsError, match="nightly"):
        store.create_crawler(make_crawler())
    for missing in (
        lambda: store.get_crawler("missing"),
        lambda: store.update_crawler(make_crawler("missing")),
        lambda: store.delete_crawler("missing"),
        lambda: store.set_crawler_state("missing", "READY", "RUNNING"),
    ):
        with pytest.raises(EntityNotFoundError, match="'missing'"):
            missing()
    bad_policy = SchemaChangePolicy(delete_behavior="SHRED")
    with pytest.raises(InvalidInputError, match="SHRED"):
        store.create_crawler(make_crawler("bad", schema_change_policy=bad_policy))
    with pytest.raises(InvalidNameError):
        store.create_crawler(make_crawler('"quoted"'))


def test_crawler_state_compare_and_set(store: CatalogStore) -> None:
    store.create_crawler(make_crawler())
    running = store.set_crawler_state("nightly", "READY", "RUNNING")
    assert running.state == "RUNNING"
    with pytest.raises(CrawlerRunningError, match="RUNNING"):
        store.set_crawler_state("nightly", "READY", "RUNNING")
    with pytest.raises(CrawlerRunningError):
        store.update_crawler(make_crawler(description="changed"))
    with pytest.raises(CrawlerRunningError):
        store.delete_crawler("nightly")
    assert store.set_crawler_state("nightly", "RUNNING", "STOPPING").state == "STOPPING"
    assert store.set_crawler_state("nightly", "STOPPING", "READY").state == "READY"
    assert store.get_crawler("nightly").version == 1  # state changes are not new versions
    with pytest.raises(InvalidInputError):
        store.set_crawler_state("nightly", "READY", "DANCING")


def test_runs(store: CatalogStore) -> None:
    store.create_crawler(make_crawler())
    start = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    first = CrawlRun("run-1", "Nightly", "RUNNING", start, log=("started",))
    saved = store.save_run(first)
    assert saved == replace(first, crawler="nightly")

    done = replace(
        first,
        crawler="nightly",
        state="SUCCEEDED",
        end_time=start + timedelta(minutes=2),
        tables_created=2,
        partitions_added=40,
        files_read=120,
        bytes_read=12 * 2**30,  # beyond 32 bits
        log=("started", "created table sales.events: new folder s3://lake/events/"),
    )
    assert store.save_run(done) == done  # upsert replaces
    assert store.get_run("run-1") == done

    later = CrawlRun("run-2", "nightly", "FAILED", start + timedelta(days=1), error_message="x")
    adhoc = CrawlRun("adhoc-1", None, "SUCCEEDED", start + timedelta(hours=1), dry_run=True)
    store.save_run(later)
    store.save_run(adhoc)
    assert [r.id for r in store.list_runs()] == ["run-2", "adhoc-1", "run-1"]
    assert [r.id for r in store.list_runs("nightly")] == ["run-2", "run-1"]
    assert [r.id for r in store.list_runs(limit=1)] == ["run-2"]
    assert store.get_run("adhoc-1") == adhoc

    with pytest.raises(EntityNotFoundError, match="'ghost'"):
        store.save_run(CrawlRun("run-3", "ghost", "RUNNING", start))
    with pytest.raises(EntityNotFoundError, match="'nope'"):
        store.get_run("nope")
    with pytest.raises(InvalidInputError):
        store.save_run(CrawlRun("", None, "RUNNING", start))

    store.delete_crawler("nightly")  # its runs go with it; ad hoc runs stay
    assert [r.id for r in store.list_runs()] == ["adhoc-1"]


def test_naive_times_are_taken_as_utc(store: CatalogStore) -> None:
    naive = datetime(2024, 5, 1, 3, 0)
    saved = store.save_run(CrawlRun("r", None, "RUNNING", naive))
    assert saved.start_time == naive.replace(tzinfo=UTC)
    assert saved.start_time.tzinfo == UTC


def test_sqlite_file_and_folder_are_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "catalog.db"
    with CatalogStore(f"sqlite:///{path}") as created:
        created.create_database(Database("sales"))
    assert path.is_file()


def test_in_memory_catalog() -> None:
    with CatalogStore("sqlite:///:memory:") as memory:
        memory.create_database(Database("sales"))
        memory.create_table(make_table())
        assert memory.get_table("sales", "events").version_id == 1
