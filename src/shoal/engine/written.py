"""What an engine wrote into a folder, seen through shoal's ``Storage``.

An engine that writes CTAS, INSERT and UNLOAD files itself (``Engine.write``) writes
into a folder of the same storage shoal uses; these helpers read the outcome back
the way the catalog will see it:

* ``engine_folder``: the folder as the engine names it (a local path for local
  folders, else the ``s3://`` URI);
* ``written_files``: the data files under a folder, each with its partition values
  (unescaped from the ``key=value/`` folders Hive and Spark write), deleting the
  markers writers leave (``_SUCCESS``, hidden checksum files, ``_temporary/``);
* ``move_staged``: files an INSERT wrote into a staging folder moved into the
  table's folders (``Storage.move``: a rename on local folders);
* ``clear``: everything under a folder deleted, after a failure or a cancel.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shoal.errors import InvalidInputError, QueryFailedError
from shoal.storage.base import Storage, join_uri, parse_uri

HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_ESCAPED = re.compile(r"%([0-9A-Fa-f]{2})")
# A killed task hears it was killed only between batches of its input, so it may
# still write a file after Spark reports the job stopped: ``clear`` keeps looking
# until the folder has stayed empty for _QUIET_LOOKS looks, for at most this long.
_SETTLE_SECONDS = 30.0
_SETTLE_POLL = 0.25
_QUIET_LOOKS = 5


@dataclass(frozen=True)
class WrittenFile:
    """One data file an engine wrote: its key, the path below the folder written
    (``k=v/part-0.parquet``) and its partition values in key order."""

    key: str
    relative: str
    values: tuple[str, ...]

    @property
    def folder(self) -> str:
        """The partition folders below the folder written (``k=v/``; "" if none)."""
        return self.relative.rpartition("/")[0] + "/" if "/" in self.relative else ""


def as_folder(location: str) -> str:
    return location if location.endswith("/") else location + "/"


def engine_folder(storage: Storage, location: str) -> str:
    """``location`` (``s3://bucket/prefix/``) as an engine writes it: the local folder
    when the storage is local folders, else the URI itself."""
    bucket, prefix = parse_uri(as_folder(location))
    # local_path names files; a folder is the parent of a file that could be in it.
    probe = storage.local_path(bucket, prefix + "_")
    return as_folder(location) if probe is None else os.path.dirname(probe) + "/"


def unescape(text: str) -> str:
    """Hive's ``FileUtils.unescapePathName``: each ``%XX`` back to its character."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def partition_values(folders: Sequence[str], keys: Sequence[str]) -> tuple[str, ...]:
    """The values of ``key=value`` folders, one per partition key, in key order."""
    if len(folders) != len(keys):
        raise QueryFailedError(f"unexpected folders in written data: {'/'.join(folders)}")
    values = []
    for folder, key in zip(folders, keys, strict=True):
        name, sep, value = folder.partition("=")
        if not sep or unescape(name).lower() != key.lower():
            raise QueryFailedError(f"unexpected folder {folder!r} for partition key {key!r}")
        values.append(unescape(value))
    return tuple(values)


def written_files(
    storage: Storage, location: str, keys: Sequence[str], max_partitions: int
) -> list[WrittenFile]:
    """The data files under ``location`` with their partition values; markers are
    deleted. More than ``max_partitions`` partitions: InvalidInputError (Athena's
    HIVE_TOO_MANY_OPEN_PARTITIONS); the caller clears the folder."""
    bucket, prefix = parse_uri(as_folder(location))
    found = []
    for info in list(storage.walk(bucket, prefix)):
        relative = info.key[len(prefix) :]
        parts = relative.split("/")
        if any(part.startswith(("_", ".")) for part in parts):
            storage.delete(bucket, info.key)  # _SUCCESS, .crc, _temporary/: no data
            continue
        found.append(WrittenFile(info.key, relative, partition_values(parts[:-1], keys)))
    partitions = {f.values for f in found}
    if keys and len(partitions) > max_partitions:
        raise InvalidInputError(
            f"HIVE_TOO_MANY_OPEN_PARTITIONS: the query writes {len(partitions)} partitions; "
            f"the limit is {max_partitions}"
        )
    return found


def partition_folders(
    files: Sequence[WrittenFile], location: str, keys: Sequence[str]
) -> dict[tuple[str, ...], str]:
    """Each partition written, with its folder (``s3://`` URI), from files written
    under ``location``."""
    if not keys:
        return {}
    return {f.values: as_folder(location) + f.folder for f in files}


def move_staged(
    storage: Storage,
    files: Sequence[WrittenFile],
    location: str,
    folders: Mapping[tuple[str, ...], str],
) -> tuple[list[str], dict[tuple[str, ...], str]]:
    """Move files written under a staging folder into ``location``: each into its
    partition's folder (``folders`` for partitions that exist, the same ``k=v/``
    path below ``location`` for new ones). Returns the moved files' URIs and each
    partition's folder. On failure, the files already moved are deleted again."""
    bucket, _ = parse_uri(as_folder(location))
    moved: list[str] = []
    written: dict[tuple[str, ...], str] = {}
    try:
        for file in files:
            folder = folders.get(file.values) if file.values else None
            folder = as_folder(folder or as_folder(location) + file.folder)
            target_bucket, target_prefix = parse_uri(folder)
            if target_bucket != bucket:
                raise InvalidInputError(
                    f"partition folder {folder} is in another bucket than the table"
                )
            name = file.relative.rpartition("/")[2]
            storage.move(bucket, file.key, target_prefix + name)
            moved.append(join_uri(bucket, target_prefix + name))
            if file.values:
                written[file.values] = folder
    except BaseException:
        for uri in moved:
            storage.delete(*parse_uri(uri))
        raise
    return moved, written


def clear(storage: Storage, location: str, settle: bool = False) -> None:
    """Delete every object under ``location`` (best effort: the error that led here
    matters more). ``settle``: after a stopped job, keep looking until the folder has
    stayed empty for a second (a killed task may still write a file)."""
    bucket, prefix = parse_uri(as_folder(location))
    deadline = time.monotonic() + _SETTLE_SECONDS
    empty_looks = 0
    while True:
        try:
            left = [info.key for info in storage.walk(bucket, prefix)]
            for key in left:
                storage.delete(bucket, key)
        except Exception:  # noqa: BLE001 - cleaning up after another error
            return
        empty_looks = 0 if left else empty_looks + 1
        if not settle or empty_looks >= _QUIET_LOOKS or time.monotonic() >= deadline:
            return
        time.sleep(_SETTLE_POLL)
