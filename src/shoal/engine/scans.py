"""Turn a ``TableScan`` into the DuckDB query that reads exactly its planned files.

Each scan becomes one SELECT over ``read_parquet`` / ``read_csv`` / ``read_json`` /
``read_avro`` (the avro extension) or, for ORC, the Arrow rows ``engine/orc.py``
registers, with the catalog's column names and types (Hive types mapped by ``duckdb_type``),
plus the partition columns. Partition values come from the plan, not from paths:
one reader reads every planned file, and each row's partition values are picked
from a constant list by the reader's ``file_index`` (its position in the file list).
A UNION ALL per partition would bind one reader each, and a join of file names to
a VALUES list costs a string hash probe per row (a full scan of 1,000 small
partitions: ~1.3x a plain read); the join remains for files that hold a column of
their own named ``file_index``, which hides DuckDB's virtual column.

The SQL is assembled as a sqlglot tree and printed with every identifier quoted;
paths and partition values are string literals that sqlglot escapes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from shoal.catalog.model import Column
from shoal.catalog.types import parse_type
from shoal.engine import hive_text, serdes
from shoal.engine.base import TableFormat, TableScan
from shoal.engine.duckdb_types import duckdb_type
from shoal.engine.serdes import sql as serde_sql
from shoal.engine.serdes.json_keys import JsonRead
from shoal.errors import InvalidInputError

FILE_COLUMN = "__shoal_file"  # the reader's file-name column, joined to partition values
INDEX_COLUMN = "__shoal_file_index"  # a text line's file (see _lines)
READER_INDEX = "file_index"  # DuckDB's virtual column: the row's file, by list position
LINE_COLUMN = "__shoal_line"  # a text file's whole line (see _lines)
FIELDS_COLUMN = "__shoal_fields"  # ... split at the field delimiter
HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@functools.lru_cache(maxsize=4096)
def _parsed_type(text: str) -> exp.DataType:
    return exp.DataType.build(text, dialect="duckdb")


def _built_type(text: str) -> exp.DataType:
    """A DuckDB type node; parsing type text costs ~0.2 ms, so parse once per text."""
    return _parsed_type(text).copy()


def _column_type(column: Column) -> str:
    return duckdb_type(parse_type(column.type))


@dataclass(frozen=True)
class FileColumns:
    """What a probe of a scan's files found (``PROBED`` formats).

    ``names``: the lower-cased columns the files hold, together. ``same_schema``: every
    file has the same columns with the same types in the same order, so DuckDB can read
    them all by the first file's schema. Otherwise Parquet files are read with
    ``union_by_name``, which reads every file's footer before the scan starts (on one
    thread: a fifth of a full scan of 1,000 small files). Without it DuckDB maps a later
    file's columns by name to the first file's, casts them to the first file's types
    and fails on a missing one -- wrong answers or errors where the files differ.
    """

    names: frozenset[str]
    same_schema: bool = False


def scan_query(
    scan: TableScan,
    url: Callable[[str], str],
    present: FileColumns | None = None,
    json_fast: JsonRead | None = None,
    partitions: bool = True,
) -> exp.Select:
    """The SELECT exposing ``scan`` with its catalog columns, then its partition keys.

    Args:
        scan: the resolved table and its planned files.
        url: maps a file path to the URL DuckDB reads it through.
        present: what the files hold (``PROBED`` formats); catalog columns they lack
            read as NULL, as Athena does on schema drift.
        json_fast: how a JSON SerDe table's files spell its keys (``serdes.probe``).
        partitions: expose the partition keys; without them, for a query that reads
            none, DuckDB need not bind every file's partition values.
    """
    urls = [url(f.path) for f in scan.files]
    classification = scan.format.classification.lower()
    serde_kind = serdes.reader_kind(scan.format)
    text = None
    if serde_kind is not None:  # read line by line, typed by the SerDe's reader
        source: exp.Expr = serde_sql.source(
            serde_kind, urls, scan, FILE_COLUMN, INDEX_COLUMN, json_fast
        )
    elif classification not in _READERS:
        raise InvalidInputError(
            f"{scan.database}.{scan.table}: cannot read {classification!r} files"
        )
    elif _line_by_line(scan.format):
        source = _lines(urls, scan)
        text = _text_columns(scan)
    else:
        one_schema = classification == "parquet" and present is not None and present.same_schema
        reader = _parquet_one_schema if one_schema else _READERS[classification]
        source = exp.Table(this=reader(urls, scan), alias=_alias("d"))
        text = _text_columns(scan)
    names = present.names if present is not None else None
    projections = [_data_column(c, names, text, scan.format) for c in scan.columns]
    query = exp.select(*projections).from_(source)
    if not scan.partition_keys or not partitions:
        return query
    index = _file_index(scan, names)
    if index is None:
        for key in scan.partition_keys:
            query = query.select(exp.column(key.name, table="p", quoted=True), append=True)
        return query.join(_partition_values(scan, urls), using=[_id(FILE_COLUMN)])
    for position in range(len(scan.partition_keys)):
        query = query.select(_partition_by_index(scan, position, index), append=True)
    return query


def _file_index(scan: TableScan, present: Collection[str] | None) -> exp.Column | None:
    """The column telling each row's file by position, or None when a data column
    named like DuckDB's virtual ``file_index`` would hide it."""
    if _line_by_line(scan.format) or serdes.reader_kind(scan.format) is not None:
        return exp.column(INDEX_COLUMN, table="d", quoted=True)
    declared = {c.name.lower() for c in scan.columns}
    if READER_INDEX in declared or (present is not None and READER_INDEX in present):
        return None
    return exp.column(READER_INDEX, table="d", quoted=True)


