"""Athena's result formats, byte for byte: CSV quoting, value text, ColumnInfo, paging."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from shoal.engine.base import CancelToken
from shoal.errors import InvalidRequestError, QueryCancelledError
from shoal.queries import results
from shoal.queries.model import ColumnInfo
from shoal.queries.results import (
    ResultCache,
    StoredResult,
    csv_bytes,
    parse_csv,
    result_file_uri,
    table_csv_chunks,
    table_rows,
    txt_bytes,
    write_result_files,
)
from shoal.queries.values import column_infos, format_scalar, formatter, text_column
from shoal.storage.local import LocalStorage


def csv_of(
    columns: Sequence[ColumnInfo], table: pa.Table, cancel: CancelToken | None = None
) -> bytes:
    """A result file's bytes, as write_result_files stores them."""
    return b"".join(table_csv_chunks(columns, table, cancel))


TRICKY = pa.table(
    {
        "s": pa.array(['say "hi"', "a,b", "line1\nline2", None, "", "ünï ☃"]),
        "i": pa.array([1, -2, None, 3, 4, 5], pa.int64()),
    }
)


def test_csv_quotes_every_value_and_leaves_null_unquoted() -> None:
    columns = column_infos(TRICKY.schema)
    data = csv_bytes(columns, table_rows(TRICKY))
    assert (
        data
        == (
            '"s","i"\n"say ""hi""","1"\n"a,b","-2"\n"line1\nline2",\n,"3"\n"","4"\n"ünï ☃","5"\n'
        ).encode()
    )
    # Python's csv module (as awswrangler reads it) gives back the same strings.
    parsed = list(csv.reader(io.StringIO(data.decode()), quoting=csv.QUOTE_ALL))
    assert parsed[1:] == [
        ['say "hi"', "1"],
        ["a,b", "-2"],
        ["line1\nline2", ""],
        ["", "3"],
        ["", "4"],
        ["ünï ☃", "5"],
    ]
    # shoal's own reader also tells NULL from the empty string.
    assert parse_csv(data)[1:] == [tuple(r) for r in table_rows(TRICKY)]
    assert parse_csv(data)[3] == ("line1\nline2", None)
    assert parse_csv(data)[4] == (None, "3")
    assert parse_csv(data)[5] == ("", "4")


def test_txt_is_tab_separated_without_header() -> None:
    rows = [("a", "1"), ("b", None)]
    assert txt_bytes(rows) == b"a\t1\nb\t\n"
    assert txt_bytes([]) == b""


@pytest.mark.parametrize(
    ("value", "data_type", "text"),
    [
        (1.5, pa.float64(), "1.5"),
        (2.0, pa.float64(), "2.0"),
        (1e10, pa.float64(), "1.0E10"),
        (1.25e-5, pa.float64(), "1.25E-5"),
        (0.001, pa.float64(), "0.001"),
        (9999999.0, pa.float64(), "9999999.0"),
        (float("nan"), pa.float64(), "NaN"),
        (float("-inf"), pa.float64(), "-Infinity"),
        (0.1, pa.float32(), "0.1"),
        (Decimal("12.50"), pa.decimal128(10, 2), "12.50"),
        (True, pa.bool_(), "true"),
        (datetime(2024, 1, 1, 10, 0), pa.timestamp("us"), "2024-01-01 10:00:00.000"),
        (datetime(2024, 1, 1, 10, 0, 0, 123000), pa.timestamp("ms"), "2024-01-01 10:00:00.123"),
        (datetime(2024, 1, 1, 10, 0, 0, 123456), pa.timestamp("us"), "2024-01-01 10:00:00.123456"),
        (
            datetime(2024, 1, 1, 10, 0, tzinfo=UTC),
            pa.timestamp("us", "UTC"),
            "2024-01-01 10:00:00.000 UTC",
        ),
        (date(2024, 1, 2), pa.date32(), "2024-01-02"),
        (b"hi", pa.binary(), "68 69"),
        (["a", None, "b"], pa.list_(pa.string()), "[a, null, b]"),
        ([("k", 1), ("j", 2)], pa.map_(pa.string(), pa.int64()), "{k=1, j=2}"),
        ({"x": 1, "y": "z"}, pa.struct([("x", pa.int64()), ("y", pa.string())]), "{x=1, y=z}"),
    ],
)
def test_values_render_as_athena_does(value: object, data_type: pa.DataType, text: str) -> None:
    table = pa.table({"c": pa.array([value, None], data_type)})
    assert table_rows(table) == [(text,), (None,)]


def test_column_info_has_base_type_names_and_precision() -> None:
    schema = pa.schema(
        [
            ("v", pa.string()),
            ("n", pa.int32()),
            ("d", pa.decimal128(12, 3)),
            ("a", pa.list_(pa.int64())),
            ("t", pa.timestamp("us")),
            ("r", pa.struct([("x", pa.int64())])),
            ("f", pa.float32()),
            ("b", pa.binary()),
        ]
    )
    infos = column_infos(schema)
    assert [(c.type, c.precision, c.scale) for c in infos] == [
        ("varchar", 2147483647, 0),
        ("integer", 10, 0),
        ("decimal", 12, 3),
        ("array", 0, 0),
        ("timestamp", 3, 0),
        ("row", 0, 0),
        ("float", 17, 0),
        ("varbinary", 1073741824, 0),
    ]
    assert {c.catalog_name for c in infos} == {"hive"}
    assert {c.nullable for c in infos} == {"UNKNOWN"}


