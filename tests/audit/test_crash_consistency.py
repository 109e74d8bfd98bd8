"""``kill -9`` of a real ``shoal serve`` in the middle of a burst of Glue writes and
Athena queries, then a restart on the same data folder (issue 5's last Done-when):

* every request that got an answer has exactly one audit record;
* the catalog holds every answered CreateTable / BatchCreatePartition exactly as
  sent, and nothing half-written by the ones cut off;
* executions the dead process left QUEUED or RUNNING are FAILED with the restart
  reason; ``shoal usage`` and a quota's usage equal the bytes scanned by the
  executions that finished on a worker.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clients.server import ROOT_KEY_ID, ShoalServer, start_server, stop_server
from shoal.queries.model import RESTARTED_REASON

from .test_audit_server import delivered, shoal_cli

pytestmark = pytest.mark.timeout(90)

DATABASE = "crash"
BUCKET = "crash-data"
ROWS = 400
FINISHED = {"SUCCEEDED", "FAILED", "CANCELLED"}
BURST_SECONDS = 15.0  # at most; the burst ends once enough requests were answered
ENOUGH = 8  # answered CreateTables, and answered StartQueryExecutions
# A cross join the engine cannot shortcut: still RUNNING when the server dies.
SLOW_SQL = f"SELECT sum(a.x * b.x * c.x) FROM {DATABASE}.events a, {DATABASE}.events b, "
SLOW_SQL += f"{DATABASE}.events c, {DATABASE}.events d"
FAST_SQL = f"SELECT count(*), sum(x) FROM {DATABASE}.events"


@dataclass
class Answered:
    """What the burst's requests got back, shared by its threads."""

    request_ids: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> TableInput
    sent_tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    partitions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sent_partitions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    query_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enough(self) -> bool:
        """Whether the burst has answered enough of both kinds to judge."""
        return len(self.tables) >= ENOUGH and len(self.query_ids) >= ENOUGH

    def add(self, response: dict[str, Any]) -> None:
        with self.lock:
            self.request_ids.append(response["ResponseMetadata"]["RequestId"])


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of this test's own; no trace of the developer's AWS setup."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    return tmp_path / "data"


@pytest.fixture
def restarted(data_dir: Path) -> Iterator[Callable[[], ShoalServer]]:
    """``restarted()`` starts a server on ``data_dir`` again; every one is stopped after."""
    servers: list[ShoalServer] = []

    def start() -> ShoalServer:
        servers.append(start_server(data_dir))
        return servers[-1]

    yield start
    for server in servers:
        if server.proc.poll() is None:
            stop_server(server)


def table_input(name: str) -> dict[str, Any]:
    """A partitioned CSV table definition, distinct per name."""
    return {
        "Name": name,
        "Description": f"table {name}",
        "StorageDescriptor": {
            "Columns": [{"Name": "x", "Type": "bigint"}, {"Name": name, "Type": "string"}],
            "Location": f"s3://{BUCKET}/{name}/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": ","},
            },
        },
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "csv", "sent": name},
    }


def partition_inputs(name: str) -> list[dict[str, Any]]:
    """Three partitions of table ``name``, created in one BatchCreatePartition."""
    return [
        {
            "Values": [day],
            "StorageDescriptor": {"Location": f"s3://{BUCKET}/{name}/dt={day}/"},
            "Parameters": {"day": day},
        }
        for day in ("2024-01-01", "2024-01-02", "2024-01-03")
    ]


def prepare(server: ShoalServer) -> None:
    """A small CSV table to query, and a quota on the workgroup to watch."""
    server.client("s3").create_bucket(Bucket=BUCKET)
    body = "".join(f"{i}\n" for i in range(ROWS)).encode()
    server.client("s3").put_object(Bucket=BUCKET, Key="events/part-0.csv", Body=body)
    glue = server.client("glue")
    glue.create_database(DatabaseInput={"Name": DATABASE})
    events = table_input("events")
    events["StorageDescriptor"]["Columns"] = [{"Name": "x", "Type": "bigint"}]
    events["PartitionKeys"] = []
    glue.create_table(DatabaseName=DATABASE, TableInput=events)
    made = shoal_cli(server, "quotas", "create", "wg", "--workgroup", "primary", "--limit", "1TB")
    assert made.returncode == 0, made.stderr


