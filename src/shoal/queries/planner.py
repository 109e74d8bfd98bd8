"""Plan a query: resolve its tables in the catalog, expand views, prune partitions, list files.

Planning happens in two steps so authorization sits between them, before storage
is touched:

1. ``Planner.resolve`` finds every table the query names (through CTEs, subqueries
   and views, whose text is inlined as a subquery) and fails with Athena's
   ``TABLE_NOT_FOUND`` / ``SCHEMA_NOT_FOUND`` text for unknown ones.
2. ``Planner.plan`` prunes partitions with the WHERE conjuncts that provably
   concern only one table's partition keys, lists the files of the surviving
   partitions (skipping the names Hive and Glue ignore) and builds the engine's
   ``TableScan``s. Whatever pruning cannot prove is left to the engine: a skipped
   conjunct costs bytes, never a wrong answer.

The plan is engine-neutral: the resolved sqlglot tree (Athena dialect) and the
scans; each engine translates it into its own SQL (``shoal.engine.base``).

``Planner.prepare`` does step 1 for a query text and remembers the result by text
and database: a query run again (dashboards, polling jobs, TPC-H) is checked against
the catalog -- every table and view it read must be unchanged -- instead of being
parsed and resolved again, and hands engines the same tree, whose translation they
remember. Listing and pruning always happen anew.

Views are stored the way Athena stores them, so Glue clients see the real thing:
``view_original_text`` is ``/* Presto View: <base64 JSON> */`` with the SQL, the
database and the columns; ``view_definition`` also accepts plain SQL text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from shoal.catalog import formats
from shoal.catalog.expression import HIVE_NULL, compile_partition_filter, is_numeric_type
from shoal.catalog.model import TABLE_TYPE_VIEW, Column, PartitionLocation, Table
from shoal.catalog.store import CatalogStore
from shoal.catalog.types import parse_type
from shoal.engine import serdes
from shoal.engine.athena import DATA_CATALOG, TableRef, parse, table_nodes
from shoal.engine.base import DataFile, TableFormat, TableScan
from shoal.errors import EntityNotFoundError, InvalidInputError, ShoalError, TableNotFoundError
from shoal.lru import LruCache
from shoal.storage.base import ObjectInfo, Storage, parse_uri

MAX_VIEW_DEPTH = 16  # views over views; deeper is almost surely a cycle
PREPARED_QUERIES = 256  # query texts whose resolution is remembered
# Partitioned tables whose planned files are kept (``_partition_files``), and the most
# files they hold together (~300 B a file).
WALKED_TABLES = 256
WALKED_FILES = 250_000
PRESTO_VIEW_PREFIX = "/* Presto View: "
PRESTO_VIEW_SUFFIX = " */"


# ---------------------------------------------------------------- views in the catalog


@dataclass(frozen=True)
class ViewDefinition:
    """A view's SQL and the database its unqualified names belong to."""

    sql: str
    database: str


def view_definition(table: Table) -> ViewDefinition:
    """The SQL of a catalog view (Athena's Presto-view encoding, or plain SQL text)."""
    text = (table.view_original_text or "").strip()
    if text.startswith(PRESTO_VIEW_PREFIX) and text.endswith(PRESTO_VIEW_SUFFIX):
        encoded = text[len(PRESTO_VIEW_PREFIX) : -len(PRESTO_VIEW_SUFFIX)]
        try:
            document = json.loads(base64.b64decode(encoded))
            return ViewDefinition(str(document["originalSql"]), str(document["schema"]))
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise InvalidInputError(
                f"view {table.database}.{table.name} has an unreadable definition"
            ) from None
    if not text:
        raise InvalidInputError(f"view {table.database}.{table.name} has no definition")
    return ViewDefinition(text, table.database)


def encode_view(sql: str, database: str, columns: Sequence[Column]) -> str:
    """``view_original_text`` for a view, as Athena writes it."""
    document = {
        "originalSql": sql,
        "catalog": DATA_CATALOG,
        "schema": database,
        "columns": [{"name": c.name, "type": trino_type(c.type)} for c in columns],
    }
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    return f"{PRESTO_VIEW_PREFIX}{encoded}{PRESTO_VIEW_SUFFIX}"


