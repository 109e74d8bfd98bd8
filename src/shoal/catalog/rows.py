"""Catalog values to and from rows of the store's tables (``catalog.schema``).

Rows come back from SQLAlchemy as mappings; nested values go through ``codec``.
"""

from __future__ import annotations

from typing import Any

from shoal.catalog import codec
from shoal.catalog.model import Crawler, CrawlRun, Database, Partition, Table


def database_values(database: Database) -> dict[str, Any]:
    """Column values of a ``databases`` row."""
    return {
        "name": database.name,
        "description": database.description,
        "location_uri": database.location_uri,
        "parameters": codec.params_to_json(database.parameters),
        "create_time": database.create_time,
    }


def database_from_row(row: Any) -> Database:
    """A Database from a ``databases`` row."""
    return Database(
        name=row["name"],
        description=row["description"],
        location_uri=row["location_uri"],
        parameters=codec.frozen_map(row["parameters"]),
        create_time=row["create_time"],
    )


def table_values(table: Table) -> dict[str, Any]:
    """Column values of a ``tables`` row (without ``database_id``)."""
    return {
        "name": table.name,
        "table_type": table.table_type,
        "version_id": table.version_id,
        "storage": codec.storage_to_json(table.storage),
        "partition_keys": codec.columns_to_json(table.partition_keys),
        "parameters": codec.params_to_json(table.parameters),
        "description": table.description,
        "owner": table.owner,
        "view_original_text": table.view_original_text,
        "view_expanded_text": table.view_expanded_text,
        "create_time": table.create_time,
        "update_time": table.update_time,
    }


def table_from_row(row: Any) -> Table:
    """A Table from a ``tables`` row joined with its ``database_name``."""
    return Table(
        database=row["database_name"],
        name=row["name"],
        storage=codec.storage_from_json(row["storage"]),
        partition_keys=codec.columns_from_json(row["partition_keys"]),
        table_type=row["table_type"],
        parameters=codec.frozen_map(row["parameters"]),
        description=row["description"],
        owner=row["owner"],
        view_original_text=row["view_original_text"],
        view_expanded_text=row["view_expanded_text"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        version_id=row["version_id"],
    )


def partition_from_row(row: Any, database: str, table: str) -> Partition:
    """A Partition from a ``partitions`` row of ``database.table``."""
    return Partition(
        database=database,
        table=table,
        values=tuple(row["values"]),
        storage=codec.storage_from_json(row["storage"]),
        parameters=codec.frozen_map(row["parameters"]),
        create_time=row["create_time"],
        last_access_time=row["last_access_time"],
    )


def crawler_values(crawler: Crawler) -> dict[str, Any]:
    """Column values of a ``crawlers`` row."""
    return {
        "name": crawler.name,
        "database_name": crawler.database,
        "definition": codec.crawler_definition_to_json(crawler),
        "state": crawler.state,
        "version": crawler.version,
        "create_time": crawler.create_time,
        "update_time": crawler.update_time,
    }


def crawler_from_row(row: Any) -> Crawler:
    """A Crawler from a ``crawlers`` row."""
    return Crawler(
        name=row["name"],
        database=row["database_name"],
        state=row["state"],
        version=row["version"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        **codec.crawler_definition_from_json(row["definition"]),
    )


_RUN_COUNTERS = (
    "tables_created",
    "tables_updated",
    "tables_deleted",
    "partitions_added",
    "partitions_updated",
    "partitions_deleted",
    "files_read",
    "bytes_read",
)


def run_values(run: CrawlRun, crawler_id: int | None) -> dict[str, Any]:
    """Column values of a ``crawl_runs`` row."""
    return {
        "run_id": run.id,
        "crawler_id": crawler_id,
        "state": run.state,
        "start_time": run.start_time,
        "end_time": run.end_time,
        **{name: int(getattr(run, name)) for name in _RUN_COUNTERS},
        "error_message": run.error_message,
        "log": list(run.log),
        "dry_run": run.dry_run,
    }


def run_from_row(row: Any) -> CrawlRun:
    """A CrawlRun from a ``crawl_runs`` row joined with its ``crawler_name``."""
    return CrawlRun(
        id=row["run_id"],
        crawler=row["crawler_name"],
        state=row["state"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        **{name: row[name] for name in _RUN_COUNTERS},
        error_message=row["error_message"],
        log=tuple(row["log"]),
        dry_run=bool(row["dry_run"]),
    )
