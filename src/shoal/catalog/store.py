"""The catalog store: databases, tables, partitions, table versions, crawlers and runs,
persisted through SQLAlchemy in SQLite (embedded default) or PostgreSQL.

Every public method is one transaction. Writes that race are settled in SQL, not in
Python: unique constraints turn a second create into ``AlreadyExistsError``, and
versioned updates and crawler state changes are ``UPDATE … WHERE <expected>`` whose
row count says whether this caller won.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from shoal.catalog import codec, rows
from shoal.catalog.connection import StateDatabase
from shoal.catalog.expression import (
    compile_name_pattern,
    compile_partition_filter,
    partition_order_key,
)
from shoal.catalog.model import (
    CRAWL_EVERYTHING,
    CRAWL_NEW_FOLDERS_ONLY,
    DELETE_FROM_DATABASE,
    DEPRECATE_IN_DATABASE,
    LOG,
    UPDATE_IN_DATABASE,
    Column,
    Crawler,
    CrawlRun,
    Database,
    Partition,
    PartitionLocation,
    StorageDescriptor,
    Table,
    TableStamp,
    TableVersion,
)
from shoal.catalog.names import validate_name
from shoal.catalog.schedule import validate_schedule
from shoal.catalog.schema import crawl_runs, crawlers, databases, table_versions
from shoal.catalog.schema import partitions as partitions_t
from shoal.catalog.schema import tables as tables_t
from shoal.catalog.types import normalize_type
from shoal.errors import (
    AlreadyExistsError,
    ConcurrentModificationError,
    CrawlerRunningError,
    EntityNotFoundError,
    InvalidInputError,
)

CRAWLER_STATES = frozenset({"READY", "RUNNING", "STOPPING"})
_UPDATE_BEHAVIORS = frozenset({UPDATE_IN_DATABASE, LOG})
_DELETE_BEHAVIORS = frozenset({DELETE_FROM_DATABASE, DEPRECATE_IN_DATABASE, LOG})
_RECRAWL_BEHAVIORS = frozenset({CRAWL_EVERYTHING, CRAWL_NEW_FOLDERS_ONLY})
MAX_VALUE_BYTES = 1024  # Glue's limit for one partition value
# The unique index on partitions.values_key must fit a PostgreSQL B-tree entry (~2.7 kB).
MAX_VALUES_KEY_BYTES = 2048
MAX_BUCKETS = 100_000  # a bound on NumberOfBuckets: every bucket may become a file
_Named = TypeVar("_Named", Database, Table, Crawler)
# Bound parameters per IN (...) list; far below SQLite's and PostgreSQL's limits.
_CHUNK = 500
_PARTITION_LISTS_KEPT = 256  # tables whose partition locations are remembered


def _now() -> datetime:
    return datetime.now(UTC)


def _by_name(items: list[_Named]) -> list[_Named]:
    # Sorted here, not in SQL: a PostgreSQL collation may order names unlike SQLite.
    return sorted(items, key=lambda item: item.name)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class CatalogStore:
    """The Glue Data Catalog's model, stored in a SQL database.

    Names are validated (``catalog.names.validate_name``) and stored lowercase;
    column types are validated with ``catalog.types.parse_type`` and stored in
    their normal spelling. Every change to a table bumps ``version_id`` and keeps
    the previous version. Timestamps are set by the store, in UTC.

    Safe to share between threads; any number of processes may open the same
    SQLite file or PostgreSQL database.
    """

    def __init__(self, state: str | StateDatabase) -> None:
        """Open the catalog in ``state``, or in a state database at SQLAlchemy URL.

        ``sqlite:///path/catalog.db`` (created when missing), ``sqlite:///:memory:``
        (private to this store) or ``postgresql+psycopg://user@host/db``. A store
        opened from a URL owns its database and closes it; one given a
        ``StateDatabase`` shares it.
        """
        self._owns_state = isinstance(state, str)
        self.state = StateDatabase(state) if isinstance(state, str) else state
        self._partition_lists: OrderedDict[tuple[str, str], _PartitionList] = OrderedDict()
        self._partition_lists_lock = threading.Lock()

    def close(self) -> None:
        """Close the database if this store opened it. Not usable afterwards."""
        if self._owns_state:
            self.state.close()

    def __enter__(self) -> CatalogStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read(self) -> AbstractContextManager[Connection]:
        return self.state.read()

    def _write(self) -> AbstractContextManager[Connection]:
        return self.state.write()

    # --- databases -------------------------------------------------------------------------

    def create_database(self, database: Database) -> Database:
        """Create a database; raises AlreadyExistsError when the name is taken."""
        name = validate_name(database.name, "database name")
        stored = replace(database, name=name, create_time=_now())
        try:
            with self._write() as conn:
                conn.execute(insert(databases).values(**rows.database_values(stored)))
        except IntegrityError:
            raise AlreadyExistsError(f"database {name!r} already exists") from None
        return rows.database_from_row(rows.database_values(stored))

    def get_database(self, name: str) -> Database:
        """The database called ``name``; raises EntityNotFoundError when missing."""
        with self._read() as conn:
            return rows.database_from_row(self._database_row(conn, name))

    def list_databases(self) -> list[Database]:
        """Every database, sorted by name."""
        with self._read() as conn:
            records = conn.execute(select(databases))
            return _by_name([rows.database_from_row(row._mapping) for row in records])

    def update_database(self, name: str, database: Database) -> Database:
        """Replace a database's definition; ``database.name`` may rename it."""
        new_name = validate_name(database.name, "database name")
        try:
            with self._write() as conn:
                row = self._database_row(conn, name)
                stored = replace(database, name=new_name, create_time=row["create_time"])
                conn.execute(
                    update(databases)
                    .where(databases.c.id == row["id"])
                    .values(**rows.database_values(stored))
                )
        except IntegrityError:
            raise AlreadyExistsError(f"database {new_name!r} already exists") from None
        return rows.database_from_row(rows.database_values(stored))

    def delete_database(self, name: str) -> None:
        """Delete a database with its tables, partitions and versions."""
        with self._write() as conn:
            row = self._database_row(conn, name)
            conn.execute(delete(databases).where(databases.c.id == row["id"]))

    def _database_row(self, conn: Connection, name: str) -> Any:
        key = validate_name(name, "database name")
        row = conn.execute(select(databases).where(databases.c.name == key)).first()
        if row is None:
            raise EntityNotFoundError(f"database {key!r} not found")
        return row._mapping

    # --- tables ----------------------------------------------------------------------------

    def create_table(self, table: Table) -> Table:
        """Create a table at version 1; its database must exist."""
        table = _normalize_table(table)
        now = _now()
        stored = replace(table, create_time=now, update_time=now, version_id=1)
        try:
            with self._write() as conn:
                database_id = self._database_row(conn, table.database)["id"]
                result = conn.execute(
                    insert(tables_t).values(database_id=database_id, **rows.table_values(stored))
                )
                key = result.inserted_primary_key
                assert key is not None  # an INSERT always has one
                self._add_version(conn, key[0], stored)
        except IntegrityError:
            raise AlreadyExistsError(f"table {_qualified(table)} already exists") from None
        return stored

    def get_table(self, database: str, name: str) -> Table:
        """The current version of a table; raises EntityNotFoundError when missing."""
        db_key = validate_name(database, "database name")
        key = validate_name(name, "table name")
        # Every query looks up the tables it names: a prepared read (~5x faster).
        row = self.state.first(_TABLE_BY_NAME, {"database": db_key, "table": key})
        if row is None:
            with self._read() as conn:
                self._database_row(conn, db_key)  # names the database when that is missing
            raise EntityNotFoundError(f"table {db_key}.{key} not found")
        return rows.table_from_row(row)

    def table_stamps(self, names: Sequence[tuple[str, str]]) -> dict[tuple[str, str], TableStamp]:
        """The current stamps of the tables named (database, table), in one read (no
        definition decoded: what a cached plan checks before every run); missing ones
        are left out. Names are taken as ``get_table`` takes them and keyed as given."""
        found: dict[tuple[str, str], TableStamp] = {}
        for start in range(0, len(names), _TABLES_PER_READ):
            chunk = names[start : start + _TABLES_PER_READ]
            keys = [
                (validate_name(db, "database name"), validate_name(t, "table name"))
                for db, t in chunk
            ]
            params = {f"d{i}": db for i, (db, _) in enumerate(keys)}
            params.update({f"t{i}": t for i, (_, t) in enumerate(keys)})
            by_key = {
                (row["database_name"], row["name"]): row
                for row in self.state.rows(_stamps_by_names(len(keys)), params)
            }
            for name, key in zip(chunk, keys, strict=True):
                if key in by_key:
                    row = by_key[key]
                    found[name] = TableStamp(
                        row["version_id"], row["create_time"], row["update_time"]
                    )
        return found

    def list_tables(self, database: str, pattern: str | None = None) -> list[Table]:
        """Tables of ``database`` sorted by name; ``pattern`` is Glue's Expression
        (a regular expression over the name, ``*`` as wildcard)."""
        matcher = compile_name_pattern(pattern) if pattern else None
        with self._read() as conn:
            database_id = self._database_row(conn, database)["id"]
            records = conn.execute(_table_select().where(tables_t.c.database_id == database_id))
            found = [rows.table_from_row(row._mapping) for row in records]
        return _by_name([t for t in found if matcher is None or matcher.fullmatch(t.name)])

    def update_table(self, table: Table, expected_version: int | None = None) -> Table:
        """Store a new version of ``table``; raises ConcurrentModificationError when
        ``expected_version`` is given and is not the current version."""
        table = _normalize_table(table)
        with self._write() as conn:
            row = self._table_row(conn, table.database, table.name, for_update=True)
            current = row["version_id"]
            if expected_version is not None and expected_version != current:
                raise ConcurrentModificationError(
                    f"table {_qualified(table)} is at version {current}, not {expected_version}"
                )
            stored = replace(
                table, create_time=row["create_time"], update_time=_now(), version_id=current + 1
            )
            result = conn.execute(
                update(tables_t)
                .where(tables_t.c.id == row["id"], tables_t.c.version_id == current)
                .values(**rows.table_values(stored))
            )
            if result.rowcount != 1:  # someone else's version got in first
                raise ConcurrentModificationError(f"table {_qualified(table)} changed meanwhile")
            self._add_version(conn, row["id"], stored)
        return stored

    def delete_table(self, database: str, name: str) -> None:
        """Delete a table with its partitions and versions."""
        with self._write() as conn:
            row = self._table_row(conn, database, name)
            conn.execute(delete(tables_t).where(tables_t.c.id == row["id"]))

    def list_table_versions(self, database: str, name: str) -> list[TableVersion]:
        """Every version of a table, newest first."""
        with self._read() as conn:
            table_id = self._table_row(conn, database, name)["id"]
            records = conn.execute(
                select(table_versions.c.version_id, table_versions.c.snapshot)
                .where(table_versions.c.table_id == table_id)
                .order_by(table_versions.c.version_id.desc())
            )
            return [TableVersion(v, codec.table_from_json(snapshot)) for v, snapshot in records]

    def delete_table_version(self, database: str, name: str, version_id: int) -> None:
        """Forget one past version of a table (dbt-athena expires all but the newest).

        Raises EntityNotFoundError when there is no such version, InvalidInputError for
        the current one: it is the table itself (DeleteTable removes that).
        """
        with self._write() as conn:
            row = self._table_row(conn, database, name, for_update=True)
            if version_id == row["version_id"]:
                raise InvalidInputError(
                    f"version {version_id} is the current version of table "
                    f"{row['database_name']}.{row['name']}; it cannot be deleted"
                )
            result = conn.execute(
                delete(table_versions).where(
                    table_versions.c.table_id == row["id"],
                    table_versions.c.version_id == version_id,
                )
            )
            if result.rowcount != 1:
                raise EntityNotFoundError(
                    f"version {version_id} of table {row['database_name']}.{row['name']} not found"
                )

    def _table_row(
        self, conn: Connection, database: str, name: str, *, for_update: bool = False
    ) -> Any:
        db_key = validate_name(database, "database name")
        key = validate_name(name, "table name")
        query = _table_select().where(databases.c.name == db_key, tables_t.c.name == key)
        if for_update:
            query = query.with_for_update(of=tables_t)
        row = conn.execute(query).first()
        if row is None:
            self._database_row(conn, db_key)  # names the database when that is what is missing
            raise EntityNotFoundError(f"table {db_key}.{key} not found")
        return row._mapping

    def _add_version(self, conn: Connection, table_id: int, table: Table) -> None:
        conn.execute(
            insert(table_versions).values(
                table_id=table_id,
                version_id=table.version_id,
                snapshot=codec.table_to_json(table),
                create_time=table.update_time,
            )
        )

    # --- partitions ------------------------------------------------------------------------

    def create_partitions(self, partitions: Iterable[Partition]) -> list[Partition]:
        """Create partitions, all or none; raises AlreadyExistsError naming the first
        that exists, InvalidInputError when values do not match the partition keys."""
        now = _now()
        batch = [replace(p, create_time=now) for p in partitions]
        with self._write() as conn:
            tables = _TableCache(self, conn)
            records = [self._partition_values(tables.get(p), p) for p in batch]
            for table_id, keys in _group_keys(records).items():
                if taken := self._existing_keys(conn, table_id, keys):
                    raise AlreadyExistsError(f"partition {taken[0]} already exists")
            try:
                if records:
                    conn.execute(insert(partitions_t), records)
            except IntegrityError:  # only a racing writer can get here
                raise AlreadyExistsError("a partition in the batch already exists") from None
            for table_id in {r["table_id"] for r in records}:
                self._partitions_changed(conn, table_id)
        return [
            replace(
                p,
                database=t.database,
                table=t.name,
                values=tuple(p.values),
                storage=_normalize_storage(p.storage),
            )
            for p, t in tables.used
        ]

    def get_partition(self, database: str, table: str, values: Sequence[str]) -> Partition:
        """One partition by its values; raises EntityNotFoundError when missing."""
        with self._read() as conn:
            row = self._table_row(conn, database, table)
            key = codec.values_key(_check_values(rows.table_from_row(row), values))
            found = conn.execute(
                select(partitions_t).where(
                    partitions_t.c.table_id == row["id"], partitions_t.c.values_key == key
                )
            ).first()
            if found is None:
                raise EntityNotFoundError(
                    f"partition {list(values)} of table {row['database_name']}.{row['name']} "
                    "not found"
                )
            return rows.partition_from_row(found._mapping, row["database_name"], row["name"])

    def list_partitions(
        self, database: str, table: str, expression: str | None = None
    ) -> list[Partition]:
        """Partitions in value order, filtered by a Glue GetPartitions expression.

        Values sort numerically under numeric partition keys, as text otherwise. The
        expression is evaluated in Python over the loaded partitions
        (``catalog.expression``); a blank expression means no filter.
        """
        with self._read() as conn:
            row = self._table_row(conn, database, table)
            stored = rows.table_from_row(row)
            test = (
                compile_partition_filter(expression, stored.partition_keys)
                if expression and expression.strip()
                else None
            )
            records = conn.execute(select(partitions_t).where(partitions_t.c.table_id == row["id"]))
            found = [
                rows.partition_from_row(r._mapping, stored.database, stored.name) for r in records
            ]
        order = partition_order_key(stored.partition_keys)
        return sorted(
            (p for p in found if test is None or test(p.values)), key=lambda p: order(p.values)
        )

    def partition_locations(self, database: str, table: str) -> tuple[PartitionLocation, ...]:
        """Every partition's values and location, in value order: what a query plans.

        Remembered per table until a partition of it changes: one small read of the
        table's ``partitions_version`` (raised by every partition write, from any
        process) per call, so a table of thousands of partitions is not read and
        decoded again for every query. Raises EntityNotFoundError for a missing table.
        """
        key = (validate_name(database, "database name"), validate_name(table, "table name"))
        current = self.state.first(_PARTITIONS_STAMP, {"database": key[0], "table": key[1]})
        with self._partition_lists_lock:
            kept = self._partition_lists.get(key)
            if kept is not None and current is not None and kept.stamp == _stamp_of(current):
                self._partition_lists.move_to_end(key)
                return kept.locations
        with self._read() as conn:
            row = self._table_row(conn, database, table)
            stored = rows.table_from_row(row)
            location = partitions_t.c.storage["location"].as_string()
            records = conn.execute(
                select(partitions_t.c["values"], location).where(
                    partitions_t.c.table_id == row["id"]
                )
            )
            found = [PartitionLocation(tuple(r[0]), r[1] or "") for r in records]
        order = partition_order_key(stored.partition_keys)
        fresh = _PartitionList(_stamp_of(row), tuple(sorted(found, key=lambda p: order(p.values))))
        with self._partition_lists_lock:
            self._partition_lists[key] = fresh
            self._partition_lists.move_to_end(key)
            while len(self._partition_lists) > _PARTITION_LISTS_KEPT:
                self._partition_lists.popitem(last=False)
        return fresh.locations

    def _partitions_changed(self, conn: Connection, table_id: int) -> None:
        """Raise the table's ``partitions_version``, in the transaction that changed them."""
        conn.execute(
            update(tables_t)
            .where(tables_t.c.id == table_id)
            .values(partitions_version=tables_t.c.partitions_version + 1)
        )

    def update_partition(self, partition: Partition) -> Partition:
        """Replace a partition's storage, parameters and last access time."""
        with self._write() as conn:
            row = self._table_row(conn, partition.database, partition.table)
            table = rows.table_from_row(row)
            values = self._partition_values((row["id"], table), partition)
            where = (
                partitions_t.c.table_id == row["id"],
                partitions_t.c.values_key == values["values_key"],
            )
            created = conn.execute(select(partitions_t.c.create_time).where(*where)).scalar()
            if created is None:
                raise EntityNotFoundError(
                    f"partition {list(partition.values)} of table {_qualified(table)} not found"
                )
            conn.execute(
                update(partitions_t)
                .where(*where)
                .values(
                    storage=values["storage"],
                    parameters=values["parameters"],
                    last_access_time=values["last_access_time"],
                )
            )
            self._partitions_changed(conn, row["id"])
        return replace(
            partition,
            database=table.database,
            table=table.name,
            values=tuple(values["values"]),
            storage=_normalize_storage(partition.storage),
            create_time=created,
        )

    def delete_partitions(
        self,
        database: str,
        table: str,
        values_list: Iterable[Sequence[str]],
        *,
        missing_ok: bool = False,
    ) -> None:
        """Delete partitions by their values, all or none.

        Raises EntityNotFoundError naming the missing ones, unless ``missing_ok``.
        """
        with self._write() as conn:
            row = self._table_row(conn, database, table)
            stored = rows.table_from_row(row)
            keys = list(
                dict.fromkeys(codec.values_key(_check_values(stored, v)) for v in values_list)
            )
            existing = set(self._existing_keys(conn, row["id"], keys))
            missing = [k for k in keys if k not in existing]
            if missing and not missing_ok:
                raise EntityNotFoundError(
                    f"partitions not found in {_qualified(stored)}: {', '.join(missing[:10])}"
                )
            for chunk in _chunks([k for k in keys if k in existing]):
                conn.execute(
                    delete(partitions_t).where(
                        partitions_t.c.table_id == row["id"], partitions_t.c.values_key.in_(chunk)
                    )
                )
            if existing:
                self._partitions_changed(conn, row["id"])

    def _partition_values(self, target: tuple[int, Table], partition: Partition) -> dict[str, Any]:
        table_id, table = target
        values = _check_values(table, partition.values)
        return {
            "table_id": table_id,
            "values": list(values),
            "values_key": codec.values_key(values),
            "storage": codec.storage_to_json(_normalize_storage(partition.storage)),
            "parameters": codec.params_to_json(partition.parameters),
            "create_time": partition.create_time or _now(),
            "last_access_time": partition.last_access_time,
        }

    def _existing_keys(self, conn: Connection, table_id: int, keys: Sequence[str]) -> list[str]:
        found: list[str] = []
        for chunk in _chunks(keys):
            found.extend(
                conn.execute(
                    select(partitions_t.c.values_key).where(
                        partitions_t.c.table_id == table_id, partitions_t.c.values_key.in_(chunk)
                    )
                ).scalars()
            )
        return found

    # --- crawlers and runs -----------------------------------------------------------------

    def create_crawler(self, crawler: Crawler) -> Crawler:
        """Create a crawler in state READY at version 1."""
        now = _now()
        stored = replace(
            _normalize_crawler(crawler), state="READY", create_time=now, update_time=now, version=1
        )
        try:
            with self._write() as conn:
                conn.execute(insert(crawlers).values(**rows.crawler_values(stored)))
        except IntegrityError:
            raise AlreadyExistsError(f"crawler {stored.name!r} already exists") from None
        return stored

    def get_crawler(self, name: str) -> Crawler:
        """The crawler called ``name``; raises EntityNotFoundError when missing."""
        with self._read() as conn:
            return rows.crawler_from_row(self._crawler_row(conn, name))

    def list_crawlers(self) -> list[Crawler]:
        """Every crawler, sorted by name."""
        with self._read() as conn:
            records = conn.execute(select(crawlers))
            return _by_name([rows.crawler_from_row(row._mapping) for row in records])

    def update_crawler(self, crawler: Crawler) -> Crawler:
        """Replace a crawler's definition and bump its version. Its state is left
        alone; raises CrawlerRunningError unless the crawler is READY (as Glue does)."""
        crawler = _normalize_crawler(crawler)
        with self._write() as conn:
            row = self._crawler_row(conn, crawler.name)
            stored = replace(
                crawler,
                state=row["state"],
                create_time=row["create_time"],
                update_time=_now(),
                version=row["version"] + 1,
            )
            values = rows.crawler_values(stored)
            del values["state"], values["create_time"]
            result = conn.execute(
                update(crawlers)
                .where(crawlers.c.id == row["id"], crawlers.c.state == "READY")
                .values(**values)
            )
            if result.rowcount != 1:
                raise CrawlerRunningError(f"crawler {crawler.name!r} is {row['state']}")
        return stored

    def set_crawler_schedule(self, name: str, schedule: str | None, paused: bool) -> Crawler:
        """Change a crawler's schedule and whether it is paused, in any state (a run in
        progress goes on); bumps its version."""
        validate_schedule(schedule)
        with self._write() as conn:
            row = self._crawler_row(conn, name)
            current = rows.crawler_from_row(row)
            stored = replace(
                current,
                schedule=schedule,
                schedule_paused=paused,
                update_time=_now(),
                version=current.version + 1,
            )
            values = rows.crawler_values(stored)
            conn.execute(
                update(crawlers)
                .where(crawlers.c.id == row["id"])
                .values(
                    definition=values["definition"],
                    update_time=values["update_time"],
                    version=values["version"],
                )
            )
        return stored

    def delete_crawler(self, name: str) -> None:
        """Delete a crawler and its runs; raises CrawlerRunningError unless READY."""
        with self._write() as conn:
            row = self._crawler_row(conn, name)
            result = conn.execute(
                delete(crawlers).where(crawlers.c.id == row["id"], crawlers.c.state == "READY")
            )
            if result.rowcount != 1:
                raise CrawlerRunningError(f"crawler {row['name']!r} is {row['state']}")

    def set_crawler_state(self, name: str, expected: str, new: str) -> Crawler:
        """Compare-and-set the crawler's state; raises CrawlerRunningError when the
        current state is not ``expected``."""
        if new not in CRAWLER_STATES:
            raise InvalidInputError(f"crawler state must be one of {sorted(CRAWLER_STATES)}")
        key = validate_name(name, "crawler name")
        with self._write() as conn:
            result = conn.execute(
                update(crawlers)
                .where(crawlers.c.name == key, crawlers.c.state == expected)
                .values(state=new)
            )
            row = self._crawler_row(conn, key)  # raises EntityNotFoundError
            if result.rowcount != 1:
                raise CrawlerRunningError(f"crawler {key!r} is {row['state']}, not {expected}")
            return rows.crawler_from_row(row)

    def _crawler_row(self, conn: Connection, name: str) -> Any:
        key = validate_name(name, "crawler name")
        row = conn.execute(select(crawlers).where(crawlers.c.name == key)).first()
        if row is None:
            raise EntityNotFoundError(f"crawler {key!r} not found")
        return row._mapping

    def save_run(self, run: CrawlRun) -> CrawlRun:
        """Insert or replace a crawl run record.

        ``run.crawler`` must name an existing crawler (or be None for an ad hoc
        crawl); a crawler's runs are deleted with it.
        """
        if not isinstance(run.id, str) or not run.id or len(run.id) > 255:
            raise InvalidInputError("a crawl run id must be 1 to 255 characters")
        with self._write() as conn:
            crawler_id = None
            if run.crawler is not None:
                crawler_id = self._crawler_row(conn, run.crawler)["id"]
            values = rows.run_values(run, crawler_id)
            conn.execute(_upsert(conn, values))
            return self._run(conn, run.id)

    def get_run(self, run_id: str) -> CrawlRun:
        """One crawl run; raises EntityNotFoundError when missing."""
        with self._read() as conn:
            return self._run(conn, run_id)

    def list_runs(self, crawler: str | None = None, limit: int = 100) -> list[CrawlRun]:
        """Runs newest first, optionally of one crawler."""
        with self._read() as conn:
            query = _run_select().order_by(crawl_runs.c.start_time.desc(), crawl_runs.c.id.desc())
            if crawler is not None:
                query = query.where(
                    crawl_runs.c.crawler_id == self._crawler_row(conn, crawler)["id"]
                )
            records = conn.execute(query.limit(limit))
            return [rows.run_from_row(row._mapping) for row in records]

    def _run(self, conn: Connection, run_id: str) -> CrawlRun:
        row = conn.execute(_run_select().where(crawl_runs.c.run_id == run_id)).first()
        if row is None:
            raise EntityNotFoundError(f"crawl run {run_id!r} not found")
        return rows.run_from_row(row._mapping)


