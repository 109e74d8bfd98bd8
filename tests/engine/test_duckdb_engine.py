"""The DuckDB engine over real files: formats, partitions, drift, bytes, cancellation."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from shoal.engine.base import CancelToken, TableFormat
from shoal.engine.duckdb import DuckDBEngine, DuckDBQuery
from shoal.errors import QueryCancelledError, QueryFailedError

from .helpers import chunk_bytes, query, scan

PARQUET = TableFormat("parquet")
TEXT = TableFormat("csv", delimiter=",")  # LazySimpleSerDe: read line by line


def test_csv_header_quotes_and_empty_fields(engine: DuckDBEngine, root: Path) -> None:
    path = root / "people.csv"
    path.write_text('id,name,note\n1,"Smith, Jo",\n2,,"say ""hi"""\n')
    fmt = TableFormat("csv", quote_char='"', skip_header_lines=1)
    people = scan("people", fmt, "id bigint, name string, note string", [path])
    result = engine.execute(query("SELECT * FROM people ORDER BY id", people))
    assert result.table.to_pylist() == [
        {"id": 1, "name": "Smith, Jo", "note": None},
        {"id": 2, "name": None, "note": 'say "hi"'},
    ]
    assert result.bytes_scanned == path.stat().st_size


def test_gzip_csv_without_quoting(engine: DuckDBEngine, root: Path) -> None:
    path = root / "t.csv.gz"
    path.write_bytes(gzip.compress(b'1|"a"\n2|b\n'))
    fmt = TableFormat("csv", delimiter="|")
    table = scan("t", fmt, "id int, v string", [path])
    rows = engine.execute(query("SELECT v FROM t ORDER BY id", table)).table.to_pylist()
    assert rows == [{"v": '"a"'}, {"v": "b"}]  # no quote char: quotes are data


@pytest.mark.parametrize("compress", [False, True])
def test_a_blank_line_of_a_text_file_is_a_row_of_nulls(
    engine: DuckDBEngine, root: Path, compress: bool
) -> None:
    # Hive's LazySimpleSerDe reads every line, an empty one as a row whose fields are
    # all NULL (a short line pads with NULL); PyAthena's *_na_values tables hold them.
    text = b"true\tfalse\n\nfalse\n\n"
    path = root / ("blank.tsv.gz" if compress else "blank.tsv")
    path.write_bytes(gzip.compress(text) if compress else text)
    table = scan("blank", TableFormat("csv", delimiter="\t"), "a boolean, b boolean", [path])
    rows = engine.execute(query("SELECT a, b FROM blank", table)).table.to_pylist()
    assert [(r["a"], r["b"]) for r in rows] == [
        (True, False),
        (None, None),
        (False, None),
        (None, None),
    ]


def test_text_fields_split_at_the_delimiter_only(engine: DuckDBEngine, root: Path) -> None:
    # No quoting in LazySimpleSerDe: quotes, commas and spaces are data; extra fields
    # are ignored; the NULL text is NULL; a header line is skipped.
    path = root / "plain.txt"
    path.write_text('id|v|w\n1|"a,b"| x \n2|\\N|y|extra\n3\n')
    fmt = TableFormat("csv", delimiter="|", skip_header_lines=1, null_format="\\N")
    table = scan("plain", fmt, "id int, v string, w string", [path])
    rows = engine.execute(query("SELECT * FROM plain", table)).table.to_pylist()
    assert rows == [
        {"id": 1, "v": '"a,b"', "w": " x "},
        {"id": 2, "v": None, "w": "y"},
        {"id": 3, "v": None, "w": None},
    ]


def test_json_lines_with_nested_types(engine: DuckDBEngine, root: Path) -> None:
    path = root / "events.json"
    records = [{"id": 1, "user": {"name": "a", "tags": ["x", "y"]}, "extra": 1}, {"id": 2}]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    cols = "id bigint; user struct<name:string,tags:array<string>>; score double"
    events = scan("events", TableFormat("json"), cols, [path])
    sql = (
        "SELECT id, user.name AS name, element_at(user.tags, 2) AS t2, score "
        "FROM events ORDER BY id"
    )
    rows = engine.execute(query(sql, events)).table.to_pylist()
    assert rows == [
        {"id": 1, "name": "a", "t2": "y", "score": None},
        {"id": 2, "name": None, "t2": None, "score": None},
    ]


