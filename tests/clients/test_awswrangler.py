"""awswrangler, unmodified, against a real ``shoal serve`` holding the sample lake.

Configured only through ``wr.config.*_endpoint_url`` and a boto3 session with shoal's
keys. Expected frames are computed by pyarrow from the sample files on disk.

- ``read_sql_query(ctas_approach=False)``: GetWorkGroup, the result ``.csv``;
- ``read_sql_query(ctas_approach=True)``: ``CREATE TABLE … WITH (external_location,
  format='PARQUET') AS``, ``DataManifestLocation``, Parquet reads, Glue DeleteTable;
- ``wr.catalog`` listings; ``wr.sts`` / the default results bucket;
- ``wr.s3.to_parquet(dataset=True, database=…, table=…, partition_cols=…)`` (S3
  multipart upload, Glue CreateTable and BatchCreatePartition), queried back.
"""

from __future__ import annotations

from collections.abc import Iterator

import awswrangler as wr
import boto3
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]

SERVICES = ("athena", "glue", "s3", "sts")


@pytest.fixture(scope="module")
def session(sample_server: ShoalServer) -> Iterator[boto3.Session]:
    for service in SERVICES:
        setattr(wr.config, f"{service}_endpoint_url", sample_server.url)
    wr.config.athena_query_wait_polling_delay = 0.05  # shoal answers fast; default 1 s
    try:
        yield boto3.Session(
            aws_access_key_id=sample_server.access_key_id,
            aws_secret_access_key=sample_server.secret_access_key,
            region_name=sample_server.region,
        )
    finally:
        for service in SERVICES:
            wr.config.reset(f"{service}_endpoint_url")
        wr.config.reset("athena_query_wait_polling_delay")


@pytest.fixture(scope="module")
def trips(sample_trips: pa.Table) -> pa.Table:
    return sample_trips


AGGREGATE = """
SELECT payment_type, count(*) AS trips, sum(fare_amount) AS fares,
       max(pickup_datetime) AS latest, min(passenger_count) AS fewest,
       CAST(payment_type AS varchar) AS label
FROM trips GROUP BY payment_type ORDER BY payment_type
"""


def expected_aggregate(trips: pa.Table) -> pd.DataFrame:
    grouped = trips.group_by("payment_type").aggregate(
        [
            ("payment_type", "count"),
            ("fare_amount", "sum"),
            ("pickup_datetime", "max"),
            ("passenger_count", "min"),
        ]
    )
    grouped = grouped.sort_by("payment_type")
    payment = grouped["payment_type"].to_pylist()
    return pd.DataFrame(
        {
            "payment_type": pd.array(payment, dtype="Int64"),
            "trips": pd.array(grouped["payment_type_count"].to_pylist(), dtype="Int64"),
            "fares": grouped["fare_amount_sum"].to_numpy(),
            "latest": pd.to_datetime(grouped["pickup_datetime_max"].to_pylist()),
            "fewest": pd.array(grouped["passenger_count_min"].to_pylist(), dtype="Int32"),
            "label": pd.array([str(p) for p in payment], dtype="string"),
        }
    )


