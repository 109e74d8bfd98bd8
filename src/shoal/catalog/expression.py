"""Glue's GetPartitions ``Expression``: a SQL condition over partition keys.

``compile_partition_filter`` parses the expression once with sqlglot (Trino
dialect: single-quoted strings, double-quoted identifiers) and returns a predicate
over one partition's values. Filtering happens in Python after the store loads the
table's partitions: simple and exact, and fast enough for thousands of partitions.
Pushing the filter into SQL is a later optimisation.

Supported: ``= <> != < <= > >=``, ``AND OR NOT``, parentheses, ``[NOT] IN (...)``,
``[NOT] BETWEEN``, ``[NOT] LIKE`` (``%``, ``_``, optional ``ESCAPE``),
``IS [NOT] NULL``. Comparisons are numeric when a numeric partition key takes part,
textual otherwise (ISO dates compare correctly as text). Logic is SQL's three-valued
logic; a partition value is NULL when it is Hive's ``__HIVE_DEFAULT_PARTITION__`` or
when a numeric key holds text that is not a number. Anything else is refused with
``InvalidInputError``: nothing in the expression is ever executed as SQL.
"""

from __future__ import annotations

import importlib
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from shoal.catalog.model import Column
from shoal.catalog.types import parse_type
from shoal.errors import InvalidInputError

NUMERIC_TYPES = frozenset(
    {"tinyint", "smallint", "int", "integer", "bigint", "float", "double", "decimal"}
)
# Hive writes a NULL partition value as this folder name.
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
MAX_EXPRESSION_LENGTH = 2048  # Glue's limit

Values = Sequence[str]
Truth = bool | None  # None is SQL's UNKNOWN
Predicate = Callable[[Values], Truth]
Scalar = Decimal | str | None
Getter = Callable[[Values], Scalar]

_COMPARISONS: dict[type[exp.Expression], Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
}


def compile_partition_filter(
    expression: str, partition_keys: Sequence[Column]
) -> Callable[[Sequence[str]], bool]:
    """Compile a GetPartitions expression into a test over one partition's values.

    Args:
        expression: the condition, e.g. ``year = '2024' AND month IN ('01', '02')``.
        partition_keys: the table's partition keys; values come in this order.

    Returns:
        A function of a partition's values that is true when the partition matches
        (UNKNOWN, as in SQL, does not match).

    Raises:
        InvalidInputError: unparsable text (with its position), an unknown column,
            or a construct outside the supported subset.
    """
    tree = _parse(expression)
    predicate = _Compiler(partition_keys).predicate(tree)
    return lambda values: predicate(values) is True


def is_numeric_type(type_text: str) -> bool:
    """Whether a partition key of this Hive type compares as a number."""
    return parse_type(type_text).name in NUMERIC_TYPES


def partition_order_key(
    partition_keys: Sequence[Column],
) -> Callable[[Sequence[str]], tuple[tuple[int, Decimal, str], ...]]:
    """A sort key for partition values: numbers in numeric order, then text.

    Total and deterministic whatever the values hold; text that is not a number
    under a numeric key sorts after the numbers.
    """
    numeric = [is_numeric_type(k.type) for k in partition_keys]

    def key(values: Sequence[str]) -> tuple[tuple[int, Decimal, str], ...]:
        parts = []
        for is_num, value in zip(numeric, values, strict=True):
            number = _to_number(value) if is_num else None
            if number is None:
                parts.append((1, Decimal(0), value))
            else:
                parts.append((0, number, value))
        return tuple(parts)

    return key


def _parse(expression: str) -> exp.Expression:
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidInputError("partition expression must not be empty")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidInputError(
            f"partition expression is longer than {MAX_EXPRESSION_LENGTH} characters"
        )
    try:
        tree = sqlglot.parse_one(expression, read="trino")
    except ParseError as error:
        raise InvalidInputError(_describe_parse_error(expression, error)) from None
    except (SqlglotError, RecursionError) as error:
        raise InvalidInputError(f"invalid partition expression {expression!r}: {error}") from None
    if not isinstance(tree, exp.Expression):
        raise InvalidInputError(f"invalid partition expression {expression!r}")
    return tree


def _describe_parse_error(expression: str, error: ParseError) -> str:
    # str(error) carries ANSI highlighting; build a plain message from the details.
    if not error.errors:
        return f"invalid partition expression {expression!r}: {error}"
    first = error.errors[0]
    return (
        f"invalid partition expression {expression!r}: {first.get('description')} "
        f"at line {first.get('line')}, column {first.get('col')}"
    )


def _to_number(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _unsupported(node: exp.Expression) -> InvalidInputError:
    return InvalidInputError(
        f"unsupported construct in partition expression: {node.sql(dialect='trino')!r}"
    )


# --- three-valued logic ----------------------------------------------------------------


def _not(value: Truth) -> Truth:
    return None if value is None else not value


def _and(a: Truth, b: Truth) -> Truth:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: Truth, b: Truth) -> Truth:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


