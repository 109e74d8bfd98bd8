"""The audit journal: append-only, durable, group-committed.

``Journal.submit(line)`` returns a future that resolves once the line is on disk.
One writer thread takes every line waiting, writes them, calls ``fdatasync`` once
and resolves all their futures, so concurrent requests share one sync instead of
queueing for one each. Writers and rolls in several processes (the server and
``shoal audit flush``) coordinate through ``flock``: a roll renames the active file
to a segment under the lock, and the writer notices the rename and reopens.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shoal.audit.digest import fsync_dir
from shoal.errors import AuditError

log = logging.getLogger("shoal.audit")

ACTIVE = "active.jsonl"
SEGMENT_PREFIX = "segment-"
MAX_BATCH = 1024


@contextmanager
def flock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Journal:
    """The append-only journal with group commit (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / ACTIVE
        self.lock_path = folder / ".lock"
        self._queue: queue.SimpleQueue[tuple[bytes, Future[None]] | None] = queue.SimpleQueue()
        self._fd: int | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, line: bytes) -> Future[None]:
        """Queue one journal line; the future resolves once it is on disk."""
        future: Future[None] = Future()
        self._ensure_writer()
        self._queue.put((line, future))
        return future

    def _ensure_writer(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._run, name="audit-journal", daemon=True)
                    thread.start()
                    self._thread = thread

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[tuple[bytes, Future[None]]] = []
            while item is not None:
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
            if item is None:
                return

    def _commit(self, batch: list[tuple[bytes, Future[None]]]) -> None:
        try:
            with flock(self.lock_path):
                fd = self._open()
                _write_all(fd, b"".join(line for line, _ in batch))
                _sync(fd)
        except Exception as exc:  # every waiting request learns its record is not safe
            log.error("audit journal write failed: %s", exc)
            error = AuditError(f"audit journal write failed: {exc}")
            for _, future in batch:
                future.set_exception(error)
            return
        for _, future in batch:
            future.set_result(None)

    def _open(self) -> int:
        """The active journal's descriptor, reopened if a roll renamed the file."""
        if self._fd is not None:
            try:
                if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                    return self._fd
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        size = os.fstat(fd).st_size
        # A crash mid-write can leave a torn last line: end it so it stays on its own.
        if size and os.pread(fd, 1, size - 1) != b"\n":
            _write_all(fd, b"\n")
        fsync_dir(self.folder)
        self._fd = fd
        return fd

    def rotate(self) -> list[Path]:
        """Close the active journal as a new segment; return every segment, oldest first."""
        with flock(self.lock_path):
            if self.path.exists() and self.path.stat().st_size > 0:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                self.path.rename(
                    self.folder / f"{SEGMENT_PREFIX}{stamp}-{secrets.token_hex(4)}.jsonl"
                )
                fsync_dir(self.folder)
        return sorted(self.folder.glob(f"{SEGMENT_PREFIX}*.jsonl"))

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


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
