"""The IAM API through unmodified boto3 and AWS CLI against a real ``shoal serve``.

IAM is a global service: boto3 signs it for ``us-east-1`` and service ``iam``. The
server outlives each test, so every name here carries a unique suffix.
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

from .server import ShoalServer

pytestmark = pytest.mark.timeout(60)
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["glue:Get*"], "Resource": ["*"]}],
}
TRUST = {"Version": "2012-10-17", "Statement": []}


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_users_groups_and_keys(boto3_client: Callable[..., Any], shoal_server: ShoalServer) -> None:
    iam = boto3_client("iam")
    suffix = uuid.uuid4().hex[:8]
    user, group = f"alice-{suffix}", f"analysts-{suffix}"
    created = iam.create_user(UserName=user)["User"]
    assert created["Arn"].endswith(f":user/{user}")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    groups = iam.list_groups_for_user(UserName=user)["Groups"]
    assert [g["GroupName"] for g in groups] == [group]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    sts = shoal_server.client(
        "sts",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{user}")
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as refused:
        sts.get_caller_identity()  # the very next request is refused
    assert _code(refused) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as conflict:
        iam.delete_group(GroupName=group)
    assert _code(conflict) == "DeleteConflict"
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)
    with pytest.raises(ClientError) as missing:
        iam.get_user(UserName=user)
    assert _code(missing) == "NoSuchEntity"


def test_roles_and_policies(boto3_client: Callable[..., Any]) -> None:
    iam = boto3_client("iam")
    suffix = uuid.uuid4().hex[:8]
    role, name = f"analyst-{suffix}", f"readers-{suffix}"
    made = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    assert made["AssumeRolePolicyDocument"] == TRUST  # botocore decodes IAM's URL-encoding
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(POLICY))["Policy"]["Arn"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == POLICY and version["IsDefaultVersion"]
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=json.dumps(POLICY))
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [{"PolicyName": name, "PolicyArn": arn}]
    assert iam.get_role_policy(RoleName=role, PolicyName="inline")["PolicyDocument"] == POLICY
    with pytest.raises(ClientError) as malformed:
        iam.put_role_policy(RoleName=role, PolicyName="bad", PolicyDocument="{}")
    assert _code(malformed) == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as conflict:
        iam.delete_policy(PolicyArn=arn)
    assert _code(conflict) == "DeleteConflict"
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_role_policy(RoleName=role, PolicyName="inline")
    iam.delete_policy(PolicyArn=arn)
    iam.delete_role(RoleName=role)
    roles = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate()
             for r in page["Roles"]]  # fmt: skip
    assert role not in roles


def test_paginator_follows_markers(boto3_client: Callable[..., Any]) -> None:
    iam = boto3_client("iam")
    suffix = uuid.uuid4().hex[:8]
    names = [f"g{i}-{suffix}" for i in range(5)]
    for name in names:
        iam.create_group(GroupName=name)
    pages = iam.get_paginator("list_groups").paginate(PaginationConfig={"PageSize": 2})
    seen = [g["GroupName"] for page in pages for g in page["Groups"]]
    assert [n for n in seen if n.endswith(suffix)] == names
    for name in names:
        iam.delete_group(GroupName=name)


def test_aws_cli_list_users(shoal_server: ShoalServer) -> None:
    cmd = [sys.executable, "-m", "awscli", "--endpoint-url", shoal_server.url,
           "iam", "list-users", "--output", "json"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=shoal_server.env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "root" in [u["UserName"] for u in json.loads(done.stdout)["Users"]]
