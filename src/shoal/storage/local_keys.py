"""Where local storage keeps keys a plain file cannot hold, and object metadata.

Most keys are plain files, ``root/<bucket>/<key>``, which DuckDB and the crawler
read directly. A few valid S3 keys cannot be a file at that path:

- a folder marker ending in '/' (``logs/``), or a key with an empty segment (``a//b``);
- a segment longer than a file name may be (255 bytes on common filesystems);
- a key whose path is a folder of other keys (``a`` while ``a/b`` exists), or
  whose parent path is an object (``a/b`` while ``a`` exists);
- a Hadoop folder marker (``*_$folder$``), which is no data and is kept out of
  the folders engines read.

Those live in the *side area*, ``root/.shoal-keys/<bucket>/``, under a name that
encodes the whole key: the key is percent-encoded (``urllib.parse.quote`` with no
safe characters: only ``A-Za-z0-9_.-~`` and ``%`` remain, never '/'), cut into
chunks of ``CHUNK`` characters that become nested folders, and the last chunk ends
in ``=`` (which the encoding never produces), so no key's file is another key's
folder. A side entry decodes back to exactly its key, listings merge side keys in
key order, and reads look for a key in the side area when its plain file is
missing. A bucket name never starts with '.', and a plain key has no '.' or '..'
segment, so no key can name a path inside ``root/.shoal-keys`` or ``root/.shoal-meta``.

Metadata (``ObjectMeta``) of an object is a JSON file at
``root/.shoal-meta/<bucket>/<sha256 of key>.json`` holding the file's size and
mtime (ns) when it was written: a file replaced by anything else (another tool
writing into the lake) no longer matches, and its stale metadata is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from urllib.parse import quote, unquote

from shoal.storage.meta import ObjectMeta

SIDE_DIR = ".shoal-keys"
META_DIR = ".shoal-meta"
CHUNK = 200  # characters of encoded key per folder level, well under NAME_MAX
END = "="
MAX_SEGMENT_BYTES = 255  # NAME_MAX of ext4, xfs, btrfs, tmpfs, APFS
HADOOP_MARKER = "_$folder$"


def needs_side(key: str) -> bool:
    """Whether ``key`` (validated) can never be a plain file."""
    if key.endswith(("/", HADOOP_MARKER)) or "//" in key:
        return True
    if len(key) <= MAX_SEGMENT_BYTES // 4:
        return False  # no segment can be too long: UTF-8 takes at most 4 bytes a character
    return any(len(seg.encode("utf-8")) > MAX_SEGMENT_BYTES for seg in key.split("/"))


def side_relpath(key: str) -> str:
    """The path of ``key`` under its bucket's side folder."""
    encoded = quote(key, safe="")
    chunks = [encoded[i : i + CHUNK] for i in range(0, len(encoded), CHUNK)]
    return "/".join(chunks) + END


def side_key(relpath: str) -> str | None:
    """The key a side entry at ``relpath`` holds; None for anything else."""
    if not relpath.endswith(END):
        return None
    encoded = relpath[: -len(END)].replace("/", "")
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        return None


def side_keys(folder: str) -> list[tuple[str, str]]:
    """(key, path) of every side entry under ``folder`` (a bucket's side folder), by key."""
    found: list[tuple[str, str]] = []
    if not os.path.isdir(folder):
        return found  # the usual bucket: nothing aside, one stat
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        # os.walk lists symlinks to folders among dirnames but, with followlinks
        # False, does not enter them; files that are symlinks are skipped below.
        rel = os.path.relpath(dirpath, folder)
        for name in filenames:
            path = os.path.join(dirpath, name)
            key = side_key(name if rel == "." else f"{rel}/{name}")
            if key is not None and not os.path.islink(path):
                found.append((key, path))
        dirnames.sort()
    found.sort()
    return found


def side_matches(folder: str, prefix: str, start_after: str | None) -> Iterator[tuple[str, str]]:
    """Side entries of a bucket under ``prefix`` that sort after ``start_after``."""
    for key, path in side_keys(folder):
        if key.startswith(prefix) and (start_after is None or key > start_after):
            yield key, path


def meta_path(meta_root: str, key: str) -> str:
    """Where the metadata of ``key`` is kept, under its bucket's metadata folder."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return os.path.join(meta_root, digest[:2], digest + ".json")


def read_meta(path: str, st: os.stat_result) -> ObjectMeta:
    """The metadata at ``path`` if it still describes the file ``st``; else empty."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return ObjectMeta()
    if data.get("size") != st.st_size or data.get("mtime_ns") != st.st_mtime_ns:
        return ObjectMeta()  # the file changed behind shoal's back
    return ObjectMeta.from_json(data)
