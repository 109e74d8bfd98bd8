"""boto3's S3 client against a real ``shoal serve``: every operation shoal supports."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

import shoal

from .server import ShoalServer

Client = Callable[..., Any]


def error_of(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def md5(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


# -- buckets ---------------------------------------------------------------------------


def test_bucket_lifecycle(boto3_client: Client) -> None:
    s3 = boto3_client("s3")
    s3.create_bucket(Bucket="life-cycle-bucket")
    s3.head_bucket(Bucket="life-cycle-bucket")
    assert "life-cycle-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket="life-cycle-bucket")["LocationConstraint"] is None
    s3.put_object(Bucket="life-cycle-bucket", Key="k", Body=b"x")
    # us-east-1 answers a repeated CreateBucket of your own bucket 200, changing nothing.
    s3.create_bucket(Bucket="life-cycle-bucket")
    assert s3.list_objects_v2(Bucket="life-cycle-bucket")["KeyCount"] == 1
    assert error_of(lambda: s3.delete_bucket(Bucket="life-cycle-bucket")) == (
        "BucketNotEmpty", 409
    )  # fmt: skip
    s3.delete_object(Bucket="life-cycle-bucket", Key="k")
    s3.delete_bucket(Bucket="life-cycle-bucket")
    assert error_of(lambda: s3.head_bucket(Bucket="life-cycle-bucket")) == ("404", 404)
    assert error_of(lambda: s3.list_objects_v2(Bucket="life-cycle-bucket")) == (
        "NoSuchBucket", 404
    )  # fmt: skip


def test_create_bucket_with_location_and_bad_name(boto3_client: Client) -> None:
    s3 = boto3_client("s3")
    s3.create_bucket(
        Bucket="located-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.delete_bucket(Bucket="located-bucket")
    assert error_of(lambda: s3.create_bucket(Bucket="UPPER_case")) == ("InvalidBucketName", 400)


# -- objects ---------------------------------------------------------------------------


def test_put_get_head_delete(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    data = bytes(range(256)) * 10
    put = s3.put_object(Bucket=new_bucket, Key="dir/é x+y.bin", Body=data)
    assert put["ETag"] == md5(data)
    got = s3.get_object(Bucket=new_bucket, Key="dir/é x+y.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == md5(data) and got["ContentLength"] == len(data)
    head = s3.head_object(Bucket=new_bucket, Key="dir/é x+y.bin")
    assert head["ETag"] == md5(data) and head["ContentLength"] == len(data)
    s3.delete_object(Bucket=new_bucket, Key="dir/é x+y.bin")
    assert error_of(lambda: s3.get_object(Bucket=new_bucket, Key="dir/é x+y.bin")) == (
        "NoSuchKey", 404
    )  # fmt: skip
    assert error_of(lambda: s3.head_object(Bucket=new_bucket, Key="nope"))[1] == 404
    s3.delete_object(Bucket=new_bucket, Key="never-there")  # not an error


def test_ranges(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    data = bytes(range(100))
    s3.put_object(Bucket=new_bucket, Key="r", Body=data)
    for header, want, content_range in [
        ("bytes=0-9", data[:10], "bytes 0-9/100"),
        ("bytes=90-", data[90:], "bytes 90-99/100"),
        ("bytes=-5", data[-5:], "bytes 95-99/100"),
        ("bytes=95-200", data[95:], "bytes 95-99/100"),
    ]:
        got = s3.get_object(Bucket=new_bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == want and got["ContentRange"] == content_range
    assert error_of(lambda: s3.get_object(Bucket=new_bucket, Key="r", Range="bytes=100-")) == (
        "InvalidRange", 416
    )  # fmt: skip


def test_conditional_get(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    etag = s3.put_object(Bucket=new_bucket, Key="c", Body=b"abc")["ETag"]
    later = datetime.now(UTC) + timedelta(hours=1)
    earlier = datetime.now(UTC) - timedelta(hours=1)
    assert s3.get_object(Bucket=new_bucket, Key="c", IfMatch=etag)["Body"].read() == b"abc"
    assert error_of(lambda: s3.get_object(Bucket=new_bucket, Key="c", IfMatch='"x"'))[1] == 412
    assert error_of(lambda: s3.get_object(Bucket=new_bucket, Key="c", IfNoneMatch=etag))[1] == 304
    assert (
        error_of(lambda: s3.get_object(Bucket=new_bucket, Key="c", IfModifiedSince=later))[1] == 304
    )
    assert (
        error_of(lambda: s3.get_object(Bucket=new_bucket, Key="c", IfUnmodifiedSince=earlier))[1]
        == 412
    )
    assert s3.head_object(Bucket=new_bucket, Key="c", IfModifiedSince=earlier)["ETag"] == etag


def test_integrity_checks(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert error_of(
        lambda: s3.put_object(Bucket=new_bucket, Key="m", Body=b"data", ContentMD5=wrong)
    ) == ("BadDigest", 400)
    right = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    s3.put_object(Bucket=new_bucket, Key="m", Body=b"data", ContentMD5=right)
    for algorithm in ("CRC32", "SHA1", "SHA256"):  # CRC32C needs botocore[crt]
        s3.put_object(Bucket=new_bucket, Key="m", Body=b"data", ChecksumAlgorithm=algorithm)
    assert error_of(
        lambda: s3.put_object(Bucket=new_bucket, Key="m", Body=b"data", ChecksumCRC32="AAAAAA==")
    ) == ("BadDigest", 400)
    assert s3.get_object(Bucket=new_bucket, Key="m")["Body"].read() == b"data"


def test_unsafe_keys_are_refused(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    for key in ["../x", "a/../../x", "a/./b"]:
        code, status = error_of(lambda k=key: s3.put_object(Bucket=new_bucket, Key=k, Body=b"x"))
        assert status == 400, (key, code)
    assert error_of(lambda: s3.put_object(Bucket=new_bucket, Key="k" * 1025, Body=b""))[1] == 400
    assert s3.list_objects_v2(Bucket=new_bucket)["KeyCount"] == 0


def test_copy_object(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="src/a b", Body=b"copy me")
    result = s3.copy_object(
        Bucket=new_bucket, Key="dst", CopySource={"Bucket": new_bucket, "Key": "src/a b"}
    )
    assert result["CopyObjectResult"]["ETag"] == md5(b"copy me")
    assert s3.get_object(Bucket=new_bucket, Key="dst")["Body"].read() == b"copy me"
    assert error_of(
        lambda: s3.copy_object(
            Bucket=new_bucket, Key="dst2", CopySource={"Bucket": new_bucket, "Key": "missing"}
        )
    ) == ("NoSuchKey", 404)


def test_delete_objects(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    for key in ("a", "b", "c/d"):
        s3.put_object(Bucket=new_bucket, Key=key, Body=b"1")
    result = s3.delete_objects(
        Bucket=new_bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "c/d"}, {"Key": "../x"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "c/d"]
    assert [e["Key"] for e in result["Errors"]] == ["../x"]
    quiet = s3.delete_objects(Bucket=new_bucket, Delete={"Objects": [{"Key": "b"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=new_bucket)["KeyCount"] == 0


# -- listing ---------------------------------------------------------------------------


def test_list_objects_v2_and_paginators(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    keys = [f"p/{i:02d}" for i in range(7)] + ["q/x", "q/y", "top", "sp ace/é"]
    for key in keys:
        s3.put_object(Bucket=new_bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=new_bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys, key=str.encode)
    assert all(o["ETag"] == md5(o["Key"].encode()) for o in listed["Contents"])
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=new_bucket, PaginationConfig={"PageSize": 3}
    )
    found = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert found == sorted(keys, key=str.encode)
    top = s3.list_objects_v2(Bucket=new_bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["p/", "q/", "sp ace/"]
    assert [o["Key"] for o in top["Contents"]] == ["top"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=new_bucket, Prefix="q/")["Contents"]] == [
        "q/x", "q/y"
    ]  # fmt: skip
    after = s3.list_objects_v2(Bucket=new_bucket, StartAfter="p/05", MaxKeys=2)
    assert [o["Key"] for o in after["Contents"]] == ["p/06", "q/x"] and after["IsTruncated"]
    assert s3.list_objects_v2(Bucket=new_bucket, MaxKeys=0)["KeyCount"] == 0
    v1 = list(
        s3.get_paginator("list_objects").paginate(
            Bucket=new_bucket, Delimiter="/", PaginationConfig={"PageSize": 2}
        )
    )
    names = [o["Key"] for page in v1 for o in page.get("Contents", [])]
    prefixes = [p["Prefix"] for page in v1 for p in page.get("CommonPrefixes", [])]
    assert names == ["top"] and prefixes == ["p/", "q/", "sp ace/"]
    marker = s3.list_objects(Bucket=new_bucket, Marker="q/x")
    assert [o["Key"] for o in marker["Contents"]] == ["q/y", "sp ace/é", "top"]


# -- multipart -------------------------------------------------------------------------


def test_upload_file_multipart(
    shoal_server: ShoalServer, boto3_client: Client, new_bucket: str, tmp_path: Path
) -> None:
    s3 = boto3_client("s3")
    data = bytes(range(256)) * (44 * 1024)  # 11 MiB: three parts of 5 MiB
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024**2)
    s3.upload_file(str(path), new_bucket, "big.bin", Config=config)
    head = s3.head_object(Bucket=new_bucket, Key="big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    assert s3.get_object(Bucket=new_bucket, Key="big.bin")["ETag"] == head["ETag"]
    out = tmp_path / "back.bin"
    s3.download_file(new_bucket, "big.bin", str(out))
    assert out.read_bytes() == data
    # Parts are cleaned up; a finished upload's ETag stays a day, for a repeated Complete.
    assert not list((shoal_server.data_dir / "multipart").rglob("*.part"))


def test_multipart_by_hand(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    upload = s3.create_multipart_upload(Bucket=new_bucket, Key="mp")["UploadId"]
    part1 = b"a" * (5 * 1024 * 1024)
    e1 = s3.upload_part(Bucket=new_bucket, Key="mp", UploadId=upload, PartNumber=1, Body=part1)
    e2 = s3.upload_part(Bucket=new_bucket, Key="mp", UploadId=upload, PartNumber=2, Body=b"tail")
    parts = s3.list_parts(Bucket=new_bucket, Key="mp", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(part1)), (2, 4)]
    assert s3.list_objects_v2(Bucket=new_bucket)["KeyCount"] == 0  # parts are not objects
    bad = {"Parts": [{"PartNumber": 2, "ETag": e2["ETag"]}, {"PartNumber": 1, "ETag": e1["ETag"]}]}
    assert error_of(
        lambda: s3.complete_multipart_upload(
            Bucket=new_bucket, Key="mp", UploadId=upload, MultipartUpload=bad
        )
    ) == ("InvalidPartOrder", 400)
    good = {"Parts": [{"PartNumber": 1, "ETag": e1["ETag"]}, {"PartNumber": 2, "ETag": e2["ETag"]}]}
    done = s3.complete_multipart_upload(
        Bucket=new_bucket, Key="mp", UploadId=upload, MultipartUpload=good
    )
    digests = hashlib.md5(part1).digest() + hashlib.md5(b"tail").digest()
    assert done["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-2"'
    assert s3.get_object(Bucket=new_bucket, Key="mp")["Body"].read() == part1 + b"tail"
    assert error_of(lambda: s3.list_parts(Bucket=new_bucket, Key="mp", UploadId=upload)) == (
        "NoSuchUpload", 404
    )  # fmt: skip


def test_abort_multipart_and_small_parts(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    upload = s3.create_multipart_upload(Bucket=new_bucket, Key="ab")["UploadId"]
    e1 = s3.upload_part(Bucket=new_bucket, Key="ab", UploadId=upload, PartNumber=1, Body=b"x")
    e2 = s3.upload_part(Bucket=new_bucket, Key="ab", UploadId=upload, PartNumber=2, Body=b"y")
    parts = {
        "Parts": [{"PartNumber": 1, "ETag": e1["ETag"]}, {"PartNumber": 2, "ETag": e2["ETag"]}]
    }
    assert error_of(
        lambda: s3.complete_multipart_upload(
            Bucket=new_bucket, Key="ab", UploadId=upload, MultipartUpload=parts
        )
    ) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket=new_bucket, Key="ab", UploadId=upload)
    assert error_of(
        lambda: s3.abort_multipart_upload(Bucket=new_bucket, Key="ab", UploadId=upload)
    ) == ("NoSuchUpload", 404)
    assert error_of(
        lambda: s3.abort_multipart_upload(Bucket=new_bucket, Key="ab", UploadId="../../etc")
    ) == ("NoSuchUpload", 404)


# -- presigned URLs and authentication -------------------------------------------------


def test_presigned_get(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="shared file.txt", Body=b"shared")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": new_bucket, "Key": "shared file.txt"}, ExpiresIn=60
    )
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b"shared"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url.replace("shared%20file", "other%20file"))
    assert info.value.code == 403


def test_expired_presigned_url(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": new_bucket, "Key": "k"}, ExpiresIn=60
    )
    # Rewrite the signing date an hour back by signing with a frozen clock instead of
    # sleeping: a fresh URL signed "in the past" is expired on arrival.
    code = (
        "import sys, datetime, botocore.auth as a, boto3\n"
        "past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)\n"
        "a.get_current_datetime = lambda *args, **kw: past.replace(tzinfo=None)\n"
        "from botocore.config import Config\n"
        "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n"
        "    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],\n"
        "    config=Config(signature_version='s3v4'))\n"
        "print(s3.generate_presigned_url('get_object',\n"
        "    Params={'Bucket': sys.argv[4], 'Key': 'k'}, ExpiresIn=60))\n"
    )
    endpoint = s3.meta.endpoint_url
    creds = s3._request_signer._credentials
    old = subprocess.run(
        [sys.executable, "-c", code, endpoint, creds.access_key, creds.secret_key, new_bucket],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b"x"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(old)
    assert info.value.code == 403
    assert b"Request has expired" in info.value.read()


def test_wrong_secret_and_unknown_key(shoal_server: ShoalServer, new_bucket: str) -> None:
    wrong = shoal_server.client("s3", aws_secret_access_key="x" * 40)
    assert error_of(lambda: wrong.list_objects_v2(Bucket=new_bucket)) == (
        "SignatureDoesNotMatch", 403
    )  # fmt: skip
    assert error_of(lambda: wrong.put_object(Bucket=new_bucket, Key="evil", Body=b"x"))[1] == 403
    unknown = shoal_server.client("s3", aws_access_key_id="AKIAUNKNOWN000000000")
    assert error_of(lambda: unknown.list_buckets()) == ("InvalidAccessKeyId", 403)
    assert not (shoal_server.lake / new_bucket / "evil").exists()


def test_unsigned_request_is_refused(shoal_server: ShoalServer, new_bucket: str) -> None:
    request = urllib.request.Request(f"{shoal_server.url}/{new_bucket}/k", data=b"x", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 403 and b"<Code>AccessDenied</Code>" in info.value.read()
    assert not (shoal_server.lake / new_bucket / "k").exists()


def test_disabled_key_is_refused(shoal_server: ShoalServer, new_bucket: str) -> None:
    # The server and this process share the state database: a change made here
    # applies to the server's very next request.
    with shoal.open(data_dir=str(shoal_server.data_dir)) as app:
        name = f"user-{new_bucket}"
        # An admin: what is refused below is the disabled key, not a missing policy.
        app.identities.create_user(name, is_admin=True)
        key = app.identities.create_key(name)
        client = shoal_server.client(
            "s3", aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key
        )
        client.list_objects_v2(Bucket=new_bucket)
        app.identities.set_key_enabled(key.access_key_id, False)
        assert error_of(lambda: client.list_objects_v2(Bucket=new_bucket)) == (
            "InvalidAccessKeyId", 403
        )  # fmt: skip
        app.identities.set_key_enabled(key.access_key_id, True)
        client.list_objects_v2(Bucket=new_bucket)
        assert app.identities.list_keys(name)[0].last_used_time is not None
        app.identities.set_user_enabled(name, False)
        assert error_of(lambda: client.list_objects_v2(Bucket=new_bucket))[1] == 403
        app.identities.delete_user(name)
        assert error_of(lambda: client.list_objects_v2(Bucket=new_bucket))[1] == 403


def test_unsupported_subresources(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    assert error_of(lambda: s3.get_bucket_tagging(Bucket=new_bucket)) == ("NotImplemented", 501)
    assert error_of(lambda: s3.get_bucket_cors(Bucket=new_bucket))[1] == 501
    assert s3.get_bucket_versioning(Bucket=new_bucket).get("Status") is None
    # Any operation of S3's model shoal does not answer says which, whatever its shape.
    with pytest.raises(ClientError) as refused:
        s3.create_session(Bucket=new_bucket)
    response = refused.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NotImplemented",
        501,
    )
    assert "CreateSession" in response["Error"]["Message"]


def test_sts_get_caller_identity(boto3_client: Client) -> None:
    identity = boto3_client("sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"] == "arn:aws:iam::123456789012:root"
