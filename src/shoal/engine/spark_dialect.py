"""Athena (Trino) SQL in, Spark SQL out — with Athena's answers, or a clear error.

The Spark engine's half of the seam: ``to_spark(tree, default_database, schemas,
views)`` takes the tree ``athena.parse`` checked and the planner resolved, names
its planned tables by ``views``, rewrites the constructs where sqlglot's Spark
output would answer differently from Athena, and writes Spark SQL. Spark's ANSI
mode (a session setting of the engine) already fails as Trino does on overflow, bad
casts and integer division by zero.

Fixes over plain ``sqlglot.transpile(read="athena", write="spark")``:

* a number with a point (``0.5``) is a DOUBLE in Athena, a DECIMAL in Spark;
* integer ``/`` truncates in Trino; Spark's is fractional (``div`` truncates);
* ``CAST(double AS integer)`` rounds half away from zero in Trino, truncates in Spark;
* ``try(...)``: sqlglot drops it; its divisions become NULL on a zero divisor
  (other failures inside ``try`` still fail on Spark);
* ``array_agg`` is ``collect_list``, which drops NULLs and keeps no order: values go
  in as structs, sorted by their ``ORDER BY`` keys;
* ``day_of_week`` is ``weekday() + 1`` (sqlglot's Spark form is off by one);
* ``any_match`` / ``all_match`` / ``none_match`` are Spark's ``exists`` / ``forall``;
* ``url_extract_*`` are ``parse_url``; ``codepoint`` is ``ascii``; ``zip`` pads
  with NULLs into ``field0``, ``field1`` … rows; ``hamming_distance`` is spelled out;
* ``json_extract_scalar`` of an array or object is NULL (``get_json_object`` gives
  its text);
* ``format_datetime``'s Joda pattern becomes ``date_format``'s Java pattern (the
  letters agree but for the year of era ``Y`` and the week year ``x``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from shoal.catalog.model import Column
from shoal.engine.athena import (
    STAYS_DECIMAL,
    TableRef,
    annotate,
    decimal_comparisons,
    is_point_literal,
    is_type,
    mark_exact_decimal_comparisons,
    name_projections,
    qualify_tables,
    unsupported,
)

WRITE_DIALECT = "spark"
# Lambda parameters of the rewrites: names a query's own columns are unlikely to have
# (a lambda parameter hides a column of its name inside the lambda).
_INDEX, _ITEM, _LEFT, _RIGHT = "shoal_i", "shoal_item", "shoal_left", "shoal_right"

_INTEGER_TYPES = (
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
)
_FLOATING_TYPES = (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT)
# url_extract_<part>(url) -> parse_url(url, PART)
_URL_PARTS = {
    "url_extract_host": "HOST",
    "url_extract_path": "PATH",
    "url_extract_protocol": "PROTOCOL",
    "url_extract_query": "QUERY",
    "url_extract_fragment": "REF",
}


def to_spark(
    tree: exp.Expr,
    default_database: str,
    schemas: Mapping[TableRef, Sequence[Column]] | None,
    views: Mapping[tuple[str, str], str],
) -> str:
    """Translate a parsed, checked Athena query into Spark SQL.

    Args:
        tree: the result of ``athena.parse`` (left unchanged).
        default_database: the database unqualified table names belong to.
        schemas: the columns (Hive types) of each referenced table, partition keys
            included; they let the translation see integer and floating operands.
        views: the name Spark knows each planned ``(database, table)`` by.

    Raises:
        UnsupportedSqlError: a construct has no faithful Spark translation.
    """
    tree = tree.copy()
    name_projections(tree)
    qualify_tables(tree, default_database)
    compared = decimal_comparisons(tree)
    annotate(tree, schemas or {})
    mark_exact_decimal_comparisons(compared)
    tree = _rewrite_bottom_up(tree)
    _name_views(tree, views)
    try:
        return tree.sql(dialect=WRITE_DIALECT, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as err:
        unsupported(tree, str(err).strip())
        raise  # unreachable: unsupported always raises


def _rewrite_bottom_up(tree: exp.Expr) -> exp.Expr:
    """Each node through ``_rewrite``, children before their parents, so a rewrite
    that copies its arguments copies them rewritten (sqlglot's ``transform`` goes
    top-down and skips what a replacement holds)."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = _rewrite(node)
        if new is node:
            continue
        if node is tree:
            return new
        node.replace(new)
    return tree


