"""A small sample lake that shoal generates so a newcomer has data to crawl and query.

* ``trips``: NYC-taxi-like trips as Parquet, partitioned ``year=/month=``;
* ``zones`` and ``payment_types``: CSV with headers (zone names carry quoted commas);
* ``cloudtrail``: CloudTrail-style events as gzipped JSON lines, with nested
  ``useridentity`` and JSON-string ``requestparameters``.

Generation is deterministic for a given seed and ``now``, and goes through the
``Storage`` seam, so it works on local folders and on S3 alike.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from shoal.storage.base import Storage

SAMPLE_BUCKET = "samples"
SAMPLE_DATABASE = "sample"
TRIP_MONTHS = ((2024, 1), (2024, 2), (2024, 3))
TRIPS_PER_MONTH = 2000
BOROUGHS = ("Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island", "EWR")
PAYMENT_TYPES = (
    (1, "Credit card"),
    (2, "Cash"),
    (3, "No charge"),
    (4, "Dispute"),
    (5, "Unknown"),
    (6, "Voided trip"),
)
ZONE_COUNT = 40
EVENT_NAMES = ("GetObject", "PutObject", "StartQueryExecution", "GetTables", "CreateTable")
USERS = ("alice", "bob", "carol")


@dataclass(frozen=True)
class SampleSummary:
    """What was written: object keys and row counts per table."""

    bucket: str
    keys: tuple[str, ...]
    rows: dict[str, int]


def write_sample_data(
    storage: Storage, seed: int = 7, now: datetime | None = None, bucket: str = SAMPLE_BUCKET
) -> SampleSummary:
    """Write the sample lake into ``bucket`` and return what was written."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    storage.create_bucket(bucket)
    files: dict[str, bytes] = {}
    rows: dict[str, int] = {}
    for year, month in TRIP_MONTHS:
        table = _trips(rng, year, month)
        files[f"trips/year={year}/month={month:02d}/trips-{year}-{month:02d}.parquet"] = (
            _parquet_bytes(table)
        )
        rows["trips"] = rows.get("trips", 0) + table.num_rows
    files["zones/zones.csv"] = _zones_csv(rng)
    rows["zones"] = ZONE_COUNT
    files["payment_types/payment_types.csv"] = _csv_bytes(
        ["payment_type", "description"], [list(p) for p in PAYMENT_TYPES]
    )
    rows["payment_types"] = len(PAYMENT_TYPES)
    events = _events(rng, now, 300)
    files["cloudtrail/events-0001.json.gz"] = gzip.compress(
        "".join(json.dumps(e) + "\n" for e in events).encode(), mtime=0
    )
    rows["cloudtrail"] = len(events)
    for key, data in files.items():
        storage.put(bucket, key, data)
    return SampleSummary(bucket=bucket, keys=tuple(files), rows=rows)


def _trips(rng: random.Random, year: int, month: int) -> pa.Table:
    pickups, dropoffs, distance, fares, tips, totals = [], [], [], [], [], []
    passengers, pu_zone, do_zone, payment, vendor = [], [], [], [], []
    start = datetime(year, month, 1)
    for _ in range(TRIPS_PER_MONTH):
        pickup = start + timedelta(seconds=rng.randrange(27 * 24 * 3600))
        miles = round(rng.expovariate(1 / 3.0) + 0.1, 2)
        minutes = miles * rng.uniform(2.5, 6.0)
        fare = round(3.0 + miles * 2.5 + minutes * 0.5, 2)
        pay = rng.choices((1, 2, 3, 4), weights=(70, 25, 3, 2))[0]
        tip = round(fare * rng.choice((0, 0.1, 0.15, 0.2, 0.25)), 2) if pay == 1 else 0.0
        pickups.append(pickup)
        dropoffs.append(pickup + timedelta(minutes=minutes))
        distance.append(miles)
        fares.append(fare)
        tips.append(tip)
        totals.append(round(fare + tip + 0.5, 2))
        passengers.append(rng.choices((1, 2, 3, 4, 5), weights=(70, 15, 7, 5, 3))[0])
        pu_zone.append(rng.randrange(1, ZONE_COUNT + 1))
        do_zone.append(rng.randrange(1, ZONE_COUNT + 1))
        payment.append(pay)
        vendor.append(rng.choice((1, 2)))
    return pa.table(
        {
            "vendor_id": pa.array(vendor, pa.int32()),
            "pickup_datetime": pa.array(pickups, pa.timestamp("us")),
            "dropoff_datetime": pa.array(dropoffs, pa.timestamp("us")),
            "passenger_count": pa.array(passengers, pa.int32()),
            "trip_distance": pa.array(distance, pa.float64()),
            "pickup_location_id": pa.array(pu_zone, pa.int32()),
            "dropoff_location_id": pa.array(do_zone, pa.int32()),
            "payment_type": pa.array(payment, pa.int64()),
            "fare_amount": pa.array(fares, pa.float64()),
            "tip_amount": pa.array(tips, pa.float64()),
            "total_amount": pa.array(totals, pa.float64()),
        }
    )


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def _csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _zones_csv(rng: random.Random) -> bytes:
    rows: list[list[object]] = []
    for location_id in range(1, ZONE_COUNT + 1):
        borough = BOROUGHS[location_id % len(BOROUGHS)]
        # Some names carry a comma, so the CSV needs quoting as in the real zone file.
        zone = f"Zone {location_id}" + (", North" if location_id % 5 == 0 else "")
        service = "Yellow Zone" if borough == "Manhattan" else "Boro Zone"
        rows.append([location_id, borough, zone, service])
    return _csv_bytes(["LocationID", "Borough", "Zone", "service_zone"], rows)


def _events(rng: random.Random, now: datetime, count: int) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for index in range(count):
        user = rng.choice(USERS)
        # Half the events fall within the last day, so "recent events" queries find some.
        age = timedelta(hours=rng.uniform(0, 23.5) if index % 2 else rng.uniform(25, 24 * 7))
        name = rng.choice(EVENT_NAMES)
        params = {"bucketName": rng.choice(("samples", "results")), "key": f"k/{index}"}
        events.append(
            {
                "eventversion": "1.08",
                "useridentity": {
                    "type": "IAMUser",
                    "principalid": f"AID{USERS.index(user):04d}",
                    "arn": f"arn:aws:iam::123456789012:user/{user}",
                    "accountid": "123456789012",
                    "username": user,
                },
                "eventtime": (now - age).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventsource": "s3.amazonaws.com",
                "eventname": name,
                "awsregion": "us-east-1",
                "sourceipaddress": f"10.0.{rng.randrange(4)}.{rng.randrange(1, 255)}",
                "useragent": rng.choice(("aws-cli/2.15", "Boto3/1.34", "PyAthena/3.8")),
                "requestparameters": json.dumps(params),
                "responseelements": None,
                "eventid": f"{index:08d}-0000-4000-8000-{index:012d}",
            }
        )
    return events
