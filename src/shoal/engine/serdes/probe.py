"""What the engine learns of a JSON SerDe table's files before reading them, so that
DuckDB reads their lines without the Python reader (``json_keys``, ``json_sql``).

Side queries, on a cursor of the running query: the first lines of the scan's first
file (how its keys are spelled), then, for each file not seen before, one pass that
finds whether any line has a key that spelling would miss, and whether any line is
neither blank nor one JSON object; a file found to have such keys is sampled in turn,
and checked again by its own spelling. The answers are remembered per file version
(path, size, mtime, etag) and pattern. A query checks at most ``CHECK_BYTES`` of files
(a ``LIMIT 10`` over a terabyte of JSON must not read it all first); the files left
over, those larger than that and those without an mtime (never remembered) are
checked line by line as they are read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Sequence

import duckdb

from shoal.engine.base import DataFile, TableScan
from shoal.engine.lru import LruCache
from shoal.engine.serdes import json_sql
from shoal.engine.serdes.json_keys import JsonFastPath, JsonRead, Spelling

SAMPLE_LINES = 100
RESPELLED = 16  # files spelled otherwise than the first, sampled per query
VERDICTS = 100_000  # files whose check is remembered
CHECK_BYTES = 256 * 1024 * 1024  # per query: about a second of checking


@dataclasses.dataclass(frozen=True)
class _Verdict:
    clean: bool  # no key spelled otherwise
    regular: bool  # every line blank or one JSON object


class JsonProbe:
    """Each JSON table's ``JsonRead``, from its files; safe to share between threads."""

    def __init__(self, size: int = VERDICTS, check_bytes: int = CHECK_BYTES) -> None:
        self._verdicts: LruCache[_Verdict] = LruCache(size)
        self._check_bytes = check_bytes

    def fast_path(
        self, cursor: duckdb.DuckDBPyConnection, scan: TableScan, url: Callable[[str], str]
    ) -> JsonRead:
        """How ``scan``'s lines may skip Python; ``url`` names a file for DuckDB.

        The first file's head gives the spelling; files the check finds spelled
        otherwise (up to ``RESPELLED`` a query) are sampled in turn, and those of one
        other spelling read by a path of their own.

        Raises:
            duckdb.InterruptException: the query was cancelled meanwhile.
        """
        budget = [self._check_bytes]
        positions = range(len(scan.files))
        sample = _sample(cursor, scan, url, 0)
        first, dirty = self._path(cursor, scan, url, sample, positions, budget)
        groups: dict[Spelling, tuple[list[str], list[int]]] = {}
        for position in dirty[:RESPELLED]:
            sample = _sample(cursor, scan, url, position)
            spelling = json_sql.fast_path(scan, sample).spelling
            if spelling != first.spelling:
                groups.setdefault(spelling, (sample, []))[1].append(position)
        paths = [first]
        for sample, files in groups.values():
            path, _ = self._path(cursor, scan, url, sample, files, budget)
            paths.append(dataclasses.replace(path, files=frozenset(files)))
        return JsonRead(tuple(paths))

    def _path(
        self,
        cursor: duckdb.DuckDBPyConnection,
        scan: TableScan,
        url: Callable[[str], str],
        sample: Sequence[str],
        positions: Sequence[int],
        budget: list[int],
    ) -> tuple[JsonFastPath, list[int]]:
        """The path of the files at ``positions`` by ``sample``'s spelling, and those
        of them found to have a key spelled otherwise."""
        fast = json_sql.fast_path(scan, sample)
        pattern = fast.wrong_keys or ""
        known = {i: self._verdicts.get(_key(scan, scan.files[i], pattern)) for i in positions}
        unknown = [i for i, v in known.items() if v is None and self._checkable(scan.files[i])]
        now = _within(scan, unknown, budget)
        if now:
            for position, verdict in _check(cursor, scan, url, now, fast).items():
                self._verdicts.put(_key(scan, scan.files[position], pattern), verdict)
                known[position] = verdict
        path = dataclasses.replace(
            fast,
            checked=frozenset(i for i, v in known.items() if v is not None and v.clean),
            regular=frozenset(i for i, v in known.items() if v is not None and v.regular),
            pending=len(now) < len(unknown),
        )
        return path, [i for i, v in known.items() if v is not None and not v.clean]

    def _checkable(self, file: DataFile) -> bool:
        """Whether a check of ``file`` is remembered (it has an mtime) and fits a query."""
        return file.mtime is not None and file.size <= self._check_bytes


def _within(scan: TableScan, positions: list[int], budget: list[int]) -> list[int]:
    """The files of ``positions`` this query checks: in plan order, while ``budget``
    (bytes left to the query, updated) allows."""
    chosen = []
    for position in positions:
        size = scan.files[position].size
        if size <= budget[0]:
            chosen.append(position)
            budget[0] -= size
    return chosen


def _sample(
    cursor: duckdb.DuckDBPyConnection, scan: TableScan, url: Callable[[str], str], position: int
) -> list[str]:
    """The first lines of a file; none when it cannot be read this way (its lines are
    read, and any error reported, by the query itself)."""
    query = json_sql.sample_query(url(scan.files[position].path), scan, SAMPLE_LINES)
    try:
        return [str(row[0]) for row in cursor.execute(query).fetchall()]
    except duckdb.InterruptException:
        raise
    except duckdb.Error:
        return []


def _check(
    cursor: duckdb.DuckDBPyConnection,
    scan: TableScan,
    url: Callable[[str], str],
    positions: list[int],
    fast: JsonFastPath,
) -> dict[int, _Verdict]:
    """The verdict on each file at ``positions`` (none when the check cannot read
    them: they are read, and checked, line by line)."""
    urls = [url(scan.files[i].path) for i in positions]
    query = json_sql.check_query(urls, scan, fast.wrong_keys)
    try:
        rows = cursor.execute(query).fetchall()
    except duckdb.InterruptException:
        raise
    except duckdb.Error:
        return {}
    found = {
        positions[int(index)]: _Verdict(not wrong_keys, not irregular)
        for index, wrong_keys, irregular in rows
    }
    empty = _Verdict(clean=True, regular=True)  # a file without lines
    return {p: found.get(p, empty) for p in positions}


def _key(scan: TableScan, file: DataFile, pattern: str) -> Hashable:
    """What a verdict depends on: the file's version, how it is read as lines, the
    pattern."""
    fmt = scan.format
    return (
        file.path,
        file.size,
        file.mtime,
        file.etag,
        fmt.skip_header_lines,
        fmt.compression,
        pattern,
    )
