"""Glue's wire shapes and the catalog's dataclasses, both ways; paging tokens.

Inputs arrive already validated against the botocore model, so these functions only
decide meaning: what maps onto the catalog, and what shoal refuses because it
cannot honour it (skew information, schema registry
references, Lake Formation, custom classifiers, non-S3 crawl targets…) — those
raise ``InvalidInputError`` naming the field. Fields that are labels only and that
the catalog does not keep (``SerdeInfo.Name``, ``LastAccessTime``,
``LastAnalyzedTime``, ``Retention``) are accepted and dropped.

Outputs carry what real Glue returns by key, so client code that indexes
``table["StorageDescriptor"]["Location"]`` or ``table["PartitionKeys"]`` works, and
everything GetTable returns can be sent back as UpdateTable's ``TableInput``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from shoal.catalog.model import (
    TABLE_TYPE_EXTERNAL,
    TABLE_TYPE_VIEW,
    Column,
    Crawler,
    CrawlRun,
    CrawlTarget,
    Database,
    Partition,
    SchemaChangePolicy,
    SerDeInfo,
    SortColumn,
    StorageDescriptor,
    Table,
)
from shoal.errors import InvalidInputError, ShoalError
from shoal.storage.base import parse_uri

Wire = dict[str, Any]
T = TypeVar("T")

TABLE_TYPES = (TABLE_TYPE_EXTERNAL, TABLE_TYPE_VIEW)
# What Glue reports for a database without Lake Formation permissions: IAM alone decides.
IAM_ONLY_PERMISSIONS = [
    {"Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}, "Permissions": ["ALL"]}
]
_STORAGE_REFUSED = (
    "AdditionalLocations",
    "SkewedInfo",
    "SchemaReference",
)
_TABLE_REFUSED = ("TargetTable", "ViewDefinition")
_DATABASE_REFUSED = ("TargetDatabase", "FederatedDatabase")
_CRAWLER_REFUSED = (
    "Classifiers",
    "CrawlerSecurityConfiguration",
    "LakeFormationConfiguration",
    "Tags",
)
_CRAWLER_TEXT_FIELDS = {
    "Description": "description",
    "Schedule": "schedule",
    "Configuration": "configuration",
    "Role": "role",
}
_S3_TARGET_REFUSED = ("ConnectionName", "EventQueueArn", "DlqEventQueueArn")
MAX_SAMPLE_SIZE = 249  # Glue's limit on files crawled per leaf folder
# Crawl target kinds other than S3; Glue lists each, empty, in a Crawler's Targets.
OTHER_TARGET_KINDS = (
    "JdbcTargets",
    "MongoDBTargets",
    "DynamoDBTargets",
    "CatalogTargets",
    "DeltaTargets",
    "IcebergTargets",
    "HudiTargets",
)


# --- refusing what shoal cannot honour ------------------------------------------------------


def given(value: Any) -> bool:
    """Whether a field carries meaning: not absent, empty, false or all-empty inside."""
    if isinstance(value, Mapping):
        return any(given(v) for v in value.values())
    if isinstance(value, list | tuple):
        return len(value) > 0
    return value is not None and value is not False and value != ""


def refuse(params: Mapping[str, Any], fields: Iterable[str], where: str) -> None:
    """Raise InvalidInputError naming the first of ``fields`` that ``params`` sets."""
    for name in fields:
        if given(params.get(name)):
            raise InvalidInputError(f"{where}.{name} is not supported by shoal")


def error_detail(error: ShoalError) -> Wire:
    """Glue's ``ErrorDetail`` for one failed entry of a batch."""
    return {"ErrorCode": error.code, "ErrorMessage": error.message}


# --- databases -----------------------------------------------------------------------------


def database_from_input(data: Mapping[str, Any]) -> Database:
    """A Database from Glue's ``DatabaseInput``."""
    refuse(data, _DATABASE_REFUSED, "DatabaseInput")
    permissions = data.get("CreateTableDefaultPermissions")
    if given(permissions) and permissions != IAM_ONLY_PERMISSIONS:
        raise InvalidInputError(
            "DatabaseInput.CreateTableDefaultPermissions: only IAM_ALLOWED_PRINCIPALS/ALL "
            "is supported (shoal's own policies decide access)"
        )
    return Database(
        name=data["Name"],
        description=data.get("Description"),
        location_uri=data.get("LocationUri"),
        parameters=dict(data.get("Parameters") or {}),
    )


