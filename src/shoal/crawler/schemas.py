"""Group schemas: when two files (or folders) may share a table, and their union.

Compatibility follows the spirit of Glue's ``CombineCompatibleSchemas``:

* Different classifications never share a table.
* CSV is read by position: both sides need the same delimiter and the same header
  presence. With headers, the shorter header must be a prefix of the longer one
  (a column appended at the end is drift, not a different table). Without
  headers, the column counts must be equal — there are no names to confirm that
  the positions mean the same thing.
* JSON and Parquet are read by name: compatible when the shared columns make up at
  least 70% of the smaller side's columns (``SIMILARITY``), so a partition that
  gained or lost a column stays in its table while ``orders(id, amount, ts)`` and
  ``customers(id, name, email)`` do not merge.

Merging widens types (``infer.merge_types``) and unions columns (by position for
CSV, by name otherwise); quoting is sticky (any quoted file makes the group quoted).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shoal.catalog.formats import DiscoveredFormat
from shoal.crawler.classify import FileSchema
from shoal.crawler.infer import UNKNOWN, InferredColumn, merge_columns

SIMILARITY = 0.7


@dataclass(frozen=True)
class GroupSchema:
    """The merged format and columns of a group of files.

    ``format.compression`` is not part of it: compression varies per file and the
    table records the most common one.
    """

    format: DiscoveredFormat
    columns: tuple[InferredColumn, ...]

    @classmethod
    def of(cls, schema: FileSchema) -> GroupSchema:
        fmt = schema.format
        if fmt.compression != "none":  # replace() is slow; most files need none
            fmt = replace(fmt, compression="none")
        return cls(fmt, schema.columns)

    def describe(self) -> str:
        fmt = self.format
        text = fmt.classification
        if fmt.classification == "csv":
            text += f" delimited by {fmt.delimiter!r}"
            text += " with header" if fmt.header else " without header"
        return f"{text}, {len(self.columns)} columns"


def incompatibility(a: GroupSchema, b: GroupSchema) -> str | None:
    """Why ``a`` and ``b`` cannot share a table, or None when they can."""
    fa, fb = a.format, b.format
    if fa.classification != fb.classification:
        return f"formats differ ({fa.classification} vs {fb.classification})"
    if fa.classification == "csv":
        return _csv_incompatibility(a, b)
    names_a = {c.name for c in a.columns}
    names_b = {c.name for c in b.columns}
    shared = len(names_a & names_b)
    smaller = min(len(names_a), len(names_b))
    if shared < SIMILARITY * smaller:
        return (
            f"only {shared} of {smaller} columns are shared "
            f"(at least {SIMILARITY:.0%} needed to share a table)"
        )
    return None


def _csv_incompatibility(a: GroupSchema, b: GroupSchema) -> str | None:
    fa, fb = a.format, b.format
    if fa.delimiter != fb.delimiter:
        return f"delimiters differ ({fa.delimiter!r} vs {fb.delimiter!r})"
    if fa.header != fb.header:
        return "one has a header row and the other has not"
    if not fa.header:
        if len(a.columns) != len(b.columns):
            return f"column counts differ ({len(a.columns)} vs {len(b.columns)}, no header)"
        return None
    for i, (ca, cb) in enumerate(zip(a.columns, b.columns, strict=False)):
        if ca.name != cb.name:
            return f"headers differ at column {i + 1} ({ca.name!r} vs {cb.name!r})"
    return None


def merge(a: GroupSchema, b: GroupSchema) -> GroupSchema:
    """Union of two compatible group schemas."""
    fa, fb = a.format, b.format
    by_position = fa.classification == "csv"
    columns = merge_columns(a.columns, b.columns, by_position)
    if (
        columns == a.columns
        and fa.quoted >= fb.quoted
        and fb.name_mapping.items() <= (fa.name_mapping.items())
    ):
        return a
    mapping = {**fb.name_mapping, **fa.name_mapping}
    fmt = replace(fa, quoted=fa.quoted or fb.quoted, name_mapping=mapping)
    return GroupSchema(fmt, columns)


def changes(before: GroupSchema, after: GroupSchema) -> list[str]:
    """Human-readable column changes from ``before`` to ``after`` (drift)."""
    old = {c.name: c.type for c in before.columns}
    notes: list[str] = []
    for col in after.columns:
        if col.name not in old:
            notes.append(f"new column {col.name}")
        elif old[col.name] != col.type and old[col.name] != UNKNOWN:
            notes.append(f"column {col.name} widened {old[col.name]} -> {col.type}")
    return notes
