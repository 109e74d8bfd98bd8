"""The journal's durability, roll-over into CloudTrail-layout log files, the table."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shoal.audit import journal as journal_module
from shoal.audit.catalog import AUDIT_DATABASE, AUDIT_TABLE
from shoal.audit.journal import read_journal_lines
from shoal.engine.duckdb import DuckDBEngine
from shoal.queries.context import StatementContext
from shoal.queries.runner import StatementRunner

from .conftest import ACCOUNT, BUCKET, REGION, TrailEnv, s3_record

LOG_KEY = re.compile(
    rf"^AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/(\d{{4}})/(\d{{2}})/(\d{{2}})/"
    rf"{ACCOUNT}_CloudTrail_{REGION}_\d{{8}}T\d{{4}}Z_[0-9a-f]{{16}}\.json\.gz$"
)

CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from shoal.audit.trail import AuditTrail, TrailLayout
    from shoal.catalog.store import CatalogStore
    from shoal.storage.local import LocalStorage

    data = Path(sys.argv[1])
    trail = AuditTrail(LocalStorage(data / "lake"), CatalogStore(f"sqlite:///{data}/c.db"),
                       data, TrailLayout("shoal-audit", "123456789012", "us-east-1"))
    lock = threading.Lock()

    def work(worker):
        n = 0
        while True:
            rid = f"{worker}-{n}"
            trail.append({"eventTime": "2024-05-06T07:08:09Z", "requestID": rid,
                          "padding": "x" * 200})
            with lock:
                print(rid, flush=True)
            n += 1

    for w in range(4):
        threading.Thread(target=work, args=(w,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_acknowledged_records_survive_kill_9(env: TrailEnv) -> None:
    acked: list[str] = []
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(env.data)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    while len(acked) < 300:
        acked.append(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # What the child printed after our last read was acknowledged too; never lost.
    acked += [line.strip() for line in proc.stdout if line.strip()]
    summary = env.trail().roll()
    delivered = Counter(r["requestID"] for r in env.delivered())
    assert set(acked) <= set(delivered)
    assert max(delivered.values()) == 1  # no record delivered twice
    assert summary.records == len(delivered)


def test_appends_share_fsyncs(env: TrailEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    syncs = []
    real = os.fsync
    monkeypatch.setattr(journal_module, "_sync", lambda fd: (syncs.append(fd), real(fd)))
    trail = env.trail()
    threads = [
        threading.Thread(target=lambda: [trail.append(s3_record()) for _ in range(25)])
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    trail.close()
    assert len(trail.pending_records()) == 400
    assert len(syncs) < 400  # group commit: concurrent appends share an fsync


def test_append_writes_at_once_and_syncs_later(
    env: TrailEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[int] = []
    real = os.fsync
    monkeypatch.setattr(journal_module, "_sync", lambda fd: (syncs.append(fd), real(fd)))
    journal = journal_module.Journal(env.data / "journal", sync_seconds=60)
    journal.append(b'{"eventTime": "2024-05-06T07:08:09Z"}\n')
    # Written (a process kill no longer loses it), not yet synced: that is the syncer's.
    assert journal.path.read_bytes().count(b"\n") == 1
    assert syncs == []
    journal.sync()
    assert len(syncs) == 1
    journal.sync()  # nothing new: no second fsync
    assert len(syncs) == 1
    journal.append(b'{"eventTime": "2024-05-06T07:08:10Z"}\n')
    journal.close()  # syncs what is left
    assert len(syncs) == 2
    assert len(read_journal_lines(journal.path)) == 2


def test_roll_writes_cloudtrail_log_files_at_cloudtrail_keys(env: TrailEnv) -> None:
    trail = env.trail()
    today = datetime(2024, 5, 6, 23, 59, tzinfo=UTC)
    for user, when in [("alice", today), ("bob", today), ("alice", today + timedelta(minutes=2))]:
        trail.append(s3_record(user, when))
    summary = trail.roll()
    trail.close()
    assert summary.records == 3
    keys = env.log_keys()
    assert len(keys) == 2  # one log file per event day
    assert [LOG_KEY.match(k).groups() for k in keys] == [  # type: ignore[union-attr]
        ("2024", "05", "06"),
        ("2024", "05", "07"),
    ]
    # As CloudTrail writes them: one gzipped JSON document, {"Records": [...]}.
    first = json.loads(gzip.decompress(env.storage.read(BUCKET, keys[0])))
    assert list(first) == ["Records"] and len(first["Records"]) == 2
    record = first["Records"][0]
    assert record["eventName"] == "GetObject" and record["userIdentity"]["userName"] == "alice"
    assert record["requestParameters"] == {"bucketName": "data", "key": "k"}
    assert (record["eventCategory"], record["managementEvent"]) == ("Data", False)
    assert record["resources"][0] == {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::data/k"}
    assert trail.pending_records() == []
    assert not list((env.data / "audit" / "journal").glob("segment-*"))


def test_torn_last_line_is_skipped_and_appends_continue(env: TrailEnv) -> None:
    journal = env.data / "audit" / "journal"
    journal.mkdir(parents=True)
    good = json.dumps(s3_record("alice")).encode()
    (journal / "active.jsonl").write_bytes(good + b"\n" + good[:40])  # torn by a crash
    trail = env.trail()
    trail.append(s3_record("bob"))
    trail.roll()
    trail.close()
    users = sorted(r["userIdentity"]["userName"] for r in env.delivered())
    assert users == ["alice", "bob"]


def test_reroll_after_a_crash_rewrites_the_same_objects(env: TrailEnv) -> None:
    trail = env.trail()
    trail.append(s3_record())
    segment = trail.journal.rotate()[0]
    copy = segment.read_bytes()
    trail.roll()
    first = {k: env.storage.read(BUCKET, k) for k in env.log_keys()}
    # A crash after delivery but before the state recorded it: the segment is back.
    (env.data / "audit" / "state.json").unlink()
    segment.write_bytes(copy)
    trail.roll()
    trail.close()
    assert {k: env.storage.read(BUCKET, k) for k in env.log_keys()} == first


def test_audit_table_is_catalogued_as_aws_documents_it(env: TrailEnv) -> None:
    trail = env.trail()
    day1 = datetime(2024, 5, 6, 12, tzinfo=UTC)
    trail.append(s3_record("alice", day1))
    trail.append(s3_record("bob", day1 + timedelta(days=1)))
    trail.roll()
    trail.close()
    table = env.catalog.get_table(AUDIT_DATABASE, AUDIT_TABLE)
    assert [c.name for c in table.partition_keys] == ["region", "year", "month", "day"]
    assert table.storage.location == f"s3://{BUCKET}/AWSLogs/{ACCOUNT}"
    assert table.storage.serde.serialization_library == "org.apache.hive.hcatalog.data.JsonSerDe"
    assert table.storage.input_format == "com.amazon.emr.cloudtrail.CloudTrailInputFormat"
    parts = env.catalog.list_partitions(AUDIT_DATABASE, AUDIT_TABLE)
    assert [p.values for p in parts] == [
        (REGION, "2024", "05", "06"),
        (REGION, "2024", "05", "07"),
    ]
    assert parts[0].storage.location.endswith(f"/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/05/06/")


def test_audit_table_answers_sql(env: TrailEnv, tmp_path: Path) -> None:
    """Reads the catalogued table through its CloudTrailInputFormat (needs the
    CloudTrail reading of the serdes branch)."""
    trail = env.trail()
    day1 = datetime(2024, 5, 6, 12, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    events = [("alice", day1)] * 3 + [("bob", day1)] + [("alice", day2), ("bob", day2)] * 2
    for user, when in events:
        trail.append(s3_record(user, when))
    trail.roll()
    trail.close()
    engine = DuckDBEngine([str(env.data / "lake")], str(tmp_path / "spill"), "1GB", 1)
    try:
        runner = StatementRunner(env.catalog, env.storage, engine)
        outcome = runner.run(
            "SELECT useridentity.username AS u, year || '-' || month || '-' || day AS d, "
            "count(*) AS n FROM shoal_audit.cloudtrail GROUP BY 1, 2 ORDER BY 1, 2",
            StatementContext(query_id="q1", output_location="s3://results/"),
        )
        rows = outcome.rows.to_pylist()
    finally:
        engine.close()
    expected = Counter((u, w.strftime("%Y-%m-%d")) for u, w in events)
    assert {(r["u"], r["d"]): r["n"] for r in rows} == expected
