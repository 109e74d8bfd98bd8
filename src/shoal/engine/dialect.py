"""Athena (Trino) SQL in, DuckDB SQL out — with Athena's answers, or a clear error.

The query service calls three functions, in this order:

1. ``parse(sql)`` parses Athena SQL with sqlglot and checks it is a read-only query
   (allow-list of statement shapes, no table functions, no file-reading functions).
   Syntax errors become ``SqlSyntaxError`` with sqlglot's line and column.
2. ``referenced_tables(tree, default_database)`` lists every catalog table the
   statement reads, through CTEs and subqueries, for resolution and authorization.
3. ``to_duckdb(tree, default_database, schemas)`` qualifies every table as
   ``"database"."table"`` (the name the engine exposes scans under), rewrites the
   constructs where sqlglot's DuckDB output would answer differently from Athena,
   and generates SQL with every identifier quoted. A construct sqlglot cannot
   translate raises ``UnsupportedSqlError`` naming it and its position.

Fixes over plain ``sqlglot.transpile(read="athena", write="duckdb")`` (each checked
by running both on DuckDB 1.5.5 against Trino's documented results):

* ``json_extract_scalar`` on an array/object is NULL in Trino; DuckDB's ``->>`` would
  return the JSON text.
* ``date_diff(unit, a, b)`` counts *whole* units elapsed in Trino (01:30 → 02:10 is 0
  hours); DuckDB's ``date_diff`` counts boundaries crossed, its ``date_sub`` matches.
* ``date_trunc`` / ``date_add`` on a DATE return DATE in Trino, TIMESTAMP in DuckDB.
* ``cardinality(map)`` became ``array_length`` (fails on maps in DuckDB).
* Unnamed projections are called ``_col0``, ``_col1`` … as Athena names them.
* Integer and decimal division or remainder by zero fails ("Division by zero") in
  Trino; DuckDB answers NULL (``_guard_division_by_zero``).

Engine settings that complete the dialect (applied by the DuckDB engine): integer
division (``5 / 2 = 2``, truncating as Trino does) and the UTC session time zone.
Known divergence: DuckDB's TIMESTAMP WITH TIME ZONE keeps the instant, not the zone,
so ``hour(from_iso8601_timestamp('…T10:00+02:00'))`` is 8 (UTC) where Trino says 10.
A floating division by zero is NULL here (Trino: Infinity or NaN), or fails when the
divisor is an integer zero; ``ARRAY[1][5]`` is NULL here where Trino fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from shoal.catalog.model import Column
from shoal.engine import joda, trino_functions
from shoal.engine.base import function_name
from shoal.engine.lru import LruCache
from shoal.errors import SqlSyntaxError, UnsupportedSqlError

READ_DIALECT = "athena"
WRITE_DIALECT = "duckdb"
DATA_CATALOG = "awsdatacatalog"  # the only catalog Athena clients name; stripped

# DuckDB session settings the translated SQL relies on for Athena's results.
DUCKDB_SESSION_SETTINGS: Mapping[str, str | bool] = {"integer_division": True, "TimeZone": "UTC"}

# Functions that read files, settings or the environment. Table functions are
# refused wholesale (see _check_sources); these catch them in any other position.
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
# Statements seen recently: parsed trees by text, DuckDB SQL by tree (see parse, to_duckdb).
_PARSED: LruCache[exp.Expr] = LruCache(256)
_TRANSLATED: LruCache[str] = LruCache(256)
_TOKEN_RE = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: .*?>")
# Trino units whose date_add/date_trunc on a DATE stay a DATE.
_DATE_UNITS = frozenset({"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"})


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
        _unsupported(tree, f"{_construct(tree)} statements (only queries run here)")
    for node in tree.walk():
        if isinstance(node, _DENIED_NODES):
            _unsupported(node, _construct(node))
        if isinstance(node, exp.Func) and function_name(node) in DENIED_FUNCTIONS:
            _unsupported(node, f"function {function_name(node)}")
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
        _unsupported(node, f"time unit {unit.name.lower()!r} (one of {', '.join(TIME_UNITS)})")


def _check_source(table: exp.Table) -> None:
    if not isinstance(table.this, exp.Identifier):
        _unsupported(table, f"table function {_construct(table.this)}")
    catalog = table.args.get("catalog")
    if catalog is not None and catalog.name.lower() != DATA_CATALOG:
        _unsupported(catalog, f"catalog {catalog.name!r} (only {DATA_CATALOG} exists)")


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


def _unsupported(node: exp.Expr, what: str) -> None:
    line, col = _position(node)
    where = f"line {line}:{col}: " if line is not None else ""
    raise UnsupportedSqlError(f"{where}not supported: {what}", line, col)


# ---------------------------------------------------------------- referenced tables


def referenced_tables(tree: exp.Expr, default_database: str) -> list[TableRef]:
    """Every catalog table ``tree`` reads, sorted, without duplicates; CTE names excluded."""
    return sorted({ref for _, ref in _table_nodes(tree, default_database)})


def _table_nodes(tree: exp.Expr, default_database: str) -> Iterator[tuple[exp.Table, TableRef]]:
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        if not table.args.get("db") and is_cte_name(table, table.name):
            continue
        database = table.args["db"].name if table.args.get("db") else default_database
        yield table, TableRef(database.lower(), table.name.lower())


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


# ---------------------------------------------------------------- translate


def to_duckdb(
    tree: exp.Expr,
    default_database: str,
    schemas: Mapping[TableRef, Sequence[Column]] | None = None,
) -> str:
    """Translate a parsed, checked Athena query into DuckDB SQL.

    Args:
        tree: the result of ``parse``.
        default_database: the database unqualified table names belong to.
        schemas: the columns (Hive types) of each referenced table, partition keys
            included; they let the translation see DATE and MAP arguments.

    Translations are remembered by the tree (sqlglot trees hash and compare by
    structure), the database and the schemas: repeated queries skip the rewrite.

    Raises:
        UnsupportedSqlError: a construct has no faithful DuckDB translation.
    """
    columns = tuple(sorted((ref, tuple(cols)) for ref, cols in (schemas or {}).items()))
    key = (type(tree), tree, default_database, columns)
    found = _TRANSLATED.get(key)
    if found is None:
        found = _translate(tree, default_database, schemas)
        # Keyed by a private copy: a caller changing its tree must not move the key.
        _TRANSLATED.put((type(tree), tree.copy(), default_database, columns), found)
    return found


def _translate(
    tree: exp.Expr, default_database: str, schemas: Mapping[TableRef, Sequence[Column]] | None
) -> str:
    tree = tree.copy()
    _name_projections(tree)
    _unwrap_parenthesized_tables(tree)
    _qualify_tables(tree, default_database)
    # Typing costs ~5-15 ms; most queries skip it.
    casts = list(tree.find_all(exp.Cast))
    if any(tree.find_all(*_NEEDS_TYPES)) or any(_needs_operand_type(c) for c in casts):
        _annotate(tree, schemas or {})
    tree = tree.transform(_rewrite, copy=False)  # already a private copy
    _keep_date_arithmetic(tree)
    _guard_division_by_zero(tree)
    try:
        return tree.sql(dialect=WRITE_DIALECT, identify=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as err:
        _unsupported(_first_unsupported(tree) or tree, str(err).strip())
        raise  # unreachable: _unsupported always raises


def translate(sql: str, default_database: str) -> str:
    """Parse, check and translate in one step (for callers without schemas)."""
    return to_duckdb(parse(sql), default_database)


def _name_projections(tree: exp.Expr) -> None:
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


def _unwrap_parenthesized_tables(tree: exp.Expr) -> None:
    """``FROM (t)`` is the relation ``t`` in Trino (dbt-athena's partition batching
    writes ``from ("db"."t")``); DuckDB's parser fails on it, so drop the parentheses.
    An alias outside them wins. A parenthesized join already reads the same in both."""
    # Innermost first, so ((t)) unwraps layer by layer.
    for subquery in reversed(list(tree.find_all(exp.Subquery))):
        table = subquery.this
        extra = {k for k, v in subquery.args.items() if v is not None} - {"this", "alias"}
        if not isinstance(table, exp.Table) or table.args.get("joins") or extra:
            continue
        if subquery.args.get("alias") is not None:
            table.set("alias", subquery.args["alias"])
        subquery.replace(table)


def _qualify_tables(tree: exp.Expr, default_database: str) -> None:
    """Name every catalog table ``"database"."table"``, lowercase, catalog part dropped."""
    for table, ref in list(_table_nodes(tree, default_database)):
        table.set("catalog", None)
        table.set("db", exp.to_identifier(ref.database, quoted=True))
        table.set("this", exp.to_identifier(ref.table, quoted=True))


def _typed_copy(
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


def result_types(
    tree: exp.Expr, default_database: str, schemas: Mapping[TableRef, Sequence[Column]]
) -> tuple[exp.DataType, ...] | None:
    """The SQL type of each result column of a parsed query (``*`` expanded), as far
    as sqlglot can tell from the tables' columns; None when it cannot tell."""
    tree = tree.copy()
    _qualify_tables(tree, default_database)
    try:
        typed = _typed_copy(tree, schemas, expand_stars=True)
    except Exception:  # sqlglot cannot qualify every query
        return None
    if not isinstance(typed, exp.Query):
        return None
    types = [select.type for select in typed.selects]
    return None if any(t is None for t in types) else tuple(t for t in types if t is not None)