def database_to_wire(database: Database, catalog_id: str) -> Wire:
    """Glue's ``Database``."""
    wire: Wire = {"Name": database.name}
    _put(wire, "Description", database.description)
    _put(wire, "LocationUri", database.location_uri)
    wire["Parameters"] = dict(database.parameters)
    _put(wire, "CreateTime", database.create_time)
    wire["CreateTableDefaultPermissions"] = IAM_ONLY_PERMISSIONS
    wire["CatalogId"] = catalog_id
    return wire


# --- tables --------------------------------------------------------------------------------


def column_from_input(data: Mapping[str, Any], where: str) -> Column:
    """A Column from Glue's ``Column``; its type is required (the catalog validates it)."""
    refuse(data, ("Parameters",), where)
    if not data.get("Type"):
        raise InvalidInputError(f"{where}: column {data.get('Name')!r} has no Type")
    return Column(name=data["Name"], type=data["Type"], comment=data.get("Comment"))


def column_to_wire(column: Column) -> Wire:
    """Glue's ``Column``."""
    wire: Wire = {"Name": column.name, "Type": column.type}
    _put(wire, "Comment", column.comment)
    return wire


def storage_from_input(data: Mapping[str, Any] | None, where: str) -> StorageDescriptor:
    """A StorageDescriptor from Glue's; skew and other locations are refused. Bucketing
    is kept (the catalog checks its columns)."""
    data = data or {}
    refuse(data, _STORAGE_REFUSED, where)
    if data.get("StoredAsSubDirectories"):
        raise InvalidInputError(f"{where}.StoredAsSubDirectories is not supported")
    serde = data.get("SerdeInfo") or {}
    return StorageDescriptor(
        location=data.get("Location", ""),
        columns=tuple(
            column_from_input(c, f"{where}.Columns[{i}]")
            for i, c in enumerate(data.get("Columns") or ())
        ),
        input_format=data.get("InputFormat"),
        output_format=data.get("OutputFormat"),
        compressed=bool(data.get("Compressed", False)),
        serde=SerDeInfo(
            serialization_library=serde.get("SerializationLibrary"),
            parameters=dict(serde.get("Parameters") or {}),
        ),
        parameters=dict(data.get("Parameters") or {}),
        bucket_columns=tuple(data.get("BucketColumns") or ()),
        number_of_buckets=int(data.get("NumberOfBuckets") or -1),
        sort_columns=tuple(
            SortColumn(c["Column"], int(c.get("SortOrder", 1)))
            for c in data.get("SortColumns") or ()
        ),
    )


def storage_to_wire(storage: StorageDescriptor, *, columns: bool = True) -> Wire:
    """Glue's ``StorageDescriptor`` (NumberOfBuckets -1 when not bucketed, as Glue says)."""
    wire: Wire = {}
    if columns:
        wire["Columns"] = [column_to_wire(c) for c in storage.columns]
    wire["Location"] = storage.location
    _put(wire, "InputFormat", storage.input_format)
    _put(wire, "OutputFormat", storage.output_format)
    wire["Compressed"] = storage.compressed
    wire["NumberOfBuckets"] = storage.number_of_buckets
    serde: Wire = {}
    _put(serde, "SerializationLibrary", storage.serde.serialization_library)
    serde["Parameters"] = dict(storage.serde.parameters)
    wire["SerdeInfo"] = serde
    wire["BucketColumns"] = list(storage.bucket_columns)
    wire["SortColumns"] = [{"Column": c.name, "SortOrder": c.order} for c in storage.sort_columns]
    wire["Parameters"] = dict(storage.parameters)
    wire["StoredAsSubDirectories"] = False
    return wire


