"""How a JSON SerDe table's lines may skip Python: DuckDB's ``json_transform`` reads
a line exactly as the SerDe would when every key naming a declared column or struct
field is spelled as the transform expects.

``json_transform`` matches keys case-sensitively; the SerDe does not. So each file's
*spelling* of the declared names (``eventName`` or ``eventname``) is learnt from a
few lines of its head (``spelling_from_sample``), the transform is given those keys
(``spelled_structure``), and its struct is cast to the declared names. What makes
this always right, whatever the sample saw, is ``wrong_keys_regex``: an RE2 pattern
matching any key that is some *other* spelling of a declared name (with
``ESCAPED_KEY``: a key with a ``\\u`` escape, which could spell one). A line it
matches is read by the Python
reader instead; a file it matches nowhere (checked once per file version, then
remembered) needs no per-line check at all. The check is conservative: names of all
nesting levels are pooled, so a key matching a name declared at another level, or
inside a ``string`` column's JSON, only costs the Python reader, never an answer.

Tables whose keys are renamed (``mapping.*`` to another name, ``dots.in.keys``) or
whose names are not plain words always take the Python reader.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.catalog.types import HiveType
from shoal.engine.duckdb_types import duckdb_type
from shoal.engine.serdes import ReaderSpec

_WORD = re.compile(r"[A-Za-z0-9_]+\Z")
# Characters other than the ASCII letters whose str.lower() is an ASCII letter: the
# Kelvin sign (K) lower-cases to "k", so a key may spell "k" with it.
_OTHER_CASES = {"k": "\u212a"}
# A key holding a \u escape (which could spell a declared name's letters), looked for
# only in lines that hold a \u at all (a second regex costs a third of the check).
ESCAPE = "\\u"
ESCAPED_KEY = r'\\u[0-9A-Fa-f]{4}(?:[^"\\]|\\.)*"\s*:'


@dataclass(frozen=True)
class Spelling:
    """The key each declared name is read from: lower-cased name -> key as written
    (names absent here are read from keys spelled as declared)."""

    keys: tuple[tuple[str, str], ...] = ()

    def key(self, name: str) -> str:
        return dict(self.keys).get(name.lower(), name)


AS_DECLARED = Spelling()  # keys spelled as the names are declared


@dataclass(frozen=True)
class JsonFastPath:
    """How a scan's lines reach DuckDB's JSON reading directly.

    ``spelling``: the keys the transform reads; ``wrong_keys``: the RE2 pattern of a
    line that must go to the Python reader (None: keys are matched exactly, as with
    ``case.insensitive = false``); ``checked``: positions of the scan's files known
    to have no such line (no per-line check for them); ``regular``: positions of the
    files whose every line is blank or one JSON object; ``pending``: some files are
    left for a later query to check; ``files``: the files read this way (None: those
    no other path of the scan's ``JsonRead`` reads)."""

    spelling: Spelling
    wrong_keys: str | None
    checked: frozenset[int] = frozenset()
    regular: frozenset[int] = frozenset()
    pending: bool = False
    files: frozenset[int] | None = None

    @property
    def direct(self) -> frozenset[int]:
        """The files ``read_json`` reads as the SerDe would: regular and checked."""
        if self.wrong_keys is None:
            return self.regular
        return self.regular & self.checked

    def needs_check(self, position: int) -> bool:
        """Whether each line of the file at ``position`` must be checked for keys."""
        return self.wrong_keys is not None and position not in self.checked


@dataclass(frozen=True)
class JsonRead:
    """How a scan's files are read: by the first path, unless a later one (files whose
    own first lines spell keys otherwise than the first file's) claims them."""

    paths: tuple[JsonFastPath, ...]

    def files(self, path: int, count: int) -> list[int]:
        """The positions (of ``count`` files) path number ``path`` reads."""
        if path:
            return sorted(self.paths[path].files or ())
        claimed = {i for p in self.paths[1:] for i in p.files or ()}
        return [i for i in range(count) if i not in claimed]

    @property
    def direct(self) -> frozenset[int]:
        return frozenset().union(*(p.direct for p in self.paths))

    @property
    def checked(self) -> frozenset[int]:
        return frozenset().union(*(p.checked for p in self.paths))

    @property
    def regular(self) -> frozenset[int]:
        return frozenset().union(*(p.regular for p in self.paths))

    @property
    def pending(self) -> bool:
        return any(p.pending for p in self.paths)


def fast_path_allowed(spec: ReaderSpec, columns: Sequence[tuple[str, HiveType]]) -> bool:
    """Whether ``spec``'s lines may be read by DuckDB directly: a JSON SerDe table
    whose keys are not renamed and whose names (at every level) are plain words.

    A ``mapping.<column>`` that only changes case (the crawler writes one for each
    camelCase key) renames nothing when keys are matched case-insensitively."""
    params = spec.params
    if spec.kind != "json" or params.get("dots.in.keys", "").strip().lower() == "true":
        return False
    declared = {name.lower() for name, _ in columns}
    for key, value in params.items():
        column = key.removeprefix("mapping.").lower()
        if key.startswith("mapping.") and column in declared:
            if not case_insensitive(spec) or value.lower() != column:
                return False
    return all(_WORD.match(name) for name in declared_names(columns))


def case_insensitive(spec: ReaderSpec) -> bool:
    return spec.params.get("case.insensitive", "true").strip().lower() != "false"


def declared_names(columns: Sequence[tuple[str, HiveType]]) -> set[str]:
    """The column names and struct field names, at every level of nesting."""
    names: set[str] = set()
    for name, hive in columns:
        names.add(name)
        _field_names(hive, names)
    return names


def _field_names(hive: HiveType, names: set[str]) -> None:
    for name, field_type in hive.fields:
        names.add(name)
        _field_names(field_type, names)
    for arg in hive.args:
        _field_names(arg, names)


def spelling_from_sample(lines: Iterable[str], columns: Sequence[tuple[str, HiveType]]) -> Spelling:
    """The commonest spelling of each declared name among the keys of ``lines``
    (lines that are not JSON objects are skipped)."""
    seen: Counter[tuple[str, str]] = Counter()
    record = HiveType("struct", fields=tuple(columns))
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        _count_keys(document, record, seen)
    chosen: dict[str, str] = {}
    for (name, key), _ in seen.most_common():
        chosen.setdefault(name, key)
    return Spelling(tuple(sorted(chosen.items())))


def _count_keys(value: Any, hive: HiveType, seen: Counter[tuple[str, str]]) -> None:
    if hive.name == "struct" and isinstance(value, dict):
        fields = {name.lower(): t for name, t in hive.fields}
        for key, item in value.items():
            field_type = fields.get(key.lower())
            if field_type is not None:
                seen[key.lower(), key] += 1
                _count_keys(item, field_type, seen)
    elif hive.name == "array" and isinstance(value, list):
        for item in value:
            _count_keys(item, hive.args[0], seen)
    elif hive.name == "map" and isinstance(value, dict):
        for item in value.values():
            _count_keys(item, hive.args[1], seen)


def wrong_keys_regex(spelling: Spelling, names: Iterable[str]) -> str:
    """An RE2 pattern matching a key that lower-cases to one of ``names`` but is not
    spelled as ``spelling`` reads it (keys with escapes: ``ESCAPED_KEY``)."""
    alternatives = sorted({a for name in names for a in _other_spellings(spelling.key(name))})
    if not alternatives:
        return r"[^\s\S]"  # nothing: these names have no letters
    return '"(?:' + "|".join(alternatives) + r')"\s*:'


def _other_spellings(key: str) -> list[str]:
    """Patterns for every string that lower-cases as ``key`` does but is not ``key``:
    the first letter that differs, then anything for the rest."""
    patterns = []
    for position, char in enumerate(key):
        others = {c for c in (char.lower(), char.upper()) if c != char}
        others |= {c for c in _OTHER_CASES.get(char.lower(), "") if c != char}
        if not others:
            continue
        head, tail = key[:position], key[position + 1 :]
        differs = others.pop() if len(others) == 1 else "[" + "".join(sorted(others)) + "]"
        patterns.append(head + differs + (f"(?i:{tail})" if tail else ""))
    return patterns


def spelled_structure(hive: HiveType, spelling: Spelling) -> Any:
    """``json_transform``'s structure for ``hive`` with its struct fields' keys as
    ``spelling`` writes them (nested structs of maps inside the map's type text)."""
    if hive.name == "struct":
        return {spelling.key(name): spelled_structure(t, spelling) for name, t in hive.fields}
    if hive.name == "array":
        return [spelled_structure(hive.args[0], spelling)]
    return duckdb_type(respelled(hive, spelling))


def respelled(hive: HiveType, spelling: Spelling) -> HiveType:
    """``hive`` with its struct fields (at every level) named as ``spelling`` spells them."""
    if not hive.is_complex:
        return hive
    fields = tuple((spelling.key(n), respelled(t, spelling)) for n, t in hive.fields)
    args = tuple(respelled(a, spelling) for a in hive.args)
    return HiveType(hive.name, hive.params, args, fields)
