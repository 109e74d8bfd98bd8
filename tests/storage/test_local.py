"""What only a filesystem can get wrong: escaping the root, symlinks, atomic puts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shoal.errors import (
    BucketNotEmptyError,
    InvalidBucketNameError,
    InvalidKeyError,
    NoSuchBucketError,
    NoSuchKeyError,
    StorageError,
)
from shoal.storage import LocalStorage
from shoal.storage import local as local_module
from shoal.storage.local import STAGING_DIR
from shoal.storage.local_keys import META_DIR, SIDE_DIR
from shoal.storage.meta import ObjectMeta

TRAVERSALS = ["../x", "a/../../x", "../../outside", "/etc/passwd", "a\x00b", "..\\x", "a/\\..\\b"]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its content (None for folders and links)."""
    found: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            is_file = path.is_file() and not path.is_symlink()
            found[str(path.relative_to(folder))] = path.read_bytes() if is_file else None
    return found


@pytest.fixture
def planted(tmp_path: Path, local: LocalStorage) -> Path:
    """Bucket "bkt" with one real object and symlinks to a secret folder outside the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    local.create_bucket("bkt")
    local.put("bkt", "real/data.csv", b"1,2")
    bucket = Path(local.root, "bkt")
    (bucket / "file-link").symlink_to(outside / "secret.txt")
    (bucket / "dir-link").symlink_to(outside, target_is_directory=True)
    (bucket / "real" / "inner-link").symlink_to(bucket / "real" / "data.csv")
    return outside


# -- escaping the root ---------------------------------------------------------------


@pytest.mark.parametrize("key", TRAVERSALS)
def test_traversal_keys_are_refused(tmp_path: Path, local: LocalStorage, key: str) -> None:
    local.create_bucket("bkt")
    before = snapshot(tmp_path)
    for call in (
        lambda: local.put("bkt", key, b"pwned"),
        lambda: local.read("bkt", key),
        lambda: local.stat("bkt", key),
        lambda: local.delete("bkt", key),
        lambda: local.local_path("bkt", key),
    ):
        with pytest.raises(InvalidKeyError):
            call()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("prefix", ["../", "a/../../", "/etc/", "..\\"])
def test_traversal_prefixes_are_refused(local: LocalStorage, prefix: str) -> None:
    local.create_bucket("bkt")
    with pytest.raises(InvalidKeyError):
        local.list("bkt", prefix)
    with pytest.raises(InvalidKeyError):
        local.walk("bkt", prefix)


def test_encoded_dots_are_a_literal_key_inside_the_bucket(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    local.put("bkt", "%2e%2e/%2e%2e/x", b"literal")
    path = Path(local.local_path("bkt", "%2e%2e/%2e%2e/x"))
    assert path == Path(local.root, "bkt", "%2e%2e", "%2e%2e", "x")
    assert path.read_bytes() == b"literal"
    assert [o.key for o in local.walk("bkt")] == ["%2e%2e/%2e%2e/x"]


def test_local_path_is_absolute_and_inside_the_bucket(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    local.put("bkt", "x/y.parquet", b"PAR1")
    path = local.local_path("bkt", "x/y.parquet")
    assert os.path.isabs(path)
    assert Path(path).read_bytes() == b"PAR1"
    with pytest.raises(NoSuchBucketError):
        local.local_path("missing", "x")


# -- symlinks ----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["file-link", "dir-link/secret.txt", "real/inner-link"])
def test_symlinks_are_not_followed_for_read_or_stat(
    local: LocalStorage, planted: Path, key: str
) -> None:
    with pytest.raises(InvalidKeyError):
        local.read("bkt", key)
    with pytest.raises(InvalidKeyError):
        local.stat("bkt", key)


@pytest.mark.parametrize("key", ["file-link", "dir-link/secret.txt", "dir-link/new.txt"])
def test_symlinks_are_not_followed_for_put_or_delete(
    local: LocalStorage, planted: Path, key: str
) -> None:
    before = snapshot(planted)
    with pytest.raises(InvalidKeyError):
        local.put("bkt", key, b"overwritten")
    with pytest.raises(InvalidKeyError):
        local.delete("bkt", key)
    assert snapshot(planted) == before
    assert os.path.islink(Path(local.root, "bkt", key.split("/")[0]))


def test_symlinks_are_invisible_to_listings(local: LocalStorage, planted: Path) -> None:
    assert [o.key for o in local.walk("bkt")] == ["real/data.csv"]
    top = local.list("bkt", delimiter="/")
    assert (top.objects, top.prefixes) == ([], ["real/"])
    assert [o.key for o in local.list("bkt", "real/").objects] == ["real/data.csv"]
    assert local.list("bkt", "dir-link/").objects == []
    assert list(local.walk("bkt", "dir-link/")) == []


@pytest.mark.parametrize("key", ["file-link", "dir-link/secret.txt", "real/inner-link"])
def test_symlinks_are_not_followed_for_read_prefixes(
    local: LocalStorage, planted: Path, key: str
) -> None:
    requests = [("real/data.csv", 9), (key, 99), ("real/data.csv", 1)]
    answers = list(local.read_prefixes("bkt", requests))
    assert [type(data) for _, data in answers] == [bytes, InvalidKeyError, bytes]
    assert answers[0][1] == b"1,2" and answers[2][1] == b"1"


def test_read_prefixes_without_dir_fd_support_read_one_by_one(
    local: LocalStorage, planted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "_CAN_OPEN_AT", False)  # as on Windows
    requests = [("real/data.csv", 2), ("file-link", 9), ("dir-link/secret.txt", 9), ("no", 1)]
    answers = [data for _, data in local.read_prefixes("bkt", requests)]
    assert answers[0] == b"1,"
    assert [type(a) for a in answers[1:]] == [InvalidKeyError, InvalidKeyError, NoSuchKeyError]


def test_read_prefixes_refuse_a_symlink_swapped_in_after_the_folder_was_opened(
    local: LocalStorage, planted: Path
) -> None:
    local.put("bkt", "real/other.csv", b"3,4")
    real = Path(local.root, "bkt", "real")
    reader = local.read_prefixes("bkt", iter([("real/data.csv", 9), ("real/other.csv", 9)]))
    assert next(reader) == ("real/data.csv", b"1,2")  # folder "real" is open now
    (real / "other.csv").unlink()
    (real / "other.csv").symlink_to(planted / "secret.txt")
    key, answer = next(reader)
    assert key == "real/other.csv" and isinstance(answer, InvalidKeyError)
    reader.close()


def test_read_prefixes_never_enter_a_folder_swapped_for_a_symlink(
    local: LocalStorage, planted: Path
) -> None:
    bucket = Path(local.root, "bkt")
    (bucket / "real").rename(bucket / "moved")
    (bucket / "real").symlink_to(planted, target_is_directory=True)
    answers = list(local.read_prefixes("bkt", [("real/secret.txt", 99), ("moved/data.csv", 9)]))
    assert isinstance(answers[0][1], InvalidKeyError)
    assert answers[1][1] == b"1,2"


@pytest.mark.timeout(20)
def test_a_fifo_in_a_bucket_is_no_object_and_never_blocks(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    local.put("bkt", "d/ok", b"ok")
    os.mkfifo(Path(local.root, "bkt", "d", "pipe"))
    answers = list(local.read_prefixes("bkt", [("d/pipe", 10), ("d/ok", 10)]))
    assert isinstance(answers[0][1], NoSuchKeyError) and answers[1][1] == b"ok"
    with pytest.raises(NoSuchKeyError):
        local.read("bkt", "d/pipe")
    assert [o.key for o in local.walk("bkt")] == ["d/ok"]


def test_symlinked_bucket_is_no_bucket(tmp_path: Path, local: LocalStorage, planted: Path) -> None:
    Path(local.root, "evil").symlink_to(planted, target_is_directory=True)
    assert "evil" not in local.list_buckets()
    assert not local.bucket_exists("evil")
    with pytest.raises(NoSuchBucketError):
        local.read("evil", "secret.txt")
    [(_, answer)] = local.read_prefixes("evil", [("secret.txt", 99)])
    assert isinstance(answer, NoSuchBucketError)
    with pytest.raises(NoSuchBucketError):
        local.put("evil", "new.txt", b"x")
    assert not (planted / "new.txt").exists()


def test_bucket_holding_only_symlinks_is_not_deleted(local: LocalStorage, planted: Path) -> None:
    local.delete("bkt", "real/data.csv")
    with pytest.raises(BucketNotEmptyError):
        local.delete_bucket("bkt")
    assert (planted / "secret.txt").read_bytes() == b"secret"


# -- atomic put ----------------------------------------------------------------------


def test_readers_never_see_a_partial_object(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    versions = [bytes([65 + i]) * (2_000_000 + i * 100_003) for i in range(4)]
    local.put("bkt", "big", versions[0])
    stop = threading.Event()
    bad: list[tuple[int, int]] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            data = local.read("bkt", "big")
            reads += 1
            if data not in versions:
                bad.append((len(data), len(set(data))))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for round_ in range(12):
            local.put("bkt", "big", versions[round_ % len(versions)])
    finally:
        stop.set()
        thread.join()
    assert reads > 0
    assert bad == []


def test_failed_put_leaves_old_object_and_no_staging_file(
    local: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.create_bucket("bkt")
    local.put("bkt", "k", b"old")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StorageError, match="disk on fire"):
        local.put("bkt", "k", b"new")
    monkeypatch.undo()
    assert local.read("bkt", "k") == b"old"
    assert os.listdir(Path(local.root, STAGING_DIR)) == []


def test_leftover_staging_files_are_invisible(local: LocalStorage) -> None:
    # What a crash between write and rename leaves behind.
    local.create_bucket("bkt")
    Path(local.root, STAGING_DIR, "put-crashed").write_bytes(b"half")
    assert local.list_buckets() == ["bkt"]
    assert list(local.walk("bkt")) == []
    with pytest.raises(InvalidBucketNameError):
        local.list(STAGING_DIR)


def test_stale_staging_files_are_swept_on_open(local: LocalStorage) -> None:
    staging = Path(local.root, STAGING_DIR)
    (staging / "put-old").write_bytes(b"crashed long ago")
    (staging / "put-fresh").write_bytes(b"maybe another process, writing now")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(staging / "put-old", (two_days_ago, two_days_ago))
    LocalStorage(local.root)
    assert sorted(os.listdir(staging)) == ["put-fresh"]


def test_put_files_get_the_usual_permissions(local: LocalStorage) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    local.create_bucket("bkt")
    local.put("bkt", "k", b"x")
    assert os.stat(local.local_path("bkt", "k")).st_mode & 0o777 == 0o666 & ~umask


def test_staging_folder_is_not_a_bucket(local: LocalStorage) -> None:
    assert os.path.isdir(Path(local.root, STAGING_DIR))
    assert local.list_buckets() == []
    with pytest.raises(InvalidBucketNameError):
        local.create_bucket(STAGING_DIR)


def test_list_buckets_skips_what_is_not_a_bucket(local: LocalStorage) -> None:
    for name in ("zeta", "alpha", "m.id-dle"):
        local.create_bucket(name)
    Path(local.root, "Not_A_Bucket").mkdir()
    Path(local.root, "notes.txt").write_text("hello")
    assert local.list_buckets() == ["alpha", "m.id-dle", "zeta"]


# -- the filesystem's limits -----------------------------------------------------------


def test_plain_keys_stay_plain_files_and_the_rest_stays_aside(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    aside = ["a", "dir/", "x//y", "m_$folder$", "s/" + "z" * 256]
    for key in ["a/b.csv", "dir/f.csv", *aside]:
        local.put("bkt", key, key.encode())
    # What DuckDB and the crawler see in the bucket folder: the plain files only.
    assert snapshot(Path(local.root, "bkt")) == {
        "a": None, "a/b.csv": b"a/b.csv", "dir": None, "dir/f.csv": b"dir/f.csv"
    }  # fmt: skip
    side = Path(local.root, SIDE_DIR, "bkt")
    assert len([p for p in side.rglob("*") if p.is_file()]) == len(aside)
    for key in aside:
        path = Path(local.local_path("bkt", key))
        assert path.is_relative_to(side) and path.read_bytes() == key.encode()
    assert local.local_path("bkt", "a/b.csv") == str(Path(local.root, "bkt", "a", "b.csv"))


@pytest.mark.parametrize(
    "key", [".shoal-keys/bkt/a=", "../.shoal-keys/bkt/a=", "a/../../.shoal-meta/x", "%2E%2E/a="]
)
def test_keys_cannot_reach_the_side_area(local: LocalStorage, key: str) -> None:
    local.create_bucket("bkt")
    local.put("bkt", "a/b", b"plain")
    local.put("bkt", "a", b"aside")  # lives at .shoal-keys/bkt/a=
    before = snapshot(Path(local.root))
    try:
        local.put("bkt", key, b"evil")
    except InvalidKeyError:
        assert snapshot(Path(local.root)) == before
        return
    # Accepted keys are stored as themselves, never over the side entry of "a".
    assert local.read("bkt", "a") == b"aside" and local.read("bkt", key) == b"evil"
    assert sorted(o.key for o in local.walk("bkt")) == sorted(["a", "a/b", key])


def test_a_symlink_in_the_side_area_is_never_followed(tmp_path: Path, local: LocalStorage) -> None:
    local.create_bucket("bkt")
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    local.put("bkt", "dir/", b"")
    side = Path(local.root, SIDE_DIR, "bkt")
    (side / "evil%2F=").symlink_to(secret)
    assert [o.key for o in local.walk("bkt")] == ["dir/"]
    with pytest.raises((NoSuchKeyError, InvalidKeyError)):
        local.read("bkt", "evil/")
    with pytest.raises(NoSuchKeyError):
        local.stat("bkt", "evil/")
    assert secret.read_bytes() == b"secret"


def test_metadata_of_a_file_changed_behind_shoals_back_is_dropped(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    local.put("bkt", "k", b"one", ObjectMeta(headers={"Content-Type": "text/plain"}))
    assert local.head("bkt", "k")[1].headers == {"Content-Type": "text/plain"}
    path = Path(local.root, "bkt", "k")
    path.write_bytes(b"other tool")
    assert not local.head("bkt", "k")[1]
    local.delete("bkt", "k")
    assert list(Path(local.root, META_DIR, "bkt").rglob("*.json")) == []


def test_a_folder_is_not_an_object(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    local.put("bkt", "dir/x", b"x")
    with pytest.raises(NoSuchKeyError):
        local.read("bkt", "dir")
    local.delete("bkt", "dir")  # no object "dir": nothing happens
    assert local.read("bkt", "dir/x") == b"x"


def test_delete_prunes_empty_folders_only(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    local.put("bkt", "x/y/z/f", b"1")
    local.put("bkt", "x/y/g", b"2")
    local.delete("bkt", "x/y/z/f")
    bucket = Path(local.root, "bkt")
    assert not (bucket / "x" / "y" / "z").exists()
    assert (bucket / "x" / "y" / "g").exists()
    local.delete("bkt", "x/y/g")
    assert os.listdir(bucket) == []


def test_empty_folders_are_not_common_prefixes(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    Path(local.root, "bkt", "empty", "deeper").mkdir(parents=True)
    local.put("bkt", "full/x", b"x")
    listing = local.list("bkt", delimiter="/")
    assert (listing.objects, listing.prefixes) == ([], ["full/"])
    local.delete("bkt", "full/x")
    local.delete_bucket("bkt")  # leftover empty folders do not keep a bucket alive
    assert not local.bucket_exists("bkt")


def test_unservable_file_names_are_skipped(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    bucket = Path(local.root, "bkt")
    (bucket / "back\\slash").write_bytes(b"x")
    fd = os.open(os.path.join(os.fsencode(bucket), b"bad-\xff-utf8"), os.O_CREAT | os.O_WRONLY)
    os.close(fd)
    local.put("bkt", "good", b"x")
    assert [o.key for o in local.walk("bkt")] == ["good"]


def test_prefix_listing_reads_only_matching_folders(
    local: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.create_bucket("bkt")
    for year, month in [(2023, 12), (2024, 1), (2024, 2), (2025, 1)]:
        local.put("bkt", f"year={year}/month={month:02d}/part-0.csv", b"x")
    scanned: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: str) -> Any:
        scanned.append(os.path.relpath(path, os.path.join(local.root, "bkt")))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    keys = [o.key for o in local.walk("bkt", "year=2024/month=01/")]
    assert keys == ["year=2024/month=01/part-0.csv"]
    assert scanned == ["year=2024/month=01"]
    scanned.clear()
    listing = local.list("bkt", "year=2024/", "/")
    assert listing.prefixes == ["year=2024/month=01/", "year=2024/month=02/"]
    assert all(path.startswith("year=2024") for path in scanned)


def test_walk_of_many_files_matches_sorted_keys(local: LocalStorage) -> None:
    local.create_bucket("bkt")
    bucket = Path(local.root, "bkt")
    keys = []
    # Written directly: this is about walking, and fsync per file would be slow.
    for i in range(1500):
        key = f"d{i % 7}/{'sub-' if i % 3 else 'sub/'}{i:05d}{'.csv' if i % 2 else ''}"
        path = bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * (i % 5))
        keys.append(key)
    infos = list(local.walk("bkt"))
    assert [o.key for o in infos] == sorted(keys, key=str.encode)
    assert [o.size for o in infos] == [len(local.read("bkt", o.key)) for o in infos]


def _set_mtime(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _settle(path: Path) -> int:
    """Move ``path``'s mtime a minute back (a folder last changed long ago); returns it."""
    mtime = time.time_ns() - 60 * 10**9
    _set_mtime(path, mtime)
    return mtime


