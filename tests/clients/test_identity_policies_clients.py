"""User and group policies obeyed through the real server, set the IAM way with boto3.

bob is mapped (``shoal role-mappings``) to a role allowing everything on S3, Glue and
Athena; then an administrator restricts him with PutUserPolicy / AttachGroupPolicy.
The restriction must hold for S3 requests and for the tables SQL reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
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
BOB, TEAM, ROLE = f"bob-{SUFFIX}", f"team-{SUFFIX}", f"everything-{SUFFIX}"
LAKE = f"lake-{SUFFIX}"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "glue:*", "athena:*"], "Resource": "*"}],
}


def _deny(action: str, resource: str) -> str:
    statement = {"Effect": "Deny", "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def bob(sample_server: ShoalServer) -> Callable[[str], Any]:
    """bob in group team, mapped to a role allowing everything; his client factory."""
    iam = sample_server.client("iam")
    iam.create_user(UserName=BOB)
    key = iam.create_access_key(UserName=BOB)["AccessKey"]
    iam.create_group(GroupName=TEAM)
    iam.add_user_to_group(GroupName=TEAM, UserName=BOB)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    iam.put_role_policy(RoleName=ROLE, PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    cmd = [sys.executable, "-m", "shoal.cli", "--data", str(sample_server.data_dir)]
    cmd += ["role-mappings", "add", "--role", ROLE, "--user", BOB]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    s3 = sample_server.client("s3")
    s3.create_bucket(Bucket=LAKE)
    for key_name in ("hr/x.csv", "public/y.csv"):
        s3.put_object(Bucket=LAKE, Key=key_name, Body=b"a,b\n1,2\n")
    return lambda service: sample_server.client(
        service,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def _access_denied(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
    return str(caught.value.response["Error"]["Message"])


def test_a_user_policy_deny_is_obeyed_the_issue_repro(
    bob: Callable[[str], Any], sample_server: ShoalServer
) -> None:
    s3 = bob("s3")
    assert s3.get_object(Bucket=LAKE, Key="hr/x.csv")["Body"].read() == b"a,b\n1,2\n"
    iam = sample_server.client("iam")
    iam.put_user_policy(
        UserName=BOB,
        PolicyName="no-hr",
        PolicyDocument=_deny("s3:GetObject", f"arn:aws:s3:::{LAKE}/hr/*"),
    )
    try:
        message = _access_denied(lambda: s3.get_object(Bucket=LAKE, Key="hr/x.csv"))
        assert f"explicit deny by policy user/{BOB} inline no-hr" in message
        assert s3.get_object(Bucket=LAKE, Key="public/y.csv")["Body"].read() == b"a,b\n1,2\n"
    finally:
        iam.delete_user_policy(UserName=BOB, PolicyName="no-hr")
    assert s3.get_object(Bucket=LAKE, Key="hr/x.csv")["Body"].read() == b"a,b\n1,2\n"


def test_a_group_attached_policy_deny_is_obeyed(
    bob: Callable[[str], Any], sample_server: ShoalServer
) -> None:
    iam = sample_server.client("iam")
    arn = iam.create_policy(
        PolicyName=f"no-public-{SUFFIX}",
        PolicyDocument=_deny("s3:GetObject", f"arn:aws:s3:::{LAKE}/public/*"),
    )["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=TEAM, PolicyArn=arn)
    try:
        message = _access_denied(lambda: bob("s3").get_object(Bucket=LAKE, Key="public/y.csv"))
        assert f"group/{TEAM} attached no-public-{SUFFIX}" in message
    finally:
        iam.detach_group_policy(GroupName=TEAM, PolicyArn=arn)


def _query(athena: Any, sql: str) -> dict[str, Any]:
    return run_query(athena, sql, f"s3://{RESULTS_BUCKET}/iam-{SUFFIX}/")


def test_user_and_group_denies_hold_for_the_tables_sql_reads(
    bob: Callable[[str], Any], sample_server: ShoalServer
) -> None:
    athena, iam = bob("athena"), sample_server.client("iam")
    assert _query(athena, "SELECT count(*) FROM zones")["Status"]["State"] == "SUCCEEDED"
    iam.put_user_policy(
        UserName=BOB,
        PolicyName="no-zones",
        PolicyDocument=_deny("glue:GetTable", "arn:aws:glue:*:*:table/sample/zones"),
    )
    iam.put_group_policy(
        GroupName=TEAM,
        PolicyName="no-trip-data",
        PolicyDocument=_deny("s3:GetObject", "arn:aws:s3:::samples/trips/*"),
    )
    try:
        zones = _query(athena, "SELECT count(*) FROM zones")["Status"]
        assert zones["State"] == "FAILED"
        assert "glue:GetTable on resource: arn:aws:glue:" in zones["StateChangeReason"]
        assert f"user/{BOB} inline no-zones" in zones["StateChangeReason"]
        trips = _query(athena, "SELECT count(*) FROM trips")["Status"]
        assert trips["State"] == "FAILED"
        assert f"group/{TEAM} inline no-trip-data" in trips["StateChangeReason"]
        assert _query(athena, "SELECT 1")["Status"]["State"] == "SUCCEEDED"
    finally:
        iam.delete_user_policy(UserName=BOB, PolicyName="no-zones")
        iam.delete_group_policy(GroupName=TEAM, PolicyName="no-trip-data")
    assert _query(athena, "SELECT count(*) FROM zones")["Status"]["State"] == "SUCCEEDED"
