"""Bucket policies through boto3 against a real ``shoal serve``, with a second user."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import shoal

from .server import ShoalServer
from .test_s3_boto3 import error_of

Client = Callable[..., Any]


@pytest.fixture
def other(shoal_server: ShoalServer) -> Iterator[Any]:
    """An S3 client of a user of the same account with no identity policy at all."""
    with shoal.open(data_dir=str(shoal_server.data_dir)) as app:
        name = f"other-{uuid.uuid4().hex[:8]}"
        app.identities.create_user(name)
        key = app.identities.create_key(name)
        yield shoal_server.client(
            "s3", aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key
        )
        app.identities.delete_user(name)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_put_get_delete_bucket_policy(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    assert error_of(lambda: s3.get_bucket_policy(Bucket=new_bucket)) == (
        "NoSuchBucketPolicy", 404
    )  # fmt: skip
    text = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": f"arn:aws:s3:::{new_bucket}/*"})  # fmt: skip
    s3.put_bucket_policy(Bucket=new_bucket, Policy=text)
    assert s3.get_bucket_policy(Bucket=new_bucket)["Policy"] == text
    s3.delete_bucket_policy(Bucket=new_bucket)
    assert error_of(lambda: s3.get_bucket_policy(Bucket=new_bucket))[1] == 404
    assert error_of(lambda: s3.get_bucket_policy(Bucket="no-such-bucket-here")) == (
        "NoSuchBucket", 404
    )  # fmt: skip


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{b}/*"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::other-bucket/*"},
        {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::{b}"},
        {"Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::{b}/*"},
    ],
)  # fmt: skip
def test_malformed_policies_are_refused(
    boto3_client: Client, new_bucket: str, statement: dict[str, Any]
) -> None:
    s3 = boto3_client("s3")
    text = policy(statement).replace("{b}", new_bucket)
    assert error_of(lambda: s3.put_bucket_policy(Bucket=new_bucket, Policy=text)) == (
        "MalformedPolicy", 400
    )  # fmt: skip
    assert error_of(lambda: s3.get_bucket_policy(Bucket=new_bucket))[1] == 404


def test_a_bucket_policy_allow_is_enough(boto3_client: Client, new_bucket: str, other: Any) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="public/a", Body=b"a")
    s3.put_object(Bucket=new_bucket, Key="private/b", Body=b"b")
    assert error_of(lambda: other.list_objects_v2(Bucket=new_bucket))[1] == 403
    s3.put_bucket_policy(Bucket=new_bucket, Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket",
         "Resource": f"arn:aws:s3:::{new_bucket}"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{new_bucket}/public/*"},
    ))  # fmt: skip
    assert other.list_objects_v2(Bucket=new_bucket)["KeyCount"] == 2
    assert other.get_object(Bucket=new_bucket, Key="public/a")["Body"].read() == b"a"
    assert error_of(lambda: other.get_object(Bucket=new_bucket, Key="private/b"))[1] == 403
    assert error_of(lambda: other.put_object(Bucket=new_bucket, Key="public/c", Body=b""))[1] == 403
    assert error_of(lambda: other.delete_bucket_policy(Bucket=new_bucket))[1] == 403


def test_a_bucket_policy_deny_wins(boto3_client: Client, new_bucket: str, other: Any) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="secret", Body=b"s")
    s3.put_bucket_policy(Bucket=new_bucket, Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{new_bucket}", f"arn:aws:s3:::{new_bucket}/*"]},
        {"Effect": "Deny", "Principal": {"AWS": "123456789012"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{new_bucket}/secret"},
    ))  # fmt: skip
    # The account is named: the Deny covers every user in it, admins included.
    assert error_of(lambda: s3.get_object(Bucket=new_bucket, Key="secret")) == ("AccessDenied", 403)
    assert error_of(lambda: other.get_object(Bucket=new_bucket, Key="secret"))[1] == 403
    other.put_object(Bucket=new_bucket, Key="allowed", Body=b"ok")  # the Allow still counts
    # The owner can always remove a policy that locks them out.
    s3.delete_bucket_policy(Bucket=new_bucket)
    assert s3.get_object(Bucket=new_bucket, Key="secret")["Body"].read() == b"s"
    assert error_of(lambda: other.get_object(Bucket=new_bucket, Key="allowed"))[1] == 403


def test_a_deleted_bucket_loses_its_policy(boto3_client: Client) -> None:
    s3 = boto3_client("s3")
    bucket = f"p-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}
    ))  # fmt: skip
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"")  # no Deny left over
