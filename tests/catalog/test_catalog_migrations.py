"""The packaged Alembic migrations: they build exactly the declared schema, run once,
and keep data across reopening."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from shoal.catalog.connection import (
    MIGRATIONS,
    alembic_config,
    create_catalog_engine,
    current_revision,
    head_revision,
    writer,
)
from shoal.catalog.model import Column, Database, Partition, StorageDescriptor, Table
from shoal.catalog.schema import metadata
from shoal.catalog.store import CatalogStore
from shoal.state_schema import register_all_tables


def test_migrations_create_exactly_the_declared_schema(catalog_url: str) -> None:
    register_all_tables()  # every service's tables, not only the catalog's
    CatalogStore(catalog_url).close()
    engine = create_engine(catalog_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_migrations_ship_inside_the_package() -> None:
    # hatchling packs everything under src/shoal, so these files are in the wheel.
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    newest = max(p.name.split("_")[0] for p in (MIGRATIONS / "versions").glob("[0-9]*.py"))
    assert head_revision() == newest


def test_reopening_keeps_data_and_does_not_migrate_again(catalog_url: str) -> None:
    with CatalogStore(catalog_url) as first:
        first.create_database(Database("sales"))
        table = Table(
            "sales",
            "events",
            StorageDescriptor("s3://x/", (Column("id", "int"),)),
            (Column("dt", "string"),),
        )
        first.create_table(table)
        first.create_partitions(
            [Partition("sales", "events", ("2024-01-01",), StorageDescriptor("s3://x/1/"))]
        )
    with CatalogStore(catalog_url) as second:
        assert second.get_table("sales", "events").version_id == 1
        assert [p.values for p in second.list_partitions("sales", "events")] == [("2024-01-01",)]
    engine = create_catalog_engine(catalog_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(catalog_url: str) -> None:
    CatalogStore(catalog_url).close()
    engine = create_catalog_engine(catalog_url)
    try:
        for target in ("base", "head"):
            with writer(engine).begin() as conn:
                getattr(command, "downgrade" if target == "base" else "upgrade")(
                    alembic_config(conn), target
                )
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
