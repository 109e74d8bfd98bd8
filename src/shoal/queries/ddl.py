"""Athena's Hive DDL and catalog statements, run against the catalog.

``HANDLERS`` maps a statement kind (``classify.classify``) to its handler; the
statement runner dispatches to it. Every handler parses its whole statement first
(``hive_ddl``), names what it touches in ``TableAccess`` values, calls
``context.authorize`` with them, and only then reads or changes the catalog, so a
refused or malformed statement changes nothing. DDL never touches data files:
DROP TABLE and DROP PARTITION leave them in place, as Athena does.

Database-wide statements (CREATE/DROP DATABASE) name the table ``"*"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from shoal.catalog.expression import partition_order_key
from shoal.catalog.model import TABLE_TYPE_VIEW, Database, Partition, Table
from shoal.catalog.store import MAX_VALUE_BYTES
from shoal.crawler.listing import ignore_reason, target_prefix
from shoal.crawler.tables import folder_uri
from shoal.errors import AlreadyExistsError, EntityNotFoundError, InvalidInputError
from shoal.queries.alter import ALTER_HANDLERS
from shoal.queries.context import StatementContext, StatementOutcome, TableAccess
from shoal.queries.hive_ddl import (
    Parser,
    TableName,
    check_new_name,
    parse_create_table,
    table_from_create,
)
from shoal.queries.show import (
    ALL_TABLES,
    SHOW_HANDLERS,
    authorize,
    lines_table,
    outcome,
    partition_name,
)
from shoal.queries.tools import Handler, StatementTools
from shoal.storage.base import parse_uri

__all__ = ["HANDLERS"]

Spec = dict[str, str]


def _write(context: StatementContext, database: str, table: str) -> list[TableAccess]:
    accesses = [TableAccess(database, table, "write")]
    authorize(context, accesses)
    return accesses


# --- databases ---------------------------------------------------------------------------------


def create_database(
    runner: StatementTools, sql: str, context: StatementContext
) -> StatementOutcome:
    """``CREATE DATABASE|SCHEMA [IF NOT EXISTS] db [COMMENT '…'] [LOCATION 's3://…']
    [WITH DBPROPERTIES ('k'='v', …)]``."""
    p = Parser(sql)
    p.expect("CREATE")
    if not p.accept("DATABASE"):
        p.expect("SCHEMA")
    if_not_exists = p.accept("IF", "NOT", "EXISTS")
    name = check_new_name(p.identifier("a database name"), "database name")
    comment = p.string("a comment") if p.accept("COMMENT") else None
    location = p.string("a location") if p.accept("LOCATION") else None
    properties = p.properties("database property") if p.accept("WITH", "DBPROPERTIES") else {}
    p.end()
    if location is not None:
        parse_uri(location)
    accesses = _write(context, name, ALL_TABLES)
    try:
        runner.catalog.create_database(Database(name, comment, location, properties))
    except AlreadyExistsError:
        if not if_not_exists:
            raise AlreadyExistsError(f"Database {name} already exists") from None
    return outcome("CREATE_DATABASE", None, accesses)


def drop_database(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``DROP DATABASE|SCHEMA [IF EXISTS] db [RESTRICT|CASCADE]``; RESTRICT (the
    default) refuses a database that still has tables."""
    p = Parser(sql)
    p.expect("DROP")
    if not p.accept("DATABASE"):
        p.expect("SCHEMA")
    if_exists = p.accept("IF", "EXISTS")
    name = p.identifier("a database name").lower()
    cascade = p.accept("CASCADE")
    if not cascade:
        p.accept("RESTRICT")
    p.end()
    if name == "default":
        raise InvalidInputError("Can not drop default database")
    accesses = _write(context, name, ALL_TABLES)
    try:
        tables = runner.catalog.list_tables(name)
    except EntityNotFoundError:
        if if_exists:
            return outcome("DROP_DATABASE", None, accesses)
        raise EntityNotFoundError(f"Database does not exist: {name}") from None
    if tables and not cascade:
        raise InvalidInputError(f"Database {name} is not empty. One or more tables exist.")
    runner.catalog.delete_database(name)
    return outcome("DROP_DATABASE", None, accesses)


# --- tables ------------------------------------------------------------------------------------