class _TableCache:
    """Tables looked up once per batch of partitions, remembering each partition's."""

    def __init__(self, store: CatalogStore, conn: Connection) -> None:
        self.store, self.conn = store, conn
        self.tables: dict[tuple[str, str], tuple[int, Table]] = {}
        self.used: list[tuple[Partition, Table]] = []

    def get(self, partition: Partition) -> tuple[int, Table]:
        key = (partition.database.lower(), partition.table.lower())
        if key not in self.tables:
            row = self.store._table_row(self.conn, partition.database, partition.table)
            self.tables[key] = (row["id"], rows.table_from_row(row))
        self.used.append((partition, self.tables[key][1]))
        return self.tables[key]


def _group_keys(records: Sequence[dict[str, Any]]) -> dict[int, list[str]]:
    """Values keys by table id; a partition given twice in one batch already exists."""
    grouped: dict[int, list[str]] = {}
    for row in records:
        keys = grouped.setdefault(row["table_id"], [])
        if row["values_key"] in keys:
            raise AlreadyExistsError(f"partition {row['values_key']} is in the batch twice")
        keys.append(row["values_key"])
    return grouped


# --- validation ---------------------------------------------------------------------------


def _qualified(table: Table) -> str:
    return f"{table.database}.{table.name}"


def _normalize_columns(columns: Sequence[Column], kind: str) -> tuple[Column, ...]:
    return tuple(
        replace(c, name=validate_name(c.name, kind), type=normalize_type(c.type)) for c in columns
    )