def trino_type(hive: str) -> str:
    """Trino's spelling of a Hive type, as Presto views record their columns."""
    parsed = parse_type(hive)
    simple = {"string": "varchar", "int": "integer", "float": "real", "binary": "varbinary"}
    if parsed.name == "array":
        return f"array({trino_type(str(parsed.args[0]))})"
    if parsed.name == "map":
        return f"map({trino_type(str(parsed.args[0]))}, {trino_type(str(parsed.args[1]))})"
    if parsed.name == "struct":
        inner = ", ".join(f"{n} {trino_type(str(t))}" for n, t in parsed.fields)
        return f"row({inner})"
    return simple.get(parsed.name, str(parsed))


# ---------------------------------------------------------------- plan values


@dataclass(frozen=True)
class Resolution:
    """A query whose tables are known: views inlined, every table loaded."""

    tree: exp.Expr
    database: str
    tables: Mapping[TableRef, Table]  # the base tables the engine will read
    views: tuple[TableRef, ...] = ()  # views expanded on the way (authorized too)

    @property
    def reads(self) -> tuple[TableRef, ...]:
        """Every catalog object read, views and the tables under them, sorted."""
        return tuple(sorted({*self.tables, *self.views}))


@dataclass(frozen=True)
class PreparedQuery:
    """A query text parsed and resolved once (``Planner.prepare``).

    Shared by every run of the same text: read ``resolution.tree``, never change it.
    """

    resolution: Resolution
    placeholders: int  # ``?`` parameters the text takes
    definitions: Mapping[TableRef, Table]  # every table and view read, as resolved


@dataclass(frozen=True)
class PlannedTable:
    """One table after pruning: its scan and how much pruning saved."""

    table: Table
    scan: TableScan
    partitions_total: int = 0  # 0: the table is not partitioned
    partitions_read: int = 0
    partition_filter: str | None = None  # the conditions pruning applied, for EXPLAIN

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.scan.files)


@dataclass(frozen=True)
class QueryPlan:
    """What an engine will run: the resolved query and the files of every table.

    ``total_bytes`` is the size of every planned file: an upper bound on the bytes
    the query scans (column projection and row-group statistics read less).
    """

    resolution: Resolution
    tables: tuple[PlannedTable, ...] = field(default=())

    @property
    def scans(self) -> tuple[TableScan, ...]:
        return tuple(t.scan for t in self.tables)

    @property
    def files(self) -> tuple[DataFile, ...]:
        return tuple(f for t in self.tables for f in t.scan.files)

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.tables)


# ---------------------------------------------------------------- the planner


