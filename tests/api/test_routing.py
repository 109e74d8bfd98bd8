"""How one port tells requests apart: protocol, service and operation (S3's by its
model's URI templates, required query keys and headers)."""

from __future__ import annotations

import pytest

from shoal.api.routing import classify
from shoal.api.sigv4 import HttpRequest


def s3_request(
    method: str, path: str, query: str = "", headers: tuple[tuple[str, str], ...] = ()
) -> HttpRequest:
    return HttpRequest(method, path, query, headers)


COPY = (("x-amz-copy-source", "/src/key"),)


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("GET", "/", "", (), "ListBuckets"),
        ("PUT", "/b", "", (), "CreateBucket"),
        ("HEAD", "/b", "", (), "HeadBucket"),
        ("DELETE", "/b", "", (), "DeleteBucket"),
        ("GET", "/b", "", (), "ListObjects"),
        ("GET", "/b", "list-type=2&prefix=a", (), "ListObjectsV2"),
        ("GET", "/b", "versions", (), "ListObjectVersions"),
        ("GET", "/b", "location", (), "GetBucketLocation"),
        ("GET", "/b", "versioning", (), "GetBucketVersioning"),
        ("PUT", "/b", "versioning", (), "PutBucketVersioning"),
        ("GET", "/b", "uploads", (), "ListMultipartUploads"),
        ("POST", "/b", "delete", (), "DeleteObjects"),
        ("GET", "/b", "acl", (), "GetBucketAcl"),
        ("PUT", "/b", "policy", (), "PutBucketPolicy"),
        ("DELETE", "/b", "policy", (), "DeleteBucketPolicy"),
        ("PUT", "/b/k", "", (), "PutObject"),
        ("PUT", "/b/dir/k%20x", "", COPY, "CopyObject"),
        ("GET", "/b/k", "", (), "GetObject"),
        ("GET", "/b/k", "partNumber=2", (), "GetObject"),
        ("HEAD", "/b/k", "", (), "HeadObject"),
        ("DELETE", "/b/k", "", (), "DeleteObject"),
        ("GET", "/b/k", "acl", (), "GetObjectAcl"),
        (
            "GET",
            "/b/k",
            "attributes",
            (("x-amz-object-attributes", "ETag"),),
            "GetObjectAttributes",
        ),
        ("POST", "/b/k", "uploads", (), "CreateMultipartUpload"),
        ("PUT", "/b/k", "partNumber=1&uploadId=x", (), "UploadPart"),
        ("PUT", "/b/k", "partNumber=1&uploadId=x", COPY, "UploadPartCopy"),
        ("GET", "/b/k", "uploadId=x", (), "ListParts"),
        ("POST", "/b/k", "uploadId=x", (), "CompleteMultipartUpload"),
        ("DELETE", "/b/k", "uploadId=x", (), "AbortMultipartUpload"),
        ("PATCH", "/b/k", "", (), None),
    ],
)
def test_s3_operations_come_from_the_model(
    method: str, path: str, query: str, headers: tuple[tuple[str, str], ...], operation: str
) -> None:
    route = classify(s3_request(method, path, query, headers))
    assert (route.protocol, route.service, route.operation) == ("s3", "s3", operation)