def _normalize_storage(storage: StorageDescriptor) -> StorageDescriptor:
    return replace(storage, columns=_normalize_columns(storage.columns, "column name"))


def _normalize_buckets(storage: StorageDescriptor) -> StorageDescriptor:
    """Bucket and sort columns in their catalog spelling, each naming a data column
    (Hive buckets and sorts by data columns, never by partition keys)."""
    if not storage.bucket_columns and not storage.sort_columns:
        return storage
    known = {c.name.lower() for c in storage.columns}
    buckets = tuple(c.lower() for c in storage.bucket_columns)
    sorts = tuple(replace(c, name=c.name.lower()) for c in storage.sort_columns)
    for name in (*buckets, *(c.name for c in sorts)):
        if name not in known:
            raise InvalidInputError(
                f"bucket or sort column {name!r} is not a column of the table "
                "(partition keys cannot be bucketed)"
            )
    if buckets and not 0 < storage.number_of_buckets <= MAX_BUCKETS:
        raise InvalidInputError(
            f"the number of buckets must be between 1 and {MAX_BUCKETS}, "
            f"not {storage.number_of_buckets}"
        )
    if any(c.order not in (0, 1) for c in sorts):
        raise InvalidInputError("a sort column's order must be 1 (ascending) or 0 (descending)")
    return replace(storage, bucket_columns=buckets, sort_columns=sorts)