def _record_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every folder ``os.scandir`` lists from now on, in order."""
    scanned: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: str) -> Any:
        scanned.append(path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    return scanned


def _listed(local: LocalStorage) -> list[tuple[str, int]]:
    return [(o.key, o.size) for o in local.walk("bkt")]


def test_a_kept_listing_follows_changes_to_its_folder(
    local: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settled folder is listed once and then known by its mtime; files added,
    removed or rewritten in place still show at once."""
    local.create_bucket("bkt")
    folder = Path(local.root, "bkt", "dt=1")
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"a")
    _settle(folder)
    scanned = _record_listings(monkeypatch)
    assert _listed(local) == [("dt=1/a.csv", 1)]
    assert str(folder) in scanned
    scanned.clear()
    assert _listed(local) == [("dt=1/a.csv", 1)]
    assert str(folder) not in scanned  # kept: the folder is unchanged
    (folder / "a.csv").write_bytes(b"rewritten")  # in place: the folder keeps its mtime
    assert _listed(local) == [("dt=1/a.csv", 9)]
    (folder / "b.csv").write_bytes(b"bb")
    assert _listed(local) == [("dt=1/a.csv", 9), ("dt=1/b.csv", 2)]
    (folder / "a.csv").unlink()
    assert _listed(local) == [("dt=1/b.csv", 2)]