def glue_writer(server: ShoalServer, tag: str, answered: Answered, stop: threading.Event) -> None:
    """CreateTable then BatchCreatePartition, table after table, until the server dies."""
    glue = server.client("glue")
    for i in range(10_000):
        if stop.is_set():
            return
        name = f"t_{tag}_{i}"
        sent, parts = table_input(name), partition_inputs(name)
        with answered.lock:
            answered.sent_tables[name], answered.sent_partitions[name] = sent, parts
        try:
            answered.add(glue.create_table(DatabaseName=DATABASE, TableInput=sent))
            answered.tables[name] = sent
            done = glue.batch_create_partition(
                DatabaseName=DATABASE, TableName=name, PartitionInputList=parts
            )
        except Exception:  # the server is gone: the burst is over
            return
        answered.add(done)  # any per-partition Errors show up as missing partitions
        answered.partitions[name] = parts


def query_starter(server: ShoalServer, answered: Answered, stop: threading.Event) -> None:
    """StartQueryExecution (without waiting for results) until the server dies."""
    athena = server.client("athena")
    while not stop.is_set():
        try:
            started = athena.start_query_execution(QueryString=FAST_SQL)
        except Exception:
            return
        answered.add(started)
        with answered.lock:
            answered.query_ids.append(started["QueryExecutionId"])
        time.sleep(0.02)


def start_running(server: ShoalServer, answered: Answered) -> str:
    """Start the slow query and wait until it runs; its id."""
    athena = server.client("athena")
    started = athena.start_query_execution(QueryString=SLOW_SQL)
    answered.add(started)
    query_id: str = started["QueryExecutionId"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = athena.get_query_execution(QueryExecutionId=query_id)
        answered.add(got)
        if got["QueryExecution"]["Status"]["State"] == "RUNNING":
            return query_id
        time.sleep(0.05)
    raise AssertionError(f"the slow query never ran: {got['QueryExecution']['Status']}")


def burst_then_kill(server: ShoalServer, answered: Answered) -> None:
    """Glue writers and query starters in parallel; ``kill -9`` mid-flight."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=glue_writer, args=(server, tag, answered, stop))
        for tag in ("a", "b", "c")
    ]
    threads += [
        threading.Thread(target=query_starter, args=(server, answered, stop)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + BURST_SECONDS
    while time.monotonic() < deadline and not answered.enough():
        time.sleep(0.05)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)


def test_kill_9_mid_burst_then_restart_is_consistent(
    data_dir: Path, restarted: Callable[[], ShoalServer]
) -> None:
    server = restarted()
    prepare(server)
    answered = Answered()
    slow = start_running(server, answered)
    burst_then_kill(server, answered)
    assert answered.enough(), "the burst was too short"

    server = restarted()
    executions = all_executions(server)
    assert_audited_once(server, answered)
    assert_catalog_whole(server, answered)
    assert_restart_failed(executions, answered, slow)
    assert_usage_matches(server, executions)


def all_executions(server: ShoalServer) -> dict[str, dict[str, Any]]:
    """Every query execution the server knows, by id."""
    athena = server.client("athena")
    ids: list[str] = []
    for page in athena.get_paginator("list_query_executions").paginate():
        ids += page["QueryExecutionIds"]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 50):
        batch = athena.batch_get_query_execution(QueryExecutionIds=ids[start : start + 50])
        found.update((e["QueryExecutionId"], e) for e in batch["QueryExecutions"])
    return found


def assert_audited_once(server: ShoalServer, answered: Answered) -> None:
    records, _ = delivered(server)  # flushes what the dead process journaled
    recorded = Counter(r["requestID"] for r in records)
    missing = [rid for rid in answered.request_ids if recorded[rid] == 0]
    assert not missing, f"{len(missing)} answered requests have no audit record"
    assert max(recorded.values()) == 1, recorded.most_common(3)


def assert_catalog_whole(server: ShoalServer, answered: Answered) -> None:
    glue = server.client("glue")
    tables = {t["Name"]: t for t in paged(glue, "get_tables", "TableList", DatabaseName=DATABASE)}
    assert set(answered.tables) <= set(tables)
    for name, table in tables.items():
        if name == "events":
            continue
        assert_subset(answered.sent_tables[name], table)  # answered or not: all or nothing
        found = paged(glue, "get_partitions", "Partitions", DatabaseName=DATABASE, TableName=name)
        sent = answered.sent_partitions[name]
        expected = sent if name in answered.partitions or found else []
        assert len(found) == len(expected), f"{name}: {len(found)} of {len(sent)} partitions"
        by_values = {tuple(p["Values"]): p for p in found}
        for part in expected:
            assert_subset(part, by_values[tuple(part["Values"])])


def paged(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated listing."""
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**params):
        items += page[key]
    return items


