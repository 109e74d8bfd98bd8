"""Reading the starts of many files of one bucket with the kernel refusing symlinks.

``LocalStorage.read_prefixes`` (the crawler's many small reads) uses ``_PrefixReader``;
``read_range`` and the open flags are shared with ``LocalStorage.read``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from stat import S_ISLNK, S_ISREG

from shoal.errors import (
    InvalidKeyError,
    InvalidRangeError,
    NoSuchBucketError,
    NoSuchKeyError,
    StorageError,
)
from shoal.storage.base import validate_key

# O_NOFOLLOW refuses a symlink as the last component; O_NONBLOCK keeps a FIFO planted
# in a bucket from blocking the open (a read of it then fails and it is refused).
OPEN_FILE = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
OPEN_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)


def read_range(fd: int, size: int, start: int, end: int | None) -> bytes:
    """Bytes [start, end) of the open regular file ``fd`` of ``size`` bytes."""
    if end == start:
        return b""
    if start >= size and not (start == 0 and end is None):
        raise InvalidRangeError(f"range starts at {start}, object has {size} bytes")
    stop = size if end is None else min(end, size)
    # pread on the descriptor: no file object to build for the many small reads
    # of a crawl.
    chunks = []
    offset = start
    while offset < stop:
        chunk = os.pread(fd, stop - offset, offset)
        if not chunk:
            break  # the file shrank since fstat; return what there is
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


class PrefixReader:
    """Reads the starts of files of one bucket, keeping the last folder used open.

    The bucket folder is opened with O_NOFOLLOW | O_DIRECTORY, each folder below it
    one segment at a time relative to its parent the same way, and each file relative
    to its folder with O_NOFOLLOW: the kernel refuses a symlink at every step, so
    nothing reached through one is read, even if it was swapped in after listing.
    Open descriptors stay on the folders they were opened on, whatever is renamed.
    """

    def __init__(self, bucket_path: Callable[[str], str], bucket: str) -> None:
        self._bucket_path = bucket_path
        self._bucket = bucket
        self._bucket_fd = -1
        self._folder: str | None = None
        self._folder_fd = -1

    def read_prefix(self, key: str, length: int) -> bytes:
        """The first ``length`` bytes of ``key``; raises ShoalError."""
        if length < 0:
            raise InvalidRangeError(f"invalid prefix length: {length}")
        validate_key(key)
        folder, _, name = key.rpartition("/")
        try:
            if folder != self._folder:
                self._enter(folder, key)
            fd = self._open_file(name, key)
            try:
                return self._read_start(fd, length, key)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(f"cannot read {self._bucket}/{key}: {exc}") from exc

    def close(self) -> None:
        """Close the folders held open."""
        self._leave()
        if self._bucket_fd >= 0:
            os.close(self._bucket_fd)
            self._bucket_fd = -1

    def _enter(self, folder: str, key: str) -> None:
        self._leave()
        fd = self._open_bucket()
        for segment in folder.split("/") if folder else ():
            parent = fd
            try:
                fd = self._open_folder(segment, parent, key)
            finally:
                if parent != self._bucket_fd:
                    os.close(parent)
        self._folder, self._folder_fd = folder, fd

    def _leave(self) -> None:
        if self._folder_fd >= 0 and self._folder_fd != self._bucket_fd:
            os.close(self._folder_fd)
        self._folder, self._folder_fd = None, -1

    def _open_bucket(self) -> int:
        if self._bucket_fd < 0:
            path = self._bucket_path(self._bucket)  # validates the name
            try:
                self._bucket_fd = os.open(path, OPEN_FOLDER)
            except (FileNotFoundError, NotADirectoryError):  # a symlink is no bucket either
                raise NoSuchBucketError(f"no such bucket: {self._bucket!r}") from None
        return self._bucket_fd

    def _open_folder(self, segment: str, parent: int, key: str) -> int:
        try:
            return os.open(segment, OPEN_FOLDER, dir_fd=parent)
        except FileNotFoundError:
            raise self._no_such_key(key) from None
        except OSError as exc:
            # O_NOFOLLOW | O_DIRECTORY answers ENOTDIR for a symlink (Linux) or ELOOP.
            if exc.errno == errno.ELOOP or _is_symlink_at(segment, parent):
                raise InvalidKeyError(
                    f"key {key!r} crosses a symlink in bucket {self._bucket!r}"
                ) from None
            if exc.errno == errno.ENOTDIR:  # a file where the key needs a folder
                raise self._no_such_key(key) from None
            raise

    def _open_file(self, name: str, key: str) -> int:
        try:
            return os.open(name, OPEN_FILE, dir_fd=self._folder_fd)
        except FileNotFoundError:
            raise self._no_such_key(key) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidKeyError(f"key is a symlink: {key!r}") from None
            raise

    def _read_start(self, fd: int, length: int, key: str) -> bytes:
        data = b""
        if length:
            try:
                data = os.pread(fd, length, 0)
            except OSError as exc:
                if exc.errno not in (errno.EISDIR, errno.ESPIPE):
                    raise
                # A folder or a FIFO: the fstat below refuses it.
            if len(data) == length:
                return data  # the usual case: one pread, no fstat
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):
            raise self._no_such_key(key)
        if len(data) == min(length, st.st_size):
            return data  # the whole of a shorter object
        return read_range(fd, st.st_size, 0, length)  # a short read: read on

    def _no_such_key(self, key: str) -> NoSuchKeyError:
        return NoSuchKeyError(f"no such key: {self._bucket}/{key}")


def _is_symlink_at(name: str, folder_fd: int) -> bool:
    try:
        return S_ISLNK(os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
