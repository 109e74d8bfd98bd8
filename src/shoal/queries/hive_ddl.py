"""Athena's Hive DDL: a tokenizer and a small recursive-descent parser.

sqlglot's Hive dialect parses ``CREATE EXTERNAL TABLE`` but turns SHOW, MSCK,
``ALTER TABLE … ADD PARTITION … LOCATION`` and ``SKEWED BY`` into opaque commands,
keeps Hive escapes such as ``'\\001'`` as raw text and maps column types onto its own
type enum. Hive DDL is small, so shoal parses it here with exact control: string
literals are unescaped as Hive does, column types are validated by
``catalog.types``, and every error names the construct and its line and column.

``CREATE EXTERNAL TABLE`` becomes a ``CreateTable`` and then a catalog ``Table``
(``table_from_create``); the handlers in ``ddl.py`` and ``show.py`` read their other,
smaller statements with ``Parser`` directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from shoal.catalog import avro_schema
from shoal.catalog.formats import (
    AVRO_INPUT,
    AVRO_OUTPUT,
    AVRO_SCHEMA_LITERAL,
    AVRO_SERDE,
    JSON_OUTPUT,
    JSON_SERDE,
    LAZY_SIMPLE_SERDE,
    OPEN_CSV_SERDE,
    ORC_INPUT,
    ORC_OUTPUT,
    ORC_SERDE,
    PARQUET_INPUT,
    PARQUET_OUTPUT,
    PARQUET_SERDE,
    TEXT_INPUT,
    TEXT_OUTPUT,
)
from shoal.catalog.model import (
    TABLE_TYPE_EXTERNAL,
    Column,
    SerDeInfo,
    SortColumn,
    StorageDescriptor,
    Table,
)
from shoal.catalog.names import validate_name
from shoal.catalog.types import HiveType, parse_type
from shoal.engine import serdes
from shoal.engine.serdes.checks import check_serde_parameters
from shoal.errors import InvalidInputError, InvalidNameError, SqlSyntaxError, UnsupportedSqlError
from shoal.storage.base import parse_uri

_TOKEN_RE = re.compile(
    r"""(?P<space>\s+|--[^\n]*|/\*.*?\*/)
    |(?P<word>[A-Za-z0-9_]+)
    |(?P<ident>`(?:[^`]|``)*`)
    |(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<symbol><=|>=|<>|!=|\S)""",
    re.VERBOSE | re.DOTALL,
)
# Hive's unescapeSQLString: one-character escapes, \ooo octal and \uXXXX.
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_ESCAPE_RE = re.compile(r"\\(u[0-9A-Fa-f]{4}|[0-7]{3}|.)", re.DOTALL)
# Names shoal creates through DDL: Athena's letters, digits and '_', plus '-' (which
# Athena accepts for databases in backquotes, e.g. `blog-db`). Anything else (spaces,
# ';', quotes) is refused rather than stored and quoted forever after.
_NEW_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
DEFAULT_CATALOG = "awsdatacatalog"


@dataclass(frozen=True)
class Token:
    """One lexical token; ``value`` is unquoted/unescaped for identifiers and strings."""

    kind: str  # word | ident | string | symbol | end
    value: str
    pos: int


def _unescape(body: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) == 5 and code[0] == "u":
            return chr(int(code[1:], 16))
        if len(code) == 3:
            return chr(int(code, 8))
        if code in ("%", "_"):  # Hive keeps these escaped: they are LIKE wildcards
            return "\\" + code
        return _ESCAPES.get(code, code)

    return _ESCAPE_RE.sub(replace, body)


def tokenize(sql: str) -> list[Token]:
    """Split ``sql`` into tokens; raises SqlSyntaxError at an unterminated quote."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(sql):
        match = _TOKEN_RE.match(sql, pos)
        if match is None or (match.lastgroup == "symbol" and match.group() in "'\"`"):
            raise _error(sql, pos, "unterminated quoted string or identifier")
        kind, text = match.lastgroup or "", match.group()
        if kind == "ident":
            tokens.append(Token(kind, text[1:-1].replace("``", "`"), pos))
        elif kind == "string":
            tokens.append(Token(kind, _unescape(text[1:-1]), pos))
        elif kind != "space":
            tokens.append(Token(kind, text, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(sql)))
    return tokens


