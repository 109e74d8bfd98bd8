"""The behaviour suite's tables: plain Python rows, written to files by pyarrow.

The rows here are the reference the expected answers are computed from (in
``corpus.py``, with plain Python), so no engine and no part of shoal decides what a
query should return. Tables are declared with ``CREATE EXTERNAL TABLE`` (their types
as written here), one per format: Parquet, CSV, JSON lines, and a partitioned one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shoal.storage.base import Storage

BUCKET = "behaviour"
DATABASE = "behaviour"
CUSTOMERS = ("alice", "bob", "carol", "dave", "erin")
STATUSES = ("open", "shipped", "returned")
START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Data:
    """Every table's rows as dictionaries, keyed by column name."""

    orders: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    events: list[dict[str, Any]]


def build() -> Data:
    """The rows: deterministic, with NULLs, ties and edge values on purpose."""
    orders = []
    for n in range(1, 41):
        orders.append(
            {
                "order_id": n,
                # order 7 has no customer; "frank" (orders 39, 40) is in no customer row
                "customer": None if n == 7 else ("frank" if n > 38 else CUSTOMERS[n % 5]),
                "amount": round((n * 37 % 101) + (n % 4) * 0.25, 2),
                "qty": n % 6,
                "status": STATUSES[n % 3],
                "ordered_at": (START + timedelta(hours=13 * n)).replace(tzinfo=None),
                "note": None if n % 5 == 0 else f"Note {n}: {'rush' if n % 4 == 0 else 'std'}",
            }
        )
    customers = [
        {"name": "alice", "country": "FR", "tier": 1, "since": date(2020, 5, 17)},
        {"name": "bob", "country": "DE", "tier": 2, "since": date(2021, 2, 1)},
        {"name": "carol", "country": "FR", "tier": 2, "since": date(2019, 12, 31)},
        {"name": "dave", "country": "US", "tier": 3, "since": date(2022, 7, 4)},
        {"name": "erin", "country": "US", "tier": None, "since": date(2023, 1, 9)},
    ]
    events = []
    for n in range(1, 31):
        events.append(
            {
                "id": n,
                "kind": ("click", "view", "buy")[n % 3],
                "tags": [f"t{n % 4}", f"t{n % 7}"] if n % 6 else [],
                "attrs": {"source": ("web", "app")[n % 2], "score": n * 3 % 10},
                "dt": f"2024-03-{1 + n % 5:02d}",
            }
        )
    return Data(orders, customers, events)


DDL = (
    """CREATE EXTERNAL TABLE orders (
         order_id bigint, customer string, amount double, qty int, status string,
         ordered_at timestamp, note string)
       STORED AS PARQUET LOCATION 's3://behaviour/orders/'""",
    """CREATE EXTERNAL TABLE customers (name string, country string, tier int, since date)
       ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
       LOCATION 's3://behaviour/customers/'
       TBLPROPERTIES ('skip.header.line.count' = '1')""",
    """CREATE EXTERNAL TABLE events (
         id bigint, kind string, tags array<string>,
         attrs struct<source:string,score:int>)
       PARTITIONED BY (dt string)
       ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
       LOCATION 's3://behaviour/events/'""",
)


def write(storage: Storage, data: Data) -> list[str]:
    """Write the tables' files; returns the statements that declare them and their
    partitions, to be run through the engine under test's own road."""
    storage.create_bucket(BUCKET)
    orders = pa.Table.from_pylist(
        data.orders,
        schema=pa.schema(
            [
                ("order_id", pa.int64()),
                ("customer", pa.string()),
                ("amount", pa.float64()),
                ("qty", pa.int32()),
                ("status", pa.string()),
                ("ordered_at", pa.timestamp("us")),
                ("note", pa.string()),
            ]
        ),
    )
    for part, rows in enumerate((orders.slice(0, 25), orders.slice(25))):
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink)
        storage.put(BUCKET, f"orders/part-{part}.parquet", sink.getvalue().to_pybytes())
    lines = ["name,country,tier,since"]
    for c in data.customers:
        tier = "" if c["tier"] is None else str(c["tier"])
        lines.append(f"{c['name']},{c['country']},{tier},{c['since'].isoformat()}")
    storage.put(BUCKET, "customers/customers.csv", ("\n".join(lines) + "\n").encode())
    by_day: dict[str, list[str]] = {}
    for e in data.events:
        record = {k: v for k, v in e.items() if k != "dt"}
        by_day.setdefault(e["dt"], []).append(json.dumps(record))
    statements = list(DDL)
    for day, records in sorted(by_day.items()):
        storage.put(BUCKET, f"events/dt={day}/events.json", ("\n".join(records) + "\n").encode())
        statements.append(
            f"ALTER TABLE events ADD PARTITION (dt = '{day}') "
            f"LOCATION 's3://{BUCKET}/events/dt={day}/'"
        )
    return statements