def create_table(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``CREATE EXTERNAL TABLE`` in Athena's Hive DDL (see ``hive_ddl``)."""
    stmt = parse_create_table(sql)
    database, name = stmt.name.resolve(context.database)
    table = table_from_create(stmt, database)
    accesses = _write(context, database, name)
    try:
        runner.catalog.create_table(table)
    except AlreadyExistsError:
        if not stmt.if_not_exists:
            raise AlreadyExistsError(f"Table {database}.{name} already exists") from None
    return outcome("CREATE_TABLE", None, accesses)


def drop_table(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``DROP TABLE [IF EXISTS] [db.]t``: the catalog entry goes, the files stay."""
    p = Parser(sql)
    p.expect("DROP", "TABLE")
    if_exists = p.accept("IF", "EXISTS")
    database, name = p.table_name().resolve(context.database)
    if p.at("PURGE"):
        raise p.unsupported("PURGE (shoal never deletes a table's data files)")
    p.end()
    accesses = _write(context, database, name)
    try:
        table = runner.catalog.get_table(database, name)
    except EntityNotFoundError:
        if if_exists:
            return outcome("DROP_TABLE", None, accesses)
        raise
    if table.table_type == TABLE_TYPE_VIEW:
        raise InvalidInputError(f"{database}.{name} is a view; use DROP VIEW")
    runner.catalog.delete_table(database, name)
    return outcome("DROP_TABLE", None, accesses)


def _partitioned_table(
    runner: StatementTools, context: StatementContext, name: TableName
) -> tuple[Table, list[TableAccess]]:
    database, table_name = name.resolve(context.database)
    accesses = _write(context, database, table_name)
    table = runner.catalog.get_table(database, table_name)
    if table.table_type == TABLE_TYPE_VIEW or not table.partition_keys:
        raise InvalidInputError(f"Table {database}.{table_name} is not a partitioned table")
    return table, accesses


# --- partitions --------------------------------------------------------------------------------


def _partition_spec(p: Parser) -> Spec:
    """``PARTITION (k='v', …)`` as written: keys lowercased, values verbatim."""
    p.expect("PARTITION")
    p.expect_symbol("(")
    spec: Spec = {}
    while True:
        token = p.peek()
        key = p.identifier("a partition key").lower()
        if p.peek().value in ("<", ">", "<=", ">=", "<>", "!="):
            raise p.unsupported(f"comparison {p.peek().value!r} in a partition spec")
        p.expect_symbol("=")
        if key in spec:
            raise p.error(f"partition key {key!r} is given twice", token)
        number = p.peek().kind == "word" and p.peek().value.isdigit()
        spec[key] = p.advance().value if number else p.string("a partition value")
        if not p.accept_symbol(","):
            break
    p.expect_symbol(")")
    return spec


def add_partitions(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k='v', …) [LOCATION '…'] …``.

    A partition without LOCATION lives at ``<table location>/k=v/…/``; partitions
    inherit the table's columns and format. All are added, or none.
    """
    p = Parser(sql)
    p.expect("ALTER", "TABLE")
    name = p.table_name()
    p.expect("ADD")
    if_not_exists = p.accept("IF", "NOT", "EXISTS")
    given: list[tuple[Spec, str | None]] = []
    while p.at("PARTITION"):
        spec = _partition_spec(p)
        given.append((spec, p.string("a location") if p.accept("LOCATION") else None))
    p.end()
    table, accesses = _partitioned_table(runner, context, name)
    partitions = [_new_partition(table, spec, location) for spec, location in given]
    if if_not_exists:
        partitions = _absent(runner, table, partitions)
    runner.catalog.create_partitions(partitions)
    return outcome("ALTER_TABLE_ADD_PARTITION", None, accesses)


def _new_partition(table: Table, spec: Spec, location: str | None) -> Partition:
    values = _full_values(table, spec)
    if location is None:
        location = _join(table.storage.location, partition_name(table.partition_keys, values))
    parse_uri(location)
    storage = replace(table.storage, location=location)
    return Partition(table.database, table.name, values, storage)


def _join(location: str, folder: str) -> str:
    return location.rstrip("/") + "/" + folder + "/"


def _full_values(table: Table, spec: Spec) -> tuple[str, ...]:
    _check_keys(table, spec)
    keys = [k.name for k in table.partition_keys]
    if missing := [k for k in keys if k not in spec]:
        raise InvalidInputError(f"partition spec {spec} is missing partition keys {missing}")
    if empty := [k for k in keys if spec[k] == ""]:
        raise InvalidInputError(f"partition values of {empty} must not be empty")
    return tuple(spec[k] for k in keys)


def _check_keys(table: Table, spec: Spec) -> None:
    keys = [k.name for k in table.partition_keys]
    if unknown := [k for k in spec if k not in keys]:
        raise InvalidInputError(
            f"{', '.join(unknown)} not a partition key of {table.database}.{table.name} "
            f"(partition keys: {', '.join(keys)})"
        )


def _absent(
    runner: StatementTools, table: Table, partitions: Sequence[Partition]
) -> list[Partition]:
    existing = {p.values for p in runner.catalog.list_partitions(table.database, table.name)}
    unique = {p.values: p for p in partitions if p.values not in existing}
    return list(unique.values())


def drop_partitions(
    runner: StatementTools, sql: str, context: StatementContext
) -> StatementOutcome:
    """``ALTER TABLE t DROP [IF EXISTS] PARTITION (k='v', …) [, PARTITION (…)]…``.

    A spec naming only some keys drops every partition it matches, as Hive does.
    Without IF EXISTS, a spec matching nothing fails the statement.
    """
    p = Parser(sql)
    p.expect("ALTER", "TABLE")
    name = p.table_name()
    p.expect("DROP")
    if_exists = p.accept("IF", "EXISTS")
    specs = [_partition_spec(p)]
    while p.accept_symbol(","):
        specs.append(_partition_spec(p))
    if p.at("PURGE"):
        raise p.unsupported("PURGE (shoal never deletes a partition's data files)")
    p.end()
    table, accesses = _partitioned_table(runner, context, name)
    for spec in specs:
        _check_keys(table, spec)
    existing = runner.catalog.list_partitions(table.database, table.name)
    doomed: list[tuple[str, ...]] = []
    for spec in specs:
        matches = [p.values for p in existing if _matches(table, spec, p.values)]
        if not matches and not if_exists:
            raise EntityNotFoundError(
                f"No partition matches {spec} in table {table.database}.{table.name}"
            )
        doomed += matches
    runner.catalog.delete_partitions(table.database, table.name, doomed, missing_ok=True)
    return outcome("ALTER_TABLE_DROP_PARTITION", None, accesses)


def _matches(table: Table, spec: Spec, values: Sequence[str]) -> bool:
    keys = [k.name for k in table.partition_keys]
    return all(values[keys.index(k)] == v for k, v in spec.items())


# --- MSCK REPAIR TABLE -------------------------------------------------------------------------


def repair_table(runner: StatementTools, sql: str, context: StatementContext) -> StatementOutcome:
    """``MSCK REPAIR TABLE t``: add the ``k=v`` folders under the table's location that
    the catalog lacks.

    Only folders whose names are ``key=value`` for the table's partition keys, in
    order, count; values are %XX-unescaped as Hive does and otherwise kept verbatim.
    Other folders are reported and skipped. Output rows follow Hive's messages.
    """
    p = Parser(sql)
    p.expect("MSCK", "REPAIR", "TABLE")
    name = p.table_name()
    if p.at("ADD") or p.at("DROP") or p.at("SYNC"):
        raise p.unsupported(f"MSCK REPAIR TABLE … {p.peek().value.upper()} PARTITIONS")
    p.end()
    table, accesses = _partitioned_table(runner, context, name)
    found, skipped = _partition_folders(runner, table)
    existing = {p.values for p in runner.catalog.list_partitions(table.database, table.name)}
    order = partition_order_key(table.partition_keys)
    new = sorted((v for v in found if v not in existing), key=order)
    runner.catalog.create_partitions(
        Partition(table.database, table.name, v, replace(table.storage, location=found[v]))
        for v in new
    )
    names = [f"{table.name}:{partition_name(table.partition_keys, v)}" for v in new]
    lines = ["Partitions not in metastore:\t" + "\t".join(names)] if names else []
    lines += [f"Repair: Added partition to metastore {n}" for n in names]
    lines += [f"Skipped invalid partition path: {s}" for s in sorted(skipped)]
    return outcome("MSCK_REPAIR_TABLE", lines_table("result", lines), accesses)


def _partition_folders(
    runner: StatementTools, table: Table
) -> tuple[dict[tuple[str, ...], str], set[str]]:
    """Partition values -> folder URI for every valid partition folder holding a file,
    and the folders that are not valid partition paths."""
    bucket, key = parse_uri(table.storage.location)
    prefix = target_prefix(key)
    depth = len(table.partition_keys)
    found: dict[tuple[str, ...], str] = {}
    skipped: set[str] = set()
    for obj in runner.storage.walk(bucket, prefix):
        rel = obj.key[len(prefix) :]
        folders = rel.split("/")[:-1]
        if not folders or ignore_reason(rel) is not None:
            continue  # files at the table root, markers and hidden files are no partition
        values = _folder_values(table, folders[:depth])
        if values is None:
            skipped.add("/".join(folders[:depth]))
        else:
            found.setdefault(values, folder_uri(bucket, prefix + "/".join(folders[:depth])))
    return found, skipped


def _folder_values(table: Table, folders: Sequence[str]) -> tuple[str, ...] | None:
    if len(folders) != len(table.partition_keys):
        return None
    values = []
    for folder, key in zip(folders, table.partition_keys, strict=True):
        name, eq, value = folder.partition("=")
        value = _unescape_path(value)
        if not eq or name.lower() != key.name or not value:
            return None
        if len(value.encode()) > MAX_VALUE_BYTES:
            return None
        values.append(value)
    return tuple(values)


def _unescape_path(text: str) -> str:
    # Hive's FileUtils.unescapePathName: %XX (two hex digits) is one character.
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


HANDLERS: dict[str, Handler] = {
    **SHOW_HANDLERS,
    "CREATE_DATABASE": create_database,
    "DROP_DATABASE": drop_database,
    "CREATE_TABLE": create_table,
    "DROP_TABLE": drop_table,
    "ALTER_TABLE_ADD_PARTITION": add_partitions,
    "ALTER_TABLE_DROP_PARTITION": drop_partitions,
    "MSCK_REPAIR_TABLE": repair_table,
    **ALTER_HANDLERS,
}