def _name_views(tree: exp.Expr, views: Mapping[tuple[str, str], str]) -> None:
    for table in list(tree.find_all(exp.Table)):
        name = views.get((table.db.lower(), table.name.lower()))
        if name is None:
            continue
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        table.replace(exp.Table(this=exp.to_identifier(name), alias=alias))


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _rewrite(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Anonymous):
        return _function(node)
    if isinstance(node, exp.Try):
        return _try(node)
    if isinstance(node, exp.Div) and _is_integer(node.this) and _is_integer(node.expression):
        return exp.IntDiv(this=node.this.copy(), expression=node.expression.copy())
    if isinstance(node, exp.JSONExtractScalar):
        return _json_scalar(node)
    if isinstance(node, exp.DayOfWeekIso):
        # Monday is 1 in Trino, 0 in Spark's weekday() (sqlglot's own form is off by one).
        weekday = _call("weekday", node.this.copy())
        return exp.Paren(this=exp.Add(this=weekday, expression=exp.Literal.number(1)))
    if isinstance(node, (exp.ArrayAgg, exp.Filter, exp.Window)):
        return _array_agg(node)
    if (
        isinstance(node, exp.Cast)
        and node.to.is_type(*_INTEGER_TYPES)
        and (is_point_literal(node.this) or is_type(node.this, *_FLOATING_TYPES))
    ):
        # Trino rounds a double half away from zero (74.5 -> 75), as Spark's round()
        # does; Spark's own cast truncates.
        node.set("this", _call("round", node.this.copy()))
    if is_point_literal(node) and not node.meta.get(STAYS_DECIMAL):
        return exp.cast(node.copy(), exp.DataType.Type.DOUBLE)
    return node


def _is_integer(node: exp.Expr) -> bool:
    if isinstance(node, exp.Literal) and node.is_int:
        return True
    if isinstance(node, (exp.Paren, exp.Neg, exp.Nullif)):
        return _is_integer(node.this)
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Mod, exp.IntDiv)):
        return _is_integer(node.this) and _is_integer(node.expression)
    return is_type(node, *_INTEGER_TYPES)


def _function(node: exp.Anonymous) -> exp.Expr:
    name = node.name.lower()
    args = [a.copy() for a in node.expressions]
    if name in _URL_PARTS and len(args) == 1:
        return _call("parse_url", args[0], exp.Literal.string(_URL_PARTS[name]))
    if name == "url_extract_parameter" and len(args) == 2:
        return _call("parse_url", args[0], exp.Literal.string("QUERY"), args[1])
    if name == "url_extract_port" and len(args) == 1:
        return _url_port(args[0])
    if name == "codepoint" and len(args) == 1:
        return exp.cast(_call("ascii", args[0]), exp.DataType.Type.INT)
    if name in ("any_match", "all_match", "none_match"):
        return _match(node, name, args)
    if name == "zip" and len(args) >= 2:
        return _zip(args)
    if name == "hamming_distance" and len(args) == 2:
        return _hamming_distance(*args)
    if name == "format_datetime":
        return _format_datetime(node, args)
    return node


def _url_port(url: exp.Expr) -> exp.Expr:
    authority = _call("parse_url", url, exp.Literal.string("AUTHORITY"))
    digits = _call(
        "regexp_extract", authority, exp.Literal.string(r":(\d+)$"), exp.Literal.number(1)
    )
    port = exp.Nullif(this=digits, expression=exp.Literal.string(""))
    return exp.cast(port, exp.DataType.Type.BIGINT)


def _match(node: exp.Anonymous, name: str, args: list[exp.Expr]) -> exp.Expr:
    """any_match / all_match / none_match(array, predicate): an empty array answers
    false, true, true, as Spark's exists / forall do."""
    if len(args) != 2:
        unsupported(node, f"{name} takes an array and a lambda")
    if name == "all_match":
        return _call("forall", *args)
    found = _call("exists", *args)
    return exp.Not(this=found) if name == "none_match" else found


def _zip(arrays: list[exp.Expr]) -> exp.Expr:
    """Trino's zip: rows ``field0`` … as long as the longest array, NULL-padded."""
    index = exp.to_identifier(_INDEX)
    longest = exp.Greatest(
        this=_call("size", arrays[0]), expressions=[_call("size", a.copy()) for a in arrays[1:]]
    )
    positive = exp.Lambda(
        this=exp.GT(this=exp.column(_INDEX), expression=exp.Literal.number(0)), expressions=[index]
    )
    indexes = _call("filter", _call("sequence", exp.Literal.number(0), longest), positive)
    fields: list[exp.Expr] = []
    for position, array in enumerate(arrays):
        fields += [
            exp.Literal.string(f"field{position}"),
            _call("try_element_at", array.copy(), exp.column(_INDEX)),
        ]
    row = exp.Lambda(this=_call("named_struct", *fields), expressions=[index.copy()])
    return _call("transform", indexes, row)


