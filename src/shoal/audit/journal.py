"""The audit journal: append-only; written before the answer, synced in groups.

``Journal.append(line)`` writes the line to ``active.jsonl`` before it returns: from
then on it survives the process being killed (``kill -9``), because the kernel holds
it. Making it survive an OS crash or power loss takes an ``fdatasync``, which costs
a millisecond or more; so one background thread syncs whatever was written, at most
``sync_seconds`` after it was written (like PostgreSQL's ``synchronous_commit = off``
with ``wal_writer_delay``), and every append shares that one sync. What an OS crash
can lose is the records of the last ``sync_seconds``; ``sync()`` waits until
everything written so far is on disk (``close`` does it too).

Writers and rolls in several processes (the server and ``shoal audit flush``)
coordinate through ``flock``: a roll renames the active file to a segment under the
lock, and a writer notices the rename and reopens (syncing the old file first).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import functools
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shoal.audit.digest import fsync_dir
from shoal.errors import AuditError, AuditStorageFullError, is_disk_full

log = logging.getLogger("shoal.audit")

ACTIVE = "active.jsonl"
# Disk space kept allocated ahead of the active journal, so a full disk still lets
# every request be recorded (and reads be answered) for a good while: ~10,000 records.
RESERVE_BYTES = 4 * 1024 * 1024
SEGMENT_PREFIX = "segment-"
# How long a written record may wait for its fsync: what an OS crash can lose.
SYNC_SECONDS = 0.05


@contextmanager
def flock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Journal:
    """The append-only journal (see the module docstring).

    Args:
        folder: Where ``active.jsonl``, its segments and the lock file live.
        sync_seconds: How long a written line may wait for its fsync.
    """

    def __init__(self, folder: Path, sync_seconds: float = SYNC_SECONDS) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / ACTIVE
        self.lock_path = folder / ".lock"
        self.sync_seconds = sync_seconds
        self._lock = threading.Lock()  # one writer at a time in this process
        self._lock_fd: int | None = None  # kept open: flock on it orders us with rolls
        self._fd: int | None = None
        self._unreserved = 0  # bytes appended since space was last reserved
        self._dirty = False  # written since the last sync began
        self._sync_error: OSError | None = None
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None

    def append(self, line: bytes) -> None:
        """Write one journal line; once this returns it survives a process kill, and
        it is on disk within ``sync_seconds``.

        Raises:
            AuditError: the line cannot be written, or the journal cannot be synced.
        """
        with self._lock:
            if self._sync_error is not None:
                raise AuditError(f"audit journal sync failed: {self._sync_error}")
            try:
                self._locked_write(line)
            except OSError as exc:
                log.error("audit journal write failed: %s", exc)
                if is_disk_full(exc):  # an answer (507), not a crash: see errors.py
                    raise AuditStorageFullError(
                        "The audit journal cannot be written: the server's disk is full. "
                        "Nothing was recorded; free space in the data folder and try again."
                    ) from exc
                raise AuditError(f"audit journal write failed: {exc}") from exc
            self._dirty = True
            if self._syncer is None:
                self._syncer = threading.Thread(
                    target=self._sync_loop, name="audit-sync", daemon=True
                )
                self._syncer.start()
        self._wakeup.set()

    def _locked_write(self, line: bytes) -> None:
        if self._lock_fd is None:
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            fd = self._open()
            _write_all(fd, line)
            self._unreserved += len(line)
            if self._unreserved > RESERVE_BYTES // 2:
                _reserve(fd)
                self._unreserved = 0
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _open(self) -> int:
        """The active journal's descriptor, reopened if a roll renamed the file."""
        if self._fd is not None:
            try:
                if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                    return self._fd
            except FileNotFoundError:
                pass
            _sync(self._fd)  # lines written to the renamed file must be durable too
            os.close(self._fd)
            self._fd = None
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        size = os.fstat(fd).st_size
        # A crash mid-write can leave a torn last line: end it so it stays on its own.
        if size and os.pread(fd, 1, size - 1) != b"\n":
            _write_all(fd, b"\n")
        fsync_dir(self.folder)
        _reserve(fd)
        self._fd, self._unreserved = fd, 0
        return fd

    # -- group commit

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._wakeup.wait()
            # Let the appends of the next moment share this sync (returns at close).
            self._stop.wait(self.sync_seconds)
            self._wakeup.clear()
            self.sync()

    def sync(self) -> None:
        """Return once every line written so far is on disk.

        Raises nothing: a failed sync is logged, retried by the syncer, and refuses
        appends (AuditError) until a sync succeeds again.
        """
        with self._lock:
            if not self._dirty or self._fd is None:
                return
            self._dirty = False
            fd = os.dup(self._fd)  # stays valid even if a roll makes us reopen
        try:
            _sync(fd)
        except OSError as exc:
            log.error("audit journal sync failed: %s", exc)
            with self._lock:
                self._sync_error, self._dirty = exc, True
            self._wakeup.set()  # the syncer tries again
        else:
            with self._lock:
                self._sync_error = None
        finally:
            os.close(fd)

    def rotate(self) -> list[Path]:
        """Close the active journal as a new segment; return every segment, oldest first."""
        with flock(self.lock_path):
            if self.path.exists() and (size := self.path.stat().st_size) > 0:
                os.truncate(self.path, size)  # the space reserved past its end goes back
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                self.path.rename(
                    self.folder / f"{SEGMENT_PREFIX}{stamp}-{secrets.token_hex(4)}.jsonl"
                )
                fsync_dir(self.folder)
        return sorted(self.folder.glob(f"{SEGMENT_PREFIX}*.jsonl"))

    def close(self) -> None:
        """Sync what was written and stop the syncer (a later append starts it again)."""
        self._stop.set()
        self._wakeup.set()
        with self._lock:
            syncer, self._syncer = self._syncer, None
        if syncer is not None:
            syncer.join()
        self.sync()
        with self._lock:
            for fd in (self._fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._fd = self._lock_fd = None
            self._stop.clear()
            self._wakeup.clear()


def _reserve(fd: int) -> None:
    """Allocate ``RESERVE_BYTES`` past the end of ``fd``'s file without growing it
    (Linux ``fallocate`` with FALLOC_FL_KEEP_SIZE): appends into that space need no
    free block. Best effort: elsewhere, or on a disk already full, nothing happens."""
    fallocate = _fallocate()
    if fallocate is not None:
        size = os.fstat(fd).st_size
        fallocate(fd, _FALLOC_FL_KEEP_SIZE, ctypes.c_long(size), ctypes.c_long(RESERVE_BYTES))


_FALLOC_FL_KEEP_SIZE = 1


@functools.cache
def _fallocate() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").fallocate
    except (OSError, AttributeError):
        return None


def _sync(fd: int) -> None:
    # fdatasync skips metadata such as mtime; the file length is still made durable.
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def encode_record(record: dict[str, Any]) -> bytes:
    """One journal line (JSON escapes newlines, so a line is always one record)."""
    return json.dumps(record, separators=(",", ":"), default=str).encode() + b"\n"


def read_journal_lines(path: Path) -> list[dict[str, Any]]:
    """The records of a journal file; torn or corrupt lines are skipped (logged)."""
    records: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            log.warning("%s line %d is not a complete record; skipped", path.name, number)
            continue
        if isinstance(record, dict) and isinstance(record.get("eventTime"), str):
            records.append(record)
    return records
