"""``information_schema``: the catalog as tables a query reads (Trino's, as Athena has).

``schemata``, ``tables``, ``columns`` and ``views`` are built from the catalog when a
query names them and inlined into it as ``VALUES``, holding only what the caller's
listings may show (``StatementContext.visible``, as for ``SHOW TABLES``). They depend
on the caller and on the whole catalog, so such queries skip the prepared-query cache.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from sqlglot import exp

from shoal.catalog.model import TABLE_TYPE_VIEW, Database, Table
from shoal.catalog.store import CatalogStore
from shoal.engine.athena import DATA_CATALOG, table_nodes
from shoal.errors import InvalidInputError, TableNotFoundError
from shoal.queries.planner import trino_type, view_definition

SCHEMA = "information_schema"
_MENTION = re.compile(r"\binformation_schema\b", re.IGNORECASE)

Row = tuple[str | int | None, ...]


class Listings(Protocol):
    """What the caller's listings may show (``runner.Visibility``)."""

    @property
    def tables(self) -> Callable[[Sequence[Table]], list[Table]]: ...

    @property
    def databases(self) -> Callable[[Sequence[Database]], list[Database]]: ...


def mentioned(sql: str) -> bool:
    """Whether ``sql`` may read ``information_schema`` (a cheap test on the text)."""
    return _MENTION.search(sql) is not None


def inline(
    tree: exp.Expr, catalog: CatalogStore, database: str, visible: Listings | None
) -> exp.Expr:
    """``tree`` with each ``information_schema`` table replaced by its rows, holding
    what ``visible`` keeps (everything when None); ``database``: the default one.

    Raises:
        TableNotFoundError: an ``information_schema`` table Athena does not have.
    """
    for node, ref in table_nodes(tree, database):
        if ref.database != SCHEMA:
            continue
        if ref.table not in _TABLES:
            raise TableNotFoundError(
                f"TABLE_NOT_FOUND: Table '{DATA_CATALOG}.{SCHEMA}.{ref.table}' does not exist"
            )
        columns, rows = _TABLES[ref.table]
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(ref.table))
        body = _values(columns, list(rows(_Catalog(catalog, visible))))
        node.replace(exp.Subquery(this=body, alias=alias.copy()))
    return tree


class _Catalog:
    """The databases and tables the caller may list."""

    def __init__(self, catalog: CatalogStore, visible: Listings | None) -> None:
        self.catalog = catalog
        self.visible = visible

    def databases(self) -> list[str]:
        found = self.catalog.list_databases()
        if self.visible is not None:
            found = self.visible.databases(found)
        return [d.name for d in found]

    def tables(self) -> Iterator[Table]:
        for database in self.databases():
            found = self.catalog.list_tables(database)
            yield from self.visible.tables(found) if self.visible is not None else found


def _schemata(catalog: _Catalog) -> Iterator[Row]:
    for name in sorted([*catalog.databases(), SCHEMA]):
        yield DATA_CATALOG, name


def _tables(catalog: _Catalog) -> Iterator[Row]:
    for t in catalog.tables():
        kind = "VIEW" if t.table_type == TABLE_TYPE_VIEW else "BASE TABLE"
        yield DATA_CATALOG, t.database, t.name, kind


def _views(catalog: _Catalog) -> Iterator[Row]:
    for t in catalog.tables():
        if t.table_type == TABLE_TYPE_VIEW:
            yield DATA_CATALOG, t.database, t.name, _definition(t)


def _definition(view: Table) -> str | None:
    # One unreadable view must not fail every listing of views.
    try:
        return view_definition(view).sql
    except InvalidInputError:
        return None


def _columns(catalog: _Catalog) -> Iterator[Row]:
    for t in catalog.tables():
        for position, c in enumerate((*t.columns, *t.partition_keys), start=1):
            extra = "partition key" if c in t.partition_keys else None
            yield (DATA_CATALOG, t.database, t.name, c.name, position, None, "YES",
                   trino_type(c.type), c.comment, extra)  # fmt: skip


_TABLES: dict[str, tuple[Sequence[str], Callable[[_Catalog], Iterator[Row]]]] = {
    "schemata": (("catalog_name", "schema_name"), _schemata),
    "tables": (("table_catalog", "table_schema", "table_name", "table_type"), _tables),
    "views": (("table_catalog", "table_schema", "table_name", "view_definition"), _views),
    "columns": (
        (
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "ordinal_position",
            "column_default",
            "is_nullable",
            "data_type",
            "comment",
            "extra_info",
        ),
        _columns,
    ),  # fmt: skip
}


def _values(columns: Sequence[str], rows: list[Row]) -> exp.Select:
    """``SELECT * FROM (VALUES …) AS v(columns)``; no rows: typed NULLs and no row."""
    names = [exp.to_identifier(c, quoted=True) for c in columns]
    alias = exp.TableAlias(this=exp.to_identifier("v"), columns=names)
    if not rows:
        nulls = [exp.alias_(_literal(None), c, quoted=True) for c in columns]
        return exp.select(*nulls).where(exp.false())
    tuples = [exp.Tuple(expressions=[_literal(v) for v in row]) for row in rows]
    return exp.select(exp.Star()).from_(exp.Values(expressions=tuples, alias=alias))


def _literal(value: str | int | None) -> exp.Expr:
    if value is None:
        return exp.cast(exp.null(), exp.DataType.Type.VARCHAR)
    if isinstance(value, int):
        return exp.Literal.number(value)
    return exp.Literal.string(value)
