"""Request bodies, read only as far as they are wanted and never without bounds.

A body is read after the headers' authentication (``api/router.py``), and then:

- a declared ``Content-Length`` over the operation's limit is refused at once
  (413 ``EntityTooLarge``), before a byte is read;
- each piece must arrive within ``body_timeout_seconds`` of the last, or the request
  ends with 408 ``RequestTimeout`` (a client that declares 2 GiB and sends ten bytes
  holds nothing for long);
- every byte held in memory counts against one budget for the whole server
  (``body_bytes_in_flight``); a request that would overdraw it is refused with 503
  ``SlowDown``, so a burst of large bodies cannot take the memory with it.

Small bodies (JSON, query, S3 XML) are read whole; object data (PutObject,
UploadPart) is handed to a worker thread as an iterator of pieces, pulled from the
event loop one at a time (``BodyStream``), so memory per request stays constant.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request

from shoal.api.errors import ApiError
from shoal.api.sigv4 import HttpRequest

MAX_SMALL_BODY = 16 * 1024 * 1024  # JSON and query protocols, S3's XML documents
MAX_OBJECT_BODY = 5 * 1024**3  # S3's single PUT (and part) limit
# aws-chunked framing around a body: per chunk a size, a signature, CRLFs (~90 bytes);
# clients send chunks of 8 KiB or more, so 2% more than the data is generous.
CHUNKED_OVERHEAD = 1.02


class BodyBudget:
    """Bytes of request bodies held in memory now, over every request, under a cap.

    Once a burst is over (nothing held, after more than ``TRIM_AFTER`` was), the C
    allocator is asked to hand its free pages back (``malloc_trim``): bodies arrive
    in many small pieces, and the holes they leave would otherwise keep the
    process's memory at the burst's peak.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self.peak = 0  # most held since memory was last handed back
        self._lock = threading.Lock()

    def take(self, size: int) -> None:
        """Count ``size`` more bytes held; 503 SlowDown when that passes the cap."""
        with self._lock:
            if self.held + size > self.capacity:
                raise ApiError(
                    "SlowDown",
                    "Too many request bodies are in flight; reduce your request rate",
                    503,
                )
            self.held += size
            self.peak = max(self.peak, self.held)

    def give(self, size: int) -> None:
        """Count ``size`` bytes as no longer held."""
        with self._lock:
            self.held -= size
            burst_over = self.held == 0 and self.peak > TRIM_AFTER
            if burst_over:
                self.peak = 0
        if burst_over:
            _hand_back_memory()


TRIM_AFTER = 32 * 1024 * 1024


def _hand_back_memory() -> None:
    """Free pages the C allocator keeps go back to the system (glibc only)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: nothing to ask
    return trim


def declared_length(http: HttpRequest) -> int | None:
    """The body size the headers declare (the decoded size of an aws-chunked body)."""
    for name in ("x-amz-decoded-content-length", "content-length"):
        value = http.header(name)
        if value is not None:
            if not value.isascii() or not value.isdigit():
                raise ApiError("InvalidArgument", f"{name} must be a number of bytes")
            return int(value)
    return None


def check_declared(http: HttpRequest, limit: int) -> None:
    """413 EntityTooLarge when the headers declare more than ``limit`` bytes."""
    decoded = declared_length(http)
    raw = http.header("content-length")
    too_big = decoded is not None and decoded > limit
    if raw is not None and raw.isdigit() and int(raw) > limit * CHUNKED_OVERHEAD + 8192:
        too_big = True
    if too_big:
        raise ApiError(
            "EntityTooLarge",
            f"Your proposed upload exceeds the maximum allowed size of {limit} bytes",
            413,
        )


class BodyReader:
    """The body of one request, read piece by piece under the timeout and the budget.

    Bytes a piece takes from the budget are given back by ``release`` (whole bodies:
    when the request ends) or as the next piece is read (streams).
    """

    def __init__(self, request: Request, budget: BodyBudget, timeout: float, limit: int) -> None:
        self._receive = request.receive
        self.budget = budget
        self.timeout = timeout
        self.limit = limit
        self.size = 0
        self.held = 0
        self._done = False

    @property
    def finished(self) -> bool:
        """Whether the whole body has been read."""
        return self._done

    async def piece(self) -> bytes | None:
        """The next piece of the body; None once it has all arrived."""
        while not self._done:
            try:
                message = await asyncio.wait_for(self._receive(), self.timeout)
            except TimeoutError:
                raise ApiError(
                    "RequestTimeout",
                    "Your socket connection to the server was not read from or written to "
                    f"within the timeout period ({self.timeout:g} s).",
                    408,
                ) from None
            if message["type"] == "http.disconnect":
                raise ApiError("IncompleteBody", "The client closed the connection mid-body")
            self._done = not message.get("more_body", False)
            data: bytes = message.get("body", b"")
            if data:
                self._count(len(data))
                return data
        return None

    def _count(self, size: int) -> None:
        self.size += size
        if self.size > self.limit:
            raise ApiError(
                "EntityTooLarge",
                f"Your proposed upload exceeds the maximum allowed size of {self.limit} bytes",
                413,
            )
        self.budget.take(size)
        self.held += size

    async def read_all(self) -> bytes:
        """The whole body (its bytes stay counted until ``release``)."""
        pieces = []
        try:
            while (data := await self.piece()) is not None:
                pieces.append(data)
        except BaseException:
            pieces.clear()  # the error's traceback outlives this frame: hold nothing
            raise
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def release(self, size: int | None = None) -> None:
        """Give back ``size`` held bytes (all of them when None)."""
        size = self.held if size is None else min(size, self.held)
        self.budget.give(size)
        self.held -= size


class BodyStream:
    """A body as an iterator for a worker thread: each ``next`` asks the event loop
    for one more piece and waits for it (a piece is given back to the budget once
    the next one is asked for, that is once the consumer is done with it)."""

    def __init__(self, reader: BodyReader, loop: asyncio.AbstractEventLoop) -> None:
        self.reader = reader
        self.loop = loop

    def __iter__(self) -> Iterator[bytes]:
        last = 0
        while True:
            future: Any = asyncio.run_coroutine_threadsafe(self.reader.piece(), self.loop)
            data = future.result()
            self.reader.release(last)
            if data is None:
                return
            last = len(data)
            yield data