def _error(
    sql: str, pos: int, message: str, cls: type[SqlSyntaxError] = SqlSyntaxError
) -> Exception:
    line = sql.count("\n", 0, pos) + 1
    column = pos - (sql.rfind("\n", 0, pos) + 1) + 1
    return cls(f"line {line}:{column}: {message}", line, column)


def check_new_name(name: str, kind: str) -> str:
    """A name for something DDL creates: Athena's characters only, then Glue's rules."""
    if not _NEW_NAME_RE.match(name):
        raise InvalidNameError(
            f"invalid {kind} {name!r}: use letters, digits, '_' and '-' "
            "(quote names containing '-' with backquotes)"
        )
    return validate_name(name, kind)


@dataclass(frozen=True)
class TableName:
    """A table reference as written; ``database`` None means the session's database."""

    database: str | None
    name: str

    def resolve(self, default_database: str) -> tuple[str, str]:
        """(database, table) in catalog spelling."""
        database = self.database if self.database is not None else default_database
        return validate_name(database, "database name"), validate_name(self.name, "table name")


class Parser:
    """Cursor over the tokens of one statement, with Hive's small vocabulary."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.tokens = tokenize(sql)
        self.pos = 0

    # --- primitives ---------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def error(self, message: str, token: Token | None = None) -> Exception:
        return _error(self.sql, (token or self.peek()).pos, message)

    def unsupported(self, construct: str, token: Token | None = None) -> Exception:
        message = f"{construct} is not supported by shoal"
        return _error(self.sql, (token or self.peek()).pos, message, UnsupportedSqlError)

    def at(self, *words: str) -> bool:
        """Whether the next tokens are these keywords (case-insensitive)."""
        return all(
            self.peek(i).kind == "word" and self.peek(i).value.upper() == word
            for i, word in enumerate(words)
        )

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.pos += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise self.error(f"expected {' '.join(words)}, found {describe(self.peek())}")

    def accept_symbol(self, symbol: str) -> bool:
        if self.peek().kind == "symbol" and self.peek().value == symbol:
            self.pos += 1
            return True
        return False

    def expect_symbol(self, symbol: str) -> None:
        if not self.accept_symbol(symbol):
            raise self.error(f"expected '{symbol}', found {describe(self.peek())}")

    def end(self) -> None:
        """The statement must end here (one trailing ';' allowed)."""
        self.accept_symbol(";")
        if self.peek().kind != "end":
            raise self.error(f"unexpected {describe(self.peek())}")

    # --- values -------------------------------------------------------------------------

    def identifier(self, what: str) -> str:
        token = self.peek()
        if token.kind not in ("word", "ident") and not _double_quoted(self.sql, token):
            raise self.error(f"expected {what}, found {describe(token)}")
        self.advance()
        return token.value

    def string(self, what: str) -> str:
        token = self.peek()
        if token.kind != "string":
            raise self.error(f"expected {what} as a quoted string, found {describe(token)}")
        self.advance()
        if self.peek().kind == "string":  # Hive would concatenate: 'a''b' means 'ab'
            raise self.error("adjacent string literals; write \\' for a quote inside a string")
        return token.value

    def table_name(self) -> TableName:
        """``t``, ``db.t`` or ``awsdatacatalog.db.t``."""
        start = self.peek()
        parts = [self.identifier("a table name")]
        while self.accept_symbol("."):
            parts.append(self.identifier("a name after '.'"))
        if len(parts) == 3 and parts[0].lower() == DEFAULT_CATALOG:
            parts = parts[1:]
        if len(parts) > 2:
            raise self.error(f"unknown catalog or bad name {'.'.join(parts)!r}", start)
        return TableName(parts[0] if len(parts) == 2 else None, parts[-1])

    def properties(self, what: str) -> dict[str, str]:
        """``('k'='v', …)``; a key given twice is an error."""
        result: dict[str, str] = {}
        self.expect_symbol("(")
        while True:
            token = self.peek()
            key = self.string(f"a {what} name")
            self.expect_symbol("=")
            if key in result:
                raise self.error(f"{what} {key!r} is given twice", token)
            result[key] = self.string(f"the value of {key!r}")
            if not self.accept_symbol(","):
                break
        self.expect_symbol(")")
        return result

    def column_type(self, *stops: str) -> str:
        """A Hive type up to the next top-level ',' ')' COMMENT or one of ``stops``
        (keywords), validated."""
        start, depth, parts = self.peek(), 0, []
        ends = ("COMMENT", *stops)
        while True:
            token = self.peek()
            if token.kind == "end" or (
                depth == 0
                and (
                    (token.kind == "symbol" and token.value in ",)")
                    or any(self.at(word) for word in ends)
                )
            ):
                break
            depth += {"<": 1, "(": 1, ">": -1, ")": -1}.get(token.value, 0)
            parts.append(f"`{token.value}`" if token.kind == "ident" else token.value)
            self.advance()
        try:
            parsed = parse_type("".join(parts))
        except InvalidInputError as exc:
            raise self.error(exc.message, start) from None
        if bad := _unplain_fields(parsed):
            # The catalog spells types without quotes, so such a field could not be read back.
            raise self.unsupported(f"struct field name {bad[0]!r}", start)
        return str(parsed)


def _unplain_fields(hive: HiveType) -> list[str]:
    """Struct field names, at any depth, that are not plain ``[A-Za-z0-9_]`` names."""
    found = [name for name, _ in hive.fields if not re.fullmatch(r"[A-Za-z0-9_]+", name)]
    for child in (*hive.args, *(t for _, t in hive.fields)):
        found += _unplain_fields(child)
    return found


def describe(token: Token) -> str:
    """How an error message names a token."""
    if token.kind == "end":
        return "end of statement"
    return repr(token.value)


def _double_quoted(sql: str, token: Token) -> bool:
    # Athena users coming from Trino write "db"."t"; Hive reads "…" as a string, but in
    # a name position it can only mean a quoted name.
    return token.kind == "string" and sql[token.pos] == '"'


# --- CREATE EXTERNAL TABLE ---------------------------------------------------------------


@dataclass
class CreateTable:
    """``CREATE EXTERNAL TABLE`` as written, before formats are derived."""

    name: TableName
    if_not_exists: bool
    columns: list[Column]
    partition_keys: list[Column] = field(default_factory=list)
    comment: str | None = None
    serde: str | None = None
    serde_parameters: dict[str, str] = field(default_factory=dict)
    delimited: bool = False
    stored_as: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    location: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    bucket_columns: list[str] = field(default_factory=list)
    sort_columns: list[SortColumn] = field(default_factory=list)
    number_of_buckets: int = -1


# ROW FORMAT DELIMITED sub-clauses and the LazySimpleSerDe parameter each sets.
_DELIMITED: dict[tuple[str, ...], str] = {
    ("FIELDS", "TERMINATED", "BY"): "field.delim",
    ("ESCAPED", "BY"): "escape.delim",
    ("COLLECTION", "ITEMS", "TERMINATED", "BY"): "collection.delim",
    ("MAP", "KEYS", "TERMINATED", "BY"): "mapkey.delim",
    ("LINES", "TERMINATED", "BY"): "line.delim",
    ("NULL", "DEFINED", "AS"): "serialization.null.format",
}
# Clauses shoal refuses by name rather than misread.
_REFUSED: dict[tuple[str, ...], str] = {
    ("SKEWED", "BY"): "SKEWED BY",
    ("STORED", "BY"): "STORED BY (storage handlers)",
    ("WITH",): "WITH (…) table properties (Iceberg or CREATE TABLE AS)",
    ("LIKE",): "CREATE TABLE … LIKE",
    ("AS",): "CREATE EXTERNAL TABLE … AS",
}


def parse_create_table(sql: str) -> CreateTable:
    """Parse Athena's ``CREATE EXTERNAL TABLE``; see ``ddl.py`` for what it creates."""
    p = Parser(sql)
    p.expect("CREATE")
    if p.at("TEMPORARY") or p.at("TRANSACTIONAL"):
        raise p.unsupported(f"CREATE {p.peek().value.upper()} TABLE")
    if not p.accept("EXTERNAL"):
        raise UnsupportedSqlError(
            "Only external tables are supported: use CREATE EXTERNAL TABLE for Hive tables "
            "(Iceberg tables, CREATE TABLE … TBLPROPERTIES ('table_type'='ICEBERG'), "
            "are not supported by shoal)"
        )
    p.expect("TABLE")
    if_not_exists = p.accept("IF", "NOT", "EXISTS")
    name = p.table_name()
    check_new_name(name.name, "table name")
    if name.database is not None:
        validate_name(name.database, "database name")
    # No column list: only an Avro table, whose columns its avro.schema.literal gives.
    columns = column_list(p) if p.peek().value == "(" else []
    stmt = CreateTable(name, if_not_exists, columns)
    _clauses(p, stmt)
    p.end()
    return stmt