def assert_subset(sent: Any, got: Any) -> None:
    """``got`` holds everything ``sent`` said, exactly (the service may add fields)."""
    if isinstance(sent, dict):
        for key, value in sent.items():
            assert key in got, f"{key} missing from {got}"
            assert_subset(value, got[key])
    else:
        assert sent == got


def assert_restart_failed(
    executions: dict[str, dict[str, Any]], answered: Answered, slow: str
) -> None:
    assert set(answered.query_ids) | {slow} <= set(executions)
    for execution in executions.values():
        status = execution["Status"]
        assert status["State"] in FINISHED, execution
        if status.get("StateChangeReason") == RESTARTED_REASON:
            assert status["State"] == "FAILED"
    slow_status = executions[slow]["Status"]
    assert (slow_status["State"], slow_status["StateChangeReason"]) == ("FAILED", RESTARTED_REASON)


def assert_usage_matches(server: ShoalServer, executions: dict[str, dict[str, Any]]) -> None:
    metered = [
        e for e in executions.values() if e["Status"].get("StateChangeReason") != RESTARTED_REASON
    ]
    scanned = sum(e["Statistics"].get("DataScannedInBytes", 0) for e in metered)
    assert scanned > 0
    usage = json.loads(cli_ok(server, "usage", "--output", "json"))
    assert sum(row["bytes_scanned"] for row in usage) == scanned
    assert sum(row["queries"] for row in usage) == len(metered)
    quotas = json.loads(cli_ok(server, "quotas", "list", "--output", "json"))
    assert [q["usage_bytes"] for q in quotas] == [scanned]


def cli_ok(server: ShoalServer, *args: str) -> str:
    """The stdout of a ``shoal`` command that must succeed."""
    done: subprocess.CompletedProcess[str] = shoal_cli(server, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_queries_finished_just_before_a_kill_are_recorded_once(
    data_dir: Path, restarted: Callable[[], ShoalServer]
) -> None:
    """A kill between a query's final state and its audit record leaves the execution
    marked as not yet heard of; the next server records it, exactly once, even when
    the dead one had journaled the record already."""
    server = restarted()
    athena = server.client("athena")
    journaled = athena.start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    while (
        athena.get_query_execution(QueryExecutionId=journaled)["QueryExecution"]["Status"]["State"]
        not in FINISHED
    ):
        time.sleep(0.05)
    stop_server(server)  # its records stay in the journal until the next start
    # What a kill -9 at the wrong moment leaves behind, for two executions of a dead
    # process: one whose record never got written, one whose record did.
    lost = str(uuid.uuid4())
    dead_owner = f"{socket.gethostname()}:999999999:dead"  # no such pid
    db = sqlite3.connect(data_dir / "catalog.db")
    db.row_factory = sqlite3.Row
    with db:
        found = db.execute("SELECT * FROM query_executions WHERE id = ?", (journaled,))
        row = dict(found.fetchone())
        row.update(id=lost, client_request_token=None, owner=dead_owner, listeners_pending=1)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        db.execute(f"INSERT INTO query_executions ({columns}) VALUES ({marks})", list(row.values()))
        db.execute(
            "UPDATE query_executions SET owner = ?, listeners_pending = 1 WHERE id = ?",
            (dead_owner, journaled),
        )
    db.close()

    server = restarted()
    records, _ = delivered(server)
    completed = Counter(
        r["requestID"] for r in records if r["eventName"] == "QueryExecutionCompleted"
    )
    assert (completed[lost], completed[journaled]) == (1, 1)
    db = sqlite3.connect(data_dir / "catalog.db")
    pending = db.execute("SELECT count(*) FROM query_executions WHERE listeners_pending").fetchone()
    db.close()
    assert pending == (0,)


PUT_BUCKET = "crash-puts"


def object_writer(
    server: ShoalServer, tag: str, answered: list[str], stop: threading.Event
) -> None:
    """PutObject after PutObject (distinct keys) until the server dies."""
    s3 = server.client("s3")
    body = os.urandom(256 * 1024)  # big enough that a kill often lands mid-request
    for i in range(100_000):
        if stop.is_set():
            return
        key = f"{tag}/{i:06d}"
        try:
            s3.put_object(Bucket=PUT_BUCKET, Key=key, Body=body)
        except Exception:  # the server is gone: the burst is over
            return
        answered.append(key)


def put_records(records: list[dict[str, Any]]) -> Counter[str]:
    """How many successful PutObject records each key of PUT_BUCKET has."""
    return Counter(
        r["requestParameters"]["key"]
        for r in records
        if r["eventName"] == "PutObject"
        and r["errorCode"] is None
        and r["requestParameters"]["bucketName"] == PUT_BUCKET
    )


def test_every_stored_object_has_its_put_record_across_kill_9(
    data_dir: Path, restarted: Callable[[], ShoalServer]
) -> None:
    """Whatever a kill -9 cut off: every object in the bucket afterwards (answered or
    not) has exactly one PutObject record, and so has every answered PutObject."""
    server = restarted()
    server.client("s3").create_bucket(Bucket=PUT_BUCKET)
    answered: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=object_writer, args=(server, tag, answered, stop))
        for tag in ("a", "b", "c", "d")
    ]
    for thread in threads:
        thread.start()
    while len(answered) < 40:
        time.sleep(0.01)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    server = restarted()
    stored = {
        o["Key"]
        for page in server.client("s3").get_paginator("list_objects_v2").paginate(Bucket=PUT_BUCKET)
        for o in page.get("Contents", [])
    }
    records, _ = delivered(server)
    recorded = put_records(records)
    assert set(answered) <= stored
    assert set(recorded) == stored, set(recorded) ^ stored
    assert max(recorded.values()) == 1