def _partition_by_index(scan: TableScan, position: int, index: exp.Column) -> exp.Expr:
    """Partition key ``position`` of each row: the row's file's value, from a list of
    every planned file's value (DuckDB lists are 1-based; ``file_index`` is 0-based)."""
    key = scan.partition_keys[position]
    to = _built_type(_column_type(key))
    values: list[exp.Expr] = []
    for file in scan.files:
        if len(file.partition_values) != len(scan.partition_keys):
            raise InvalidInputError(
                f"{file.path}: expected {len(scan.partition_keys)} partition values"
            )
        value = file.partition_values[position]
        values.append(exp.null() if value == HIVE_NULL_PARTITION else exp.Literal.string(value))
    # One cast of the whole list of texts: DuckDB binds a thousand CAST nodes, one a
    # value, in twice the time (~10 ms of a 1,000-partition scan).
    typed = exp.cast(exp.Array(expressions=values), exp.DataType.build("ARRAY", expressions=[to]))
    position_1 = exp.Add(this=exp.cast(index, "BIGINT"), expression=exp.Literal.number(1))
    picked = exp.Anonymous(this="list_extract", expressions=[typed, position_1])
    return exp.alias_(exp.cast(picked, to.copy()), key.name, quoted=True)


def probe_query(
    scan: TableScan, url: Callable[[str], str], same_schema: bool = False
) -> exp.Select:
    """``SELECT * … LIMIT 0`` over the files: its result columns are those the files
    have. ``same_schema`` (``schema_count_query`` found one): the first file tells."""
    urls = [url(f.path) for f in scan.files]
    if same_schema:
        urls = urls[:1]
    reader = _READERS[scan.format.classification.lower()](urls, scan)
    return exp.select(exp.Star()).from_(exp.Table(this=reader)).limit(0)


def schema_count_query(scan: TableScan, url: Callable[[str], str]) -> exp.Select:
    """How many different schemas a Parquet scan's files have (one row, one number).

    A file's schema is its whole Parquet schema tree in order -- every element's name,
    the type DuckDB reads it as, its repetition and its number of children -- so files
    counted as one are read alike with or without ``union_by_name``.
    """
    query = _SCHEMA_COUNT.copy()
    assert isinstance(query, exp.Select)
    files = query.find(exp.Placeholder)
    assert files is not None
    files.replace(_url_list([url(f.path) for f in scan.files]))
    return query


_SCHEMA_COUNT = sqlglot.parse_one(
    "SELECT count(DISTINCT signature) FROM ("
    " SELECT list(row(name, duckdb_type, repetition_type, num_children) ORDER BY column_id)"
    " AS signature FROM parquet_schema(?) GROUP BY file_name) AS f",
    read="duckdb",
)


def empty_query(scan: TableScan) -> exp.Select:
    """The scan's columns with no rows: every file was pruned away."""
    typed = [
        exp.alias_(
            exp.cast(exp.null(), _built_type(_column_type(c))),
            c.name,
            quoted=True,
        )
        for c in (*scan.columns, *scan.partition_keys)
    ]
    return exp.select(*typed).where(exp.false())