def column_list(p: Parser, kind: str = "column name") -> list[Column]:
    """``(name type [COMMENT '…'], …)``: new columns, names checked."""
    p.expect_symbol("(")
    columns = []
    while True:
        name = check_new_name(p.identifier(f"a {kind}"), kind)
        type_ = p.column_type()
        comment = p.string("a comment") if p.accept("COMMENT") else None
        columns.append(Column(name, type_, comment))
        if not p.accept_symbol(","):
            break
    p.expect_symbol(")")
    return columns


def _clauses(p: Parser, stmt: CreateTable) -> None:
    seen: set[str] = set()
    while p.peek().kind != "end" and p.peek().value != ";":
        start = p.peek()
        clause = _clause(p, stmt)
        if clause in seen:
            raise p.error(f"{clause} is given twice", start)
        seen.add(clause)


def _clause(p: Parser, stmt: CreateTable) -> str:
    for words, construct in _REFUSED.items():
        if p.at(*words):
            raise p.unsupported(construct)
    handlers: dict[tuple[str, ...], Callable[[Parser, CreateTable], None]] = {
        ("COMMENT",): lambda p, s: setattr(s, "comment", p.string("a comment")),
        ("PARTITIONED", "BY"): lambda p, s: setattr(
            s, "partition_keys", column_list(p, "partition key")
        ),
        ("CLUSTERED", "BY"): _clustered_by,
        ("ROW", "FORMAT"): _row_format,
        ("STORED", "AS"): _stored_as,
        ("LOCATION",): lambda p, s: setattr(s, "location", p.string("a location")),
        ("TBLPROPERTIES",): lambda p, s: setattr(s, "properties", p.properties("table property")),
    }
    for words, handler in handlers.items():
        if p.accept(*words):
            handler(p, stmt)
            return " ".join(words)
    raise p.error(f"unexpected {describe(p.peek())}")


