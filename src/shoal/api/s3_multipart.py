"""Multipart uploads in progress, staged outside every bucket.

Each upload is a folder ``DATA/multipart/<upload id>/`` holding ``upload.json``
(bucket, key, start), ``object.json`` (the metadata the object will have) and one
``NNNNN.part`` per part (written as it arrives, its ETag beside it in
``NNNNN.part.etag``); CompleteMultipartUpload assembles the parts with one atomic
``storage.put_chunks``, so a half-finished upload is never an object.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from shoal.api.errors import ApiError
from shoal.storage.meta import ObjectMeta

MIN_PART_SIZE = 5 * 1024 * 1024
PIECE = 1024 * 1024  # parts are read and written this much at a time
FINISHED_KEPT_SECONDS = 24 * 3600
_UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")


# -- staging ---------------------------------------------------------------------


class MultipartUploads:
    """Uploads in progress, each a folder of parts under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._sweep_finished()

    def create(
        self, bucket: str, key: str, object_meta: ObjectMeta, checksum: tuple[str, str] | None
    ) -> str:
        """A new upload of ``bucket``/``key``; ``checksum`` is (algorithm, type) or None."""
        upload_id = secrets.token_hex(16)
        folder = self.root / upload_id
        folder.mkdir()
        meta = {"bucket": bucket, "key": key, "initiated": datetime.now(UTC).isoformat()}
        if checksum is not None:
            meta["checksum_algorithm"], meta["checksum_type"] = checksum
        _write_atomic(folder / "upload.json", json.dumps(meta).encode())
        _write_atomic(folder / "object.json", object_meta.to_json())
        return upload_id

    def checksum(self, folder: Path) -> tuple[str, str] | None:
        """The (algorithm, type) of checksum the upload was created with, or None."""
        meta = self._meta(folder.name) or {}
        if "checksum_algorithm" not in meta:
            return None
        return meta["checksum_algorithm"], meta["checksum_type"]

    def object_meta(self, folder: Path) -> ObjectMeta:
        """The metadata CreateMultipartUpload asked the object to have."""
        try:
            return ObjectMeta.from_json(json.loads((folder / "object.json").read_bytes()))
        except (OSError, ValueError):
            return ObjectMeta()

    def folder(self, upload_id: str, bucket: str, key: str) -> Path:
        """The folder of an upload of ``bucket``/``key``; NoSuchUpload otherwise."""
        meta = self._meta(upload_id)
        if meta is None or (meta["bucket"], meta["key"]) != (bucket, key) or "etag" in meta:
            raise ApiError("NoSuchUpload", "The specified upload does not exist", 404)
        return self.root / upload_id

    def _meta(self, upload_id: str) -> dict[str, str] | None:
        if not _UPLOAD_ID_RE.match(upload_id):
            return None
        try:
            meta: dict[str, str] = json.loads((self.root / upload_id / "upload.json").read_bytes())
        except (OSError, ValueError):
            return None
        return meta

    def part_path(self, folder: Path, number: int) -> Path:
        return folder / f"{number:05d}.part"

    def put_part(self, folder: Path, number: int, data: Iterable[bytes]) -> str:
        """Stage part ``number`` from ``data``'s pieces as they come; its ETag.

        The part replaces an earlier one only once every piece has arrived: a
        stream that fails (a bad checksum, a full disk) leaves the old part or none.
        """
        path = self.part_path(folder, number)
        tmp = path.with_name(path.name + f".tmp-{secrets.token_hex(4)}")
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(tmp, "wb") as f:
                for piece in data:
                    f.write(piece)
                    digest.update(piece)
            etag = f'"{digest.hexdigest()}"'
            _write_atomic(_etag_path(path), etag.encode())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return etag

    def parts(self, folder: Path) -> list[tuple[int, str, int, datetime]]:
        """(number, etag, size, mtime) of every part, by number."""
        found = []
        for path in sorted(folder.glob("*.part")):
            st = path.stat()
            mtime = datetime.fromtimestamp(st.st_mtime, tz=UTC)
            found.append((int(path.stem), _part_etag(path), st.st_size, mtime))
        return found

    def finish(self, folder: Path, etag: str, checksum: tuple[str, ...]) -> None:
        """Mark a completed upload: its parts go, its ETag (and checksum answer) stay
        for a repeated Complete."""
        meta = self._meta(folder.name) or {}
        meta["etag"], meta["checksum_answer"] = etag, "\n".join(checksum)
        _write_atomic(folder / "upload.json", json.dumps(meta).encode())
        for part in folder.glob("*.part*"):
            part.unlink(missing_ok=True)

    def completed(
        self, upload_id: str, bucket: str, key: str
    ) -> tuple[str, tuple[str, ...]] | None:
        """(ETag, checksum answer) of a finished upload of ``bucket``/``key``, or None."""
        meta = self._meta(upload_id)
        if meta is None or (meta["bucket"], meta["key"]) != (bucket, key) or "etag" not in meta:
            return None
        answer = meta.get("checksum_answer", "")
        return meta["etag"], tuple(answer.split("\n")) if answer else ()

    def _sweep_finished(self) -> None:
        # Finished uploads are kept only to answer a repeated Complete; a day is plenty.
        cutoff = time.time() - FINISHED_KEPT_SECONDS
        for folder in self.root.iterdir():
            meta = self._meta(folder.name)
            if meta and "etag" in meta and (folder / "upload.json").stat().st_mtime < cutoff:
                self.remove(folder)

    def uploads(self, bucket: str) -> list[tuple[str, str, datetime]]:
        found = []
        for folder in sorted(self.root.iterdir()):
            meta = self._meta(folder.name)
            if meta and meta["bucket"] == bucket and "etag" not in meta:
                when = datetime.fromisoformat(meta["initiated"])
                found.append((meta["key"], folder.name, when))
        return sorted(found)

    def remove(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)


def _etag_path(part: Path) -> Path:
    return part.with_name(part.name + ".etag")


def _part_etag(part: Path) -> str:
    """A staged part's ETag: kept beside it, or its MD5 when that was lost."""
    try:
        return _etag_path(part).read_text().strip()
    except OSError:
        digest = hashlib.md5(usedforsecurity=False)
        for piece in file_pieces([part]):
            digest.update(piece)
        return f'"{digest.hexdigest()}"'


def file_pieces(paths: Iterable[Path], size: int = PIECE) -> Iterator[bytes]:
    """The bytes of ``paths``, one after the other, ``size`` at a time."""
    for path in paths:
        with open(path, "rb") as f:
            while piece := f.read(size):
                yield piece


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp-{secrets.token_hex(4)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def check_parts(wanted: list[tuple[int, str]], staged: dict[int, tuple[str, int]]) -> None:
    """Refuse a CompleteMultipartUpload part list that does not match what was staged."""
    numbers = [n for n, _ in wanted]
    if numbers != sorted(set(numbers)):
        raise ApiError("InvalidPartOrder", "The list of parts was not in ascending order")
    for i, (number, etag) in enumerate(wanted):
        found = staged.get(number)
        if found is None or found[0].strip('"') != etag.strip('"'):
            raise ApiError("InvalidPart", f"Part {number} was not uploaded or its ETag differs")
        if i < len(wanted) - 1 and found[1] < MIN_PART_SIZE:
            raise ApiError("EntityTooSmall", "Your proposed upload is smaller than the minimum")
