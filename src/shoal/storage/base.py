"""The storage seam: where the lake's objects live.

Every location in shoal is an ``s3://bucket/key`` URI, whether the bytes sit in a
local folder or behind an S3-compatible endpoint, so one table definition works on
both. Implementations validate bucket names and keys before touching anything.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TypeAlias

from shoal.errors import (
    InvalidBucketNameError,
    InvalidInputError,
    InvalidKeyError,
    InvalidRangeError,
    ShoalError,
)
from shoal.storage.meta import ObjectMeta

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_LIKE_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_KEY_BYTES = 1024

PrefixAnswer: TypeAlias = tuple[str, bytes | ShoalError]
"""One answer of ``Storage.read_prefixes``: the key, and its bytes or why not."""

MetaSource: TypeAlias = "ObjectMeta | Callable[[], ObjectMeta] | None"
"""An object's metadata for ``put_chunks``: known, or asked for once the chunks have
all been produced (checksums that trail a streamed body are known only then)."""


def resolve_meta(meta: MetaSource) -> ObjectMeta | None:
    """The metadata ``meta`` stands for (calling it if it is a function)."""
    return meta() if callable(meta) else meta


@dataclass(frozen=True, slots=True)  # slots: listings make one per object, often many
class ObjectInfo:
    """One stored object as a listing or a stat reports it.

    ``mtime`` is timezone-aware UTC. ``etag`` is S3's quoted MD5 of the content
    (``'"9e10..."'``) when the backend knows it cheaply, else None: ``put`` always
    returns it; listings and ``stat`` of local storage do not compute it.
    ``local_path`` is the file a local listing found the object in (reached without
    crossing a symlink), which spares ``Storage.local_path`` its checks; else None.
    """

    bucket: str
    key: str
    size: int
    mtime: datetime
    etag: str | None = None
    local_path: str | None = field(default=None, compare=False, repr=False)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Listing:
    """A page of a delimiter listing: objects at this level and common prefixes below.

    ``is_truncated`` says that ``max_keys`` cut the listing short: more objects or
    prefixes follow the last one returned.
    """

    objects: list[ObjectInfo]
    prefixes: list[str]
    is_truncated: bool = False


@lru_cache(maxsize=1024)
def validate_bucket_name(bucket: str) -> str:
    """Check ``bucket`` against S3's naming rules; return it unchanged or raise."""
    if (
        not _BUCKET_RE.match(bucket)
        or ".." in bucket
        or ".-" in bucket
        or "-." in bucket
        or _IP_LIKE_RE.match(bucket)
        or bucket.startswith(("xn--", "sthree-"))
        or bucket.endswith(("-s3alias", "--ol-s3", "--x-s3"))
    ):
        raise InvalidBucketNameError(f"invalid bucket name: {bucket!r}")
    return bucket


_DOT_SEGMENT_RE = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")


def validate_key(key: str) -> str:
    """Reject keys that could escape a bucket or that S3 would not store.

    A key is a relative, '/'-separated path: no NUL or control characters, no
    leading '/', no '.' or '..' segments, at most 1024 UTF-8 bytes.
    """
    if _plainly_safe(key):
        return key
    if not key:
        raise InvalidKeyError("object key must not be empty")
    _check_key_text(key, "object key")
    if _DOT_SEGMENT_RE.search(key):
        raise InvalidKeyError(f"object key must not contain '.' or '..' segments: {key!r}")
    return key


def _plainly_safe(key: str) -> bool:
    """A fast accept for the usual key, with string methods that run in C.

    It accepts only keys the full checks accept: ASCII (so the UTF-8 size is the
    length), printable (no control character), no backslash, no leading '/', and no
    segment starting with '.' at all (so no '.' or '..' segment). Anything else,
    hidden files included, takes the full checks. Crawls validate thousands of keys.
    """
    return (
        0 < len(key) <= MAX_KEY_BYTES
        and key.isascii()
        and key.isprintable()
        and "\\" not in key
        and key[0] not in "/."
        and "/." not in key
    )


def validate_prefix(prefix: str) -> str:
    """Check a listing prefix; return it unchanged or raise InvalidKeyError.

    A prefix follows the key rules except that it may be empty and its last segment
    is only a name filter, so ``"logs/.hid"`` is fine while ``"../"`` is not.
    """
    if prefix:
        _check_key_text(prefix, "prefix")
        if any(part in (".", "..") for part in prefix.split("/")[:-1]):
            raise InvalidKeyError(f"prefix must not contain '.' or '..' segments: {prefix!r}")
    return prefix


