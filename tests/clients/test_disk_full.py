"""A full disk is an answer: 507 InsufficientStorage in each protocol's shape, no
partial object, the catalog and the audit trail whole, reads still served.

The server runs with its data folder on a 48 MiB tmpfs of its own: ``unshare -rm``
gives it a private mount namespace (as an unprivileged user) where it mounts one, so
ENOSPC is the kernel's real answer. ``nsenter`` looks inside the same namespace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .rawhttp import connect, read_answer, signed_head
from .server import ShoalServer, served

MiB = 1024 * 1024
MOUNT = 'mount -t tmpfs -o size=48m tmpfs "$1" && shift && exec "$@"'


def _can_mount_tmpfs(folder: Path) -> bool:
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return False
    folder.mkdir(exist_ok=True)
    probe = ["unshare", "-rm", "sh", "-c", MOUNT, "sh", str(folder), "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[ShoalServer]:
    data = tmp_path / "data"
    if not _can_mount_tmpfs(data):
        pytest.skip("needs unshare -rm and nsenter to mount a private tmpfs")
    with served(data, wrapper=["unshare", "-rm", "sh", "-c", MOUNT, "sh", str(data)]) as server:
        yield server


def _inside(server: ShoalServer, *command: str) -> str:
    """Run ``command`` in the server's mount namespace (where the tmpfs is)."""
    pid = str(server.proc.pid)
    enter = ["nsenter", "-t", pid, "-U", "-m", "--preserve-credentials"]
    done = subprocess.run([*enter, *command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _fill(s3: object, bucket: str) -> list[str]:
    """Objects written until not even 1 KiB fits; their keys."""
    keys, size = [], 8 * MiB
    while size >= 1024:
        key = f"fill/{len(keys)}"
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=b"f" * size)  # type: ignore[attr-defined]
            keys.append(key)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InsufficientStorage"
            size //= 2
    return keys


def test_a_full_disk_answers_507_and_loses_nothing(small_disk: ShoalServer) -> None:
    server = small_disk
    s3, athena = server.client("s3"), server.client("athena")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="keep.csv", Body=b"a,b\n1,2\n")

    # An object larger than the disk: 507 in S3's XML shape, and no trace of it.
    with pytest.raises(ClientError) as too_big:
        s3.put_object(Bucket="lake", Key="big", Body=b"x" * (64 * MiB))
    assert _code(too_big) == ("InsufficientStorage", 507)
    assert "disk is full" in too_big.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket="lake", Key="big")
    staging = str(server.lake / ".shoal-staging")
    assert _inside(server, "ls", "-A", staging) == ""

    # Filled to the last KiB: writes get 507 in every protocol, reads are served.
    fillers = _fill(s3, "lake")
    query = {"QueryString": "SELECT 1", "ResultConfiguration": {
        "OutputLocation": "s3://lake/results/"}}  # fmt: skip
    with pytest.raises(ClientError) as refused:
        athena.start_query_execution(**query)
    assert _code(refused) == ("InsufficientStorage", 507)
    json_answer = _json_call(server, "AmazonAthena.StartQueryExecution", query)
    assert json_answer[0] == 507 and json_answer[1]["__type"] == "InsufficientStorage"
    assert "disk is full" in json_answer[1]["message"]
    with pytest.raises(ClientError) as glue_refused:
        server.client("glue").create_database(DatabaseInput={"Name": "full"})
    assert _code(glue_refused) == ("InsufficientStorage", 507)
    assert s3.get_object(Bucket="lake", Key="keep.csv")["Body"].read() == b"a,b\n1,2\n"
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]}
    assert listed == {"keep.csv", *fillers}
    assert athena.list_query_executions()["QueryExecutionIds"] == []

    # Space back: everything works again, and nothing refused left a trace.
    s3.delete_objects(Bucket="lake", Delete={"Objects": [{"Key": k} for k in fillers]})
    execution_id = athena.start_query_execution(**query)["QueryExecutionId"]
    state = _wait(athena, execution_id)
    assert state == "SUCCEEDED"
    rows = athena.get_query_results(QueryExecutionId=execution_id)["ResultSet"]["Rows"]
    assert rows[-1]["Data"][0]["VarCharValue"] == "1"
    assert athena.list_query_executions()["QueryExecutionIds"] == [execution_id]
    assert server.client("glue").get_databases()["DatabaseList"] is not None
    with pytest.raises(ClientError):
        server.client("glue").get_database(Name="full")
    # The audit trail recorded every request, refused ones too, and its chain holds.
    cli = [sys.executable, "-m", "shoal.cli", "--data", str(server.data_dir), "audit"]
    _inside(server, *cli, "flush")
    _inside(server, *cli, "verify")
    tail = _inside(server, *cli, "tail", "-n", "200", "--output", "json")
    assert tail.count("InsufficientStorage") >= 4, tail[-2000:]


def _json_call(server: ShoalServer, target: str, params: dict[str, object]) -> tuple[int, dict]:
    """A JSON 1.1 call (the protocol older botocore speaks to Athena)."""
    body = json.dumps(params).encode()
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    head, _ = signed_head(server, "POST", "/", "athena", headers, body)
    sock = connect(server)
    sock.sendall(head + body)
    answer = read_answer(sock)
    sock.close()
    return answer.status, json.loads(answer.body)


def _wait(athena: object, execution_id: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = athena.get_query_execution(QueryExecutionId=execution_id)  # type: ignore[attr-defined]
        state: str = status["QueryExecution"]["Status"]["State"]
        if state not in ("QUEUED", "RUNNING"):
            return state
        time.sleep(0.1)
    raise AssertionError("query did not finish")
