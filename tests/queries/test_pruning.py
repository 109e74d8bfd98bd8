"""Partition pruning and column projection, proven through measured bytes scanned."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.crawler.runner import crawl_path

from .conftest import Lake


def expected_bytes(files: list[Path], columns: list[str]) -> int:
    """What a reader must fetch: the selected columns' chunks plus each footer."""
    total = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        total += meta.serialized_size + 8  # footer: metadata, its length, magic
        for group in range(meta.num_row_groups):
            for index in range(meta.num_columns):
                chunk = meta.row_group(group).column(index)
                if chunk.path_in_schema in columns:
                    total += chunk.total_compressed_size
    return total


def trip_files(lake: Lake, month: str | None = None) -> list[Path]:
    pattern = f"month={month}/*.parquet" if month else "month=*/*.parquet"
    return sorted((lake.root / "samples" / "trips" / "year=2024").glob(pattern))


@pytest.fixture(scope="module")
def readings(lake: Lake) -> list[Path]:
    """A partitioned Parquet table big enough that footers do not dominate (3 x 1.6 MB)."""
    rng = random.Random(3)
    rows = 200_000
    for day in ("01", "02", "03"):
        table = pa.table(
            {
                "sensor": pa.array([rng.randrange(1000) for _ in range(rows)], pa.int64()),
                "value": pa.array([rng.random() for _ in range(rows)]),
                "note": pa.array([rng.random() for _ in range(rows)]),
            }
        )
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="none", row_group_size=50_000)
        lake.storage.put(
            "samples", f"readings/day={day}/part.parquet", sink.getvalue().to_pybytes()
        )
    crawl_path(lake.catalog, lake.storage, "s3://samples/readings/", "sample")
    return sorted((lake.root / "samples" / "readings").glob("day=*/*.parquet"))


def test_partition_filter_reads_only_surviving_files(lake: Lake, readings: list[Path]) -> None:
    everything = lake.run("SELECT sum(value) AS s FROM readings")
    pruned = lake.run("SELECT sum(value) AS s FROM readings WHERE day = '02'")
    expected = expected_bytes([p for p in readings if "day=02" in str(p)], ["value"])
    assert pruned.bytes_scanned < everything.bytes_scanned / 2
    assert abs(pruned.bytes_scanned - expected) <= 0.1 * expected
    full = expected_bytes(readings, ["value"])
    assert abs(everything.bytes_scanned - full) <= 0.1 * full
    both = expected_bytes(readings, ["value", "sensor"])
    two = lake.run("SELECT sum(value), max(sensor) FROM readings")
    assert abs(two.bytes_scanned - both) <= 0.1 * both


def test_pruning_keeps_answers_for_in_between_like_and_or(lake: Lake) -> None:
    cases = {
        "month IN ('01', '03')": 2,
        "month BETWEEN '02' AND '03'": 2,
        "month LIKE '0%' AND year = '2024'": 3,
        "(month = '01' OR month = '02') AND fare_amount > 0": 2,
        "NOT month = '02'": 2,
    }
    per_month = lake.rows("SELECT month, count(*) AS n FROM trips GROUP BY month")
    counts = {r["month"]: r["n"] for r in per_month}
    for condition, months in cases.items():
        outcome = lake.run(f"SELECT count(*) AS n FROM trips WHERE {condition}")
        plan = lake.rows(f"EXPLAIN SELECT count(*) FROM trips WHERE {condition}")[0]
        assert f"{months} of 3 partitions" in plan["Query Plan"], condition
        if "fare_amount" not in condition:
            selected = [m for m in counts if _matches(condition, m)]
            assert outcome.rows.to_pylist() == [{"n": sum(counts[m] for m in selected)}]


def _matches(condition: str, month: str) -> bool:
    return {
        "month IN ('01', '03')": month in ("01", "03"),
        "month BETWEEN '02' AND '03'": "02" <= month <= "03",
        "month LIKE '0%' AND year = '2024'": True,
        "NOT month = '02'": month != "02",
    }[condition]