def _annotate(tree: exp.Expr, schemas: Mapping[TableRef, Sequence[Column]]) -> None:
    """Attach sqlglot types to nodes; with schemas, columns get their table's types.

    Qualifying a copy is the only way sqlglot resolves unqualified columns, so the
    types are computed there and copied back by node position in a parallel walk.
    """
    try:
        typed = _typed_copy(tree, schemas, expand_stars=False)
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


def _is_type(node: exp.Expr | None, *types: Any) -> bool:
    return node is not None and node.type is not None and node.type.this in types


# Nodes whose rewrite depends on argument types (see _rewrite).
_NEEDS_TYPES: tuple[type[exp.Expr], ...] = (
    exp.Interval,  # date + interval: see _keep_date_arithmetic
    exp.GenerateSeries,
    exp.DateAdd,
    exp.TimestampTrunc,
    exp.DateTrunc,
    exp.ArraySize,
)


def _rewrite(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.GenerateSeries) and _integer_series(node):
        return _capped_sequence(node)
    if isinstance(node, exp.JSONExtractScalar):
        return _json_scalar(node)
    if _is_json_to_varchar(node):
        return _json_to_varchar(node)
    if isinstance(node, exp.DateDiff):
        return _date_diff(node)
    if isinstance(node, (exp.DateAdd, exp.TimestampTrunc, exp.DateTrunc)):
        return _keep_date(node)
    if isinstance(node, (exp.ArrayDistinct, exp.ArraySlice, exp.ArrayExcept)):
        return _trino_array_function(node)
    if isinstance(node, exp.Anonymous) and node.name.lower() in _MATCHES:
        return _match(node)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "format_datetime":
        return _format_datetime(node)
    if isinstance(node, exp.Reduce) and node.args.get("finish") is not None:
        return _reduce_then_finish(node)
    if isinstance(node, exp.ApproxQuantile) and _is_point_literal(node.args["quantile"]):
        # DuckDB wants a constant quantile; the DOUBLE cast a point literal gets is not one.
        node.set("quantile", exp.cast(node.args["quantile"].copy(), "FLOAT"))
    if isinstance(node, exp.ArraySize) and _is_type(node.this, exp.DataType.Type.MAP):
        return exp.Anonymous(this="cardinality", expressions=[node.this.copy()])
    if isinstance(node, exp.Cast) and _is_bare_decimal(node.to):
        node.set("to", _decimal_for(node.this))
    if _casts_to_integer(node) and (
        _is_point_literal(node.this) or _is_type(node.this, *_FLOATING_TYPES)
    ):
        # Trino rounds a double half away from zero (74.5 -> 75), as DuckDB's round()
        # does; DuckDB's own cast rounds half to even (74.5 -> 74).
        node.set("this", exp.Anonymous(this="round", expressions=[node.this.copy()]))
    # Trino's CAST(varchar AS JSON) is a JSON string holding the text; DuckDB's parses
    # it (json_parse is Trino's way to parse).
    if _casts_to_json(node) and _is_text(node.this):
        return exp.Anonymous(this="to_json", expressions=[node.this.copy()])
    if _is_point_literal(node):
        return exp.cast(node.copy(), exp.DataType.Type.DOUBLE)
    return node


