"""Hive/Athena column types: parse, print, and widen.

A type string such as ``struct<a:int,b:array<string>>`` parses into a small tree of
``HiveType`` values. The crawler widens types across files with ``widen``; the
catalog validates every type a user gives with ``parse_type``; engines translate
the tree into their own types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shoal.errors import InvalidInputError

PRIMITIVES = frozenset(
    {
        "boolean",
        "tinyint",
        "smallint",
        "int",
        "integer",
        "bigint",
        "float",
        "double",
        "decimal",
        "string",
        "varchar",
        "char",
        "binary",
        "date",
        "timestamp",
    }
)
# Parameterised primitives and how many parameters each takes (min, max).
_PARAMS = {"decimal": (0, 2), "varchar": (1, 1), "char": (1, 1)}
# Numeric widening order: a value of a narrower type always fits the wider one.
_NUMERIC_RANK = {"boolean": 0, "tinyint": 1, "smallint": 2, "int": 3, "bigint": 4, "double": 6}
_TOKEN_RE = re.compile(r"\s*(<|>|,|:|\(|\)|[A-Za-z_][A-Za-z0-9_]*|\d+|`[^`]*`)")


@dataclass(frozen=True)
class HiveType:
    """A parsed type: ``name`` plus parameters, element types or struct fields."""

    name: str
    params: tuple[int, ...] = ()
    args: tuple[HiveType, ...] = ()  # array: (element,); map: (key, value)
    fields: tuple[tuple[str, HiveType], ...] = ()  # struct

    def __str__(self) -> str:
        if self.name == "array":
            return f"array<{self.args[0]}>"
        if self.name == "map":
            return f"map<{self.args[0]},{self.args[1]}>"
        if self.name == "struct":
            inner = ",".join(f"{name}:{typ}" for name, typ in self.fields)
            return f"struct<{inner}>"
        if self.params:
            return f"{self.name}({','.join(str(p) for p in self.params)})"
        return self.name

    @property
    def is_complex(self) -> bool:
        return self.name in ("array", "map", "struct")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            match = _TOKEN_RE.match(stripped, pos)
            if not match:
                raise InvalidInputError(f"invalid type {text!r} at position {pos}")
            self.tokens.append(match.group(1))
            pos = match.end()
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            want = f"{expected!r}" if expected else "more"
            raise InvalidInputError(f"invalid type {self.text!r}: expected {want}")
        self.pos += 1
        return token

    def parse(self) -> HiveType:
        result = self.parse_type()
        if self.peek() is not None:
            raise InvalidInputError(f"invalid type {self.text!r}: unexpected {self.peek()!r}")
        return result

    def parse_type(self) -> HiveType:
        name = self.take().lower()
        if name == "array":
            self.take("<")
            element = self.parse_type()
            self.take(">")
            return HiveType("array", args=(element,))
        if name == "map":
            self.take("<")
            key = self.parse_type()
            self.take(",")
            value = self.parse_type()
            self.take(">")
            return HiveType("map", args=(key, value))
        if name == "struct":
            return self.parse_struct()
        if name not in PRIMITIVES:
            raise InvalidInputError(f"invalid type {self.text!r}: unknown type {name!r}")
        return HiveType("int" if name == "integer" else name, params=self.parse_params(name))

    def parse_struct(self) -> HiveType:
        self.take("<")
        fields: list[tuple[str, HiveType]] = []
        while self.peek() != ">":
            if fields:
                self.take(",")
            field_name = self.take().strip("`")
            self.take(":")
            fields.append((field_name, self.parse_type()))
        self.take(">")
        return HiveType("struct", fields=tuple(fields))

    def parse_params(self, name: str) -> tuple[int, ...]:
        if self.peek() != "(":
            low, _ = _PARAMS.get(name, (0, 0))
            if low:
                raise InvalidInputError(f"invalid type {self.text!r}: {name} needs a length")
            return ()
        if name not in _PARAMS:
            raise InvalidInputError(f"invalid type {self.text!r}: {name} takes no parameters")
        self.take("(")
        params = [self.take()]
        while self.peek() == ",":
            self.take(",")
            params.append(self.take())
        self.take(")")
        if not all(p.isdigit() for p in params) or len(params) > _PARAMS[name][1]:
            raise InvalidInputError(f"invalid type {self.text!r}: bad parameters for {name}")
        return tuple(int(p) for p in params)


def parse_type(text: str) -> HiveType:
    """Parse a Hive/Athena type string. Raises InvalidInputError naming the problem."""
    if not text or not text.strip():
        raise InvalidInputError("type must not be empty")
    return _Parser(text).parse()


def normalize_type(text: str) -> str:
    """The canonical spelling of a type string (lowercase, no spaces, ``int`` for integer)."""
    return str(parse_type(text))


def widen(a: HiveType, b: HiveType) -> HiveType:
    """The narrowest type that holds every value of both ``a`` and ``b``.

    Numbers widen along boolean < tinyint < … < bigint < double; structs merge their
    fields (a field missing on one side is kept); anything else incompatible becomes
    ``string``, the type every value can be read as.
    """
    if a == b:
        return a
    if a.name in _NUMERIC_RANK and b.name in _NUMERIC_RANK and "boolean" not in (a.name, b.name):
        return a if _NUMERIC_RANK[a.name] >= _NUMERIC_RANK[b.name] else b
    if a.name == b.name == "array":
        return HiveType("array", args=(widen(a.args[0], b.args[0]),))
    if a.name == b.name == "map":
        return HiveType("map", args=(widen(a.args[0], b.args[0]), widen(a.args[1], b.args[1])))
    if a.name == b.name == "struct":
        return HiveType("struct", fields=_merge_fields(a.fields, b.fields))
    if {a.name, b.name} == {"date", "timestamp"}:
        return HiveType("timestamp")
    return HiveType("string")


def _merge_fields(
    a: tuple[tuple[str, HiveType], ...], b: tuple[tuple[str, HiveType], ...]
) -> tuple[tuple[str, HiveType], ...]:
    merged = dict(a)
    for name, typ in b:
        merged[name] = widen(merged[name], typ) if name in merged else typ
    return tuple(merged.items())
