"""Athena (Trino) SQL as every engine receives it: parsed, checked, its tables named.

Engine-neutral: the planner resolves what these functions find, and each engine
translates the checked tree into its own SQL (DuckDB: ``dialect.to_duckdb``; Spark:
``spark_dialect.to_spark``).

1. ``parse(sql)`` parses Athena SQL with sqlglot and checks it is a read-only query
   (allow-list of statement shapes, no table functions, no file-reading functions,
   Trino's time units). Syntax errors become ``SqlSyntaxError`` with sqlglot's line
   and column; anything else refused is ``UnsupportedSqlError`` naming the
   construct and its position.
2. ``referenced_tables(tree, default_database)`` lists every catalog table the
   statement reads, through CTEs and subqueries, for resolution and authorization.
3. ``qualify_tables``, ``name_projections`` and ``result_types`` give the names and
   types Athena gives: ``"database"."table"``, ``_col0`` …, the result's SQL types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from shoal.catalog.model import Column
from shoal.errors import SqlSyntaxError, UnsupportedSqlError
from shoal.lru import LruCache

READ_DIALECT = "athena"
DATA_CATALOG = "awsdatacatalog"  # the only catalog Athena clients name; stripped

# Functions that read files, settings or the environment. Table functions are
# refused wholesale (see _check_source); these catch them in any other position.
DENIED_FUNCTIONS = frozenset(
    {
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_text",
        "read_blob",
        "sniff_csv",
        "glob",
        "query",
        "query_table",
        "current_setting",
        "getenv",
        "duckdb_settings",
        "duckdb_secrets",
        "duckdb_extensions",
        "which_secret",
        "write_log",  # the read log counts bytes scanned (engine/read_log.py)
        # SerDe line readers (engine/serdes/udfs.py): for scans only, as a regex or
        # grok expression given here would run where a query cannot interrupt it
        "__shoal_json_rows",
        "__shoal_text_fields",
    }
)
# sqlglot node types that never belong in a read-only query.
_DENIED_NODES: tuple[type[exp.Expr], ...] = (
    exp.DML,
    exp.DDL,
    exp.Command,
    exp.Set,
    exp.Pragma,
    exp.Use,
    exp.Copy,
    exp.Into,
)
# Statements seen recently: parsed trees by text (see parse).
_PARSED: LruCache[exp.Expr] = LruCache(256)
_TOKEN_RE = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: .*?>")


@dataclass(frozen=True, order=True)
class TableRef:
    """A catalog table a statement reads."""

    database: str
    table: str


# ---------------------------------------------------------------- parse and check


def parse(sql: str) -> exp.Expr:
    """Parse one Athena statement and check it is a read-only query.

    The same text parses to the same tree, so checked trees are remembered by text
    (a copy of one costs a third of parsing); callers get a copy they may change.

    Raises:
        SqlSyntaxError: the text does not parse (message has line and column).
        UnsupportedSqlError: it parses but is not a query shoal may run.
    """
    return _PARSED.get_or_make(sql, lambda: _parse(sql)).copy()


def _parse(sql: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read=READ_DIALECT) if s is not None]
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        line, col = first.get("line"), first.get("col")
        if col is not None:  # sqlglot points at the token's last character
            col = max(1, col - len(first.get("highlight") or "x") + 1)
        detail = _TOKEN_RE.sub(r"'\1'", first.get("description", str(err)))
        raise SqlSyntaxError(
            f"line {line}:{col}: {detail}" if line else detail, line, col
        ) from None
    except TokenError as err:
        raise SqlSyntaxError(f"cannot read the statement: {err}") from None
    if len(statements) != 1:
        raise SqlSyntaxError(f"expected one statement, got {len(statements)}")
    tree = statements[0]
    _check_query(tree)
    return tree


def check_query(tree: exp.Expr) -> exp.Expr:
    """Check an already parsed tree as ``parse`` does: the query inside a CTAS,
    INSERT, UNLOAD or view. Returns it; raises UnsupportedSqlError."""
    _check_query(tree)
    return tree


def _check_query(tree: exp.Expr) -> None:
    if not isinstance(tree, exp.Query):
        unsupported(tree, f"{_construct(tree)} statements (only queries run here)")
    for node in tree.walk():
        if isinstance(node, _DENIED_NODES):
            unsupported(node, _construct(node))
        if isinstance(node, exp.Func) and function_name(node) in DENIED_FUNCTIONS:
            unsupported(node, f"function {function_name(node)}")
        if isinstance(node, exp.Table):
            _check_source(node)
        if isinstance(node, _TIME_UNIT_FUNCTIONS):
            _check_time_unit(node)


# Trino's units for date_add, date_diff and date_trunc; DuckDB knows more (decade,
# century, …) and would answer where Athena fails.
TIME_UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year")
_TIME_UNIT_FUNCTIONS = (exp.DateAdd, exp.DateDiff, exp.TimestampTrunc, exp.DateTrunc)


def _check_time_unit(node: exp.Expr) -> None:
    unit = node.args.get("unit")
    if isinstance(unit, (exp.Var, exp.Literal)) and unit.name.lower() not in TIME_UNITS:
        unsupported(node, f"time unit {unit.name.lower()!r} (one of {', '.join(TIME_UNITS)})")


def _check_source(table: exp.Table) -> None:
    if not isinstance(table.this, exp.Identifier):
        unsupported(table, f"table function {_construct(table.this)}")
    catalog = table.args.get("catalog")
    if catalog is not None and catalog.name.lower() != DATA_CATALOG:
        unsupported(catalog, f"catalog {catalog.name!r} (only {DATA_CATALOG} exists)")


def _construct(node: exp.Expr | None) -> str:
    if node is None:
        return "empty"
    if isinstance(node, exp.Func):
        return function_name(node)
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


def _position(node: exp.Expr) -> tuple[int | None, int | None]:
    """The line and column of ``node``: its own, or its first positioned descendant's."""
    for candidate in node.walk():
        meta = candidate.meta
        if "line" in meta:  # sqlglot's col is the token's last character
            return meta["line"], meta["col"] - (meta["end"] - meta["start"])
    return None, None


