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


def zone_trips(samples: Path, trips: pa.Table) -> pa.Table:
    """models/marts/zone_trips.sql: trips by pickup zone and year."""
    zones = _int64(read_csv(samples / "zones" / "zones.csv"), "locationid")
    joined = _int64(trips, "pickup_location_id").join(
        zones, keys="pickup_location_id", right_keys="locationid"
    )
    summed = joined.group_by(["borough", "zone", "year"]).aggregate([([], "count_all")])
    return _named(summed, borough="borough", zone="zone", trips="count_all", year="year")


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


def vendor_months(trips: pa.Table) -> pa.Table:
    """models/marts/vendor_months.sql on its first run (without ``fares``)."""
    summed = trips.group_by(["vendor_id", "month"]).aggregate([([], "count_all")])
    return _named(summed, vendor_id="vendor_id", trips="count_all", month="month")


def vendor_months_overwritten(before: pa.Table, trips: pa.Table) -> pa.Table:
    """vendor_months after a run with ``fares``: the months from the newest it held on
    are rebuilt with the new column; older months keep their rows, ``fares`` NULL."""
    newest = pc.max(before["month"])
    summed = trips.group_by(["vendor_id", "month"]).aggregate(
        [([], "count_all"), ("fare_amount", "sum")]
    )
    rebuilt = _named(
        summed.filter(pc.greater_equal(summed["month"], newest)),
        vendor_id="vendor_id",
        trips="count_all",
        fares="fare_amount_sum",
        month="month",
    )
    kept = before.filter(pc.less(before["month"], newest))
    kept = kept.add_column(2, "fares", pa.nulls(kept.num_rows, pa.float64()))
    return pa.concat_tables([kept, rebuilt])


def zones_snapshot(first: pa.Table, second: pa.Table) -> pa.Table:
    """snapshots/zones_snapshot.yml after a snapshot of the zones ``first`` and then
    ``second`` (both as ``read_csv`` gives them): each zone's current row, open, and the
    earlier row of each zone that changed, closed."""
    before = {row["locationid"]: row for row in first.to_pylist()}
    rows = []
    for row in second.to_pylist():
        rows.append({**row, "is_current": True})
        seen = before[row["locationid"]]
        if (seen["borough"], seen["zone"]) != (row["borough"], row["zone"]):
            rows.append({**seen, "is_current": False})
    return pa.Table.from_pylist(rows).rename_columns(
        ["location_id", "borough", "zone", "service_zone", "is_current"]
    )


def _int64(table: pa.Table, column: str) -> pa.Table:
    # Join keys must have one type on both sides (Parquet int32, CSV int64).
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pc.cast(table[column], pa.int64()))


def _named(table: pa.Table, **columns: str) -> pa.Table:
    """The columns in the model's order, under the model's names."""
    return pa.table({name: table[source] for name, source in columns.items()})
