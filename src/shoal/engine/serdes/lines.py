"""The lines of a SerDe table's files, as DuckDB's CSV reader gives them, and the
columns every step of a line reader's SELECT carries along.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp

from shoal.engine.base import TableFormat

READER_INDEX = "file_index"  # DuckDB's virtual column: the row's file, by list position
LINE = "__shoal_line"
# A CloudTrail file is one line (a few MB at most). DuckDB's buffer is by default 16
# lines long, so it is set to one line: each scan thread holds one such buffer.
MAX_LINE_BYTES = 32 * 1024 * 1024


def read_lines(
    urls: Sequence[str], fmt: TableFormat, file_column: str, line_bytes: int = MAX_LINE_BYTES
) -> exp.Anonymous:
    """DuckDB's CSV reader over the files with no delimiter: one text field a line
    (``LINE``, NULL for a blank line), lines up to ``line_bytes`` long."""
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
        "max_line_size": exp.Literal.number(line_bytes),
        "buffer_size": exp.Literal.number(line_bytes),
        "compression": exp.Literal.string(compression(fmt)),
        "filename": exp.Literal.string(file_column),
    }
    return exp.Anonymous(this="read_csv", expressions=[url_list(urls), *_options(options)])


def url_list(urls: Sequence[str]) -> exp.Array:
    return exp.Array(expressions=[exp.Literal.string(u) for u in urls])


def _options(options: Mapping[str, exp.Expr]) -> list[exp.Expr]:
    return [exp.EQ(this=exp.column(k), expression=v) for k, v in options.items()]


def compression(fmt: TableFormat, auto: str = "auto") -> str:
    """The reader's ``compression`` option (``auto``: by file name)."""
    known = {"gzip": "gzip", "gz": "gzip", "zstd": "zstd", "none": "none"}
    return known.get((fmt.compression or "").lower(), auto)


class Carried:
    """The file columns every step of a SerDe's SELECT passes on: the file's name and
    its position in the scan's file list (``positions``: the scan's position of each
    file the reader reads, when it reads only some)."""

    def __init__(
        self, file_column: str, index_column: str, positions: Sequence[int] | None = None
    ) -> None:
        self.file_column = file_column
        self.index_column = index_column
        self.positions = positions

    def first(self, table: str = "r") -> list[exp.Expr]:
        """From the reader (``table``): its file name and its virtual ``file_index``."""
        index: exp.Expr = col(READER_INDEX, table)
        if self.positions is not None:
            position_1 = exp.Add(this=exp.cast(index, "BIGINT"), expression=exp.Literal.number(1))
            positions = exp.Array(expressions=[exp.Literal.number(p) for p in self.positions])
            index = exp.Anonymous(this="list_extract", expressions=[positions, position_1])
        return [col(self.file_column, table), exp.alias_(index, self.index_column, quoted=True)]

    def columns(self, table: str | None = None) -> list[exp.Expr]:
        return [col(self.file_column, table), col(self.index_column, table)]


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def alias(name: str) -> exp.TableAlias:
    return exp.TableAlias(this=exp.to_identifier(name, quoted=True))
