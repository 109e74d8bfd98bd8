"""The S3 REST API (path style) over ``app.storage``.

Handlers are synchronous (storage is) and run in a worker thread. They take an
``S3Request`` whose signature and payload were already verified, and return a
Starlette response; ShoalErrors become S3 XML errors in the router.

ETags: local storage does not know an object's MD5 without reading it, so
``EtagCache`` remembers the ETag of each object this process wrote or hashed, keyed
by (bucket, key) and checked against size and mtime, and computes the MD5 on a miss.
GET and HEAD therefore always agree. Listings report an ETag when it is cached or the
object is small enough to hash cheaply. A multipart object's ``md5-of-md5s-N`` ETag is
kept with its metadata, so GET and HEAD answer it after a restart too; listings report
it while it is cached, else the plain MD5 of the content.

Object metadata (standard headers, ``x-amz-meta-*``, a multipart upload's part sizes
and ETag) is kept by the storage (``ObjectMeta``); see ``s3_meta``.

Multipart uploads are staged under ``DATA/multipart/<upload id>/`` (outside every
bucket, so never listed as objects) and assembled with one atomic
``storage.put_chunks``, read a piece at a time.

Object data is never held whole: PutObject and UploadPart take the body as the router
streams it (``S3Request.stream``, its signature and hashes checked as it is read, see
``api/bodies.py``), checking Content-MD5 and ``x-amz-checksum-*`` as it passes
(``IntegrityCheck``), so a mismatch raises before the object or part is committed;
GetObject, CopyObject and UploadPartCopy read ``STREAM_CHUNK`` at a time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote

from starlette.responses import Response, StreamingResponse

from shoal.api import s3_acl, s3_attributes, s3_meta, s3_policy, s3_versions, s3_xml
from shoal.api.errors import ApiError
from shoal.api.s3_checks import (
    HASHERS,
    IntegrityCheck,
    check_conditions,
    checksum_headers,
    checksum_request,
    composite_checksum,
    etag_matches,
    parse_range,
    verify_integrity,
)
from shoal.api.s3_multipart import MultipartUploads, check_parts, file_pieces
from shoal.app import Shoal
from shoal.errors import InvalidKeyError, NoSuchKeyError, ShoalError
from shoal.lru import LruCache
from shoal.storage.base import (
    MAX_KEY_BYTES,
    ObjectInfo,
    ObjectReader,
    Storage,
    validate_key,
    validate_prefix,
)
from shoal.storage.meta import ObjectMeta

XML = "application/xml"
STREAM_CHUNK = 1024 * 1024  # object data moves in pieces this large, never whole
_OPEN_ATTEMPTS = 3  # opening a version while puts keep replacing it
MAX_PART_NUMBER = 10000
LISTING_HASH_LIMIT = 16 * 1024 * 1024  # hash unknown objects up to this size in listings
# Sub-resources S3 has and shoal does not: answered 501, never mistaken for a GET.
UNSUPPORTED = frozenset(
    "accelerate analytics cors encryption intelligent-tiering inventory "
    "legal-hold lifecycle logging metrics notification object-lock ownershipControls "
    "policyStatus publicAccessBlock replication requestPayment restore retention "
    "select tagging torrent website".split()
)


@dataclass
class S3Request:
    """An authenticated S3 request, its path already split into bucket and key."""

    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    request_id: str
    trailers: dict[str, str] = field(default_factory=dict)
    operation: str | None = None  # what S3's model names the request (api/routing.py)
    # Object data still arriving (PutObject, UploadPart), its signature and hashes
    # checked as it is read; ``body`` is then empty and ``trailers`` complete once
    # the stream has ended.
    stream: Iterator[bytes] | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def data(self) -> Iterable[bytes]:
        """The body's pieces: the stream, or the body read whole."""
        return self.stream if self.stream is not None else (self.body,)


def split_path(raw_path: str) -> tuple[str, str]:
    """(bucket, key) from a percent-encoded path-style path."""
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise ApiError("InvalidURI", "The path is not valid UTF-8") from None
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


