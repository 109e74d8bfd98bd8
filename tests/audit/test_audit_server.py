"""Through a real ``shoal serve``: one audit record per API request, allowed or not,
named as CloudTrail names it, with no secret in it; and none lost to ``kill -9``."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from clients.server import ROOT_SECRET, ShoalServer

BODY_SECRET = "BODYSECRET-1b6f0c"
META_SECRET = "METASECRET-7d21aa"
GLUE_SECRET = "GLUESECRET-90ce4e"


def shoal_cli(server: ShoalServer, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "shoal.cli", "--data", str(server.data_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=server.env(), timeout=60)


def delivered(server: ShoalServer) -> tuple[list[dict[str, Any]], str]:
    """Flush the trail with the CLI; every delivered record and the raw text."""
    assert shoal_cli(server, "audit", "flush").returncode == 0
    text, logs = "", []
    for path in sorted((server.lake / "shoal-audit").rglob("*_CloudTrail_*.json.gz")):
        content = gzip.decompress(path.read_bytes()).decode()
        logs += json.loads(content)["Records"]  # CloudTrail's log file document
        text += content
    return logs, text


def error_of(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def raw_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_one_record_per_request_named_and_without_secrets(server: ShoalServer) -> None:
    s3, glue = server.client("s3"), server.client("glue")
    bucket, database = f"a-{uuid.uuid4().hex[:12]}", f"db_{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="k.txt", Body=BODY_SECRET.encode(), Metadata={"m": META_SECRET}
    )
    s3.get_object(Bucket=bucket, Key="k.txt")["Body"].read()
    s3.head_bucket(Bucket=bucket)
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="missing")) == "NoSuchKey"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k.txt"})
    signature = url.split("X-Amz-Signature=")[1]
    assert raw_status(url) == 200
    assert raw_status(f"{server.url}/{bucket}?list-type=2") == 403  # unsigned
    forged = server.client("s3", aws_secret_access_key="not-the-secret-0000000000000000000000")
    assert error_of(lambda: forged.list_objects_v2(Bucket=bucket)) == "SignatureDoesNotMatch"
    glue.create_database(DatabaseInput={"Name": database, "Parameters": {"password": GLUE_SECRET}})
    assert error_of(lambda: glue.get_database(Name="nope")) == "EntityNotFoundException"
    server.client("sts").get_caller_identity()
    server.client("iam").list_users()

    records, text = delivered(server)
    made = Counter(
        {
            ("s3.amazonaws.com", "CreateBucket", None): 1,
            ("s3.amazonaws.com", "PutObject", None): 1,
            ("s3.amazonaws.com", "GetObject", None): 2,  # signed and presigned
            ("s3.amazonaws.com", "HeadBucket", None): 1,
            ("s3.amazonaws.com", "GetObject", "NoSuchKey"): 1,
            ("s3.amazonaws.com", "ListObjectsV2", "AccessDenied"): 1,
            ("s3.amazonaws.com", "ListObjectsV2", "SignatureDoesNotMatch"): 1,
            ("glue.amazonaws.com", "CreateDatabase", None): 1,
            ("glue.amazonaws.com", "GetDatabase", "EntityNotFoundException"): 1,
            ("sts.amazonaws.com", "GetCallerIdentity", None): 1,
            ("iam.amazonaws.com", "ListUsers", None): 1,
        }
    )
    assert Counter((r["eventSource"], r["eventName"], r["errorCode"]) for r in records) == made
    signed = [r for r in records if r["errorCode"] not in ("AccessDenied", "SignatureDoesNotMatch")]
    assert {r["userIdentity"]["type"] for r in signed} == {"Root"}
    assert len({r["requestID"] for r in records}) == len(records)
    for secret in (ROOT_SECRET, BODY_SECRET, META_SECRET, GLUE_SECRET, signature):
        assert secret not in text
    assert "AWS4-HMAC-SHA256 Credential" not in text and "X-Amz-Signature" not in text

    verify = shoal_cli(server, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit trail intact" in verify.stdout


def test_kill_9_loses_no_answered_request(server: ShoalServer) -> None:
    answered: list[str] = []
    stop = threading.Event()

    def burst() -> None:
        sts = server.client("sts")
        while not stop.is_set():
            try:
                answered.append(sts.get_caller_identity()["ResponseMetadata"]["RequestId"])
            except Exception:  # the server is gone: the burst is over
                return

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    while len(answered) < 100:
        threading.Event().wait(0.01)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for thread in threads:
        thread.join()
    records, _ = delivered(server)  # the CLI recovers the dead server's journal
    recorded = Counter(r["requestID"] for r in records)
    assert set(answered) <= set(recorded)
    assert max(recorded.values()) == 1


def test_shoal_sql_queries_are_in_the_trail(server: ShoalServer) -> None:
    """The CLI is a door like the API: ``shoal sql`` leaves the record of the command
    and the query's completion, each once, in the server's trail."""
    ran = shoal_cli(server, "sql", "SELECT 42 AS answer", "--output", "json")
    assert ran.returncode == 0, ran.stderr
    records, _ = delivered(server)
    commands = [r for r in records if (r["eventSource"], r["eventName"]) == ("shoal", "Sql")]
    assert len(commands) == 1
    assert commands[0]["requestParameters"]["query"] == "SELECT 42 AS answer"
    assert commands[0]["userIdentity"]["type"] == "Root" and commands[0]["errorCode"] is None
    completed = [r for r in records if r["eventName"] == "QueryExecutionCompleted"]
    assert len(completed) == 1
    details = completed[0]["serviceEventDetails"]
    assert (details["state"], completed[0]["eventType"]) == ("SUCCEEDED", "AwsServiceEvent")
    assert len({r["requestID"] for r in records}) == len(records)
