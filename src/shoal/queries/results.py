"""Result files, exactly as Athena writes them, and paging through results.

Files under the execution's output folder (``s3://bucket/prefix/``):

* ``<id>.csv`` for DML (SELECT, CTAS, INSERT, UNLOAD): a header row, every value in
  double quotes (quotes doubled), NULL as an empty *unquoted* field, ``\\n`` line ends.
* ``<id>.txt`` for DDL and UTILITY statements (SHOW, DESCRIBE, EXPLAIN …): values
  separated by tabs, no header, no quoting.
* ``<id>.csv.metadata`` next to the ``.csv``. Athena's is an undocumented binary
  file that no client reads; shoal writes JSON ``{"ColumnInfo": [...],
  "UpdateCount": n}`` so the result's column types survive without the database.
* ``<id>-manifest.csv`` for CTAS, INSERT and UNLOAD: one ``s3://`` URI per line of
  every data file written; ``DataManifestLocation`` points at it.

Paging (GetQueryResults) reads the Arrow table kept in a bounded LRU cache and
formats only the requested page; after a restart or eviction it reads the result
file back from storage.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from shoal.engine.base import CancelToken
from shoal.errors import InvalidRequestError, QueryCancelledError
from shoal.lru import LruCache
from shoal.queries.model import ColumnInfo, ResultSet
from shoal.queries.values import column_infos, format_column, text_column
from shoal.storage.base import ObjectInfo, Storage, parse_uri

MAX_PAGE = 1000
RESULT_BATCH_ROWS = 65_536  # the most rows formatted at a time when writing a result file
FIRST_BATCH_ROWS = 1_024
# Formatting time a batch aims at: a stop waits for the batch under way. Rows cost from
# ~0.1 µs (integers) to ~8 µs (arrays, formatted in Python) each, so batches are sized
# by how long the last one took, not by a fixed count.
BATCH_SECONDS = 0.05
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
Row = tuple[str | None, ...]


def result_file_uri(output_folder: str, query_id: str, statement_type: str | None) -> str:
    """Where the result of ``query_id`` goes: ``.txt`` for DDL/UTILITY, else ``.csv``."""
    suffix = ".txt" if statement_type in ("DDL", "UTILITY") else ".csv"
    return f"{output_folder.rstrip('/')}/{query_id}{suffix}"


def manifest_uri(output_folder: str, query_id: str) -> str:
    return f"{output_folder.rstrip('/')}/{query_id}-manifest.csv"


# --- encoding -------------------------------------------------------------------------


def _quoted(value: str | None) -> str:
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def csv_bytes(columns: Sequence[ColumnInfo], rows: Sequence[Row]) -> bytes:
    """Athena's result CSV: quoted header, every value quoted, NULL unquoted empty."""
    lines = [",".join(_quoted(c.name) for c in columns)]
    lines.extend(",".join(_quoted(v) for v in row) for row in rows)
    return ("\n".join(lines) + "\n").encode("utf-8")


def txt_bytes(rows: Sequence[Row]) -> bytes:
    """Athena's DDL/UTILITY result: tab-separated values, no header."""
    if not rows:
        return b""
    return ("\n".join("\t".join(v or "" for v in row) for row in rows) + "\n").encode("utf-8")


def metadata_bytes(columns: Sequence[ColumnInfo], update_count: int | None) -> bytes:
    """shoal's ``.csv.metadata``: JSON column info (Athena's own is opaque binary)."""
    document = {"ColumnInfo": [asdict(c) for c in columns], "UpdateCount": update_count}
    return json.dumps(document, indent=1).encode("utf-8")


def table_rows(table: pa.Table, start: int = 0, stop: int | None = None) -> list[Row]:
    """Rows ``[start, stop)`` of ``table`` as Athena text values."""
    piece = table.slice(start, None if stop is None else max(0, stop - start))
    columns = [format_column(piece.column(i)) for i in range(piece.num_columns)]
    return list(zip(*columns, strict=True)) if columns else [() for _ in range(piece.num_rows)]


def parse_csv(data: bytes) -> list[Row]:
    """Read an Athena result CSV back, header included, telling NULL (an unquoted
    empty field) from '' (``""``) — which Python's csv module cannot on 3.11."""
    text = data.decode("utf-8")
    rows: list[Row] = []
    i, n = 0, len(text)
    while i < n:
        row: list[str | None] = []
        while True:
            if text.startswith('"', i):
                value, i = _quoted_field(text, i)
                row.append(value)
            else:
                end = min((p for p in (text.find(",", i), text.find("\n", i)) if p >= 0), default=n)
                row.append(text[i:end] or None)
                i = end
            if i < n and text[i] == ",":
                i += 1
                continue
            i += 1  # the newline
            break
        rows.append(tuple(row))
    return rows


