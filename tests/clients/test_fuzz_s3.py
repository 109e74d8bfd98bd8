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