def test_partition_columns_come_from_the_plan(engine: DuckDBEngine, root: Path) -> None:
    files = []
    for dt, values in [("2024-01-01", [1, 2]), ("2024-01-02", [3])]:
        path = root / f"p_{dt}.parquet"  # not k=v paths: values come from partition_values
        pq.write_table(pa.table({"v": values}), path)
        files.append((path, (dt, "eu")))
    table = scan("t", PARQUET, "v bigint", files, partition_keys="dt date, region string")
    sql = "SELECT dt, region, sum(v) AS s FROM t GROUP BY dt, region ORDER BY dt"
    rows = engine.execute(query(sql, table)).table.to_pylist()
    assert [(str(r["dt"]), r["region"], r["s"]) for r in rows] == [
        ("2024-01-01", "eu", 3),
        ("2024-01-02", "eu", 3),
    ]


@pytest.mark.parametrize("layout", ["parquet", "parquet with a file_index column", "text"])
def test_each_row_gets_its_own_files_partition_values(
    engine: DuckDBEngine, root: Path, layout: str
) -> None:
    """Many files, planned in an order unrelated to their names or contents: every row
    carries the values of the file it came from (each file holds its own number)."""
    order = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4]
    files = []
    for number in order:
        if layout == "text":
            path = root / f"f{number}.txt"
            path.write_text(f"{number}\n{number}\n")
        else:
            path = root / f"f{number}.parquet"
            data = {"v": [number, number]}
            if layout != "parquet":
                data["file_index"] = [100 + number] * 2  # hides DuckDB's virtual column
            pq.write_table(pa.table(data), path)
        files.append((path, (str(number), f"r{number % 3}")))
    fmt = TEXT if layout == "text" else PARQUET
    table = scan("t", fmt, "v bigint", files, partition_keys="n int, region string")
    sql = "SELECT v, n, region, count(*) AS c FROM t GROUP BY ALL ORDER BY v"
    rows = engine.execute(query(sql, table)).table.to_pylist()
    assert rows == [
        {"v": number, "n": number, "region": f"r{number % 3}", "c": 2} for number in range(10)
    ]


def test_schema_drift_reads_missing_columns_as_null(engine: DuckDBEngine, root: Path) -> None:
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), root / "old.parquet")
    pq.write_table(pa.table({"a": [2]}), root / "new.parquet")
    cols = "a bigint, b string, c double"
    table = scan("t", PARQUET, cols, [root / "old.parquet", root / "new.parquet"])
    rows = engine.execute(query("SELECT * FROM t ORDER BY a", table)).table.to_pylist()
    assert rows == [{"a": 1, "b": "x", "c": None}, {"a": 2, "b": None, "c": None}]


@pytest.mark.parametrize(
    "files",
    [
        # The first file's types are not the others': read by the first file's schema,
        # 2.5 would become 2 (then 2.0) and the text would fail to cast.
        [{"a": pa.array([1], pa.int64())}, {"a": pa.array([2.5], pa.float64())}],
        [{"a": pa.array([1], pa.int32())}, {"a": pa.array([2], pa.int64())}],
        # The same columns in another order, and nested fields that differ.
        [{"a": [1], "b": ["x"]}, {"b": ["y"], "a": [2]}],
        [{"a": [1], "s": [{"x": 1}]}, {"a": [2], "s": [{"y": 2}]}],
        # One schema throughout: read without union_by_name, the same answer.
        [{"a": [1], "b": ["x"]}, {"a": [2], "b": ["y"]}, {"a": [3], "b": [None]}],
    ],
)
def test_files_of_different_schemas_read_as_the_catalog_says(
    engine: DuckDBEngine, root: Path, files: list[dict[str, object]]
) -> None:
    paths = []
    for number, columns in enumerate(files):
        paths.append(root / f"part-{number}.parquet")
        pq.write_table(pa.table(columns), paths[-1])
    table = scan("t", PARQUET, "a double, b string", paths)
    rows = engine.execute(query("SELECT a, b FROM t ORDER BY a", table)).table.to_pylist()
    expected = sorted(
        ({"a": float(pa.table(c)["a"][0].as_py()), "b": _first(c, "b")} for c in files),
        key=lambda row: row["a"],
    )
    assert rows == expected


