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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache

from shoal.crawler.classify import FileSchema, classify
from shoal.crawler.grouping import CrawledFile
from shoal.crawler.sample import FileSkipped, prefix_length, sample_of
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
    if name.endswith((".crc", "_$folder$")):
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
    cut = len(prefix)
    for obj in storage.walk(bucket, prefix):
        rel = obj.key[cut:]
        if not rel or rel.endswith("/"):
            continue  # folder marker objects
        reason = ignore_reason(rel)
        if reason is None and exclusions and (pattern := excluded_by(rel, exclusions)) is not None:
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
    Files are read a folder at a time through ``Storage.read_prefixes``.
    """
    sampler = _Sampler(storage, sample_size, tally, log)
    for run in _folder_runs(files):
        sampler.sample_run(run)
    return sampler.kept


def _folder_runs(files: Iterable[CrawledFile]) -> Iterator[list[CrawledFile]]:
    """Consecutive files of one folder of one bucket (key order keeps most together)."""
    run: list[CrawledFile] = []
    where: tuple[str, str] | None = None
    for f in files:
        here = (f.obj.bucket, f.folder)
        if here != where and run:
            yield run
            run = []
        where = here
        run.append(f)
    if run:
        yield run


class _Sampler:
    """Samples runs of files of one folder, counting successes per folder."""

    def __init__(
        self,
        storage: Storage,
        sample_size: int | None,
        tally: ReadTally,
        log: Callable[[str], None],
    ) -> None:
        self.storage = storage
        self.sample_size = sample_size
        self.tally = tally
        self.log = log
        self.shapes = ShapeCache(classify)
        self.sampled_in: dict[str, int] = {}
        self.kept: list[CrawledFile] = []

    def sample_run(self, run: list[CrawledFile]) -> None:
        """Sample files of one folder until ``sample_size`` succeed; keep the rest as is."""
        folder = run[0].folder
        pending = run
        while pending:
            done = self.sampled_in.get(folder, 0)
            wanted = len(pending) if self.sample_size is None else self.sample_size - done
            if wanted <= 0:
                self.kept += pending  # enough samples: kept unsampled
                return
            # Only as many reads as samples still wanted; more if some fail.
            batch, pending = pending[:wanted], pending[wanted:]
            self.sampled_in[folder] = done + self._sample_batch(batch)

    def _sample_batch(self, batch: list[CrawledFile]) -> int:
        """Sample ``batch`` (files of one folder) with one read_prefixes call; count successes."""
        requests = [(f.obj.key, prefix_length(f.obj)) for f in batch]
        sampled = 0
        with closing(self.storage.read_prefixes(batch[0].obj.bucket, requests)) as answers:
            for f, (_, prefix) in zip(batch, answers, strict=True):
                if self._sample_one(f, prefix):
                    sampled += 1
                    self.kept.append(f)
        return sampled

    def _sample_one(self, f: CrawledFile, prefix: bytes | ShoalError) -> bool:
        self.tally.files_read += 1
        try:
            f.schema = self._classify(f, prefix)
            return True
        except FileSkipped as exc:
            self.log(f"skipped {f.obj.uri}: {exc.reason}")
        except ShoalError as exc:  # vanished or unreadable between listing and reading
            self.log(f"skipped {f.obj.uri}: could not read it: {exc.message}")
        except Exception as exc:  # bad input must never crash a crawl
            self.log(
                f"skipped {f.obj.uri}: unexpected {type(exc).__name__} while classifying: {exc}"
            )
        return False

    def _classify(self, f: CrawledFile, prefix: bytes | ShoalError) -> FileSchema:
        if isinstance(prefix, ShoalError):
            raise prefix  # read_prefixes answers a failed read with its error
        try:
            sample = sample_of(self.storage, f.obj, prefix)
        except FileSkipped as exc:
            self.tally.bytes_read += exc.bytes_read
            raise
        self.tally.bytes_read += sample.bytes_read
        return self.shapes.classify(f.folder, sample, f.obj.size)
