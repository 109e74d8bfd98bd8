"""Lines of text split into a table's fields by a regex, a grok expression, or a
delimiter with an escape character.

Each reader returns a line's fields in column order (text, or None for a field the
line does not have), or None for a line that does not match: a row of NULLs, as
Hive's RegexSerDe and Athena's GrokSerDe read it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shoal.engine.serdes.grok import GrokPattern, java_regex
from shoal.errors import InvalidInputError

Fields = list[str | None] | None


class RegexFields:
    """``RegexSerDe``: the line must match ``input.regex`` whole; group *i* is column *i*."""

    def __init__(self, regex: str, columns: int, case_insensitive: bool = False) -> None:
        flags = re.IGNORECASE if case_insensitive else 0
        try:
            self.regex = re.compile(java_regex(regex), flags)
        except re.error as err:
            raise InvalidInputError(
                f"input.regex is not a valid regular expression: {err}"
            ) from None
        self.columns = columns

    def fields(self, line: str | None) -> Fields:
        found = self.regex.fullmatch(line) if line is not None else None
        if found is None:
            return None
        groups = found.groups()
        return [groups[i] if i < len(groups) else None for i in range(self.columns)]


class GrokFields:
    """``GrokSerDe``: each column takes the capture of its name (case-insensitively)."""

    def __init__(self, pattern: GrokPattern, columns: Sequence[str]) -> None:
        self.pattern = pattern
        self.columns = [c.lower() for c in columns]

    def fields(self, line: str | None) -> Fields:
        captures = self.pattern.captures(line) if line is not None else None
        if captures is None:
            return None
        return [captures.get(c) for c in self.columns]


class EscapedFields:
    """``LazySimpleSerDe`` with ``escape.delim``: split at delimiters not escaped, then
    drop the escapes (an escaped character stands for itself)."""

    def __init__(self, delimiter: str, escape: str) -> None:
        self.delimiter = delimiter
        self.escape = escape

    def fields(self, line: str | None) -> Fields:
        if line is None:
            return None
        fields: list[str | None] = []
        current: list[str] = []
        chars = iter(line)
        for char in chars:
            if char == self.escape:
                current.append(next(chars, ""))
            elif char == self.delimiter:
                fields.append("".join(current))
                current = []
            else:
                current.append(char)
        fields.append("".join(current))
        return fields