def _first(columns: dict[str, object], name: str) -> object:
    values = columns.get(name)
    return pa.array(values)[0].as_py() if values is not None else None  # type: ignore[arg-type]


def test_parameters_are_bound(engine: DuckDBEngine, root: Path) -> None:
    pq.write_table(pa.table({"name": ["a'b", "c"]}), root / "n.parquet")
    table = scan("t", PARQUET, "name string", [root / "n.parquet"])
    result = engine.execute(query("SELECT name FROM t WHERE name = ?", table, parameters=["a'b"]))
    assert result.table.to_pylist() == [{"name": "a'b"}]


def test_integer_sums_are_bigint_in_arrow(engine: DuckDBEngine, root: Path) -> None:
    pq.write_table(pa.table({"a": [1, 2]}), root / "a.parquet")
    table = scan("t", PARQUET, "a bigint", [root / "a.parquet"])
    result = engine.execute(query("SELECT sum(a) AS s, count_if(a > 1) AS c FROM t", table))
    assert result.table.schema.field("s").type == pa.int64()
    assert result.table.to_pylist() == [{"s": 3, "c": 1}]


def test_unknown_table_is_refused(engine: DuckDBEngine) -> None:
    with pytest.raises(QueryFailedError, match="not in the query plan"):
        engine.run(DuckDBQuery('SELECT * FROM "db"."missing"'))


def test_bytes_scanned_follow_projection(engine: DuckDBEngine, wide: Path) -> None:
    table = scan("w", PARQUET, "a bigint, b double, s string", [wide])
    one = engine.execute(query("SELECT sum(b) AS t FROM w", table)).bytes_scanned
    everything = engine.execute(query("SELECT * FROM w", table)).bytes_scanned
    expected = chunk_bytes(wide, "b")
    assert abs(one - expected) <= 0.10 * expected, (one, expected)
    assert one < everything * 0.6
    assert everything >= sum(chunk_bytes(wide, c) for c in "abs")
    assert everything <= wide.stat().st_size * 1.1


def test_limit_still_reads(engine: DuckDBEngine, wide: Path) -> None:
    table = scan("w", PARQUET, "a bigint, b double, s string", [wide])
    assert engine.execute(query("SELECT * FROM w LIMIT 1", table)).bytes_scanned > 0


def test_pruned_file_list_reads_less(engine: DuckDBEngine, wide: Path, root: Path) -> None:
    other = root / "other.parquet"
    other.write_bytes(wide.read_bytes())
    both = scan("w", PARQUET, "a bigint, b double, s string", [wide, other])
    one = scan("w", PARQUET, "a bigint, b double, s string", [wide])
    sql = "SELECT count(s) AS n, max(s) AS m FROM w"
    full = engine.execute(query(sql, both))
    pruned = engine.execute(query(sql, one))
    assert full.table.column("n")[0].as_py() == 2 * pruned.table.column("n")[0].as_py()
    assert pruned.bytes_scanned < 0.6 * full.bytes_scanned


def test_empty_plan_returns_no_rows(engine: DuckDBEngine) -> None:
    table = scan("w", PARQUET, "a bigint", [])
    result = engine.execute(query("SELECT a FROM w", table))
    assert result.table.num_rows == 0 and result.bytes_scanned == 0


def _slow_query() -> DuckDBQuery:
    # A 4e10-pair nested loop join: streams, so interrupts land between chunks.
    # (A single huge list, e.g. unnest(range(1e8)), is built in one uninterruptible step.)
    pairs = (
        "SELECT count(*) AS n FROM (SELECT unnest(range(0, 200000)) AS x) a, "
        "(SELECT unnest(range(0, 200000)) AS y) b WHERE (a.x * b.y) % 7 = 3"
    )
    return DuckDBQuery(pairs)


def test_cancel_stops_a_long_query(engine: DuckDBEngine) -> None:
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(QueryCancelledError):
        engine.run(_slow_query(), token)
    assert time.monotonic() - started < 3
    assert engine.run(DuckDBQuery("SELECT 1 AS x")).table.to_pylist() == [{"x": 1}]


