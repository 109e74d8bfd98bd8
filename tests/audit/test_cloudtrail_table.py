"""AWS's documented Athena DDL for CloudTrail logs, run unchanged (but for the bucket
and account placeholders) through shoal's Athena API over shoal's own trail; the
per-user usage SQL over it equals ``shoal usage``.

The DDL is AWS's ("Create a table for CloudTrail logs in Athena using manual
partitioning"), in both documented variants: the Hive JSON SerDe over
``CloudTrailInputFormat``, and the CloudTrail SerDe. Reading them needs the
CloudTrail input format and SerDe of the engine (the serdes branch).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from clients.server import ShoalServer
from cloudtrail_ddl import COLUMNS

from .test_audit_server import delivered, shoal_cli

ACCOUNT = "123456789012"
AUDIT_BUCKET = "shoal-audit"


TAIL = """
PARTITIONED BY (region string, year string, month string, day string)
ROW FORMAT SERDE '{serde}'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://{bucket}/AWSLogs/{account}/'"""

SERDES = {
    "json-serde": "org.apache.hive.hcatalog.data.JsonSerDe",
    "cloudtrail-serde": "com.amazon.emr.hive.serde.CloudTrailSerde",
}

USAGE_SQL = """
SELECT useridentity.username AS username, count(*) AS queries,
       sum(CAST(json_extract_scalar(serviceeventdetails, '$.dataScannedInBytes') AS bigint))
         AS bytes
FROM {table}
WHERE eventsource = 'athena.amazonaws.com' AND eventname = 'QueryExecutionCompleted'
GROUP BY 1
"""


def run(server: ShoalServer, sql: str, database: str = "default") -> list[list[str | None]]:
    """Run ``sql`` through the Athena API as the admin; its rows (header dropped)."""
    athena = server.client("athena")
    started = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": database}
    )
    query_id = started["QueryExecutionId"]
    while True:
        got = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if got["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.05)
    assert got["Status"]["State"] == "SUCCEEDED", got["Status"]
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    return [[d.get("VarCharValue") for d in r["Data"]] for r in rows[1:]]


def make_usage(server: ShoalServer) -> None:
    """Queries through the API (the admin) and the CLI (no user), so usage has rows."""
    made = shoal_cli(server, "sample-data")
    assert made.returncode == 0, made.stderr
    for sql in ("SELECT count(*) FROM sample.trips", "SELECT * FROM sample.zones"):
        run(server, sql)
    for _ in range(2):
        shoal_cli(server, "sql", "SELECT count(*) FROM sample.zones")


def documented_table(server: ShoalServer, name: str, serde: str) -> str:
    """Create table ``name`` with AWS's DDL and add the partitions of the trail's days
    with AWS's documented ALTER TABLE; its qualified name."""
    ddl = f"CREATE EXTERNAL TABLE {name} {COLUMNS}" + TAIL.format(
        serde=serde, bucket=AUDIT_BUCKET, account=ACCOUNT
    )
    run(server, ddl)
    records, _ = delivered(server)
    days = sorted({r["eventTime"][:10] for r in records})
    for day in days:
        year, month, date = day.split("-")
        run(
            server,
            f"ALTER TABLE {name} ADD PARTITION (region='us-east-1', year='{year}', "
            f"month='{month}', day='{date}') LOCATION 's3://{AUDIT_BUCKET}/AWSLogs/"
            f"{ACCOUNT}/CloudTrail/us-east-1/{year}/{month}/{date}/'",
        )
    return f"default.{name}"


def cli_usage(server: ShoalServer) -> dict[str | None, tuple[int, int]]:
    done = shoal_cli(server, "usage", "--by", "user", "--output", "json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return {r["key"]: (r["queries"], r["bytes_scanned"]) for r in rows}


def sql_usage(server: ShoalServer, table: str) -> dict[str | None, tuple[int, int]]:
    rows = run(server, USAGE_SQL.format(table=table))
    return {user: (int(n or 0), int(b or 0)) for user, n, b in rows}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("variant", SERDES)
def test_documented_ddl_reads_shoals_trail_and_usage_agrees(
    server: ShoalServer,
    variant: str,
) -> None:
    make_usage(server)
    table = documented_table(
        server, f"cloudtrail_logs_{variant.replace('-', '_')}", SERDES[variant]
    )
    delivered(server)  # the DDL's own executions finished too: deliver them
    expected = cli_usage(server)
    assert sum(q for q, _ in expected.values()) >= 4
    assert sql_usage(server, table) == expected
    # The catalogued table is the same table: the same answer.
    assert sql_usage(server, "shoal_audit.cloudtrail") == expected
    # And every record the trail delivered is a row, under CloudTrail's names.
    records, _ = delivered(server)
    counted = run(server, f"SELECT eventname, count(*) FROM {table} GROUP BY 1")
    assert Counter({name: int(n or 0) for name, n in counted}) == Counter(
        r["eventName"] for r in records
    )
