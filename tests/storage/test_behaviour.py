"""The behaviour every Storage must show, run against each implementation.

Expected answers are computed independently of the code under test: keys are sorted
by their UTF-8 bytes (S3's order) and listings come from the naive model
``expected_listing`` below.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shoal.errors import (
    BucketNotEmptyError,
    InvalidBucketNameError,
    InvalidKeyError,
    InvalidRangeError,
    NoSuchBucketError,
    NoSuchKeyError,
    StorageError,
)
from shoal.storage import Listing, ObjectInfo, S3Storage, Storage, join_uri, parse_uri
from shoal.storage.meta import ObjectMeta

from .conftest import StorageCase

VALID_BUCKET_NAMES = ["abc", "a-b.c", "my.bucket-1", "0numbers9", "a" * 63]
INVALID_BUCKET_NAMES = [
    "ab",  # too short
    "a" * 64,  # too long
    "Upper",
    "under_score",
    "-leading",
    "trailing-",
    ".leading",
    "dots..double",
    "dot.-dash",
    "dash-.dot",
    "192.168.1.10",
    "xn--punycode",
    "name-s3alias",
    "sp ace",
    ".shoal-staging",
    "",
]
UNSAFE_KEYS = ["", "../x", "a/../../x", "a/./b", "/etc/passwd", "a\x00b", "a\\b", "tab\tkey"]

# Plain keys, and keys no plain file can hold (local storage keeps those aside):
# folder markers, objects that are folders too, empty segments, long segments.
LONG_SEGMENT = "l/" + "x" * 300
LISTING_KEYS = [
    "a",
    "a/",
    "a//x",
    "a/b",
    "c",
    "c/d/",
    "é/",
    "year=2024_$folder$",
    "year=2024/month=01/",
    LONG_SEGMENT,
    LONG_SEGMENT + "/y",
    "a-b",
    "a.b",
    "a/1",
    "a/2",
    "a/b/c",
    "a/b/d",
    "B",
    "b",
    "c/d/e/f",
    "c/x",
    "e",
    "é/1",
    "é2",
    "日本/データ.csv",
    "year=2024/month=01/x.csv",
    "year=2024/month=02/y.csv",
    "year=2025/month=01/z.csv",
    "Z",
    "\U0001f600",
    "\uff5e",
]


def s3_order(keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def expected_listing(
    keys: list[str],
    prefix: str = "",
    delimiter: str | None = None,
    start_after: str | None = None,
    max_keys: int | None = None,
) -> tuple[list[str], list[str], bool]:
    """A naive model of ListObjectsV2: (object keys, common prefixes, truncated)."""
    items: list[tuple[str, str]] = []
    for key in s3_order([k for k in keys if k.startswith(prefix)]):
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        item = ("prefix", key[: cut + len(delimiter)]) if delimiter and cut >= 0 else ("key", key)
        if item not in items:
            items.append(item)
    if start_after is not None:
        items = [i for i in items if i[1].encode() > start_after.encode()]
    truncated = max_keys is not None and len(items) > max_keys
    items = items[:max_keys]
    return [v for t, v in items if t == "key"], [v for t, v in items if t == "prefix"], truncated


def seen(listing: Listing) -> tuple[list[str], list[str], bool]:
    return [o.key for o in listing.objects], listing.prefixes, listing.is_truncated


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


@pytest.fixture
def listed(storage_case: StorageCase) -> tuple[Storage, str]:
    """A bucket holding LISTING_KEYS (content: the key itself)."""
    bucket = storage_case.new_bucket()
    for key in LISTING_KEYS:
        storage_case.storage.put(bucket, key, key.encode())
    return storage_case.storage, bucket


# -- buckets ---------------------------------------------------------------------


@pytest.mark.parametrize("name", INVALID_BUCKET_NAMES)
def test_invalid_bucket_names_are_refused_before_any_request(
    storage_case: StorageCase, name: str
) -> None:
    storage = storage_case.storage
    for call in (
        lambda: storage.create_bucket(name),
        lambda: storage.bucket_exists(name),
        lambda: storage.put(name, "k", b"x"),
        lambda: storage.list(name),
        lambda: storage.delete_bucket(name),
    ):
        with pytest.raises(InvalidBucketNameError):
            call()


@pytest.mark.parametrize("name", VALID_BUCKET_NAMES)
def test_valid_bucket_names_are_accepted(storage_case: StorageCase, name: str) -> None:
    storage = storage_case.storage
    storage.create_bucket(name)
    try:
        assert storage.bucket_exists(name)
        assert name in storage.list_buckets()
    finally:
        storage.delete_bucket(name)  # a shared server outlives the test
    assert not storage.bucket_exists(name)


def test_create_bucket_is_idempotent_and_listed(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    names = [storage_case.new_bucket(create=False) for _ in range(3)]
    for name in names:
        assert not storage.bucket_exists(name)
        storage.create_bucket(name)
        storage.create_bucket(name)
        assert storage.bucket_exists(name)
    buckets = storage.list_buckets()
    assert buckets == sorted(buckets)
    assert set(names) <= set(buckets)


def test_delete_bucket(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "dir/k", b"x")
    with pytest.raises(BucketNotEmptyError):
        storage.delete_bucket(bucket)
    storage.delete(bucket, "dir/k")
    storage.delete_bucket(bucket)
    assert not storage.bucket_exists(bucket)
    assert bucket not in storage.list_buckets()
    with pytest.raises(NoSuchBucketError):
        storage.delete_bucket(bucket)


def test_missing_bucket_raises_no_such_bucket(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket(create=False)
    for call in (
        lambda: storage.put(bucket, "k", b"x"),
        lambda: storage.read(bucket, "k"),
        lambda: storage.stat(bucket, "k"),
        lambda: storage.delete(bucket, "k"),
        lambda: storage.list(bucket),
        lambda: list(storage.walk(bucket)),
    ):
        with pytest.raises(NoSuchBucketError):
            call()


# -- objects -----------------------------------------------------------------------


def test_put_stat_read_round_trip(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    data = bytes(range(256)) * 41
    before = datetime.now(UTC) - timedelta(minutes=1)
    info = storage.put(bucket, "deep/er/object.bin", data)
    assert (info.bucket, info.key, info.size) == (bucket, "deep/er/object.bin", len(data))
    assert info.etag == md5_etag(data)
    assert info.uri == f"s3://{bucket}/deep/er/object.bin"
    stat = storage.stat(bucket, "deep/er/object.bin")
    assert stat.size == len(data)
    assert stat.etag in (None, md5_etag(data))
    for when in (info.mtime, stat.mtime):
        assert when.utcoffset() == timedelta(0)
        assert before <= when <= datetime.now(UTC) + timedelta(minutes=1)
    assert storage.read(bucket, "deep/er/object.bin") == data


def test_put_chunks_stores_their_concatenation(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    chunks = [b"header\n", b"", bytes(range(256)) * 7, b"tail"]
    info = storage.put_chunks(bucket, "pieces/result.csv", iter(chunks))
    data = b"".join(chunks)
    assert (info.size, info.etag) == (len(data), md5_etag(data))
    assert storage.read(bucket, "pieces/result.csv") == data


def test_put_chunks_whose_producer_fails_stores_nothing(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "kept.csv", b"old")

    def failing() -> Iterator[bytes]:
        yield b"half of a result"
        raise RuntimeError("the producer stopped")

    for key in ("new.csv", "kept.csv"):
        with pytest.raises(RuntimeError, match="producer stopped"):
            storage.put_chunks(bucket, key, failing())
    assert [o.key for o in storage.list(bucket).objects] == ["kept.csv"]
    assert storage.read(bucket, "kept.csv") == b"old"


MIB = 1024 * 1024


def test_put_chunks_larger_than_a_part_store_their_concatenation(storage_case: StorageCase) -> None:
    # 19 MiB and a tail: S3 storage sends it as a multipart upload of three parts.
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    chunks = [bytes([n]) * MIB for n in range(19)] + [b"tail"]
    info = storage.put_chunks(bucket, "big/result.csv", iter(chunks))
    data = b"".join(chunks)
    assert info.size == storage.stat(bucket, "big/result.csv").size == len(data)
    assert storage.read(bucket, "big/result.csv") == data
    if isinstance(storage, S3Storage):
        assert (info.etag or "").endswith('-3"')  # a multipart upload's ETag


def test_put_chunks_whose_producer_fails_after_some_parts_stores_nothing(
    storage_case: StorageCase,
) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()

    def failing() -> Iterator[bytes]:
        yield from (bytes([n]) * MIB for n in range(20))  # two parts sent to S3
        raise RuntimeError("the producer stopped")

    with pytest.raises(RuntimeError, match="producer stopped"):
        storage.put_chunks(bucket, "big/result.csv", failing())
    assert storage.list(bucket).objects == []
    if isinstance(storage, S3Storage):  # the unfinished upload was aborted, not left behind
        uploads = storage._client.list_multipart_uploads(Bucket=bucket)
        assert uploads.get("Uploads", []) == []


def test_put_chunks_asks_a_meta_function_for_the_metadata(storage_case: StorageCase) -> None:
    """``meta`` as a function: local folders ask once every piece is in (an upload's
    trailing checksum is known only then); an S3 multipart upload asks at its start."""
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    pieces = [bytes([n]) * MIB for n in range(20)]
    produced: list[int] = []

    def chunks() -> Iterator[bytes]:
        for piece in pieces:
            yield piece
            produced.append(len(piece))

    def meta() -> ObjectMeta:
        return ObjectMeta(user={"pieces": str(len(produced))})

    storage.put_chunks(bucket, "large.bin", chunks(), meta)
    assert storage.read(bucket, "large.bin") == b"".join(pieces)
    kept = storage.head(bucket, "large.bin")[1].user.get("pieces")
    assert kept == "20" if storage_case.name == "local" else kept is not None


def test_empty_object(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    assert storage.put(bucket, "empty", b"").etag == md5_etag(b"")
    assert storage.stat(bucket, "empty").size == 0
    assert storage.read(bucket, "empty") == b""


def test_missing_key_raises_no_such_key(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "present/x", b"x")
    for key in ("absent", "present", "present/x/y"):
        with pytest.raises(NoSuchKeyError):
            storage.stat(bucket, key)
        with pytest.raises(NoSuchKeyError):
            storage.read(bucket, key)


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_unsafe_keys_are_refused(storage_case: StorageCase, key: str) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    for call in (
        lambda: storage.put(bucket, key, b"x"),
        lambda: storage.read(bucket, key),
        lambda: storage.stat(bucket, key),
        lambda: storage.delete(bucket, key),
    ):
        with pytest.raises(InvalidKeyError):
            call()
    assert list(storage.walk(bucket)) == []


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, None), (0, 1), (3, 10), (10, None), (99, 100), (99, None), (0, 100), (50, 1000), (7, 7)],
)
def test_ranged_read(storage_case: StorageCase, start: int, end: int | None) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    data = bytes(range(100))
    storage.put(bucket, "r", data)
    assert storage.read(bucket, "r", start, end) == data[start:end]


@pytest.mark.parametrize(("start", "end"), [(100, None), (100, 101), (500, 600), (-1, 5), (5, 4)])
def test_unsatisfiable_ranges(storage_case: StorageCase, start: int, end: int | None) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "r", bytes(100))
    with pytest.raises(InvalidRangeError):
        storage.read(bucket, "r", start, end)


def test_empty_range_still_needs_the_object(storage_case: StorageCase) -> None:
    bucket = storage_case.new_bucket()
    with pytest.raises(NoSuchKeyError):
        storage_case.storage.read(bucket, "missing", 5, 5)


def test_overwrite_replaces_whole_object(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "k", b"long original content")
    info = storage.put(bucket, "k", b"short")
    assert info.etag == md5_etag(b"short")
    assert storage.read(bucket, "k") == b"short"
    assert storage.stat(bucket, "k").size == 5
    assert [(o.key, o.size) for o in storage.walk(bucket)] == [("k", 5)]


def test_move(storage_case: StorageCase) -> None:
    """A staged file moved into place: gone from its old key, whole at the new one
    (replacing what was there), folders it leaves empty gone too."""
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    body = bytes(range(256)) * 1000
    storage.put(bucket, "t/_staging/k=1/part-0", body)
    storage.put(bucket, "t/k=1/part-0", b"old")
    storage.put(bucket, "t/k=1/other", b"kept")
    storage.move(bucket, "t/_staging/k=1/part-0", "t/k=1/part-0")
    assert storage.read(bucket, "t/k=1/part-0") == body
    assert [o.key for o in storage.walk(bucket)] == ["t/k=1/other", "t/k=1/part-0"]
    assert storage.list(bucket, "t/", "/").prefixes == ["t/k=1/"]
    storage.move(bucket, "t/k=1/other", "t/k=2/new/other")  # into a folder not yet there
    assert storage.read(bucket, "t/k=2/new/other") == b"kept"
    with pytest.raises(NoSuchKeyError):
        storage.move(bucket, "t/k=1/other", "t/x")
    with pytest.raises(InvalidKeyError):
        storage.move(bucket, "t/k=1/part-0", "../escape")


def test_delete(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "p/q/r", b"1")
    storage.put(bucket, "p/s", b"2")
    storage.delete(bucket, "p/q/r")
    with pytest.raises(NoSuchKeyError):
        storage.stat(bucket, "p/q/r")
    assert [o.key for o in storage.walk(bucket)] == ["p/s"]
    assert storage.list(bucket, "p/", "/").prefixes == []  # "p/q/" went with its last key
    storage.delete(bucket, "p/q/r")  # deleting a missing key is fine
    storage.delete(bucket, "never-there")
    assert storage.read(bucket, "p/s") == b"2"


def test_folder_marker_keys(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "folder/", b"")
    storage.put(bucket, "folder/x", b"x")
    assert storage.stat(bucket, "folder/").size == 0
    assert storage.read(bucket, "folder/") == b""
    assert [o.key for o in storage.walk(bucket)] == ["folder/", "folder/x"]
    storage.delete(bucket, "folder/")
    assert [o.key for o in storage.walk(bucket)] == ["folder/x"]
    with pytest.raises(NoSuchKeyError):
        storage.stat(bucket, "folder/")


@pytest.mark.parametrize(
    ("first", "second"), [("a", "a/b"), ("a", "a/b/c"), ("a/b", "a"), ("a/b/c", "a/b")]
)
def test_object_and_folder_of_same_name(storage_case: StorageCase, first: str, second: str) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, first, b"first")
    storage.put(bucket, second, b"second")
    assert [o.key for o in storage.walk(bucket)] == sorted([first, second])
    assert (storage.read(bucket, first), storage.read(bucket, second)) == (b"first", b"second")
    assert storage.stat(bucket, second).size == 6
    storage.put(bucket, second, b"2nd")  # replaced where it lives
    assert [o.size for o in storage.walk(bucket, second)][:1] == [3]
    storage.delete(bucket, first)
    assert [o.key for o in storage.walk(bucket)] == [second]
    storage.put(bucket, second, b"again")  # now free to be plain: still one object
    assert [(o.key, o.size) for o in storage.walk(bucket)] == [(second, 5)]
    storage.delete(bucket, second)
    assert list(storage.walk(bucket)) == []
    storage.delete_bucket(bucket)


@pytest.mark.parametrize(
    "key",
    ["x" * 1024, "a/" + "é" * 200 + "/b", "a//b", "a_$folder$", "k/" * 512, "%41=/%"],
)
def test_keys_a_file_cannot_be_round_trip(storage_case: StorageCase, key: str) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, key, b"data")
    assert storage.read(bucket, key) == b"data"
    assert storage.read(bucket, key, 1, 3) == b"at"
    assert [o.key for o in storage.list(bucket).objects] == [key]
    assert [a for _, a in storage.read_prefixes(bucket, [(key, 2)])] == [b"da"]
    with pytest.raises(BucketNotEmptyError):
        storage.delete_bucket(bucket)
    storage.delete(bucket, key)
    assert list(storage.walk(bucket)) == []
    storage.delete_bucket(bucket)


def test_metadata_round_trip(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    meta = ObjectMeta(
        headers={"Content-Type": "text/csv", "Cache-Control": "no-cache", "Expires": "soon"},
        user={"owner": "ann", "note": "=?UTF-8?B?w6k=?=", "unicode": "ünï €"},
        part_sizes=(5, 3),
        etag='"0123456789abcdef0123456789abcdef-2"',
    )
    storage.put(bucket, "m/k", b"12345678", meta)
    info, got = storage.head(bucket, "m/k")
    assert info.size == 8
    assert (dict(got.headers), dict(got.user)) == (dict(meta.headers), dict(meta.user))
    assert (got.part_sizes, got.etag) == (meta.part_sizes, meta.etag)
    assert got.part_range(2, info.size) == (5, 8) and got.part_range(3, info.size) is None
    storage.put(bucket, "m/k", b"plain")  # a put without metadata keeps none
    _, plain = storage.head(bucket, "m/k")
    assert (dict(plain.user), plain.part_sizes, plain.etag) == ({}, (), None)
    assert plain.headers.get("Content-Type") in (None, "binary/octet-stream")


# -- read_prefixes -------------------------------------------------------------------


def answers(storage: Storage, bucket: str, requests: list[tuple[str, int]]) -> list[object]:
    """read_prefixes' answers as bytes, or the error class in place of an error."""
    found = list(storage.read_prefixes(bucket, requests))
    assert [key for key, _ in found] == [key for key, _ in requests]
    return [data if isinstance(data, bytes) else type(data) for _, data in found]