def test_a_put_completed_but_unanswered_at_a_kill_is_reconciled(
    data_dir: Path, restarted: Callable[[], ShoalServer]
) -> None:
    """What a kill -9 between storing an object and journaling its record leaves
    behind: the object, and the intent the request journaled before it ran (intent
    lines as ``audit.intents`` writes them). The next start records the request, from
    its intent; an intent whose object never arrived gets no record."""
    server = restarted()
    server.client("s3").create_bucket(Bucket=PUT_BUCKET)
    server.client("s3").put_object(Bucket=PUT_BUCKET, Key="answered.csv", Body=b"a\n")
    stop_server(server)
    # The answered PUT journaled its intent first, then its record settling it.
    lines = [json.loads(x) for x in (data_dir / "audit" / "journal").glob("*.jsonl")
             for x in x.read_bytes().splitlines()]  # fmt: skip
    opened = [x["shoalIntent"] for x in lines if "shoalIntent" in x]
    assert [(i["operation"], i["path"]) for i in opened] == [
        ("PutObject", f"/{PUT_BUCKET}/answered.csv")
    ]
    assert [x["shoalIntentDone"] for x in lines if "shoalIntentDone" in x] == [opened[0]["id"]]
    dead = f"{socket.gethostname()}:999999999"  # no such pid

    def intent(request_id: str, key: str) -> bytes:
        line = {
            "shoalIntent": {
                "id": request_id,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() - 5)),
                "owner": dead,
                "operation": "PutObject",
                "method": "PUT",
                "path": f"/{PUT_BUCKET}/{key}",
                "query": [],
                "access_key_id": ROOT_KEY_ID,
            }
        }
        return json.dumps(line).encode() + b"\n"

    completed, never = str(uuid.uuid4()), str(uuid.uuid4())
    journal = data_dir / "audit" / "journal" / "active.jsonl"
    with journal.open("ab") as out:
        out.write(intent(completed, "stored.csv") + intent(never, "never.csv"))
    (server.lake / PUT_BUCKET / "stored.csv").write_bytes(b"x\n")  # the write took effect

    server = restarted()
    records, _ = delivered(server)
    mine = {r["requestID"]: r for r in records if r["requestID"] in (completed, never)}
    assert list(mine) == [completed]
    record = mine[completed]
    assert (record["eventName"], record["errorCode"]) == ("PutObject", None)
    assert record["requestParameters"] == {"bucketName": PUT_BUCKET, "key": "stored.csv"}
    assert record["userIdentity"]["type"] == "Root"
    assert record["additionalEventData"]["reconciled"] is True
    # Once: a later roll does not record it again.
    again, _ = delivered(server)
    assert sum(r["requestID"] == completed for r in again) == 1