def test_a_folder_changed_just_now_is_listed_every_time(local: LocalStorage) -> None:
    """A change within the filesystem's timestamp granularity may leave a folder's
    mtime as it was (a kernel tick; seconds on some filesystems): a folder changed in
    the last few seconds is not known by its mtime."""
    local.create_bucket("bkt")
    folder = Path(local.root, "bkt", "dt=1")
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"a")
    changed = folder.stat().st_mtime_ns
    assert _listed(local) == [("dt=1/a.csv", 1)]
    (folder / "b.csv").write_bytes(b"bb")
    _set_mtime(folder, changed)  # as a coarse clock would leave it
    assert _listed(local) == [("dt=1/a.csv", 1), ("dt=1/b.csv", 2)]


def test_a_file_replaced_by_a_symlink_in_a_kept_folder_is_not_listed(
    local: LocalStorage, tmp_path: Path
) -> None:
    local.create_bucket("bkt")
    folder = Path(local.root, "bkt", "dt=1")
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"a")
    (folder / "b.csv").write_bytes(b"b")
    settled = _settle(folder)
    assert [key for key, _ in _listed(local)] == ["dt=1/a.csv", "dt=1/b.csv"]
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    (folder / "b.csv").unlink()
    (folder / "b.csv").symlink_to(outside)
    _set_mtime(folder, settled)  # even if the folder's mtime were unchanged
    assert _listed(local) == [("dt=1/a.csv", 1)]