def _clustered_by(p: Parser, stmt: CreateTable) -> None:
    """``CLUSTERED BY (c, …) [SORTED BY (c [ASC|DESC], …)] INTO n BUCKETS``."""
    stmt.bucket_columns = _name_list(p, "a bucket column", lambda name: name)
    if p.accept("SORTED", "BY"):
        stmt.sort_columns = _name_list(p, "a sort column", lambda name: _sort_column(p, name))
    p.expect("INTO")
    token = p.advance()
    if token.kind != "word" or not token.value.isdigit() or int(token.value) < 1:
        raise p.error(f"expected the number of buckets, found {describe(token)}", token)
    stmt.number_of_buckets = int(token.value)
    p.expect("BUCKETS")


def _sort_column(p: Parser, name: str) -> SortColumn:
    if p.accept("DESC"):
        return SortColumn(name, 0)
    p.accept("ASC")
    return SortColumn(name, 1)


_Item = TypeVar("_Item")


def _name_list(p: Parser, what: str, item: Callable[[str], _Item]) -> list[_Item]:
    p.expect_symbol("(")
    items = [item(p.identifier(what).lower())]
    while p.accept_symbol(","):
        items.append(item(p.identifier(what).lower()))
    p.expect_symbol(")")
    return items


def _row_format(p: Parser, stmt: CreateTable) -> None:
    if p.accept("SERDE"):
        stmt.serde = p.string("a SerDe class name")
        if p.accept("WITH", "SERDEPROPERTIES"):
            stmt.serde_parameters = p.properties("SerDe property")
        return
    p.expect("DELIMITED")
    stmt.delimited = True
    params = stmt.serde_parameters
    progress = True
    while progress:
        progress = False
        for words, key in _DELIMITED.items():
            if p.accept(*words):
                params[key] = p.string("a character")
                progress = True
    if "field.delim" in params:  # Hive writes the field delimiter under both names
        params["serialization.format"] = params["field.delim"]


