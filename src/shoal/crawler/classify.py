"""Classification: which format a file's sample is in, and its schema.

Classifiers are tried in a fixed order — Parquet (by its ``PAR1`` magic), ORC (by
its ``ORC`` magic; Glue's classification ``orc``), JSON lines, then CSV/TSV — and
the first that accepts the sample wins. A sample no classifier accepts raises
``FileSkipped`` with the reasons; nothing is guessed.

CSV rules:

* Delimiter: each of ``, \\t | ;`` is tried on the first lines; a candidate is
  *consistent* when every non-blank line splits into the same number (>= 2) of
  fields (quotes honoured by the ``csv`` module). The consistent candidate with
  the most fields wins; ties go to the earlier candidate in that list.
* Quoting: the file is "quoted" when any field starts with ``"``; Glue then
  uses OpenCSVSerde.
* Header: see ``infer.detect_header``.

JSON: every non-blank line must be one JSON object (the one-record-per-line
layout Athena's JSON SerDe reads). Pretty-printed JSON is reported, not guessed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shoal.catalog.formats import DiscoveredFormat
from shoal.crawler.infer import (
    InferredColumn,
    csv_column_types,
    csv_columns,
    detect_header,
    json_columns,
)
from shoal.crawler.infer import parquet_columns as _parquet_columns
from shoal.crawler.sample import FileSkipped, Sample

DELIMITERS = (",", "\t", "|", ";")
_DETECT_LINES = 200  # lines used to choose the delimiter


@dataclass(frozen=True)
class FileSchema:
    """One file's classification and inferred schema.

    ``records`` counts the records in the sample; ``estimated_records`` the whole
    file's (exact when the sample is the whole file or for Parquet, otherwise
    sample records scaled by file size over the stored bytes sampled).
    """

    format: DiscoveredFormat
    columns: tuple[InferredColumn, ...]
    records: int
    estimated_records: int


class NotThisFormat(Exception):
    """A classifier's reason for declining a sample."""


def classify(sample: Sample, size: int) -> FileSchema:
    """Classify one sample of a file of ``size`` stored bytes; raises FileSkipped."""
    reasons: list[str] = []
    for name, classifier in _CLASSIFIERS:
        try:
            return classifier(sample, size)
        except NotThisFormat as exc:
            reasons.append(f"{name}: {exc}")
    raise FileSkipped("no classifier matched (" + "; ".join(reasons) + ")", sample.bytes_read)


def _estimate(records: int, sample: Sample, size: int) -> int:
    if sample.complete or not sample.consumed:
        return records
    return round(records * size / sample.consumed)


def _complete_lines(sample: Sample) -> list[str]:
    """The sample's lines, without a last line the sample may have cut short."""
    text = sample.text or ""
    lines = text.splitlines()
    if not sample.complete and lines and not text.endswith(("\n", "\r")):
        lines.pop()
    return lines


# --- Parquet --------------------------------------------------------------------------


def _parquet(sample: Sample, size: int) -> FileSchema:
    if sample.schema is None or sample.container != "parquet":
        raise NotThisFormat("no PAR1 magic")
    return _binary(sample, "parquet")


def _orc(sample: Sample, size: int) -> FileSchema:
    if sample.schema is None or sample.container != "orc":
        raise NotThisFormat("no ORC magic")
    return _binary(sample, "orc")


def _binary(sample: Sample, classification: str) -> FileSchema:
    """A file that carries its own schema (Parquet, ORC): columns from it."""
    assert sample.schema is not None
    columns = _parquet_columns(sample.schema)
    if not columns:
        raise NotThisFormat("schema has no columns")
    fmt = DiscoveredFormat(classification)
    return FileSchema(fmt, columns, sample.num_rows, sample.num_rows)


# --- JSON -----------------------------------------------------------------------------


def _json(sample: Sample, size: int) -> FileSchema:
    text = (sample.text or "").lstrip()
    if not text.startswith("{"):
        raise NotThisFormat("does not start with '{'")
    records: list[dict[str, Any]] = []
    for number, line in enumerate(_complete_lines(sample), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise NotThisFormat(f"line {number} is not one JSON object ({exc})") from exc
        if not isinstance(record, dict):
            raise NotThisFormat(f"line {number} is not a JSON object")
        records.append(record)
    if not records:
        raise NotThisFormat("no complete record in the sample")
    columns, mapping = json_columns(records)
    if not columns:
        raise NotThisFormat("records have no keys")
    fmt = DiscoveredFormat("json", sample.compression, name_mapping=mapping)
    return FileSchema(fmt, columns, len(records), _estimate(len(records), sample, size))


# --- CSV ------------------------------------------------------------------------------


def _parse(lines: list[str], delimiter: str) -> list[list[str]]:
    rows = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, quotechar='"')
    try:
        # A row is kept when some field is not blank: so is their concatenation.
        return [row for row in rows if row and "".join(row).strip()]
    except csv.Error as exc:
        raise NotThisFormat(f"unparseable with {delimiter!r}: {exc}") from exc


def choose_delimiter(lines: list[str]) -> str:
    """The consistent delimiter with most fields (see the module docstring)."""
    return _choose_delimiter(lines)[0]


def _choose_delimiter(lines: list[str]) -> tuple[str, list[list[str]]]:
    """The chosen delimiter and the rows it parsed of the first ``_DETECT_LINES`` lines."""
    best: tuple[int, str, list[list[str]]] | None = None
    first = next((line for line in lines if line.strip()), "")
    for delimiter in DELIMITERS:
        if delimiter not in first:
            continue  # a delimiter absent from the first line cannot split it into 2+ fields
        try:
            rows = _parse(lines[:_DETECT_LINES], delimiter)
        except NotThisFormat:
            continue
        widths = {len(row) for row in rows}
        if len(widths) == 1 and (width := widths.pop()) >= 2:
            if best is None or width > best[0]:
                best = (width, delimiter, rows)
    if best is None:
        raise NotThisFormat("no delimiter of , tab | ; splits every line into the same 2+ fields")
    return best[1], best[2]


def _is_quoted(text: str, delimiter: str) -> bool:
    if '"' not in text:  # the usual case, without a regular expression
        return False
    return re.search(r"(?:^|[\r\n" + re.escape(delimiter) + r'])"', text) is not None


def _csv(sample: Sample, size: int) -> FileSchema:
    lines = _complete_lines(sample)
    if not any(line.strip() for line in lines):
        raise NotThisFormat("no complete line in the sample")
    delimiter, rows = _choose_delimiter(lines)
    if len(lines) > _DETECT_LINES:  # the delimiter was chosen on the first lines only
        rows = _parse(lines, delimiter)
    data_types = csv_column_types(rows[1:], len(rows[0]))
    header = detect_header(rows, data_types)
    columns = csv_columns(rows, header, data_types if header else None)
    quoted = _is_quoted(sample.text or "", delimiter)
    fmt = DiscoveredFormat("csv", sample.compression, delimiter, quoted, header)
    records = len(rows) - (1 if header else 0)
    return FileSchema(fmt, columns, records, _estimate(records, sample, size))


_CLASSIFIERS: tuple[tuple[str, Callable[[Sample, int], FileSchema]], ...] = (
    ("parquet", _parquet),
    ("orc", _orc),
    ("json", _json),
    ("csv", _csv),
)
