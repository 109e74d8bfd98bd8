"""JSON records as Athena's JSON SerDes and the CloudTrail SerDe read them.

A record's keys are matched to the table's columns (and a struct's keys to its fields)
case-insensitively, unless OpenX's ``case.insensitive`` is ``false``;
``mapping.<column>`` names the key a column reads; ``dots.in.keys`` reads key
``a.b`` into column ``a_b``. A ``string`` column (or field) over a nested object or
array holds that value's JSON text, keys as written — CloudTrail's
``requestParameters`` is read that way. Keys no column names are dropped.

``JsonRows.rows`` turns one line of a file into the JSON text of zero or more
records, keyed exactly by the declared names, for DuckDB's ``json_transform`` to
type: one per line for the JSON SerDes (none for a blank line; ``{}``, a row of
NULLs, for a malformed line when ``ignore.malformed.json`` is on), one per element of
``Records`` for the CloudTrail SerDe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shoal.catalog.types import HiveType
from shoal.engine.duckdb_types import duckdb_type
from shoal.errors import QueryFailedError

_TEXT = frozenset({"string", "varchar", "char"})


@dataclass(frozen=True)
class JsonOptions:
    """The SerDe properties that change how keys meet columns."""

    case_insensitive: bool = True
    dots_in_keys: bool = False
    ignore_malformed: bool = False
    mapping: Mapping[str, str] = field(default_factory=dict)  # column -> JSON key
    records_key: str | None = None  # CloudTrail: rows are the elements of this array


Convert = Callable[[Any], Any]


class JsonRows:
    """Reads lines of JSON into records of ``columns`` (name, type), per ``options``.

    Each type's conversion is built once (``_converter``) and reused for every value."""

    def __init__(self, columns: Sequence[tuple[str, HiveType]], options: JsonOptions) -> None:
        self.options = options
        self._converters: dict[HiveType, Convert] = {}
        self._record = self._struct(columns, options.mapping)

    def rows(self, line: str | None) -> list[str]:
        """The records of one line, as JSON texts (see the module's docstring)."""
        if line is None or not line.strip():
            return []
        try:
            document = json.loads(line)
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
            return [_encode(self._record(r)) for r in self._records(document)]
        except ValueError as err:  # json.JSONDecodeError is a ValueError
            if self.options.ignore_malformed:
                return ["{}"]
            raise QueryFailedError(
                f"HIVE_CURSOR_ERROR: Row is not a valid JSON Object - {err}"
            ) from None

    def _records(self, document: dict[str, Any]) -> Iterable[Any]:
        if self.options.records_key is None:
            return [document]
        wanted = self.options.records_key.lower()
        records = next((v for k, v in document.items() if k.lower() == wanted), None)
        if not isinstance(records, list):
            return []  # a digest or other non-log object: no rows
        return [r for r in records if isinstance(r, dict)]

    def _key(self, key: str) -> str:
        if self.options.dots_in_keys:
            key = key.replace(".", "_")
        return key.lower() if self.options.case_insensitive else key

    def _converter(self, hive: HiveType) -> Convert:
        found = self._converters.get(hive)
        if found is None:
            found = self._converters[hive] = self._build(hive)
        return found

    def _build(self, hive: HiveType) -> Convert:
        if hive.name in _TEXT:
            return _text
        if hive.name == "struct":
            struct = self._struct(hive.fields, {})
            return lambda v: struct(v) if isinstance(v, dict) else None
        if hive.name == "array":
            item = self._converter(hive.args[0])
            return lambda v: [item(x) for x in v] if isinstance(v, list) else None
        if hive.name == "map":
            value = self._converter(hive.args[1])
            return lambda v: {k: value(x) for k, x in v.items()} if isinstance(v, dict) else None
        return _same

    def _struct(
        self, fields: Sequence[tuple[str, HiveType]], mapping: Mapping[str, str]
    ) -> Convert:
        """A record's keys matched to ``fields`` (or, by ``mapping``, column -> key)."""
        names = [name for name, _ in fields]
        by_key = {self._key(name): name for name in names}
        for column, key in mapping.items():
            target = next((n for n in names if n.lower() == column.lower()), None)
            if target is not None:
                by_key[self._key(key)] = target
        lookup = _Lookup(by_key, self._key)
        converters = {name: self._converter(t) for name, t in fields}

        def struct(record: Mapping[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in record.items():
                name = lookup.name(key)
                if name is None:
                    continue
                if name in out:
                    raise ValueError(f'Duplicate key "{name}"')
                out[name] = None if value is None else converters[name](value)
            return out

        return struct


def _same(value: Any) -> Any:
    return value


class _Lookup:
    """Normalized key -> declared name, remembering each key as found in the data (a
    file repeats the same few keys on every line)."""

    __slots__ = ("_normalize", "_seen", "by_key")

    def __init__(self, by_key: dict[str, str], normalize: Callable[[str], str]) -> None:
        self.by_key = by_key
        self._normalize = normalize
        self._seen: dict[str, str | None] = {}

    def name(self, key: str) -> str | None:
        try:
            return self._seen[key]
        except KeyError:
            if len(self._seen) > _MAX_KEYS:
                self._seen.clear()
            found = self._seen[key] = self.by_key.get(self._normalize(key))
            return found


_MAX_KEYS = 10_000  # keys remembered per struct type, in case keys are data (ids)
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _text(value: Any) -> str:
    """A value for a string column: text as is, anything else as its JSON text."""
    if isinstance(value, str):
        return value
    return _encode(value)


def json_structure(hive: HiveType) -> Any:
    """The structure argument of DuckDB's ``json_transform`` for a column of ``hive``."""
    if hive.name == "struct":
        return {name: json_structure(t) for name, t in hive.fields}
    if hive.name == "array":
        return [json_structure(hive.args[0])]
    return duckdb_type(hive)
