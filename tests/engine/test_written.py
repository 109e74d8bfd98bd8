"""Reading back what an engine wrote into a folder (``shoal.engine.written``), on real
local storage: the files Spark's writers leave (data, ``_SUCCESS``, ``.crc``,
``_temporary/``) are laid out here by hand, as Spark lays them out."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.engine.written import (
    clear,
    engine_folder,
    move_staged,
    partition_folders,
    partition_values,
    unescape,
    written_files,
)
from shoal.errors import InvalidInputError, QueryFailedError
from shoal.storage.local import LocalStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path)
    storage.create_bucket("lake")
    return storage


def keys(storage: LocalStorage, prefix: str = "") -> list[str]:
    return [info.key for info in storage.walk("lake", prefix)]


def test_hive_escapes_are_undone() -> None:
    assert unescape("a%2Fb%3Dc%25d é") == "a/b=c%d é"
    assert unescape("100%") == "100%"  # not an escape: kept
    assert partition_values(["k=1", "p=x%3Dy"], ["k", "p"]) == ("1", "x=y")
    with pytest.raises(QueryFailedError):
        partition_values(["other=1"], ["k"])
    with pytest.raises(QueryFailedError):
        partition_values([], ["k"])


def test_engine_folder_is_the_local_folder(storage: LocalStorage, tmp_path: Path) -> None:
    assert engine_folder(storage, "s3://lake/t/") == f"{tmp_path}/lake/t/"
    assert engine_folder(storage, "s3://lake/t") == f"{tmp_path}/lake/t/"


def test_written_files_drop_the_markers(storage: LocalStorage) -> None:
    for key in [
        "t/k=1/part-00000-x.parquet",
        "t/k=1/.part-00000-x.parquet.crc",
        "t/k=a%2Fb/part-00001-x.parquet",
        "t/_SUCCESS",
        "t/_temporary/0/task/part-9.parquet",
    ]:
        storage.put("lake", key, b"data")
    found = written_files(storage, "s3://lake/t/", ["k"], 100)
    assert [(f.key, f.values) for f in found] == [
        ("t/k=1/part-00000-x.parquet", ("1",)),
        ("t/k=a%2Fb/part-00001-x.parquet", ("a/b",)),
    ]
    assert keys(storage) == [f.key for f in found]  # markers deleted
    assert partition_folders(found, "s3://lake/t/", ["k"]) == {
        ("1",): "s3://lake/t/k=1/",
        ("a/b",): "s3://lake/t/k=a%2Fb/",
    }
    with pytest.raises(InvalidInputError, match="HIVE_TOO_MANY_OPEN_PARTITIONS"):
        written_files(storage, "s3://lake/t/", ["k"], 1)


def test_staged_files_move_into_their_partitions(storage: LocalStorage) -> None:
    storage.put("lake", "t/k=1/old.parquet", b"old")
    storage.put("lake", "t/_stage/k=1/part-0.parquet", b"one")
    storage.put("lake", "t/_stage/k=2/part-0.parquet", b"two")
    storage.put("lake", "t/_stage/k=3/part-0.parquet", b"three")
    found = written_files(storage, "s3://lake/t/_stage/", ["k"], 100)
    existing = {("1",): "s3://lake/t/k=1/", ("3",): "s3://lake/elsewhere/"}
    moved, folders = move_staged(storage, found, "s3://lake/t/", existing)
    assert sorted(moved) == [
        "s3://lake/elsewhere/part-0.parquet",
        "s3://lake/t/k=1/part-0.parquet",
        "s3://lake/t/k=2/part-0.parquet",
    ]
    assert folders == {
        ("1",): "s3://lake/t/k=1/",
        ("2",): "s3://lake/t/k=2/",
        ("3",): "s3://lake/elsewhere/",
    }
    assert storage.read("lake", "elsewhere/part-0.parquet") == b"three"
    assert keys(storage, "t/_stage/") == []


def test_a_failed_move_takes_back_what_it_moved(storage: LocalStorage) -> None:
    storage.put("lake", "t/_stage/k=1/part-0.parquet", b"one")
    storage.put("lake", "t/_stage/k=2/part-0.parquet", b"two")
    found = written_files(storage, "s3://lake/t/_stage/", ["k"], 100)
    with pytest.raises(InvalidInputError, match="another bucket"):
        move_staged(storage, found, "s3://lake/t/", {("2",): "s3://other/x/"})
    assert keys(storage, "t/k=1/") == []  # the first file's move was undone


def test_clear_deletes_everything_below(storage: LocalStorage) -> None:
    storage.put("lake", "t/a", b"1")
    storage.put("lake", "t/_temporary/0/b", b"2")
    storage.put("lake", "u/c", b"3")
    clear(storage, "s3://lake/t/", settle=True)
    assert keys(storage) == ["u/c"]