def table_from_input(database: str, data: Mapping[str, Any]) -> Table:
    """A Table of ``database`` from Glue's ``TableInput``."""
    refuse(data, _TABLE_REFUSED, "TableInput")
    table_type = data.get("TableType") or TABLE_TYPE_EXTERNAL
    if table_type not in TABLE_TYPES:
        raise InvalidInputError(
            f"TableInput.TableType {table_type!r} is not supported; use one of {TABLE_TYPES}"
        )
    return Table(
        database=database,
        name=data["Name"],
        storage=storage_from_input(data.get("StorageDescriptor"), "TableInput.StorageDescriptor"),
        partition_keys=tuple(
            column_from_input(c, f"TableInput.PartitionKeys[{i}]")
            for i, c in enumerate(data.get("PartitionKeys") or ())
        ),
        table_type=table_type,
        parameters=dict(data.get("Parameters") or {}),
        description=data.get("Description"),
        owner=data.get("Owner"),
        view_original_text=data.get("ViewOriginalText"),
        view_expanded_text=data.get("ViewExpandedText"),
    )


def table_to_wire(table: Table, catalog_id: str) -> Wire:
    """Glue's ``Table``, ``VersionId`` as a string as Glue sends it."""
    wire: Wire = {"Name": table.name, "DatabaseName": table.database}
    _put(wire, "Description", table.description)
    _put(wire, "Owner", table.owner)
    _put(wire, "CreateTime", table.create_time)
    _put(wire, "UpdateTime", table.update_time)
    wire["Retention"] = 0
    wire["StorageDescriptor"] = storage_to_wire(table.storage)
    wire["PartitionKeys"] = [column_to_wire(c) for c in table.partition_keys]
    _put(wire, "ViewOriginalText", table.view_original_text)
    _put(wire, "ViewExpandedText", table.view_expanded_text)
    wire["TableType"] = table.table_type
    wire["Parameters"] = dict(table.parameters)
    wire["IsRegisteredWithLakeFormation"] = False
    wire["CatalogId"] = catalog_id
    wire["VersionId"] = str(table.version_id)
    return wire


def version_number(text: str, what: str = "VersionId") -> int:
    """A table version id sent as a string; InvalidInputError unless a positive number."""
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(f"{what} must be a positive whole number, got {text!r}")
    return int(text)


# --- partitions ----------------------------------------------------------------------------


def partition_from_input(
    database: str, table: str, data: Mapping[str, Any], values: Sequence[str] | None = None
) -> Partition:
    """A Partition from Glue's ``PartitionInput``; ``values`` when it names none."""
    chosen = data.get("Values", values)
    if chosen is None:
        raise InvalidInputError("PartitionInput.Values is required")
    return Partition(
        database=database,
        table=table,
        values=tuple(chosen),
        storage=storage_from_input(
            data.get("StorageDescriptor"), "PartitionInput.StorageDescriptor"
        ),
        parameters=dict(data.get("Parameters") or {}),
    )


def partition_to_wire(partition: Partition, catalog_id: str, *, columns: bool = True) -> Wire:
    """Glue's ``Partition``; ``columns=False`` leaves out the column schema."""
    wire: Wire = {
        "Values": list(partition.values),
        "DatabaseName": partition.database,
        "TableName": partition.table,
    }
    _put(wire, "CreationTime", partition.create_time)
    _put(wire, "LastAccessTime", partition.last_access_time)
    wire["StorageDescriptor"] = storage_to_wire(partition.storage, columns=columns)
    wire["Parameters"] = dict(partition.parameters)
    wire["CatalogId"] = catalog_id
    return wire


# --- crawlers ------------------------------------------------------------------------------


def crawler_from_input(params: Mapping[str, Any], base: Crawler) -> Crawler:
    """``base`` changed by the fields a CreateCrawler or UpdateCrawler request sets.

    Glue's UpdateCrawler changes only what it names, so absent fields keep ``base``'s
    values; an empty Description, Schedule or Configuration removes it.
    """
    refuse(params, _CRAWLER_REFUSED, "crawler")
    lineage = (params.get("LineageConfiguration") or {}).get("CrawlerLineageSettings")
    if lineage not in (None, "DISABLE"):
        raise InvalidInputError("LineageConfiguration: crawler lineage is not supported")
    changes: dict[str, Any] = {}
    for wire_name, field_name in _CRAWLER_TEXT_FIELDS.items():
        if wire_name in params:
            changes[field_name] = params[wire_name] or None
    if "DatabaseName" in params:
        changes["database"] = params["DatabaseName"]
    if "TablePrefix" in params:
        changes["table_prefix"] = params["TablePrefix"]
    if "Targets" in params:
        changes["targets"] = _targets_from_input(params["Targets"])
    if "SchemaChangePolicy" in params:
        changes["schema_change_policy"] = _policy_from_input(
            params["SchemaChangePolicy"], base.schema_change_policy
        )
    if behavior := (params.get("RecrawlPolicy") or {}).get("RecrawlBehavior"):
        changes["recrawl_behavior"] = behavior
    if changes.get("configuration") is not None:
        _check_configuration(changes["configuration"])
    return replace(base, **changes)