def test_conditions_pruning_cannot_prove_are_left_to_the_engine(lake: Lake) -> None:
    # A function of the key, a mixed-column OR, a key on the padded side of an outer join.
    for sql in [
        "SELECT count(*) AS n FROM trips WHERE substr(month, 2) = '2'",
        "SELECT count(*) AS n FROM trips WHERE month = '02' OR fare_amount > 1000",
        "SELECT count(*) AS n FROM zones z LEFT JOIN trips t "
        "ON t.pickup_location_id = z.locationid AND t.month = '02' WHERE t.month IS NULL",
    ]:
        lines = [r["Query Plan"] for r in lake.rows(f"EXPLAIN {sql}")]
        assert any("sample.trips" in line and "3 of 3 partitions" in line for line in lines), sql
    assert lake.rows("SELECT count(*) AS n FROM trips WHERE substr(month, 2) = '2'") == [
        {"n": 2000}
    ]


def test_one_column_scans_less_than_select_star(lake: Lake) -> None:
    one = lake.run("SELECT fare_amount FROM trips")
    star = lake.run("SELECT * FROM trips")
    assert one.bytes_scanned < star.bytes_scanned / 2
    files = trip_files(lake)
    assert star.bytes_scanned >= 0.9 * sum(f.stat().st_size for f in files)


def test_limit_does_not_make_a_full_scan_free(lake: Lake) -> None:
    limited = lake.run("SELECT * FROM trips LIMIT 5")
    assert limited.rows.num_rows == 5
    assert limited.bytes_scanned > 0.25 * sum(f.stat().st_size for f in trip_files(lake, "01"))


def test_pruned_join_reads_one_partition(lake: Lake) -> None:
    sql = (
        "SELECT count(*) AS n FROM trips t JOIN zones z ON t.pickup_location_id = z.locationid "
        "WHERE t.month = '03'"
    )
    plan = lake.rows(f"EXPLAIN {sql}")[0]["Query Plan"]
    assert "1 of 3 partitions" in plan
    assert lake.rows(sql) == [{"n": 2000}]


@pytest.mark.parametrize("where", ["", "WHERE p < '20'", "WHERE p IN ('03', '04', '20')"])
def test_partition_files_are_the_same_however_they_are_listed(fresh_lake: Lake, where: str) -> None:
    """Many partitions under the table's folder are listed in one walk, few or scattered
    ones one by one: each partition reads the data files under its own location (Hive's
    rule: no segment starting with '_' or '.'), also when one location holds another."""
    lake = fresh_lake
    locations = {f"{n:02d}": f"many/p={n:02d}/" for n in range(20)}
    locations["05"] = "many/p=04/sub/"  # inside p=04's folder: its files count for both
    locations["20"] = "elsewhere/p20/"  # outside the table's folder
    written: dict[str, int] = {}
    for number, prefix in enumerate(sorted(set(locations.values()))):
        for name in ("a.parquet", "_tmp/x.parquet", ".hidden.parquet", "b.parquet"):
            sink = pa.BufferOutputStream()
            pq.write_table(pa.table({"v": [number * 10 + len(name)]}), sink)
            lake.storage.put("samples", prefix + name, sink.getvalue().to_pybytes())
            written[prefix + name] = number * 10 + len(name)
    lake.run(
        "CREATE EXTERNAL TABLE many (v bigint) PARTITIONED BY (p string) "
        "STORED AS PARQUET LOCATION 's3://samples/many/'"
    )
    adds = " ".join(
        f"PARTITION (p = '{p}') LOCATION 's3://samples/{prefix}'" for p, prefix in locations.items()
    )
    lake.run(f"ALTER TABLE many ADD {adds}")

    def visible(key: str, prefix: str) -> bool:
        rest = key[len(prefix) :]
        return key.startswith(prefix) and not any(s[0] in "_." for s in rest.split("/"))

    chosen = [p for p in locations if _keeps(where, p)]
    expected = sorted(
        (p, value) for p in chosen for key, value in written.items() if visible(key, locations[p])
    )
    rows = lake.rows(f"SELECT p, v FROM many {where} ORDER BY p, v")
    assert [(r["p"], r["v"]) for r in rows] == expected


