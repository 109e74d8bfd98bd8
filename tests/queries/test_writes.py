"""CTAS, INSERT INTO and UNLOAD: files written, tables registered, answers kept."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from shoal.errors import InvalidInputError, TargetNotEmptyError, UnsupportedSqlError
from shoal.queries.context import LocationAccess, TableAccess

from .conftest import Lake


def zones_csv(lake: Lake) -> list[dict[str, str]]:
    with lake.path("samples", "zones/zones.csv").open() as f:
        return list(csv.DictReader(f))


def test_csv_to_parquet_ctas_partitioned_by_a_column(fresh_lake: Lake) -> None:
    lake = fresh_lake
    outcome = lake.run(
        "CREATE TABLE zones_parquet WITH (format = 'PARQUET', write_compression = 'SNAPPY', "
        "external_location = 's3://results/zones_parquet/', partitioned_by = ARRAY['borough']) "
        "AS SELECT locationid, zone, service_zone, borough FROM zones"
    )
    source = zones_csv(lake)
    assert outcome.update_count == len(source)
    boroughs = Counter(r["Borough"] for r in source)
    assert len(outcome.data_files) == len(boroughs)
    assert all(f.startswith("s3://results/zones_parquet/borough=") for f in outcome.data_files)
    assert LocationAccess("s3://results/zones_parquet/") in outcome.accesses
    assert TableAccess("sample", "zones_parquet", "write") in outcome.accesses
    # The files are real Parquet, readable without shoal.
    folder = lake.root / "results" / "zones_parquet" / "borough=Manhattan"
    written = pq.read_table(next(folder.glob("*.parquet")))
    assert written.column_names == ["locationid", "zone", "service_zone"]
    assert written.num_rows == boroughs["Manhattan"]
    table = lake.catalog.get_table("sample", "zones_parquet")
    assert [k.name for k in table.partition_keys] == ["borough"]
    assert table.classification == "parquet"
    rows = lake.rows(
        "SELECT borough, count(*) AS n, min(zone) AS z FROM zones_parquet GROUP BY 1 ORDER BY 1"
    )
    assert [(r["borough"], r["n"]) for r in rows] == sorted(boroughs.items())
    pruned = lake.run("SELECT zone FROM zones_parquet WHERE borough = 'Queens' ORDER BY zone")
    expected = sorted(r["Zone"] for r in source if r["Borough"] == "Queens")
    assert pruned.rows.column("zone").to_pylist() == expected


def test_ctas_refuses_a_non_empty_location_and_unknown_formats(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.storage.put("results", "taken/file.csv", b"x\n")
    with pytest.raises(TargetNotEmptyError, match="HIVE_PATH_ALREADY_EXISTS"):
        lake.run("CREATE TABLE t WITH (external_location = 's3://results/taken/') AS SELECT 1 AS a")
    with pytest.raises(UnsupportedSqlError, match="ION"):
        lake.run("CREATE TABLE t WITH (format = 'ION') AS SELECT 1 AS a")
    with pytest.raises(UnsupportedSqlError, match="property 'bucket_columns'"):
        lake.run("CREATE TABLE t WITH (bucket_columns = ARRAY['a']) AS SELECT 1 AS a")
    with pytest.raises(InvalidInputError, match="last columns"):
        lake.run("CREATE TABLE t WITH (partitioned_by = ARRAY['a']) AS SELECT 1 AS a, 2 AS b")
    assert [t.name for t in lake.catalog.list_tables("sample") if t.name == "t"] == []


def test_ctas_as_dbt_athena_writes_it(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.run(
        'create table "sample"."zone_counts" with (table_type=\'hive\', is_external=true, '
        "external_location='s3://results/dbt/zone_counts/', format='parquet') as "
        "select borough, count(*) as n from zones group by 1"
    )
    expected = Counter(r["Borough"] for r in zones_csv(lake))
    rows = lake.rows("SELECT borough, n FROM zone_counts")
    assert {r["borough"]: r["n"] for r in rows} == dict(expected)
    for refused in ("is_external=false", "table_type='ICEBERG'"):
        with pytest.raises(UnsupportedSqlError, match=refused.split("=")[0]):
            lake.run(f"CREATE TABLE t2 WITH ({refused}) AS SELECT 1 AS a")
    assert [t.name for t in lake.catalog.list_tables("sample") if t.name == "t2"] == []


def test_ctas_failure_after_writing_leaves_nothing_behind(fresh_lake: Lake) -> None:
    lake = fresh_lake
    sql = (
        "CREATE TABLE bad WITH (format = 'TEXTFILE', field_delimiter = ' ') AS SELECT * FROM zones"
    )
    with pytest.raises(InvalidInputError, match="field_delimiter"):
        lake.run(sql, query_id="qbad")  # zone names hold spaces
    assert list(lake.storage.walk("results", "out/tables/qbad/")) == []
    with pytest.raises(Exception, match="not found"):
        lake.catalog.get_table("sample", "bad")


def test_textfile_and_json_round_trip_with_nulls(fresh_lake: Lake) -> None:
    lake = fresh_lake
    select = (
        "SELECT payment_type, description, "
        "CASE WHEN payment_type > 4 THEN NULL ELSE payment_type * 10 END AS score "
        "FROM payment_types"
    )
    expected = lake.rows(select + " ORDER BY 1")
    lake.run(f"CREATE TABLE pt_text WITH (format = 'TEXTFILE') AS {select}", query_id="q1")
    lake.run(
        f"CREATE TABLE pt_json WITH (format = 'JSON', write_compression = 'NONE') AS {select}",
        query_id="q2",
    )
    assert lake.rows("SELECT * FROM pt_text ORDER BY 1") == expected
    assert lake.rows("SELECT * FROM pt_json ORDER BY 1") == expected
    raw = gzip.decompress((lake.root / "results/out/tables/q1/q1_0.txt.gz").read_bytes())
    assert raw.splitlines()[-1] == b"6\x01Voided trip\x01\\N"
    lines = (lake.root / "results/out/tables/q2/q2_0.json").read_text().splitlines()
    assert json.loads(lines[0]) == {"payment_type": 1, "description": "Credit card", "score": 10}


def test_insert_into_appends_files_and_registers_new_partitions(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.run(
        "CREATE TABLE z WITH (external_location = 's3://results/z/', "
        "partitioned_by = ARRAY['borough']) AS SELECT locationid, zone, borough FROM zones",
        query_id="q1",
    )
    before = lake.rows("SELECT count(*) AS n FROM z")[0]["n"]
    outcome = lake.run(
        "INSERT INTO z SELECT 1000 + locationid, zone, 'Atlantis' FROM zones WHERE locationid < 4",
        query_id="q2",
    )
    assert outcome.update_count == 3
    assert outcome.data_files == ("s3://results/z/borough=Atlantis/q2_0.parquet",)
    lake.run("INSERT INTO z (zone, borough) VALUES ('Extra', 'Queens')", query_id="q3")
    assert lake.rows("SELECT count(*) AS n FROM z")[0]["n"] == before + 4
    assert lake.rows("SELECT locationid FROM z WHERE zone = 'Extra'") == [{"locationid": None}]
    values = [p.values for p in lake.catalog.list_partitions("sample", "z")]
    assert ("Atlantis",) in values
    with pytest.raises(InvalidInputError, match="column count"):
        lake.run("INSERT INTO z SELECT 1", query_id="q4")


def test_unload_writes_files_and_catalogs_nothing(fresh_lake: Lake) -> None:
    lake = fresh_lake
    tables = {t.name for t in lake.catalog.list_tables("sample")}
    outcome = lake.run(
        "UNLOAD (SELECT payment_type, description FROM payment_types WHERE description <> ')') "
        "TO 's3://results/unload/' WITH (format = 'JSON', compression = 'GZIP')",
        query_id="u1",
    )
    assert outcome.data_files == ("s3://results/unload/u1_0.json.gz",)
    lines = gzip.decompress((lake.root / "results/unload/u1_0.json.gz").read_bytes()).splitlines()
    assert len(lines) == outcome.update_count == 6
    assert {t.name for t in lake.catalog.list_tables("sample")} == tables
    with pytest.raises(TargetNotEmptyError):
        lake.run("UNLOAD (SELECT 1) TO 's3://results/unload/'", query_id="u2")


def test_join_on_json_extract_cast_to_varchar(fresh_lake: Lake) -> None:
    lake = fresh_lake
    lake.run(
        "CREATE TABLE buckets AS SELECT * FROM (VALUES ('samples', 'lake data'), "
        "('results', 'query results')) AS t(name, purpose)",
        query_id="b1",
    )
    sql = (
        "SELECT b.purpose, count(*) AS n FROM cloudtrail c JOIN buckets b "
        "ON CAST(json_extract(c.requestparameters, '$.bucketName') AS varchar) = b.name "
        "GROUP BY b.purpose ORDER BY 1"
    )
    path = lake.path("samples", "cloudtrail/events-0001.json.gz")
    events = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    purpose = {"samples": "lake data", "results": "query results"}
    counts = Counter(purpose[json.loads(e["requestparameters"])["bucketName"]] for e in events)
    assert [(r["purpose"], r["n"]) for r in lake.rows(sql)] == sorted(counts.items())
