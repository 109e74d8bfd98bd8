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
from shoal.engine.serdes import json_sql
from shoal.engine.serdes.json_keys import AS_DECLARED, JsonFastPath, JsonRead, Spelling
from shoal.lru import LruCache

SAMPLE_LINES = 100
RESPELLED = 16  # files sampled per query (the first, and those spelled otherwise)
VERDICTS = 100_000  # files whose check is remembered
CHECK_BYTES = 256 * 1024 * 1024  # per query: about a second of checking


@dataclasses.dataclass(frozen=True)
class _Verdict:
    clean: bool  # no key spelled otherwise
    regular: bool  # every line blank or one JSON object


class JsonProbe:
    """Each JSON table's ``JsonRead``, from its files; safe to share between threads."""

    def __init__(
        self, size: int = VERDICTS, check_bytes: int = CHECK_BYTES, samples: int = RESPELLED
    ) -> None:
        self._verdicts: LruCache[_Verdict] = LruCache(size)
        self._spellings: LruCache[Spelling] = LruCache(size)
        self._check_bytes = check_bytes
        self._samples = samples

    def fast_path(
        self, cursor: duckdb.DuckDBPyConnection, scan: TableScan, url: Callable[[str], str]
    ) -> JsonRead:
        """How ``scan``'s lines may skip Python; ``url`` names a file for DuckDB.

        The first file's head gives the spelling; files the check finds spelled
        otherwise are sampled in turn (``RESPELLED`` a query; a spelling is remembered
        like a verdict), and those of one other spelling read by a path of their own.

        Raises:
            duckdb.InterruptException: the query was cancelled meanwhile.
        """
        query = _Query(self._check_bytes, self._samples)
        positions = range(len(scan.files))
        first_spelling = self._spelling(cursor, scan, url, 0, query) or AS_DECLARED
        first, dirty = self._path(cursor, scan, url, first_spelling, positions, query)
        groups: dict[Spelling, list[int]] = {}
        for position in dirty:
            spelled = self._spelling(cursor, scan, url, position, query)
            if spelled is None:
                query.pending = True  # sampled by a later query
            elif spelled != first.spelling:
                groups.setdefault(spelled, []).append(position)
        paths = [first]
        for spelled, files in groups.items():
            path, _ = self._path(cursor, scan, url, spelled, files, query)
            paths.append(dataclasses.replace(path, files=frozenset(files)))
        if query.pending:
            paths[0] = dataclasses.replace(paths[0], pending=True)
        return JsonRead(tuple(paths))

    def _spelling(
        self,
        cursor: duckdb.DuckDBPyConnection,
        scan: TableScan,
        url: Callable[[str], str],
        position: int,
        query: _Query,
    ) -> Spelling | None:
        """How the file at ``position`` spells keys (None: no samples left to the query)."""
        file = scan.files[position]
        key = _key(scan, file, "")
        known = self._spellings.get(key) if file.mtime is not None else None
        if known is not None:
            return known
        if query.samples <= 0:
            return None
        query.samples -= 1
        spelled = json_sql.spelling(scan, _sample(cursor, scan, url, position))
        if file.mtime is not None:
            self._spellings.put(key, spelled)
        return spelled

    def _path(
        self,
        cursor: duckdb.DuckDBPyConnection,
        scan: TableScan,
        url: Callable[[str], str],
        spelled: Spelling,
        positions: Sequence[int],
        query: _Query,
    ) -> tuple[JsonFastPath, list[int]]:
        """The path of the files at ``positions`` read by ``spelled``, and those of them
        found to have a key spelled otherwise."""
        fast = json_sql.fast_path(scan, spelled)
        pattern = fast.wrong_keys or ""
        known = {i: self._verdicts.get(_key(scan, scan.files[i], pattern)) for i in positions}
        unknown = [i for i, v in known.items() if v is None and self._checkable(scan.files[i])]
        now = query.within_budget(scan, unknown)
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


class _Query:
    """What one query may still spend on probes: bytes to check, files to sample."""

    def __init__(self, check_bytes: int, samples: int) -> None:
        self.check_bytes = check_bytes
        self.samples = samples
        self.pending = False  # work left for a later query

    def within_budget(self, scan: TableScan, positions: list[int]) -> list[int]:
        """The files of ``positions`` this query checks: in plan order, while bytes
        are left."""
        chosen = []
        for position in positions:
            size = scan.files[position].size
            if size <= self.check_bytes:
                chosen.append(position)
                self.check_bytes -= size
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
