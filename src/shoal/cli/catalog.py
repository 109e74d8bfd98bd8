"""``shoal catalog …``: look at and tidy the catalog."""

from __future__ import annotations

from typing import Any

import click

from shoal.catalog.model import Database, Partition, Table
from shoal.cli.context import AppContext, output_option, pass_app
from shoal.cli.output import emit, emit_object


@click.group("catalog")
def catalog_group() -> None:
    """Databases, tables, partitions and table versions in the catalog."""


@catalog_group.command("databases")
@output_option
@pass_app
def databases(ctx: AppContext, output: str) -> None:
    """List databases."""
    rows = [_database_row(db) for db in ctx.app.catalog.list_databases()]
    emit(rows, output, ["name", "description", "location_uri"])


@catalog_group.command("create-database")
@click.argument("name")
@click.option("--description")
@click.option("--location", help="Default location (s3://bucket/prefix/).")
@pass_app
def create_database(
    ctx: AppContext, name: str, description: str | None, location: str | None
) -> None:
    """Create a database."""
    db = ctx.app.catalog.create_database(
        Database(name=name, description=description, location_uri=location)
    )
    click.echo(f"created database {db.name}")


@catalog_group.command("drop-database")
@click.argument("name")
@pass_app
def drop_database(ctx: AppContext, name: str) -> None:
    """Delete a database with all its tables and partitions (data files stay)."""
    ctx.app.catalog.delete_database(name)
    click.echo(f"dropped database {name}")


@catalog_group.command("tables")
@click.argument("database")
@click.option("--pattern", help="Glue expression over table names, e.g. 'trip*'.")
@output_option
@pass_app
def tables(ctx: AppContext, database: str, pattern: str | None, output: str) -> None:
    """List the tables of DATABASE."""
    found = ctx.app.catalog.list_tables(database, pattern)
    if output == "json":
        emit([table_view(t) for t in found], output, [])
        return
    rows = [
        {
            "name": t.name,
            "type": t.table_type,
            "classification": t.classification,
            "columns": len(t.columns),
            "partition_keys": ",".join(k.name for k in t.partition_keys),
            "location": t.storage.location,
        }
        for t in found
    ]
    emit(rows, output, ["name", "classification", "columns", "partition_keys", "location"])


@catalog_group.command("table")
@click.argument("database")
@click.argument("table")
@output_option
@pass_app
def show_table(ctx: AppContext, database: str, table: str, output: str) -> None:
    """Show one table: columns, partition keys, format and parameters."""
    emit_object(table_view(ctx.app.catalog.get_table(database, table)), output)


@catalog_group.command("drop-table")
@click.argument("database")
@click.argument("table")
@pass_app
def drop_table(ctx: AppContext, database: str, table: str) -> None:
    """Delete a table and its partitions from the catalog (data files stay)."""
    ctx.app.catalog.delete_table(database, table)
    click.echo(f"dropped table {database}.{table}")


@catalog_group.command("partitions")
@click.argument("database")
@click.argument("table")
@click.option("--expression", "-e", help="Filter, e.g. \"year = '2024' AND month IN ('01')\".")
@output_option
@pass_app
def partitions(
    ctx: AppContext, database: str, table: str, expression: str | None, output: str
) -> None:
    """List the partitions of a table."""
    found = ctx.app.catalog.list_partitions(database, table, expression)
    keys = [k.name for k in ctx.app.catalog.get_table(database, table).partition_keys]
    emit([_partition_row(p, keys) for p in found], output, [*keys, "location"])


@catalog_group.command("versions")
@click.argument("database")
@click.argument("table")
@output_option
@pass_app
def versions(ctx: AppContext, database: str, table: str, output: str) -> None:
    """List the versions of a table, newest first."""
    rows = [
        {
            "version": v.version_id,
            "updated": v.table.update_time,
            "columns": ", ".join(f"{c.name} {c.type}" for c in v.table.columns),
        }
        for v in ctx.app.catalog.list_table_versions(database, table)
    ]
    emit(rows, output, ["version", "updated", "columns"])


def table_view(table: Table) -> dict[str, Any]:
    """A table as people (and ``--output json``) see it."""
    sd = table.storage
    return {
        "database": table.database,
        "name": table.name,
        "type": table.table_type,
        "location": sd.location,
        "columns": [{"name": c.name, "type": c.type} for c in sd.columns],
        "partition_keys": [{"name": c.name, "type": c.type} for c in table.partition_keys],
        "input_format": sd.input_format,
        "output_format": sd.output_format,
        "serde": sd.serde.serialization_library,
        "serde_parameters": dict(sd.serde.parameters),
        "parameters": dict(table.parameters),
        "version": table.version_id,
        "created": table.create_time,
        "updated": table.update_time,
    }


def _database_row(db: Database) -> dict[str, Any]:
    return {
        "name": db.name,
        "description": db.description,
        "location_uri": db.location_uri,
        "created": db.create_time,
    }


def _partition_row(partition: Partition, keys: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = dict(zip(keys, partition.values, strict=True))
    row["location"] = partition.storage.location
    row["values"] = list(partition.values)
    return row


COMMANDS = [catalog_group]