def unsupported(node: exp.Expr, what: str) -> None:
    """Raise UnsupportedSqlError: ``what`` is not supported, at ``node``'s position."""
    line, col = _position(node)
    where = f"line {line}:{col}: " if line is not None else ""
    raise UnsupportedSqlError(f"{where}not supported: {what}", line, col)


# ---------------------------------------------------------------- referenced tables


def referenced_tables(tree: exp.Expr, default_database: str) -> list[TableRef]:
    """Every catalog table ``tree`` reads, sorted, without duplicates; CTE names excluded."""
    return sorted({ref for _, ref in table_nodes(tree, default_database)})


def table_nodes(tree: exp.Expr, default_database: str) -> Iterator[tuple[exp.Table, TableRef]]:
    """Every catalog table node of ``tree`` with the table it names (CTEs excluded).

    The nodes are found before the first is yielded: callers may replace them."""
    for table in list(tree.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            continue
        if not table.args.get("db") and is_cte_name(table, table.name):
            continue
        database = table.args["db"].name if table.args.get("db") else default_database
        yield table, TableRef(database.lower(), table.name.lower())


def is_point_literal(node: exp.Expr) -> bool:
    """A number written with a point (``0.33``): Athena parses it as DOUBLE, where
    DuckDB and Spark would make it a DECIMAL (``DECIMAL '0.33'`` is how Athena writes
    one). A sample percentage or a type parameter stays the literal it is."""
    return (
        isinstance(node, exp.Literal)
        and not node.is_string
        and "." in node.this
        and not isinstance(node.parent, (exp.TableSample, exp.DataTypeParam, exp.Cast))
    )


# Meta key of a point literal that may stay a DECIMAL (``exact_decimal_comparisons``).
STAYS_DECIMAL = "shoal_stays_decimal"
# Any decimal of at most 15 significant digits is the one such decimal nearest its
# double (IEEE 754's DBL_DIG), and rounding to a double keeps order: two of them
# compare alike as decimals and as doubles.
_EXACT_DIGITS = 15
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In)