def _policy_from_input(data: Mapping[str, Any], base: SchemaChangePolicy) -> SchemaChangePolicy:
    """A policy of which Glue may send one half; the other half stays as it was."""
    return SchemaChangePolicy(
        update_behavior=data.get("UpdateBehavior", base.update_behavior),
        delete_behavior=data.get("DeleteBehavior", base.delete_behavior),
    )


def _targets_from_input(targets: Mapping[str, Any]) -> tuple[CrawlTarget, ...]:
    kinds = [kind for kind in OTHER_TARGET_KINDS if given(targets.get(kind))]
    if kinds:
        raise InvalidInputError(f"Targets: only S3Targets are supported, not {', '.join(kinds)}")
    result = []
    for i, target in enumerate(targets.get("S3Targets") or ()):
        where = f"Targets.S3Targets[{i}]"
        refuse(target, _S3_TARGET_REFUSED, where)
        path = target.get("Path")
        if not path:
            raise InvalidInputError(f"{where}.Path is required")
        parse_uri(path)  # s3://bucket/prefix, with a valid bucket name
        size = target.get("SampleSize")
        if size is not None and not 1 <= size <= MAX_SAMPLE_SIZE:
            raise InvalidInputError(f"{where}.SampleSize must be between 1 and {MAX_SAMPLE_SIZE}")
        result.append(CrawlTarget(path, tuple(target.get("Exclusions") or ()), size))
    if not result:
        raise InvalidInputError("Targets: give at least one S3Targets entry")
    return tuple(result)


def _check_configuration(text: str) -> None:
    """Glue's Configuration is a JSON object; it is kept verbatim."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidInputError("Configuration must be a JSON object")


def crawler_to_wire(crawler: Crawler, runs: Sequence[CrawlRun], now: datetime) -> Wire:
    """Glue's ``Crawler``; ``runs`` are its runs newest first (dry runs left out)."""
    wire: Wire = {
        "Name": crawler.name,
        "Targets": {
            "S3Targets": [
                _s3_target_to_wire(t.path, t.exclusions, t.sample_size) for t in crawler.targets
            ],
            **{kind: [] for kind in OTHER_TARGET_KINDS},
        },
        "DatabaseName": crawler.database,
    }
    _put(wire, "Description", crawler.description)
    _put(wire, "Role", crawler.role)
    wire["Classifiers"] = []
    wire["RecrawlPolicy"] = {"RecrawlBehavior": crawler.recrawl_behavior}
    wire["SchemaChangePolicy"] = {
        "UpdateBehavior": crawler.schema_change_policy.update_behavior,
        "DeleteBehavior": crawler.schema_change_policy.delete_behavior,
    }
    wire["LineageConfiguration"] = {"CrawlerLineageSettings": "DISABLE"}
    wire["State"] = crawler.state
    wire["TablePrefix"] = crawler.table_prefix
    if crawler.schedule:  # fired by the server's scheduler (crawler/scheduler.py)
        state = "NOT_SCHEDULED" if crawler.schedule_paused else "SCHEDULED"
        wire["Schedule"] = {"ScheduleExpression": crawler.schedule, "State": state}
    running = runs[0] if runs and runs[0].end_time is None else None
    wire["CrawlElapsedTime"] = _millis(now - running.start_time) if running else 0
    _put(wire, "CreationTime", crawler.create_time)
    _put(wire, "LastUpdated", crawler.update_time)
    finished = [r for r in runs if r.end_time is not None]
    if finished:
        wire["LastCrawl"] = _last_crawl(crawler.name, finished[0])
    wire["Version"] = crawler.version
    _put(wire, "Configuration", crawler.configuration)
    wire["LakeFormationConfiguration"] = {"UseLakeFormationCredentials": False, "AccountId": ""}
    return wire