def _normalize_table(table: Table) -> Table:
    """Validated names and types in their catalog spelling; no column named twice."""
    storage = _normalize_storage(table.storage)
    keys = _normalize_columns(table.partition_keys, "partition key")
    names = [c.name for c in storage.columns + keys]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise InvalidInputError(f"columns named more than once: {', '.join(duplicates)}")
    storage = _normalize_buckets(storage)
    return replace(
        table,
        database=validate_name(table.database, "database name"),
        name=validate_name(table.name, "table name"),
        storage=storage,
        partition_keys=keys,
    )


def _check_values(table: Table, values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str) or len(values) != len(table.partition_keys):
        raise InvalidInputError(
            f"table {_qualified(table)} has {len(table.partition_keys)} partition keys; "
            f"got values {values!r}"
        )
    if not all(isinstance(v, str) for v in values):
        raise InvalidInputError(f"partition values must be strings, got {values!r}")
    if any(len(v.encode()) > MAX_VALUE_BYTES for v in values):
        raise InvalidInputError(f"a partition value is longer than {MAX_VALUE_BYTES} bytes")
    if len(codec.values_key(values).encode()) > MAX_VALUES_KEY_BYTES:
        raise InvalidInputError(
            f"partition values are longer than {MAX_VALUES_KEY_BYTES} bytes together"
        )
    return tuple(values)