def _trino_array_function(node: exp.Expr) -> exp.Expr:
    """array_distinct, slice and array_except as Trino defines them (order kept,
    slice by start and length), through the macros of ``trino_functions``."""
    names: dict[type[exp.Expr], str] = {
        exp.ArrayDistinct: trino_functions.ARRAY_DISTINCT,
        exp.ArraySlice: trino_functions.SLICE,
        exp.ArrayExcept: trino_functions.ARRAY_EXCEPT,
    }
    name = names[type(node)]
    args = [
        a.copy()
        for a in (node.this, node.args.get("start"), node.args.get("end"), node.expression)
        if a is not None
    ]
    return exp.Anonymous(this=name, expressions=args)


# any_match / all_match / none_match(array, predicate): a lambda cannot be a macro's
# argument in DuckDB, so they are spelled out. An empty array: false, true, true.
_MATCHES = {
    "any_match": ("list_bool_or", False),
    "all_match": ("list_bool_and", True),
    "none_match": ("list_bool_or", False),
}


def _match(node: exp.Anonymous) -> exp.Expr:
    name = node.name.lower()
    if len(node.expressions) != 2:
        _unsupported(node, f"{name} takes an array and a lambda")
    combine, empty = _MATCHES[name]
    mapped = exp.Anonymous(this="list_transform", expressions=[e.copy() for e in node.expressions])
    found: exp.Expr = exp.Coalesce(
        this=exp.Anonymous(this=combine, expressions=[mapped]),
        expressions=[exp.Boolean(this=empty)],
    )
    return exp.Not(this=found) if name == "none_match" else found