def normalise(frame: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Same resolution for timestamps (CSV and Parquet reads differ in unit only)."""
    frame = frame.sort_values("payment_type").reset_index(drop=True)
    frame["latest"] = frame["latest"].astype(expected["latest"].dtype)
    return frame


# Keep this test first: it must be the first query to use the default results bucket,
# which a CTAS writes its data files into before any result file exists.
def test_ctas_into_the_default_results_bucket_first(session: boto3.Session) -> None:
    frame = wr.athena.read_sql_query(
        "SELECT count(*) AS n FROM payment_types", database="sample", boto3_session=session
    )
    assert frame["n"].tolist() == [6]


@pytest.mark.parametrize("ctas", [False, True], ids=["csv", "ctas"])
def test_read_sql_query(
    session: boto3.Session, trips: pa.Table, results_bucket: str, ctas: bool
) -> None:
    frame = wr.athena.read_sql_query(
        AGGREGATE,
        database="sample",
        ctas_approach=ctas,
        s3_output=f"s3://{results_bucket}/wrangler/",
        boto3_session=session,
    )
    expected = expected_aggregate(trips)
    pd.testing.assert_frame_equal(
        normalise(frame, expected), expected, check_exact=False, rtol=1e-9
    )
    if ctas:  # the temporary table is gone again
        tables = wr.catalog.tables(database="sample", boto3_session=session, limit=1000)
        assert not [t for t in tables["Table"] if t.startswith("temp_table_")]


def test_read_sql_query_with_the_workgroup_output(session: boto3.Session) -> None:
    frame = wr.athena.read_sql_query(
        "SELECT count(*) AS n FROM zones", database="sample", ctas_approach=False,
        boto3_session=session,
    )  # fmt: skip
    assert frame["n"].tolist() == [40]


def test_sts_and_the_default_results_bucket(session: boto3.Session) -> None:
    account = wr.sts.get_account_id(boto3_session=session)
    assert account.isdigit() and len(account) == 12
    path = wr.athena.create_athena_bucket(boto3_session=session)
    assert path == f"s3://aws-athena-query-results-{account}-{session.region_name}/"
    # shoal's ``primary`` work group keeps its results in that same bucket.
    primary = session.client("athena", endpoint_url=wr.config.athena_endpoint_url)
    config = primary.get_work_group(WorkGroup="primary")["WorkGroup"]["Configuration"]
    assert config["ResultConfiguration"]["OutputLocation"].startswith(path)


def test_catalog_listings(session: boto3.Session) -> None:
    databases = wr.catalog.databases(boto3_session=session)
    assert "sample" in databases["Database"].tolist()
    tables = wr.catalog.tables(database="sample", boto3_session=session)
    assert {"trips", "zones", "payment_types", "cloudtrail"} <= set(tables["Table"])
    trips_row = tables[tables["Table"] == "trips"].iloc[0]
    assert trips_row["Partitions"] == "year, month"
    assert trips_row["TableType"] == "EXTERNAL_TABLE"
    table = wr.catalog.table(database="sample", table="trips", boto3_session=session)
    columns = dict(zip(table["Column Name"], table["Type"], strict=True))
    assert columns["pickup_datetime"] == "timestamp"
    assert columns["fare_amount"] == "double"
    assert table[table["Partition"]]["Column Name"].tolist() == ["year", "month"]
    assert wr.catalog.does_table_exist(database="sample", table="zones", boto3_session=session)
    assert not wr.catalog.does_table_exist(
        database="sample", table="no_such_table", boto3_session=session
    )
    location = wr.catalog.get_table_location(
        database="sample", table="trips", boto3_session=session
    )
    assert location == "s3://samples/trips/"


def test_to_parquet_dataset_then_query(session: boto3.Session, new_results: str) -> None:
    rng = np.random.default_rng(11)
    # Partition p0 holds > 5 MB of random text, so wrangler uploads it in parts.
    size, big = 60_000, 56_000
    ids = np.arange(size)
    df = pd.DataFrame(
        {
            "id": pd.array(ids, dtype="Int64"),
            "value": rng.normal(size=size),
            "name": pd.array([rng.bytes(48).hex() for _ in ids], dtype="string"),
            "part": pd.array(np.where(ids < big, "p0", "p1"), dtype="string"),
        }
    )
    calls: list[str] = []
    session.events.register(
        "before-call.s3.*", lambda model, **_: calls.append(model.name), unique_id="calls"
    )
    try:
        written = wr.s3.to_parquet(
            df,
            path=f"{new_results}new/",
            dataset=True,
            database="sample",
            table="new_table",
            partition_cols=["part"],
            mode="overwrite",
            boto3_session=session,
        )
    finally:
        session.events.unregister("before-call.s3.*", unique_id="calls")
    assert {"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"} <= set(calls)
    assert sorted(written["partitions_values"]) == [
        f"{new_results}new/part={p}/" for p in ("p0", "p1")
    ]
    partitions = wr.catalog.get_parquet_partitions(
        database="sample", table="new_table", boto3_session=session
    )
    assert sorted(v[0] for v in partitions.values()) == ["p0", "p1"]
    sql = "SELECT id, value, name, part FROM new_table ORDER BY id"
    frame = wr.athena.read_sql_query(
        sql, database="sample", s3_output=f"{new_results}out/", boto3_session=session
    )
    pd.testing.assert_frame_equal(frame, df, check_exact=True)
    head = wr.athena.read_sql_query(
        "SELECT id, value, name, part FROM new_table WHERE id < 3000 ORDER BY id",
        database="sample",
        ctas_approach=False,
        s3_output=f"{new_results}out/",
        boto3_session=session,
    )
    pd.testing.assert_frame_equal(head, df.iloc[:3000], check_exact=False, rtol=1e-15)
    by_part = wr.athena.read_sql_query(
        "SELECT part, count(*) AS n, sum(value) AS total FROM new_table GROUP BY part "
        "ORDER BY part",
        database="sample",
        ctas_approach=False,
        s3_output=f"{new_results}out/",
        boto3_session=session,
    )
    want = df.groupby("part")["value"].agg(["count", "sum"])
    assert by_part["n"].tolist() == want["count"].tolist()
    assert by_part["total"].tolist() == pytest.approx(want["sum"].tolist(), rel=1e-9)
    wr.catalog.delete_table_if_exists(database="sample", table="new_table", boto3_session=session)


@pytest.fixture
def new_results(sample_server: ShoalServer) -> str:
    """A fresh bucket on the sample server, as an ``s3://bucket/`` prefix."""
    import uuid

    name = f"wr-{uuid.uuid4().hex[:12]}"
    sample_server.client("s3").create_bucket(Bucket=name)
    return f"s3://{name}/"
