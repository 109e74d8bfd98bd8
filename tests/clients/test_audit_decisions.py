"""Every decision is in the trail: refused requests and statements refused in SQL.

erin is mapped by user to a role that may query ``sample.zones`` only. Her refused
API requests record the role and the mapping like allowed ones, plus what was
refused; a query reading a table she may not read records ``errorCode``
AccessDenied and the table in its StartQueryExecution and QueryExecutionCompleted
records, where a syntax error records something else.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shoal.audit.journal import read_journal_lines

from .athena_runs import run_query
from .sample_server import RESULTS_BUCKET
from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]

SUFFIX = uuid.uuid4().hex[:8]
ERIN, ROLE = f"erin-{SUFFIX}", f"zones-only-{SUFFIX}"
OUTPUT = f"erin-{SUFFIX}"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "athena:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["glue:GetTable", "s3:GetObject"],
            "Resource": ["arn:aws:glue:*:*:table/sample/zones", "arn:aws:s3:::samples/zones/*"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": f"arn:aws:s3:::{RESULTS_BUCKET}/{OUTPUT}/*",
        },
    ],
}


@pytest.fixture(scope="module")
def erin(sample_server: ShoalServer) -> Callable[[str], Any]:
    iam = sample_server.client("iam")
    iam.create_user(UserName=ERIN)
    key = iam.create_access_key(UserName=ERIN)["AccessKey"]
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    iam.put_role_policy(RoleName=ROLE, PolicyName="zones", PolicyDocument=json.dumps(POLICY))
    cmd = [sys.executable, "-m", "shoal.cli", "--data", str(sample_server.data_dir)]
    cmd += ["role-mappings", "add", "--role", ROLE, "--user", ERIN]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return lambda service: sample_server.client(
        service,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def _records(server: ShoalServer) -> list[dict[str, Any]]:
    """Every audit record the server has journaled so far (not the intents of S3
    writes that share the journal: the journal's own reader tells them apart)."""
    journal = sorted((server.data_dir / "audit" / "journal").glob("*.jsonl"))
    return [record for path in journal for record in read_journal_lines(path)]


def _record(server: ShoalServer, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The newest record ``match`` accepts, waiting a little for it to be journaled."""
    deadline = time.monotonic() + 10
    while True:
        found = [r for r in _records(server) if match(r)]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            raise AssertionError("no such audit record")
        time.sleep(0.05)


def _start_record(server: ShoalServer, query_id: str) -> dict[str, Any]:
    """The StartQueryExecution record that answered ``query_id``."""
    return _record(
        server,
        lambda r: (
            _mine("StartQueryExecution")(r)
            and (r["responseElements"] or {}).get("QueryExecutionId") == query_id
        ),
    )


def _start(athena: Any, sql: str) -> tuple[str, dict[str, Any]]:
    execution = run_query(athena, sql, f"s3://{RESULTS_BUCKET}/{OUTPUT}/")
    return str(execution["QueryExecutionId"]), dict(execution["Status"])


def _mine(event: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["eventName"] == event and r["userIdentity"].get("userName") == ERIN


def test_refused_requests_carry_role_and_role_mapping(
    erin: Callable[[str], Any], sample_server: ShoalServer
) -> None:
    with pytest.raises(ClientError):
        erin("glue").get_table(DatabaseName="sample", Name="trips")
    with pytest.raises(ClientError):
        erin("s3").get_object(Bucket="samples", Key="trips/year=2024/month=01/x.parquet")
    glue = _record(sample_server, _mine("GetTable"))
    assert glue["errorCode"] == "AccessDeniedException"
    extra = glue["additionalEventData"]
    assert extra["role"] == ROLE
    assert extra["roleMapping"].endswith(f"(user {ERIN})")
    assert extra["deniedAction"] == "glue:GetTable"
    assert extra["deniedResource"].endswith(":table/sample/trips")
    s3 = _record(sample_server, _mine("GetObject"))
    assert s3["errorCode"] == "AccessDenied"
    assert (s3["additionalEventData"]["role"], s3["additionalEventData"]["deniedAction"]) == (
        ROLE,
        "s3:GetObject",
    )
    assert s3["additionalEventData"]["roleMapping"].endswith(f"(user {ERIN})")


def test_a_query_refused_in_sql_records_access_denied_and_the_table(
    erin: Callable[[str], Any], sample_server: ShoalServer
) -> None:
    query_id, status = _start(erin("athena"), "SELECT count(*) FROM zones CROSS JOIN trips")
    assert status["State"] == "FAILED"
    started = _start_record(sample_server, query_id)
    completed = _record(sample_server, lambda r: r["requestID"] == query_id)
    assert completed["eventName"] == "QueryExecutionCompleted"
    # An API call's facts are in additionalEventData, a service event's (the completion)
    # in serviceEventDetails.
    for record, facts in ((started, "additionalEventData"), (completed, "serviceEventDetails")):
        assert record["errorCode"] == "AccessDenied"
        assert "glue:GetTable" in record["errorMessage"]
        extra = record[facts]
        assert extra["deniedTable"] == "sample.trips"
        assert extra["deniedAction"] == "glue:GetTable"
        assert extra["role"] == ROLE and extra["roleMapping"].endswith(f"(user {ERIN})")
    assert completed["serviceEventDetails"]["state"] == "FAILED"


def test_a_syntax_error_is_told_apart_from_a_refusal(
    erin: Callable[[str], Any], sample_server: ShoalServer
) -> None:
    query_id, status = _start(erin("athena"), "SELEKT nonsense FROM")
    assert status["State"] == "FAILED"
    started = _start_record(sample_server, query_id)
    assert started["errorCode"] is None  # accepted; the statement failed later
    completed = _record(sample_server, lambda r: r["requestID"] == query_id)
    assert completed["errorCode"] not in (None, "AccessDenied")
    assert completed["serviceEventDetails"]["deniedTable"] is None


def test_a_write_refused_when_it_runs_is_in_the_completion_record(
    erin: Callable[[str], Any], sample_server: ShoalServer
) -> None:
    """Statements other than queries are authorized when they run: their refusal is in
    the QueryExecutionCompleted record (the StartQueryExecution one was written before)."""
    sql = f"CREATE TABLE audit_{SUFFIX} AS SELECT * FROM zones"
    query_id, status = _start(erin("athena"), sql)
    assert status["State"] == "FAILED"
    completed = _record(sample_server, lambda r: r["requestID"] == query_id)
    assert completed["errorCode"] == "AccessDenied"
    extra = completed["serviceEventDetails"]
    assert extra["deniedAction"] == "glue:CreateTable"
    assert extra["deniedTable"] == f"sample.audit_{SUFFIX}"
