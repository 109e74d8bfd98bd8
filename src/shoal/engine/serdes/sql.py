"""The SELECT that reads a SerDe table's files line by line (see the package docstring).

The result is a subquery ``d`` with the table's columns, typed, and the file-name
column the scan joins partition values on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlglot import exp

from shoal.catalog.model import Column
from shoal.catalog.types import HiveType, parse_type
from shoal.engine import hive_text
from shoal.engine.base import TableFormat, TableScan
from shoal.engine.duckdb_types import duckdb_type
from shoal.engine.serdes import LINE_READERS, ReaderSpec, reader_spec
from shoal.engine.serdes.json_rows import json_structure
from shoal.engine.serdes.udfs import JSON_ROWS, TEXT_FIELDS

OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
READER_INDEX = "file_index"  # DuckDB's virtual column: the row's file, by list position
LINE = "__shoal_line"
ROW = "__shoal_row"
VALUE = "__shoal_value"
FIELDS = "__shoal_fields"
# A CloudTrail file is one line (a few MB at most). DuckDB's buffer is by default 16
# lines long, so it is set to one line: each scan thread holds one such buffer.
MAX_LINE_BYTES = 32 * 1024 * 1024
_TEXT = frozenset({"string", "varchar", "char"})


def reader_kind(fmt: TableFormat) -> str | None:
    """How ``fmt``'s lines are read here, or None when DuckDB reads its files itself.

    A JSON SerDe over CloudTrail's input format (AWS's current CloudTrail DDL, with
    classification ``cloudtrail``) reads one row per record, as the CloudTrail SerDe."""
    kind = LINE_READERS.get(fmt.serde)
    if kind == "json" and fmt.classification.lower() == "cloudtrail":
        return "cloudtrail"
    return kind


def escaped_spec(fmt: TableFormat, columns: Sequence[Column]) -> ReaderSpec:
    """The reader of LazySimpleSerDe lines with ``escape.delim``."""
    params = {"field.delim": fmt.delimiter, "escape.delim": fmt.escape_char or "\\"}
    return reader_spec("escaped", _columns(columns), params)


def split_fields(line: exp.Expr, spec: ReaderSpec) -> exp.Expr:
    """``line`` split into its fields by the reader ``spec`` describes."""
    return exp.Anonymous(this=TEXT_FIELDS, expressions=[line, exp.Literal.string(spec.to_json())])


def source(
    kind: str, urls: Sequence[str], scan: TableScan, file_column: str, index_column: str
) -> exp.Subquery:
    """The rows of ``scan``'s files, read by the ``kind`` reader: subquery ``d``, with
    each row's file name (``file_column``) and position in ``urls`` (``index_column``)."""
    spec = reader_spec(kind, _columns(scan.columns), scan.format.serde_parameters)
    lines = exp.Table(this=_lines(urls, scan.format, file_column), alias=_alias("r"))
    carried = _Carried(file_column, index_column)
    if kind in ("json", "cloudtrail"):
        return _json_rows(lines, spec, scan.columns, carried)
    return _text_rows(lines, spec, scan.columns, carried)


class _Carried:
    """The file columns every step of a SerDe's SELECT passes on."""

    def __init__(self, file_column: str, index_column: str) -> None:
        self.file_column = file_column
        self.index_column = index_column

    def first(self) -> list[exp.Expr]:
        """From the reader: its file name and its virtual ``file_index``."""
        index = exp.alias_(_col(READER_INDEX, "r"), self.index_column, quoted=True)
        return [_col(self.file_column, "r"), index]

    def columns(self) -> list[exp.Expr]:
        return [_col(self.file_column), _col(self.index_column)]


def open_csv_text(fmt: TableFormat, type_name: str) -> bool:
    """OpenCSVSerde reads DATE as days and TIMESTAMP as milliseconds since 1970-01-01:
    such columns are read as text and converted by ``open_csv_value``."""
    return fmt.serde == OPEN_CSV and type_name in ("date", "timestamp")