class Planner:
    """Resolves and plans queries against one catalog and one storage."""

    def __init__(self, catalog: CatalogStore, storage: Storage) -> None:
        self.catalog = catalog
        self.storage = storage
        self._prepared: LruCache[PreparedQuery] = LruCache(PREPARED_QUERIES)
        self._walked: LruCache[_WalkedFiles] = LruCache(
            WALKED_TABLES, WALKED_FILES, lambda kept: len(kept.files) + 1
        )

    def prepare(
        self, sql: str, database: str, check_placeholders: Callable[[int], None]
    ) -> PreparedQuery:
        """Parse, check and resolve the query ``sql``, or reuse the result
        of an earlier call with the same text and database if every table and view
        it read is unchanged in the catalog.

        ``check_placeholders`` gets the number of ``?`` parameters before any table
        is looked up (it raises to refuse them).

        Raises:
            SqlSyntaxError, UnsupportedSqlError: from ``parse``.
            TableNotFoundError: a table or database does not exist.
        """
        key = (sql, database)
        found = self._prepared.get(key)
        if found is not None and self._unchanged(found.definitions):
            check_placeholders(found.placeholders)
            return found
        tree = parse(sql)
        placeholders = sum(1 for _ in tree.find_all(exp.Placeholder))
        check_placeholders(placeholders)
        definitions: dict[TableRef, Table] = {}
        resolution = self._resolve(tree, database, definitions)
        prepared = PreparedQuery(resolution, placeholders, definitions)
        self._prepared.put(key, prepared)
        return prepared

    def _unchanged(self, definitions: Mapping[TableRef, Table]) -> bool:
        current = self.catalog.table_stamps([(r.database, r.table) for r in definitions])
        return all(
            current.get((ref.database, ref.table)) == table.stamp
            for ref, table in definitions.items()
        )

    def resolve(self, tree: exp.Expr, database: str) -> Resolution:
        """Load every table ``tree`` reads and inline its views, in ``tree`` itself.

        ``tree`` is changed (tables qualified, views replaced): pass one you own, as
        ``parse`` returns; a copy here cost ~1.6 ms per TPC-H query.

        Raises:
            TableNotFoundError: a table or database does not exist.
        """
        return self._resolve(tree, database, {})

    def _resolve(
        self, tree: exp.Expr, database: str, definitions: dict[TableRef, Table]
    ) -> Resolution:
        tables: dict[TableRef, Table] = {}
        views: dict[TableRef, Table] = {}
        expanded = self._expand(tree, database, tables, views, ())
        _shorten_column_qualifiers(expanded, tables.keys() | views.keys())
        definitions.update(tables)
        definitions.update(views)
        return Resolution(expanded, database, tables, tuple(sorted(views)))

    def plan(self, resolution: Resolution) -> QueryPlan:
        """Prune partitions and list files; nothing is read but listings."""
        filters = partition_filters(resolution.tree, resolution.database, resolution.tables)
        planned = tuple(
            self._plan_table(table, filters.get(ref)) for ref, table in resolution.tables.items()
        )
        return QueryPlan(resolution, planned)

    def get_table(self, ref: TableRef, node: exp.Expr | None = None) -> Table:
        """A catalog table, or Athena's not-found error pointing at ``node``."""
        try:
            return self.catalog.get_table(ref.database, ref.table)
        except EntityNotFoundError:
            pass
        where = _where(node)
        try:
            self.catalog.get_database(ref.database)
        except EntityNotFoundError:
            raise TableNotFoundError(
                f"SCHEMA_NOT_FOUND: {where}Schema '{ref.database}' does not exist"
            ) from None
        raise TableNotFoundError(
            f"TABLE_NOT_FOUND: {where}Table '{DATA_CATALOG}.{ref.database}.{ref.table}' "
            "does not exist"
        )

    # -- resolution

    def _expand(
        self,
        tree: exp.Expr,
        database: str,
        tables: dict[TableRef, Table],
        views: dict[TableRef, Table],
        path: tuple[TableRef, ...],
    ) -> exp.Expr:
        for node, ref in list(table_nodes(tree, database)):
            # A table named twice (TPC-H Q21 reads lineitem thrice) is looked up once.
            table = tables.get(ref) or self.get_table(ref, node)
            if table.table_type != TABLE_TYPE_VIEW:
                tables[ref] = table
                _qualify(node, ref)
                continue
            if ref in path or len(path) >= MAX_VIEW_DEPTH:
                raise InvalidInputError(f"view {ref.database}.{ref.table} refers to itself")
            views[ref] = table
            node.replace(self._view_subquery(table, ref, node, tables, views, (*path, ref)))
        return tree

    def _view_subquery(
        self,
        view: Table,
        ref: TableRef,
        node: exp.Table,
        tables: dict[TableRef, Table],
        views: dict[TableRef, Table],
        path: tuple[TableRef, ...],
    ) -> exp.Expr:
        definition = view_definition(view)
        body = self._expand(parse(definition.sql), definition.database, tables, views, path)
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(ref.table))
        return exp.Subquery(this=body, alias=alias.copy())

    # -- planning

    def _plan_table(self, table: Table, filters: list[exp.Expr] | None) -> PlannedTable:
        fmt = table_format(table)
        ref = f"{table.database}.{table.name}"
        if not table.partition_keys:
            listed = self.list_files(table.storage.location)
            whole = tuple(_data_file(self.storage, o) for o in listed)
            scan = TableScan(table.database, table.name, fmt, table.columns, (), whole)
            return PlannedTable(table, scan)
        partitions = self.catalog.partition_locations(table.database, table.name)
        test, text = _compile_filters(filters or [], table.partition_keys, ref)
        # No condition prunes: the very tuple the catalog keeps, as its files are kept.
        chosen = tuple(p for p in partitions if test(p.values)) if text else partitions
        files = self._partition_files(table.storage.location, chosen)
        scan = TableScan(
            table.database, table.name, fmt, table.columns, table.partition_keys, files
        )
        return PlannedTable(table, scan, len(partitions), len(chosen), text)

    def _partition_files(
        self, table_location: str, partitions: tuple[PartitionLocation, ...]
    ) -> tuple[DataFile, ...]:
        """The data files of each partition, as ``list_files`` of its location finds them.

        Many partitions under the table's own location (Hive's layout) are listed in
        one walk of that location, each file given to every partition whose location
        holds it; a few, or ones elsewhere, are listed one by one. Either way the
        files are the same: one walk of a thousand folders costs a fraction of a
        thousand listings (and one paginated listing instead of a thousand on S3).
        What one walk gave the partitions is kept while the storage answers the walk
        with the very same object (``Storage.walk``: nothing changed).
        """
        bucket, table_prefix = parse_uri(table_location)
        table_prefix = _folder(table_prefix)
        kept = self._walked.get(table_location)
        if kept is not None and kept.partitions == partitions:
            by_prefix = kept.by_prefix
        else:
            by_prefix = _partitions_by_folder(bucket, table_prefix, partitions)
        if len(by_prefix) < _ONE_WALK_PARTITIONS:
            return tuple(
                _data_file(self.storage, info, p.values)
                for p in partitions
                for info in self.list_files(p.location)
            )
        walked = self.storage.walk(bucket, table_prefix)
        if kept is not None and kept.walked is walked and kept.partitions == partitions:
            return kept.files
        found: dict[int, list[ObjectInfo]] = {}
        for info in walked:
            for prefix in _folders_above(info.key, table_prefix):
                holders = by_prefix.get(prefix)
                if holders is not None and is_data_file(info, prefix):
                    for partition in holders:
                        found.setdefault(id(partition), []).append(info)
        # In partition order, as listed one by one.
        files = tuple(
            _data_file(self.storage, info, p.values)
            for p in partitions
            for info in found.get(id(p), ())
        )
        self._walked.put(table_location, _WalkedFiles(walked, partitions, by_prefix, files))
        return files

    def list_files(self, location: str) -> list[ObjectInfo]:
        """Data files under ``location``, recursively, minus names Hive and Glue skip."""
        bucket, prefix = parse_uri(location)
        prefix = _folder(prefix)
        return [o for o in self.storage.walk(bucket, prefix) if is_data_file(o, prefix)]


