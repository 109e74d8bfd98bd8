"""From a grouped table to the catalog entries Glue would write for it.

Partitions inherit the table's columns and format (Glue's ``InheritFromTable``
partition behaviour), so drift between partitions never produces Athena's
``HIVE_PARTITION_SCHEMA_MISMATCH``; each partition keeps its own statistics.

Statistics follow Glue: ``objectCount`` and ``sizeKey`` are exact; ``recordCount``
is exact for Parquet and for text files read whole, otherwise estimated from the
sample (records sampled x file size / stored bytes sampled); files beyond the
sample size are estimated from the table's average stored bytes per record.
``averageRecordSize`` is ``sizeKey // recordCount``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from shoal.catalog.formats import DiscoveredFormat, format_parameters, storage_descriptor
from shoal.catalog.model import Column, Partition, StorageDescriptor, Table
from shoal.catalog.names import unique_names
from shoal.crawler.grouping import CrawledFile, TableGroup
from shoal.crawler.infer import finalize

UPDATED_BY_CRAWLER = "UPDATED_BY_CRAWLER"
DEPRECATED_BY_CRAWLER = "DEPRECATED_BY_CRAWLER"
SCHEMA_VERSIONS = {
    "CrawlerSchemaSerializerVersion": "1.0",
    "CrawlerSchemaDeserializerVersion": "1.0",
}
STAT_KEYS = ("recordCount", "objectCount", "sizeKey", "averageRecordSize")


@dataclass(frozen=True)
class DesiredTable:
    """A table and its partitions as the crawl found them."""

    table: Table
    partitions: tuple[Partition, ...]


def folder_uri(bucket: str, key: str) -> str:
    """``s3://bucket/key/`` — locations are folders and end in '/'."""
    key = key.strip("/")
    return f"s3://{bucket}/{key}/" if key else f"s3://{bucket}/"


def build_table(
    group: TableGroup,
    database: str,
    bucket: str,
    prefix: str,
    crawler_name: str | None,
) -> DesiredTable:
    """The Table and Partitions for one grouped table found under ``prefix``."""
    columns = tuple(Column(c.name, str(finalize(c.type))) for c in group.schema.columns)
    names = unique_names([c.name for c in columns] + list(group.partition_keys))
    keys = tuple(Column(name, "string") for name in names[len(columns) :])
    files = group.files  # built on each access: once is enough
    fmt = replace(group.schema.format, compression=_common_compression(files))
    location = folder_uri(bucket, prefix + group.folder)
    sd = storage_descriptor(fmt, location, columns)
    bytes_per_record = _bytes_per_record(files)
    params = {
        **format_parameters(fmt),
        **_stats(files, bytes_per_record),
        **SCHEMA_VERSIONS,
    }
    if crawler_name:
        params[UPDATED_BY_CRAWLER] = crawler_name
    table = Table(database, group.name, sd, partition_keys=keys, parameters=params)
    partitions = tuple(
        Partition(
            database,
            group.name,
            part.values,
            replace(sd, location=folder_uri(bucket, prefix + part.folder)),
            parameters={
                **format_parameters(fmt),
                **_stats(part.files, bytes_per_record),
                **SCHEMA_VERSIONS,
            },
        )
        for part in group.partitions
        if part.values
    )
    return DesiredTable(table, partitions)


def partition_for(table: Table, partition: Partition) -> Partition:
    """``partition`` re-based on ``table``'s storage (inherit columns and format)."""
    sd = replace(table.storage, location=partition.storage.location)
    return replace(partition, table=table.name, storage=sd)


def _common_compression(files: Sequence[CrawledFile]) -> str:
    counts = Counter(f.schema.format.compression for f in files if f.schema is not None)
    return counts.most_common(1)[0][0] if counts else "none"


def _bytes_per_record(files: Sequence[CrawledFile]) -> float:
    size = sum(f.obj.size for f in files if f.schema is not None)
    records = sum(f.schema.estimated_records for f in files if f.schema is not None)
    return size / records if records else 0.0


def _stats(files: Sequence[CrawledFile], bytes_per_record: float) -> dict[str, str]:
    size = sum(f.obj.size for f in files)
    records = 0
    for f in files:
        if f.schema is not None:
            records += f.schema.estimated_records
        elif bytes_per_record:
            records += round(f.obj.size / bytes_per_record)
    return {
        "recordCount": str(records),
        "objectCount": str(len(files)),
        "sizeKey": str(size),
        "averageRecordSize": str(size // records if records else 0),
    }


def fingerprint(sd: StorageDescriptor) -> tuple[object, ...]:
    """What of a storage descriptor a crawl compares to decide on an update."""
    return (
        sd.location,
        tuple((c.name, c.type) for c in sd.columns),
        sd.input_format,
        sd.output_format,
        sd.compressed,
        sd.serde.serialization_library,
        tuple(sorted(sd.serde.parameters.items())),
        tuple(sorted(sd.parameters.items())),
    )


def table_fingerprint(table: Table) -> tuple[object, ...]:
    """``fingerprint`` plus partition keys and parameters of a table."""
    return (
        fingerprint(table.storage),
        tuple((c.name, c.type) for c in table.partition_keys),
        tuple(sorted(table.parameters.items())),
    )


def format_of(table: Table) -> DiscoveredFormat | None:
    """The discovered format recorded on a crawled table (for incremental crawls)."""
    params = table.parameters
    classification = params.get("classification")
    if classification not in ("csv", "json", "parquet", "orc"):
        return None
    mapping = {
        k[len("mapping.") :]: v
        for k, v in table.storage.serde.parameters.items()
        if k.startswith("mapping.")
    }
    return DiscoveredFormat(
        classification,
        params.get("compressionType", "none"),
        params.get("delimiter"),
        params.get("areColumnsQuoted") == "true",
        params.get("skip.header.line.count") == "1",
        mapping,
    )