def decimal_comparisons(tree: exp.Expr) -> list[tuple[exp.Column, exp.Literal]]:
    """Point literals compared straight with a column (``c < 0.5``, ``c BETWEEN 0.05
    AND 0.07``, ``c IN (0.5, -0.7)``), each with its column."""
    found: list[tuple[exp.Column, exp.Literal]] = []
    for node in tree.find_all(*_COMPARISONS):
        if isinstance(node, exp.Between):
            sides = [(node.this, [node.args.get("low"), node.args.get("high")])]
        elif isinstance(node, exp.In):
            sides = [(node.this, list(node.expressions))]
        else:
            sides = [(node.this, [node.expression]), (node.expression, [node.this])]
        for column, others in sides:
            if isinstance(column, exp.Column):
                literals = (_point_literal_in(other) for other in others)
                found.extend((column, literal) for literal in literals if literal is not None)
    return found


def mark_exact_decimal_comparisons(pairs: Sequence[tuple[exp.Column, exp.Literal]]) -> None:
    """Mark (``STAYS_DECIMAL``) each literal that compares with its column alike as a
    decimal and as Athena's double: a DECIMAL(p <= 15) column and a literal of at most
    15 significant digits. Kept a decimal, the comparison reaches the Parquet reader
    (row groups skipped by their statistics) instead of casting every value to a
    double first (TPC-H Q6: 1.8x faster on DuckDB). Needs the tree typed (``annotate``).
    """
    for column, literal in pairs:
        if _decimal_precision(column.type) <= _EXACT_DIGITS:
            digits = literal.this.replace(".", "").lstrip("0") or "0"
            if digits.isdigit() and len(digits) <= _EXACT_DIGITS:
                literal.meta[STAYS_DECIMAL] = True


def _point_literal_in(node: exp.Expr | None) -> exp.Literal | None:
    inner = node.this if isinstance(node, exp.Neg) else node
    return inner if isinstance(inner, exp.Literal) and is_point_literal(inner) else None


def _decimal_precision(dtype: exp.DataType | None) -> int:
    """A DECIMAL type's precision; a huge number for any other type (or none)."""
    if dtype is None or not dtype.is_type(exp.DataType.Type.DECIMAL) or not dtype.expressions:
        return 1_000
    try:
        return int(dtype.expressions[0].name)
    except ValueError:
        return 1_000


def referenced_columns(tree: exp.Expr) -> frozenset[str] | None:
    """Lower-cased names the query may read as columns of its tables; None when it may
    read whole rows or columns it does not name: a ``*`` (other than ``count(*)``), a
    table or alias named as a value (DuckDB reads ``SELECT t FROM t`` as the row), a
    NATURAL join (on every column two tables share). Aliases and names of other
    tables can only add names, so the set errs upward."""
    for star in tree.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            return None
    if any(j.method.upper() == "NATURAL" for j in tree.find_all(exp.Join)):
        return None
    sources = {t.name.lower() for t in tree.find_all(exp.Table)}
    sources |= {a.name.lower() for a in tree.find_all(exp.TableAlias)}
    if any(c.name.lower() in sources for c in tree.find_all(exp.Column)):
        return None
    return frozenset(i.name.lower() for i in tree.find_all(exp.Identifier))


def is_cte_name(node: exp.Expr, name: str) -> bool:
    """True when an enclosing WITH defines ``name`` (CTE names shadow tables)."""
    lowered = name.lower()
    parent = node.parent
    while parent is not None:
        with_ = parent.args.get("with_") if isinstance(parent, exp.Query) else None
        if isinstance(with_, exp.With) and any(
            cte.alias_or_name.lower() == lowered for cte in with_.expressions
        ):
            return True
        parent = parent.parent
    return False