def _id(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _data_column(
    column: Column,
    present: Collection[str] | None,
    text: Callable[[Column], exp.Expr] | None,
    fmt: TableFormat,
) -> exp.Expr:
    to = _built_type(_column_type(column))
    if present is not None and column.name.lower() not in present:
        value: exp.Expr = exp.cast(exp.null(), to)
    elif text is not None and _text_encoded(column, fmt):
        value = text(column)
    else:
        value = exp.cast(exp.column(column.name, table="d", quoted=True), to)
    return exp.alias_(value, column.name, quoted=True)


def _text_encoded(column: Column, fmt: TableFormat) -> bool:
    """Whether ``column`` is read as text and converted (see ``_text_columns``)."""
    name = parse_type(column.type).name
    return name in hive_text.TEXT_ENCODED or serde_sql.open_csv_text(fmt, name)


def _text_columns(scan: TableScan) -> Callable[[Column], exp.Expr] | None:
    """For text tables: how a complex or binary column's text becomes its value (the
    CSV reader reads it as VARCHAR); None for formats that carry such values as they are."""
    if scan.format.classification.lower() != "csv":
        return None
    fmt = scan.format
    seps = hive_text.separators(fmt.serde_parameters, fmt.delimiter)

    def value(column: Column) -> exp.Expr:
        field = exp.column(column.name, table="d", quoted=True)
        hive = parse_type(column.type)
        if serde_sql.open_csv_text(fmt, hive.name):
            return serde_sql.open_csv_value(field, hive)
        return hive_text.text_value(field, hive, _column_type(column), seps, fmt.null_format)

    return value


def _partition_values(scan: TableScan, urls: Sequence[str]) -> exp.Subquery:
    types = [_built_type(_column_type(k)) for k in scan.partition_keys]
    rows = []
    for file, file_url in zip(scan.files, urls, strict=True):
        if len(file.partition_values) != len(types):
            raise InvalidInputError(f"{file.path}: expected {len(types)} partition values")
        values = [
            _partition_literal(v, t) for v, t in zip(file.partition_values, types, strict=True)
        ]
        rows.append(exp.Tuple(expressions=[exp.Literal.string(file_url), *values]))
    columns = [_id(FILE_COLUMN), *(_id(k.name) for k in scan.partition_keys)]
    values_node = exp.Values(expressions=rows)
    return (
        exp.select(exp.Star())
        .from_(exp.Subquery(this=values_node, alias=exp.TableAlias(this=_id("v"), columns=columns)))
        .subquery("p")
    )


def _partition_literal(value: str, to: exp.DataType) -> exp.Expr:
    if value == HIVE_NULL_PARTITION:
        return exp.cast(exp.null(), to)
    return exp.cast(exp.Literal.string(value), to)


def _option(name: str, value: exp.Expr) -> exp.EQ:
    return exp.EQ(this=exp.column(name), expression=value)


def _columns_struct(columns: Sequence[Column], text_of: TableFormat | None = None) -> exp.Struct:
    """Column name -> the reader's type; columns of ``text_of`` that are read as text
    and converted (``_text_encoded``) as VARCHAR."""

    def reader_type(column: Column) -> str:
        as_text = text_of is not None and _text_encoded(column, text_of)
        return "VARCHAR" if as_text else _column_type(column)

    return _struct({c.name: reader_type(c) for c in columns})


def _url_list(urls: Sequence[str]) -> exp.Array:
    return exp.Array(expressions=[exp.Literal.string(u) for u in urls])


def _call(name: str, urls: Sequence[str], options: list[exp.EQ]) -> exp.Anonymous:
    options.append(_option("filename", exp.Literal.string(FILE_COLUMN)))
    return exp.Anonymous(this=name, expressions=[_url_list(urls), *options])


def _parquet(urls: Sequence[str], scan: TableScan) -> exp.Anonymous:
    return _call("read_parquet", urls, [_option("union_by_name", exp.true())])


def _parquet_one_schema(urls: Sequence[str], scan: TableScan) -> exp.Anonymous:
    return _call("read_parquet", urls, [])


def _avro(urls: Sequence[str], scan: TableScan) -> exp.Anonymous:
    # The avro extension has no union_by_name: files are read by the first one's schema.
    return _call("read_avro", urls, [])


def orc_relation(scan: TableScan) -> str:
    """The name an ORC scan's rows are registered under on the query's cursor (DuckDB
    has no ORC reader: ``engine/orc.py`` reads them). Fixed per table, so the scan's
    cached SQL stays valid; the query's own cursor is its only reader."""
    digest = hashlib.sha256(f"{scan.database}\0{scan.table}".encode()).hexdigest()[:20]
    return f"__shoal_orc_{digest}"


def _orc(urls: Sequence[str], scan: TableScan) -> exp.Expr:
    return _id(orc_relation(scan))


def _json(urls: Sequence[str], scan: TableScan) -> exp.Anonymous:
    options = [
        _option("format", exp.Literal.string("newline_delimited")),
        _option("columns", _columns_struct(scan.columns)),
        _option("compression", exp.Literal.string(_compression(scan.format, "auto_detect"))),
    ]
    return _call("read_json", urls, options)


def _csv(urls: Sequence[str], scan: TableScan) -> exp.Anonymous:
    fmt = scan.format
    options = [
        _option("columns", _columns_struct(scan.columns, text_of=fmt)),
        _option("auto_detect", exp.false()),
        _option("header", exp.false()),
        _option("skip", exp.Literal.number(fmt.skip_header_lines)),
        _option("delim", exp.Literal.string(fmt.delimiter)),
        # An empty quote turns quoting off, as LazySimpleSerDe reads fields.
        _option("quote", exp.Literal.string(fmt.quote_char or "")),
        _option("nullstr", exp.Literal.string(fmt.null_format or "")),
        _option("null_padding", exp.true()),
        _option("compression", exp.Literal.string(_compression(fmt))),
    ]
    if fmt.escape_char:
        options.append(_option("escape", exp.Literal.string(fmt.escape_char)))
    text_columns = serde_sql.open_csv_strings(fmt, scan.columns)
    if text_columns:  # OpenCSVSerde has no NULL: an empty field is an empty string
        names = [exp.Literal.string(name) for name in text_columns]
        options.append(_option("force_not_null", exp.Array(expressions=names)))
    return _call("read_csv", urls, options)


def _line_by_line(fmt: TableFormat) -> bool:
    """Text without quoting (LazySimpleSerDe) is read a line at a time."""
    return fmt.classification.lower() == "csv" and not fmt.quote_char


def _lines(urls: Sequence[str], scan: TableScan) -> exp.Subquery:
    """A text table's rows, split into its columns (text) from whole lines: ``d``.

    DuckDB's CSV reader skips blank lines, where Hive reads a row whose fields are all
    NULL; read with no delimiter, each line is one field and a blank one is NULL.
    Missing fields are NULL, extra ones ignored, the NULL text is NULL, as in Hive.
    """
    fmt = scan.format
    options = [
        _option("columns", _struct({LINE_COLUMN: "VARCHAR"})),
        _option("auto_detect", exp.false()),
        _option("header", exp.false()),
        _option("skip", exp.Literal.number(fmt.skip_header_lines)),
        _option("delim", exp.Literal.string("")),  # no delimiter: the line is the field
        _option("quote", exp.Literal.string("")),
        _option("escape", exp.Literal.string("")),
        _option("nullstr", exp.Literal.string("")),  # a blank line is NULL
        _option("compression", exp.Literal.string(_compression(fmt))),
    ]
    line = exp.column(LINE_COLUMN, table="r", quoted=True)
    split: exp.Expr = exp.Anonymous(
        this="string_split", expressions=[line, exp.Literal.string(fmt.delimiter)]
    )
    if fmt.escape_char:  # escape.delim: a delimiter after the escape is text
        split = serde_sql.split_fields(line, serde_sql.escaped_spec(fmt, scan.columns))
    fields = exp.select(
        exp.alias_(split, FIELDS_COLUMN, quoted=True),
        exp.column(FILE_COLUMN, quoted=True),
        exp.alias_(exp.column(READER_INDEX, table="r", quoted=True), INDEX_COLUMN, quoted=True),
    ).from_(exp.Table(this=_call("read_csv", urls, options), alias=_alias("r")))
    null_text = exp.Literal.string(fmt.null_format or "")
    columns = [
        exp.alias_(exp.Nullif(this=_field(index), expression=null_text), c.name, quoted=True)
        for index, c in enumerate(scan.columns, start=1)
    ]
    rows = exp.select(
        *columns, exp.column(FILE_COLUMN, quoted=True), exp.column(INDEX_COLUMN, quoted=True)
    ).from_(fields.subquery("l"))
    return rows.subquery("d")


def _field(index: int) -> exp.Expr:
    fields = exp.column(FIELDS_COLUMN, table="l", quoted=True)
    return exp.Anonymous(this="list_extract", expressions=[fields, exp.Literal.number(index)])


def _alias(name: str) -> exp.TableAlias:
    return exp.TableAlias(this=_id(name))


def _struct(types: Mapping[str, str]) -> exp.Struct:
    pairs = [
        exp.PropertyEQ(this=exp.Literal.string(name), expression=exp.Literal.string(type_))
        for name, type_ in types.items()
    ]
    return exp.Struct(expressions=pairs)


def _compression(fmt: TableFormat, auto: str = "auto") -> str:
    # DuckDB detects gzip/zstd from the file name; explicit only when the catalog says so.
    known = {"gzip": "gzip", "gz": "gzip", "zstd": "zstd", "none": "none"}
    return known.get((fmt.compression or "").lower(), auto)


_READERS: Mapping[str, Callable[[Sequence[str], TableScan], exp.Expr]] = {
    "parquet": _parquet,
    "json": _json,
    "csv": _csv,
    "avro": _avro,
    "orc": _orc,
}
# Formats whose files may lack catalog columns, found by a probe (see ``probe_query``).
PROBED = frozenset({"parquet", "avro"})
# The table classifications DuckDB reads: its declared formats (``Capabilities``).
FORMATS = frozenset(_READERS)
