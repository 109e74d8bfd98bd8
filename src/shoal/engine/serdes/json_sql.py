"""The SELECT that reads a JSON SerDe (or CloudTrail) table's files (``json_keys``
says when DuckDB may read lines without the Python reader).

Files are read three ways, in one ``UNION ALL`` when a scan mixes them (and per
spelling, when its files spell keys in more than one way: ``JsonRead``):

* checked files (no key spelled otherwise, every line blank or one JSON object):
  DuckDB's ``read_json``, keys as the files spell them, cast to the declared names;
* other files of a table ``json_keys`` allows: each line's own ``json_transform``,
  the Python reader taking the lines that are blank, malformed, not objects or (in
  files not checked clean) have a key spelled otherwise;
* every other table (renamed keys, CloudTrail records): the Python reader, every line.

The result is a subquery ``d`` with the table's columns, typed, and the file columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from shoal.catalog.model import Column
from shoal.catalog.types import HiveType, parse_type
from shoal.engine.base import TableScan
from shoal.engine.duckdb_types import duckdb_type
from shoal.engine.serdes import ReaderSpec, json_keys, reader_kind, reader_spec
from shoal.engine.serdes.json_keys import JsonFastPath, JsonRead, Spelling
from shoal.engine.serdes.json_rows import json_structure
from shoal.engine.serdes.lines import (
    LINE,
    MAX_LINE_BYTES,
    READER_INDEX,
    Carried,
    alias,
    col,
    compression,
    read_lines,
    url_list,
)
from shoal.engine.serdes.udfs import JSON_ROWS

VALUE = "__shoal_value"
DIRECT = "__shoal_direct"  # a line's own json_transform
RECORD = "__shoal_record"
LOCAL_INDEX = "__shoal_reader_index"  # the line's file, by position in its reader's list
SAMPLE_LINE_BYTES = 1024 * 1024  # a sample reads one such buffer, not MAX_LINE_BYTES
PROBE_FILE = "__shoal_file"  # the file-name column of the probes' reads


def fast_path_allowed(scan: TableScan) -> bool:
    """Whether ``scan`` is a JSON table whose lines may skip the Python reader."""
    kind = reader_kind(scan.format)
    if kind is None:
        return False
    return json_keys.fast_path_allowed(_spec(kind, scan), _hive(scan.columns))


def spelling(scan: TableScan, sample: Sequence[str]) -> Spelling:
    """How ``sample`` (a file's first lines) spells ``scan``'s declared names."""
    return json_keys.spelling_from_sample(sample, _hive(scan.columns))


def fast_path(scan: TableScan, spelled: Spelling = json_keys.AS_DECLARED) -> JsonFastPath:
    """The fast path of files that spell keys as ``spelled``; no file checked yet."""
    if not json_keys.case_insensitive(_spec("json", scan)):
        return JsonFastPath(Spelling(), None)
    names = json_keys.declared_names(_hive(scan.columns))
    return JsonFastPath(spelled, json_keys.wrong_keys_regex(spelled, names))


def source(
    kind: str,
    urls: Sequence[str],
    scan: TableScan,
    carried: Carried,
    read: JsonRead | None,
) -> exp.Subquery:
    """The rows of ``scan``'s files (``urls``) read by the ``kind`` reader (json or
    cloudtrail): subquery ``d``; ``read`` as the probe found it (by default, for a table
    ``fast_path_allowed``, keys as declared and every line checked)."""
    spec = _spec(kind, scan)
    if kind == "json" and read is None and fast_path_allowed(scan):
        read = JsonRead((fast_path(scan),))
    if read is None:
        lines = _lines_of(urls, range(len(urls)), scan, carried)
        return _line_records(lines, spec, scan.columns, carried, None, []).subquery("d")
    parts: list[exp.Select] = []
    for number, fast in enumerate(read.paths):
        files = read.files(number, len(urls))
        direct = _direct_files(scan, fast, files, carried.file_column)
        others = [i for i in files if i not in direct]
        if direct:
            part = _part(carried, direct, len(urls))
            parts.append(_read_json([urls[i] for i in direct], scan, fast, part))
        if others:
            part = _part(carried, others, len(urls))
            lines = _lines_of(urls, others, scan, carried)
            checks = [fast.needs_check(i) for i in others]
            parts.append(_line_records(lines, spec, scan.columns, part, fast, checks))
    query: exp.Query = parts[0]
    for more in parts[1:]:
        query = exp.union(query, more, distinct=False)
    return query.subquery("d")


def _part(carried: Carried, positions: Sequence[int], files: int) -> Carried:
    """The file columns of a reader of the files at ``positions`` (of ``files``)."""
    whole = list(positions) == list(range(files))
    return Carried(carried.file_column, carried.index_column, None if whole else positions)


def _lines_of(
    urls: Sequence[str], positions: Sequence[int], scan: TableScan, carried: Carried
) -> exp.Table:
    read = read_lines([urls[i] for i in positions], scan.format, carried.file_column)
    return exp.Table(this=read, alias=alias("r"))


def _direct_files(
    scan: TableScan, fast: JsonFastPath, files: Sequence[int], file_column: str
) -> list[int]:
    """The positions (of ``files``) ``read_json`` reads: checked, and nothing in the
    table that read_json cannot do (skipped header lines, a column named like the
    reader's own)."""
    if scan.format.skip_header_lines:
        return []
    names = {c.name.lower() for c in scan.columns}
    if READER_INDEX in names or file_column.lower() in names:
        return []
    return [i for i in files if i in fast.direct]


def _read_json(
    urls: Sequence[str], scan: TableScan, fast: JsonFastPath, carried: Carried
) -> exp.Select:
    """Checked files, read by ``read_json`` with the files' keys, as declared columns.

    ``ignore_errors``: a value that does not fit its column is NULL, as the SerDe
    reads it (20,000 lines of misfit values read as ``json_transform`` reads them).
    Malformed lines are the option's other effect, and not ``ignore.malformed.json``'s:
    on DuckDB 1.5.5 a file with one reads well-formed lines around it as NULLs too;
    the check keeps such files away from here."""
    hive = _hive(scan.columns)
    spelled = {
        fast.spelling.key(name): duckdb_type(json_keys.respelled(t, fast.spelling))
        for name, t in hive
    }
    options: dict[str, exp.Expr] = {
        "format": exp.Literal.string("newline_delimited"),
        "columns": exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.Literal.string(k), expression=exp.Literal.string(t))
                for k, t in spelled.items()
            ]
        ),
        "ignore_errors": exp.true(),
        "maximum_object_size": exp.Literal.number(MAX_LINE_BYTES),
        "compression": exp.Literal.string(compression(scan.format, "auto_detect")),
        "filename": exp.Literal.string(carried.file_column),
    }
    args = [exp.EQ(this=exp.column(k), expression=v) for k, v in options.items()]
    reader = exp.Anonymous(this="read_json", expressions=[url_list(urls), *args])
    values = []
    for name, t in hive:
        value: exp.Expr = col(fast.spelling.key(name), "r")
        declared = duckdb_type(t)
        if spelled[fast.spelling.key(name)] != declared:  # nested keys spelled otherwise
            value = exp.cast(value, exp.DataType.build(declared, dialect="duckdb"))
        values.append(exp.alias_(value, name, quoted=True))
    return exp.select(*values, *carried.first()).from_(exp.Table(this=reader, alias=alias("r")))