def open_csv_strings(fmt: TableFormat, columns: Sequence[Column]) -> list[str]:
    """The string columns of an OpenCSVSerde table (where an empty field is ``''``)."""
    if fmt.serde != OPEN_CSV:
        return []
    return [c.name for c in columns if parse_type(c.type).name in _TEXT]


def open_csv_value(text: exp.Expr, hive: HiveType) -> exp.Expr:
    """An OpenCSVSerde DATE (days since 1970-01-01) or TIMESTAMP (epoch milliseconds);
    text that is not a whole number is read as a date or timestamp literal."""
    number = exp.TryCast(this=text.copy(), to=exp.DataType.build("BIGINT"))
    if hive.name == "date":
        epoch: exp.Expr = exp.Add(
            this=exp.cast(exp.Literal.string("1970-01-01"), exp.DataType.build("DATE")),
            expression=exp.cast(number, exp.DataType.build("INTEGER")),
        )
    else:
        epoch = exp.Anonymous(this="epoch_ms", expressions=[number])
    literal = exp.TryCast(this=text.copy(), to=exp.DataType.build(duckdb_type(hive)))
    return exp.Coalesce(this=epoch, expressions=[literal])


def _columns(columns: Sequence[Column]) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in columns]


def _json_rows(
    lines: exp.Table, spec: ReaderSpec, columns: Sequence[Column], carried: _Carried
) -> exp.Subquery:
    rows: exp.Expr = exp.Anonymous(
        this=JSON_ROWS, expressions=[_col(LINE, "r"), exp.Literal.string(spec.to_json())]
    )
    if _direct_lines_allowed(spec, columns):
        rows = _unless_python_needed(_col(LINE, "r"), rows, spec)
    unnested = exp.select(
        exp.alias_(exp.Unnest(expressions=[rows]), ROW, quoted=True), *carried.first()
    ).from_(lines)
    structure = {c.name: json_structure(parse_type(c.type)) for c in columns}
    typed = exp.Anonymous(
        this="json_transform",
        expressions=[_col(ROW), exp.Literal.string(json.dumps(structure))],
    )
    records = exp.select(exp.alias_(typed, VALUE, quoted=True), *carried.columns()).from_(
        unnested.subquery("u")
    )
    values = [
        exp.alias_(
            exp.Anonymous(
                this="struct_extract", expressions=[_col(VALUE), exp.Literal.string(c.name)]
            ),
            c.name,
            quoted=True,
        )
        for c in columns
    ]
    return exp.select(*values, *carried.columns()).from_(records.subquery("t")).subquery("d")


def _direct_lines_allowed(spec: ReaderSpec, columns: Sequence[Column]) -> bool:
    """Whether lines that are JSON objects with lower-case keys may skip Python: true
    unless keys are mapped or renamed, or a declared name has capitals (which only
    the Python reader matches case-insensitively)."""
    params = spec.params
    if spec.kind != "json" or params.get("dots.in.keys", "").lower() == "true":
        return False
    if any(key.startswith("mapping.") for key in params):
        return False
    return all(_lower_names(parse_type(c.type)) and c.name == c.name.lower() for c in columns)


def _lower_names(hive: HiveType) -> bool:
    fields = all(name == name.lower() and _lower_names(t) for name, t in hive.fields)
    return fields and all(_lower_names(t) for t in hive.args)


# A key with a capital letter (or text that looks like one: the Python reader decides).
_CAPITAL_KEY = r'"(?:[^"\\]|\\.)*\p{Lu}(?:[^"\\]|\\.)*"\s*:'


