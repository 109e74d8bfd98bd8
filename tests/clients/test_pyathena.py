"""PyAthena, unmodified, against a real ``shoal serve`` holding the sample lake.

Expected answers are computed without shoal: pyarrow reads the sample files from the
server's data folder and aggregates them itself.

- the default cursor: StartQueryExecution, GetQueryExecution polls, GetQueryResults
  pages (NextToken past 1,000 rows), and PyAthena's own type conversion;
- ``PandasCursor``: its S3 client follows ``AWS_ENDPOINT_URL`` (HEAD + ranged GET of
  the OutputLocation ``.csv``);
- SQLAlchemy ``awsathena+rest://`` (``endpoint_url`` rides in the URL query, as every
  query parameter is passed to ``pyathena.connect``);
- parameters: ``pyformat`` (formatted by the client) and ``qmark`` (sent as
  ``ExecutionParameters``, bound by the server).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyathena
import pytest
from pyathena.connection import Connection
from pyathena.cursor import Cursor

from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]


def connect(server: ShoalServer, staging: str, **kwargs: Any) -> Connection[Any]:
    return pyathena.connect(
        s3_staging_dir=staging,
        region_name=server.region,
        endpoint_url=server.url,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        schema_name="sample",
        poll_interval=0.05,
        **kwargs,
    )


@pytest.fixture(scope="module")
def staging(results_bucket: str) -> str:
    return f"s3://{results_bucket}/pyathena/"


@pytest.fixture(scope="module")
def cursor(sample_server: ShoalServer, staging: str) -> Iterator[Cursor]:
    conn = connect(sample_server, staging)
    try:
        yield conn.cursor()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def trips(sample_trips: pa.Table) -> pa.Table:
    return sample_trips


AGGREGATE = """
SELECT payment_type, count(*) AS trips, sum(total_amount) AS total,
       avg(tip_amount) AS avg_tip, max(pickup_datetime) AS latest,
       min(trip_distance) AS shortest
