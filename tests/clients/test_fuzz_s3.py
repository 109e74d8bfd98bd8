"""Hostile and malformed S3 requests, signed correctly: never a 5xx, never a file
outside the data folder.

Requests are built by hand and signed with botocore's own SigV4 signer, so they pass
authentication and reach the handlers with whatever path, query, headers and body
the case chose.
"""

from __future__ import annotations

import random
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .server import ShoalServer

HOSTILE_KEYS = [
    "../x", "..%2Fx", "%2e%2e/x", "%2e%2e%2fescape", "a/%2e%2e/%2e%2e/x", "a/./b",
    "%00", "a%00b", "a%5Cb", "%2Fabs", "//x", "a//b", "x/", "%C0%AE%C0%AE/x", "%FF",
    "k" * 1100, "%0D%0Aset-cookie:x", "a b", "日本", "...", ".", "a/..",
]  # fmt: skip
HOSTILE_BUCKETS = ["..", "%2e%2e", "ab", "A" * 70, "-bad", "bad-", "a_b", "xn--a", "1.2.3.4"]
QUERIES = [
    "", "uploads", "uploadId=../../etc", "uploadId=zz&partNumber=1", "partNumber=0&uploadId=x",
    "list-type=2&max-keys=-1", "list-type=2&max-keys=99999999999999", "continuation-token=%%%",
    "list-type=2&continuation-token=!!", "delete", "acl", "tagging", "versionId=3",
    "prefix=../", "prefix=%00", "delimiter=%00", "marker=%FF", "location", "encoding-type=url",
]  # fmt: skip
HEADERS = [
    {}, {"Range": "bytes=9999999999-"}, {"Range": "bytes=-0"}, {"Range": "bytes=5-1"},
    {"Range": "garbage"}, {"Content-MD5": "not base64"}, {"x-amz-checksum-crc32": "????"},
    {"x-amz-copy-source": "/../../etc/passwd"}, {"x-amz-copy-source": "%FF/x"},
    {"If-Modified-Since": "yesterday"}, {"If-Match": "*"}, {"x-amz-copy-source": "a"},
]  # fmt: skip
BODIES = [
    b"", b"<Delete><Object><Key>../x</Key></Object></Delete>", b"<notxml", b"\x00" * 64,
    b'<!DOCTYPE x [<!ENTITY a "aaaa">]><Delete>&a;</Delete>',
    b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>",
]  # fmt: skip
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"]
SAFE = "/%?=&:;-_.~!*'()+,$@"