# --- compiling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Operand:
    """A value in the expression: a partition key or a literal (raw text, None = NULL)."""

    get: Callable[[Values], str | None]
    numeric_key: bool = False  # a partition key of a numeric type
    literal: str | None = None  # text of a literal, checked when it must be a number
    is_literal: bool = False


class _Compiler:
    def __init__(self, partition_keys: Sequence[Column]) -> None:
        self.keys = {
            k.name.lower(): (i, is_numeric_type(k.type)) for i, k in enumerate(partition_keys)
        }

    def predicate(self, node: exp.Expression) -> Predicate:
        """A three-valued test for a condition node."""
        if isinstance(node, exp.Paren):
            return self.predicate(node.this)
        if isinstance(node, exp.Not):
            inner = self.predicate(node.this)
            return lambda values: _not(inner(values))
        return self._predicate(node)

    def _predicate(self, node: exp.Expression) -> Predicate:
        if node.args.get("negate") and not isinstance(node, exp.Like):
            raise _unsupported(node)  # a negated form we have not checked the meaning of
        if isinstance(node, exp.And | exp.Or):
            return self._connective(node)
        if type(node) in _COMPARISONS:
            return self._comparison(node)
        handlers: dict[type[exp.Expression], Callable[[exp.Expression], Predicate]] = {
            exp.In: self._in,
            exp.Between: self._between,
            exp.Like: self._like,
            exp.Escape: self._like,
            exp.Is: self._is_null,
            exp.Boolean: self._boolean,
        }
        handler = handlers.get(type(node))
        if handler is None:
            raise _unsupported(node)
        return handler(node)

    def _connective(self, node: exp.Expression) -> Predicate:
        left, right = self.predicate(node.this), self.predicate(node.expression)
        combine = _and if isinstance(node, exp.And) else _or
        return lambda values: combine(left(values), right(values))

    def _comparison(self, node: exp.Expression) -> Predicate:
        compare = _COMPARISONS[type(node)]
        left, right = self._typed([self.operand(node.this), self.operand(node.expression)])

        def test(values: Values) -> Truth:
            a, b = left(values), right(values)
            return None if a is None or b is None else compare(a, b)

        return test

    def _in(self, node: exp.Expression) -> Predicate:
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise _unsupported(node)
        if not node.expressions:
            raise InvalidInputError("IN needs at least one value")
        getters = self._typed(
            [self.operand(node.this)] + [self.operand(e) for e in node.expressions]
        )
        subject, options = getters[0], getters[1:]

        def test(values: Values) -> Truth:
            value = subject(values)
            if value is None:
                return None
            found: Truth = False
            for option in options:
                found = _or(found, None if (o := option(values)) is None else value == o)
            return found

        return test

    def _between(self, node: exp.Expression) -> Predicate:
        operands = [self.operand(node.this), self.operand(node.args["low"])]
        operands.append(self.operand(node.args["high"]))
        subject, low, high = self._typed(operands)

        def test(values: Values) -> Truth:
            value, lo, hi = subject(values), low(values), high(values)
            above = None if value is None or lo is None else lo <= value  # type: ignore[operator]
            below = None if value is None or hi is None else value <= hi  # type: ignore[operator]
            return _and(above, below)

        return test

    def _like(self, node: exp.Expression) -> Predicate:
        escape: str | None = None
        if isinstance(node, exp.Escape):
            escape = self._string_literal(node.expression, "ESCAPE")
            if len(escape) != 1:
                raise InvalidInputError("ESCAPE must be a single character")
            node = node.this
        if not isinstance(node, exp.Like):
            raise _unsupported(node)
        # sqlglot spells ``x NOT LIKE y`` as a flag on the Like node.
        negate = bool(node.args.get("negate"))
        subject = self.operand(node.this).get
        pattern = _like_regex(self._string_literal(node.expression, "LIKE"), escape)

        def test(values: Values) -> Truth:
            value = subject(values)
            return None if value is None else (pattern.fullmatch(value) is None) == negate

        return test

    def _is_null(self, node: exp.Expression) -> Predicate:
        if not isinstance(node.expression, exp.Null):
            raise _unsupported(node)
        subject = self._typed([self.operand(node.this)])[0]
        return lambda values: subject(values) is None

    def _boolean(self, node: exp.Expression) -> Predicate:
        truth = bool(node.this)
        return lambda values: truth

    def _string_literal(self, node: exp.Expression, where: str) -> str:
        if not (isinstance(node, exp.Literal) and node.is_string):
            raise InvalidInputError(f"{where} needs a string literal, not {node.sql()!r}")
        return str(node.this)

    def operand(self, node: exp.Expression) -> _Operand:
        """A key reference or a literal; anything else is refused."""
        if isinstance(node, exp.Paren):
            return self.operand(node.this)
        if isinstance(node, exp.Column) and not node.table:
            return self._key(node.name)
        if isinstance(node, exp.Null):
            return _Operand(get=lambda values: None, is_literal=True)
        text = _literal_text(node)
        if text is None:
            raise _unsupported(node)
        return _Operand(get=lambda values: text, literal=text, is_literal=True)

    def _key(self, name: str) -> _Operand:
        found = self.keys.get(name.lower())
        if found is None:
            known = ", ".join(self.keys) or "none"
            raise InvalidInputError(
                f"unknown partition key {name!r} in expression (partition keys: {known})"
            )
        index, numeric = found

        def get(values: Values) -> str | None:
            value = values[index]
            return None if value is None or value == HIVE_NULL else value

        return _Operand(get=get, numeric_key=numeric)

    @staticmethod
    def _typed(operands: list[_Operand]) -> list[Getter]:
        """Getters that compare as numbers when a numeric key takes part, else as text."""
        if not any(o.numeric_key for o in operands):
            return [o.get for o in operands]
        for o in operands:
            if o.literal is not None and _to_number(o.literal) is None:
                raise InvalidInputError(
                    f"{o.literal!r} is not a number but is compared with a numeric partition key"
                )
        return [_numeric(o.get) for o in operands]


