"""Listing and sampling a crawl target: one walk of the tree, one read per sample.

Files are dropped before any read when Glue would ignore them (``_SUCCESS``,
names starting with ``_`` or ``.``, ``*.crc``, ``*_$folder$``, and anything inside
a folder whose name starts with ``_`` or ``.``), when an exclusion glob matches,
or when they are empty. Every drop is logged with its reason.

Exclusion globs match the key relative to the target: ``*`` and ``?`` stay within
one path segment, ``**`` spans segments, ``{a,b}`` is alternation, ``[...]`` a
character class. A pattern that matches a folder excludes everything below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from shoal.crawler.classify import classify
from shoal.crawler.grouping import CrawledFile
from shoal.crawler.sample import FileSkipped, read_sample
from shoal.crawler.shapes import ShapeCache
from shoal.errors import ShoalError
from shoal.storage.base import Storage


@dataclass
class ReadTally:
    """What sampling read from storage."""

    files_read: int = 0
    bytes_read: int = 0


def target_prefix(key: str) -> str:
    """A target key as a folder prefix: '' for a bucket root, else ending in '/'."""
    key = key.strip("/")
    return key + "/" if key else ""


def ignore_reason(rel: str) -> str | None:
    """Why Glue would ignore the file at relative key ``rel``, or None."""
    folder, _, name = rel.rpartition("/")
    if folder and _hidden_folder(folder):
        return "inside a folder whose name starts with '_' or '.'"
    if name.startswith(("_", ".")):
        return "name starts with '_' or '.' (marker or hidden file)"
    if name.endswith(".crc") or name.endswith("_$folder$"):
        return "checksum or folder marker"
    return None


@lru_cache(maxsize=4096)
def _hidden_folder(folder: str) -> bool:
    # Cached: the files of one folder share it, and a crawl lists thousands of files.
    return any(part.startswith(("_", ".")) for part in folder.split("/"))


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile an exclusion glob (see the module docstring) to a regular expression."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        elif ch == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            out.append(
                "(?:" + "|".join(re.escape(a) for a in pattern[i + 1 : end].split(",")) + ")"
            )
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"(?:/.*)?\Z", re.DOTALL)


def excluded_by(rel: str, patterns: Sequence[str]) -> str | None:
    """The first exclusion pattern matching ``rel`` (or a folder above it), or None."""
    for pattern in patterns:
        if glob_regex(pattern.strip("/")).match(rel):
            return pattern
    return None


def list_target(
    storage: Storage,
    bucket: str,
    prefix: str,
    exclusions: Sequence[str],
    log: Callable[[str], None],
) -> list[CrawledFile]:
    """Walk the target once and keep the files worth sampling."""
    files: list[CrawledFile] = []
    for obj in storage.walk(bucket, prefix):
        rel = obj.key[len(prefix) :]
        if not rel or rel.endswith("/"):
            continue  # folder marker objects
        reason = ignore_reason(rel)
        if reason is None and (pattern := excluded_by(rel, exclusions)) is not None:
            reason = f"excluded by pattern {pattern!r}"
        if reason is None and obj.size == 0:
            reason = "empty file"
        if reason is not None:
            log(f"skipped {obj.uri}: {reason}")
            continue
        files.append(CrawledFile(obj, rel))
    return files


def sample_files(
    storage: Storage,
    files: Iterable[CrawledFile],
    sample_size: int | None,
    tally: ReadTally,
    log: Callable[[str], None],
) -> list[CrawledFile]:
    """Classify files, at most ``sample_size`` successfully per folder.

    Files after that many per folder are kept unsampled (schema None): they count
    towards sizes and record estimates. Unusable files are logged and dropped.
    """
    kept: list[CrawledFile] = []
    sampled_in: dict[str, int] = {}
    shapes = ShapeCache(classify)
    for f in files:
        done = sampled_in.get(f.folder, 0)
        if sample_size is not None and done >= sample_size:
            kept.append(f)
            continue
        if _sample_one(storage, f, tally, log, shapes):
            sampled_in[f.folder] = done + 1
            kept.append(f)
    return kept


def _sample_one(
    storage: Storage,
    f: CrawledFile,
    tally: ReadTally,
    log: Callable[[str], None],
    shapes: ShapeCache,
) -> bool:
    tally.files_read += 1
    try:
        try:
            sample = read_sample(storage, f.obj)
        except FileSkipped as exc:
            tally.bytes_read += exc.bytes_read
            raise
        tally.bytes_read += sample.bytes_read
        f.schema = shapes.classify(f.folder, sample, f.obj.size)
        return True
    except FileSkipped as exc:
        log(f"skipped {f.obj.uri}: {exc.reason}")
    except ShoalError as exc:  # vanished or unreadable between listing and reading
        log(f"skipped {f.obj.uri}: could not read it: {exc.message}")
    except Exception as exc:  # bad input must never crash a crawl
        log(f"skipped {f.obj.uri}: unexpected {type(exc).__name__} while classifying: {exc}")
    return False
