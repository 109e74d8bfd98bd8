"""Complex values in Hive text files (LazySimpleSerDe), read as DuckDB expressions.

Hive writes an ``array``, ``map`` or ``struct`` column of a text table as one field
whose parts are split by further separators, one per level of nesting: fields by
``field.delim`` (``\\x01``), then ``collection.delim`` (``\\x02``: array items, struct
fields, map entries), then ``mapkey.delim`` (``\\x03``: a map's key from its value),
then ``\\x04``, ``\\x05``, … for deeper levels. A map takes two levels (entries, then
key and value); arrays and structs one.

DuckDB's CSV reader reads such a column as text; ``text_value`` turns that text into
the column's type. Unparseable primitives inside a collection become NULL, as Hive
reads them; so does the serde's NULL text (``\\N``). ``binary`` is base64 text, as
Hive writes it (text that is not base64 is taken as its bytes, as Hive does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp

from shoal.catalog.types import HiveType
from shoal.engine.duckdb_types import duckdb_type

DEFAULT_NULL = "\\N"
# Types a text file holds in a form DuckDB's CSV reader cannot cast to: read as text.
TEXT_ENCODED = frozenset({"array", "map", "struct", "binary"})
_DEEPER = [chr(code) for code in range(4, 9)]  # Hive's separators past mapkey.delim


def separators(serde: Mapping[str, str], field_delimiter: str) -> list[str]:
    """Hive's separators by level, from the SerDe parameters."""
    # Hive itself reads "colelction.delim" (sic); Athena's DDL writes both spellings.
    collection = serde.get("collection.delim") or serde.get("colelction.delim") or "\x02"
    mapkey = serde.get("mapkey.delim") or "\x03"
    return [field_delimiter, collection, mapkey, *_DEEPER]


def text_value(
    text: exp.Expr,
    hive: HiveType,
    duckdb_type: str,
    seps: Sequence[str],
    null_text: str | None = None,
) -> exp.Expr:
    """``text`` (one field of a text file) as a value of ``hive``, whose DuckDB
    spelling is ``duckdb_type``; NULL text stays NULL."""
    return _Reader(seps, null_text or DEFAULT_NULL).value(text, hive, 1, duckdb_type)


class _Reader:
    def __init__(self, seps: Sequence[str], null_text: str) -> None:
        self.seps = seps
        self.null_text = null_text
        self.variables = 0

    def value(self, text: exp.Expr, hive: HiveType, level: int, to: str | None = None) -> exp.Expr:
        if hive.name == "array":
            return self._array(text, hive, level)
        if hive.name == "map":
            return self._map(text, hive, level)
        if hive.name == "struct":
            return self._struct(text, hive, level)
        return self._primitive(text, hive, to)

    def _primitive(self, text: exp.Expr, hive: HiveType, to: str | None) -> exp.Expr:
        target = exp.DataType.build(to or duckdb_type(hive), dialect="duckdb")
        is_null = exp.EQ(this=text.copy(), expression=exp.Literal.string(self.null_text))
        if hive.name == "binary":
            decoded = exp.Anonymous(this="from_base64", expressions=[text.copy()])
            raw = exp.Anonymous(this="encode", expressions=[text.copy()])
            value: exp.Expr = exp.Coalesce(
                this=exp.Anonymous(this="try", expressions=[decoded]), expressions=[raw]
            )
        else:
            value = exp.TryCast(this=text.copy(), to=target)
        return exp.If(this=is_null, true=exp.cast(exp.null(), target), false=value)

    def _split(self, text: exp.Expr, level: int) -> exp.Expr:
        sep = exp.Literal.string(self._sep(level))
        return exp.Anonymous(this="string_split", expressions=[text.copy(), sep])

    def _sep(self, level: int) -> str:
        if level >= len(self.seps):
            raise ValueError(f"text values nest deeper than Hive's {len(self.seps)} separators")
        return self.seps[level]

    def _lambda(self) -> tuple[exp.Identifier, exp.Column]:
        """A fresh lambda variable: its name, and a reference to it."""
        self.variables += 1
        name = f"__hive_{self.variables}"
        return exp.to_identifier(name), exp.column(name)

    def _guarded(self, text: exp.Expr, value: exp.Expr) -> exp.Expr:
        """NULL text (or the NULL marker) is NULL; an empty field an empty collection."""
        is_null = exp.Or(
            this=exp.Is(this=text.copy(), expression=exp.null()),
            expression=exp.EQ(this=text.copy(), expression=exp.Literal.string(self.null_text)),
        )
        return exp.If(this=is_null, true=exp.null(), false=value)

    def _array(self, text: exp.Expr, hive: HiveType, level: int) -> exp.Expr:
        name, item = self._lambda()
        element = self.value(item, hive.args[0], level + 1)
        items = exp.Anonymous(
            this="list_transform",
            expressions=[
                self._non_empty_split(text, level),
                exp.Lambda(this=element, expressions=[name]),
            ],
        )
        return self._guarded(text, items)

    def _non_empty_split(self, text: exp.Expr, level: int) -> exp.Expr:
        empty = exp.EQ(this=text.copy(), expression=exp.Literal.string(""))
        return exp.If(this=empty, true=exp.Array(expressions=[]), false=self._split(text, level))

    def _map(self, text: exp.Expr, hive: HiveType, level: int) -> exp.Expr:
        name, entry = self._lambda()
        key = self.value(self._part(entry, level + 1, 1), hive.args[0], level + 2)
        value = self.value(self._part(entry, level + 1, 2), hive.args[1], level + 2)
        pair = exp.Anonymous(
            this="struct_pack",
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier("k"), expression=key),
                exp.PropertyEQ(this=exp.to_identifier("v"), expression=value),
            ],
        )
        entries = exp.Anonymous(
            this="list_transform",
            expressions=[
                self._non_empty_split(text, level),
                exp.Lambda(this=pair, expressions=[name]),
            ],
        )
        return self._guarded(text, exp.Anonymous(this="map_from_entries", expressions=[entries]))

    def _part(self, text: exp.Expr, level: int, index: int) -> exp.Expr:
        """The ``index``-th part (from 1) of ``text`` split at level ``level``."""
        sep = exp.Literal.string(self._sep(level))
        return exp.Anonymous(
            this="split_part", expressions=[text.copy(), sep, exp.Literal.number(index)]
        )

    def _struct(self, text: exp.Expr, hive: HiveType, level: int) -> exp.Expr:
        fields = []
        for index, (field_name, field_type) in enumerate(hive.fields, start=1):
            part = exp.Anonymous(
                this="list_extract",
                expressions=[self._split(text, level), exp.Literal.number(index)],
            )
            fields.append(
                exp.PropertyEQ(
                    this=exp.to_identifier(field_name, quoted=True),
                    expression=self.value(part, field_type, level + 1),
                )
            )
        return self._guarded(text, exp.Anonymous(this="struct_pack", expressions=fields))