# From this many partitions under the table's location, one walk of the location lists
# them (a listing costs ~80 µs of fixed work on local folders, a request on S3).
_ONE_WALK_PARTITIONS = 16


@dataclass(frozen=True)
class _WalkedFiles:
    """A table's partitions, their folders, and their files as one walk found them."""

    walked: Iterable[ObjectInfo]  # the storage's answer: the same object means unchanged
    partitions: tuple[PartitionLocation, ...]
    by_prefix: Mapping[str, list[PartitionLocation]]
    files: tuple[DataFile, ...]


def _partitions_by_folder(
    bucket: str, table_prefix: str, partitions: Sequence[PartitionLocation]
) -> dict[str, list[PartitionLocation]]:
    """Partitions by their folder's key, if all lie under the table's folder; else {}."""
    # Locations are compared as text: a partition under the table's folder starts
    # with its URI (no need to parse a thousand URIs).
    bucket_uri = f"s3://{bucket}/"
    table_uri = bucket_uri + table_prefix
    by_prefix: dict[str, list[PartitionLocation]] = {}
    for partition in partitions:
        location = _folder(partition.location)
        if not location.startswith(table_uri):
            return {}
        by_prefix.setdefault(location[len(bucket_uri) :], []).append(partition)
    return by_prefix


def _folder(prefix: str) -> str:
    return prefix + "/" if prefix and not prefix.endswith("/") else prefix


