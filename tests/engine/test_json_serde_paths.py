"""JSON SerDe tables read by DuckDB directly where the files allow it, by Python where
they do not (engine/serdes/json_keys.py): every way a file can fall between the two
gives the rows the SerDe's rules give.

Each test writes records through ``write``, which spells each line's keys one way or
another; the expected rows are the records themselves, as the SerDe's rule (keys
meet columns whatever their case) says they read. Real DuckDB engine, real files.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shoal.catalog.store import CatalogStore
from shoal.crawler.runner import crawl_path
from shoal.engine.base import DataFile, TableFormat, TableScan
from shoal.engine.duckdb import DuckDBEngine, DuckDBQuery
from shoal.engine.scan_cache import ScanSqlCache
from shoal.engine.serdes import HIVE_JSON, OPENX_JSON
from shoal.engine.serdes.json_keys import Spelling, wrong_keys_regex
from shoal.engine.serdes.probe import SAMPLE_LINES, JsonProbe
from shoal.errors import QueryFailedError
from shoal.queries.context import StatementContext
from shoal.queries.runner import StatementRunner
from shoal.storage.s3 import S3Storage

from .helpers import scan

COLUMNS = (
    "id bigint; name string; "
    "who struct<userName:string,accountId:string>; "
    "orders array<struct<itemId:int,qty:int>>; "
    "tags map<string,struct<Value:string>>"
)
# Each key of a record, as the DDL declares it; a line spells it by a style.
DECLARED = {
    "id",
    "name",
    "who",
    "userName",
    "accountId",
    "orders",
    "itemId",
    "qty",
    "tags",
    "Value",
}
STYLES: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "camel": lambda key: key,
    "title": lambda key: key[:1].upper() + key[1:],
}


def record(i: int) -> dict[str, Any]:
    """Row ``i`` as the table returns it (declared names)."""
    return {
        "id": i,
        "name": f"n{i}",
        "who": {"userName": f"user{i % 7}", "accountId": str(100 + i)},
        "orders": [{"itemId": i, "qty": q} for q in range(i % 3)],
        "tags": {f"Env{i % 2}": {"Value": f"v{i}"}},
    }


def spelled(value: Any, style: str) -> Any:
    """``value`` with its declared keys spelled in ``style`` (map keys are data: kept)."""
    if isinstance(value, dict):
        return {
            (STYLES[style](k) if k in DECLARED else k): spelled(v, style) for k, v in value.items()
        }
    if isinstance(value, list):
        return [spelled(v, style) for v in value]
    return value


def line(i: int, style: str = "lower") -> str:
    return json.dumps(spelled(record(i), style))


def write(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def json_scan(files: Sequence[Path], **params: str) -> TableScan:
    fmt = TableFormat("json", serde=OPENX_JSON, serde_parameters=params)
    return scan("t", fmt, COLUMNS, files)


def rows(engine: DuckDBEngine, table: TableScan) -> list[dict[str, Any]]:
    query = 'SELECT * FROM "db"."t" ORDER BY id NULLS LAST'
    found = engine.run(DuckDBQuery(query, (table,))).table.to_pylist()
    for row in found:  # Arrow gives a map as (key, value) pairs
        if isinstance(row.get("tags"), list):
            row["tags"] = dict(row["tags"])
    return found


def null_row() -> dict[str, Any]:
    return dict.fromkeys(record(0))


def probe(table: TableScan) -> Any:
    with duckdb.connect() as con:
        return JsonProbe().fast_path(con, table, str)


@pytest.mark.parametrize("first", ["lower", "camel"])
def test_a_later_line_spelled_otherwise_reads_right(
    engine: DuckDBEngine, root: Path, first: str
) -> None:
    # The sample (the file's first lines) sees one spelling; a line past it has
    # another, at the top level and inside structs, arrays and maps.
    other = "camel" if first == "lower" else "lower"
    count = SAMPLE_LINES + 50
    lines = [line(i, other if i in (SAMPLE_LINES + 10, count - 1) else first) for i in range(count)]
    table = json_scan([write(root / "t.json", lines)])
    expected = [record(i) for i in range(count)]
    assert rows(engine, table) == expected  # the first query checks the file
    assert rows(engine, table) == expected  # later ones know it needs the Python reader
    found = probe(table)
    assert found.checked == frozenset() and found.regular == frozenset({0})


def test_files_of_one_spelling_are_read_directly(engine: DuckDBEngine, root: Path) -> None:
    for style in STYLES:
        table = json_scan([write(root / f"{style}.json", [line(i, style) for i in range(20)])])
        assert probe(table).direct == frozenset({0}), style
        assert rows(engine, table) == [record(i) for i in range(20)], style
    # Files of the four spellings in one table: each read directly, by its own.
    table = json_scan([root / f"{style}.json" for style in STYLES])
    found = probe(table)
    assert found.direct == frozenset(range(4)) and len(found.paths) == 4
    assert rows(engine, table) == sorted(
        (record(i) for i in range(20) for _ in STYLES), key=lambda r: r["id"]
    )


def test_nested_keys_of_mixed_case_in_one_line(engine: DuckDBEngine, root: Path) -> None:
    # Each level spelled its own way within one line.
    mixed = []
    for i in range(6):
        doc = spelled(record(i), "upper")
        doc["WHO"] = spelled(record(i)["who"], "lower")
        doc["ORDERS"] = spelled(record(i)["orders"], "title")
        mixed.append(json.dumps(doc))
    table = json_scan([write(root / "t.json", [line(i) for i in range(6, 9)] + mixed)])
    assert rows(engine, table) == [record(i) for i in range(9)]


MALFORMED = ['{"id": 4', "[1, 2]", "null", '"text"', '{"id": 5} {"id": 6}', "{'id': 7}"]


@pytest.mark.parametrize("style", ["lower", "camel"])
def test_malformed_lines_with_ignore_malformed_json(
    engine: DuckDBEngine, root: Path, style: str
) -> None:
    # A row of NULLs per malformed line; blank lines are no row. A clean file of the
    # same table is read directly next to it.
    good = write(root / "a.json", [line(i, style) for i in range(3)])
    lines = [line(i, style) for i in range(3, 8)] + MALFORMED + ["", "   ", line(8, style)]
    bad = write(root / "b.json", lines)
    table = json_scan([good, bad], **{"ignore.malformed.json": "true"})
    assert probe(table).direct == frozenset({0})
    expected = [record(i) for i in range(9)] + [null_row()] * len(MALFORMED)
    assert rows(engine, table) == expected
    assert rows(engine, table) == expected


@pytest.mark.parametrize("bad_line", MALFORMED)
def test_malformed_lines_fail_the_query_by_default(
    engine: DuckDBEngine, root: Path, bad_line: str
) -> None:
    path = write(root / "t.json", [line(i) for i in range(5)] + [bad_line])
    with pytest.raises(QueryFailedError, match="Row is not a valid JSON Object"):
        rows(engine, json_scan([path]))


def test_keys_equal_once_lower_cased_fail_past_the_sample(engine: DuckDBEngine, root: Path) -> None:
    lines = [line(i) for i in range(SAMPLE_LINES + 5)] + ['{"id": 1, "ID": 2}']
    with pytest.raises(QueryFailedError, match='Duplicate key "id"'):
        rows(engine, json_scan([write(root / "t.json", lines)]))


def test_partitions_of_files_read_each_way(engine: DuckDBEngine, root: Path) -> None:
    # The first file's spelling is camelCase; the second (lower case) fails its check
    # and is read by its own spelling; the third has a malformed line; the fourth
    # mixes spellings. Four files read three ways, one answer each, partitions right.
    mixed = [line(i, "camel" if i % 2 else "lower") for i in range(12, 16)]
    files = [
        (write(root / "p1.json", [line(i, "camel") for i in range(0, 4)]), ("1",)),
        (write(root / "p2.json", [line(i, "lower") for i in range(4, 8)]), ("2",)),
        (write(root / "p3.json", [line(i, "camel") for i in range(8, 12)] + ["oops"]), ("3",)),
        (write(root / "p4.json", mixed), ("4",)),
    ]
    fmt = TableFormat("json", serde=OPENX_JSON, serde_parameters={"ignore.malformed.json": "true"})
    table = scan("t", fmt, COLUMNS, files, partition_keys="part string")
    expected = [{**record(i), "part": str(1 + i // 4)} for i in range(16)]
    assert rows(engine, table) == [*expected, {**null_row(), "part": "3"}]
    found = probe(table)
    assert (found.checked, found.direct) == (frozenset({0, 1, 2}), frozenset({0, 1}))
    # The fourth file's head is half lower case, half camelCase: it joins the second's
    # spelling (its first line's), and its camelCase lines go through Python.
    assert [sorted(p.files or ()) for p in found.paths] == [[], [1, 3]]


def test_a_rewritten_file_is_checked_again(engine: DuckDBEngine, root: Path) -> None:
    path = write(root / "t.json", [line(i) for i in range(10)])
    assert rows(engine, json_scan([path])) == [record(i) for i in range(10)]
    lines = [line(i) for i in range(SAMPLE_LINES + 1)] + [line(999, "upper")]
    write(path, lines)
    os.utime(path, (1, 1))  # another mtime, whatever the clock's resolution
    expected = [record(i) for i in range(SAMPLE_LINES + 1)] + [record(999)]
    assert rows(engine, json_scan([path])) == expected


def test_a_file_without_mtime_is_checked_line_by_line(engine: DuckDBEngine, root: Path) -> None:
    lines = [line(i) for i in range(SAMPLE_LINES + 5)] + [line(500, "title")]
    table = json_scan([write(root / "t.json", lines)])
    unversioned = dataclasses.replace(
        table, files=tuple(DataFile(f.path, f.size) for f in table.files)
    )
    assert probe(unversioned).checked == frozenset()
    expected = [record(i) for i in range(SAMPLE_LINES + 5)] + [record(500)]
    assert rows(engine, unversioned) == expected


def test_keys_spelled_with_escapes_or_the_kelvin_sign(engine: DuckDBEngine, root: Path) -> None:
    # Python lower-cases the decoded key: "\\u0069d" is "id", "\u212a" (KELVIN SIGN)
    # lower-cases to "k"; both spellings reach their column.
    lines = [
        json.dumps({"id": 1, "kind": "a"}),
        '{"\\u0069d": 2, "kind": "b"}',
        json.dumps({"id": 3, "\u212aind": "c"}, ensure_ascii=False),
        json.dumps({"id": 4, "\u212aind": "d"}),  # the sign itself written as an escape
    ]
    fmt = TableFormat("json", serde=HIVE_JSON)
    table = scan("t", fmt, "id bigint; kind string", [write(root / "t.json", lines)])
    assert rows(engine, table) == [
        {"id": 1, "kind": "a"},
        {"id": 2, "kind": "b"},
        {"id": 3, "kind": "c"},
        {"id": 4, "kind": "d"},
    ]


def test_case_insensitive_false_matches_keys_exactly(engine: DuckDBEngine, root: Path) -> None:
    lines = [json.dumps({"id": 1, "Name": "x"}), json.dumps({"ID": 2, "name": "y"})]
    fmt = TableFormat("json", serde=OPENX_JSON, serde_parameters={"case.insensitive": "false"})
    table = scan("t", fmt, "id bigint; name string", [write(root / "t.json", lines)])
    assert probe(table).direct == frozenset({0})
    assert rows(engine, table) == [{"id": 1, "name": None}, {"id": None, "name": "y"}]


def test_values_that_do_not_fit_are_null_on_both_paths(engine: DuckDBEngine, root: Path) -> None:
    # read_json (a clean file) and the line-by-line path (a file with a malformed
    # line) give the same NULLs for values that do not fit their column.
    values = ["1", '"7"', '"abc"', "99999999999999999999", "1.5", "true", "[1]", '{"a": 1}']
    lines = [f'{{"id": {n}, "v": {v}}}' for n, v in enumerate(values)]
    clean = write(root / "clean.json", lines)
    dirty = write(root / "dirty.json", [*lines, "oops"])
    fmt = TableFormat("json", serde=OPENX_JSON, serde_parameters={"ignore.malformed.json": "true"})
    read = {}
    for path in (clean, dirty):
        table = scan("t", fmt, "id int; v int", [path])
        read[path.name] = [r for r in rows(engine, table) if r["id"] is not None]
    expected_v = [1, 7, None, None, 2, 1, None, None]  # DuckDB's casts, as before
    assert [r["v"] for r in read["clean.json"]] == expected_v
    assert read["dirty.json"] == read["clean.json"]


# --- the wrong-keys pattern on its own ------------------------------------------------


def _variants(word: str) -> set[str]:
    """Every upper/lower spelling of ``word``."""
    spellings = {""}
    for char in word:
        spellings = {s + c for s in spellings for c in {char.lower(), char.upper()}}
    return spellings


def test_wrong_keys_regex_matches_every_other_spelling_and_only_those() -> None:
    names = ["id", "userName", "k_1", "x"]
    spelling = Spelling((("id", "ID"), ("username", "userName")))
    pattern = wrong_keys_regex(spelling, names)
    read_as = {n.lower(): spelling.key(n) for n in names}
    keys = sorted({v for n in names for v in _variants(n)} | {"other", "ids", "Xx", "\u212a_1"})
    with duckdb.connect() as con:
        for key in keys:
            text = json.dumps({key: 1}, ensure_ascii=False)
            matched = con.execute("SELECT regexp_matches(?, ?)", [text, pattern]).fetchone()
            # Python's rule: a key meets the name it lower-cases to.
            missed = key.lower() in read_as and key != read_as[key.lower()]
            assert matched == (missed,), key
            spaced = con.execute(
                "SELECT regexp_matches(?, ?)", [text.replace(":", " \t:"), pattern]
            ).fetchone()
            assert spaced == (missed,), key


def test_crawled_tables_mapping_keys_to_their_lower_case_read_directly(
    engine: DuckDBEngine, root: Path
) -> None:
    # The crawler maps each camelCase key to its normalised column
    # ("mapping.accountid" = "accountId"): no renaming when keys meet columns whatever
    # their case. A mapping to another key still renames, line by line.
    lines = [json.dumps({"accountId": str(i), "eventTime": f"t{i}"}) for i in range(3)]
    path = write(root / "t.json", lines)
    crawled = {"mapping.accountid": "accountId", "mapping.eventtime": "eventTime"}
    fmt = TableFormat("json", serde=OPENX_JSON, serde_parameters=crawled)
    table = scan("t", fmt, "accountid string; eventtime string", [path])
    assert probe(table).direct == frozenset({0})
    expected = [{"accountid": str(i), "eventtime": f"t{i}"} for i in range(3)]
    assert engine.run(DuckDBQuery('SELECT * FROM "db"."t"', (table,))).table.to_pylist() == expected
    renamed = {"mapping.accountid": "accountId", "mapping.eventtime": "accountId"}
    fmt = TableFormat("json", serde=OPENX_JSON, serde_parameters=renamed)
    table = scan("t", fmt, "accountid string; eventtime string", [path])
    with pytest.raises(QueryFailedError, match="Duplicate key"):
        engine.run(DuckDBQuery('SELECT * FROM "db"."t"', (table,)))


@pytest.mark.parametrize("style", ["lower", "camel"])
def test_gzipped_files(engine: DuckDBEngine, root: Path, style: str) -> None:
    lines = [line(i, style) for i in range(30)]
    path = root / "t.json.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    table = json_scan([path])
    assert probe(table).direct == frozenset({0})
    assert rows(engine, table) == [record(i) for i in range(30)]


def test_crawled_camel_case_table_on_s3(moto_storage: S3Storage, tmp_path: Path) -> None:
    # A crawled table of camelCase keys read through the Storage interface: the first
    # file clean, the second with a lower-case line past the sample (and past the 1 MiB
    # the crawler reads). Bytes scanned are the files' bytes, whatever the checks read
    # before the query.
    bucket = f"j-{uuid.uuid4().hex[:16]}"
    moto_storage.create_bucket(bucket)
    count = 25_000

    def event(i: int) -> str:
        return json.dumps({"eventName": f"e{i}", "userIdentity": {"userName": f"u{i}"}})

    first = [event(i) for i in range(count)]
    second = [event(i) for i in range(count, 2 * count)]
    second[-1] = json.dumps({"eventname": "last", "useridentity": {"username": "lower"}})
    sizes = 0
    for name, lines in (("a.json", first), ("b.json", second)):
        data = ("\n".join(lines) + "\n").encode()
        sizes += len(data)
        moto_storage.put(bucket, f"events/{name}", data)
    catalog = CatalogStore(f"sqlite:///{tmp_path / 'catalog.db'}")
    crawl_path(catalog, moto_storage, f"s3://{bucket}/", "remote")
    (table,) = catalog.list_tables("remote")
    assert table.storage.serde.parameters["mapping.eventname"] == "eventName"
    engine = DuckDBEngine([], str(tmp_path / "spill"), memory_limit="1GB", storage=moto_storage)
    runner = StatementRunner(catalog, moto_storage, engine)
    try:
        for _ in range(2):  # the first query checks the files, the second knows them
            outcome = runner.run(
                f"SELECT eventname, useridentity.username AS who FROM {table.name}",
                StatementContext(query_id="q1", database="remote"),
            )
            expected = [(f"e{i}", f"u{i}") for i in range(2 * count - 1)] + [("last", "lower")]
            found = [(r["eventname"], r["who"]) for r in outcome.rows.to_pylist()]
            assert sorted(found) == sorted(expected)
            assert outcome.bytes_scanned == sizes
    finally:
        engine.close()
        catalog.close()


def test_a_query_checks_files_up_to_its_budget(engine: DuckDBEngine, root: Path) -> None:
    # Files past the budget (or larger than it) are left to the line-by-line check, so
    # that a LIMIT over a large table does not read it all first.
    files = [write(root / f"{n}.json", [line(i) for i in range(50)]) for n in range(3)]
    table = json_scan(files)
    budget = files[0].stat().st_size + files[1].stat().st_size
    with duckdb.connect() as con:
        found = JsonProbe(check_bytes=budget).fast_path(con, table, str)
        assert found.direct == frozenset({0, 1})
        small = JsonProbe(check_bytes=budget // 3).fast_path(con, table, str)
        assert small.direct == frozenset()
    assert rows(engine, table) == sorted(
        (record(i) for i in range(50) for _ in range(3)), key=lambda r: r["id"]
    )


def test_a_column_named_like_the_readers_file_index(engine: DuckDBEngine, root: Path) -> None:
    # read_json's virtual file_index column would be hidden by the table's own: such a
    # table is read line by line, its partitions still told apart.
    files = [
        (
            write(root / f"{n}.json", [json.dumps({"file_index": n * 10 + i}) for i in range(2)]),
            (str(n),),
        )
        for n in range(2)
    ]
    fmt = TableFormat("json", serde=OPENX_JSON)
    table = scan("t", fmt, "file_index int", files, partition_keys="part string")
    query = 'SELECT * FROM "db"."t" ORDER BY file_index'
    found = engine.run(DuckDBQuery(query, (table,))).table.to_pylist()
    assert found == [
        {"file_index": 0, "part": "0"},
        {"file_index": 1, "part": "0"},
        {"file_index": 10, "part": "1"},
        {"file_index": 11, "part": "1"},
    ]


def test_scan_sql_is_remembered_once_every_file_is_checked(root: Path) -> None:
    # With a budget of one file per query, each query checks the next file; the scan's
    # SQL is remembered only when no file is left to check.
    files = [write(root / f"{n}.json", [line(i) for i in range(20)]) for n in range(3)]
    table = json_scan(files)
    probes = []
    json_probe = JsonProbe(check_bytes=max(f.stat().st_size for f in files))
    with duckdb.connect() as con:

        def probe_json(scanned: TableScan) -> Any:
            probes.append(json_probe.fast_path(con, scanned, str))
            return probes[-1]

        cache = ScanSqlCache(lambda _token, path: path)
        sql = [cache.scan_sql(table, "token", lambda _: None, probe_json) for _ in range(5)]
    assert [sorted(p.direct) for p in probes] == [[0], [0, 1], [0, 1, 2]]
    assert sql[2:] == [sql[2]] * 3 and sql[2].count("READ_JSON") == 1
    assert "REGEXP_MATCHES" not in sql[2] and "REGEXP_MATCHES" in sql[1]


def test_files_spelled_otherwise_are_sampled_a_few_a_query(root: Path) -> None:
    # Two samples a query: the first file's, then one file spelled otherwise; the
    # others wait for the next query, which samples them (the first two remembered).
    files = [write(root / "0.json", [line(i) for i in range(10)])]
    files += [write(root / f"{n}.json", [line(i, "camel") for i in range(10)]) for n in (1, 2, 3)]
    table = json_scan(files)
    json_probe = JsonProbe(samples=2)
    with duckdb.connect() as con:
        first = json_probe.fast_path(con, table, str)
        second = json_probe.fast_path(con, table, str)
    assert (first.direct, first.pending) == (frozenset({0, 1}), True)
    assert (second.direct, second.pending) == (frozenset(range(4)), False)
    assert [sorted(p.files or ()) for p in second.paths] == [[], [1, 2, 3]]