def _line_records(
    lines: exp.Table,
    spec: ReaderSpec,
    columns: Sequence[Column],
    carried: Carried,
    fast: JsonFastPath | None,
    checks: Sequence[bool],
) -> exp.Select:
    """Each line's records, typed: ``json_transform`` of the line itself where ``fast``
    allows, else of the JSON texts the Python reader makes of it. ``checks``: whether
    each file's lines are checked for keys spelled otherwise."""
    hive = _hive(columns)
    declared = json_structure(HiveType("struct", fields=tuple(hive)))
    python = _python_records(col(LINE, "p" if fast else "r"), spec, declared)
    if fast is None:
        records = exp.select(
            exp.alias_(exp.Unnest(expressions=[python]), VALUE, quoted=True), *carried.first()
        ).from_(lines)
    else:
        records = _direct_records(lines, fast, hive, python, carried, checks)
    values = [
        exp.alias_(
            exp.Anonymous(
                this="struct_extract", expressions=[col(VALUE), exp.Literal.string(c.name)]
            ),
            c.name,
            quoted=True,
        )
        for c in columns
    ]
    return exp.select(*values, *carried.columns()).from_(records.subquery("t"))


def _python_records(line: exp.Expr, spec: ReaderSpec, declared: Any) -> exp.Expr:
    """The line's records as the Python reader reads them, typed: a list of structs."""
    texts = exp.Anonymous(this=JSON_ROWS, expressions=[line, exp.Literal.string(spec.to_json())])
    typed = _transform(exp.column(RECORD), declared)
    lambda_ = exp.Lambda(this=typed, expressions=[exp.to_identifier(RECORD)])
    return exp.Anonymous(this="list_transform", expressions=[texts, lambda_])


