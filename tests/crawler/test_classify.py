"""Unit tests for sampling, classification and inference (no catalog needed)."""

from __future__ import annotations

import bz2
import gzip
import io
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from shoal.catalog.types import parse_type
from shoal.crawler.classify import FileSchema, choose_delimiter, classify
from shoal.crawler.infer import (
    arrow_to_hive,
    csv_value_type,
    detect_header,
    json_columns,
    merge_types,
)
from shoal.crawler.listing import excluded_by, ignore_reason
from shoal.crawler.sample import FileSkipped, read_sample
from shoal.crawler.schemas import GroupSchema, incompatibility
from shoal.storage import LocalStorage


@pytest.fixture
def storage(tmp_path):  # type: ignore[no-untyped-def]
    s = LocalStorage(tmp_path)
    s.create_bucket("lake")
    return s


def _classify(storage: LocalStorage, key: str, data: bytes, limit: int = 1 << 20) -> FileSchema:
    info = storage.put("lake", key, data)
    return classify(read_sample(storage, info, limit), info.size)


def _cols(schema: FileSchema) -> list[tuple[str, str]]:
    return [(c.name, str(c.type)) for c in schema.columns]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "unknown"),
        ("true", "boolean"),
        ("FALSE", "boolean"),
        ("42", "bigint"),
        ("-7", "bigint"),
        ("007", "string"),
        ("0", "bigint"),
        ("99999999999999999999", "double"),
        ("2.5", "double"),
        ("1e10", "double"),
        ("2024-01-01", "string"),
        ("2024-01-01 10:00:00", "string"),
        ("abc", "string"),
    ],
)
def test_csv_value_types(value: str, expected: str) -> None:
    assert str(csv_value_type(value)) == expected


def test_merge_types_widens_and_unknown_yields() -> None:
    def m(a: str, b: str) -> str:
        return str(merge_types(parse_type(a), parse_type(b)))

    assert m("bigint", "double") == "double"
    assert m("int", "bigint") == "bigint"
    assert m("float", "int") == "double"
    assert m("boolean", "bigint") == "string"
    assert m("decimal(10,2)", "decimal(5,4)") == "decimal(12,4)"
    assert m("struct<a:bigint>", "struct<b:string>") == "struct<a:bigint,b:string>"
    assert m("array<bigint>", "array<double>") == "array<double>"


@pytest.mark.parametrize(
    ("rows", "header"),
    [
        ([["id", "name"], ["1", "x"]], True),  # Glue rule: string header, typed data
        ([["a", "b"], ["x", "y"], ["z", "w"]], True),  # all strings: distinct names
        ([["x", "y"], ["x", "w"]], False),  # first value repeats in its column
        ([["a", "a"], ["x", "y"]], False),  # duplicate all-string "header"
        ([["1", "2"], ["3", "4"]], False),  # typed first row is data
        ([["hello world!", "b"], ["x", "y"]], False),  # not name-like
        (
            [["id", "id"], ["1", "2"]],
            True,
        ),  # duplicates allowed when the data is typed (names made unique)
        ([["name", "city"]], True),  # header-only file
        ([["1", "x"]], False),
    ],
)
def test_detect_header(rows: list[list[str]], header: bool) -> None:
    assert detect_header(rows) is header


def test_choose_delimiter_prefers_consistent_widest() -> None:
    assert choose_delimiter(["a,b;c", "1,2;3"]) == ","  # both consistent, 2 fields: first wins
    assert choose_delimiter(["a;b;c", "1;2;3"]) == ";"
    assert choose_delimiter(["a\tb,c", "1\t2,3", "4\t5,6,7"]) == "\t"
    assert choose_delimiter(['"a,1"|b', '"c,2"|d']) == "|"


def test_csv_with_header_and_names(storage: LocalStorage) -> None:
    data = "Trip Distance,Éclair,id,id\n1.5,x,1,2\n,y,3,4\n".encode()
    schema = _classify(storage, "t.csv", data)
    assert _cols(schema) == [
        ("trip_distance", "double"),
        ("eclair", "string"),
        ("id", "bigint"),
        ("id_1", "bigint"),
    ]
    fmt = schema.format
    assert (fmt.classification, fmt.delimiter, fmt.header, fmt.quoted) == ("csv", ",", True, False)
    assert (schema.records, schema.estimated_records) == (2, 2)