def _stored_as(p: Parser, stmt: CreateTable) -> None:
    if p.accept("INPUTFORMAT"):
        stmt.input_format = p.string("an input format class")
        p.expect("OUTPUTFORMAT")
        stmt.output_format = p.string("an output format class")
        return
    stmt.stored_as = p.identifier("a file format").upper()


# --- from the statement to a catalog Table -------------------------------------------------

_TEXT = (TEXT_INPUT, TEXT_OUTPUT)
_PARQUET = (PARQUET_INPUT, PARQUET_OUTPUT)
# STORED AS <keyword> -> (input format, output format, SerDe when ROW FORMAT is absent)
_STORED_AS: dict[str, tuple[str, str, str]] = {
    "TEXTFILE": (*_TEXT, LAZY_SIMPLE_SERDE),
    "PARQUET": (*_PARQUET, PARQUET_SERDE),
    "PARQUETFILE": (*_PARQUET, PARQUET_SERDE),
    "JSON": (*_TEXT, JSON_SERDE),
    "JSONFILE": (*_TEXT, JSON_SERDE),
    "ORC": (ORC_INPUT, ORC_OUTPUT, ORC_SERDE),
    "AVRO": (AVRO_INPUT, AVRO_OUTPUT, AVRO_SERDE),
}
_UNREADABLE = ("RCFILE", "SEQUENCEFILE", "ION")
# Input format class -> the SerDe used when ROW FORMAT is absent.
_INPUT_FORMATS: dict[str, str] = {
    TEXT_INPUT: LAZY_SIMPLE_SERDE,
    PARQUET_INPUT: PARQUET_SERDE,
    serdes.CLOUDTRAIL_INPUT: serdes.CLOUDTRAIL,
    ORC_INPUT: ORC_SERDE,
    AVRO_INPUT: AVRO_SERDE,
}
# SerDe class -> (classification, input format whose files it reads)
_SERDES: dict[str, tuple[str, str]] = {
    LAZY_SIMPLE_SERDE: ("csv", TEXT_INPUT),
    OPEN_CSV_SERDE: ("csv", TEXT_INPUT),
    JSON_SERDE: ("json", TEXT_INPUT),
    "org.apache.hive.hcatalog.data.JsonSerDe": ("json", TEXT_INPUT),
    "org.apache.hadoop.hive.serde2.JsonSerDe": ("json", TEXT_INPUT),
    PARQUET_SERDE: ("parquet", PARQUET_INPUT),
    serdes.CLOUDTRAIL: ("cloudtrail", serdes.CLOUDTRAIL_INPUT),
    serdes.REGEX: ("regex", TEXT_INPUT),
    serdes.REGEX_CONTRIB: ("regex", TEXT_INPUT),
    serdes.GROK: ("grok", TEXT_INPUT),
    ORC_SERDE: ("orc", ORC_INPUT),
    AVRO_SERDE: ("avro", AVRO_INPUT),
}
# Classifications of tables read as lines of text (skip.header.line.count applies).
_TEXT_TABLES = frozenset({"csv", "json", "regex", "grok"})
# SerDe parameters that must be one character, per SerDe (the reader takes one byte).
_ONE_CHAR: dict[str, tuple[str, ...]] = {
    LAZY_SIMPLE_SERDE: ("field.delim", "escape.delim", "collection.delim", "mapkey.delim"),
    OPEN_CSV_SERDE: ("separatorChar", "quoteChar", "escapeChar"),
}


