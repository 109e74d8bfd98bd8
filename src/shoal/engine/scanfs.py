"""A read-only, counting filesystem through which DuckDB reads every data file.

DuckDB's own ``total_bytes_read`` does not count local reads (1.5.5), so the engine
registers this fsspec filesystem under the ``shoal://`` protocol and lets DuckDB read
table files only through it. Each query gets a random token; its files are exposed
as ``shoal://<token>/<absolute path>``. The filesystem then

* counts every byte DuckDB reads, per query: that is DataScannedInBytes;
* opens only the files planned for that query (not their neighbours), only for
  reading, and only when their real path (symlinks resolved) lies under a storage
  root — so DuckDB itself needs no local directory in ``allowed_directories``.
"""

from __future__ import annotations

import io
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fsspec import AbstractFileSystem

from shoal.errors import AccessDeniedError

PROTOCOL = "shoal"
_PREFIX = f"{PROTOCOL}://"


class BytesLimitReached(Exception):
    """Raised inside a read once a query has read past its limit; DuckDB aborts."""


class ScanCounter:
    """The files one query may read, and how many bytes it has read so far.

    Once ``arm``-ed with a limit, the read that takes the count past it raises
    ``BytesLimitReached`` (DuckDB fails the query) and ``exceeded`` turns true, which
    is how a workgroup's bytes-scanned cutoff stops a query mid-scan.
    """

    def __init__(self, token: str, paths: frozenset[str]) -> None:
        self.token = token
        self.paths = paths
        self._bytes = 0
        self._limit: int | None = None
        self.exceeded = False
        self._lock = threading.Lock()

    @property
    def bytes_read(self) -> int:
        return self._bytes

    def add(self, count: int) -> None:
        with self._lock:
            self._bytes += count
            over = self._limit is not None and self._bytes > self._limit
            if over:
                self.exceeded = True
        if over:
            raise BytesLimitReached(f"read {self._bytes} bytes, over the limit {self._limit}")

    def reset(self) -> None:
        with self._lock:
            self._bytes = 0

    def arm(self, limit: int | None) -> None:
        """Stop the query once it reads more than ``limit`` bytes (None: no limit)."""
        with self._lock:
            self._limit = limit

    def url(self, path: str) -> str:
        """The URL DuckDB reads ``path`` through for this query."""
        return f"{_PREFIX}{self.token}{path}"


class _CountingReader(io.RawIOBase):
    """A raw binary file that reports every byte read to its query's counter."""

    def __init__(self, raw: io.FileIO, counter: ScanCounter) -> None:
        super().__init__()
        self._raw = raw
        self._counter = counter

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        self._counter.add(count)
        return count

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._counter.add(len(data))
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


class ScanFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """fsspec filesystem mapping ``shoal://<token>/<path>`` onto planned local files."""

    protocol = (PROTOCOL,)
    cachable = False  # one instance per engine; fsspec must not share it

    def __init__(self, roots: Iterable[str]) -> None:
        super().__init__()
        self.roots = tuple(os.path.join(os.path.realpath(r), "") for r in roots)
        self._queries: dict[str, ScanCounter] = {}
        self._lock = threading.Lock()

    @contextmanager
    def scan(self, paths: Iterable[str]) -> Iterator[ScanCounter]:
        """Open a query's window onto ``paths``; it closes when the block ends."""
        counter = ScanCounter(secrets.token_hex(12), frozenset(paths))
        with self._lock:
            self._queries[counter.token] = counter
        try:
            yield counter
        finally:
            with self._lock:
                self._queries.pop(counter.token, None)

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        return text[len(_PREFIX) :] if text.startswith(_PREFIX) else text

    def _resolve(self, url: str) -> tuple[ScanCounter, str]:
        """The query and local path behind ``url``, or AccessDeniedError."""
        token, _, rest = self._strip_protocol(url).partition("/")
        path = "/" + rest
        with self._lock:
            counter = self._queries.get(token)
        if counter is None or path not in counter.paths:
            raise AccessDeniedError(f"access denied: {url}")
        real = os.path.realpath(path)
        if not any(real.startswith(root) for root in self.roots):
            raise AccessDeniedError(f"access denied: {path} is outside the storage roots")
        return counter, real

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> _CountingReader:
        if mode != "rb":
            raise AccessDeniedError(f"access denied: {path} is read-only")
        counter, real = self._resolve(path)
        return _CountingReader(io.FileIO(real, "rb"), counter)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        _, real = self._resolve(path)
        return {"name": path, "size": os.path.getsize(real), "type": "file"}

    def modified(self, path: str) -> datetime:
        _, real = self._resolve(path)
        return datetime.fromtimestamp(os.path.getmtime(real), tz=UTC)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        entry = self.info(path)
        return [entry] if detail else [entry["name"]]

    def glob(self, path: str, **kwargs: Any) -> list[str]:
        # Scans name exact files; a pattern is just a name that is not planned.
        self._resolve(path)
        return [str(path)]

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self._resolve(path)
        except AccessDeniedError:
            return False
        return True

    def _rm(self, path: str) -> None:
        raise AccessDeniedError(f"access denied: {path} is read-only")

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        raise AccessDeniedError(f"access denied: {path} is read-only")