def test_tsv_quoted_headerless_bom(storage: LocalStorage) -> None:
    schema = _classify(storage, "t.tsv", b'\xef\xbb\xbf"x y"\t1\ttrue\n"z"\t2\tfalse\n')
    assert schema.format.delimiter == "\t" and schema.format.quoted
    assert _cols(schema) == [("col0", "string"), ("col1", "bigint"), ("col2", "boolean")]


def test_compressed_samples(storage: LocalStorage) -> None:
    text = b"a,b\n1,x\n2,y\n"
    for key, data, codec in [
        ("g.csv.gz", gzip.compress(text), "gzip"),
        ("b.csv.bz2", bz2.compress(text), "bzip2"),
        ("z.csv.zst", zstandard.ZstdCompressor().compress(text), "zstd"),
        ("noext", gzip.compress(text), "gzip"),  # magic bytes, not names
    ]:
        schema = _classify(storage, key, data)
        assert schema.format.compression == codec
        assert _cols(schema) == [("a", "bigint"), ("b", "string")]
        assert schema.records == 2


def test_prefix_of_big_file_is_sampled_and_estimated(storage: LocalStorage) -> None:
    body = b"id,v\n" + b"".join(b"%d,%d.5\n" % (10000 + i, i + 10000) for i in range(20000))
    schema = _classify(storage, "big.csv", body, limit=4096)
    assert _cols(schema) == [("id", "bigint"), ("v", "double")]
    assert schema.records < 1000
    assert abs(schema.estimated_records - 20000) < 1000
    gz = gzip.compress(body)  # only a prefix of the stream is read: not "truncated"
    schema = _classify(storage, "big.csv.gz", gz, limit=4096)
    assert schema.format.compression == "gzip"
    assert abs(schema.estimated_records - 20000) < 2000


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("t.csv.gz", gzip.compress(b"a,b\n1,2\n" * 100, mtime=0)[:-30], "truncated gzip"),
        ("t.csv.bz2", bz2.compress(b"a,b\n1,2\n" * 100)[:-10], "truncated bzip2"),
        ("t.csv.zst", zstandard.ZstdCompressor().compress(b"a,b\n1,2\n" * 99)[:-5], "zstd"),
        ("g.parquet", b"this is not parquet at all", "does not start with PAR1"),
        ("t.parquet", b"PAR1" + b"\x00" * 40 + b"PAR1", "Parquet"),
        ("bad.csv", b"a,b\n1,\xff\xfe2\n", "not valid UTF-8"),
        ("u16.csv", "a,b\n1,2\n".encode("utf-16"), "UTF-16"),
        ("one.txt", b"just one column\nof text\n", "no classifier matched"),
        ("p.json", b'{\n  "a": 1\n}\n', "not one JSON object"),
    ],
)
def test_bad_files_are_reported(storage: LocalStorage, key: str, data: bytes, reason: str) -> None:
    with pytest.raises(FileSkipped) as info:
        _classify(storage, key, data)
    assert reason in info.value.reason


def test_json_lines_nested(storage: LocalStorage) -> None:
    lines = [
        b'{"id": 1, "User Name": "a", "tags": ["x"], "geo": {"lat": 1, "Lon": 2.5}}',
        b'{"id": 2, "User Name": null, "tags": [], "geo": {"lat": 1.5}, "extra": true}',
        b"",
    ]
    schema = _classify(storage, "j.json", b"\n".join(lines))
    assert _cols(schema) == [
        ("id", "bigint"),
        ("user_name", "string"),
        ("tags", "array<string>"),
        ("geo", "struct<lat:double,lon:double>"),
        ("extra", "boolean"),
    ]
    assert dict(schema.format.name_mapping) == {"user_name": "User Name"}