def _hamming_distance(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    """The positions where two strings of equal length differ (Trino fails on
    different lengths)."""
    index = exp.to_identifier(_INDEX)
    at = exp.column(_INDEX)
    differs = exp.NEQ(
        this=exp.Substring(this=left.copy(), start=at, length=exp.Literal.number(1)),
        expression=exp.Substring(this=right.copy(), start=at.copy(), length=exp.Literal.number(1)),
    )
    positions = _call(
        "filter",
        _call("sequence", exp.Literal.number(0), exp.Length(this=left.copy())),
        exp.Lambda(
            this=exp.and_(exp.GT(this=at.copy(), expression=exp.Literal.number(0)), differs),
            expressions=[index],
        ),
    )
    unequal = exp.NEQ(this=exp.Length(this=left.copy()), expression=exp.Length(this=right.copy()))
    failure = _call(
        "raise_error",
        exp.Literal.string("The input strings to hamming_distance must have the same length"),
    )
    return exp.Case(ifs=[exp.If(this=unequal, true=failure)], default=_call("size", positions))


# Joda letters whose Java (DateTimeFormatter) meaning differs.
_JODA_TO_JAVA = {"Y": "y", "x": "Y"}


def _format_datetime(node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
    if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
        unsupported(node, "format_datetime with a pattern that is not a string literal")
    return _call("date_format", args[0], exp.Literal.string(_java_pattern(args[1].this)))


def _java_pattern(joda: str) -> str:
    """A Joda pattern as Java's: quoted text kept, the differing letters swapped."""
    out, quoted = [], False
    for char in joda:
        if char == "'":
            quoted = not quoted
        out.append(char if quoted else _JODA_TO_JAVA.get(char, char))
    return "".join(out)


def _try(node: exp.Try) -> exp.Expr:
    """``try(x)``: Spark has no such function; a division by zero inside is NULL (as
    Trino's try answers), its other failures still fail."""
    inner = node.this.copy()
    for division in list(inner.find_all(exp.Div, exp.IntDiv, exp.Mod)):
        divisor = division.expression
        divisor.replace(exp.Nullif(this=divisor.copy(), expression=exp.Literal.number(0)))
    return exp.Paren(this=inner)


def _json_scalar(node: exp.JSONExtractScalar) -> exp.Expr:
    """Trino's json_extract_scalar is NULL for arrays and objects; Spark's
    get_json_object gives their JSON text."""
    found = node.copy()
    text = exp.JSONExtract(this=node.this.copy(), expression=node.expression.copy())
    container = exp.or_(
        exp.Not(this=exp.Is(this=_call("json_array_length", text), expression=exp.null())),
        exp.Not(this=exp.Is(this=_call("json_object_keys", text.copy()), expression=exp.null())),
    )
    return exp.Case(ifs=[exp.If(this=container, true=exp.null())], default=found)


def _array_agg(node: exp.Expr) -> exp.Expr:
    """array_agg(x [ORDER BY k1 [DESC], …]), perhaps under FILTER or OVER: Spark's
    collect_list drops NULLs and keeps no order, so each value is collected in a
    struct with its keys, sorted by a comparator of the keys, and taken out again."""
    agg = node
    while isinstance(agg, (exp.Filter, exp.Window)):
        agg = agg.this
    if not isinstance(agg, exp.ArrayAgg) or isinstance(agg.this, exp.Distinct):
        return node
    order = agg.this if isinstance(agg.this, exp.Order) else None
    keys = [o for o in order.expressions if isinstance(o, exp.Ordered)] if order else []
    value = order.this if order is not None else agg.this
    fields: list[exp.Expr] = []
    for position, key in enumerate(keys):
        fields += [exp.Literal.string(f"k{position}"), key.this.copy()]
    fields += [exp.Literal.string("v"), value.copy()]
    collected = _call("collect_list", _call("named_struct", *fields))
    outer = node.copy()
    inner = outer
    while isinstance(inner, (exp.Filter, exp.Window)):
        inner = inner.this
    if inner is outer:
        outer = collected
    else:
        inner.replace(collected)
    if keys:
        outer = _call("array_sort", outer, _comparator(keys))
    take = exp.Lambda(this=exp.column("v", _ITEM), expressions=[exp.to_identifier(_ITEM)])
    return _call("transform", outer, take)


def _comparator(keys: list[exp.Ordered]) -> exp.Expr:
    ifs = []
    for position, key in enumerate(keys):
        a, b = exp.column(f"k{position}", _LEFT), exp.column(f"k{position}", _RIGHT)
        before, after = (exp.Literal.number(-1), exp.Literal.number(1))
        if key.args.get("desc"):
            before, after = after, before
        # NULLs last unless the key says NULLS FIRST (Trino's default is last).
        null_first, null_last = (exp.Literal.number(-1), exp.Literal.number(1))
        if not key.args.get("nulls_first"):
            null_first, null_last = null_last, null_first
        left_null = exp.and_(a.copy().is_(exp.null()), exp.not_(b.copy().is_(exp.null())))
        right_null = exp.and_(exp.not_(a.copy().is_(exp.null())), b.copy().is_(exp.null()))
        ifs.append(exp.If(this=left_null, true=null_first))
        ifs.append(exp.If(this=right_null, true=null_last))
        ifs.append(exp.If(this=exp.LT(this=a, expression=b), true=before))
        ifs.append(exp.If(this=exp.GT(this=a.copy(), expression=b.copy()), true=after))
    return exp.Lambda(
        this=exp.Case(ifs=ifs, default=exp.Literal.number(0)),
        expressions=[exp.to_identifier(_LEFT), exp.to_identifier(_RIGHT)],
    )


# ---------------------------------------------------------------- names, types, literals

_VARCHAR = re.compile(r"\b(?:var)?char\s*\(\s*\d+\s*\)", re.IGNORECASE)


def spark_type(hive: str) -> str:
    """A catalog (Hive) type as Spark DDL: the same text, less lengths on text types."""
    return _VARCHAR.sub("string", hive)


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def string_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


__all__ = ["quote", "spark_type", "string_literal", "to_spark"]
