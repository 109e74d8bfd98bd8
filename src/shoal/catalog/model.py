"""The catalog's values: databases, tables, partitions, as the Glue Data Catalog models them.

These are plain frozen dataclasses. The store (``catalog/store.py``) persists them;
the API layer renders them to Glue's wire shapes; the crawler and query planner
read them. Field names follow Glue's (``StorageDescriptor``, ``SerdeInfo`` …) in
snake_case so the mapping stays obvious.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple


def _frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Column:
    """A column: a name and a type in Hive/Athena syntax (``bigint``, ``array<string>``…)."""

    name: str
    type: str
    comment: str | None = None


@dataclass(frozen=True)
class SerDeInfo:
    """How rows are (de)serialised: the SerDe library and its parameters."""

    serialization_library: str | None = None
    parameters: Mapping[str, str] = field(default_factory=_frozen)


@dataclass(frozen=True)
class SortColumn:
    """A column a bucketed table's files are sorted by: ``order`` 1 ascending, 0 descending
    (Glue's ``Order``)."""

    name: str
    order: int = 1


@dataclass(frozen=True)
class StorageDescriptor:
    """Where a table's or partition's data lives and how it is laid out.

    ``bucket_columns`` / ``number_of_buckets`` / ``sort_columns`` are Hive bucketing
    (``CLUSTERED BY (…) SORTED BY (…) INTO n BUCKETS``); ``number_of_buckets`` is -1
    for a table that is not bucketed, as Glue reports it.
    """

    location: str
    columns: tuple[Column, ...] = ()
    input_format: str | None = None
    output_format: str | None = None
    compressed: bool = False
    serde: SerDeInfo = field(default_factory=SerDeInfo)
    parameters: Mapping[str, str] = field(default_factory=_frozen)
    bucket_columns: tuple[str, ...] = ()
    number_of_buckets: int = -1
    sort_columns: tuple[SortColumn, ...] = ()

    @property
    def bucketed(self) -> bool:
        """Whether rows are spread over ``number_of_buckets`` files by ``bucket_columns``."""
        return bool(self.bucket_columns) and self.number_of_buckets > 0


@dataclass(frozen=True)
class Database:
    name: str
    description: str | None = None
    location_uri: str | None = None
    parameters: Mapping[str, str] = field(default_factory=_frozen)
    create_time: datetime | None = None


TABLE_TYPE_EXTERNAL = "EXTERNAL_TABLE"
TABLE_TYPE_VIEW = "VIRTUAL_VIEW"


@dataclass(frozen=True)
class Table:
    """A table (or view) in a database.

    ``parameters`` holds what Glue keeps in ``Table.Parameters``: ``classification``,
    ``recordCount``, ``UPDATED_BY_CRAWLER`` and so on. ``version_id`` increases by one
    with every change; the store keeps every earlier version.
    """

    database: str
    name: str
    storage: StorageDescriptor
    partition_keys: tuple[Column, ...] = ()
    table_type: str = TABLE_TYPE_EXTERNAL
    parameters: Mapping[str, str] = field(default_factory=_frozen)
    description: str | None = None
    owner: str | None = None
    view_original_text: str | None = None
    view_expanded_text: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    version_id: int = 0

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.storage.columns

    @property
    def stamp(self) -> TableStamp:
        return TableStamp(self.version_id, self.create_time, self.update_time)

    @property
    def classification(self) -> str | None:
        return self.parameters.get("classification")


@dataclass(frozen=True)
class TableStamp:
    """What changes whenever a table does: every update raises its version and sets
    its update time; a table dropped and created again is new from its times."""

    version_id: int
    create_time: datetime | None
    update_time: datetime | None


@dataclass(frozen=True)
class Partition:
    """One partition: its values (in partition-key order) and its own storage.

    ``storage.columns`` may differ from the table's when a crawler saw drift.
    """

    database: str
    table: str
    values: tuple[str, ...]
    storage: StorageDescriptor
    parameters: Mapping[str, str] = field(default_factory=_frozen)
    create_time: datetime | None = None
    last_access_time: datetime | None = None


class PartitionLocation(NamedTuple):
    """What a query plan needs of a partition: its values and where its files are."""

    values: tuple[str, ...]
    location: str


@dataclass(frozen=True)
class TableVersion:
    """A table as it was at one version."""

    version_id: int
    table: Table


# --- crawlers -------------------------------------------------------------------------

UPDATE_IN_DATABASE = "UPDATE_IN_DATABASE"
LOG = "LOG"
DELETE_FROM_DATABASE = "DELETE_FROM_DATABASE"
DEPRECATE_IN_DATABASE = "DEPRECATE_IN_DATABASE"
CRAWL_EVERYTHING = "CRAWL_EVERYTHING"
CRAWL_NEW_FOLDERS_ONLY = "CRAWL_NEW_FOLDERS_ONLY"


@dataclass(frozen=True)
class CrawlTarget:
    """One storage path a crawler reads, with exclusion globs and a per-folder sample size."""

    path: str
    exclusions: tuple[str, ...] = ()
    sample_size: int | None = None


@dataclass(frozen=True)
class SchemaChangePolicy:
    update_behavior: str = UPDATE_IN_DATABASE  # or LOG
    delete_behavior: str = DEPRECATE_IN_DATABASE  # or DELETE_FROM_DATABASE, LOG


@dataclass(frozen=True)
class Crawler:
    """A stored crawler definition (Glue's ``Crawler``).

    ``state`` is READY, RUNNING or STOPPING; the store changes it with a
    compare-and-set so two runs of one crawler never overlap.
    """

    name: str
    database: str
    targets: tuple[CrawlTarget, ...]
    table_prefix: str = ""
    schema_change_policy: SchemaChangePolicy = field(default_factory=SchemaChangePolicy)
    recrawl_behavior: str = CRAWL_EVERYTHING  # or CRAWL_NEW_FOLDERS_ONLY
    schedule: str | None = None  # cron expression, five fields
    schedule_paused: bool = False  # StopCrawlerSchedule; StartCrawlerSchedule resumes
    description: str | None = None
    configuration: str | None = None  # Glue's JSON Configuration string, kept verbatim
    role: str | None = None  # Glue's IAM role name/ARN, kept for clients that read it back
    state: str = "READY"
    create_time: datetime | None = None
    update_time: datetime | None = None
    version: int = 1


RUN_RUNNING = "RUNNING"
RUN_SUCCEEDED = "SUCCEEDED"
RUN_FAILED = "FAILED"
RUN_CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class CrawlRun:
    """One crawl: what it did, what it read, and a human-readable log of each decision."""

    id: str
    crawler: str | None  # None for an ad hoc crawl of one path
    state: str
    start_time: datetime
    end_time: datetime | None = None
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_added: int = 0
    partitions_updated: int = 0
    partitions_deleted: int = 0
    files_read: int = 0
    bytes_read: int = 0
    error_message: str | None = None
    log: tuple[str, ...] = ()
    dry_run: bool = False