def _quoted_field(text: str, i: int) -> tuple[str, int]:
    parts = []
    i += 1
    while True:
        end = text.find('"', i)
        if end < 0:
            raise InvalidRequestError("result file is not valid CSV: unterminated quote")
        parts.append(text[i:end])
        if text.startswith('"', end + 1):
            parts.append('"')
            i = end + 2
        else:
            return "".join(parts), end + 1


def parse_txt(data: bytes, width: int) -> list[Row]:
    lines = data.decode("utf-8").splitlines()
    return [tuple((line.split("\t") + [""] * width)[:width]) for line in lines]


def table_csv_chunks(
    columns: Sequence[ColumnInfo], table: pa.Table, cancel: CancelToken | None = None
) -> Iterator[bytes]:
    """``csv_bytes`` of an Arrow result, in pieces, formatted and quoted in C.

    Arrow's ``all_valid`` quoting is Athena's: every value quoted, quotes doubled,
    NULL an empty unquoted field. Rows are formatted a batch at a time, each batch a
    piece of about ``BATCH_SECONDS`` of work (at most ``RESULT_BATCH_ROWS`` rows): no
    text column outgrows one Arrow array, a large result is never whole in memory,
    and a stop (``cancel``) is heard between batches.

    Raises:
        QueryCancelledError: ``cancel`` was set before the last batch.
    """
    schema = pa.schema([(c.name, pa.string()) for c in columns])
    sink = io.BytesIO()
    options = pacsv.WriteOptions(quoting_style="all_valid")
    offset, rows = 0, min(FIRST_BATCH_ROWS, RESULT_BATCH_ROWS)
    with pacsv.CSVWriter(sink, schema, write_options=options) as writer:
        while offset < table.num_rows:
            if cancel is not None and cancel.cancelled:
                raise QueryCancelledError(f"query {cancel.reason}")
            started = time.perf_counter()
            piece = table.slice(offset, rows)
            texts = [text_column(piece.column(i)) for i in range(piece.num_columns)]
            writer.write_table(pa.table(texts, schema=schema))
            offset += piece.num_rows
            rows = _next_batch_rows(rows, time.perf_counter() - started)
            yield _drain(sink)
    yield _drain(sink)  # the header of a result without rows


def _next_batch_rows(rows: int, seconds: float) -> int:
    """Rows for the next batch, after ``rows`` took ``seconds``: ``BATCH_SECONDS``
    worth, growing at most fourfold a step (one quick batch may be luck)."""
    fitting = int(rows * BATCH_SECONDS / max(seconds, 1e-6))
    return max(1, min(fitting, rows * 4, RESULT_BATCH_ROWS))


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


