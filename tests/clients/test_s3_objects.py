"""boto3 against a real ``shoal serve``: object metadata, parts, versions, odd keys."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from .server import ShoalServer
from .test_s3_boto3 import error_of

Client = Callable[..., Any]
PART = 5 * 1024 * 1024

HEADERS = {
    "ContentType": "text/csv; charset=utf-8",
    "CacheControl": "max-age=60",
    "ContentDisposition": 'attachment; filename="x.csv"',
    "ContentEncoding": "identity",
    "ContentLanguage": "fr",
    "Expires": "Thu, 01 Dec 2044 16:00:00 GMT",
}


def described(response: dict[str, Any]) -> dict[str, Any]:
    """The stored headers and user metadata a GET or HEAD answered."""
    found = {name: response.get(name) for name in HEADERS if name != "Expires"}
    found["Expires"] = response["ResponseMetadata"]["HTTPHeaders"].get("expires")
    found["Metadata"] = response["Metadata"]
    return found


WANTED = {**HEADERS, "Metadata": {"owner": "ann", "stage": "raw"}}


def test_metadata_is_kept_and_answered(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="m", Body=b"x", Metadata=WANTED["Metadata"],
                  **HEADERS)  # fmt: skip
    assert described(s3.head_object(Bucket=new_bucket, Key="m")) == WANTED
    assert described(s3.get_object(Bucket=new_bucket, Key="m")) == WANTED
    s3.put_object(Bucket=new_bucket, Key="m", Body=b"y")  # a new put forgets it all
    plain = s3.head_object(Bucket=new_bucket, Key="m")
    assert (plain["Metadata"], plain["ContentType"]) == ({}, "binary/octet-stream")
    too_big = {"k": "v" * 2100}
    assert error_of(
        lambda: s3.put_object(Bucket=new_bucket, Key="big", Body=b"", Metadata=too_big)
    ) == ("MetadataTooLarge", 400)
    assert s3.list_objects_v2(Bucket=new_bucket)["KeyCount"] == 1


def test_copy_object_metadata_directive(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="src", Body=b"x", Metadata=WANTED["Metadata"], **HEADERS)
    source = {"Bucket": new_bucket, "Key": "src"}
    s3.copy_object(Bucket=new_bucket, Key="copied", CopySource=source)
    assert described(s3.head_object(Bucket=new_bucket, Key="copied")) == WANTED
    replace = {
        "MetadataDirective": "REPLACE",
        "Metadata": {"new": "1"},
        "ContentType": "text/plain",
    }
    s3.copy_object(Bucket=new_bucket, Key="replaced", CopySource=source, **replace)
    head = s3.head_object(Bucket=new_bucket, Key="replaced")
    assert (head["Metadata"], head["ContentType"], head.get("CacheControl")) == (
        {"new": "1"}, "text/plain", None
    )  # fmt: skip
    assert error_of(lambda: s3.copy_object(Bucket=new_bucket, Key="src", CopySource=source)) == (
        "InvalidRequest", 400
    )  # fmt: skip
    s3.copy_object(Bucket=new_bucket, Key="src", CopySource=source, MetadataDirective="REPLACE",
                   Metadata={"v": "2"})  # fmt: skip
    assert s3.head_object(Bucket=new_bucket, Key="src")["Metadata"] == {"v": "2"}


def test_multipart_parts_count_and_part_number(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    upload = s3.create_multipart_upload(Bucket=new_bucket, Key="mp", ContentType="text/x",
                                        Metadata={"a": "b"})["UploadId"]  # fmt: skip
    bodies = [b"1" * PART, b"2" * PART, b"tail"]
    parts = []
    for number, body in enumerate(bodies, 1):
        etag = s3.upload_part(Bucket=new_bucket, Key="mp", UploadId=upload, PartNumber=number,
                              Body=body)["ETag"]  # fmt: skip
        parts.append({"PartNumber": number, "ETag": etag})
    done = s3.complete_multipart_upload(
        Bucket=new_bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    head = s3.head_object(Bucket=new_bucket, Key="mp")
    assert (head["ETag"], head["ContentType"], head["Metadata"]) == (done["ETag"], "text/x",
                                                                    {"a": "b"})  # fmt: skip
    for number, body in enumerate(bodies, 1):
        got = s3.get_object(Bucket=new_bucket, Key="mp", PartNumber=number)
        assert (got["PartsCount"], got["ContentLength"], got["ETag"]) == (
            3,
            len(body),
            done["ETag"],
        )
        assert got["Body"].read() == body
        assert s3.head_object(Bucket=new_bucket, Key="mp", PartNumber=number)["PartsCount"] == 3
    assert error_of(lambda: s3.get_object(Bucket=new_bucket, Key="mp", PartNumber=4)) == (
        "InvalidPart", 400
    )  # fmt: skip
    s3.put_object(Bucket=new_bucket, Key="single", Body=b"body")
    assert s3.get_object(Bucket=new_bucket, Key="single", PartNumber=1)["Body"].read() == b"body"
    assert error_of(lambda: s3.get_object(Bucket=new_bucket, Key="single", PartNumber=2))[1] == 400


def test_unversioned_buckets(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    for key in ["a", "b/c", "d"]:
        s3.put_object(Bucket=new_bucket, Key=key, Body=key.encode())
    listing = s3.list_object_versions(Bucket=new_bucket, MaxKeys=2)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [
        ("a", "null", True), ("b/c", "null", True)
    ]  # fmt: skip
    assert (listing["IsTruncated"], listing["NextKeyMarker"]) == (True, "b/c")
    rest = s3.list_object_versions(Bucket=new_bucket, KeyMarker="b/c", VersionIdMarker="null")
    assert [v["Key"] for v in rest["Versions"]] == ["d"]
    folded = s3.list_object_versions(Bucket=new_bucket, Delimiter="/")
    assert [p["Prefix"] for p in folded["CommonPrefixes"]] == ["b/"]
    assert s3.get_bucket_versioning(Bucket=new_bucket).get("Status") is None
    enable = {"Status": "Enabled"}
    assert error_of(
        lambda: s3.put_bucket_versioning(Bucket=new_bucket, VersioningConfiguration=enable)
    ) == ("NotImplemented", 501)
    s3.put_bucket_versioning(Bucket=new_bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=new_bucket).get("Status") is None
    assert s3.get_object(Bucket=new_bucket, Key="a", VersionId="null")["Body"].read() == b"a"
    null_a = {"Objects": [{"Key": "a", "VersionId": "null"}], "Quiet": True}
    s3.delete_objects(Bucket=new_bucket, Delete=null_a)
    assert s3.list_objects_v2(Bucket=new_bucket)["KeyCount"] == 2


@pytest.mark.parametrize("delimiter", ["/", "\n", "%", "é", "ab"])
def test_any_prefix_and_delimiter_lists(
    boto3_client: Client, new_bucket: str, delimiter: str
) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="a/b", Body=b"")
    for prefix in ["", "a", "../", "a/../", "\t", "\\"]:
        listing = s3.list_objects_v2(Bucket=new_bucket, Prefix=prefix, Delimiter=delimiter)
        assert listing["ResponseMetadata"]["HTTPStatusCode"] == 200
        listing = s3.list_objects(Bucket=new_bucket, Prefix=prefix, Delimiter=delimiter)
        assert listing["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_keys_no_plain_file_can_hold(
    boto3_client: Client, new_bucket: str, shoal_server: ShoalServer
) -> None:
    s3 = boto3_client("s3")
    # "a/b" first: a data file put before its odd neighbours stays a plain file.
    keys = ["a/b", "a", "a/", "a//c", "m_$folder$", "s/" + "z" * 300, "k" * 1024]
    for key in keys:
        s3.put_object(Bucket=new_bucket, Key=key, Body=hashlib.md5(key.encode()).digest())
    listed = s3.list_objects_v2(Bucket=new_bucket)["Contents"]
    assert [o["Key"] for o in listed] == sorted(keys)
    for key in keys:
        body = s3.get_object(Bucket=new_bucket, Key=key)["Body"].read()
        assert body == hashlib.md5(key.encode()).digest()
    # Only the key that can be a plain file is one in the bucket folder.
    bucket = shoal_server.lake / new_bucket
    assert [str(p.relative_to(bucket)) for p in bucket.rglob("*") if p.is_file()] == ["a/b"]
    page = s3.list_objects_v2(Bucket=new_bucket, MaxKeys=2, Delimiter="/")
    assert ([o["Key"] for o in page["Contents"]], page["IsTruncated"]) == (["a"], True)
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/"]


def test_acls_are_the_single_owners(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="k", Body=b"x", ACL="private")
    for acl in (
        s3.get_bucket_acl(Bucket=new_bucket),
        s3.get_object_acl(Bucket=new_bucket, Key="k"),
    ):
        assert acl["Owner"]["ID"] == "123456789012"
        assert [(g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [
            ("123456789012", "FULL_CONTROL")
        ]
    s3.put_bucket_acl(Bucket=new_bucket, ACL="private")
    s3.put_object_acl(Bucket=new_bucket, Key="k", ACL="bucket-owner-full-control")
    owner = {"ID": "123456789012"}
    policy = {"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", **owner}, "Permission": "FULL_CONTROL"}
    ]}  # fmt: skip
    s3.put_object_acl(Bucket=new_bucket, Key="k", AccessControlPolicy=policy)
    for call in (
        lambda: s3.put_object(Bucket=new_bucket, Key="pub", Body=b"", ACL="public-read"),
        lambda: s3.put_bucket_acl(Bucket=new_bucket, ACL="public-read-write"),
        lambda: s3.put_object_acl(Bucket=new_bucket, Key="k", GrantRead='id="someone-else"'),
    ):
        assert error_of(call) == ("NotImplemented", 501)
    assert error_of(lambda: s3.put_bucket_acl(Bucket=new_bucket, ACL="nonsense"))[1] == 400
    assert error_of(lambda: s3.get_object_acl(Bucket=new_bucket, Key="missing")) == (
        "NoSuchKey", 404
    )  # fmt: skip
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=new_bucket)["Contents"]] == ["k"]


def test_conditions_on_puts_copies_and_completes(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    assert error_of(lambda: s3.put_object(Bucket=new_bucket, Key="k", Body=b"", IfMatch="*")) == (
        "NoSuchKey", 404
    )  # fmt: skip
    etag = s3.put_object(Bucket=new_bucket, Key="k", Body=b"1")["ETag"]
    source = {"Bucket": new_bucket, "Key": "k"}
    assert error_of(
        lambda: s3.copy_object(
            Bucket=new_bucket, Key="c", CopySource=source, CopySourceIfMatch='"other"'
        )  # fmt: skip
    ) == ("PreconditionFailed", 412)
    assert error_of(
        lambda: s3.copy_object(
            Bucket=new_bucket, Key="c", CopySource=source, CopySourceIfNoneMatch=etag
        )  # fmt: skip
    ) == ("PreconditionFailed", 412)
    s3.copy_object(Bucket=new_bucket, Key="c", CopySource=source, CopySourceIfMatch=etag)
    upload = s3.create_multipart_upload(Bucket=new_bucket, Key="k")["UploadId"]
    part = s3.upload_part(Bucket=new_bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"2")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    complete = {"Bucket": new_bucket, "Key": "k", "UploadId": upload, "MultipartUpload": parts}
    assert error_of(lambda: s3.complete_multipart_upload(**complete, IfNoneMatch="*")) == (
        "PreconditionFailed", 412
    )  # fmt: skip
    done = s3.complete_multipart_upload(**complete, IfMatch=etag)
    assert s3.complete_multipart_upload(**complete)["ETag"] == done["ETag"]  # again: same answer
    assert error_of(lambda: s3.list_parts(Bucket=new_bucket, Key="k", UploadId=upload)) == (
        "NoSuchUpload", 404
    )  # fmt: skip
    assert s3.list_multipart_uploads(Bucket=new_bucket).get("Uploads", []) == []
    copy = s3.create_multipart_upload(Bucket=new_bucket, Key="d")["UploadId"]
    assert error_of(
        lambda: s3.upload_part_copy(
            Bucket=new_bucket,
            Key="d",
            UploadId=copy,
            PartNumber=1,
            CopySource=source,
            CopySourceRange="bytes=0-21",
        )  # fmt: skip
    ) == ("InvalidRange", 416)


def test_listing_owners_and_tokens(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    s3.put_object(Bucket=new_bucket, Key="k", Body=b"")
    assert s3.list_objects(Bucket=new_bucket)["Contents"][0]["Owner"]["ID"] == "123456789012"
    assert "Owner" not in s3.list_objects_v2(Bucket=new_bucket)["Contents"][0]
    v2 = s3.list_objects_v2(Bucket=new_bucket, FetchOwner=True, ContinuationToken="")
    assert (v2["Contents"][0]["Owner"]["ID"], v2["ContinuationToken"]) == ("123456789012", "")
    assert s3.list_objects(Bucket=new_bucket, Prefix="\n")["Prefix"] == "\n"


def test_checksums_are_kept_and_answered(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    body = b"A" * 1024
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    put = s3.put_object(Bucket=new_bucket, Key="k", Body=body, ChecksumSHA256=sha)
    assert put["ChecksumSHA256"] == sha
    assert "ChecksumSHA256" not in s3.head_object(Bucket=new_bucket, Key="k")
    head = s3.head_object(Bucket=new_bucket, Key="k", ChecksumMode="ENABLED")
    assert (head["ChecksumSHA256"], head["ChecksumType"]) == (sha, "FULL_OBJECT")
    attributes = s3.get_object_attributes(
        Bucket=new_bucket, Key="k", ObjectAttributes=["ETag", "Checksum", "ObjectSize"]
    )
    assert attributes["Checksum"]["ChecksumSHA256"] == sha and attributes["ObjectSize"] == 1024
    assert attributes["ETag"] == put["ETag"].strip('"')
    assert error_of(
        lambda: s3.put_object(Bucket=new_bucket, Key="k", Body=body, ChecksumSHA256="bad")
    ) == ("BadDigest", 400)
    # A range has no checksum of its own: none is answered (clients would check it).
    ranged = s3.get_object(Bucket=new_bucket, Key="k", Range="bytes=0-9", ChecksumMode="ENABLED")
    assert ranged["Body"].read() == body[:10] and "ChecksumSHA256" not in ranged


def test_multipart_checksums_and_attributes(boto3_client: Client, new_bucket: str) -> None:
    s3 = boto3_client("s3")
    upload = s3.create_multipart_upload(Bucket=new_bucket, Key="mp", ChecksumAlgorithm="SHA256")
    assert (upload["ChecksumAlgorithm"], upload["ChecksumType"]) == ("SHA256", "COMPOSITE")
    bodies = [b"1" * PART, b"2" * PART, b"3"]
    digests = [hashlib.sha256(b).digest() for b in bodies]
    parts = []
    for number, body in enumerate(bodies, 1):
        where = {"Bucket": new_bucket, "Key": "mp", "UploadId": upload["UploadId"]}
        answer = s3.upload_part(**where, PartNumber=number, Body=body, ChecksumAlgorithm="SHA256")
        parts.append({"PartNumber": number, "ETag": answer["ETag"],
                      "ChecksumSHA256": answer["ChecksumSHA256"]})  # fmt: skip
    whole = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode() + "-3"
    done = s3.complete_multipart_upload(Bucket=new_bucket, Key="mp", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": parts})  # fmt: skip
    assert (done["ChecksumSHA256"], done["ChecksumType"]) == (whole, "COMPOSITE")
    again = s3.complete_multipart_upload(Bucket=new_bucket, Key="mp", UploadId=upload["UploadId"],
                                         MultipartUpload={"Parts": parts})  # fmt: skip
    assert (again["ETag"], again["ChecksumSHA256"]) == (done["ETag"], whole)
    second = s3.get_object(Bucket=new_bucket, Key="mp", PartNumber=2, ChecksumMode="ENABLED")
    assert second["ChecksumSHA256"] == base64.b64encode(digests[1]).decode()
    page_of = {"MaxParts": 1, "PartNumberMarker": 1, "ObjectAttributes": ["ObjectParts"]}
    attributes = s3.get_object_attributes(Bucket=new_bucket, Key="mp", **page_of)
    page = attributes["ObjectParts"]
    assert (page["TotalPartsCount"], page["IsTruncated"], page["NextPartNumberMarker"]) == (
        3,
        True,
        2,
    )
    assert [(p["PartNumber"], p["Size"]) for p in page["Parts"]] == [(2, PART)]
    assert (
        error_of(
            lambda: s3.get_object_attributes(Bucket=new_bucket, Key="mp", ObjectAttributes=["Nope"])
        )[1]
        == 400
    )


def test_a_get_streams_one_version_while_a_put_replaces_it(
    boto3_client: Client, new_bucket: str
) -> None:
    """A large GetObject that is still streaming when a PutObject replaces the object
    answers the old version whole, never a mix (the body comes from the file opened
    for it, whatever is renamed over it)."""
    s3 = boto3_client("s3")
    size = 48 * 1024 * 1024  # more than the socket buffers can hold ahead of the reader
    first, second = b"a" * size, b"b" * size
    s3.put_object(Bucket=new_bucket, Key="big", Body=first)
    body = s3.get_object(Bucket=new_bucket, Key="big")["Body"]
    start = body.read(1024 * 1024)
    s3.put_object(Bucket=new_bucket, Key="big", Body=second)
    rest = body.read()
    assert len(start) + len(rest) == size
    assert set(start + rest) == {ord("a")}
    assert s3.get_object(Bucket=new_bucket, Key="big")["Body"].read(10) == b"b" * 10