def _format_datetime(node: exp.Anonymous) -> exp.Expr:
    """format_datetime(ts, 'Joda pattern') as strftime: the pattern must be a literal
    (it is translated once, here)."""
    args = node.expressions
    if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
        _unsupported(node, "format_datetime with a pattern that is not a string literal")
    try:
        pattern = joda.to_strftime(args[1].this)
    except ValueError as err:
        _unsupported(node, str(err))
    return exp.Anonymous(this="strftime", expressions=[args[0].copy(), exp.Literal.string(pattern)])


def _reduce_then_finish(node: exp.Reduce) -> exp.Expr:
    """reduce(array, start, merge, finish): DuckDB's list_reduce has no finish step, so
    the reduced value goes through ``finish`` as a one-element list."""
    finish = node.args["finish"]
    reduced = node.copy()
    reduced.set("finish", None)
    wrapped = exp.Anonymous(
        this="list_transform", expressions=[exp.Array(expressions=[reduced]), finish.copy()]
    )
    return exp.Anonymous(this="list_extract", expressions=[wrapped, exp.Literal.number(1)])


def _casts_to_json(node: exp.Expr) -> bool:
    return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON)


_INTEGER_TYPES = (
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
)
_FLOATING_TYPES = (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT)


def _casts_to_integer(node: exp.Expr) -> bool:
    """``CAST``/``TRY_CAST`` to an integer type (TryCast is a Cast in sqlglot)."""
    return isinstance(node, exp.Cast) and node.to.is_type(*_INTEGER_TYPES)


def _needs_operand_type(node: exp.Cast) -> bool:
    """Whether translating this cast depends on its operand's type (found by typing)."""
    if _casts_to_json(node):
        return True
    return _casts_to_integer(node) and not isinstance(node.this, exp.Literal)


_TEXT_TYPES = (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR, exp.DataType.Type.TEXT)


def _is_text(node: exp.Expr) -> bool:
    """A string literal, or an expression typed varchar/char."""
    return (isinstance(node, exp.Literal) and node.is_string) or _is_type(node, *_TEXT_TYPES)


def _is_point_literal(node: exp.Expr) -> bool:
    """A number written with a point (``0.33``): Athena parses it as DOUBLE, where
    DuckDB would make it a DECIMAL (``DECIMAL '0.33'`` is how Athena writes one).
    A sample percentage or a type parameter stays the literal it is."""
    return (
        isinstance(node, exp.Literal)
        and not node.is_string
        and "." in node.this
        and not isinstance(node.parent, (exp.TableSample, exp.DataTypeParam, exp.Cast))
    )


_DECIMAL_TEXT = re.compile(r"\s*[+-]?(\d*)(?:\.(\d*))?\s*")