def _normalize_crawler(crawler: Crawler) -> Crawler:
    policy = crawler.schema_change_policy
    if policy.update_behavior not in _UPDATE_BEHAVIORS:
        raise InvalidInputError(f"unknown update behavior {policy.update_behavior!r}")
    if policy.delete_behavior not in _DELETE_BEHAVIORS:
        raise InvalidInputError(f"unknown delete behavior {policy.delete_behavior!r}")
    if crawler.recrawl_behavior not in _RECRAWL_BEHAVIORS:
        raise InvalidInputError(f"unknown recrawl behavior {crawler.recrawl_behavior!r}")
    validate_schedule(crawler.schedule)
    return replace(
        crawler,
        name=validate_name(crawler.name, "crawler name"),
        database=validate_name(crawler.database, "database name"),
        targets=tuple(crawler.targets),
    )


# --- queries ------------------------------------------------------------------------------


def _table_select() -> Any:
    return select(tables_t, databases.c.name.label("database_name")).join(
        databases, tables_t.c.database_id == databases.c.id
    )


_TABLE_BY_NAME = _table_select().where(
    databases.c.name == bindparam("database"), tables_t.c.name == bindparam("table")
)
_TABLES_PER_READ = 16
_PARTITIONS_STAMP = (
    select(tables_t.c.id, tables_t.c.create_time, tables_t.c.partitions_version)
    .join(databases, tables_t.c.database_id == databases.c.id)
    .where(databases.c.name == bindparam("database"), tables_t.c.name == bindparam("table"))
)