def _check_key_text(text: str, what: str) -> None:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        # Lone surrogates (e.g. undecodable file names) have no UTF-8 form S3 could store.
        raise InvalidKeyError(f"{what} is not valid Unicode: {text!r}") from None
    if size > MAX_KEY_BYTES:
        raise InvalidKeyError(f"{what} is longer than {MAX_KEY_BYTES} bytes")
    if _CONTROL_RE.search(text):
        raise InvalidKeyError(f"{what} contains a control character: {text!r}")
    if text.startswith("/") or "\\" in text:
        raise InvalidKeyError(f"{what} must be relative and use '/': {text!r}")


def parse_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key); key may be '' for a bucket root."""
    if not uri.startswith("s3://"):
        raise InvalidInputError(f"location must be an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    validate_bucket_name(bucket)
    return bucket, key


def join_uri(bucket: str, key: str) -> str:
    """The ``s3://bucket/key`` URI of an object (or of a bucket root when key is '')."""
    return f"s3://{bucket}/{key}"


class ObjectReader:
    """One object opened for ranged reads (``Storage.open_object``): ``info`` describes
    the version opened, and every ``read`` answers from that version, whatever replaces
    the object meanwhile -- or, where the storage cannot hold a version, fails with
    StorageError rather than mixing two versions' bytes. Close it (or use ``with``).

    This base reads through ``Storage.read`` and checks nothing: storage that can do
    better overrides ``Storage.open_object``.
    """

    def __init__(self, storage: Storage, info: ObjectInfo) -> None:
        self.info = info
        self._storage = storage

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the version opened (``Storage.read``'s ranges)."""
        return self._storage.read(self.info.bucket, self.info.key, start, end)

    def close(self) -> None:
        """Release what the reader holds open."""

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_MOVE_CHUNK = 8 * 1024 * 1024  # bytes a default move reads at a time


class Storage(ABC):
    """Object storage addressed by bucket and key.

    Implementations must make ``put`` atomic (a reader sees the old object or the
    whole new one, never part of it) and must never touch anything outside the
    buckets they serve.
    """

    @abstractmethod
    def list_buckets(self) -> list[str]:
        """Names of all buckets, sorted."""

    @abstractmethod
    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket``; creating one that exists is not an error."""

    @abstractmethod
    def delete_bucket(self, bucket: str) -> None:
        """Delete an empty bucket. Raises BucketNotEmptyError or NoSuchBucketError."""

    @abstractmethod
    def bucket_exists(self, bucket: str) -> bool:
        """Whether ``bucket`` exists."""

    @abstractmethod
    def list(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        start_after: str | None = None,
        max_keys: int | None = None,
    ) -> Listing:
        """List objects under ``prefix`` in key order.

        With a ``delimiter``, keys containing it after the prefix are rolled up into
        ``prefixes`` (S3's CommonPrefixes). ``start_after`` skips keys *and* common
        prefixes that sort at or before it (so a prefix is skipped when
        ``start_after`` falls inside it), which makes the last key or prefix of one
        page the ``start_after`` of the next. ``max_keys`` caps objects plus prefixes
        returned; ``is_truncated`` tells whether more follow. Order is S3's: by UTF-8
        bytes, which is Python's ``str`` order.

        Raises:
            NoSuchBucketError, InvalidKeyError (unsafe prefix).
        """

    def walk(self, bucket: str, prefix: str = "") -> Iterable[ObjectInfo]:
        """Every object under ``prefix``, recursively, in key order.

        A storage that keeps walks may answer a walk in which nothing changed with the
        very object it answered before (``LocalStorage``): callers that built something
        from a walk may keep it while ``walk`` returns the same object.
        """
        yield from self.list(bucket, prefix).objects

    @abstractmethod
    def stat(self, bucket: str, key: str) -> ObjectInfo:
        """Size and mtime of one object. Raises NoSuchKeyError."""

    @abstractmethod
    def read(self, bucket: str, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of an object (to its end when ``end`` is None).

        Range semantics follow S3's GET with a Range header: ``end`` past the end of
        the object is clamped; a range starting at or past the end of the object
        raises InvalidRangeError, except that the whole-object read
        (``start=0, end=None``) always works, even for an empty object. An empty range
        (``end == start``) returns ``b""`` once the object is known to exist. Negative
        ``start`` or ``end < start`` raise InvalidRangeError.

        Raises:
            NoSuchBucketError, NoSuchKeyError, InvalidRangeError.
        """

    def open_object(self, bucket: str, key: str) -> ObjectReader:
        """``key`` opened for ranged reads of one version (see ``ObjectReader``): what
        GetObject streams from, so a response never mixes two versions of an object.
        Raises NoSuchKeyError. This default holds no version (it reads through
        ``read``); implementations override it."""
        return ObjectReader(self, self.stat(bucket, key))

    def read_prefixes(
        self, bucket: str, requests: Iterable[tuple[str, int]]
    ) -> Generator[PrefixAnswer, None, None]:
        """The first bytes of many objects, lazily, one answer per request, in order.

        ``requests`` holds ``(key, length)`` pairs. Each answer is ``(key, data)``:
        ``data`` holds the object's first ``length`` bytes (fewer when the object is
        shorter, ``b""`` when it is empty), or is the ShoalError reading it raised
        (NoSuchBucketError, NoSuchKeyError, InvalidKeyError, InvalidRangeError for a
        negative length, StorageError): one bad object never ends the batch.

        Requests are taken one at a time as answers are asked for, so a caller may
        stop early; it should then ``close()`` the generator, which releases what an
        implementation holds open (local storage keeps a folder open). This default
        calls ``read`` per object; implementations may do better.
        """
        for key, length in requests:
            try:
                yield key, self._read_prefix(bucket, key, length)
            except ShoalError as exc:
                yield key, exc

    def _read_prefix(self, bucket: str, key: str, length: int) -> bytes:
        if length < 0:
            raise InvalidRangeError(f"invalid prefix length: {length}")
        try:
            return self.read(bucket, key, 0, length)
        except InvalidRangeError:
            return b""  # a range from 0 is unsatisfiable only for an empty object

    def head(self, bucket: str, key: str) -> tuple[ObjectInfo, ObjectMeta]:
        """What ``stat`` says, and the metadata ``put`` stored. Raises NoSuchKeyError.

        This default knows no metadata; implementations that keep it override it.
        """
        return self.stat(bucket, key), ObjectMeta()

    @abstractmethod
    def put(self, bucket: str, key: str, data: bytes, meta: ObjectMeta | None = None) -> ObjectInfo:
        """Store ``data`` at ``key`` atomically, replacing any existing object.

        ``meta`` (headers, user metadata, multipart shape) is kept with the object
        and answered by ``head``; None or empty replaces what was kept with nothing.
        """

    def put_chunks(
        self, bucket: str, key: str, chunks: Iterable[bytes], meta: MetaSource = None
    ) -> ObjectInfo:
        """``put`` of the concatenated ``chunks``, which may be produced while they are
        stored; an exception raised by ``chunks`` stores nothing and propagates.
        ``meta`` may be a function, called once the chunks are exhausted (and not at
        all if they fail). This default joins them first; storage that can write as
        it goes overrides it."""
        data = b"".join(chunks)
        return self.put(bucket, key, data, resolve_meta(meta))

    @abstractmethod
    def delete(self, bucket: str, key: str) -> None:
        """Delete one object; deleting a missing key is not an error (as in S3)."""

    def move(self, bucket: str, source: str, target: str) -> None:
        """Move the object ``source`` to ``target`` in ``bucket``, replacing any object
        there; ``source`` is gone afterwards. Raises NoSuchKeyError.

        What an engine wrote into a staging folder is moved into place this way. This
        default copies the bytes through this process; local folders rename the file,
        S3 copies it on the server.
        """
        info, meta = self.head(bucket, source)
        reader = self.open_object(bucket, source)
        try:
            chunks = (reader.read(start, min(start + _MOVE_CHUNK, info.size))
                      for start in range(0, info.size, _MOVE_CHUNK))  # fmt: skip
            self.put_chunks(bucket, target, chunks, meta)
        finally:
            reader.close()
        self.delete(bucket, source)

    def local_path(self, bucket: str, key: str) -> str | None:
        """A filesystem path engines may read directly, or None for remote storage."""
        return None