def test_json_columns_null_only_stays_unknown() -> None:
    columns, mapping = json_columns([{"a": None}, {"a": None, "b": []}])
    assert [(c.name, str(c.type)) for c in columns] == [("a", "unknown"), ("b", "array<unknown>")]
    assert mapping == {}


def test_parquet_reads_only_the_footer(storage: LocalStorage) -> None:
    table = pa.table(
        {
            "Id": pa.array([1, 2], pa.int32()),
            "amount": pa.array([1, 2], pa.decimal128(10, 2)),
            "tags": pa.array([["a"], []], pa.list_(pa.string())),
            "meta": pa.array([{"k": 1.5}, None], pa.struct([("k", pa.float64())])),
            "m": pa.array([[("a", 1)], []], pa.map_(pa.string(), pa.int64())),
            "ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("us")),
            "d": pa.array([1, 2], pa.date32()),
            "f": pa.array([1.0, 2.0], pa.float32()),
            "b": pa.array([b"x", b"y"]),
            "ok": pa.array([True, False]),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    info = storage.put("lake", "p.parquet", buf.getvalue())
    sample = read_sample(storage, info)
    assert sample.bytes_read < info.size  # magic + footer only
    schema = classify(sample, info.size)
    assert _cols(schema) == [
        ("id", "int"),
        ("amount", "decimal(10,2)"),
        ("tags", "array<string>"),
        ("meta", "struct<k:double>"),
        ("m", "map<string,bigint>"),
        ("ts", "timestamp"),
        ("d", "date"),
        ("f", "float"),
        ("b", "binary"),
        ("ok", "boolean"),
    ]
    assert schema.records == 2


def test_arrow_fallbacks() -> None:
    assert str(arrow_to_hive(pa.time64("us"))) == "string"
    assert str(arrow_to_hive(pa.dictionary(pa.int8(), pa.string()))) == "string"
    assert str(arrow_to_hive(pa.int64())) == "bigint"


def _group(cls: str, cols: list[str], header: bool = True, delim: str = ",") -> GroupSchema:
    from shoal.catalog.formats import DiscoveredFormat
    from shoal.crawler.infer import STRING, InferredColumn

    fmt = DiscoveredFormat(cls, delimiter=delim if cls == "csv" else None, header=header)
    return GroupSchema(fmt, tuple(InferredColumn(c, STRING) for c in cols))


def test_compatibility_rules() -> None:
    assert (
        incompatibility(_group("json", ["a", "b", "c"]), _group("json", ["a", "b", "c", "d"]))
        is None
    )
    assert incompatibility(_group("json", ["a", "b", "c"]), _group("json", ["a", "x", "y"]))
    assert "formats differ" in str(incompatibility(_group("json", ["a"]), _group("csv", ["a"])))
    assert incompatibility(_group("csv", ["a", "b"]), _group("csv", ["a", "b", "c"])) is None
    assert "headers differ" in str(
        incompatibility(_group("csv", ["a", "b"]), _group("csv", ["a", "c"]))
    )
    assert "column counts" in str(
        incompatibility(_group("csv", ["c0", "c1"], False), _group("csv", ["c0"], False))
    )
    assert "delimiters" in str(
        incompatibility(_group("csv", ["a"]), _group("csv", ["a"], delim="\t"))
    )


def test_ignored_names_and_exclusions() -> None:
    assert ignore_reason("x/_SUCCESS")
    assert ignore_reason("x/.hidden.csv")
    assert ignore_reason("x/part.csv.crc")
    assert ignore_reason("x_$folder$")
    assert ignore_reason("_temporary/0/part.csv")
    assert ignore_reason("year=2020/part-0.csv") is None
    assert excluded_by("a/b/c.tmp", ["**.tmp"]) == "**.tmp"
    assert excluded_by("a/b/c.tmp", ["*.tmp"]) is None  # * stays in one segment
    assert excluded_by("c.tmp", ["*.tmp"]) == "*.tmp"
    assert excluded_by("logs/2020/x.csv", ["logs"]) == "logs"  # a folder excludes below it
    assert excluded_by("a/x.json", ["**/*.{json,txt}"]) is not None
    assert excluded_by("a/x.csv", ["**/*.{json,txt}"]) is None