def test_read_prefixes_in_request_order(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    data = bytes(range(100))
    for key in ("a/1", "a/2", "b/c/3", "top", "empty"):
        storage.put(bucket, key, b"" if key == "empty" else data)
    requests = [
        ("a/2", 10),
        ("b/c/3", 100),  # the whole object
        ("a/1", 1000),  # longer than the object: all of it
        ("top", 0),
        ("empty", 5),  # an empty object has an empty prefix
        ("a/2", 3),  # back to a folder already left, and the same key twice
    ]
    assert answers(storage, bucket, requests) == [data[:10], data, data, b"", b"", data[:3]]


def test_read_prefixes_answer_errors_in_place(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "present/x", b"xyz")
    requests = [
        ("absent", 5),
        ("present/x", 2),
        ("present", 5),  # a folder of other keys, not an object
        ("present/x/y", 5),  # below an object
        ("../escape", 5),
        ("a\x00b", 5),
        ("present/x", -1),
        ("present/x", 9),
    ]
    assert answers(storage, bucket, requests) == [
        NoSuchKeyError,
        b"xy",
        NoSuchKeyError,
        NoSuchKeyError,
        InvalidKeyError,
        InvalidKeyError,
        InvalidRangeError,
        b"xyz",
    ]


def test_read_prefixes_of_a_missing_bucket(storage_case: StorageCase) -> None:
    bucket = storage_case.new_bucket(create=False)
    requests = [("k", 5), ("a/b", 5)]
    assert answers(storage_case.storage, bucket, requests) == [NoSuchBucketError] * 2
    assert answers(storage_case.storage, "Not_A_Bucket", requests) == [InvalidBucketNameError] * 2


def test_read_prefixes_takes_requests_as_answers_are_asked_for(
    storage_case: StorageCase,
) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    for key in ("f/1", "f/2", "f/3"):
        storage.put(bucket, key, key.encode())
    taken: list[str] = []

    def requests() -> Iterator[tuple[str, int]]:
        for key in ("f/1", "f/2", "f/3"):
            taken.append(key)
            yield key, 10

    reader = storage.read_prefixes(bucket, requests())
    assert taken == []
    assert next(reader) == ("f/1", b"f/1")
    assert taken == ["f/1"]
    reader.close()  # stopping early: nothing else is read
    assert taken == ["f/1"]
    assert list(reader) == []


# -- listing -----------------------------------------------------------------------


def test_walk_is_lazy_and_in_s3_order(listed: tuple[Storage, str]) -> None:
    storage, bucket = listed
    walker = storage.walk(bucket)
    assert iter(walker) is walker
    infos = list(walker)
    assert [o.key for o in infos] == s3_order(LISTING_KEYS)
    assert all(o.size == len(o.key.encode()) and o.bucket == bucket for o in infos)
    assert all(o.mtime.utcoffset() == timedelta(0) for o in infos)


def test_walk_with_prefix(listed: tuple[Storage, str]) -> None:
    storage, bucket = listed
    for prefix in ["", "a", "a/", "a/b", "c/d/", "year=2024/", "é", "zz/", "日本", "a/b/c"]:
        expected = s3_order([k for k in LISTING_KEYS if k.startswith(prefix)])
        assert [o.key for o in storage.walk(bucket, prefix)] == expected, prefix


def test_listing_etags(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    storage.put(bucket, "k", b"content")
    (info,) = storage.list(bucket).objects
    assert info.etag == (md5_etag(b"content") if storage_case.caps.listing_etags else None)


# Kept small: every combination is one request per implementation.
PREFIXES = ["", "a", "a/", "a/b", "c/d/", "year=2024/", "year=2024/mo", "é", "nope/"]
DELIMITERS = [None, "/", "="]
STARTS = [None, "a/1", "a/", "year=2024/month=01/"]


def test_listing_matches_the_model(listed: tuple[Storage, str]) -> None:
    storage, bucket = listed
    wrong = []
    for prefix, delimiter, start_after, max_keys in itertools.product(
        PREFIXES, DELIMITERS, STARTS, [None, 2]
    ):
        got = seen(storage.list(bucket, prefix, delimiter, start_after, max_keys))
        want = expected_listing(LISTING_KEYS, prefix, delimiter, start_after, max_keys)
        if got != want:
            wrong.append(((prefix, delimiter, start_after, max_keys), got, want))
    assert wrong == []


def test_delimiter_listing_by_hand(listed: tuple[Storage, str]) -> None:
    # One answer spelled out, in case the model and the code share a mistake.
    storage, bucket = listed
    listing = storage.list(bucket, delimiter="/")
    assert [o.key for o in listing.objects] == [
        "B", "Z", "a", "a-b", "a.b", "b", "c", "e", "year=2024_$folder$", "é2", "\uff5e",
        "\U0001f600",
    ]  # fmt: skip
    assert listing.prefixes == ["a/", "c/", "l/", "year=2024/", "year=2025/", "é/", "日本/"]
    assert [o.key for o in storage.list(bucket, "a/", "/").objects] == ["a/", "a/1", "a/2", "a/b"]
    deep = storage.list(bucket, "year=2024/", "/")
    assert (deep.objects, deep.prefixes) == ([], ["year=2024/month=01/", "year=2024/month=02/"])


@pytest.mark.parametrize("delimiter", [None, "/"])
def test_paging_with_start_after_covers_everything_once(
    listed: tuple[Storage, str], delimiter: str | None
) -> None:
    storage, bucket = listed
    keys: list[str] = []
    prefixes: list[str] = []
    start_after = None
    for _ in range(len(LISTING_KEYS) + 1):
        page = storage.list(bucket, delimiter=delimiter, start_after=start_after, max_keys=3)
        assert len(page.objects) + len(page.prefixes) <= 3
        keys += [o.key for o in page.objects]
        prefixes += page.prefixes
        if not page.is_truncated:
            break
        start_after = max([o.key for o in page.objects] + page.prefixes, key=str.encode)
    want_keys, want_prefixes, _ = expected_listing(LISTING_KEYS, delimiter=delimiter)
    assert (keys, prefixes) == (want_keys, want_prefixes)


def test_key_order_is_utf8_byte_order(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    bucket = storage_case.new_bucket()
    keys = ["b", "B", "a", "A", "ä", "Ä", "z", "\u00ff", "\u0100", "\uffef", "\U00010000", "a b"]
    for key in keys:
        storage.put(bucket, key, b"")
    assert [o.key for o in storage.list(bucket).objects] == s3_order(keys)
    assert [o.key for o in storage.walk(bucket)] == s3_order(keys)


def test_uri_helpers() -> None:
    assert parse_uri("s3://bucket/a/b.csv") == ("bucket", "a/b.csv")
    assert parse_uri("s3://bucket") == ("bucket", "")
    assert join_uri("bucket", "a/b.csv") == "s3://bucket/a/b.csv"
    info = ObjectInfo("bucket", "k", 1, datetime.now(UTC))
    assert parse_uri(info.uri) == ("bucket", "k")


def test_an_opened_object_answers_from_one_version(storage_case: StorageCase) -> None:
    """What GetObject streams from: reads of an opened object never mix in the bytes of
    a put that replaced it meanwhile -- they keep answering from the version opened
    (a local file's inode) or fail (S3: the ETag no longer matches)."""
    storage, bucket = storage_case.storage, storage_case.new_bucket()
    first = bytes(range(256)) * 1024
    storage.put(bucket, "k", first)
    with storage.open_object(bucket, "k") as reader:
        assert (reader.info.size, reader.info.key) == (len(first), "k")
        head = reader.read(0, 1000)
        storage.put(bucket, "k", b"x" * len(first))
        if storage_case.caps.snapshot_reads:
            assert head + reader.read(1000, len(first)) == first
        else:
            with pytest.raises(StorageError):
                reader.read(1000, len(first))
    assert storage.read(bucket, "k") == b"x" * len(first)
    with pytest.raises(NoSuchKeyError):
        storage.open_object(bucket, "missing")