def _numeric(get: Callable[[Values], str | None]) -> Getter:
    return lambda values: _to_number(get(values))


def _literal_text(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        if not node.this.is_string:
            return f"-{node.this.this}"
    return None


def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    """SQL LIKE as a regular expression; every literal character goes through re.escape."""
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == escape:
            escaped = next(chars, None)
            if escaped is None:
                raise InvalidInputError(f"LIKE pattern {pattern!r} ends with its escape character")
            parts.append(re.escape(escaped))
        elif char == "%":
            if not parts or parts[-1] != ".*":  # runs of % mean the same; keep regex small
                parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


# --- GetTables' Expression: a pattern over names ---------------------------------------------

MAX_PATTERN_LENGTH = 255
# Unbounded repeats make backtracking cost grow as len(name) ** count; names are at
# most 255 bytes, so three keeps a worst case well under a second.
MAX_UNBOUNDED_REPEATS = 3
# ``*`` is Glue's wildcard unless it already quantifies ``.`` or is escaped.
_WILDCARD_RE = re.compile(r"(?<![.\\])\*")
_REPEAT_OPS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_BACKREF_OPS = frozenset({"GROUPREF", "GROUPREF_EXISTS"})
# The parsed form of a regular expression, to vet it before use. ``re._parser`` is
# private but stable since 3.11 (the public ``sre_parse`` alias warns on import).
_sre_parser: Any = importlib.import_module("re._parser")


def compile_name_pattern(pattern: str) -> re.Pattern[str]:
    """Compile Glue's GetTables ``Expression``: a regular expression over the whole
    (lowercase) name, with ``*`` meaning any run of characters.

    Patterns that could backtrack catastrophically are refused (nested or more than
    three unbounded repetitions, back-references), since they come from callers.

    Raises:
        InvalidInputError: the pattern is not a valid or safe regular expression.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidInputError(f"name pattern is longer than {MAX_PATTERN_LENGTH} characters")
    regex = _WILDCARD_RE.sub(".*", pattern)
    try:
        compiled = re.compile(regex, re.IGNORECASE | re.DOTALL)
        parsed = _sre_parser.parse(regex)
    except re.error as error:
        raise InvalidInputError(f"invalid name pattern {pattern!r}: {error}") from None
    if _unbounded_repeats(parsed, pattern, nested=False) > MAX_UNBOUNDED_REPEATS:
        raise InvalidInputError(
            f"name pattern {pattern!r} has more than {MAX_UNBOUNDED_REPEATS} wildcards"
        )
    return compiled


def _unbounded_repeats(items: Any, pattern: str, *, nested: bool) -> int:
    """Count unbounded repeats in a parsed pattern; refuse the shapes that explode."""
    count = 0
    for op, arg in items:
        name = str(op)
        if name in _BACKREF_OPS:
            raise InvalidInputError(f"name pattern {pattern!r}: back-references are not allowed")
        if name in _REPEAT_OPS:
            if nested:
                raise InvalidInputError(f"name pattern {pattern!r}: nested repetition")
            low, high, body = arg
            count += high == _sre_parser.MAXREPEAT
            count += _unbounded_repeats(body, pattern, nested=True)
        elif name == "BRANCH":
            if nested:
                raise InvalidInputError(f"name pattern {pattern!r}: repeated alternation")
            count += max(_unbounded_repeats(alt, pattern, nested=nested) for alt in arg[1])
        elif name == "SUBPATTERN":
            count += _unbounded_repeats(arg[-1], pattern, nested=nested)
        elif name in ("ASSERT", "ASSERT_NOT"):
            count += _unbounded_repeats(arg[1], pattern, nested=nested)
    return count
