"""A whole shoal whose lake is an S3-compatible endpoint: write, crawl, query."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

import shoal
from shoal.crawler import crawl_path
from shoal.samples import SAMPLE_DATABASE, write_sample_data
from shoal.storage.s3 import S3Storage


def test_sql_over_a_lake_on_s3(moto_storage: S3Storage, tmp_path: Path) -> None:
    bucket = "s3lake-samples"
    overrides = {
        "data_dir": str(tmp_path),
        "storage_endpoint_url": moto_storage.endpoint_url,
        "storage_access_key_id": "testing",
        "storage_secret_access_key": "testing",
    }
    with shoal.open(**overrides) as app:
        write_sample_data(app.storage, bucket=bucket)
        run = crawl_path(app.catalog, app.storage, f"s3://{bucket}/", SAMPLE_DATABASE)
        assert run.state == "SUCCEEDED" and run.tables_created == 4
        query_id = app.queries.start(
            "SELECT count(*) AS n, sum(fare_amount) AS fares FROM trips WHERE month = '02'",
            database=SAMPLE_DATABASE,
        )
        execution = app.queries.wait(query_id, timeout=60)
        assert execution.state == "SUCCEEDED", execution.state_change_reason
        [(count, fares)] = app.queries.result(query_id).rows(0, 1)
        # Expected: the February file fetched from the bucket and summed with pyarrow.
        key = "trips/year=2024/month=02/trips-2024-02.parquet"
        feb = pq.read_table(io.BytesIO(moto_storage.read(bucket, key)))
        assert count == str(feb.num_rows)
        assert math.isclose(float(fares or "nan"), pc.sum(feb["fare_amount"]).as_py())
        assert execution.statistics.data_scanned_in_bytes > 0