def _folders_above(key: str, top: str) -> list[str]:
    """The folders holding ``key`` from ``top`` (a prefix of it) down: ``top``,
    ``top + "a/"``, ``top + "a/b/"``, ..."""
    folders = [top]
    end = key.find("/", len(top))
    while end != -1:
        folders.append(key[: end + 1])
        end = key.find("/", end + 1)
    return folders


def is_data_file(info: ObjectInfo, prefix: str) -> bool:
    """Hive's rule: no segment below the location starts with '_' or '.'; no
    checksum or folder-marker objects; empty objects hold no rows."""
    relative = info.key[len(prefix) :]
    if info.size == 0 or not relative:
        return False
    # A segment starting with '_' or '.': at the start, or after a '/' (string
    # searches, not a split: planning tests every file of every partition).
    if relative.startswith(("_", ".")) or "/_" in relative or "/." in relative:
        return False
    return not relative.endswith((".crc", "_$folder$"))


def _data_file(storage: Storage, info: ObjectInfo, values: Sequence[str] = ()) -> DataFile:
    path = info.local_path or storage.local_path(info.bucket, info.key) or info.uri
    return DataFile(path, info.size, tuple(values), info.mtime, info.etag)


def _where(node: exp.Expr | None) -> str:
    for candidate in node.walk() if node is not None else ():
        meta = candidate.meta
        if "line" in meta:
            return f"line {meta['line']}:{meta['col'] - (meta['end'] - meta['start'])}: "
    return ""


def _shorten_column_qualifiers(tree: exp.Expr, refs: Iterable[TableRef]) -> None:
    """``db.t.c`` and ``awsdatacatalog.db.t.c`` as ``t.c`` when ``db.t`` is a table the
    query reads, as Trino resolves them (the engine knows each table by its name).
    Anything else with three parts (``t.struct_col.field``) stays as written."""
    known = set(refs)
    for column in tree.find_all(exp.Column):
        db, catalog = column.args.get("db"), column.args.get("catalog")
        if db is None or not column.table:
            continue
        if catalog is not None and catalog.name.lower() != DATA_CATALOG:
            continue
        if TableRef(db.name.lower(), column.table.lower()) in known:
            column.set("catalog", None)
            column.set("db", None)


def _qualify(node: exp.Table, ref: TableRef) -> None:
    # Names inside an inlined view must keep pointing at the view's database.
    node.set("catalog", None)
    node.set("db", exp.to_identifier(ref.database, quoted=True))


# ---------------------------------------------------------------- table formats


_CLASSIFICATION_BY_SERDE = {
    formats.PARQUET_SERDE: "parquet",
    formats.JSON_SERDE: "json",
    "org.apache.hive.hcatalog.data.JsonSerDe": "json",
    formats.LAZY_SIMPLE_SERDE: "csv",
    formats.OPEN_CSV_SERDE: "csv",
    **serdes.CLASSIFICATIONS,
    formats.ORC_SERDE: "orc",
    formats.AVRO_SERDE: "avro",
}


def table_format(table: Table) -> TableFormat:
    """The engine's view of a table's layout, from its SerDe and parameters."""
    sd = table.storage
    serde = sd.serde.serialization_library or ""
    params = {**sd.parameters, **table.parameters}
    serde_params = dict(sd.serde.parameters)
    classification = (params.get("classification") or "").lower()
    if not classification:
        classification = _CLASSIFICATION_BY_SERDE.get(serde, "")
        if sd.input_format == serdes.CLOUDTRAIL_INPUT:
            classification = "cloudtrail"  # whatever the SerDe: one row per record
        if "parquet" in (sd.input_format or "").lower():
            classification = "parquet"
    if not classification:
        raise InvalidInputError(f"table {table.database}.{table.name} has no known format")
    open_csv = serde == formats.OPEN_CSV_SERDE
    default_delim = "," if open_csv or "delimiter" in params else "\x01"
    delimiter = (
        serde_params.get("separatorChar")
        or serde_params.get("field.delim")
        or params.get("delimiter")
        or default_delim
    )
    return TableFormat(
        classification=classification,
        delimiter=delimiter,
        quote_char=serde_params.get("quoteChar", '"') if open_csv else None,
        escape_char=serde_params.get("escapeChar") or serde_params.get("escape.delim"),
        skip_header_lines=int(params.get("skip.header.line.count", "0") or 0),
        compression=_compression(params),
        null_format=serde_params.get("serialization.null.format"),
        serde_parameters=serde_params,
        serde=serde,
    )


