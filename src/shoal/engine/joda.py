"""Joda-Time date patterns (Trino's ``format_datetime``) as strftime patterns (DuckDB's).

Trino formats ``format_datetime(ts, 'yyyy-MM-dd HH:mm')`` with Joda-Time; DuckDB's
``strftime`` takes ``%Y-%m-%d %H:%M``. A pattern is translated letter run by letter
run; quoted text (``'T'``, ``''`` for a quote) is copied; a letter with no strftime
equivalent is refused by name rather than formatted wrongly.
"""

from __future__ import annotations

import re

# Runs of one pattern letter -> strftime. Longest runs first where counts differ.
_FIELDS = {
    "yyyy": "%Y",
    "yy": "%y",
    "y": "%Y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "M": "%-m",
    "dd": "%d",
    "d": "%-d",
    "DDD": "%j",
    "D": "%-j",
    "HH": "%H",
    "H": "%-H",
    "hh": "%I",
    "h": "%-I",
    "mm": "%M",
    "m": "%-M",
    "ss": "%S",
    "s": "%-S",
    "SSS": "%g",  # milliseconds
    "SSSSSS": "%f",  # microseconds
    "a": "%p",
    "EEEE": "%A",
    "EEE": "%a",
    "Z": "%z",
    "z": "%Z",
}
_TOKEN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|[^A-Za-z']+")


def to_strftime(pattern: str) -> str:
    """The strftime pattern for a Joda pattern; ValueError names what has none."""
    out = []
    for match in _TOKEN.finditer(pattern):
        token = match.group(0)
        if token.startswith("'"):
            text = token[1:-1].replace("''", "'") if len(token) > 2 else "'"
            out.append(text.replace("%", "%%"))
        elif token[0].isalpha():
            if token not in _FIELDS:
                raise ValueError(f"format_datetime pattern letters {token!r}")
            out.append(_FIELDS[token])
        else:
            out.append(token.replace("%", "%%"))
    if sum(len(m.group(0)) for m in _TOKEN.finditer(pattern)) != len(pattern):
        raise ValueError(f"format_datetime pattern {pattern!r} (an unclosed quote)")
    return "".join(out)
