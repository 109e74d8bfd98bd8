"""ORC and Avro tables, and bucketed writes, on real files, storage, catalog and DuckDB.

Data files are written here by pyarrow (ORC) and fastavro (Avro) and read back
independently of shoal; expected rows and bucket numbers are computed in the test.
"""

from __future__ import annotations

import io
import json
import re
import struct
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from shoal.catalog.model import SortColumn
from shoal.crawler.runner import crawl_path
from shoal.errors import BytesScannedCutoffError, InvalidInputError, UnsupportedSqlError

from .conftest import Lake

AVRO_SERDE = "org.apache.hadoop.hive.serde2.avro.AvroSerDe"


def _orc_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    orc.write_table(table, sink)
    return sink.getvalue()


def _avro_bytes(schema: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    fastavro.writer(sink, schema, records)
    return sink.getvalue()


def _sorted(rows: list[dict[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r[key])


# --- ORC -------------------------------------------------------------------------------


def test_orc_table_reads_partitions_by_name_and_charges_the_files(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.storage.create_bucket("lake")
    first = pa.table(
        {
            "ID": pa.array([1, 2, 3], pa.int64()),
            "name": ["a", None, "c"],
            "tags": pa.array([[1, 2], [], None], pa.list_(pa.int32())),
            "price": pa.array([Decimal("1.50"), None, Decimal("-2.25")], pa.decimal128(10, 2)),
        }
    )
    # A later file: columns in another order, one of them missing.
    second = pa.table({"name": ["d"], "id": pa.array([4], pa.int64())})
    files = {"sales/dt=2024-01-01/a.orc": first, "sales/dt=2024-01-02/b.orc": second}
    sizes = 0
    for key, table in files.items():
        data = _orc_bytes(table)
        sizes += len(data)
        lake.storage.put("lake", key, data)
    lake.run(
        "CREATE EXTERNAL TABLE sales (id bigint, name string, tags array<int>, "
        "price decimal(10,2)) PARTITIONED BY (dt string) STORED AS ORC "
        "LOCATION 's3://lake/sales/' TBLPROPERTIES ('orc.compress'='ZLIB')"
    )
    lake.run("MSCK REPAIR TABLE sales")
    expected = []
    for key, table in files.items():
        day = key.split("dt=")[1].split("/")[0]
        for row in table.to_pylist():
            row = {k.lower(): v for k, v in row.items()}
            expected.append(
                {
                    "id": row["id"],
                    "name": row["name"],
                    "tags": row.get("tags"),
                    "price": row.get("price"),
                    "dt": day,
                }
            )
    outcome = lake.run("SELECT * FROM sales")
    assert _sorted(outcome.rows.to_pylist()) == _sorted(expected)
    assert outcome.bytes_scanned == sizes
    pruned = lake.run("SELECT id FROM sales WHERE dt = '2024-01-02'")
    assert pruned.rows.to_pylist() == [{"id": 4}]
    assert pruned.bytes_scanned == len(_orc_bytes(second))
    table = lake.catalog.get_table("sample", "sales")
    assert table.storage.serde.serialization_library == "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
    assert table.storage.input_format == "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"
    assert table.parameters["orc.compress"] == "ZLIB"


def test_orc_bytes_cutoff_and_corrupt_file(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.storage.create_bucket("lake")
    data = _orc_bytes(pa.table({"a": list(range(1000))}))
    lake.storage.put("lake", "o/a.orc", data)
    lake.run("CREATE EXTERNAL TABLE o (a bigint) STORED AS ORC LOCATION 's3://lake/o/'")
    assert lake.rows("SELECT sum(a) AS s FROM o") == [{"s": sum(range(1000))}]
    with pytest.raises(BytesScannedCutoffError):
        lake.run("SELECT sum(a) FROM o", bytes_scanned_cutoff=len(data) - 1)
    lake.storage.put("lake", "o/b.orc", b"ORC but not really")
    with pytest.raises(Exception, match="cannot read ORC file .*b.orc"):
        lake.run("SELECT count(*) FROM o")


def test_orc_crawled_as_glue_classifies_it(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.storage.create_bucket("lake")
    rows = {2023: [{"id": 1, "City": "x"}], 2024: [{"id": 2, "City": "y"}, {"id": 3, "City": None}]}
    for year, records in rows.items():
        table = pa.Table.from_pylist(
            records, pa.schema([("id", pa.int64()), ("City", pa.string())])
        )
        lake.storage.put("lake", f"events/year={year}/part.orc", _orc_bytes(table))
    run = crawl_path(lake.catalog, lake.storage, "s3://lake/events/", "sample")
    assert run.state == "SUCCEEDED"
    table = lake.catalog.get_table("sample", "events")
    assert table.parameters["classification"] == "orc"
    assert table.parameters["recordCount"] == "3"
    assert [(c.name, c.type) for c in table.columns] == [("id", "bigint"), ("city", "string")]
    got = lake.rows("SELECT id, city, year FROM events")
    expected = [
        {"id": r["id"], "city": r["City"], "year": str(y)} for y, rs in rows.items() for r in rs
    ]
    assert _sorted(got) == _sorted(expected)


# --- Avro ------------------------------------------------------------------------------

EVENT_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "event",
    "namespace": "default",
    "fields": [
        {"name": "Id", "type": "long"},
        {"name": "kind", "type": ["null", "string"], "default": None},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "scores", "type": {"type": "array", "items": "double"}},
        {"name": "attrs", "type": {"type": "map", "values": "string"}},
        {
            "name": "origin",
            "type": {
                "type": "record",
                "name": "origin",
                "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "int"}],
            },
        },
    ],
}
EVENTS = [
    {
        "Id": 1,
        "kind": "click",
        "day": date(2024, 5, 1),
        "scores": [0.5, 1.5],
        "attrs": {"k": "v"},
        "origin": {"x": 1, "y": 2},
    },
    {
        "Id": 2,
        "kind": None,
        "day": date(2024, 5, 2),
        "scores": [],
        "attrs": {},
        "origin": {"x": -1, "y": 0},
    },
]


def _expected_events() -> list[dict[str, Any]]:
    return [
        {
            "id": e["Id"],
            "kind": e["kind"],
            "day": e["day"],
            "scores": e["scores"],
            "attrs": list(e["attrs"].items()),
            "origin": e["origin"],
        }
        for e in EVENTS
    ]


def _as_lists(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # pyarrow renders a map as a list of (key, value) pairs.
    return [{**r, "attrs": [tuple(p) for p in r["attrs"]]} for r in rows]


@pytest.mark.parametrize("where", ["SERDEPROPERTIES", "TBLPROPERTIES"])
def test_avro_table_takes_its_columns_from_the_schema_literal(fresh_lake: Lake, where: str) -> None:
    lake = fresh_lake
    lake.storage.create_bucket("lake")
    data = _avro_bytes(EVENT_SCHEMA, EVENTS)
    lake.storage.put("lake", "events/one.avro", data)
    literal = json.dumps(EVENT_SCHEMA, indent=4)
    serde = f"ROW FORMAT SERDE '{AVRO_SERDE}'"
    if where == "SERDEPROPERTIES":
        clauses = f"{serde} WITH SERDEPROPERTIES ('avro.schema.literal'='{literal}') STORED AS AVRO"
        tail = ""
    else:
        clauses = "STORED AS AVRO"
        tail = f" TBLPROPERTIES ('avro.schema.literal'='{literal}')"
    lake.run(f"CREATE EXTERNAL TABLE events {clauses} LOCATION 's3://lake/events/'{tail}")
    table = lake.catalog.get_table("sample", "events")
    stored = {**table.parameters, **table.storage.serde.parameters}["avro.schema.literal"]
    assert stored == re.sub("[ ]+", " ", literal)  # as Athena keeps it: blanks squashed
    assert [(c.name, c.type) for c in table.columns] == [
        ("id", "bigint"),
        ("kind", "string"),
        ("day", "date"),
        ("scores", "array<double>"),
        ("attrs", "map<string,string>"),
        ("origin", "struct<x:int,y:int>"),
    ]
    assert (
        table.storage.input_format == "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat"
    )
    outcome = lake.run("SELECT * FROM events ORDER BY id")
    assert _as_lists(outcome.rows.to_pylist()) == _as_lists(_expected_events())
    assert 0 < outcome.bytes_scanned <= len(data)


def test_avro_table_with_declared_columns_reads_missing_ones_as_null(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.storage.create_bucket("lake")
    schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    lake.storage.put("lake", "t/f.avro", _avro_bytes(schema, [{"a": 7}, {"a": 8}]))
    lake.run("CREATE EXTERNAL TABLE t (a bigint, b string) STORED AS AVRO LOCATION 's3://lake/t/'")
    assert lake.rows("SELECT a, b FROM t ORDER BY a") == [{"a": 7, "b": None}, {"a": 8, "b": None}]


# --- CTAS / INSERT in ORC and Avro ------------------------------------------------------

SOURCE = (
    "SELECT x AS id, CAST(x AS varchar) || '-s' AS s, x * 0.5 AS d, "
    "date_add('day', x, DATE '2024-01-01') AS day, x % 3 AS p "
    "FROM UNNEST(sequence(1, 30)) AS t(x)"
)


def _day(offset: int) -> date:
    return date.fromordinal(date(2024, 1, 1).toordinal() + offset)


def _source_rows() -> list[dict[str, Any]]:
    return [
        {"id": x, "s": f"{x}-s", "d": x * 0.5, "day": _day(x), "p": x % 3} for x in range(1, 31)
    ]


def _read_file(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".orc":
        return orc.read_table(path).to_pylist()
    with path.open("rb") as handle:
        return list(fastavro.reader(handle))


@pytest.mark.parametrize("fmt", ["ORC", "AVRO"])
def test_ctas_and_insert_write_the_format(fresh_lake: Lake, fmt: str) -> None:
    lake = fresh_lake
    lake.run(
        f"CREATE TABLE w WITH (format = '{fmt}', partitioned_by = ARRAY['p'], "
        f"external_location = 's3://results/w/') AS {SOURCE}"
    )
    expected = _source_rows()
    assert _sorted(lake.rows("SELECT * FROM w")) == expected
    files = sorted(lake.path("results", "w").rglob("*.*"))
    assert {f.suffix for f in files} == {f".{fmt.lower()}"}
    # Read back by pyarrow / fastavro, not by shoal: each file holds its partition's rows.
    for file in files:
        p = int(file.parent.name.split("=")[1])
        wanted = [{k: v for k, v in r.items() if k != "p"} for r in expected if r["p"] == p]
        assert _sorted(_read_file(file)) == wanted
    table = lake.catalog.get_table("sample", "w")
    assert table.parameters["classification"] == fmt.lower()
    lake.run("INSERT INTO w VALUES (100, 'x', 1.0, DATE '2025-01-01', 1)", query_id="q2")
    assert lake.rows("SELECT id, s FROM w WHERE id = 100") == [{"id": 100, "s": "x"}]


def test_ctas_refuses_a_codec_the_format_lacks(fresh_lake: Lake) -> None:
    with pytest.raises(UnsupportedSqlError, match="compression 'GZIP' for orc"):
        fresh_lake.run(
            "CREATE TABLE t WITH (format='ORC', write_compression='GZIP') AS SELECT 1 AS a"
        )


# --- bucketing --------------------------------------------------------------------------


def _java_int(value: int) -> int:
    """Java's 32-bit int of ``value`` (two's complement wrap), via struct."""
    return struct.unpack("<i", struct.pack("<I", value & 0xFFFFFFFF))[0]


def _expected_bucket(values: list[Any], types: list[str], count: int) -> int:
    """Hive bucketing version 1 (Trino's HiveBucketingV1), written out independently."""
    total = 0
    for value, type_ in zip(values, types, strict=True):
        if value is None:
            h = 0
        elif type_ == "bigint":
            unsigned = value & 0xFFFFFFFFFFFFFFFF
            h = _java_int((unsigned >> 32) ^ unsigned)
        elif type_ == "string":
            h = 0
            for signed in struct.unpack(f"{len(value.encode())}b", value.encode()):
                h = _java_int(h * 31 + signed)
        elif type_ == "double":
            (bits,) = struct.unpack("<Q", struct.pack("<d", value))
            h = _java_int((bits >> 32) ^ bits)
        else:
            raise AssertionError(type_)
        total = _java_int(total * 31 + h)
    return (total & 0x7FFFFFFF) % count


def test_known_hive_bucket_hashes() -> None:
    # Java: "ab".hashCode() == 3105 (ASCII bytes hash as chars do); an int buckets by
    # value; Long.hashCode(-1L) == 0.
    from shoal.queries.bucketing import row_hash

    assert row_hash(["ab"], ["string"]) == 3105
    assert row_hash([7], ["int"]) == 7
    assert row_hash([-1], ["bigint"]) == 0
    assert row_hash([1 << 40], ["bigint"]) == 256
    assert row_hash([None, 5], ["string", "int"]) == 5
    assert row_hash([date(1970, 1, 11)], ["date"]) == 10


BUCKET_SOURCE = (
    "SELECT k, s, v, p FROM (VALUES "
    "(BIGINT '-1', 'ab', 1.5, 'x'), (BIGINT '1099511627776', 'héllo', -0.25, 'x'), "
    "(BIGINT '42', NULL, 2.0, 'x'), (BIGINT '7', 'zz', 3.5, 'y'), "
    "(BIGINT '-9223372036854775808', 'ünïcode', 0.0, 'y'), (NULL, 'n', 1.0, 'y'), "
    "(BIGINT '123456789', 'abc', 9.75, 'x'), (BIGINT '5', 'q', 1.25, 'y')"
    ") AS t(k, s, v, p)"
)


def test_ctas_bucketed_by_puts_each_row_in_its_hive_bucket(fresh_lake: Lake) -> None:
    lake = fresh_lake
    count = 5
    lake.run(
        "CREATE TABLE b WITH (format = 'PARQUET', bucketed_by = ARRAY['k', 's'], "
        f"bucket_count = {count}, partitioned_by = ARRAY['p'], "
        f"external_location = 's3://results/b/') AS {BUCKET_SOURCE}",
        query_id="qbucket",
    )
    table = lake.catalog.get_table("sample", "b")
    assert table.storage.bucket_columns == ("k", "s")
    assert table.storage.number_of_buckets == count
    files = sorted(lake.path("results", "b").rglob("*.parquet"))
    seen = 0
    for file in files:
        match = re.fullmatch(r"0(\d{5})_0_qbucket\.parquet", file.name)
        assert match is not None, file.name
        bucket = int(match[1])
        rows = pq.read_table(file).to_pylist()
        assert rows
        for row in rows:
            assert _expected_bucket([row["k"], row["s"]], ["bigint", "string"], count) == bucket
        seen += len(rows)
    assert seen == 8
    assert len(lake.rows("SELECT * FROM b")) == 8
    assert lake.rows("SELECT count(*) AS n FROM b WHERE p = 'y'") == [{"n": 4}]


def test_bucketed_table_inserts_only_new_partitions(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.run(
        "CREATE TABLE b WITH (bucketed_by = ARRAY['k'], bucket_count = 3, "
        f"partitioned_by = ARRAY['p'], external_location = 's3://results/b/') AS {BUCKET_SOURCE}"
    )
    with pytest.raises(InvalidInputError, match="existing partition of bucketed"):
        lake.run("INSERT INTO b VALUES (1, 'a', 1.0, 'x')", query_id="q2")
    lake.run("INSERT INTO b VALUES (1, 'a', 1.0, 'z'), (2, 'b', 2.0, 'z')", query_id="q3")
    names = sorted(f.name for f in lake.path("results", "b/p=z").iterdir())
    expected = sorted({f"0{_expected_bucket([k], ['bigint'], 3):05d}_0_q3.parquet" for k in (1, 2)})
    assert names == expected
    lake.run(
        "CREATE TABLE u WITH (bucketed_by = ARRAY['k'], bucket_count = 2, "
        "external_location = 's3://results/u/') AS SELECT 1 AS k",
        query_id="q4",
    )
    with pytest.raises(InvalidInputError, match="bucketed unpartitioned"):
        lake.run("INSERT INTO u VALUES (2)", query_id="q5")


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("bucketed_by = ARRAY['k']", "together"),
        ("bucket_count = 3", "together"),
        ("bucketed_by = ARRAY['k'], bucket_count = 0", "between 1"),
        ("bucketed_by = ARRAY['nope'], bucket_count = 2", r"\['nope'\] not present"),
        ("bucketed_by = ARRAY['p'], bucket_count = 2, partitioned_by = ARRAY['p']", "not present"),
        ("bucketed_by = ARRAY['d'], bucket_count = 2", "Cannot bucket on column 'd'"),
    ],
)
def test_bad_bucketing_changes_nothing(fresh_lake: Lake, properties: str, message: str) -> None:
    lake = fresh_lake
    with pytest.raises(InvalidInputError, match=message):
        lake.run(
            f"CREATE TABLE t WITH ({properties}, external_location = 's3://results/t/') "
            "AS SELECT 1 AS k, DECIMAL '1.5' AS d, 'x' AS p"
        )
    assert not lake.path("results", "t").exists() or not any(lake.path("results", "t").rglob("*"))
    assert "t" not in [t.name for t in lake.catalog.list_tables("sample")]


def test_create_external_table_clustered_by(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.run(
        "CREATE EXTERNAL TABLE c (id bigint, name string, ts timestamp) PARTITIONED BY (dt string) "
        "CLUSTERED BY (ID, name) SORTED BY (id DESC, name) INTO 8 BUCKETS "
        "STORED AS PARQUET LOCATION 's3://results/c/' TBLPROPERTIES ('parquet.compress'='SNAPPY')"
    )
    sd = lake.catalog.get_table("sample", "c").storage
    assert sd.bucket_columns == ("id", "name")
    assert sd.number_of_buckets == 8
    assert sd.sort_columns == (SortColumn("id", 0), SortColumn("name", 1))
    lines = [r["createtab_stmt"] for r in lake.rows("SHOW CREATE TABLE c")]
    start = lines.index("CLUSTERED BY ( ")
    assert lines[start : start + 6] == [
        "CLUSTERED BY ( ",
        "  `id`, ",
        "  `name`)",
        "SORTED BY ( ",
        "  `id` DESC, ",
        "  `name` ASC)",
    ]
    assert lines[start + 6] == "INTO 8 BUCKETS"
