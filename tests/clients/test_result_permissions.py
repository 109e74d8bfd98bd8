"""Athena's result permissions through the real server, with boto3.

carol and dan share the ``primary`` workgroup and both may use Athena on it. carol may
read ``sample.zones`` and her result folder; dan may read neither, only his own
results. Knowing carol's execution id, dan cannot read her rows or see her query
until a policy allows him ``s3:GetObject`` on her result file, as Athena requires.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .athena_runs import run_query
from .sample_server import RESULTS_BUCKET
from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]

SUFFIX = uuid.uuid4().hex[:8]
CAROL, DAN = f"carol-{SUFFIX}", f"dan-{SUFFIX}"
CAROL_OUT, DAN_OUT = f"carol-{SUFFIX}", f"dan-{SUFFIX}"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _results(folder: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:GetObject"],
        "Resource": f"arn:aws:s3:::{RESULTS_BUCKET}/{folder}/*",
    }


ATHENA = {"Effect": "Allow", "Action": "athena:*", "Resource": "*"}
ZONES = {
    "Effect": "Allow",
    "Action": ["glue:GetTable", "s3:GetObject"],
    "Resource": ["arn:aws:glue:*:*:table/sample/zones", "arn:aws:s3:::samples/zones/*"],
}


@pytest.fixture(scope="module")
def users(sample_server: ShoalServer) -> dict[str, Callable[[str], Any]]:
    """carol and dan, each with policies of their own (no role mapping names them)."""
    iam = sample_server.client("iam")
    clients = {}
    for name, statements in (
        (CAROL, [ATHENA, ZONES, _results(CAROL_OUT)]),
        (DAN, [ATHENA, _results(DAN_OUT)]),
    ):
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        iam.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=_policy(*statements))
        clients[name] = _factory(sample_server, key)
    return clients


def _factory(server: ShoalServer, key: dict[str, str]) -> Callable[[str], Any]:
    return lambda service: server.client(
        service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )


def _run(athena: Any, sql: str, folder: str) -> str:
    execution = run_query(athena, sql, f"s3://{RESULTS_BUCKET}/{folder}/")
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return str(execution["QueryExecutionId"])


def _rows(athena: Any, query_id: str) -> list[list[str | None]]:
    result = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    return [[d.get("VarCharValue") for d in row["Data"]] for row in result]


def _denied(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"  # Athena's shape: HTTP 400
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error["Message"])


def test_another_users_results_need_s3_get_object_on_the_output(
    users: dict[str, Callable[[str], Any]], sample_server: ShoalServer
) -> None:
    carol, dan = users[CAROL]("athena"), users[DAN]("athena")
    theirs = _run(carol, "SELECT count(*) AS n FROM zones", CAROL_OUT)
    expected = _rows(carol, theirs)
    mine = _run(dan, "SELECT 42 AS answer", DAN_OUT)
    assert _rows(dan, mine) == [["answer"], ["42"]]  # his own results: readable

    message = _denied(lambda: dan.get_query_results(QueryExecutionId=theirs))
    resource = f"arn:aws:s3:::{RESULTS_BUCKET}/{CAROL_OUT}/{theirs}.csv"
    assert f"is not authorized to perform: s3:GetObject on resource: {resource}" in message
    _denied(lambda: dan.get_query_execution(QueryExecutionId=theirs))
    batch = dan.batch_get_query_execution(QueryExecutionIds=[theirs, mine])
    assert [e["QueryExecutionId"] for e in batch["QueryExecutions"]] == [mine]
    [hidden] = batch["UnprocessedQueryExecutionIds"]
    assert (hidden["QueryExecutionId"], hidden["ErrorCode"]) == (theirs, "AccessDeniedException")
    listed = dan.list_query_executions(WorkGroup="primary", MaxResults=50)["QueryExecutionIds"]
    assert mine in listed and theirs not in listed
    assert theirs in carol.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]

    iam = sample_server.client("iam")
    grant = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{RESULTS_BUCKET}/{CAROL_OUT}/*",
    }
    iam.put_user_policy(UserName=DAN, PolicyName="carols-results", PolicyDocument=_policy(grant))
    try:
        assert _rows(dan, theirs) == expected
        shown = dan.get_query_execution(QueryExecutionId=theirs)["QueryExecution"]
        assert shown["Query"] == "SELECT count(*) AS n FROM zones"
        batch = dan.batch_get_query_execution(QueryExecutionIds=[theirs, mine])
        assert {e["QueryExecutionId"] for e in batch["QueryExecutions"]} == {theirs, mine}
        listed = dan.list_query_executions(WorkGroup="primary", MaxResults=50)
        assert theirs in listed["QueryExecutionIds"]
    finally:
        iam.delete_user_policy(UserName=DAN, PolicyName="carols-results")


def test_own_results_need_s3_get_object_too(
    users: dict[str, Callable[[str], Any]], sample_server: ShoalServer
) -> None:
    """Athena asks for s3:GetObject on the output even from the query's own caller."""
    dan = users[DAN]("athena")
    iam = sample_server.client("iam")
    only_put = {
        "Effect": "Deny",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{RESULTS_BUCKET}/{DAN_OUT}/no-read/*",
    }
    iam.put_user_policy(UserName=DAN, PolicyName="no-read", PolicyDocument=_policy(only_put))
    try:
        query_id = _run(dan, "SELECT 1", f"{DAN_OUT}/no-read")
        _denied(lambda: dan.get_query_results(QueryExecutionId=query_id))
        # His own execution stays visible: only its rows need the result file.
        assert dan.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Query"]
    finally:
        iam.delete_user_policy(UserName=DAN, PolicyName="no-read")


def test_reading_the_result_file_through_s3_is_the_same_permission(
    users: dict[str, Callable[[str], Any]],
) -> None:
    carol = users[CAROL]("athena")
    theirs = _run(carol, "SELECT 7 AS seven", CAROL_OUT)
    key = f"{CAROL_OUT}/{theirs}.csv"
    assert b"seven" in users[CAROL]("s3").get_object(Bucket=RESULTS_BUCKET, Key=key)["Body"].read()
    with pytest.raises(ClientError) as caught:
        users[DAN]("s3").get_object(Bucket=RESULTS_BUCKET, Key=key)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def test_root_sees_every_execution(
    users: dict[str, Callable[[str], Any]], sample_server: ShoalServer
) -> None:
    theirs = _run(users[CAROL]("athena"), "SELECT 3 AS three", CAROL_OUT)
    root = sample_server.client("athena")
    assert root.get_query_results(QueryExecutionId=theirs)["ResultSet"]["Rows"][1]["Data"] == [
        {"VarCharValue": "3"}
    ]