def send(server: ShoalServer, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
    request = AWSRequest(method=method, url=server.url + path, data=body, headers=headers)
    creds = Credentials(server.access_key_id, server.secret_access_key)
    S3SigV4Auth(creds, "s3", server.region).add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(
        prepared.url, data=body or None, headers=dict(prepared.headers), method=method
    )
    try:
        with urllib.request.urlopen(http, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def test_fuzz_s3_requests(shoal_server: ShoalServer, new_bucket: str, tmp_path: Path) -> None:
    rng = random.Random(20240601)
    outside = shoal_server.data_dir.parent
    before = files_under(outside) - files_under(shoal_server.data_dir)
    failures, statuses = [], []
    for _ in range(300):
        bucket = rng.choice([new_bucket] * 3 + HOSTILE_BUCKETS)
        key = rng.choice(HOSTILE_KEYS + ["ok", "dir/ok.csv", ""])
        query = rng.choice(QUERIES)
        # Raw, so "%2e%2e" and "%00" arrive as sent; only non-ASCII is encoded.
        path = f"/{bucket}/{quote(key, safe=SAFE)}" + (f"?{query}" if query else "")
        method = rng.choice(METHODS)
        headers = rng.choice(HEADERS)
        body = rng.choice(BODIES) if method in ("PUT", "POST") else b""
        status = send(shoal_server, method, path, headers, body)
        statuses.append(status)
        if status >= 500 and status != 501:
            failures.append((method, path, headers, body[:40], status))
    assert failures == []
    # The cases must reach the handlers, not bounce off authentication.
    assert statuses.count(403) < len(statuses) // 10, sorted(statuses)
    after = files_under(outside) - files_under(shoal_server.data_dir)
    assert after - before <= {p for p in after if p.name.endswith("server.log")}
    # Escapes of "../x" keys land beside the buckets; other tests' "q/x" keys are fine.
    escaped = {shoal_server.lake / "x", shoal_server.data_dir / "x"}
    assert not any("passwd" in p.name or p in escaped for p in files_under(shoal_server.lake))


@pytest.mark.parametrize("key", ["%2e%2e/escape", "../escape", "a/../../escape"])
def test_traversal_keys_are_400(shoal_server: ShoalServer, new_bucket: str, key: str) -> None:
    assert send(shoal_server, "PUT", f"/{new_bucket}/{key}", {}, b"x") == 400
    assert not (shoal_server.lake / "escape").exists()
    assert not (shoal_server.data_dir / "escape").exists()


# -- streamed bodies: every malformation a 4xx, nothing stored -------------------------

CRC32_OF_HELLO = "NhCmhg=="
SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMED_CASES = [
    # (label, x-amz-content-sha256, extra headers, body)
    ("chunk size not hex", UNSIGNED_TRAILER, {}, b"zz\r\nhello\r\n0\r\n\r\n"),
    ("chunk size past 64 bits", UNSIGNED_TRAILER, {}, b"f" * 17 + b"\r\nhello\r\n0\r\n\r\n"),
    ("chunk shorter than its size", UNSIGNED_TRAILER, {}, b"10\r\nhello\r\n"),
    ("no CRLF after a chunk", UNSIGNED_TRAILER, {}, b"5\r\nhelloXX0\r\n\r\n"),
    ("endless chunk header", UNSIGNED_TRAILER, {}, b"5" * 5000),
    ("no final chunk", UNSIGNED_TRAILER, {}, b"5\r\nhello\r\n"),
    ("trailer without a colon", UNSIGNED_TRAILER, {"x-amz-trailer": "x-amz-checksum-crc32"},
     b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32 NhCmhg==\r\n\r\n"),
    ("wrong trailing checksum", UNSIGNED_TRAILER, {"x-amz-trailer": "x-amz-checksum-crc32"},
     b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"),
    ("decoded length too small", UNSIGNED_TRAILER, {"x-amz-decoded-content-length": "3"},
     b"5\r\nhello\r\n0\r\n\r\n"),
    ("decoded length not a number", UNSIGNED_TRAILER, {"x-amz-decoded-content-length": "x"},
     b"5\r\nhello\r\n0\r\n\r\n"),
    ("chunk without a signature", SIGNED, {}, b"5\r\nhello\r\n0\r\n\r\n"),
    ("forged chunk signature", SIGNED, {}, b"5;chunk-signature=" + b"0" * 64
     + b"\r\nhello\r\n0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"),
    ("body hash mismatch", "a" * 64, {}, b"hello"),
    ("payload mode unknown", "STREAMING-NONSENSE", {}, b"hello"),
    ("wrong Content-MD5", "UNSIGNED-PAYLOAD", {"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="},
     b"hello"),
    ("wrong crc32 header", "UNSIGNED-PAYLOAD", {"x-amz-checksum-crc32": "AAAAAA=="}, b"hello"),
]  # fmt: skip


@pytest.mark.parametrize("case", STREAMED_CASES, ids=[c[0] for c in STREAMED_CASES])
def test_malformed_streamed_bodies_are_4xx_and_store_nothing(
    shoal_server: ShoalServer, new_bucket: str, case: tuple[str, str, dict[str, str], bytes]
) -> None:
    from .rawhttp import connect, read_answer, signed_head

    label, mode, extra, body = case
    headers = {"X-Amz-Content-SHA256": mode, "Content-Length": str(len(body)), **extra}
    if mode.startswith("STREAMING-"):
        headers = {"Content-Encoding": "aws-chunked", **headers}
    head, _ = signed_head(shoal_server, "PUT", f"/{new_bucket}/streamed", "s3", headers)
    sock = connect(shoal_server, timeout=30)
    sock.sendall(head + body)
    answer = read_answer(sock)
    sock.close()
    assert 400 <= answer.status < 500, (label, answer)
    assert b"<Error><Code>" in answer.body, (label, answer)
    listed = shoal_server.client("s3").list_objects_v2(Bucket=new_bucket)
    assert listed["KeyCount"] == 0, label
    assert not list((shoal_server.lake / ".shoal-staging").glob("put-*"))
