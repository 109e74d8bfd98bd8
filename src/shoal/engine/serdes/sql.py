"""The SELECT that reads a SerDe table's files line by line (see the package docstring).

The result is a subquery ``d`` with the table's columns, typed, and the file-name
column the scan joins partition values on.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from shoal.catalog.model import Column
from shoal.catalog.types import HiveType, parse_type
from shoal.engine import hive_text
from shoal.engine.base import TableFormat, TableScan
from shoal.engine.duckdb_types import duckdb_type
from shoal.engine.serdes import ReaderSpec, json_sql, reader_spec
from shoal.engine.serdes.json_keys import JsonRead
from shoal.engine.serdes.lines import LINE, Carried, alias, col, read_lines
from shoal.engine.serdes.udfs import TEXT_FIELDS

OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
FIELDS = "__shoal_fields"
_TEXT = frozenset({"string", "varchar", "char"})


def escaped_spec(fmt: TableFormat, columns: Sequence[Column]) -> ReaderSpec:
    """The reader of LazySimpleSerDe lines with ``escape.delim``."""
    params = {"field.delim": fmt.delimiter, "escape.delim": fmt.escape_char or "\\"}
    return reader_spec("escaped", _columns(columns), params)


def split_fields(line: exp.Expr, spec: ReaderSpec) -> exp.Expr:
    """``line`` split into its fields by the reader ``spec`` describes."""
    return exp.Anonymous(this=TEXT_FIELDS, expressions=[line, exp.Literal.string(spec.to_json())])


def source(
    kind: str,
    urls: Sequence[str],
    scan: TableScan,
    file_column: str,
    index_column: str,
    json_fast: JsonRead | None = None,
) -> exp.Subquery:
    """The rows of ``scan``'s files, read by the ``kind`` reader: subquery ``d``, with
    each row's file name (``file_column``) and position in ``urls`` (``index_column``).

    ``json_fast``: how a JSON table's files spell its keys (``serdes.probe``)."""
    carried = Carried(file_column, index_column)
    if kind in ("json", "cloudtrail"):
        return json_sql.source(kind, urls, scan, carried, json_fast)
    spec = reader_spec(kind, _columns(scan.columns), scan.format.serde_parameters)
    lines = exp.Table(this=read_lines(urls, scan.format, file_column), alias=alias("r"))
    return _text_rows(lines, spec, scan.columns, carried)


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


def _text_rows(
    lines: exp.Table, spec: ReaderSpec, columns: Sequence[Column], carried: Carried
) -> exp.Subquery:
    fields = exp.select(
        exp.alias_(split_fields(col(LINE, "r"), spec), FIELDS, quoted=True), *carried.first()
    ).from_(lines)
    values = []
    for index, column in enumerate(columns, start=1):
        text = exp.Anonymous(
            this="list_extract", expressions=[col(FIELDS, "f"), exp.Literal.number(index)]
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
