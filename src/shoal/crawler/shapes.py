"""A fast path for folders of many CSV files that share one shape.

Crawling thousands of small CSV files is dominated by parsing each sample in
Python. Within a folder, files usually share a header and column types. Once one
file of a folder has been classified, its shape (header line, delimiter, column
types) becomes one regular expression that matches a whole sample in a single C
call; a file whose sample matches it fits the shape exactly, so its schema is the
shape's. Anything that does not match — a different header, quotes, a wider value,
CRLF line ends — takes the full classifier, whose result widens the shape.

The answer is the same as classifying every file fully: a value matched by a
column's pattern has that column's type or a narrower one, and widening across
files would absorb it anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from shoal.crawler.classify import FileSchema
from shoal.crawler.infer import InferredColumn, merge_types
from shoal.crawler.sample import Sample

# Field patterns, written for the speed of Python's backtracking ``re``: an empty
# alternative ``(?:...|)`` instead of an optional group ``(?:...)?`` (same strings,
# fewer steps), likelier branches first ("12" before "0", "True" before "tRuE"), and
# ASCII digits only. That is stricter than the classifier, which also types other
# scripts' digits as numbers; stricter is safe: a file that does not match is only
# classified in full.
_INT = r"[+-]?(?:[1-9][0-9]{0,17}|0)"
_FIELD_PATTERNS = {
    "unknown": "",  # only empty fields keep a column unknown
    "boolean": r"(?:True|False|true|false|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|)",
    "bigint": rf"(?:{_INT}|)",
    # Decimals first: trying the integer first would backtrack on every "12.5".
    "double": r"(?:[+-]?(?:[0-9]*\.[0-9]+|[1-9][0-9]{0,17}|0)|)",
}


class _Shape:
    """One folder's CSV shape: header line, schema and the pattern a body must match."""

    def __init__(self, header: str, schema: FileSchema, body: re.Pattern[str]) -> None:
        self.header = header
        self.head = header + "\n"
        self.schema = schema
        self.body = body
        self._last = schema

    def schema_for(self, records: int, estimated: int) -> FileSchema:
        """The shape's schema with these record counts.

        Files of a folder often have the same counts: the last schema made is
        reused (it is immutable), which saves building one per file.
        """
        last = self._last
        if last.records != records or last.estimated_records != estimated:
            fmt, columns = self.schema.format, self.schema.columns
            last = self._last = FileSchema(fmt, columns, records, estimated)
        return last


def _body_pattern(columns: tuple[InferredColumn, ...], delimiter: str) -> re.Pattern[str]:
    # A string column takes any field without the delimiter, a quote or a line break.
    any_field = f'[^{re.escape(delimiter)}"\\r\\n]*'
    fields = [_FIELD_PATTERNS.get(col.type.name, any_field) for col in columns]
    if any(col.type.is_complex for col in columns):
        fields = ["(?!)"]  # never matches: CSV columns are never complex
    line = re.escape(delimiter).join(fields)
    # Possessive: a line's fields never contain a line break, so giving back whole
    # lines could not make a match, and not keeping that option saves time.
    return re.compile(rf"(?:{line}\n)*+(?:{line}|)\Z")


class ShapeCache:
    """Remembers one CSV shape per folder; see the module docstring."""

    def __init__(self, classify: Callable[[Sample, int], FileSchema]) -> None:
        self._classify = classify
        self._shapes: dict[str, _Shape] = {}

    def classify(self, folder: str, sample: Sample, size: int) -> FileSchema:
        """The schema of ``sample``: from the folder's shape if it fits, else classified."""
        shape = self._shapes.get(folder)
        if shape is not None and (counts := _fit(shape, sample, size)) is not None:
            return shape.schema_for(*counts)
        schema = self._classify(sample, size)
        self._remember(folder, sample, schema)
        return schema

    def _remember(self, folder: str, sample: Sample, schema: FileSchema) -> None:
        fmt = schema.format
        if fmt.classification != "csv" or not fmt.header or fmt.quoted or not sample.text:
            return
        header = sample.text.split("\n", 1)[0]
        shape = self._shapes.get(folder)
        if shape is not None and shape.header == header and shape.schema.format == fmt:
            widened = tuple(
                InferredColumn(a.name, merge_types(a.type, b.type))
                for a, b in zip(shape.schema.columns, schema.columns, strict=True)
            )
            schema = replace(schema, columns=widened)
        body = _body_pattern(schema.columns, fmt.delimiter or ",")
        self._shapes[folder] = _Shape(header, schema, body)


def _fit(shape: _Shape, sample: Sample, size: int) -> tuple[int, int] | None:
    """Records and estimated records of a sample that fits ``shape``, else None."""
    text = sample.text
    if not text or sample.compression != shape.schema.format.compression:
        return None
    # The body is matched in place (pos/endpos) rather than sliced out: no copy.
    if text.startswith(shape.head):
        start = len(shape.head)
    elif text == shape.header:
        start = len(text)  # a header line alone
    else:
        return None
    end = len(text)
    if not sample.complete:  # the sample may cut the last line short: leave it out
        cut = text.rfind("\n", start)
        end = cut + 1 if cut >= 0 else start
    if not shape.body.match(text, start, end):
        return None
    records = text.count("\n", start, end)
    if end > start and text[end - 1] != "\n":
        records += 1  # a last line without a line break
    estimated = records
    if not sample.complete and sample.consumed:
        estimated = round(records * size / sample.consumed)
    return records, estimated