def write_result_files(
    storage: Storage,
    output_uri: str,
    result: StoredResult,
    manifest: str | None = None,
    data_files: Sequence[str] = (),
    helpers: Executor | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """Write the result file at ``output_uri`` (``.csv`` + ``.csv.metadata``, or
    ``.txt``) and, when ``manifest`` is given, the manifest of ``data_files``.

    With ``helpers`` the files are stored at the same time: each put waits for its
    own fsync, and those waits overlap. Returns once every file is stored. A stop
    (``cancel``) while the result is being formatted and stored raises
    QueryCancelledError, and leaves none of the files behind.
    """
    bucket, key = parse_uri(output_uri)
    result_file: Iterable[bytes]
    others: list[tuple[str, str, bytes]] = []
    if key.endswith(".txt"):
        result_file = (txt_bytes(result.rows(0, result.row_count)),)
    else:
        if result.table is not None and result.table.num_columns:
            result_file = table_csv_chunks(result.columns, result.table, cancel)
        else:
            result_file = (csv_bytes(result.columns, result.rows(0, result.row_count)),)
        others.append(
            (bucket, key + ".metadata", metadata_bytes(result.columns, result.update_count))
        )
    if manifest is not None:
        manifest_bucket, manifest_key = parse_uri(manifest)
        listing = "".join(f"{uri}\n" for uri in data_files).encode("utf-8")
        others.append((manifest_bucket, manifest_key, listing))
    submit = helpers.submit if helpers is not None else _now
    stored = [submit(storage.put, *file) for file in others]
    try:
        storage.put_chunks(bucket, key, result_file)  # the result file itself, on this thread
    except QueryCancelledError:
        _discard(storage, stored, others)
        raise
    for future in stored:
        future.result()  # raises what the put raised


def delete_result_files(storage: Storage, output_uri: str, manifest: str | None = None) -> None:
    """Delete the files ``write_result_files`` stored for ``output_uri`` and
    ``manifest``; files that are not there are no error."""
    uris = [output_uri] if output_uri.endswith(".txt") else [output_uri, output_uri + ".metadata"]
    if manifest is not None:
        uris.append(manifest)
    for uri in uris:
        storage.delete(*parse_uri(uri))


def _now(function: Callable[..., ObjectInfo], *args: Any) -> Future[ObjectInfo]:
    """``function(*args)`` run here, as a finished future (no helper threads)."""
    future: Future[ObjectInfo] = Future()
    try:
        future.set_result(function(*args))
    except Exception as exc:  # handed to the caller through the future
        future.set_exception(exc)
    return future


def _discard(
    storage: Storage, stored: Sequence[Future[ObjectInfo]], files: Sequence[tuple[str, str, bytes]]
) -> None:
    """Delete the companions of a result file that was never stored."""
    for future, (bucket, key, _) in zip(stored, files, strict=True):
        if future.exception() is None:
            storage.delete(bucket, key)


# --- a result kept for paging ------------------------------------------------------------


@dataclass(frozen=True)
class StoredResult:
    """A finished result: Arrow rows (fresh) or text rows (read back from a file)."""

    columns: tuple[ColumnInfo, ...]
    header: bool  # the first page starts with the column names (DML)
    table: pa.Table | None = None
    text_rows: tuple[Row, ...] | None = None
    update_count: int | None = None

    @classmethod
    def from_table(
        cls, table: pa.Table, header: bool, update_count: int | None, hive: bool = False
    ) -> StoredResult:
        """A result held as Arrow; ``hive``: column types named as Hive DDL's are."""
        columns = column_infos(table.schema, hive)
        return cls(columns, header, table=table, update_count=update_count)

    @property
    def row_count(self) -> int:
        if self.table is not None:
            return int(self.table.num_rows)
        return len(self.text_rows or ())

    @property
    def nbytes(self) -> int:
        if self.table is not None:
            return int(self.table.nbytes)
        return sum(sum(len(v or "") + 8 for v in row) for row in self.text_rows or ())

    def rows(self, start: int, stop: int) -> list[Row]:
        """Data rows ``[start, stop)`` as text."""
        if self.table is not None:
            return table_rows(self.table, start, stop)
        return list((self.text_rows or ())[start:stop])

    def page(self, query_id: str, max_results: int, token: str | None) -> ResultSet:
        """One GetQueryResults page; the header row counts as the first row."""
        offset = decode_token(query_id, token) if token else 0
        head = 1 if self.header else 0
        total = self.row_count + head
        stop = min(offset + max_results, total)
        rows: list[Row] = []
        if head and offset == 0 and stop > 0:
            rows.append(tuple(c.name for c in self.columns))
        rows.extend(self.rows(max(offset - head, 0), max(stop - head, 0)))
        next_token = encode_token(query_id, stop) if stop < total else None
        return ResultSet(self.columns, tuple(rows), next_token, self.update_count)


def encode_token(query_id: str, offset: int) -> str:
    raw = json.dumps({"q": query_id, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(query_id: str, token: str) -> int:
    """The row offset a NextToken stands for; refuses a token of another execution."""
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(document["o"])
        matches = document["q"] == query_id and offset >= 0
    except (ValueError, KeyError, TypeError):
        matches = False
    if not matches:
        raise InvalidRequestError("the NextToken is not valid for this query execution")
    return offset


def load_result(
    storage: Storage, uri: str, columns: Sequence[ColumnInfo], update_count: int | None
) -> StoredResult:
    """Read a result file back from storage (after a restart or cache eviction)."""
    bucket, key = parse_uri(uri)
    data = storage.read(bucket, key)
    if uri.endswith(".txt"):
        return StoredResult(tuple(columns), False, text_rows=tuple(parse_txt(data, len(columns))))
    rows = parse_csv(data)
    return StoredResult(tuple(columns), True, text_rows=tuple(rows[1:]), update_count=update_count)


class ResultCache:
    """Finished results by execution id, least recently used first out, bounded in bytes.

    A result larger than the whole budget is not kept; it is paged from its file.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self._items: LruCache[StoredResult] = LruCache(
            sys.maxsize, max_bytes, lambda result: result.nbytes
        )

    def put(self, query_id: str, result: StoredResult) -> None:
        self._items.put(query_id, result)

    def get(self, query_id: str) -> StoredResult | None:
        return self._items.get(query_id)

    def clear(self) -> None:
        self._items.clear()