# -- ETags ---------------------------------------------------------------------------


class EtagCache:
    """ETags of objects by (bucket, key), valid while size and mtime are unchanged."""

    def __init__(self, storage: Storage, capacity: int = 100_000) -> None:
        self.storage = storage
        self._entries: LruCache[tuple[int, datetime, str]] = LruCache(capacity)

    def remember(self, info: ObjectInfo, etag: str) -> None:
        self._entries.put((info.bucket, info.key), (info.size, info.mtime, etag))

    def known(self, info: ObjectInfo) -> str | None:
        if info.etag:
            return info.etag
        entry = self._entries.get((info.bucket, info.key))
        if entry and entry[:2] == (info.size, info.mtime):
            return entry[2]
        return None

    def etag(self, info: ObjectInfo) -> str:
        """The object's ETag, hashing its content when nothing is remembered."""
        known = self.known(info)
        if known:
            return known
        digest = hashlib.md5()
        for start in range(0, info.size, STREAM_CHUNK):
            digest.update(self.storage.read(info.bucket, info.key, start, start + STREAM_CHUNK))
        etag = f'"{digest.hexdigest()}"'
        self.remember(info, etag)
        return etag


# -- the API ---------------------------------------------------------------------------


class S3Api:
    """S3 operations over one shoal's storage."""

    def __init__(self, app: Shoal) -> None:
        self.app = app
        self.storage = app.storage
        self.etags = EtagCache(app.storage)
        self.uploads = MultipartUploads(app.config.data_path / "multipart")
        self.started = datetime.now(UTC).replace(microsecond=0)
        self._handlers = self._operations()

    def handle(self, req: S3Request) -> Response:
        """Answer ``req`` by the operation S3's model names it (``req.operation``)."""
        unsupported = set(UNSUPPORTED.intersection(req.query))
        if "versionId" in req.query and req.query["versionId"] != "null":
            unsupported.add("versionId")
        if unsupported:
            raise ApiError(
                "NotImplemented",
                f"shoal does not implement the {sorted(unsupported)[0]} sub-resource",
                501,
            )
        if len(req.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise ApiError("KeyTooLongError", "Your key is too long")
        handler = self._handlers.get(req.operation or "")
        if handler is not None:
            return handler(req)
        if req.operation is None:
            raise ApiError("MethodNotAllowed", f"{req.method} is not allowed here", 405)
        raise ApiError("NotImplemented", f"shoal does not implement {req.operation}", 501)

    def _operations(self) -> dict[str, Callable[[S3Request], Response]]:
        """The handler of each S3 operation shoal answers, by its name in S3's model."""
        return {
            "ListBuckets": self.list_buckets,
            "CreateBucket": self.create_bucket,
            "HeadBucket": self.head_bucket,
            "DeleteBucket": self.delete_bucket,
            "ListObjects": lambda req: self.list_objects(req, v2=False),
            "ListObjectsV2": lambda req: self.list_objects(req, v2=True),
            "ListObjectVersions": self.list_versions,
            "GetBucketLocation": self.bucket_location,
            "GetBucketVersioning": self.bucket_versioning,
            "PutBucketVersioning": self.put_bucket_versioning,
            "ListMultipartUploads": self.list_uploads,
            "DeleteObjects": self.delete_objects,
            "GetBucketAcl": self._acl,
            "PutBucketAcl": self._acl,
            "GetObjectAcl": self._acl,
            "PutObjectAcl": self._acl,
            "GetBucketPolicy": self.bucket_policy,
            "PutBucketPolicy": self.bucket_policy,
            "DeleteBucketPolicy": self.bucket_policy,
            "PutObject": self.put_object,
            "CopyObject": self.copy_object,
            "GetObject": self.get_object,
            "HeadObject": self.get_object,
            "DeleteObject": self.delete_object,
            "GetObjectAttributes": self.object_attributes,
            "CreateMultipartUpload": self.create_upload,
            "UploadPart": self.upload_part,
            "UploadPartCopy": self.upload_part,
            "CompleteMultipartUpload": self.complete_upload,
            "AbortMultipartUpload": self.abort_upload,
            "ListParts": self.list_parts,
        }

    def _acl(self, req: S3Request) -> Response:
        """Get/PutBucketAcl and Get/PutObjectAcl: the owner's FULL_CONTROL, always."""
        owner = self.app.config.account_id
        if req.key:
            self.storage.stat(req.bucket, req.key)  # NoSuchKey (or NoSuchBucket) first
        else:
            self._require_bucket(req.bucket)
        if req.method == "GET":
            return _xml(s3_xml.acl(owner))
        if req.body.strip():
            s3_acl.check_acl_body(req.body, owner)
        s3_acl.check_acl_headers(req.headers, owner)
        return Response(status_code=200)

    def bucket_policy(self, req: S3Request) -> Response:
        """Get/Put/DeleteBucketPolicy of an existing bucket."""
        self._require_bucket(req.bucket)
        policies = self.app.governance.bucket_policies
        return s3_policy.answer(policies, req.method, req.bucket, req.body)

    def bucket_location(self, req: S3Request) -> Response:
        self._require_bucket(req.bucket)
        return _xml(s3_xml.location(self.app.config.region))

    def bucket_versioning(self, req: S3Request) -> Response:
        self._require_bucket(req.bucket)
        return _xml(s3_xml.versioning())

    def put_bucket_versioning(self, req: S3Request) -> Response:
        s3_versions.check_versioning_request(req.body)
        self._require_bucket(req.bucket)
        return Response(status_code=200)

    def list_uploads(self, req: S3Request) -> Response:
        self._require_bucket(req.bucket)
        return _xml(s3_xml.list_uploads(req.bucket, self.uploads.uploads(req.bucket)))

    # -- buckets ------------------------------------------------------------------

    def list_buckets(self, req: S3Request) -> Response:
        names = self.storage.list_buckets()
        owner = self.app.config.account_id
        return _xml(s3_xml.list_buckets(((n, self.started) for n in names), owner))

    def create_bucket(self, req: S3Request) -> Response:
        s3_xml.parse_create_bucket(req.body)  # any region is fine; only well-formedness counts
        s3_acl.check_acl_headers(req.headers, self.app.config.account_id)
        if self.storage.bucket_exists(req.bucket):
            if self.app.config.region == "us-east-1":
                # S3's legacy answer in us-east-1: recreating your own bucket succeeds
                # (and changes nothing); every other region answers 409.
                return Response(status_code=200, headers={"Location": f"/{req.bucket}"})
            raise ApiError(
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the bucket succeeded",
                409,
            )
        self.storage.create_bucket(req.bucket)
        return Response(status_code=200, headers={"Location": f"/{req.bucket}"})

    def head_bucket(self, req: S3Request) -> Response:
        self._require_bucket(req.bucket)
        return Response(status_code=200, headers={"x-amz-bucket-region": self.app.config.region})

    def delete_bucket(self, req: S3Request) -> Response:
        self.storage.delete_bucket(req.bucket)
        self.app.governance.bucket_policies.delete(req.bucket)  # S3 drops it with the bucket
        return Response(status_code=204)

    def _require_bucket(self, bucket: str) -> None:
        if not self.storage.bucket_exists(bucket):
            raise ApiError("NoSuchBucket", "The specified bucket does not exist", 404)

    # -- listing -----------------------------------------------------------------

    def list_objects(self, req: S3Request, v2: bool) -> Response:
        q = req.query
        token = q.get("continuation-token") if v2 else None
        start = _decode_token(token) if token else q.get("start-after" if v2 else "marker")
        owner = self.app.config.account_id if not v2 or q.get("fetch-owner") == "true" else None
        page = replace(self._list_page(req, start), owner=owner, encode_prefix=v2)
        objects, prefixes = page.objects, page.prefixes
        last = max([o.key for o in objects] + list(prefixes), default=None)
        last = last if page.is_truncated else None
        if v2:
            next_token = _encode_token(last) if last else None
            return _xml(s3_xml.list_objects_v2(page, q.get("start-after"), token, next_token))
        return _xml(s3_xml.list_objects_v1(page, q.get("marker", ""), last))

    def list_versions(self, req: S3Request) -> Response:
        """ListObjectVersions: every object once, as version ``null``."""
        key_marker = req.query.get("key-marker", "")
        start = s3_versions.version_start(key_marker, req.query.get("version-id-marker"))
        page = self._list_page(req, start)
        return _xml(s3_xml.list_versions(page, key_marker, self.app.config.account_id))

    def _list_page(self, req: S3Request, start: str | None) -> s3_xml.ListPage:
        """One page of a listing of ``req``'s bucket, from the query's prefix and limits."""
        q = req.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter") or None
        max_keys = _max_keys(q.get("max-keys"))
        self._require_bucket(req.bucket)
        objects: list[s3_xml.ListedObject] = []
        prefixes: list[str] = []
        truncated = False
        if max_keys and _listable_prefix(prefix):
            listing = self.storage.list(req.bucket, prefix, delimiter, start or None, max_keys)
            objects = [self._listed(o) for o in listing.objects]
            prefixes, truncated = listing.prefixes, listing.is_truncated
        return s3_xml.ListPage(
            req.bucket, prefix, delimiter, max_keys, objects, prefixes, truncated,
            url_encode=q.get("encoding-type") == "url",
        )  # fmt: skip

    def _listed(self, info: ObjectInfo) -> s3_xml.ListedObject:
        etag = self.etags.known(info)
        if etag is None and info.size <= LISTING_HASH_LIMIT:
            try:
                etag = self.etags.etag(info)
            except NoSuchKeyError:
                etag = None  # deleted while we listed
        return s3_xml.ListedObject(info.key, info.size, info.mtime, etag)

    # -- objects -----------------------------------------------------------------

    def put_object(self, req: S3Request) -> Response:
        check = IntegrityCheck(req.headers)
        validate_key(req.key)
        self._check_write_conditions(req)
        s3_acl.check_acl_headers(req.headers, self.app.config.account_id)
        headers_meta = s3_meta.meta_from_headers(req.headers)
        checksums: dict[str, str] = {}

        def data() -> Iterator[bytes]:
            for piece in req.data():
                check.update(piece)
                yield piece
            checksums.update(check.verify(req.trailers))  # BadDigest: nothing stored

        def meta() -> ObjectMeta:  # once the data has all arrived, checksums included
            if not checksums:
                return headers_meta
            # Kept, to answer GET/HEAD with x-amz-checksum-mode: ENABLED.
            values = {name.removeprefix("x-amz-checksum-"): v for name, v in checksums.items()}
            return replace(headers_meta, checksums=values, checksum_type="FULL_OBJECT")

        info = self.storage.put_chunks(req.bucket, req.key, data(), meta)
        etag = info.etag or self.etags.etag(info)
        self.etags.remember(info, etag)
        return Response(status_code=200, headers={"ETag": etag, **checksums})

    def _check_write_conditions(self, req: S3Request) -> None:
        if_none, if_match = req.header("if-none-match"), req.header("if-match")
        if if_none is None and if_match is None:
            return
        try:
            info, meta = self.storage.head(req.bucket, req.key)
            current: str | None = meta.etag or self.etags.etag(info)
        except NoSuchKeyError:
            current = None
        if if_none is not None and current is not None and etag_matches(if_none, current):
            raise ApiError("PreconditionFailed", "At least one precondition failed", 412)
        if if_match is not None and current is None:
            raise ApiError("NoSuchKey", "The specified key does not exist.", 404)
        if if_match is not None and current is not None and not etag_matches(if_match, current):
            raise ApiError("PreconditionFailed", "At least one precondition failed", 412)

    def get_object(self, req: S3Request) -> Response:
        """GetObject and HeadObject. A GET streams from one opened version of the object
        (``Storage.open_object``): a put replacing it meanwhile never mixes into the
        answer, whose headers describe that same version."""
        if req.method == "HEAD":
            info, meta = self.storage.head(req.bucket, req.key)
            return self._object_answer(req, info, meta, None)
        reader, meta = self._open_version(req)
        try:
            return self._object_answer(req, reader.info, meta, reader)
        except BaseException:
            reader.close()
            raise

    def _open_version(self, req: S3Request) -> tuple[ObjectReader, ObjectMeta]:
        """The object opened, and the metadata of that same version (a put between the
        open and the metadata read is noticed by size, time and ETag: opened again)."""
        for _ in range(_OPEN_ATTEMPTS):
            reader = self.storage.open_object(req.bucket, req.key)
            info, meta = self.storage.head(req.bucket, req.key)
            opened = reader.info
            if (info.size, info.mtime, info.etag) == (opened.size, opened.mtime, opened.etag):
                return reader, meta
            reader.close()
        raise ApiError("SlowDown", "The object changed while it was opened; retry.", 503)

    def _object_answer(
        self, req: S3Request, info: ObjectInfo, meta: ObjectMeta, reader: ObjectReader | None
    ) -> Response:
        etag = meta.etag or self.etags.etag(info)
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(info.mtime.replace(microsecond=0), usegmt=True),
            "Accept-Ranges": "bytes",
            **s3_meta.response_headers(meta, req.key),
        }
        headers.update(_response_overrides(req.query))
        status = check_conditions(req.headers, etag, info.mtime)
        if status is not None:
            if status == 412:
                raise ApiError("PreconditionFailed", "At least one precondition failed", 412)
            if reader is not None:
                reader.close()
            return Response(status_code=304, headers={"ETag": etag})
        span = self._span(req, meta, info.size)
        if (req.header("x-amz-checksum-mode") or "").upper() == "ENABLED" and not (
            span and "partNumber" not in req.query
        ):  # a byte range has no checksum of its own: clients would check it against one
            headers.update(_checksum_answer(req, meta))
        start, stop = span or (0, info.size)
        if span is not None:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{info.size}"
        headers["Content-Length"] = str(stop - start)
        status_code = 206 if span is not None else 200
        if reader is None:
            return Response(status_code=status_code, headers=headers)
        return _body(reader, start, stop, status_code, headers)

    def object_attributes(self, req: S3Request) -> Response:
        """GetObjectAttributes."""
        info, meta = self.storage.head(req.bucket, req.key)
        etag = meta.etag or self.etags.etag(info)
        xml = s3_attributes.attributes_xml(req.headers, info, meta, etag)
        last_modified = format_datetime(info.mtime.replace(microsecond=0), usegmt=True)
        return Response(xml, media_type=XML, headers={"Last-Modified": last_modified})

    def _span(self, req: S3Request, meta: ObjectMeta, size: int) -> tuple[int, int] | None:
        """The byte range a Range header or a partNumber asks for; None for all."""
        part = req.query.get("partNumber")
        if part is None:
            return parse_range(req.header("range"), size)
        if req.header("range"):
            raise ApiError("InvalidRequest", "Cannot specify both Range header and partNumber")
        span = s3_meta.part_span(part, meta, size)
        return span if meta.part_sizes else None  # a single put is its own whole part 1

    def delete_object(self, req: S3Request) -> Response:
        self.storage.delete(req.bucket, req.key)
        return Response(status_code=204)

    def delete_objects(self, req: S3Request) -> Response:
        verify_integrity(req.headers, req.trailers, req.body)
        quiet, keys = s3_xml.parse_delete(req.body)
        self._require_bucket(req.bucket)
        deleted, errors = [], []
        for key in keys:
            try:
                self.storage.delete(req.bucket, key)
                deleted.append(key)
            except ShoalError as exc:
                errors.append((key, "InvalidArgument" if exc.status < 500 else "InternalError",
                               exc.message))  # fmt: skip
        return _xml(s3_xml.delete_result([] if quiet else deleted, errors))

    def copy_object(self, req: S3Request) -> Response:
        bucket, key = _copy_source(req.header("x-amz-copy-source") or "")
        directive = (req.header("x-amz-metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise ApiError("InvalidArgument", "Unknown metadata directive.")
        if (bucket, key) == (req.bucket, req.key) and directive == "COPY":
            raise ApiError(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
            )
        s3_acl.check_acl_headers(req.headers, self.app.config.account_id)
        source_info, source = self.storage.head(bucket, key)
        self._check_copy_conditions(req, source.etag or self.etags.etag(source_info), source_info)
        validate_key(req.key)
        if directive == "COPY":
            meta = ObjectMeta(headers=source.headers, user=source.user)
        else:
            meta = s3_meta.meta_from_headers(req.headers)
        if not source.part_sizes:  # the same bytes: a single put's checksums still hold
            meta = replace(meta, checksums=source.checksums, checksum_type=source.checksum_type)
        pieces = self._pieces(bucket, key, 0, source_info.size)
        info = self.storage.put_chunks(req.bucket, req.key, pieces, meta)
        etag = info.etag or self.etags.etag(info)
        self.etags.remember(info, etag)
        return _xml(s3_xml.copy_result("CopyObjectResult", etag, info.mtime))

    def _pieces(self, bucket: str, key: str, start: int, stop: int) -> Iterator[bytes]:
        """Bytes ``[start, stop)`` of an object, read ``STREAM_CHUNK`` at a time."""
        if stop <= start:
            yield self.storage.read(bucket, key, start, start) if start else b""
            return
        for offset in range(start, stop, STREAM_CHUNK):
            yield self.storage.read(bucket, key, offset, min(offset + STREAM_CHUNK, stop))

    def _check_copy_conditions(self, req: S3Request, etag: str, info: ObjectInfo) -> None:
        """x-amz-copy-source-if-*: the If-* rules applied to the source; 412 if unmet."""
        prefix = "x-amz-copy-source-"
        conditions = {
            name[len(prefix) :]: value
            for name, value in req.headers.items()
            if name.startswith(prefix + "if-")
        }
        if conditions and check_conditions(conditions, etag, info.mtime) is not None:
            raise ApiError("PreconditionFailed", "At least one precondition failed", 412)

    # -- multipart ---------------------------------------------------------------

    def create_upload(self, req: S3Request) -> Response:
        validate_key(req.key)
        self._require_bucket(req.bucket)
        s3_acl.check_acl_headers(req.headers, self.app.config.account_id)
        meta = s3_meta.meta_from_headers(req.headers)
        checksum = checksum_request(req.headers)
        upload_id = self.uploads.create(req.bucket, req.key, meta, checksum)
        headers = {}
        if checksum is not None:
            headers = {"x-amz-checksum-algorithm": checksum[0].upper(),
                       "x-amz-checksum-type": checksum[1]}  # fmt: skip
        xml = s3_xml.initiate_multipart(req.bucket, req.key, upload_id)
        return Response(xml, media_type=XML, headers=headers)

    def upload_part(self, req: S3Request) -> Response:
        number = _part_number(req.query.get("partNumber"))
        folder = self.uploads.folder(req.query["uploadId"], req.bucket, req.key)
        source = req.header("x-amz-copy-source")
        checksums: dict[str, str] = {}
        if source:
            data = self._copy_range(source, req.header("x-amz-copy-source-range"))
        else:
            check = IntegrityCheck(req.headers)

            def data_checked() -> Iterator[bytes]:
                for piece in req.data():
                    check.update(piece)
                    yield piece
                checksums.update(check.verify(req.trailers))  # BadDigest: no part kept

            data = data_checked()
        etag = self.uploads.put_part(folder, number, data)
        if source:
            now = datetime.now(UTC)
            return _xml(s3_xml.copy_result("CopyPartResult", etag, now))
        return Response(status_code=200, headers={"ETag": etag, **checksums})

    def _copy_range(self, source: str, range_header: str | None) -> Iterator[bytes]:
        bucket, key = _copy_source(source)
        size = self.storage.stat(bucket, key).size
        if not range_header:
            return self._pieces(bucket, key, 0, size)
        first, _, last = range_header.removeprefix("bytes=").partition("-")
        numbers = first.isascii() and first.isdigit() and last.isascii() and last.isdigit()
        if not range_header.startswith("bytes=") or not numbers or int(first) > int(last):
            raise ApiError("InvalidArgument", "x-amz-copy-source-range must be bytes=first-last")
        if int(last) >= size:
            raise ApiError("InvalidRange", "The requested range is not satisfiable", 416)
        return self._pieces(bucket, key, int(first), int(last) + 1)

    def complete_upload(self, req: S3Request) -> Response:
        location = f"/{req.bucket}/{req.key}"
        done = self.uploads.completed(req.query["uploadId"], req.bucket, req.key)
        if done is not None:  # completing again answers the same, as S3 does
            return _xml(s3_xml.complete_multipart(location, req.bucket, req.key, *done))
        folder = self.uploads.folder(req.query["uploadId"], req.bucket, req.key)
        listed = s3_xml.parse_complete_parts(req.body)
        wanted = [(number, etag) for number, etag, _ in listed]
        self._check_write_conditions(req)
        staged = {n: (etag, size) for n, etag, size, _ in self.uploads.parts(folder)}
        check_parts(wanted, staged)
        paths = [self.uploads.part_path(folder, n) for n, _ in wanted]
        digests = b"".join(bytes.fromhex(staged[n][0].strip('"')) for n, _ in wanted)
        etag = f'"{hashlib.md5(digests).hexdigest()}-{len(wanted)}"'
        sizes = tuple(staged[n][1] for n, _ in wanted)
        meta = replace(self.uploads.object_meta(folder), part_sizes=sizes, etag=etag)
        checksum = self.uploads.checksum(folder)
        answer: tuple[str, ...] = ()
        if checksum is not None:
            meta = _upload_checksums(req, meta, checksum, paths, [s for _, _, s in listed])
            answer = (checksum[0], meta.checksums[checksum[0]], checksum[1])
        info = self.storage.put_chunks(req.bucket, req.key, file_pieces(paths), meta)
        self.etags.remember(info, etag)
        self.uploads.finish(folder, etag, answer)
        return _xml(s3_xml.complete_multipart(location, req.bucket, req.key, etag, answer))

    def abort_upload(self, req: S3Request) -> Response:
        folder = self.uploads.folder(req.query["uploadId"], req.bucket, req.key)
        self.uploads.remove(folder)
        return Response(status_code=204)

    def list_parts(self, req: S3Request) -> Response:
        upload_id = req.query["uploadId"]
        folder = self.uploads.folder(upload_id, req.bucket, req.key)
        marker = _int_param(req.query.get("part-number-marker"), 0, "part-number-marker")
        max_parts = min(_int_param(req.query.get("max-parts"), 1000, "max-parts"), 1000)
        parts = [p for p in self.uploads.parts(folder) if p[0] > marker]
        page = parts[:max_parts]
        truncated = len(parts) > max_parts
        return _xml(
            s3_xml.list_parts(req.bucket, req.key, upload_id, page, marker, max_parts, truncated)
        )


# -- checksums kept with objects ---------------------------------------------------------


def _checksum_answer(req: S3Request, meta: ObjectMeta) -> dict[str, str]:
    """The checksum headers of a GET or HEAD (of one part with ``partNumber``)."""
    part = req.query.get("partNumber")
    if part is None or not meta.part_sizes:
        return checksum_headers(meta.checksums, meta.checksum_type)
    number = int(part)  # part_span checked it
    if number > len(meta.part_checksums):
        return {}  # no checksum of this part is known
    return checksum_headers(meta.checksums, meta.checksum_type, meta.part_checksums[number - 1])


def _upload_checksums(
    req: S3Request,
    meta: ObjectMeta,
    checksum: tuple[str, str],
    paths: list[Path],
    claimed: list[dict[str, str]],
) -> ObjectMeta:
    """An upload's checksums from its parts (read a piece at a time); BadDigest when
    the request's disagree."""
    algorithm, kind = checksum
    whole_hasher = HASHERS[algorithm]()
    parts = []
    for path in paths:
        hasher = HASHERS[algorithm]()
        for piece in file_pieces([path]):
            hasher.update(piece)
            whole_hasher.update(piece)
        parts.append(base64.b64encode(hasher.digest()).decode())
    for computed, sums in zip(parts, claimed, strict=True):
        if sums.get(algorithm, computed) != computed:
            raise ApiError("BadDigest", f"A part's {algorithm.upper()} checksum does not match")
    if kind == "COMPOSITE":
        whole = composite_checksum(algorithm, parts)
    else:
        whole = base64.b64encode(whole_hasher.digest()).decode()
    claimed_whole = req.header(f"x-amz-checksum-{algorithm}")
    if claimed_whole is not None and claimed_whole.strip() != whole:
        raise ApiError("BadDigest", f"The {algorithm.upper()} you specified did not match")
    return replace(meta, checksums={algorithm: whole}, checksum_type=kind,
                   part_checksums=tuple(parts))  # fmt: skip


# -- helpers ---------------------------------------------------------------------------


def _xml(text: str) -> Response:
    return Response(text, media_type=XML)


def _int_param(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 10:
        raise ApiError("InvalidArgument", f"{name} must be a non-negative integer")
    return int(raw)


def _max_keys(raw: str | None) -> int:
    return min(_int_param(raw, 1000, "max-keys"), 1000)


def _part_number(raw: str | None) -> int:
    number = _int_param(raw, 0, "partNumber")
    if not 1 <= number <= MAX_PART_NUMBER:
        raise ApiError("InvalidArgument", f"partNumber must be between 1 and {MAX_PART_NUMBER}")
    return number


def _listable_prefix(prefix: str) -> bool:
    """Whether any storable key can start with ``prefix``.

    S3 answers any prefix; one that no valid key can start with (a '..' segment, a
    control character) has an empty listing here rather than an error.
    """
    try:
        validate_prefix(prefix)
    except InvalidKeyError:
        return False
    return True


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ApiError("InvalidArgument", "The continuation token provided is incorrect") from None


def _copy_source(header: str) -> tuple[str, str]:
    source, _, version = header.partition("?")
    if version and version not in ("versionId=null", ""):
        raise ApiError("NotImplemented", "shoal does not keep object versions", 501)
    try:
        text = unquote(source, errors="strict")
    except UnicodeDecodeError:
        raise ApiError("InvalidArgument", "x-amz-copy-source is not valid UTF-8") from None
    bucket, _, key = text.lstrip("/").partition("/")
    if not bucket or not key:
        raise ApiError("InvalidArgument", "x-amz-copy-source must be bucket/key")
    validate_key(key)
    return bucket, key


_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def _body(
    reader: ObjectReader, start: int, stop: int, status: int, headers: dict[str, str]
) -> Response:
    """The answer's bytes ``[start, stop)`` from ``reader``, which it closes: in one read
    when small, else streamed a piece at a time (also closed when the client leaves)."""
    if stop - start <= STREAM_CHUNK:
        with reader:
            data = reader.read(start, stop) if stop > start else b""
        return Response(data, status_code=status, headers=headers)

    def chunks() -> Iterator[bytes]:
        with reader:
            for offset in range(start, stop, STREAM_CHUNK):
                yield reader.read(offset, min(offset + STREAM_CHUNK, stop))

    return StreamingResponse(chunks(), status_code=status, headers=headers)


def _response_overrides(query: Mapping[str, str]) -> dict[str, str]:
    # Header values must not carry CR/LF: a presigned URL must not inject headers.
    return {
        header: value
        for param, header in _OVERRIDES.items()
        if (value := query.get(param)) is not None and not re.search(r"[\r\n\x00]", value)
    }