def function_name(node: exp.Func) -> str:
    """A function call's name as written in Athena SQL, lower-cased."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


# ---------------------------------------------------------------- Athena's names and types


def name_projections(tree: exp.Expr) -> None:
    """Give unnamed output columns Athena's names: ``_col0``, ``_col1`` …"""
    select = tree
    while isinstance(select, (exp.SetOperation, exp.Subquery)):
        select = select.this if isinstance(select, exp.Subquery) else select.left
    if not isinstance(select, exp.Select):
        return
    for index, projection in enumerate(select.expressions):
        if isinstance(projection, (exp.Alias, exp.Column, exp.Star, exp.Dot)):
            continue
        projection.replace(exp.alias_(projection.copy(), f"_col{index}", quoted=True))


def qualify_tables(tree: exp.Expr, default_database: str) -> None:
    """Name every catalog table ``"database"."table"``, lowercase, catalog part dropped."""
    for table, ref in list(table_nodes(tree, default_database)):
        table.set("catalog", None)
        table.set("db", exp.to_identifier(ref.database, quoted=True))
        table.set("this", exp.to_identifier(ref.table, quoted=True))


def typed_copy(
    tree: exp.Expr, schemas: Mapping[TableRef, Sequence[Column]], expand_stars: bool
) -> exp.Expr:
    """A qualified copy of ``tree`` whose nodes carry sqlglot types (columns their
    tables' types); raises what sqlglot raises on a query it cannot qualify."""
    mapping: dict[str, Any] = {}
    for ref, columns in schemas.items():
        mapping.setdefault(ref.database, {})[ref.table] = {c.name.lower(): c.type for c in columns}
    typed = qualify(
        tree.copy(),
        schema=mapping or None,
        dialect=READ_DIALECT,
        validate_qualify_columns=False,
        expand_stars=expand_stars,
        quote_identifiers=False,
        identify=False,
    )
    return annotate_types(typed, schema=mapping or None, dialect=READ_DIALECT)


def annotate(tree: exp.Expr, schemas: Mapping[TableRef, Sequence[Column]]) -> None:
    """Type ``tree``'s nodes in place (sqlglot types); with schemas, columns get
    their tables' types.

    Qualifying a copy is the only way sqlglot resolves unqualified columns, so the
    types are computed there and copied back by node position in a parallel walk.
    """
    try:
        typed = typed_copy(tree, schemas, expand_stars=False)
        by_position = {_path(node): node.type for node in typed.walk() if _is_typed(node)}
    except Exception:  # sqlglot cannot qualify every query; literals still get typed
        by_position = {}
    annotate_types(tree, dialect=READ_DIALECT)
    for node in tree.walk():
        if isinstance(node, exp.Column) and _path(node) in by_position:
            node.type = by_position[_path(node)]


def _is_typed(node: exp.Expr) -> bool:
    return isinstance(node, exp.Column) and node.type is not None


def _path(node: exp.Expr) -> tuple[str, ...]:
    """A structural address that survives qualification (arg names and indexes)."""
    parts: list[str] = []
    while node.parent is not None:
        parts.append(f"{node.arg_key}[{node.index}]")
        node = node.parent
    return tuple(reversed(parts))


def is_type(node: exp.Expr | None, *types: Any) -> bool:
    """Whether ``annotate`` typed ``node`` as one of ``types``."""
    return node is not None and node.type is not None and node.type.this in types


def result_types(
    tree: exp.Expr, default_database: str, schemas: Mapping[TableRef, Sequence[Column]]
) -> tuple[exp.DataType, ...] | None:
    """The SQL type of each result column of a parsed query (``*`` expanded), as far
    as sqlglot can tell from the tables' columns; None when it cannot tell."""
    tree = tree.copy()
    qualify_tables(tree, default_database)
    try:
        typed = typed_copy(tree, schemas, expand_stars=True)
    except Exception:  # sqlglot cannot qualify every query
        return None
    if not isinstance(typed, exp.Query):
        return None
    types = [select.type for select in typed.selects]
    return None if any(t is None for t in types) else tuple(t for t in types if t is not None)