def hive_location(uri: str) -> str:
    """A table LOCATION as Hive stores it: trailing slashes dropped (Hadoop's Path
    normalizes them away, so Athena answers ``s3://b/t`` for ``'s3://b/t/'``); a
    bucket's root keeps its slash. Raises InvalidInputError for a non-s3 URI."""
    _, key = parse_uri(uri)
    return uri.rstrip("/") if key.strip("/") else uri


def table_from_create(stmt: CreateTable, database: str) -> Table:
    """The catalog Table a parsed ``CREATE EXTERNAL TABLE`` describes.

    The SerDe, input/output formats and the ``classification`` parameter are derived
    together, as ``catalog.formats`` describes crawled tables, so engines read both
    alike. Raises UnsupportedSqlError for formats shoal cannot read and
    InvalidInputError for contradictions (a Parquet SerDe over text files, say).
    """
    if stmt.location is None:
        raise InvalidInputError("CREATE EXTERNAL TABLE needs LOCATION 's3://bucket/folder/'")
    location = hive_location(stmt.location)
    input_format, output_format, default_serde = _container(stmt)
    serde = stmt.serde or default_serde
    if serde not in _SERDES:
        raise UnsupportedSqlError(f"ROW FORMAT SERDE {serde!r} is not supported by shoal")
    classification, reads = _SERDES[serde]
    if serde in serdes.JSON_SERDES and input_format == serdes.CLOUDTRAIL_INPUT:
        # AWS's CloudTrail table: the JSON SerDe over records the input format splits out
        classification, reads = "cloudtrail", input_format
    if reads != input_format:
        raise InvalidInputError(
            f"SerDe {serde!r} cannot read files of input format {input_format!r}"
        )
    parameters = _squashed_literal(_table_parameters(stmt.properties, classification))
    if serde == JSON_SERDE and stmt.stored_as is None and stmt.input_format is None:
        output_format = JSON_OUTPUT  # what Athena records for the OpenX SerDe alone
    serde_parameters = _squashed_literal(_serde_parameters(serde, stmt.serde_parameters))
    storage = StorageDescriptor(
        location=location,
        columns=tuple(_columns(stmt, serde, serde_parameters, parameters)),
        input_format=input_format,
        output_format=output_format,
        compressed=parameters.get("compressionType", "none").lower() not in ("", "none"),
        serde=SerDeInfo(serde, serde_parameters),
        bucket_columns=tuple(stmt.bucket_columns),
        number_of_buckets=stmt.number_of_buckets,
        sort_columns=tuple(stmt.sort_columns),
    )
    return Table(
        database=database,
        name=stmt.name.name,
        storage=storage,
        partition_keys=tuple(stmt.partition_keys),
        table_type=TABLE_TYPE_EXTERNAL,
        parameters=parameters,
        description=_squashed(stmt.comment),
    )


def _columns(
    stmt: CreateTable, serde: str, serde_params: dict[str, str], table_params: dict[str, str]
) -> list[Column]:
    """The declared columns; an Avro table without them takes its schema literal's."""
    literal = serde_params.get(AVRO_SCHEMA_LITERAL) or table_params.get(AVRO_SCHEMA_LITERAL)
    if serde == AVRO_SERDE:
        if "avro.schema.url" in serde_params or "avro.schema.url" in table_params:
            raise UnsupportedSqlError(
                "avro.schema.url is not supported by shoal: give the schema as avro.schema.literal"
            )
        if literal is not None:
            derived = avro_schema.hive_columns(literal)
            return stmt.columns or derived
    if not stmt.columns:
        raise InvalidInputError(
            "CREATE EXTERNAL TABLE needs a column list (only an Avro table may take its "
            "columns from avro.schema.literal)"
        )
    return stmt.columns