def _is_bare_decimal(node: exp.Expr | None) -> bool:
    return (
        isinstance(node, exp.DataType)
        and node.this == exp.DataType.Type.DECIMAL
        and not node.expressions
    )


def _decimal_for(value: exp.Expr) -> exp.DataType:
    """What DECIMAL without precision means: Trino's decimal(38, 0), except for a
    literal (``DECIMAL '0.001'``), whose digits give it: decimal(3, 3). DuckDB's own
    default, decimal(18, 3), would cut ``DECIMAL '0.00000000001'`` to 0.000."""
    precision, scale = 38, 0
    if isinstance(value, exp.Literal) and value.is_string:
        found = _DECIMAL_TEXT.fullmatch(value.this)
        if found is not None and (found.group(1) or found.group(2)):
            scale = len(found.group(2) or "")
            precision = min(max(len(found.group(1).lstrip("0")) + scale, 1), 38)
    return exp.DataType.build(f"DECIMAL({precision}, {max(min(scale, precision), 0)})")


# What keeps a divisor out of a guard, which copies it: a subquery would run (and
# scan) once per copy, a volatile function would give each copy another value, and a
# huge expression would be repeated.
_UNCOPYABLE = (exp.Subquery, exp.Select, exp.Rand, exp.Uuid)
_MAX_GUARDED_DIVISOR = 64  # nodes
_FLOATING = ("DOUBLE", "FLOAT")


def _guard_division_by_zero(tree: exp.Expr) -> None:
    """Trino fails an integer or decimal division (or remainder) by zero with
    "Division by zero"; DuckDB answers NULL, a silently different answer. Each divisor
    that is not a literal other than zero becomes ``CASE WHEN d = 0 AND typeof(d) is
    not floating THEN error('Division by zero') ELSE d END`` (DuckDB folds ``typeof``
    when it binds, so floating divisors keep a plain division).

    A floating dividend over an integer zero (Trino: Infinity) fails too: louder than
    NULL, and rare. Divisors that cannot be copied (``_UNCOPYABLE``) are left as they
    are. Innermost divisions first, so nested ones are each guarded once.
    """
    for node in reversed(list(tree.find_all(exp.Div, exp.Mod, bfs=False))):
        divisor = node.expression
        if _nonzero_literal(divisor) or _uncopyable(divisor) or node.find_ancestor(exp.Try):
            continue  # inside try(), Trino's division by zero is NULL: DuckDB's answer
        divisor.replace(_nonzero(divisor.copy()))


def _nonzero_literal(node: exp.Expr) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Neg):
        return _nonzero_literal(node.this)
    if isinstance(node, exp.Cast) and node.to.is_type(*_FLOATING):  # 7.0 is CAST(7.0 AS DOUBLE)
        return _nonzero_literal(node.this)
    if isinstance(node, exp.Literal) and node.is_number:
        try:
            return float(node.this) != 0
        except ValueError:
            return False
    return False


def _uncopyable(node: exp.Expr) -> bool:
    # random()/rand() parse as exp.Rand and uuid() as exp.Uuid.
    for count, child in enumerate(node.walk(), start=1):
        if count > _MAX_GUARDED_DIVISOR or isinstance(child, _UNCOPYABLE):
            return True
    return False


def _nonzero(divisor: exp.Expr) -> exp.Expr:
    floating = exp.In(
        this=exp.Anonymous(this="typeof", expressions=[divisor.copy()]),
        expressions=[exp.Literal.string(name) for name in _FLOATING],
    )
    zero = exp.and_(
        exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)), exp.not_(floating)
    )
    fail = exp.Anonymous(this="error", expressions=[exp.Literal.string("Division by zero")])
    return exp.Paren(this=exp.Case(ifs=[exp.If(this=zero, true=fail)], default=divisor))


SEQUENCE_LIMIT = 10_000  # Trino's cap on the entries of sequence()
_INTEGER_TYPES = (
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
)


def _integer_series(node: exp.GenerateSeries) -> bool:
    step = node.args.get("step")
    ends = (node.args.get("start"), node.args.get("end"))
    return all(_is_type(e, *_INTEGER_TYPES) for e in ends) and (
        step is None or _is_type(step, *_INTEGER_TYPES)
    )


