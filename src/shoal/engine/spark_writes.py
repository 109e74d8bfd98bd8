"""How Spark's own writers write CTAS, INSERT and UNLOAD files as Athena would.

``SparkEngine.write`` selects the statement's rows as ``output_columns`` says (each
target column cast to the type the table stores) and saves them with
``frame.write.format(...).options(...).partitionBy(*keys)``, in the writer and
options ``writer`` gives. Per format, Athena's rules kept:

* PARQUET (parquet writer; GZIP by default, SNAPPY, ZSTD, NONE): timestamps as
  ``TIMESTAMP(MICROS)`` not adjusted to UTC -- Hive's zone-less timestamp, as pyarrow
  writes it (Spark would write INT96 for its own zoned timestamps);
* ORC (orc writer; ZLIB by default, SNAPPY, ZSTD, LZ4, NONE): timestamps as ORC's
  ``timestamp`` (Spark writes its zone-less type as a BIGINT there);
* JSON (json writer; GZIP, NONE): one object per line, timestamps in Hive's text
  (``2024-01-02 03:04:05``), NULL fields left out;
* TEXTFILE (csv writer; GZIP, NONE): ``field_delimiter`` (default ``\\001``) between
  fields, NULL as ``\\N``, no quoting, each value as Spark casts it to text; a value
  holding the delimiter, a line break or the table's quote character fails the
  statement with InvalidInputError, as shoal's own writer does (LazySimpleSerDe
  would read it as a field or row break).

Not written by Spark, so the query service writes them from the query's Arrow rows
(``Capabilities.writes`` leaves them out): AVRO (Spark's Avro writer is a separate
package), ZSTD for JSON and TEXTFILE (Spark's text codecs have none), and bucketed
tables (Spark's bucket hash is Murmur3, not Hive's, so Athena would look for rows in
the wrong bucket).

Every write also asks for no ``_SUCCESS`` marker, for that write only (data source
options reach the job's Hadoop configuration). The ``.crc`` checksum files Hadoop's
local filesystem writes beside local files are deleted when the files written are
listed (``written.written_files``); the raw local filesystem, which writes none,
cannot be chosen per write (S3A buffers its uploads through the checksummed one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from shoal.engine.base import WriteTarget
from shoal.engine.spark_dialect import quote, spark_type, string_literal
from shoal.errors import InvalidInputError

# Athena's codec names are Spark's too (lower-case); "none" writes uncompressed.
WRITES: Mapping[str, frozenset[str]] = {
    "parquet": frozenset({"gzip", "snappy", "zstd", "none"}),
    "orc": frozenset({"zlib", "snappy", "zstd", "lz4", "none"}),
    "json": frozenset({"gzip", "none"}),
    "textfile": frozenset({"gzip", "none"}),
}
_WRITERS = {"parquet": "parquet", "orc": "orc", "json": "json", "textfile": "csv"}
_HADOOP_OPTIONS = {"mapreduce.fileoutputcommitter.marksuccessfuljobs": "false"}
# LazySimpleSerDe's text: no header, no quoting, NULL as \N, values as they are
# (Spark's CSV writer would otherwise trim spaces and write "" for an empty string).
_TEXT_OPTIONS = {
    "header": "false",
    "quote": "",
    "nullValue": "\\N",
    "emptyValue": "",
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
}
_TEXT_ERROR = "TEXTFILE cannot store"
_TEXT_ERROR_RE = re.compile(
    rf"{_TEXT_ERROR}[^\n]*?unescaped; choose another field_delimiter or format"
)
_TIMESTAMP = re.compile(r"\btimestamp\b", re.IGNORECASE)
_COMPLEX = ("array", "map", "struct")


def writer(target: WriteTarget) -> tuple[str, dict[str, str]]:
    """The Spark data source that writes ``target``'s format, and its options."""
    options = {"compression": target.compression, **_HADOOP_OPTIONS}
    if target.format == "textfile":
        options |= _TEXT_OPTIONS | {"sep": target.field_delimiter}
    return _WRITERS[target.format], options


def output_columns(source_names: Sequence[str], target: WriteTarget) -> list[str]:
    """The select list that turns the query's columns (``source_names``, by position)
    into ``target.columns``: each cast to the type the table stores, named as it."""
    text = target.format == "textfile"
    forbidden = ["\n", "\r", target.field_delimiter, *filter(None, [target.quote_char])]
    expressions = []
    for column, source in zip(target.columns, target.sources, strict=True):
        value = "NULL" if source is None else quote(source_names[source])
        expression = f"CAST({value} AS {write_type(column.type, target.format)})"
        if text:
            if column.type.strip().lower().startswith(_COMPLEX):
                raise InvalidInputError(
                    f"TEXTFILE cannot store column {column.name!r} ({column.type})"
                )
            expression = _checked_text(f"CAST({expression} AS STRING)", column.name, forbidden)
        elif target.format == "json" and _TIMESTAMP.search(column.type):
            expression = f"CAST({expression} AS STRING)"  # Hive's text, not ISO-8601
        expressions.append(f"{expression} AS {quote(column.name)}")
    return expressions


def write_type(hive: str, fmt: str = "parquet") -> str:
    """The Spark type a catalog (Hive) type is written as in format ``fmt``. Hive's
    timestamps have no zone: Spark's zone-less ``timestamp_ntz``, except in ORC,
    where Spark writes ``timestamp_ntz`` as a plain BIGINT and its ``timestamp``
    (the session is UTC) as ORC's own timestamp, which is Hive's."""
    if fmt == "orc":
        return spark_type(hive)
    return _TIMESTAMP.sub("timestamp_ntz", spark_type(hive))


def _checked_text(expression: str, name: str, forbidden: Sequence[str]) -> str:
    """``expression``, failing the write where it holds a character TEXTFILE cannot
    store unescaped (LazySimpleSerDe would read it as a field or row break)."""
    tests = " OR ".join(f"instr({expression}, {_char(c)}) > 0" for c in forbidden)
    message = (
        f"{_TEXT_ERROR} column {name!r}: a value holds the field delimiter, a line break"
        " or the quote character unescaped; choose another field_delimiter or format"
    )
    return f"CASE WHEN {tests} THEN raise_error({string_literal(message)}) ELSE {expression} END"


def _char(char: str) -> str:
    """A one-character Spark string literal (line breaks as escapes)."""
    return {"\n": "'\\n'", "\r": "'\\r'"}.get(char) or string_literal(char)


def text_error(message: str) -> str | None:
    """The TEXTFILE refusal ``_checked_text`` raised inside ``message``, if any."""
    found = _TEXT_ERROR_RE.search(message)
    return found.group(0) if found else None


__all__ = ["WRITES", "output_columns", "text_error", "write_type", "writer"]