def _s3_target_to_wire(path: str, exclusions: Sequence[str], sample_size: int | None) -> Wire:
    wire: Wire = {"Path": path, "Exclusions": list(exclusions)}
    _put(wire, "SampleSize", sample_size)
    return wire


def _last_crawl(name: str, run: CrawlRun) -> Wire:
    wire: Wire = {"Status": run.state}
    _put(wire, "ErrorMessage", (run.error_message or "")[:2048] or None)
    # Glue points at CloudWatch; shoal keeps the log with the run, found by this prefix.
    wire["LogGroup"] = "/aws-glue/crawlers"
    wire["LogStream"] = name
    wire["MessagePrefix"] = run.id
    wire["StartTime"] = run.start_time
    return wire


def crawler_metrics_to_wire(name: str, runs: Sequence[CrawlRun], now: datetime) -> Wire:
    """Glue's ``CrawlerMetrics`` from a crawler's runs, newest first."""
    finished = [r for r in runs if r.end_time is not None]
    durations = [(r.end_time - r.start_time).total_seconds() for r in finished if r.end_time]
    median = statistics.median(durations) if durations else 0.0
    running = runs[0] if runs and runs[0].end_time is None else None
    last = finished[0] if finished else None
    time_left = 0.0
    if running is not None:
        time_left = max(0.0, median - (now - running.start_time).total_seconds())
    return {
        "CrawlerName": name,
        "TimeLeftSeconds": time_left,
        "StillEstimating": running is not None and not durations,
        "LastRuntimeSeconds": durations[0] if durations else 0.0,
        "MedianRuntimeSeconds": median,
        "TablesCreated": last.tables_created if last else 0,
        "TablesUpdated": last.tables_updated if last else 0,
        "TablesDeleted": last.tables_deleted if last else 0,
    }


def _millis(delta: Any) -> int:
    return max(0, int(delta.total_seconds() * 1000))


def _put(wire: Wire, key: str, value: Any) -> None:
    """Set ``key`` only when there is a value: Glue leaves unset fields out."""
    if value is not None:
        wire[key] = value


# --- paging --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ordering(Generic[T]):
    """How a listing is ordered, and how a page token remembers a place in it.

    ``key`` sorts the items ascending; ``cursor`` is the JSON value a token keeps for
    the last item of a page; ``resume`` turns it back into a sort key (raising
    TypeError or ValueError on a forged one). Keys rather than offsets, so a listing
    that changes between pages neither repeats nor skips items that stayed.
    """

    key: Callable[[T], Any]
    cursor: Callable[[T], Any]
    resume: Callable[[Any], Any]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


BY_NAME: Ordering[Any] = Ordering(lambda x: x.name, lambda x: x.name, _text)


def paginate(
    items: Sequence[T],
    ordering: Ordering[T],
    operation: str,
    params: Mapping[str, Any],
    max_size: int,
) -> tuple[list[T], str | None]:
    """One page of ``items`` (sorted by ``ordering.key``) and the token of the next.

    Pages hold MaxResults items, at most ``max_size`` (a larger MaxResults is clamped,
    as Glue does).

    The token carries a fingerprint of the request, so it is refused
    (InvalidInputError) when replayed against another listing or filter.
    """
    size = min(params.get("MaxResults") or max_size, max_size)
    if size < 1:
        raise InvalidInputError("MaxResults must be at least 1")
    fingerprint = _fingerprint(operation, params)
    start = 0
    if token := params.get("NextToken"):
        after = _resume(token, fingerprint, ordering)
        start = bisect.bisect_right(items, after, key=ordering.key)
    page = list(items[start : start + size])
    if start + size >= len(items) or not page:
        return page, None
    return page, _encode(ordering.cursor(page[-1]), fingerprint)


def _fingerprint(operation: str, params: Mapping[str, Any]) -> str:
    request = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    text = json.dumps([operation, request], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode(cursor: Any, fingerprint: str) -> str:
    raw = json.dumps({"after": cursor, "request": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _resume(token: str, fingerprint: str, ordering: Ordering[T]) -> Any:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["request"] != fingerprint:
            raise InvalidInputError("NextToken belongs to a different request")
        return ordering.resume(data["after"])
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError):
        raise InvalidInputError("invalid NextToken") from None