def _capped_sequence(node: exp.GenerateSeries) -> exp.Expr:
    """Trino refuses a sequence of more than 10,000 entries. Enforcing that keeps the
    answer Trino's, and keeps queries cancellable: DuckDB does not look at interrupts
    while it builds one huge list."""
    start, end = node.args["start"].copy(), node.args["end"].copy()
    step = node.args.get("step")
    width = exp.Abs(this=exp.Paren(this=exp.Sub(this=end, expression=start)))
    stride = exp.Abs(this=step.copy() if step is not None else exp.Literal.number(1))
    entries = exp.IntDiv(this=width, expression=stride)
    too_many = exp.GTE(this=entries, expression=exp.Literal.number(SEQUENCE_LIMIT))
    failure = exp.Anonymous(
        this="error",
        expressions=[
            exp.Literal.string(
                f"Result of sequence function must not have more than {SEQUENCE_LIMIT} entries"
            )
        ],
    )
    return exp.Case(ifs=[exp.If(this=too_many, true=failure)], default=node.copy())


def _json_scalar(node: exp.JSONExtractScalar) -> exp.Expr:
    """Trino's json_extract_scalar is NULL for arrays and objects."""
    kind = exp.Anonymous(this="json_type", expressions=[node.this.copy(), node.expression.copy()])
    containers = [exp.Literal.string("ARRAY"), exp.Literal.string("OBJECT")]
    is_container = exp.In(this=kind, expressions=containers)
    return exp.Case(ifs=[exp.If(this=is_container, true=exp.null())], default=node.copy())


def _is_json_to_varchar(node: exp.Expr) -> bool:
    return (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.JSONExtract)
        and node.to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT)
    )


def _json_to_varchar(node: exp.Expr) -> exp.Expr:
    """Trino's CAST(json AS varchar) is the scalar's text ('a', not '"a"'); DuckDB
    keeps the JSON quotes. Arrays and objects fail in Trino, so they fail here too."""
    extract = node.this
    scalar = exp.JSONExtractScalar(this=extract.this.copy(), expression=extract.expression.copy())
    kind = exp.Anonymous(
        this="json_type", expressions=[extract.this.copy(), extract.expression.copy()]
    )
    containers = [exp.Literal.string("ARRAY"), exp.Literal.string("OBJECT")]
    failure = exp.Anonymous(
        this="error",
        expressions=[exp.Literal.string("Cannot cast JSON array or object to varchar")],
    )
    return exp.Case(
        ifs=[exp.If(this=exp.In(this=kind, expressions=containers), true=failure)],
        default=scalar,
    )


def _date_diff(node: exp.DateDiff) -> exp.Expr:
    """Trino counts whole units elapsed: DuckDB's date_sub, not its date_diff."""
    unit = node.text("unit").upper() or "DAY"
    start, end = node.expression.copy(), node.this.copy()
    return exp.Anonymous(
        this="date_sub", expressions=[exp.Literal.string(unit.lower()), start, end]
    )


def _keep_date(node: exp.Expr) -> exp.Expr:
    """date_add / date_trunc on a DATE by a date unit stays a DATE, as in Trino."""
    unit = node.text("unit").upper()
    if unit in _DATE_UNITS and _is_type(node.this, exp.DataType.Type.DATE):
        return exp.cast(node.copy(), exp.DataType.build("DATE"))
    return node


def _keep_date_arithmetic(tree: exp.Expr) -> None:
    """``date ± interval`` is a DATE in Trino; DuckDB answers a TIMESTAMP."""
    for node in list(tree.find_all(exp.Add, exp.Sub)):
        left, right = node.this, node.expression
        dated = _is_type(left, exp.DataType.Type.DATE) and isinstance(right, exp.Interval)
        if dated or (
            isinstance(node, exp.Add)
            and isinstance(left, exp.Interval)
            and _is_type(right, exp.DataType.Type.DATE)
        ):
            node.replace(exp.cast(node.copy(), exp.DataType.build("DATE")))


def _first_unsupported(tree: exp.Expr) -> exp.Expr | None:
    """The innermost node whose own translation fails, to point the user at it."""
    culprit: exp.Expr | None = None
    for node in tree.walk():
        try:
            node.sql(dialect=WRITE_DIALECT, unsupported_level=ErrorLevel.RAISE)
        except UnsupportedError:
            culprit = node
        except Exception:  # fragments that do not print alone are not the culprit
            continue
    return culprit