FROM trips GROUP BY payment_type ORDER BY payment_type
"""


def expected_aggregate(trips: pa.Table) -> list[tuple[Any, ...]]:
    grouped = trips.group_by("payment_type").aggregate(
        [
            ("payment_type", "count"),
            ("total_amount", "sum"),
            ("tip_amount", "mean"),
            ("pickup_datetime", "max"),
            ("trip_distance", "min"),
        ]
    )
    grouped = grouped.sort_by("payment_type")
    columns = [
        "payment_type", "payment_type_count", "total_amount_sum", "tip_amount_mean",
        "pickup_datetime_max", "trip_distance_min",
    ]  # fmt: skip
    return list(zip(*(grouped.column(c).to_pylist() for c in columns), strict=True))


def assert_rows_close(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    """Equal row by row; doubles to 1e-9 relative (summation order differs)."""
    assert len(got) == len(want)
    for got_row, want_row in zip(got, want, strict=True):
        assert len(got_row) == len(want_row)
        for value, expected in zip(got_row, want_row, strict=True):
            if isinstance(expected, float):
                assert value == pytest.approx(expected, rel=1e-9)
            else:
                assert value == expected
                assert type(value) is type(expected)


def test_default_cursor_aggregation(cursor: Cursor, trips: pa.Table) -> None:
    cursor.execute(AGGREGATE)
    rows = cursor.fetchall()
    assert_rows_close([tuple(r) for r in rows], expected_aggregate(trips))
    names = [d[0] for d in cursor.description]
    types = [d[1] for d in cursor.description]
    assert names == ["payment_type", "trips", "total", "avg_tip", "latest", "shortest"]
    assert types == ["bigint", "bigint", "double", "double", "timestamp", "double"]
    assert cursor.rowcount == -1  # a SELECT has no update count
    assert cursor.state == "SUCCEEDED"
    assert cursor.output_location.startswith("s3://client-results/pyathena/")
    assert cursor.output_location.endswith(f"{cursor.query_id}.csv")
    assert cursor.data_scanned_in_bytes > 0


def test_default_cursor_pages_past_1000_rows(cursor: Cursor, trips: pa.Table) -> None:
    cursor.execute(
        "SELECT pickup_datetime, total_amount, passenger_count FROM trips "
        "WHERE year = '2024' AND month = '02'"
    )
    rows = sorted(tuple(r) for r in cursor.fetchall())
    february = trips.filter(
        pc.and_(pc.equal(trips["year"], "2024"), pc.equal(trips["month"], "02"))
    )
    want = sorted(
        zip(
            february["pickup_datetime"].to_pylist(),
            february["total_amount"].to_pylist(),
            february["passenger_count"].to_pylist(),
            strict=True,
        )
    )
    assert len(rows) == 2000
    assert rows == want


def test_default_cursor_converts_types(cursor: Cursor) -> None:
    cursor.execute(
        "SELECT CAST(NULL AS varchar) AS nothing, CAST(1.5 AS double) AS d, "
        "CAST('12.34' AS decimal(10, 2)) AS amount, "
        "TIMESTAMP '2024-01-02 03:04:05.678' AS ts, DATE '2024-02-29' AS day, "
        "true AS flag, 'a,\"b\"' AS text, CAST(7 AS bigint) AS big, CAST(3 AS integer) AS i, "
        "CAST(2.5 AS real) AS r, nullif(1, 1) AS null_int"
    )
    (row,) = cursor.fetchall()
    assert tuple(row) == (
        None, 1.5, Decimal("12.34"), datetime(2024, 1, 2, 3, 4, 5, 678000), date(2024, 2, 29),
        True, 'a,"b"', 7, 3, 2.5, None,
    )  # fmt: skip
    assert isinstance(row[2], Decimal)
    types = {d[0]: d[1] for d in cursor.description}
    assert types == {
        "nothing": "varchar", "d": "double", "amount": "decimal", "ts": "timestamp",
        "day": "date", "flag": "boolean", "text": "varchar", "big": "bigint", "i": "integer",
        "r": "float", "null_int": "integer",
    }  # fmt: skip
    precision = {d[0]: (d[4], d[5]) for d in cursor.description}
    assert precision["amount"] == (10, 2)


def test_ctas_answers_its_row_count_not_a_row(
    cursor: Cursor, staging: str, trips: pa.Table
) -> None:
    name = f"pyathena_ctas_{datetime.now().strftime('%H%M%S%f')}"
    cursor.execute(
        f"CREATE TABLE sample.{name} WITH (format='PARQUET', "
        f"external_location='{staging}{name}/') AS SELECT payment_type FROM trips"
    )
    assert cursor.description == [("rows", "bigint", None, None, 19, 0, "UNKNOWN")]
    assert cursor.rowcount == trips.num_rows
    assert cursor.fetchone() is None
    cursor.execute(f"SELECT count(*) FROM sample.{name}")
    assert cursor.fetchall() == [(trips.num_rows,)]


def test_default_cursor_nulls_from_a_table(cursor: Cursor, trips: pa.Table) -> None:
    cursor.execute(
        "SELECT nullif(payment_type, 2) AS p, count(*) AS n FROM trips "
        "GROUP BY nullif(payment_type, 2) ORDER BY p NULLS FIRST"
    )
    rows = [tuple(r) for r in cursor.fetchall()]
    counts = pc.value_counts(trips["payment_type"]).to_pylist()
    want = sorted((c["values"], c["counts"]) for c in counts)
    want = [(None if p == 2 else p, n) for p, n in want]
    want.sort(key=lambda r: (r[0] is not None, r[0] or 0))
    assert rows == want


def test_pyformat_parameters_are_formatted_by_the_client(
    cursor: Cursor, trips: pa.Table, sample_csv: Callable[[str], pa.Table]
) -> None:
    since = datetime(2024, 3, 1)
    cursor.execute(
        "SELECT count(*) FROM trips WHERE payment_type = %(payment)s "
        "AND pickup_datetime >= %(since)s",
        {"payment": 1, "since": since},
    )
    mask = pc.and_(
        pc.equal(trips["payment_type"], 1),
        pc.greater_equal(trips["pickup_datetime"], pa.scalar(since, pa.timestamp("us"))),
    )
    assert cursor.fetchone() == (pc.sum(mask.cast(pa.int64())).as_py(),)
    zones = sample_csv("zones")
    for borough in ("Staten Island", "it's"):
        cursor.execute("SELECT count(*) FROM zones WHERE borough = %(b)s", {"b": borough})
        want = zones["borough"].to_pylist().count(borough)
        assert cursor.fetchone() == (want,)


def test_qmark_parameters_travel_as_execution_parameters(cursor: Cursor, trips: pa.Table) -> None:
    cursor.execute(
        "SELECT count(*), sum(passenger_count) FROM trips WHERE payment_type = ? AND vendor_id = ?",
        ["1", "2"],
        paramstyle="qmark",
    )
    mask = pc.and_(pc.equal(trips["payment_type"], 1), pc.equal(trips["vendor_id"], 2))
    chosen = trips.filter(mask)
    want = (chosen.num_rows, pc.sum(chosen["passenger_count"]).as_py())
    assert cursor.fetchone() == want
    cursor.execute("SELECT count(*) FROM trips WHERE month = ?", ["'01'"], paramstyle="qmark")
    assert cursor.fetchone() == (2000,)


def expected_by_payment_frame(trips: pa.Table, read_csv: Callable[[str], pa.Table]) -> pd.DataFrame:
    payments = read_csv("payment_types")
    joined = trips.join(payments, "payment_type", join_type="inner")
    grouped = joined.group_by(["payment_type", "description"]).aggregate(
        [("fare_amount", "sum"), ("payment_type", "count"), ("dropoff_datetime", "max")]
    )
    grouped = grouped.sort_by("payment_type")
    # PandasCursor reads bigint as pandas' nullable Int64 (Athena integers may be NULL).
    return pd.DataFrame(
        {
            "payment_type": pd.array(grouped["payment_type"].to_pylist(), dtype="Int64"),
            "description": grouped["description"].to_pylist(),
            "fares": grouped["fare_amount_sum"].to_numpy(),
            "trips": pd.array(grouped["payment_type_count"].to_pylist(), dtype="Int64"),
            "last_dropoff": pd.to_datetime(grouped["dropoff_datetime_max"].to_pylist()),
        }
    )


BY_PAYMENT = """
SELECT t.payment_type, p.description, sum(t.fare_amount) AS fares, count(*) AS trips,
       max(t.dropoff_datetime) AS last_dropoff
