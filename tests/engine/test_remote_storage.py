"""Tables on S3-compatible storage: the engine reads planned objects through ``Storage``.

A real moto S3 server holds the files; the catalog, planner, runner and engine are
shoal's own. Expected answers are computed here from the rows written.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from shoal.catalog.store import CatalogStore
from shoal.crawler.runner import crawl_path
from shoal.engine.duckdb import DuckDBEngine
from shoal.errors import AccessDeniedError, QueryFailedError
from shoal.queries.context import StatementContext
from shoal.queries.runner import StatementRunner
from shoal.storage.s3 import S3Storage

DAYS = {"2024-01-01": range(0, 400), "2024-01-02": range(400, 1000)}
AVRO_SCHEMA = {
    "type": "record",
    "name": "sale",
    "fields": [{"name": "id", "type": "long"}, {"name": "amount", "type": "double"}],
}


@pytest.fixture
def bucket(moto_storage: S3Storage) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    moto_storage.create_bucket(name)
    for day, ids in DAYS.items():
        rows = pa.table({"id": list(ids), "amount": [i * 0.5 for i in ids]})
        sink = io.BytesIO()
        pq.write_table(rows, sink, row_group_size=250)
        moto_storage.put(name, f"sales/dt={day}/part-0.parquet", sink.getvalue())
        sink = io.BytesIO()
        orc.write_table(rows, sink)
        moto_storage.put(name, f"orcsales/dt={day}/part-0.orc", sink.getvalue())
        sink = io.BytesIO()
        fastavro.writer(sink, AVRO_SCHEMA, rows.to_pylist())
        moto_storage.put(name, f"avro/sales/dt={day}/part-0.avro", sink.getvalue())
        lines = "".join(f"{i},item-{i % 7}\n" for i in ids)
        moto_storage.put(name, f"items/dt={day}/part-0.csv", ("id,name\n" + lines).encode())
    return name


@pytest.fixture
def runner(moto_storage: S3Storage, bucket: str, tmp_path: Path) -> Iterator[StatementRunner]:
    catalog = CatalogStore(f"sqlite:///{tmp_path / 'catalog.db'}")
    crawl_path(catalog, moto_storage, f"s3://{bucket}/", "remote")
    # No local root at all: every byte comes through the Storage interface.
    engine = DuckDBEngine([], str(tmp_path / "spill"), memory_limit="1GB", storage=moto_storage)
    yield StatementRunner(catalog, moto_storage, engine)
    engine.close()
    catalog.close()


def _run(runner: StatementRunner, sql: str) -> tuple[list[dict[str, object]], int]:
    outcome = runner.run(sql, StatementContext(query_id="q1", database="remote"))
    return outcome.rows.to_pylist(), outcome.bytes_scanned


def test_parquet_partitions_on_s3(runner: StatementRunner) -> None:
    sql = "SELECT dt, count(*) AS n, sum(amount) AS total FROM sales GROUP BY dt ORDER BY dt"
    rows, everything = _run(runner, sql)
    assert [(str(r["dt"]), r["n"], r["total"]) for r in rows] == [
        (day, len(ids), sum(i * 0.5 for i in ids)) for day, ids in DAYS.items()
    ]
    pruned_rows, pruned = _run(runner, "SELECT sum(id) AS s FROM sales WHERE dt = '2024-01-01'")
    assert pruned_rows == [{"s": sum(DAYS["2024-01-01"])}]
    assert 0 < pruned < everything


def test_csv_join_on_s3(runner: StatementRunner, moto_storage: S3Storage, bucket: str) -> None:
    sql = (
        "SELECT i.name, count(*) AS n FROM sales s JOIN items i ON s.id = i.id "
        "WHERE s.amount >= 100 GROUP BY i.name ORDER BY i.name"
    )
    rows, scanned = _run(runner, sql)
    ids = [i for day in DAYS.values() for i in day if i * 0.5 >= 100]
    expected: dict[str, int] = {}
    for i in ids:
        expected[f"item-{i % 7}"] = expected.get(f"item-{i % 7}", 0) + 1
    assert rows == [{"name": k, "n": v} for k, v in sorted(expected.items())]
    csv_bytes = sum(o.size for o in moto_storage.walk(bucket, "items/"))
    assert scanned > csv_bytes  # every CSV byte, plus the Parquet columns read
    assert _run(runner, "SELECT count(*) AS n FROM items") == ([{"n": 1000}], csv_bytes)


def test_remote_files_need_storage(tmp_path: Path, moto_storage: S3Storage, bucket: str) -> None:
    catalog = CatalogStore(f"sqlite:///{tmp_path / 'catalog.db'}")
    crawl_path(catalog, moto_storage, f"s3://{bucket}/", "remote")
    engine = DuckDBEngine([], str(tmp_path / "spill"), memory_limit="1GB")
    try:
        with pytest.raises((AccessDeniedError, QueryFailedError), match="access denied"):
            _run(StatementRunner(catalog, moto_storage, engine), "SELECT count(*) FROM sales")
    finally:
        engine.close()
        catalog.close()


def test_orc_and_avro_partitions_on_s3(runner: StatementRunner, moto_storage: S3Storage) -> None:
    expected = [
        {"dt": day, "n": len(ids), "total": sum(i * 0.5 for i in ids)} for day, ids in DAYS.items()
    ]
    sql = "SELECT dt, count(*) AS n, sum(amount) AS total FROM {} GROUP BY dt ORDER BY dt"
    rows, scanned = _run(runner, sql.format("orcsales"))
    assert rows == expected
    bucket = runner.catalog.get_table("remote", "orcsales").storage.location.split("/")[2]
    sizes = [o.size for o in moto_storage.list(bucket, "orcsales/").objects]
    assert scanned == sum(sizes)  # each ORC file read whole, once
    location = f"s3://{bucket}/avro/sales/"
    runner.run(
        f"CREATE EXTERNAL TABLE avro_sales (id bigint, amount double) PARTITIONED BY (dt string) "
        f"STORED AS AVRO LOCATION '{location}'",
        StatementContext(query_id="q0", database="remote"),
    )
    runner.run("MSCK REPAIR TABLE avro_sales", StatementContext(query_id="q2", database="remote"))
    rows, scanned = _run(runner, sql.format("avro_sales"))
    assert rows == expected
    assert scanned > 0
