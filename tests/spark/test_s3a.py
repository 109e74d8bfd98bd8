"""Spark reads a lake served by shoal's own S3 API, through S3A (hadoop-aws).

A real ``shoal serve`` holds Parquet and CSV files in a bucket; a Spark Connect
server reads them as ``s3a://`` paths with the server's access key (path-style
requests, SigV4, plain HTTP on loopback). Expected answers come from the rows the test
wrote, computed in Python.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clients.server import ShoalServer, served

from .spark_server import SparkProcesses

pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]  # JVMs start slowly

ROWS = [(n, f"name-{n % 7}", n * 0.5) for n in range(1, 2001)]


@pytest.fixture(scope="module")
def shoal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    with served(tmp_path_factory.mktemp("shoal-s3a") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def lake_bucket(shoal: ShoalServer) -> str:
    """A bucket with the rows as two Parquet files and as one CSV file with a header."""
    s3 = shoal.client("s3")
    s3.create_bucket(Bucket="spark-lake")
    table = pa.table({k: [row[i] for row in ROWS] for i, k in enumerate(("id", "name", "x"))})
    for part, rows in enumerate((table.slice(0, 1000), table.slice(1000))):
        sink = io.BytesIO()
        pq.write_table(rows, sink)
        s3.put_object(Bucket="spark-lake", Key=f"pq/part-{part}.parquet", Body=sink.getvalue())
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(("id", "name", "x"))
    writer.writerows(ROWS)
    s3.put_object(Bucket="spark-lake", Key="csv/rows.csv", Body=text.getvalue().encode())
    return "spark-lake"


def s3a_settings(shoal: ShoalServer) -> dict[str, str]:
    """Hadoop's S3A options for this server, as Spark session settings."""
    return {
        "fs.s3a.endpoint": shoal.url,
        "fs.s3a.endpoint.region": shoal.region,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.access.key": shoal.access_key_id,
        "fs.s3a.secret.key": shoal.secret_access_key,
        "fs.s3a.aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        ),
        "fs.s3a.impl.disable.cache": "true",  # each session its own endpoint and key
    }


def session(server: SparkProcesses, settings: dict[str, str]) -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(server.url)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.create()


def test_spark_reads_parquet_and_csv_from_shoal_s3(
    spark_server: SparkProcesses, shoal: ShoalServer, lake_bucket: str
) -> None:
    spark = session(spark_server, s3a_settings(shoal))
    try:
        parquet = spark.read.parquet(f"s3a://{lake_bucket}/pq/")
        got = parquet.selectExpr("count(*) AS n", "sum(id) AS ids", "sum(x) AS xs").toArrow()
        assert got.to_pylist() == [
            {"n": len(ROWS), "ids": sum(r[0] for r in ROWS), "xs": sum(r[2] for r in ROWS)}
        ]
        frame = spark.read.option("header", "true").option("inferSchema", "true")
        rows = frame.csv(f"s3a://{lake_bucket}/csv/rows.csv")
        rows.createOrReplaceTempView("rows")
        got = spark.sql("SELECT name, count(*) AS n FROM rows GROUP BY name ORDER BY name")
        expected: dict[str, int] = {}
        for _, name, _ in ROWS:
            expected[name] = expected.get(name, 0) + 1
        assert [(r["name"], r["n"]) for r in got.toArrow().to_pylist()] == sorted(expected.items())
    finally:
        spark.stop()


def test_a_wrong_secret_is_refused_by_shoal(
    spark_local: SparkProcesses, shoal: ShoalServer, lake_bucket: str
) -> None:
    settings = s3a_settings(shoal) | {"fs.s3a.secret.key": "not-the-secret"}
    settings["fs.s3a.attempts.maximum"] = "1"
    settings["fs.s3a.retry.limit"] = "1"
    spark = session(spark_local, settings)
    try:
        with pytest.raises(Exception, match="403|Forbidden|SignatureDoesNotMatch"):
            spark.read.parquet(f"s3a://{lake_bucket}/pq/").count()
    finally:
        spark.stop()


def test_the_lake_files_are_what_the_test_wrote(shoal: ShoalServer, lake_bucket: str) -> None:
    """The S3A answers above are checked against the rows, not against shoal: this one
    checks the bucket holds them (a listing through boto3), so a failure above is Spark's."""
    listing = shoal.client("s3").list_objects_v2(Bucket=lake_bucket)
    keys = sorted(item["Key"] for item in listing["Contents"])
    assert keys == ["csv/rows.csv", "pq/part-0.parquet", "pq/part-1.parquet"]
    assert Path(shoal.data_dir).exists()
