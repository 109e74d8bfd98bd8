"""``CRAWL_NEW_FOLDERS_ONLY``: read only folders the catalog does not know yet.

Folders that are already a partition (or an unpartitioned table's location) of a
table this crawler manages are not read at all. New folders below a known
partitioned table become new partitions of that table — their partition values
taken level by level from the folder names — and their schemas are merged into
the table's (drift is still logged and applied under ``UPDATE_IN_DATABASE``).
Everything else is grouped from scratch like a full crawl.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from shoal.catalog.model import Crawler, Table
from shoal.catalog.names import normalize_name
from shoal.catalog.store import CatalogStore
from shoal.catalog.types import parse_type
from shoal.crawler.grouping import CrawledFile, PartitionGroup, TableGroup
from shoal.crawler.infer import InferredColumn
from shoal.crawler.listing import ReadTally, sample_files
from shoal.crawler.schemas import GroupSchema, changes, incompatibility, merge
from shoal.crawler.tables import DesiredTable, build_table, folder_uri, format_of
from shoal.storage.base import Storage


def split_known(
    store: CatalogStore,
    storage: Storage,
    crawler: Crawler,
    bucket: str,
    prefix: str,
    files: Sequence[CrawledFile],
    owned: Sequence[Table],
    sample_size: int | None,
    tally: ReadTally,
    log: Callable[[str], None],
) -> tuple[list[CrawledFile], list[DesiredTable]]:
    """Drop files in catalogued folders; turn new folders of known tables into
    partitions. Returns the files left for normal grouping and the known tables'
    desired state (new partitions only)."""
    known: set[str] = set()
    partitioned = [t for t in owned if t.partition_keys]
    for table in owned:
        if table.partition_keys:
            parts = store.list_partitions(crawler.database, table.name)
            known.update(p.storage.location for p in parts)
        else:
            known.add(table.storage.location)
    rest: list[CrawledFile] = []
    anchored: dict[str, list[CrawledFile]] = defaultdict(list)
    skipped = 0
    for f in files:
        if folder_uri(bucket, prefix + f.folder) in known:
            skipped += 1
            continue
        home = next((t for t in partitioned if f.obj.uri.startswith(t.storage.location)), None)
        if home is None:
            rest.append(f)
        else:
            anchored[home.name].append(f)
    if skipped:
        log(f"{skipped} file(s) in already catalogued folders not read (CRAWL_NEW_FOLDERS_ONLY)")
    desired: list[DesiredTable] = []
    for table in partitioned:
        if anchored.get(table.name):
            sampled = sample_files(storage, anchored[table.name], sample_size, tally, log)
            group = _extend(table, sampled, bucket, prefix, log)
            if group is not None:
                desired.append(build_table(group, crawler.database, bucket, prefix, crawler.name))
    return rest, desired


def _extend(
    table: Table,
    files: list[CrawledFile],
    bucket: str,
    prefix: str,
    log: Callable[[str], None],
) -> TableGroup | None:
    fmt = format_of(table)
    if fmt is None:
        log(f"table {table.name}: unknown classification; new folders not added")
        return None
    columns = tuple(InferredColumn(c.name, parse_type(c.type)) for c in table.columns)
    schema = GroupSchema(fmt, columns)
    table_key = table.storage.location[len(f"s3://{bucket}/") :]
    folders: dict[str, list[CrawledFile]] = defaultdict(list)
    for f in files:
        if f.schema is not None:
            new = GroupSchema.of(f.schema)
            why = incompatibility(schema, new)
            if why is not None:
                log(f"skipped {f.obj.uri}: does not fit table {table.name}: {why}")
                continue
            merged = merge(schema, new)
            for note in changes(schema, merged):
                log(f"schema drift at {f.obj.uri}: {note}")
            schema = merged
        folders[f.folder].append(f)
    partitions = []
    for folder, members in folders.items():
        values = _values(table, (prefix + folder)[len(table_key) :].split("/"))
        if values is None:
            log(f"skipped folder {folder}: its depth does not match table {table.name}'s keys")
            continue
        partitions.append(PartitionGroup(values, folder, members))
    keys = tuple(c.name for c in table.partition_keys)
    folder = table_key[len(prefix) :].rstrip("/")
    return TableGroup(table.name, folder, schema, keys, partitions)


def _values(table: Table, segments: list[str]) -> tuple[str, ...] | None:
    if len(segments) != len(table.partition_keys):
        return None
    values = []
    for key, segment in zip(table.partition_keys, segments, strict=True):
        name, eq, value = segment.partition("=")
        values.append(value if eq and normalize_name(name) == key.name else segment)
    return tuple(values)
