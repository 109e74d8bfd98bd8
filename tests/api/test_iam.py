"""The IAM query protocol in process: requests signed as botocore signs them, answers
parsed with botocore's own query parser against the ``iam`` model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlencode

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import Shape
from botocore.parsers import QueryParser
from starlette.testclient import TestClient

import shoal
from shoal.api.app import create_app

ROOT_KEY, ROOT_SECRET = "AKIAIAMTEST000000001", "i" * 40
ACCOUNT = "123456789012"
DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "glue:Get*",
                                             "Resource": "*"}]}
)  # fmt: skip
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})
MODELS = {s: botocore.session.get_session().get_service_model(s) for s in ("iam", "sts")}
Call = Callable[..., dict[str, Any]]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[shoal.Shoal]:
    opened = shoal.open(data_dir=str(tmp_path / "data"), account_id=ACCOUNT)
    opened.identities.ensure_root(ROOT_KEY, ROOT_SECRET)
    yield opened
    opened.close()


def _caller(client: TestClient, key: str, secret: str, service: str = "iam") -> Call:
    def call(action: str, **params: str) -> dict[str, Any]:
        body = urlencode({"Action": action, "Version": "2010-05-08", **params})
        request = AWSRequest(
            "POST", "http://testserver/", data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )  # fmt: skip
        SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
        answer = client.post("/", content=body, headers=dict(request.headers))
        raw = {"status_code": answer.status_code, "headers": dict(answer.headers),
               "body": answer.content}  # fmt: skip
        # No output shape (DeleteUser…): botocore's parser then reads only errors.
        shape = cast(Shape, MODELS[service].operation_model(action).output_shape)
        parsed: dict[str, Any] = QueryParser().parse(raw, shape)
        parsed["status"] = answer.status_code
        return parsed

    return call


@pytest.fixture
def call(app: shoal.Shoal) -> Call:
    return _caller(TestClient(create_app(app, audit=False)), ROOT_KEY, ROOT_SECRET)


def _code(answer: dict[str, Any]) -> tuple[int, str]:
    return answer["status"], answer.get("Error", {}).get("Code", "")


def test_users_and_access_keys(call: Call) -> None:
    user = call("CreateUser", UserName="alice")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert _code(call("CreateUser", UserName="alice")) == (409, "EntityAlreadyExists")
    assert _code(call("CreateUser", UserName="bad name")) == (400, "ValidationError")
    assert call("GetUser")["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert [u["UserName"] for u in call("ListUsers")["Users"]] == ["alice", "root"]
    key = call("CreateAccessKey", UserName="alice")["AccessKey"]
    assert key["Status"] == "Active" and len(key["SecretAccessKey"]) == 40
    listed = call("ListAccessKeys", UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    call("UpdateAccessKey", UserName="alice", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert call("ListAccessKeys", UserName="alice")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    wrong_owner = call("DeleteAccessKey", UserName="root", AccessKeyId=key["AccessKeyId"])
    assert _code(wrong_owner) == (404, "NoSuchEntity")
    assert _code(call("DeleteUser", UserName="alice")) == (409, "DeleteConflict")
    call("DeleteAccessKey", UserName="alice", AccessKeyId=key["AccessKeyId"])
    assert call("DeleteUser", UserName="alice")["status"] == 200
    assert _code(call("GetUser", UserName="alice")) == (404, "NoSuchEntity")
    assert _code(call("DeleteUser", UserName="root")) == (409, "DeleteConflict")


def test_disabled_key_is_refused_on_the_next_request(app: shoal.Shoal, call: Call) -> None:
    call("CreateUser", UserName="bob")
    key = call("CreateAccessKey", UserName="bob")["AccessKey"]
    client = TestClient(create_app(app, audit=False))
    as_bob = _caller(client, key["AccessKeyId"], key["SecretAccessKey"], "sts")
    assert as_bob("GetCallerIdentity")["status"] == 200
    call("UpdateAccessKey", UserName="bob", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert _code(as_bob("GetCallerIdentity")) == (403, "InvalidClientTokenId")


def test_only_admins_may_call_iam(app: shoal.Shoal, call: Call) -> None:
    call("CreateUser", UserName="bob")
    key = call("CreateAccessKey", UserName="bob")["AccessKey"]
    client = TestClient(create_app(app, audit=False))
    as_bob = _caller(client, key["AccessKeyId"], key["SecretAccessKey"])
    assert _code(as_bob("ListUsers")) == (403, "AccessDenied")


def test_groups(call: Call) -> None:
    call("CreateUser", UserName="alice")
    group = call("CreateGroup", GroupName="analysts")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/analysts"
    call("AddUserToGroup", GroupName="analysts", UserName="alice")
    got = call("GetGroup", GroupName="analysts")
    assert [u["UserName"] for u in got["Users"]] == ["alice"]
    for_user = call("ListGroupsForUser", UserName="alice")["Groups"]
    assert [g["GroupName"] for g in for_user] == ["analysts"]
    assert _code(call("DeleteGroup", GroupName="analysts")) == (409, "DeleteConflict")
    call("RemoveUserFromGroup", GroupName="analysts", UserName="alice")
    call("DeleteGroup", GroupName="analysts")
    assert call("ListGroups")["Groups"] == []
    assert _code(call("GetGroup", GroupName="analysts")) == (404, "NoSuchEntity")


def test_roles_policies_and_attachments(call: Call) -> None:
    role = call("CreateRole", RoleName="analyst", AssumeRolePolicyDocument=TRUST,
                Description="reads")["Role"]  # fmt: skip
    assert json.loads(unquote(role["AssumeRolePolicyDocument"])) == json.loads(TRUST)
    policy = call("CreatePolicy", PolicyName="readers", PolicyDocument=DOC)["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/readers" and policy["DefaultVersionId"] == "v1"
    bad = call("CreatePolicy", PolicyName="bad", PolicyDocument='{"Statement": 1}')
    assert _code(bad) == (400, "MalformedPolicyDocument")
    version = call("GetPolicyVersion", PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert unquote(version["Document"]) == DOC and version["IsDefaultVersion"] is True
    call("AttachRolePolicy", RoleName="analyst", PolicyArn=arn)
    attached = call("ListAttachedRolePolicies", RoleName="analyst")["AttachedPolicies"]
    assert attached == [{"PolicyName": "readers", "PolicyArn": arn}]
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert _code(call("DeletePolicy", PolicyArn=arn)) == (409, "DeleteConflict")
    assert _code(call("DeleteRole", RoleName="analyst")) == (409, "DeleteConflict")
    call("DetachRolePolicy", RoleName="analyst", PolicyArn=arn)
    call("DeletePolicy", PolicyArn=arn)
    call("DeleteRole", RoleName="analyst")
    assert call("ListRoles")["Roles"] == [] and call("ListPolicies")["Policies"] == []
    other = call("GetPolicy", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert _code(other) == (404, "NoSuchEntity")


@pytest.mark.parametrize(("kind", "param"), [("User", "UserName"), ("Group", "GroupName"),
                                             ("Role", "RoleName")])  # fmt: skip
def test_inline_and_attached_policies_of_each_kind(call: Call, kind: str, param: str) -> None:
    create = {"User": ("CreateUser", {}), "Group": ("CreateGroup", {}),
              "Role": ("CreateRole", {"AssumeRolePolicyDocument": TRUST})}[kind]  # fmt: skip
    call(create[0], **{param: "x"}, **create[1])
    call(f"Put{kind}Policy", **{param: "x"}, PolicyName="inline", PolicyDocument=DOC)
    assert call(f"List{kind}Policies", **{param: "x"})["PolicyNames"] == ["inline"]
    got = call(f"Get{kind}Policy", **{param: "x"}, PolicyName="inline")
    assert json.loads(unquote(got["PolicyDocument"])) == json.loads(DOC)
    arn = call("CreatePolicy", PolicyName="p", PolicyDocument=DOC)["Policy"]["Arn"]
    call(f"Attach{kind}Policy", **{param: "x"}, PolicyArn=arn)
    listed = call(f"ListAttached{kind}Policies", **{param: "x"})["AttachedPolicies"]
    assert [p["PolicyName"] for p in listed] == ["p"]
    call(f"Detach{kind}Policy", **{param: "x"}, PolicyArn=arn)
    call(f"Delete{kind}Policy", **{param: "x"}, PolicyName="inline")
    missing = call(f"Get{kind}Policy", **{param: "x"}, PolicyName="inline")
    assert _code(missing) == (404, "NoSuchEntity")


def test_pagination_with_marker(call: Call) -> None:
    for i in range(5):
        call("CreateGroup", GroupName=f"g{i}")
    first = call("ListGroups", MaxItems="2")
    assert first["IsTruncated"] is True and len(first["Groups"]) == 2
    rest = call("ListGroups", Marker=first["Marker"], MaxItems="10")
    assert rest["IsTruncated"] is False
    names = [g["GroupName"] for g in first["Groups"] + rest["Groups"]]
    assert names == [f"g{i}" for i in range(5)]
    assert _code(call("ListGroups", MaxItems="0")) == (400, "ValidationError")


def test_unknown_action_and_sts_still_answer(call: Call, app: shoal.Shoal) -> None:
    client = TestClient(create_app(app, audit=False))
    assert _caller(client, ROOT_KEY, ROOT_SECRET, "sts")("GetCallerIdentity")["status"] == 200
    body = urlencode({"Action": "Nope", "Version": "2010-05-08"})
    request = AWSRequest("POST", "http://testserver/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), "iam", "us-east-1").add_auth(request)
    answer = client.post("/", content=body, headers=dict(request.headers))
    assert answer.status_code == 400 and "InvalidAction" in answer.text
