"""Result reuse: when an earlier result may stand in for running a query again.

Two executions are the same query when their *reuse key* matches: the exact query
text (only surrounding whitespace and a trailing ';' stripped — whitespace inside
string literals is meaningful), catalog, database, workgroup and execution
parameters. Only SELECT results are reused.

A result is reused only if every table it read is unchanged. The *fingerprint* of a
read table is a digest of its catalog definition (version and update time), its
partitions (values, storage, parameters) and the files under its and its
partitions' locations (key, size, modification time). It is taken right after the
query ran; if anything it covers changed *during* the run (a newer update time,
partition or file), the result gets no fingerprint and is never reused. Whenever
the fingerprint cannot be computed (a table gone, a location unreadable), there is
no reuse: when unsure, run the query.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from shoal.catalog.model import Partition, Table
from shoal.catalog.store import CatalogStore
from shoal.errors import ShoalError
from shoal.queries.context import TableAccess
from shoal.storage.base import Storage, parse_uri


def reuse_key(
    sql: str, catalog: str, database: str | None, workgroup: str, parameters: Sequence[str]
) -> str:
    """The identity of a query for result reuse."""
    text = sql.strip().rstrip(";").strip()
    document = [text, catalog.lower(), (database or "").lower(), workgroup, list(parameters)]
    return hashlib.sha256(json.dumps(document).encode()).hexdigest()


def read_tables(accesses: Iterable[Any]) -> list[tuple[str, str]]:
    """The (database, table) pairs a statement read, sorted, without duplicates."""
    pairs = {
        (a.database.lower(), a.table.lower())
        for a in accesses
        if isinstance(a, TableAccess) and a.mode == "read"
    }
    return sorted(pairs)


def fingerprint(
    catalog: CatalogStore,
    storage: Storage,
    tables: Sequence[tuple[str, str]],
    changed_after: datetime | None = None,
) -> dict[str, Any] | None:
    """``{"tables": [[database, table, digest], …]}``, or None when reuse must not happen.

    With ``changed_after``, a table, partition or file changed at or after that time
    also gives None: the result may not reflect it.
    """
    digests: list[list[str]] = []
    try:
        for database, name in tables:
            digest = _table_digest(catalog, storage, database, name, changed_after)
            if digest is None:
                return None
            digests.append([database, name, digest])
    except ShoalError:
        return None
    return {"tables": digests}


def fingerprint_tables(stored: dict[str, Any]) -> list[tuple[str, str]]:
    """The (database, table) pairs a stored fingerprint covers."""
    return [(str(d), str(t)) for d, t, _ in stored.get("tables", [])]


def _table_digest(
    catalog: CatalogStore,
    storage: Storage,
    database: str,
    name: str,
    changed_after: datetime | None,
) -> str | None:
    table = catalog.get_table(database, name)
    partitions = catalog.list_partitions(database, name) if table.partition_keys else []
    times: list[datetime] = [t for t in (table.update_time,) if t is not None]
    times.extend(p.create_time for p in partitions if p.create_time is not None)
    files = _files(storage, table, partitions)
    if changed_after is not None:
        newest = max([*times, *(f[2] for f in files)], default=None)
        if newest is not None and newest >= changed_after:
            return None
    document = {
        "version": table.version_id,
        "updated": table.update_time.isoformat() if table.update_time else None,
        "view": table.view_original_text,
        "partitions": [_partition_document(p) for p in partitions],
        "files": [(key, size, when.isoformat()) for key, size, when in files],
    }
    return hashlib.sha256(json.dumps(document, default=str).encode()).hexdigest()


def _partition_document(partition: Partition) -> Any:
    # repr of the frozen dataclasses is stable and covers every nested field.
    return [list(partition.values), repr(partition.storage), repr(partition.parameters)]


def _files(
    storage: Storage, table: Table, partitions: Sequence[Partition]
) -> list[tuple[str, int, datetime]]:
    locations = {table.storage.location} | {p.storage.location for p in partitions}
    found: list[tuple[str, int, datetime]] = []
    for location in sorted(loc for loc in locations if loc):
        bucket, prefix = parse_uri(location)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        found.extend((f"{bucket}/{o.key}", o.size, o.mtime) for o in storage.walk(bucket, prefix))
    return sorted(set(found))