def _unless_python_needed(line: exp.Expr, python: exp.Expr, spec: ReaderSpec) -> exp.Expr:
    """``[line]`` for a line DuckDB's ``json_transform`` reads as the SerDe would: a JSON
    object whose keys are lower case (or matched case-sensitively); ``python`` (the
    reader function) for anything else: capitals, blank or malformed lines."""
    object_type = exp.Anonymous(
        this="try", expressions=[exp.Anonymous(this="json_type", expressions=[line.copy()])]
    )
    is_object = exp.Coalesce(
        this=exp.EQ(this=object_type, expression=exp.Literal.string("OBJECT")),
        expressions=[exp.false()],
    )
    needs_python: exp.Expr = exp.Not(this=exp.Paren(this=is_object))
    if spec.params.get("case.insensitive", "true").lower() != "false":
        capitals = exp.Anonymous(
            this="regexp_matches", expressions=[line.copy(), exp.Literal.string(_CAPITAL_KEY)]
        )
        needs_python = exp.Or(this=needs_python, expression=capitals)
    direct = exp.Array(expressions=[line.copy()])
    return exp.Case(ifs=[exp.If(this=needs_python, true=python)], default=direct)


def _text_rows(
    lines: exp.Table, spec: ReaderSpec, columns: Sequence[Column], carried: _Carried
) -> exp.Subquery:
    fields = exp.select(
        exp.alias_(split_fields(_col(LINE, "r"), spec), FIELDS, quoted=True), *carried.first()
    ).from_(lines)
    values = []
    for index, column in enumerate(columns, start=1):
        text = exp.Anonymous(
            this="list_extract", expressions=[_col(FIELDS, "f"), exp.Literal.number(index)]
        )
        values.append(exp.alias_(_typed(text, parse_type(column.type)), column.name, quoted=True))
    return exp.select(*values, *carried.columns()).from_(fields.subquery("f")).subquery("d")


def _typed(text: exp.Expr, hive: HiveType) -> exp.Expr:
    """A captured text as a value of ``hive``: text as is, numbers, dates … as their
    text casts (NULL when it does not), nested types as Hive's text encoding of them."""
    if hive.name in _TEXT:
        return text
    to = duckdb_type(hive)
    if hive.name in hive_text.TEXT_ENCODED:
        seps = hive_text.separators({}, "\x01")
        return hive_text.text_value(text, hive, to, seps)
    return exp.TryCast(this=text, to=exp.DataType.build(to, dialect="duckdb"))


def _lines(urls: Sequence[str], fmt: TableFormat, file_column: str) -> exp.Anonymous:
    """DuckDB's CSV reader over the files with no delimiter: one text field a line."""
    options = {
        "columns": exp.Struct(
            expressions=[
                exp.PropertyEQ(
                    this=exp.Literal.string(LINE), expression=exp.Literal.string("VARCHAR")
                )
            ]
        ),
        "auto_detect": exp.false(),
        "header": exp.false(),
        "skip": exp.Literal.number(fmt.skip_header_lines),
        "delim": exp.Literal.string(""),
        "quote": exp.Literal.string(""),
        "escape": exp.Literal.string(""),
        "nullstr": exp.Literal.string(""),  # a blank line is NULL
        "max_line_size": exp.Literal.number(MAX_LINE_BYTES),
        "buffer_size": exp.Literal.number(MAX_LINE_BYTES),
        "compression": exp.Literal.string(_compression(fmt)),
        "filename": exp.Literal.string(file_column),
    }
    urls_node = exp.Array(expressions=[exp.Literal.string(u) for u in urls])
    args = [exp.EQ(this=exp.column(k), expression=v) for k, v in options.items()]
    return exp.Anonymous(this="read_csv", expressions=[urls_node, *args])


def _compression(fmt: TableFormat) -> str:
    known = {"gzip": "gzip", "gz": "gzip", "zstd": "zstd", "none": "none"}
    return known.get((fmt.compression or "").lower(), "auto")


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _alias(name: str) -> exp.TableAlias:
    return exp.TableAlias(this=exp.to_identifier(name, quoted=True))
