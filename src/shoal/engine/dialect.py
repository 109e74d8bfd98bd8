"""Athena (Trino) SQL in, DuckDB SQL out — with Athena's answers, or a clear error.

The DuckDB engine's half of the seam: it receives a tree that ``athena.parse``
checked and the planner resolved, and ``to_duckdb(tree, default_database, schemas)``
qualifies every table as ``"database"."table"`` (the name the engine exposes scans
under), rewrites the constructs where sqlglot's DuckDB output would answer
differently from Athena, and generates SQL with every identifier quoted. A
construct sqlglot cannot translate raises ``UnsupportedSqlError`` naming it and its
position.

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
from collections.abc import Mapping, Sequence

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from shoal.catalog.model import Column
from shoal.engine import joda, trino_functions
from shoal.engine.athena import (
    STAYS_DECIMAL,
    TableRef,
    annotate,
    decimal_comparisons,
    is_point_literal,
    is_type,
    mark_exact_decimal_comparisons,
    name_projections,
    parse,
    qualify_tables,
    unsupported,
)
from shoal.lru import LruCache

WRITE_DIALECT = "duckdb"

# DuckDB session settings the translated SQL relies on for Athena's results.
DUCKDB_SESSION_SETTINGS: Mapping[str, str | bool] = {"integer_division": True, "TimeZone": "UTC"}

# Translations seen recently: DuckDB SQL by tree (see to_duckdb).
_TRANSLATED: LruCache[str] = LruCache(256)
# Trino units whose date_add/date_trunc on a DATE stay a DATE.
_DATE_UNITS = frozenset({"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"})


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
    name_projections(tree)
    _unwrap_parenthesized_tables(tree)
    qualify_tables(tree, default_database)
    # Typing costs ~5-15 ms; most queries skip it.
    casts = list(tree.find_all(exp.Cast))
    compared = decimal_comparisons(tree)
    if compared or any(tree.find_all(*_NEEDS_TYPES)) or any(map(_needs_operand_type, casts)):
        annotate(tree, schemas or {})
        mark_exact_decimal_comparisons(compared)
    tree = tree.transform(_rewrite, copy=False)  # already a private copy
    _keep_date_arithmetic(tree)
    _guard_division_by_zero(tree)
    try:
        return tree.sql(dialect=WRITE_DIALECT, identify=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as err:
        unsupported(_firstunsupported(tree) or tree, str(err).strip())
        raise  # unreachable: unsupported always raises


def translate(sql: str, default_database: str) -> str:
    """Parse, check and translate in one step (for callers without schemas)."""
    return to_duckdb(parse(sql), default_database)


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
    if isinstance(node, exp.ApproxQuantile) and is_point_literal(node.args["quantile"]):
        # DuckDB wants a constant quantile; the DOUBLE cast a point literal gets is not one.
        node.set("quantile", exp.cast(node.args["quantile"].copy(), "FLOAT"))
    if isinstance(node, exp.ArraySize) and is_type(node.this, exp.DataType.Type.MAP):
        return exp.Anonymous(this="cardinality", expressions=[node.this.copy()])
    if isinstance(node, exp.Cast) and _is_bare_decimal(node.to):
        node.set("to", _decimal_for(node.this))
    if _casts_to_integer(node) and (
        is_point_literal(node.this) or is_type(node.this, *_FLOATING_TYPES)
    ):
        # Trino rounds a double half away from zero (74.5 -> 75), as DuckDB's round()
        # does; DuckDB's own cast rounds half to even (74.5 -> 74).
        node.set("this", exp.Anonymous(this="round", expressions=[node.this.copy()]))
    # Trino's CAST(varchar AS JSON) is a JSON string holding the text; DuckDB's parses
    # it (json_parse is Trino's way to parse).
    if _casts_to_json(node) and _is_text(node.this):
        return exp.Anonymous(this="to_json", expressions=[node.this.copy()])
    if is_point_literal(node) and not node.meta.get(STAYS_DECIMAL):
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
        unsupported(node, f"{name} takes an array and a lambda")
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
        unsupported(node, "format_datetime with a pattern that is not a string literal")
    try:
        pattern = joda.to_strftime(args[1].this)
    except ValueError as err:
        unsupported(node, str(err))
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
    return (isinstance(node, exp.Literal) and node.is_string) or is_type(node, *_TEXT_TYPES)


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
    return all(is_type(e, *_INTEGER_TYPES) for e in ends) and (
        step is None or is_type(step, *_INTEGER_TYPES)
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
    if unit in _DATE_UNITS and is_type(node.this, exp.DataType.Type.DATE):
        return exp.cast(node.copy(), exp.DataType.build("DATE"))
    return node


def _keep_date_arithmetic(tree: exp.Expr) -> None:
    """``date ± interval`` is a DATE in Trino; DuckDB answers a TIMESTAMP."""
    for node in list(tree.find_all(exp.Add, exp.Sub)):
        left, right = node.this, node.expression
        dated = is_type(left, exp.DataType.Type.DATE) and isinstance(right, exp.Interval)
        if dated or (
            isinstance(node, exp.Add)
            and isinstance(left, exp.Interval)
            and is_type(right, exp.DataType.Type.DATE)
        ):
            node.replace(exp.cast(node.copy(), exp.DataType.build("DATE")))


def _firstunsupported(tree: exp.Expr) -> exp.Expr | None:
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