def _compression(params: Mapping[str, str]) -> str | None:
    value = (params.get("compressionType") or "").lower()
    return value if value and value != "none" else None


# ---------------------------------------------------------------- partition pruning

_LEAVES = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.In, exp.Between, exp.Like)
_TEXT_TYPES = frozenset({"string", "varchar"})


def partition_filters(
    tree: exp.Expr, database: str, tables: Mapping[TableRef, Table]
) -> dict[TableRef, list[exp.Expr] | None]:
    """Per partitioned table: the conjunct sets (one per reference) that prune it.

    A table gets None (no pruning) when any reference to it has no usable conjunct,
    since one scan serves every reference.
    """
    found: dict[TableRef, list[exp.Expr] | None] = {}
    if not any(t.partition_keys for t in tables.values()):
        return found  # nothing to prune: spare the walk over the tree
    for node, ref in table_nodes(tree, database):
        table = tables.get(ref)
        if table is None or not table.partition_keys:
            continue
        current = found.setdefault(ref, [])
        if current is None:
            continue
        conjuncts = _conjuncts_for(node, table, tables, database)
        if conjuncts:
            current.append(exp.and_(*conjuncts, copy=True))
        else:
            found[ref] = None
    return found


def _conjuncts_for(
    node: exp.Table, table: Table, tables: Mapping[TableRef, Table], database: str
) -> list[exp.Expr]:
    select = _owning_select(node)
    where = select.args.get("where") if select is not None else None
    if select is None or where is None or _null_supplying(node, select):
        return []
    names = {node.alias_or_name.lower()}
    keys = {k.name.lower(): k for k in table.partition_keys}
    others = _other_source_columns(node, select, tables, database)
    usable = []
    for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        rewritten = _partition_condition(conjunct, names, keys, others)
        if rewritten is not None:
            usable.append(rewritten)
    return usable


def _owning_select(node: exp.Table) -> exp.Select | None:
    parent = node.parent
    if isinstance(parent, (exp.From, exp.Join)) and isinstance(parent.parent, exp.Select):
        return parent.parent
    return None


def _null_supplying(node: exp.Table, select: exp.Select) -> bool:
    """Tables an outer join may pad with NULLs: pruning them could add rows."""
    joins: list[exp.Join] = select.args.get("joins") or []
    if isinstance(node.parent, exp.Join):
        return node.parent.side.upper() in ("LEFT", "FULL")
    return any(j.side.upper() in ("RIGHT", "FULL") for j in joins)


def _other_source_columns(
    node: exp.Table, select: exp.Select, tables: Mapping[TableRef, Table], database: str
) -> set[str] | None:
    """Column names the select's other sources provide; None when one is unknown."""
    sources: list[exp.Expr] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        sources.append(from_.this)
    sources.extend(j.this for j in select.args.get("joins") or [])
    names: set[str] = set()
    for source in sources:
        if source is node:
            continue
        if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
            return None
        db = source.args["db"].name if source.args.get("db") else database
        other = tables.get(TableRef(db.lower(), source.name.lower()))
        if other is None:
            return None
        names.update(c.name.lower() for c in (*other.columns, *other.partition_keys))
    return names