def _direct_records(
    lines: exp.Table,
    fast: JsonFastPath,
    hive: Sequence[tuple[str, HiveType]],
    python: exp.Expr,
    carried: Carried,
    checks: Sequence[bool],
) -> exp.Select:
    """One record per line: the line's own transform (keys as ``fast`` spells them,
    cast to the declared names), unless the line is blank, malformed, not an object
    or may have a key the transform would miss: then the Python reader's records."""
    record = HiveType("struct", fields=tuple(hive))
    spelled = json_keys.spelled_structure(record, fast.spelling)
    direct = exp.Anonymous(this="try", expressions=[_transform(col(LINE, "r"), spelled)])
    parsed = exp.select(
        col(LINE, "r"),
        exp.alias_(direct, DIRECT, quoted=True),
        exp.alias_(col(READER_INDEX, "r"), LOCAL_INDEX, quoted=True),
        *carried.first(),
    )
    line = col(LINE, "p")
    needs_python: exp.Expr = exp.or_(
        exp.Is(this=col(DIRECT, "p"), expression=exp.null()),
        exp.not_(exp.Anonymous(this="starts_with", expressions=[line, exp.Literal.string("{")])),
    )
    if fast.wrong_keys is not None and any(checks):
        found = _wrong_keys(line, fast.wrong_keys)
        if not all(checks):  # only in the files not checked clean
            local = [exp.Literal.number(i) for i, check in enumerate(checks) if check]
            index = exp.Anonymous(
                this="list_contains",
                expressions=[exp.Array(expressions=local), col(LOCAL_INDEX, "p")],
            )
            found = exp.and_(index, found)
        needs_python = exp.or_(needs_python, found)
    value: exp.Expr = col(DIRECT, "p")
    if spelled != json_structure(record):  # keys spelled otherwise: the declared names
        value = exp.cast(value, exp.DataType.build(duckdb_type(record), dialect="duckdb"))
    rows = exp.Case(
        ifs=[exp.If(this=needs_python, true=python)],
        default=exp.Array(expressions=[value]),
    )
    return exp.select(
        exp.alias_(exp.Unnest(expressions=[rows]), VALUE, quoted=True), *carried.columns("p")
    ).from_(parsed.from_(lines).subquery("p"))


def sample_query(url: str, scan: TableScan, lines: int) -> str:
    """The first ``lines`` non-blank lines of a file (lines longer than
    ``SAMPLE_LINE_BYTES`` fail the query: such a file is not sampled)."""
    read = read_lines([url], scan.format, PROBE_FILE, SAMPLE_LINE_BYTES)
    query = exp.select(col(LINE)).from_(read).where(col(LINE).is_(exp.null()).not_())
    return query.limit(lines).sql(dialect="duckdb", identify=True)


def check_query(urls: Sequence[str], scan: TableScan, wrong_keys: str | None) -> str:
    """For each file of ``urls`` that has lines: ``(its position, whether a line has a
    key spelled otherwise, whether a line is neither blank nor one JSON object)``."""
    read = exp.Table(this=read_lines(urls, scan.format, PROBE_FILE), alias=alias("r"))
    line = col(LINE, "r")
    found = exp.false() if wrong_keys is None else _wrong_keys(line, wrong_keys)
    one_object = exp.and_(
        exp.Anonymous(this="starts_with", expressions=[line.copy(), exp.Literal.string("{")]),
        exp.Anonymous(this="json_valid", expressions=[line.copy()]),
    )
    irregular = exp.and_(exp.not_(line.copy().is_(exp.null())), exp.not_(one_object))
    index = col(READER_INDEX, "r")
    query = exp.select(
        index,
        exp.Anonymous(this="bool_or", expressions=[found]),
        exp.Anonymous(this="bool_or", expressions=[irregular]),
    ).from_(read)
    return query.group_by(index).sql(dialect="duckdb", identify=True)


def _wrong_keys(line: exp.Expr, pattern: str) -> exp.Expr:
    """Whether ``line`` has a key matching ``pattern`` or spelled with an escape."""
    escaped = exp.and_(
        exp.Anonymous(
            this="contains", expressions=[line.copy(), exp.Literal.string(json_keys.ESCAPE)]
        ),
        _matches(line, json_keys.ESCAPED_KEY),
    )
    return exp.or_(_matches(line, pattern), escaped)


def _matches(line: exp.Expr, pattern: str) -> exp.Expr:
    return exp.Anonymous(
        this="regexp_matches", expressions=[line.copy(), exp.Literal.string(pattern)]
    )


def _transform(json_text: exp.Expr, structure: Any) -> exp.Expr:
    return exp.Anonymous(
        this="json_transform",
        expressions=[json_text, exp.Literal.string(json.dumps(structure))],
    )


def _spec(kind: str, scan: TableScan) -> ReaderSpec:
    columns = [(c.name, c.type) for c in scan.columns]
    return reader_spec(kind, columns, scan.format.serde_parameters)


def _hive(columns: Sequence[Column]) -> list[tuple[str, HiveType]]:
    return [(c.name, parse_type(c.type)) for c in columns]