def _squashed_literal(params: dict[str, str]) -> dict[str, str]:
    """An ``avro.schema.literal`` as Athena stores it: each run of spaces one space, line
    breaks kept (PyAthena's suite reads an indented literal back so from Athena)."""
    if AVRO_SCHEMA_LITERAL in params:
        params[AVRO_SCHEMA_LITERAL] = re.sub(r"[ \t]+", " ", params[AVRO_SCHEMA_LITERAL])
    return params


def _squashed(comment: str | None) -> str | None:
    """A table COMMENT as Athena stores it: each run of whitespace one space."""
    return None if comment is None else re.sub(r"\s+", " ", comment)


def _container(stmt: CreateTable) -> tuple[str, str, str]:
    """(input format, output format, default SerDe) from STORED AS."""
    if stmt.input_format is not None:
        if stmt.input_format not in _INPUT_FORMATS:
            raise UnsupportedSqlError(
                f"STORED AS INPUTFORMAT {stmt.input_format!r} is not supported by shoal"
            )
        return stmt.input_format, stmt.output_format or "", _INPUT_FORMATS[stmt.input_format]
    stored_as = stmt.stored_as or "TEXTFILE"
    if stored_as in _UNREADABLE:
        raise UnsupportedSqlError(
            f"STORED AS {stored_as} is not supported by shoal (it reads CSV, JSON and Parquet)"
        )
    if stored_as not in _STORED_AS:
        raise InvalidInputError(f"unknown file format STORED AS {stored_as}")
    found = _STORED_AS[stored_as]
    if stmt.delimited and found[2] != LAZY_SIMPLE_SERDE:
        raise InvalidInputError(f"ROW FORMAT DELIMITED does not apply to STORED AS {stored_as}")
    return found


def _hive_byte(text: str) -> str:
    # LazySimpleSerDe's getByte: a number is a byte value ('1' is \x01), else the first
    # character.
    try:
        return chr(int(text) % 256)
    except ValueError:
        return text[:1]


def _serde_parameters(serde: str, given: dict[str, str]) -> dict[str, str]:
    """The SerDe parameters, completed so that readers need no SerDe defaults."""
    params = dict(given)
    if serde == LAZY_SIMPLE_SERDE:
        params.setdefault("field.delim", _hive_byte(params.get("serialization.format", "1")))
        if params.get("line.delim", "\n") != "\n":
            raise UnsupportedSqlError("LINES TERMINATED BY other than '\\n' is not supported")
    elif serde == OPEN_CSV_SERDE:
        params.setdefault("separatorChar", ",")
        params.setdefault("quoteChar", '"')
    elif serde in (PARQUET_SERDE, ORC_SERDE):
        params.setdefault("serialization.format", "1")
    check_serde_parameters(serde, params)
    for key in _ONE_CHAR.get(serde, ()):
        if key in params and len(params[key]) != 1:
            raise UnsupportedSqlError(
                f"{key} {params[key]!r} must be one character (multi-character delimiters "
                "are not supported)"
            )
    encoding = params.get("serialization.encoding", "utf-8").lower().replace("-", "")
    if encoding != "utf8":
        raise UnsupportedSqlError(f"serialization.encoding {encoding!r} (shoal reads UTF-8)")
    return params


def _table_parameters(given: dict[str, str], classification: str) -> dict[str, str]:
    params = dict(given)
    declared = params.get("classification")
    if declared is not None and declared.lower() != classification:
        raise InvalidInputError(
            f"TBLPROPERTIES classification {declared!r} contradicts the table's SerDe, "
            f"which reads {classification}"
        )
    params["classification"] = declared or classification
    if params.get("table_type", "hive").lower() != "hive":
        raise UnsupportedSqlError(f"table_type {params['table_type']!r}")
    header = params.get("skip.header.line.count")
    if header is not None and (not header.isdigit() or classification not in _TEXT_TABLES):
        raise InvalidInputError(
            f"skip.header.line.count {header!r} needs a whole number, on a text table"
        )
    if params.get("skip.footer.line.count", "0") != "0":
        raise UnsupportedSqlError("skip.footer.line.count")
    return params
