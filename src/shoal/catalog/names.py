"""Names in the catalog: derive, validate and quote them.

Two rules, as in Glue and Athena:

* Names shoal *derives* (from folder names, file names, CSV headers, JSON keys) are
  normalised to Athena's rules: lowercase, ``[a-z0-9_]``, 1–255 bytes.
* Names a user *gives* are kept as given when Glue would accept them (``blog-db`` is
  legal), lowercased as Glue does, and rejected with a clear error otherwise.

Whenever shoal writes SQL it quotes every identifier with ``quote_identifier``.
"""

from __future__ import annotations

import re
import unicodedata

from shoal.errors import InvalidNameError

MAX_NAME_BYTES = 255
_NOT_ALLOWED_RE = re.compile(r"[^a-z0-9_]+")
# Glue's single-line string pattern: printable characters, no control characters.
_GLUE_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]+$")


def normalize_name(raw: str, fallback: str = "col") -> str:
    """Turn any derived text into an Athena-safe name.

    Accents are stripped, everything outside ``[a-z0-9_]`` becomes ``_``, runs of ``_``
    collapse, and an empty result becomes ``fallback``. The result is at most 255 bytes.
    """
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    name = _NOT_ALLOWED_RE.sub("_", ascii_text.lower()).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name:
        name = fallback
    return name[:MAX_NAME_BYTES]


def unique_names(names: list[str]) -> list[str]:
    """Make normalised names unique by suffixing ``_1``, ``_2`` … to repeats."""
    seen: dict[str, int] = {}
    result: list[str] = []
    taken = set(names)
    for name in names:
        if name not in seen:
            seen[name] = 0
            result.append(name)
            continue
        while True:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            if candidate not in taken:
                break
        taken.add(candidate)
        result.append(candidate)
    return result


def validate_name(name: str, kind: str = "name") -> str:
    """Check a user-given database, table or column name and return its catalog form.

    Glue stores names in lowercase; it accepts any single-line text of 1–255 bytes.
    We additionally refuse leading/trailing whitespace and the double quote, which
    would make the name ambiguous in SQL and in logs.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"{kind} must not be empty")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidNameError(f"{kind} {name[:40]!r}… is longer than 255 bytes")
    if not _GLUE_NAME_RE.match(name) or name != name.strip() or '"' in name:
        raise InvalidNameError(
            f"invalid {kind} {name!r}: use printable characters without quotes, "
            "control characters or surrounding spaces"
        )
    return name.lower()


def quote_identifier(name: str) -> str:
    """Quote an identifier for SQL (Athena, Trino and DuckDB all use double quotes)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for SQL. Prefer bound parameters where the engine has them."""
    return "'" + value.replace("'", "''") + "'"
