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
from dataclasses import dataclass, replace

from shoal.crawler.classify import FileSchema
from shoal.crawler.infer import InferredColumn, merge_types
from shoal.crawler.sample import Sample

_INT = r"[+-]?(?:0|[1-9]\d{0,17})"
_FIELD_PATTERNS = {
    "unknown": "",  # only empty fields keep a column unknown
    "boolean": r"(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])?",
    "bigint": rf"(?:{_INT})?",
    # Decimals first: trying the integer first would backtrack on every "12.5".
    "double": rf"(?:[+-]?\d*\.\d+|{_INT})?",
}


@dataclass(frozen=True)
class _Shape:
    header: str
    schema: FileSchema
    body: re.Pattern[str]


def _body_pattern(columns: tuple[InferredColumn, ...], delimiter: str) -> re.Pattern[str]:
    # A string column takes any field without the delimiter, a quote or a line break.
    any_field = f'[^{re.escape(delimiter)}"\\r\\n]*'
    fields = [_FIELD_PATTERNS.get(col.type.name, any_field) for col in columns]
    if any(col.type.is_complex for col in columns):
        fields = ["(?!)"]  # never matches: CSV columns are never complex
    line = re.escape(delimiter).join(fields)
    return re.compile(rf"(?:{line}\n)*(?:{line})?\Z")


class ShapeCache:
    """Remembers one CSV shape per folder; see the module docstring."""

    def __init__(self, classify: Callable[[Sample, int], FileSchema]) -> None:
        self._classify = classify
        self._shapes: dict[str, _Shape] = {}

    def classify(self, folder: str, sample: Sample, size: int) -> FileSchema:
        """The schema of ``sample``: from the folder's shape if it fits, else classified."""
        shape = self._shapes.get(folder)
        if shape is not None and (schema := _fit(shape, sample, size)) is not None:
            return schema
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


def _fit(shape: _Shape, sample: Sample, size: int) -> FileSchema | None:
    text = sample.text
    if not text or sample.compression != shape.schema.format.compression:
        return None
    first, _, body = text.partition("\n")
    if first != shape.header:
        return None
    if not sample.complete:
        body = body[: body.rfind("\n") + 1]  # the sample may cut the last line short
    if not shape.body.match(body):
        return None
    records = body.count("\n") + (0 if body.endswith("\n") or not body else 1)
    estimated = records
    if not sample.complete and sample.consumed:
        estimated = round(records * size / sample.consumed)
    return FileSchema(shape.schema.format, shape.schema.columns, records, estimated)