class _PartitionList(NamedTuple):
    """A table's partition locations and the stamp they were read under."""

    stamp: tuple[Any, ...]
    locations: tuple[PartitionLocation, ...]


def _stamp_of(row: Any) -> tuple[Any, ...]:
    """Table id, creation time and partitions version: a dropped and re-created table
    (whose id SQLite may reuse) is new from its creation time."""
    return (row["id"], row["create_time"], row["partitions_version"])


@functools.cache
def _stamps_by_names(count: int) -> Any:
    """The stamps of the tables named by ``count`` (database ``d<i>``, table ``t<i>``)
    pairs; one statement per count, built once, as ``StateDatabase.rows`` wants."""
    stamp = (tables_t.c.version_id, tables_t.c.create_time, tables_t.c.update_time)
    return (
        select(databases.c.name.label("database_name"), tables_t.c.name, *stamp)
        .join(databases, tables_t.c.database_id == databases.c.id)
        .where(
            or_(
                *(
                    and_(
                        databases.c.name == bindparam(f"d{i}"),
                        tables_t.c.name == bindparam(f"t{i}"),
                    )
                    for i in range(count)
                )
            )
        )
    )


def _upsert(conn: Connection, values: dict[str, Any]) -> Any:
    """INSERT … ON CONFLICT (run_id) DO UPDATE, in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(crawl_runs).values(**values)
    changes = {k: statement.excluded[k] for k in values if k != "run_id"}
    return statement.on_conflict_do_update(index_elements=["run_id"], set_=changes)


def _run_select() -> Any:
    return select(crawl_runs, crawlers.c.name.label("crawler_name")).outerjoin(
        crawlers, crawl_runs.c.crawler_id == crawlers.c.id
    )