def test_a_kept_walk_follows_changes_anywhere_below(
    local: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A walk of settled folders is answered again without listing any of them, and
    still shows a change in any folder or file below its prefix at once."""
    local.create_bucket("bkt")
    bucket = Path(local.root, "bkt")
    for day in ("1", "2"):
        (bucket / "t" / f"dt={day}").mkdir(parents=True)
        (bucket / "t" / f"dt={day}" / "a.csv").write_bytes(b"a" * int(day))
    for folder in (bucket / "t" / "dt=1", bucket / "t" / "dt=2", bucket / "t", bucket):
        _settle(folder)

    def walked() -> list[tuple[str, int, float]]:
        return [(o.key, o.size, o.mtime.timestamp()) for o in local.walk("bkt", "t/")]

    first = walked()
    assert [(key, size) for key, size, _ in first] == [("t/dt=1/a.csv", 1), ("t/dt=2/a.csv", 2)]
    listed = _record_listings(monkeypatch)
    assert walked() == first
    assert listed == []  # nothing listed: every folder and file was as walked
    target = bucket / "t" / "dt=2" / "a.csv"
    target.write_bytes(b"zz")  # same size, in place: only the file's mtime tells
    later = target.stat().st_mtime_ns + 10**9
    os.utime(target, ns=(later, later))
    key, size, mtime = walked()[1]
    assert (key, size) == ("t/dt=2/a.csv", 2) and mtime > first[1][2]
    (bucket / "t" / "dt=1" / "deeper").mkdir()
    (bucket / "t" / "dt=1" / "deeper" / "b.csv").write_bytes(b"bbb")
    assert [key for key, _, _ in walked()] == [
        "t/dt=1/a.csv",
        "t/dt=1/deeper/b.csv",
        "t/dt=2/a.csv",
    ]
    (bucket / "t" / "dt=2" / "a.csv").unlink()
    assert [key for key, _, _ in walked()] == ["t/dt=1/a.csv", "t/dt=1/deeper/b.csv"]