def _keeps(where: str, partition: str) -> bool:
    if not where:
        return True
    if "<" in where:
        return partition < "20"
    return partition in ("03", "04", "20")


def test_a_date_partition_key_is_pruned_by_date_literals(fresh_lake: Lake) -> None:
    """``dt = DATE '…'`` prunes a ``date`` partition key; a partition whose value is not
    an ISO date (``2024-1-3``) is never pruned, since only the engine reads it as a date."""
    lake = fresh_lake
    days = {"2024-01-01": 1, "2024-01-02": 2, "2024-1-3": 3}
    for day, value in days.items():
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"v": [value]}), sink)
        lake.storage.put("samples", f"daily/dt={day}/part.parquet", sink.getvalue().to_pybytes())
    lake.run(
        "CREATE EXTERNAL TABLE daily (v bigint) PARTITIONED BY (dt date) "
        "STORED AS PARQUET LOCATION 's3://samples/daily/'"
    )
    adds = " ".join(f"PARTITION (dt = '{d}') LOCATION 's3://samples/daily/dt={d}/'" for d in days)
    lake.run(f"ALTER TABLE daily ADD {adds}")

    def plan(where: str) -> str:
        rows = lake.rows(f"EXPLAIN SELECT v FROM daily WHERE {where}")
        return "\n".join(str(value) for row in rows for value in row.values())

    assert "2 of 3 partitions" in plan("dt = DATE '2024-01-02'")
    assert "1 of 3 partitions" in plan("dt > DATE '2024-02-01'")  # only the unsure one
    assert lake.rows("SELECT v FROM daily WHERE dt = DATE '2024-01-02'") == [{"v": 2}]
    assert lake.rows("SELECT v FROM daily WHERE dt = DATE '2024-01-03'") == [{"v": 3}]
    assert "3 of 3 partitions" in plan("dt = DATE '2024-01-01' OR v > 0")  # not prunable


def test_scans_leave_out_partition_columns_only_when_unread(lake: Lake) -> None:
    """A scan drops the partition columns of a query that names none of them; every
    way a query can still read them keeps them. Answers from the files themselves."""
    by_month = {path.parent.name.split("=")[1]: pq.read_table(path) for path in trip_files(lake)}
    rows = sum(t.num_rows for t in by_month.values())
    fares = sum(sum(v for v in t.column("fare_amount").to_pylist() if v) for t in by_month.values())
    total = lake.rows("SELECT count(*) AS n, sum(fare_amount) AS s FROM trips")
    assert total[0]["n"] == rows and total[0]["s"] == pytest.approx(fares)
    counts = lake.rows("SELECT month, count(*) AS n FROM trips GROUP BY month ORDER BY month")
    assert counts == [{"month": m, "n": t.num_rows} for m, t in sorted(by_month.items())]
    whole = lake.rows("SELECT t FROM trips t WHERE fare_amount IS NOT NULL LIMIT 1")
    assert {"year", "month"} <= set(whole[0]["t"])
    first = lake.rows("SELECT t.* FROM trips t LIMIT 1")
    assert {"year", "month"} <= set(first[0])
    joined = lake.rows(
        "SELECT count(*) AS n FROM trips a JOIN trips b USING (month) WHERE a.vendor_id = 1"
    )
    expected = sum(
        sum(1 for v in t.column("vendor_id").to_pylist() if v == 1) * t.num_rows
        for t in by_month.values()
    )
    assert joined == [{"n": expected}]