def _partition_condition(
    conjunct: exp.Expr,
    names: set[str],
    keys: Mapping[str, Column],
    others: set[str] | None,
) -> exp.Expr | None:
    """``conjunct`` with bare key names when it provably tests only partition keys."""
    conjunct = _dates_as_text(conjunct)
    nodes = list(conjunct.walk())
    if not all(isinstance(node, _ALLOWED) for node in nodes):
        return None
    for column in (node for node in nodes if isinstance(node, exp.Column)):
        qualifier, name = column.table.lower(), column.name.lower()
        if name not in keys or column.args.get("db"):
            return None
        if qualifier and qualifier not in names:
            return None
        if not qualifier and (others is None or name in others):
            return None
    leaves = (node for node in nodes if isinstance(node, (*_LEAVES, exp.Is)))
    if not all(_same_kind(leaf, keys) for leaf in leaves):
        return None
    bare = conjunct.copy()
    for column in list(bare.find_all(exp.Column)):
        column.replace(exp.column(column.name.lower()))
    return bare


_ALLOWED = (
    *_LEAVES,
    exp.Is,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Paren,
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Null,
    exp.Neg,
    exp.Escape,
)


def _dates_as_text(conjunct: exp.Expr) -> exp.Expr:
    """``DATE '2024-03-05'`` as the text ``'2024-03-05'``: a date partition key's values
    are ISO dates, which compare as text as they do as dates (values that are not
    are never pruned: ``_compile_filters``)."""

    def plain(node: exp.Expr) -> exp.Expr:
        if (
            isinstance(node, exp.Cast)
            and node.to.is_type(exp.DataType.Type.DATE)
            and isinstance(node.this, exp.Literal)
            and node.this.is_string
            and _ISO_DATE.fullmatch(node.this.this)
        ):
            return exp.Literal.string(node.this.this)
        return node

    return conjunct.transform(plain)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _same_kind(leaf: exp.Expr, keys: Mapping[str, Column]) -> bool:
    """Operands all text (string keys, string literals) or all numbers; a date key
    compares as text with ISO-date literals only."""
    kinds = set()
    for node in leaf.walk():
        if isinstance(node, exp.Column):
            key_type = parse_type(keys[node.name.lower()].type).name
            if key_type == "date" and _iso_date_literals_only(leaf):
                kinds.add("text")
            elif key_type in _TEXT_TYPES:
                kinds.add("text")
            elif is_numeric_type(key_type):
                kinds.add("number")
            else:
                return False  # dates, timestamps…: left to the engine
        elif isinstance(node, exp.Literal):
            kinds.add("text" if node.is_string else "number")
    if isinstance(leaf, exp.Like) and kinds != {"text"}:
        return False
    return len(kinds) == 1


def _iso_date_literals_only(leaf: exp.Expr) -> bool:
    literals = [n for n in leaf.walk() if isinstance(n, exp.Literal)]
    return bool(literals) and all(n.is_string and _ISO_DATE.fullmatch(n.this) for n in literals)


def _compile_filters(
    filters: Sequence[exp.Expr], partition_keys: Sequence[Column], ref: str
) -> tuple[Callable[[Sequence[str]], bool], str | None]:
    """One test over partition values: any reference's conditions (OR), each an AND.

    A partition whose date key holds something other than an ISO date (the text
    comparison would not order it as a date) is always kept: the engine decides."""
    if not filters:
        return (lambda values: True), None
    tests = []
    for condition in filters:
        try:
            tests.append(compile_partition_filter(condition.sql(dialect="trino"), partition_keys))
        except ShoalError:  # longer than Glue's limit or outside its subset: do not prune
            return (lambda values: True), None
    text = " OR ".join(f"({c.sql(dialect='trino')})" for c in filters)
    dates = [i for i, k in enumerate(partition_keys) if parse_type(k.type).name == "date"]

    def unsure(values: Sequence[str]) -> bool:
        return any(values[i] != HIVE_NULL and not _ISO_DATE.fullmatch(values[i]) for i in dates)

    return (lambda values: unsure(values) or any(test(values) for test in tests)), text


__all__ = [
    "Planner",
    "PlannedTable",
    "QueryPlan",
    "Resolution",
    "ViewDefinition",
    "encode_view",
    "table_format",
    "view_definition",
]
