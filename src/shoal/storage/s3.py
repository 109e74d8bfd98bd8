"""S3-compatible endpoints (AWS, MinIO, Ceph, moto, shoal itself) as storage.

Path-style addressing is forced so endpoints without wildcard DNS work. Bucket names
and keys are validated before any request is sent. botocore's ClientError codes are
mapped to shoal errors through ``_ERRORS``; anything unmapped becomes StorageError.

ETags are the server's (quoted MD5 for single-part uploads); listings carry them too.
``put`` takes its mtime from the response's Date header, not a second request.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NoReturn, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shoal.errors import (
    BucketNotEmptyError,
    InvalidBucketNameError,
    InvalidInputError,
    InvalidKeyError,
    InvalidRangeError,
    NoSuchBucketError,
    NoSuchKeyError,
    ShoalError,
    StorageError,
)
from shoal.storage.base import (
    Listing,
    MetaSource,
    ObjectInfo,
    ObjectReader,
    Storage,
    resolve_meta,
    validate_bucket_name,
    validate_key,
    validate_prefix,
)
from shoal.storage.meta import ObjectMeta

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3 error code -> shoal error. HEAD requests have no body, so their code is the
# HTTP status ("404"); _raise_mapped tells a missing bucket from a missing key.
_ERRORS: dict[str, type[ShoalError]] = {
    "NoSuchBucket": NoSuchBucketError,
    "NoSuchKey": NoSuchKeyError,
    "404": NoSuchKeyError,
    "NotFound": NoSuchKeyError,
    "BucketNotEmpty": BucketNotEmptyError,
    "InvalidRange": InvalidRangeError,
    "InvalidBucketName": InvalidBucketNameError,
    "KeyTooLongError": InvalidKeyError,
    "InvalidKey": InvalidKeyError,  # what shoal's own S3 API says of unsafe keys
}
# ObjectMeta members S3 keeps natively, as put_object arguments / head_object fields.
_HEADER_ARGS = {
    "Content-Type": "ContentType",
    "Cache-Control": "CacheControl",
    "Content-Disposition": "ContentDisposition",
    "Content-Encoding": "ContentEncoding",
    "Content-Language": "ContentLanguage",
}
# What has no native place rides in user metadata under names clients cannot use.
_INTERNAL = "shoal-internal-"
_PAGE_SIZE = 1000  # the most S3 returns per ListObjectsV2 call
# put_chunks uploads parts of this size (S3's least is 5 MiB, the last part aside).
PART_BYTES = 8 * 1024 * 1024


class S3Storage(Storage):
    """Buckets on an S3-compatible endpoint, reached through boto3.

    Args:
        endpoint_url: Base URL of the endpoint; None for AWS itself.
        access_key_id: Access key; None to use boto3's usual credential chain.
        secret_access_key: Secret key matching ``access_key_id``.
        region: Signing region, also the location of buckets this creates.
    """

    def __init__(
        self,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str = "us-east-1",
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard"})
        self._client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)

    def __repr__(self) -> str:
        # Never show credentials.
        return f"S3Storage(endpoint_url={self.endpoint_url!r}, region={self.region!r})"

    # -- buckets ---------------------------------------------------------------

    def list_buckets(self) -> list[str]:
        """Names of all buckets the credentials can see, sorted."""
        response = self._call(self._client.list_buckets)
        return sorted(b["Name"] for b in response.get("Buckets", []) if "Name" in b)

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket``; creating one that exists is not an error."""
        validate_bucket_name(bucket)
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            # us-east-1 is the one region that rejects an explicit LocationConstraint.
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._client.create_bucket(**kwargs)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                _raise_mapped(self, exc, bucket)
            if _code(exc) == "BucketAlreadyExists" and not self.bucket_exists(bucket):
                raise InvalidInputError(f"bucket {bucket!r} belongs to someone else") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 request failed: {exc}") from exc

    def delete_bucket(self, bucket: str) -> None:
        """Delete an empty bucket. Raises BucketNotEmptyError or NoSuchBucketError."""
        validate_bucket_name(bucket)
        self._call(self._client.delete_bucket, bucket, Bucket=bucket)

    def bucket_exists(self, bucket: str) -> bool:
        """Whether ``bucket`` exists (HEAD bucket)."""
        validate_bucket_name(bucket)
        try:
            self._client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise _storage_error(exc) from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 request failed: {exc}") from exc
        return True

    # -- objects ---------------------------------------------------------------

    def stat(self, bucket: str, key: str) -> ObjectInfo:
        """Size, mtime and etag of one object (HEAD). Raises NoSuchKeyError."""
        _validate(bucket, key)
        head = self._call(self._client.head_object, bucket, key, Bucket=bucket, Key=key)
        mtime = head["LastModified"].astimezone(UTC)
        return ObjectInfo(bucket, key, head["ContentLength"], mtime, head.get("ETag"))

    def read(self, bucket: str, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` through a ranged GET; see Storage.read for semantics."""
        return self._ranged_get(bucket, key, start, end)

    def open_object(self, bucket: str, key: str) -> ObjectReader:
        """``key``'s current version, by its ETag: each read is a ranged GET that must
        still match it (If-Match), so a replaced object fails the read with
        StorageError instead of mixing two versions' bytes."""
        return _SameVersion(self, self.head(bucket, key)[0])

    def _ranged_get(
        self, bucket: str, key: str, start: int, end: int | None, if_match: str | None = None
    ) -> bytes:
        _validate(bucket, key)
        if start < 0 or (end is not None and end < start):
            raise InvalidRangeError(f"invalid byte range: start={start}, end={end}")
        if end == start:
            self.stat(bucket, key)  # an HTTP Range cannot be empty; only check existence
            return b""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        response = self._call(self._client.get_object, bucket, key, **kwargs)
        with response["Body"] as body:
            data: bytes = body.read()
        return data

    def head(self, bucket: str, key: str) -> tuple[ObjectInfo, ObjectMeta]:
        """Size, mtime, etag and the metadata stored with the object (one HEAD)."""
        _validate(bucket, key)
        head = self._call(self._client.head_object, bucket, key, Bucket=bucket, Key=key)
        mtime = head["LastModified"].astimezone(UTC)
        info = ObjectInfo(bucket, key, head["ContentLength"], mtime, head.get("ETag"))
        return info, _meta_of(cast("Mapping[str, Any]", head))

    def put(self, bucket: str, key: str, data: bytes, meta: ObjectMeta | None = None) -> ObjectInfo:
        """Store ``data`` (and ``meta``) at ``key``; a single PUT is atomic on S3."""
        _validate(bucket, key)
        response = self._call(
            self._client.put_object, bucket, key, Bucket=bucket, Key=key, Body=data,
            **_put_arguments(meta or ObjectMeta()),
        )  # fmt: skip
        mtime = _response_date(response["ResponseMetadata"].get("HTTPHeaders", {}))
        return ObjectInfo(bucket, key, len(data), mtime, response.get("ETag"))

    def put_chunks(
        self, bucket: str, key: str, chunks: Iterable[bytes], meta: MetaSource = None
    ) -> ObjectInfo:
        """``put`` of the concatenated ``chunks``, uploaded ``PART_BYTES`` at a time as
        they come (one PUT when they add up to less). A multipart upload shows nothing
        until it completes and is aborted if ``chunks`` raises: a large result is never
        whole in memory, and a stopped query waits at most for the part under way."""
        _validate(bucket, key)
        parts = _parts(chunks)
        first = next(parts, b"")
        second = next(parts, None)
        if second is None:
            return self.put(bucket, key, first, resolve_meta(meta))
        # S3 takes an upload's metadata when it starts: a ``meta`` function is asked
        # now, so a checksum that trails the body is checked but not kept.
        created = self._call(
            self._client.create_multipart_upload, bucket, key, Bucket=bucket, Key=key,
            **_put_arguments(resolve_meta(meta) or ObjectMeta()),
        )  # fmt: skip
        upload = {"Bucket": bucket, "Key": key, "UploadId": created["UploadId"]}
        try:
            done, size = [], 0
            for number, body in enumerate(itertools.chain((first, second), parts), start=1):
                part = self._call(
                    self._client.upload_part, bucket, key, PartNumber=number, Body=body, **upload
                )
                done.append({"PartNumber": number, "ETag": part["ETag"]})
                size += len(body)
            response = self._call(
                self._client.complete_multipart_upload, bucket, key,
                MultipartUpload={"Parts": done}, **upload,
            )  # fmt: skip
        except BaseException:
            with contextlib.suppress(ShoalError):  # the first error is the one to report
                self._call(self._client.abort_multipart_upload, bucket, key, **upload)
            raise
        mtime = _response_date(response["ResponseMetadata"].get("HTTPHeaders", {}))
        return ObjectInfo(bucket, key, size, mtime, response.get("ETag"))

    def delete(self, bucket: str, key: str) -> None:
        """Delete one object; deleting a missing key is not an error."""
        _validate(bucket, key)
        self._call(self._client.delete_object, bucket, key, Bucket=bucket, Key=key)

    def move(self, bucket: str, source: str, target: str) -> None:
        """Copy on the server (boto3's managed copy: multipart past its threshold),
        then delete ``source``."""
        _validate(bucket, source)
        _validate(bucket, target)
        self._call(
            self._client.copy, bucket, source,
            CopySource={"Bucket": bucket, "Key": source}, Bucket=bucket, Key=target,
        )  # fmt: skip
        self.delete(bucket, source)

    # -- listing ---------------------------------------------------------------

    def list(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        start_after: str | None = None,
        max_keys: int | None = None,
    ) -> Listing:
        """List objects under ``prefix``, following pages until ``max_keys`` is reached."""
        if max_keys is not None and max_keys < 0:
            raise InvalidInputError("max_keys must not be negative")
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        truncated = False
        for page in self._pages(bucket, prefix, delimiter, start_after, max_keys):
            objects.extend(_objects(bucket, page))
            prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []) if "Prefix" in p)
            truncated = page.get("IsTruncated", False)
        return Listing(objects, prefixes, is_truncated=truncated)

    def walk(self, bucket: str, prefix: str = "") -> Iterable[ObjectInfo]:
        """Every object under ``prefix``, page by page, lazily, in key order."""
        pages = self._pages(bucket, prefix, None, None, None)
        return (info for page in pages for info in _objects(bucket, page))

    def _pages(
        self,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        start_after: str | None,
        max_keys: int | None,
    ) -> Iterator[Any]:
        validate_bucket_name(bucket)
        validate_prefix(prefix)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        if start_after:
            kwargs["StartAfter"] = start_after
        return self._page_loop(kwargs, max_keys)

    def _page_loop(self, kwargs: dict[str, Any], max_keys: int | None) -> Iterator[Any]:
        remaining = max_keys
        while True:
            size = _PAGE_SIZE if remaining is None else min(_PAGE_SIZE, remaining)
            page = self._call(
                self._client.list_objects_v2, kwargs["Bucket"], MaxKeys=size, **kwargs
            )
            yield page
            if remaining is not None:
                remaining -= page.get("KeyCount", 0)
            token = page.get("NextContinuationToken")
            if (
                not page.get("IsTruncated")
                or not token
                or (remaining is not None and remaining <= 0)
            ):
                return
            kwargs = {**kwargs, "ContinuationToken": token}

    # -- errors ----------------------------------------------------------------

    def _call(
        self, method: Callable[..., Any], bucket: str = "", key: str = "", **kwargs: Any
    ) -> Any:
        """Call one boto3 method, turning its errors into shoal errors."""
        try:
            return method(**kwargs)
        except ClientError as exc:
            _raise_mapped(self, exc, bucket, key)
        except BotoCoreError as exc:
            # Connection refused, timeouts, bad endpoint: nothing the caller can fix.
            raise StorageError(f"S3 request failed: {exc}") from exc


class _SameVersion(ObjectReader):
    """Reads of one version of an S3 object, held by its ETag."""

    def __init__(self, storage: S3Storage, info: ObjectInfo) -> None:
        super().__init__(storage, info)
        self._s3 = storage

    def read(self, start: int, end: int) -> bytes:
        return self._s3._ranged_get(self.info.bucket, self.info.key, start, end, self.info.etag)


def _parts(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` regrouped into parts of at least ``PART_BYTES`` (the last may be less)."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        if len(pending) >= PART_BYTES:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


def _put_arguments(meta: ObjectMeta) -> dict[str, Any]:
    """put_object arguments that store ``meta`` (see ``_meta_of`` for the way back)."""
    if any(name.startswith(_INTERNAL) for name in meta.user):
        raise InvalidInputError(f"user metadata names must not start with {_INTERNAL!r}")
    texts = [*meta.headers.values(), *meta.user]
    if not all(text.isascii() for text in texts):
        raise InvalidInputError("metadata names and standard headers must be ASCII")
    args: dict[str, Any] = {
        arg: meta.headers[name] for name, arg in _HEADER_ARGS.items() if name in meta.headers
    }
    # Values travel as HTTP headers, so ASCII: others go RFC 2047-encoded, and the
    # names of those are kept so that only they are decoded on the way back.
    user = {name: _mail_safe(value) for name, value in meta.user.items()}
    encoded = sorted(name for name, value in meta.user.items() if not value.isascii())
    if encoded:
        user[_INTERNAL + "encoded"] = ",".join(encoded)
    if "Expires" in meta.headers:
        # botocore sends Expires as a timestamp; keep the client's exact text instead.
        user[_INTERNAL + "expires"] = meta.headers["Expires"]
    if meta.part_sizes:
        user[_INTERNAL + "parts"] = ",".join(map(str, meta.part_sizes))
    if meta.etag:
        user[_INTERNAL + "etag"] = meta.etag
    if meta.checksums:
        parts = list(meta.part_checksums)
        if len(",".join(parts)) > 1000:
            parts = []  # S3 keeps 2 KB of user metadata: part checksums of big uploads go
        user[_INTERNAL + "checksums"] = json.dumps(
            {"values": dict(meta.checksums), "type": meta.checksum_type, "parts": parts}
        )
    if user:
        args["Metadata"] = user
    return args


def _meta_of(head: Mapping[str, Any]) -> ObjectMeta:
    """The ObjectMeta a head_object answer carries (what ``_put_arguments`` stored)."""
    headers = {name: head[arg] for name, arg in _HEADER_ARGS.items() if head.get(arg)}
    user = dict(head.get("Metadata") or {})
    if _INTERNAL + "expires" in user:
        headers["Expires"] = user[_INTERNAL + "expires"]
    parts = user.get(_INTERNAL + "parts", "")
    etag = user.get(_INTERNAL + "etag")
    checksums = json.loads(user.get(_INTERNAL + "checksums") or "{}")
    encoded = set((user.get(_INTERNAL + "encoded") or "").split(","))
    user = {
        k: _from_mail_safe(v) if k in encoded else v
        for k, v in user.items()
        if not k.startswith(_INTERNAL)
    }
    sizes = tuple(int(n) for n in parts.split(",") if n.isdigit())
    return ObjectMeta(
        headers=headers,
        user=user,
        part_sizes=sizes,
        etag=etag,
        checksums=checksums.get("values", {}),
        checksum_type=checksums.get("type"),
        part_checksums=tuple(checksums.get("parts", ())),
    )


def _mail_safe(value: str) -> str:
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode() + "?="


def _from_mail_safe(value: str) -> str:
    if value.startswith("=?UTF-8?B?") and value.endswith("?="):
        try:
            return base64.b64decode(value[10:-2]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return value
    return value


def _validate(bucket: str, key: str) -> None:
    validate_bucket_name(bucket)
    validate_key(key)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _raise_mapped(storage: S3Storage, exc: ClientError, bucket: str, key: str = "") -> NoReturn:
    code = _code(exc)
    error = _ERRORS.get(code)
    if code in ("404", "NotFound") and (not key or not storage.bucket_exists(bucket)):
        # A bare 404 from HEAD does not say whether the bucket or the key is missing.
        error = NoSuchBucketError
    if error is None:
        raise _storage_error(exc) from exc
    what = f"{bucket}/{key}" if key else bucket
    message = exc.response.get("Error", {}).get("Message") or code
    raise error(f"{message}: {what}") from exc


def _storage_error(exc: ClientError) -> StorageError:
    return StorageError(f"S3 request failed: {exc}")


def _objects(bucket: str, page: Any) -> Iterator[ObjectInfo]:
    for item in page.get("Contents", []):
        # botocore may attach tzlocal(); shoal promises UTC.
        mtime = item["LastModified"].astimezone(UTC)
        yield ObjectInfo(bucket, item["Key"], item["Size"], mtime, item.get("ETag"))


def _response_date(headers: dict[str, str]) -> datetime:
    try:
        return parsedate_to_datetime(headers["date"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)
