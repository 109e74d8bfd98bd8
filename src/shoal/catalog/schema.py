"""The catalog's tables in SQL, as SQLAlchemy Core metadata (SQLite and PostgreSQL).

Queryable identity (names, versions, states, times) lives in plain columns; nested
values (storage descriptors, parameters, partition values, crawler definitions) live
in JSON columns encoded by ``catalog.codec``. Every entity has an integer surrogate
key, so renaming a database never rewrites its tables, and children reference their
parent with ``ON DELETE CASCADE``.

The Alembic migrations in ``catalog/migrations`` must create exactly this schema;
``tests/catalog/test_catalog_migrations.py`` compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Explicit constraint names keep migrations, reflection and autogenerate in step.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

NAME_LENGTH = 255  # Glue's limit for every catalog name, in bytes.


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zones: values are stored as naive UTC and given back with
    ``tzinfo=UTC``. Naive values from callers are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """UTC on the way in; naive for SQLite."""
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Always timezone-aware UTC on the way out."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _name() -> Column[str]:
    return Column("name", String(NAME_LENGTH), nullable=False)


def _parent(column: str, target: str, *, nullable: bool = False) -> Column[int]:
    return Column(column, Integer, ForeignKey(target, ondelete="CASCADE"), nullable=nullable)


databases = Table(
    "databases",
    metadata,
    Column("id", Integer, primary_key=True),
    _name(),
    Column("description", Text),
    Column("location_uri", Text),
    Column("parameters", JSON, nullable=False),
    Column("create_time", UTCDateTime, nullable=False),
    UniqueConstraint("name"),
)

tables = Table(
    "tables",
    metadata,
    Column("id", Integer, primary_key=True),
    _parent("database_id", "databases.id"),
    _name(),
    Column("table_type", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    # Raised by every partition write: what a cached partition list is checked against.
    Column("partitions_version", Integer, nullable=False, server_default="0"),
    Column("storage", JSON, nullable=False),
    Column("partition_keys", JSON, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("description", Text),
    Column("owner", Text),
    Column("view_original_text", Text),
    Column("view_expanded_text", Text),
    Column("create_time", UTCDateTime, nullable=False),
    Column("update_time", UTCDateTime, nullable=False),
    UniqueConstraint("database_id", "name"),
)

table_versions = Table(
    "table_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    _parent("table_id", "tables.id"),
    Column("version_id", Integer, nullable=False),
    Column("snapshot", JSON, nullable=False),  # the whole Table, as codec.table_to_json
    Column("create_time", UTCDateTime, nullable=False),
    UniqueConstraint("table_id", "version_id"),
)

partitions = Table(
    "partitions",
    metadata,
    Column("id", Integer, primary_key=True),
    _parent("table_id", "tables.id"),
    Column("values", JSON, nullable=False),
    # Canonical JSON text of ``values``: JSON columns cannot carry a unique index on
    # every backend, a text column can.
    Column("values_key", Text, nullable=False),
    Column("storage", JSON, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("create_time", UTCDateTime, nullable=False),
    Column("last_access_time", UTCDateTime),
    UniqueConstraint("table_id", "values_key"),
)

crawlers = Table(
    "crawlers",
    metadata,
    Column("id", Integer, primary_key=True),
    _name(),
    # Not a foreign key: a crawler may name a database it has yet to create.
    Column("database_name", String(NAME_LENGTH), nullable=False),
    Column("definition", JSON, nullable=False),  # codec.crawler_definition_to_json
    Column("state", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("create_time", UTCDateTime, nullable=False),
    Column("update_time", UTCDateTime, nullable=False),
    UniqueConstraint("name"),
)

crawl_runs = Table(
    "crawl_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(NAME_LENGTH), nullable=False),
    # NULL for an ad hoc crawl; a crawler's runs go with it.
    _parent("crawler_id", "crawlers.id", nullable=True),
    Column("state", String(32), nullable=False),
    Column("start_time", UTCDateTime, nullable=False),
    Column("end_time", UTCDateTime),
    Column("tables_created", Integer, nullable=False),
    Column("tables_updated", Integer, nullable=False),
    Column("tables_deleted", Integer, nullable=False),
    Column("partitions_added", Integer, nullable=False),
    Column("partitions_updated", Integer, nullable=False),
    Column("partitions_deleted", Integer, nullable=False),
    Column("files_read", BigInteger, nullable=False),
    Column("bytes_read", BigInteger, nullable=False),
    Column("error_message", Text),
    Column("log", JSON, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    UniqueConstraint("run_id"),
    Index("ix_crawl_runs_crawler_id_start_time", "crawler_id", "start_time"),
)