def test_pages_count_the_header_and_join_up_to_the_whole_result() -> None:
    table = pa.table({"n": pa.array(range(25), pa.int64())})
    result = StoredResult.from_table(table, header=True, update_count=None)
    first = result.page("q1", 10, None)
    assert first.rows[0] == ("n",) and len(first.rows) == 10
    rows, token = list(first.rows), first.next_token
    while token:
        page = result.page("q1", 10, token)
        rows.extend(page.rows)
        token = page.next_token
    assert rows == [("n",)] + [(str(i),) for i in range(25)]
    with pytest.raises(InvalidRequestError):
        result.page("q2", 10, first.next_token)
    with pytest.raises(InvalidRequestError):
        result.page("q1", 10, "garbage")
    no_header = StoredResult.from_table(table, header=False, update_count=None)
    assert no_header.page("q1", 3, None).rows == (("0",), ("1",), ("2",))


def test_file_names_follow_the_statement_type() -> None:
    assert result_file_uri("s3://b/p/", "id", "DML") == "s3://b/p/id.csv"
    assert result_file_uri("s3://b/p", "id", "DDL") == "s3://b/p/id.txt"
    assert result_file_uri("s3://b/", "id", "UTILITY") == "s3://b/id.txt"


def test_cache_evicts_least_recently_used_within_its_byte_budget() -> None:
    one = StoredResult.from_table(pa.table({"n": pa.array(range(100), pa.int64())}), True, None)
    cache = ResultCache(max_bytes=one.nbytes * 2)
    cache.put("a", one)
    cache.put("b", one)
    assert cache.get("a") is one  # now most recently used
    cache.put("c", one)
    assert cache.get("b") is None and cache.get("a") is one and cache.get("c") is one


def test_format_scalar_for_plain_python_values() -> None:
    assert format_scalar(False) == "false"
    assert format_scalar(Decimal("1E+2")) == "100"
    assert format_scalar(7) == "7"


def test_fast_text_and_csv_paths_equal_value_by_value_formatting() -> None:
    """The C casts and Arrow's CSV writer give what the per-value formatters give."""
    table = pa.table(
        {
            "s": pa.array(['a"b', None, "x,y", "line\nbreak", "ünï", ""]),
            "i": pa.array([1, -2, None, 2**62, 0, 7], pa.int64()),
            "t": pa.array([1, 2, 3, None, 5, 6], pa.int8()),
            "b": pa.array([True, False, None, True, False, True]),
            "d": pa.array([date(2024, 1, 2), None, date(1970, 1, 1)] * 2, pa.date32()),
            "f": pa.array([1.5, 2.0, None, 1e10, 1e-5, -0.25]),
        }
    )
    by_value = []
    for column in table.columns:
        fmt = formatter(column.type)
        by_value.append([None if v is None else fmt(v) for v in column.to_pylist()])
        assert text_column(column).to_pylist() == by_value[-1]
    rows = list(zip(*by_value, strict=True))
    columns = column_infos(table.schema)
    assert csv_of(columns, table) == csv_bytes(columns, rows)


def test_results_are_written_in_batches_and_a_stop_is_heard_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(results, "RESULT_BATCH_ROWS", 3)
    table = pa.table({"n": pa.array(range(10), pa.int64()), "s": ['x,"y'] * 10})
    columns = column_infos(table.schema)
    rows = [(str(n), 'x,"y') for n in range(10)]
    assert csv_of(columns, table) == csv_bytes(columns, rows)  # header once
    assert csv_of(columns, table.slice(0, 0)) == csv_bytes(columns, [])
    stopped = CancelToken()
    stopped.cancel("cancelled by user")
    with pytest.raises(QueryCancelledError, match="cancelled by user"):
        csv_of(columns, table, stopped)


def test_a_stop_while_the_result_is_stored_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(results, "RESULT_BATCH_ROWS", 2)
    storage = LocalStorage(tmp_path / "lake")
    storage.create_bucket("out")
    table = pa.table({"n": pa.array(range(9), pa.int64())})
    result = StoredResult.from_table(table, header=True, update_count=None)
    token = CancelToken()
    chunks = results.table_csv_chunks(result.columns, table, token)
    assert next(chunks).startswith(b'"n"\n"0"\n"1"\n')  # formatted as it is stored
    token.cancel("cancelled by user")
    with pytest.raises(QueryCancelledError, match="cancelled by user"):
        next(chunks)
    with ThreadPoolExecutor(2) as helpers:
        with pytest.raises(QueryCancelledError):
            write_result_files(
                storage, "s3://out/q.csv", result, "s3://out/q-manifest.csv", (), helpers, token
            )
    assert storage.list("out").objects == []  # no .csv, no .csv.metadata, no manifest
    write_result_files(storage, "s3://out/q.csv", result, "s3://out/q-manifest.csv")
    stored = storage.read("out", "q.csv")
    assert stored == csv_bytes(result.columns, [(str(n),) for n in range(9)])
    assert {o.key for o in storage.list("out").objects} == {
        "q.csv",
        "q.csv.metadata",
        "q-manifest.csv",
    }


def test_double_columns_format_as_java_across_magnitudes() -> None:
    rng = random.Random(5)
    values: list[float | None] = [rng.uniform(-1e7, 1e7) for _ in range(2000)]
    values += [10 ** rng.uniform(-12, 20) for _ in range(2000)]
    values += [0.0, -0.0, float("nan"), float("inf"), -float("inf"), 1e7, 1e-3, 2.0, None]
    fmt = formatter(pa.float64())
    expected = [None if v is None else fmt(v) for v in values]
    assert text_column(
        pa.chunked_array([values[:100], values[100:]], pa.float64())
    ).to_pylist() == (expected)