def test_a_result_past_what_one_arrow_string_array_holds_comes_in_batches(
    engine: DuckDBEngine,
) -> None:
    # 2.28 * 10^9 bytes of text, past an Arrow string array's 2^31 - 1: fetched as one
    # batch of a million rows it failed ("Arrow Appender: The maximum total string size").
    rows, width = 760_000, 3_000
    sql = f"SELECT repeat('x', {width}) || CAST(n AS VARCHAR) AS s FROM unnest(range({rows})) t(n)"
    column = engine.run(DuckDBQuery(sql)).table.column("s")
    assert len(column) == rows and column.num_chunks > 1
    expected = rows * width + sum(len(str(n)) for n in range(rows))
    assert pc.sum(pc.binary_length(column)).as_py() == expected > 2**31
    assert column[rows - 1].as_py() == "x" * width + str(rows - 1)


def test_time_limit_cancels(engine: DuckDBEngine) -> None:
    started = time.monotonic()
    with pytest.raises(QueryCancelledError, match="timed out"):
        engine.run(_slow_query(), CancelToken(timeout=0.3))
    assert time.monotonic() - started < 3


def test_close_interrupts_running_queries(root: Path, tmp_path: Path) -> None:
    engine = DuckDBEngine([str(root)], str(tmp_path / "spill"))
    failed: list[Exception] = []

    def run() -> None:
        try:
            engine.run(_slow_query())
        except Exception as err:
            failed.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    engine.close()
    thread.join(timeout=10)
    assert time.monotonic() - started < 3
    assert [type(err) for err in failed] == [QueryCancelledError]
    with pytest.raises(QueryCancelledError, match="the engine is closed"):
        engine.run(DuckDBQuery("SELECT 1"))


# The engine's own threads (the read log's truncation after each local read, the
# watcher) and queries still running must not be inside DuckDB when the process
# tears it down: that aborted Python ("terminate called", exit status 134).
_LEFT_OPEN = """
import sys, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from engine.helpers import query, scan
from engine.test_duckdb_engine import PARQUET, _slow_query
from shoal.engine.duckdb import DuckDBEngine

wide, spill = Path(sys.argv[2]), sys.argv[3]
engine = DuckDBEngine([str(wide.parent)], spill)
table = scan("w", PARQUET, "a bigint", [wide])
print(engine.execute(query("SELECT sum(a) AS t FROM w", table)).bytes_scanned > 0)

def run():
    try:
        engine.run(_slow_query())
    except Exception as err:
        print(type(err).__name__)

threading.Thread(target=run, daemon=True).start()
time.sleep(0.5)
"""


def test_an_engine_left_open_ends_with_the_process(wide: Path, tmp_path: Path) -> None:
    tests = str(Path(__file__).resolve().parents[1])
    args = [tests, str(wide), str(tmp_path / "spill")]
    done = subprocess.run(
        [sys.executable, "-c", _LEFT_OPEN, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "QueryCancelledError"]


def test_queries_run_in_parallel_threads(engine: DuckDBEngine, wide: Path) -> None:
    table = scan("w", PARQUET, "a bigint, b double, s string", [wide])
    results: dict[str, object] = {}

    def run(name: str, sql: str) -> None:
        results[name] = engine.execute(query(sql, table))

    threads = [
        threading.Thread(target=run, args=("a", "SELECT sum(a) AS t FROM w")),
        threading.Thread(target=run, args=("b", "SELECT count(DISTINCT s) AS t FROM w")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results["a"].table.to_pylist() == [{"t": sum(range(200_000))}]  # type: ignore[attr-defined]
    assert results["b"].bytes_scanned < results["a"].bytes_scanned * 2  # type: ignore[attr-defined]
    assert abs(results["a"].bytes_scanned - chunk_bytes(wide, "a")) < 0.1 * chunk_bytes(wide, "a")  # type: ignore[attr-defined]


def test_settings_reach_every_query_cursor(engine: DuckDBEngine) -> None:
    # Each query runs on a cursor of its own; session-scoped settings set on the
    # engine's connection would not reach it, so the engine sets them GLOBAL.
    result = engine.run(DuckDBQuery("SELECT 5 / 2 AS x"))  # integer_division
    assert result.table.to_pylist() == [{"x": 2}]
