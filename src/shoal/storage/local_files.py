"""Small filesystem chores of local storage: durable renames, sweeping, pruning.

Kept apart from ``local`` so that module holds what LocalStorage decides, and this
one how a filesystem is asked.
"""

from __future__ import annotations

import os
import time


def fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (where the platform can open a folder)."""
    # Make the rename itself durable; not every platform can open a folder.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sweep_stale_files(folder: str, max_age: float) -> None:
    """Delete the files in ``folder`` older than ``max_age`` seconds (crash leftovers)."""
    cutoff = time.time() - max_age
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:
                pass  # another process swept it first


def unlink_quietly(path: str) -> None:
    """Delete ``path`` if it is there."""
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_empty_folders(path: str) -> bool:
    """Remove ``path`` and the empty folders under it; False if anything else is left."""
    for dirpath, dirnames, _ in os.walk(path, topdown=False, followlinks=False):
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                rmdir_quietly(full)
    return rmdir_quietly(path)


def rmdir_quietly(path: str) -> bool:
    """Remove the folder ``path`` if empty; whether it went."""
    try:
        os.rmdir(path)
    except OSError:
        return False  # not empty: it holds something that is not ours to delete
    return True


def opened_as(fd: int, path: str) -> bool:
    """Whether the open file ``fd`` really is ``path``, with no symlink on the way.

    Linux names an open file's resolved path in /proc/self/fd; elsewhere fall back
    to resolving ``path`` (racy, but no worse than the check before opening).
    """
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path) == path
    # A file replaced (atomic put) or deleted since it was opened reads "(deleted)";
    # it was at ``path`` when opened, which is what matters.
    return opened in (path, path + " (deleted)")
