"""Athena's row SerDes that DuckDB has no reader for, read line by line.

DuckDB reads each planned file as lines (``lines``: its CSV reader with no
delimiter, so gzip, skipped header lines and bytes scanned work as for any text
table); a Python function registered on the engine's connection (``udfs``) turns
each line into what the SerDe makes of it; SQL (``sql``, ``json_sql``) types the
result:

* JSON SerDes (OpenX ``org.openx.data.jsonserde.JsonSerDe``, Hive
  ``org.apache.hive.hcatalog.data.JsonSerDe``) and the CloudTrail SerDe
  (``com.amazon.emr.hive.serde.CloudTrailSerde``): ``json_rows``; most JSON files
  skip Python, read by DuckDB's own JSON functions with the keys as the files spell
  them (``json_keys``, learnt by ``probe``);
* ``RegexSerDe``, ``GrokSerDe`` and LazySimpleSerDe with ``escape.delim``:
  ``text_rows``.

A ``ReaderSpec`` is what a function needs to read one table's lines; it travels
inside the SQL as a JSON string literal and is parsed once per engine (cached).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shoal.engine.base import TableFormat

OPENX_JSON = "org.openx.data.jsonserde.JsonSerDe"
HIVE_JSON = "org.apache.hive.hcatalog.data.JsonSerDe"
HADOOP_JSON = "org.apache.hadoop.hive.serde2.JsonSerDe"
CLOUDTRAIL = "com.amazon.emr.hive.serde.CloudTrailSerde"
CLOUDTRAIL_INPUT = "com.amazon.emr.cloudtrail.CloudTrailInputFormat"
REGEX = "org.apache.hadoop.hive.serde2.RegexSerDe"
REGEX_CONTRIB = "org.apache.hadoop.hive.contrib.serde2.RegexSerDe"
GROK = "com.amazonaws.glue.serde.GrokSerDe"

JSON_SERDES = frozenset({OPENX_JSON, HIVE_JSON, HADOOP_JSON})
# SerDe -> how its lines are read: into JSON records, or into text fields.
LINE_READERS: Mapping[str, str] = {
    **dict.fromkeys(JSON_SERDES, "json"),
    CLOUDTRAIL: "cloudtrail",
    REGEX: "regex",
    REGEX_CONTRIB: "regex",
    GROK: "grok",
}
# The classification a table of each of these SerDes gets when none is declared.
CLASSIFICATIONS: Mapping[str, str] = {
    HADOOP_JSON: "json",
    CLOUDTRAIL: "cloudtrail",
    REGEX: "regex",
    REGEX_CONTRIB: "regex",
    GROK: "grok",
}


@dataclass(frozen=True)
class ReaderSpec:
    """One table's line reader: its kind, its columns (name, Hive type text) and the
    SerDe parameters that matter to it."""

    kind: str  # json | cloudtrail | regex | grok | escaped
    columns: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        return json.dumps([self.kind, self.columns, self.parameters], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ReaderSpec:
        kind, columns, parameters = json.loads(text)
        return cls(kind, tuple(map(tuple, columns)), tuple(map(tuple, parameters)))

    @property
    def params(self) -> dict[str, str]:
        return dict(self.parameters)


def reader_kind(fmt: TableFormat) -> str | None:
    """How ``fmt``'s lines are read by shoal's readers, or None when DuckDB reads its
    files itself.

    A JSON SerDe over CloudTrail's input format (AWS's current CloudTrail DDL, with
    classification ``cloudtrail``) reads one row per record, as the CloudTrail SerDe."""
    kind = LINE_READERS.get(fmt.serde)
    if kind == "json" and fmt.classification.lower() == "cloudtrail":
        return "cloudtrail"
    return kind


def reader_spec(
    kind: str, columns: Sequence[tuple[str, str]], parameters: Mapping[str, str]
) -> ReaderSpec:
    """A spec holding only the parameters a reader of ``kind`` reads (so that tables
    differing in others share one cached reader)."""
    wanted = {k: v for k, v in parameters.items() if _relevant(kind, k)}
    return ReaderSpec(kind, tuple(columns), tuple(sorted(wanted.items())))


def _relevant(kind: str, key: str) -> bool:
    if kind in ("json", "cloudtrail"):
        return key.startswith("mapping.") or key in _JSON_KEYS
    return key in _TEXT_KEYS.get(kind, ())


_JSON_KEYS = frozenset({"case.insensitive", "dots.in.keys", "ignore.malformed.json"})
_TEXT_KEYS = {
    "regex": ("input.regex", "input.regex.case.insensitive"),
    "grok": ("input.format", "input.grokCustomPatterns"),
    "escaped": ("field.delim", "escape.delim"),
}
