"""What the dbt project's tables must hold, computed from the sample files with pyarrow.

Nothing here asks shoal: the trips are read from the lake folder on disk (Hive
partitions ``year=/month=`` as strings), the CSV tables and the seed with pyarrow's CSV
reader, and each model's SQL is restated as pyarrow joins and group-bys.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds

PROJECT = Path(__file__).parent / "project"


def read_trips(samples: Path) -> pa.Table:
    """Every trip under ``samples/trips``, with ``year``/``month`` from the folder names."""
    partitions = pa_ds.partitioning(
        pa.schema([("year", pa.string()), ("month", pa.string())]), flavor="hive"
    )
    dataset = pa_ds.dataset(samples / "trips", format="parquet", partitioning=partitions)
    return dataset.to_table()


def read_csv(path: Path) -> pa.Table:
    """A CSV table with its column names lowercased, as the Glue crawler catalogs them."""
    found = pa_csv.read_csv(path)
    return found.rename_columns([name.lower() for name in found.column_names])


def borough_revenue(samples: Path, trips: pa.Table) -> pa.Table:
    """models/marts/borough_revenue.sql: fares by pickup borough and payment type."""
    zones = _int64(read_csv(samples / "zones" / "zones.csv"), "locationid")
    payments = _int64(read_csv(samples / "payment_types" / "payment_types.csv"), "payment_type")
    joined = _int64(trips, "pickup_location_id").join(
        zones, keys="pickup_location_id", right_keys="locationid"
    )
    joined = joined.join(payments, keys="payment_type")
    summed = joined.group_by(["borough", "description"]).aggregate(
        [([], "count_all"), ("fare_amount", "sum"), ("tip_amount", "sum")]
    )
    return _named(
        summed,
        borough="borough",
        payment="description",
        trips="count_all",
        fare_total="fare_amount_sum",
        tip_total="tip_amount_sum",
    )


def monthly_payments(trips: pa.Table) -> pa.Table:
    """models/marts/monthly_payments.sql: trips and revenue by vendor, payment, month."""
    vendors = _int64(read_csv(PROJECT / "seeds" / "vendors.csv"), "vendor_id")
    joined = _int64(trips, "vendor_id").join(vendors, keys="vendor_id")
    summed = joined.group_by(["vendor_name", "payment_type", "year", "month"]).aggregate(
        [([], "count_all"), ("total_amount", "sum")]
    )
    return _named(
        summed,
        vendor_name="vendor_name",
        payment_type="payment_type",
        trips="count_all",
        revenue="total_amount_sum",
        year="year",
        month="month",
    )


def daily_trips(trips: pa.Table) -> pa.Table:
    """models/marts/daily_trips.sql on its first run: trips per pickup day."""
    days = trips.append_column("pickup_date", pc.cast(trips["pickup_datetime"], pa.date32()))
    summed = days.group_by("pickup_date").aggregate(
        [([], "count_all"), ("passenger_count", "sum"), ("trip_distance", "sum")]
    )
    return _named(
        summed,
        pickup_date="pickup_date",
        trips="count_all",
        passengers="passenger_count_sum",
        distance="trip_distance_sum",
    )


def daily_trips_appended(before: pa.Table, trips: pa.Table) -> pa.Table:
    """daily_trips after an ``append`` run: the rows it had, plus the days after them."""
    latest = pc.max(before["pickup_date"])
    every_day = daily_trips(trips)
    later = every_day.filter(pc.greater(every_day["pickup_date"], latest))
    return pa.concat_tables([before, later])


def _int64(table: pa.Table, column: str) -> pa.Table:
    # Join keys must have one type on both sides (Parquet int32, CSV int64).
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pc.cast(table[column], pa.int64()))


def _named(table: pa.Table, **columns: str) -> pa.Table:
    """The columns in the model's order, under the model's names."""
    return pa.table({name: table[source] for name, source in columns.items()})
