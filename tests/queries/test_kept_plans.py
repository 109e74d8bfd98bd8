"""Planned files kept between queries over a settled local lake, never stale.

Once a table's folders last changed a while ago, the storage answers the planner's walk
with what it kept (after one stat per folder and file) and the planner reuses the
files it planned from it; every change below the table must still show at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shoal.crawler.runner import crawl_path

from .conftest import Lake

SQL = "SELECT dt, count(*) AS n, sum(v) AS s FROM events GROUP BY dt ORDER BY dt"


def _write(path: Path, values: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"v": pa.array(values, pa.int64())}), path)


def _settle(folder: Path) -> None:
    """Every folder from ``folder`` down last changed a minute ago."""
    past = time.time_ns() - 60 * 10**9
    for path, _, _ in os.walk(folder):
        os.utime(path, ns=(past, past))


def _expected(table: Path) -> list[dict[str, object]]:
    """The answer, from the files themselves."""
    rows = []
    for folder in sorted(table.glob("dt=*")):
        values = [v for f in sorted(folder.rglob("*.parquet")) for v in pq.read_table(f)["v"]]
        if values:
            numbers = [v.as_py() for v in values]
            rows.append({"dt": folder.name[3:], "n": len(numbers), "s": sum(numbers)})
    return rows


def test_changes_below_a_settled_table_show_at_once(fresh_lake: Lake) -> None:
    table = fresh_lake.path("samples", "events")
    for day in range(20):
        _write(table / f"dt={day:02d}" / "part-0.parquet", [day, day * 10])
    crawl_path(fresh_lake.catalog, fresh_lake.storage, "s3://samples/events/", "sample")
    _settle(table.parent)
    assert fresh_lake.rows(SQL) == _expected(table)
    assert fresh_lake.rows(SQL) == _expected(table)  # planned from what was kept

    _write(table / "dt=03" / "part-1.parquet", [1000])  # a file added
    assert fresh_lake.rows(SQL) == _expected(table)
    _settle(table.parent)
    assert fresh_lake.rows(SQL) == _expected(table)

    # Rewritten in place (its folder keeps its mtime): new rows, a new size.
    _write(table / "dt=05" / "part-0.parquet", [7, 7, 7])
    assert fresh_lake.rows(SQL) == _expected(table)

    (table / "dt=07" / "part-0.parquet").unlink()  # removed
    assert fresh_lake.rows(SQL) == _expected(table)

    _write(table / "dt=20" / "part-0.parquet", [20])  # a new partition, once crawled
    _settle(table.parent)
    crawl_path(fresh_lake.catalog, fresh_lake.storage, "s3://samples/events/", "sample")
    assert fresh_lake.rows(SQL) == _expected(table)
    one = fresh_lake.rows("SELECT count(*) AS n FROM events WHERE dt = '20'")
    assert one == [{"n": 1}]

    _write(table / "dt=08" / "nested" / "part-9.parquet", [9])  # deeper down
    _settle(table.parent)
    assert fresh_lake.rows(SQL) == _expected(table)