FROM trips t JOIN payment_types p ON t.payment_type = p.payment_type
GROUP BY t.payment_type, p.description ORDER BY t.payment_type
"""


def test_pandas_cursor(
    sample_server: ShoalServer,
    staging: str,
    trips: pa.Table,
    sample_csv: Callable[[str], pa.Table],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pyathena.pandas.cursor import PandasCursor

    monkeypatch.setenv("AWS_ENDPOINT_URL", sample_server.url)  # PyAthena's S3 client
    conn = connect(sample_server, staging, cursor_class=PandasCursor)
    try:
        frame = conn.cursor().execute(BY_PAYMENT).as_pandas()
    finally:
        conn.close()
    expected = expected_by_payment_frame(trips, sample_csv)
    pd.testing.assert_frame_equal(frame, expected, check_exact=False, rtol=1e-9)


def sqlalchemy_url(server: ShoalServer, staging: str) -> str:
    key, secret = quote_plus(server.access_key_id), quote_plus(server.secret_access_key)
    return (
        f"awsathena+rest://{key}:{secret}@athena.{server.region}.amazonaws.com:443/sample"
        f"?s3_staging_dir={quote_plus(staging)}&endpoint_url={quote_plus(server.url)}"
        "&poll_interval=0.05"
    )


def test_sqlalchemy_read_sql_and_core_select(
    sample_server: ShoalServer, staging: str, sample_csv: Callable[[str], pa.Table]
) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(sqlalchemy_url(sample_server, staging))
    zones = sample_csv("zones")
    counts = zones.group_by("borough").aggregate([("borough", "count")]).sort_by("borough")
    expected = pd.DataFrame(
        {
            "borough": counts["borough"].to_pylist(),
            "zones": counts["borough_count"].to_numpy().astype("int64"),
        }
    )
    try:
        with engine.connect() as conn:
            frame = pd.read_sql(
                sa.text("SELECT borough, count(*) AS zones FROM zones GROUP BY 1 ORDER BY 1"),
                conn,
            )
            pd.testing.assert_frame_equal(frame, expected)
            # Reflection: PyAthena asks GetTableMetadata for the columns.
            table = sa.Table("zones", sa.MetaData(), autoload_with=conn)
            assert [c.name for c in table.columns] == [
                "locationid",
                "borough",
                "zone",
                "service_zone",
            ]
            assert isinstance(table.c.locationid.type, sa.BigInteger)
            assert sa.inspect(conn).has_table("trips")
            assert {"trips", "zones"} <= set(sa.inspect(conn).get_table_names())
            statement = (
                sa.select(table.c.borough, sa.func.count().label("zones"))
                .group_by(table.c.borough)
                .order_by(table.c.borough)
            )
            rows = conn.execute(statement).all()
            assert [tuple(r) for r in rows] == list(
                zip(expected["borough"], expected["zones"].tolist(), strict=True)
            )
    finally:
        engine.dispose()
