"""The catalog store: databases, tables, partitions, table versions, crawlers and runs,
persisted through SQLAlchemy in SQLite (embedded default) or PostgreSQL.

SKELETON: signatures are the contract; bodies are being written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shoal.catalog.model import (
    Crawler,
    CrawlRun,
    Database,
    Partition,
    Table,
    TableVersion,
)


class CatalogStore:
    """The Glue Data Catalog's model, stored in a SQL database.

    Names are validated (``catalog.names.validate_name``) and stored lowercase;
    column types are validated with ``catalog.types.parse_type``. Every change to a
    table bumps ``version_id`` and keeps the previous version.
    """

    def __init__(self, url: str) -> None:
        """Open (and migrate to the newest schema) the catalog at SQLAlchemy ``url``."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # databases
    def create_database(self, database: Database) -> Database:
        raise NotImplementedError

    def get_database(self, name: str) -> Database:
        raise NotImplementedError

    def list_databases(self) -> list[Database]:
        raise NotImplementedError

    def update_database(self, name: str, database: Database) -> Database:
        raise NotImplementedError

    def delete_database(self, name: str) -> None:
        """Delete a database with its tables, partitions and versions."""
        raise NotImplementedError

    # tables
    def create_table(self, table: Table) -> Table:
        raise NotImplementedError

    def get_table(self, database: str, name: str) -> Table:
        raise NotImplementedError

    def list_tables(self, database: str, pattern: str | None = None) -> list[Table]:
        """Tables of ``database`` sorted by name; ``pattern`` is Glue's Expression
        (a regular expression over the name, ``*`` as wildcard)."""
        raise NotImplementedError

    def update_table(self, table: Table, expected_version: int | None = None) -> Table:
        """Store a new version of ``table``; raises ConcurrentModificationError when
        ``expected_version`` is given and is not the current version."""
        raise NotImplementedError

    def delete_table(self, database: str, name: str) -> None:
        raise NotImplementedError

    def list_table_versions(self, database: str, name: str) -> list[TableVersion]:
        """Every version of a table, newest first."""
        raise NotImplementedError

    # partitions
    def create_partitions(self, partitions: Iterable[Partition]) -> list[Partition]:
        raise NotImplementedError

    def get_partition(self, database: str, table: str, values: Sequence[str]) -> Partition:
        raise NotImplementedError

    def list_partitions(
        self, database: str, table: str, expression: str | None = None
    ) -> list[Partition]:
        """Partitions in value order, filtered by a Glue GetPartitions expression."""
        raise NotImplementedError

    def update_partition(self, partition: Partition) -> Partition:
        raise NotImplementedError

    def delete_partitions(
        self, database: str, table: str, values_list: Iterable[Sequence[str]]
    ) -> None:
        raise NotImplementedError

    # crawlers and runs
    def create_crawler(self, crawler: Crawler) -> Crawler:
        raise NotImplementedError

    def get_crawler(self, name: str) -> Crawler:
        raise NotImplementedError

    def list_crawlers(self) -> list[Crawler]:
        raise NotImplementedError

    def update_crawler(self, crawler: Crawler) -> Crawler:
        raise NotImplementedError

    def delete_crawler(self, name: str) -> None:
        raise NotImplementedError

    def set_crawler_state(self, name: str, expected: str, new: str) -> Crawler:
        """Compare-and-set the crawler's state; raises CrawlerRunningError when the
        current state is not ``expected``."""
        raise NotImplementedError

    def save_run(self, run: CrawlRun) -> CrawlRun:
        """Insert or replace a crawl run record."""
        raise NotImplementedError

    def get_run(self, run_id: str) -> CrawlRun:
        raise NotImplementedError

    def list_runs(self, crawler: str | None = None, limit: int = 100) -> list[CrawlRun]:
        """Runs newest first, optionally of one crawler."""
        raise NotImplementedError
