"""The AWS Glue API: databases, tables, table versions, partitions and crawlers.

``OPERATIONS`` maps each Glue operation name to a handler (see ``api.context``):
the request body comes in validated against the botocore model, the response body
goes out as a dict. Handlers translate with ``api.glue_shapes`` and call the catalog
store and the crawler; they hold no catalog logic of their own.

Every operation accepts ``CatalogId`` only when it is the caller's account id: shoal
has one catalog per server. Operations that are not in ``OPERATIONS`` (connections,
jobs, classifiers…) are not supported.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from shoal.api.authorize import visible_databases, visible_tables
from shoal.api.context import JsonHandler, RequestContext
from shoal.api.glue_shapes import (
    BY_NAME,
    Ordering,
    Wire,
    crawler_from_input,
    crawler_metrics_to_wire,
    crawler_to_wire,
    database_from_input,
    database_to_wire,
    error_detail,
    paginate,
    partition_from_input,
    partition_to_wire,
    refuse,
    table_from_input,
    table_to_wire,
    version_number,
)
from shoal.catalog.expression import partition_order_key
from shoal.catalog.model import Crawler, CrawlRun, Partition, Table, TableVersion
from shoal.catalog.store import CatalogStore
from shoal.crawler.background import start_crawler, stop_crawler
from shoal.errors import (
    AlreadyExistsError,
    EntityNotFoundError,
    InvalidInputError,
    NoScheduleError,
    SchedulerNotRunningError,
    SchedulerRunningError,
    ShoalError,
)

OPERATIONS: dict[str, JsonHandler] = {}

CATALOG_PAGE = 100  # Glue's CatalogGetterPageSize maximum
PARTITION_PAGE = 1000  # Glue's PageSize maximum (also crawler listings)
RUN_HISTORY = 100  # runs read for a crawler's LastCrawl and metrics


def _operation(name: str, refused: Sequence[str] = ()) -> Callable[[JsonHandler], JsonHandler]:
    """Register a handler as Glue operation ``name``; ``refused`` are request fields
    shoal cannot honour (refused when set, never silently ignored)."""

    def register(handler: JsonHandler) -> JsonHandler:
        @functools.wraps(handler)
        def checked(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            _check_catalog(ctx, params)
            refuse(params, refused, name)
            return handler(ctx, params)

        OPERATIONS[name] = checked
        return checked

    return register


def _check_catalog(ctx: RequestContext, params: dict[str, Any]) -> None:
    catalog_id = params.get("CatalogId")
    if catalog_id is not None and catalog_id != ctx.principal.account_id:
        raise EntityNotFoundError(
            f"catalog {catalog_id!r} not found: this server's catalog is "
            f"{ctx.principal.account_id!r}"
        )


def _store(ctx: RequestContext) -> CatalogStore:
    return ctx.app.catalog


def _account(ctx: RequestContext) -> str:
    return ctx.principal.account_id


# --- databases -----------------------------------------------------------------------------


@_operation("CreateDatabase")
def create_database(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """CreateDatabase: a new database from DatabaseInput (Tags are not supported)."""
    refuse(params, ("Tags",), "CreateDatabase")
    _store(ctx).create_database(database_from_input(params["DatabaseInput"]))
    return {}


@_operation("GetDatabase")
def get_database(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetDatabase: one database by name."""
    database = _store(ctx).get_database(params["Name"])
    return {"Database": database_to_wire(database, _account(ctx))}


@_operation("GetDatabases")
def get_databases(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetDatabases: every database, paged; shared (FOREIGN, FEDERATED) ones do not exist."""
    share = params.get("ResourceShareType", "ALL")
    databases = _store(ctx).list_databases() if share == "ALL" else []
    databases = visible_databases(ctx, databases)  # governance: only what the caller may get
    page, token = paginate(databases, BY_NAME, "GetDatabases", params, CATALOG_PAGE)
    wires = [database_to_wire(d, _account(ctx)) for d in page]
    if "AttributesToGet" in params and "TARGET_DATABASE" not in params["AttributesToGet"]:
        wires = [{"Name": w["Name"]} for w in wires]
    return _with_token({"DatabaseList": wires}, token)


@_operation("UpdateDatabase")
def update_database(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """UpdateDatabase: replace a database's definition."""
    _store(ctx).update_database(params["Name"], database_from_input(params["DatabaseInput"]))
    return {}


@_operation("DeleteDatabase")
def delete_database(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """DeleteDatabase: a database with all its tables and partitions."""
    _store(ctx).delete_database(params["Name"])
    return {}


# --- tables --------------------------------------------------------------------------------

_TABLE_WRITE_REFUSED = ("TransactionId", "PartitionIndexes", "OpenTableFormatInput")
_TABLE_READ_REFUSED = ("TransactionId", "QueryAsOfTime")


def _table_input(params: dict[str, Any]) -> Table:
    data = params.get("TableInput")
    if data is None:
        raise InvalidInputError("TableInput is required")
    if params.get("Name") not in (None, data["Name"]):
        raise InvalidInputError("Name and TableInput.Name differ")
    return table_from_input(params["DatabaseName"], data)


def _project(wire: Wire, attributes: Sequence[str] | None) -> Wire:
    """GetTable(s) AttributesToGet: NAME (always) and TABLE_TYPE, unless DEFAULT asks all."""
    if attributes is None or "DEFAULT" in attributes:
        return wire
    keep = {"Name"} | ({"TableType"} if "TABLE_TYPE" in attributes else set())
    return {k: v for k, v in wire.items() if k in keep}


@_operation("CreateTable", refused=_TABLE_WRITE_REFUSED)
def create_table(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """CreateTable: a table (or view) from TableInput, at version 1."""
    _store(ctx).create_table(_table_input(params))
    return {}


@_operation("GetTable", refused=_TABLE_READ_REFUSED)
def get_table(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetTable: the current version of one table."""
    table = _store(ctx).get_table(params["DatabaseName"], params["Name"])
    wire = table_to_wire(table, _account(ctx))
    return {"Table": _project(wire, params.get("AttributesToGet"))}


@_operation("GetTables", refused=_TABLE_READ_REFUSED)
def get_tables(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetTables: a database's tables whose names match Expression, paged."""
    pattern = (params.get("Expression") or "").strip() or None
    tables = _store(ctx).list_tables(params["DatabaseName"], pattern)
    tables = visible_tables(ctx, tables)  # governance: only what the caller may get
    page, token = paginate(tables, BY_NAME, "GetTables", params, CATALOG_PAGE)
    attributes = params.get("AttributesToGet")
    wires = [_project(table_to_wire(t, _account(ctx)), attributes) for t in page]
    return _with_token({"TableList": wires}, token)


@_operation("UpdateTable", refused=(*_TABLE_WRITE_REFUSED, "ViewUpdateAction", "Force"))
def update_table(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """UpdateTable: a new version of a table.

    VersionId, when sent, must be the current version (ConcurrentModificationException
    otherwise). SkipArchive is accepted, but shoal always keeps the previous version.
    """
    expected = params.get("VersionId")
    _store(ctx).update_table(
        _table_input(params), version_number(expected) if expected is not None else None
    )
    return {}


@_operation("DeleteTable", refused=("TransactionId",))
def delete_table(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """DeleteTable: a table with its partitions and versions."""
    _store(ctx).delete_table(params["DatabaseName"], params["Name"])
    return {}


@_operation("BatchDeleteTable", refused=("TransactionId",))
def batch_delete_table(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """BatchDeleteTable: delete tables one by one; the ones that fail are listed in Errors."""
    store = _store(ctx)
    store.get_database(params["DatabaseName"])  # a missing database fails the whole call
    errors = []
    for name in params["TablesToDelete"]:
        try:
            store.delete_table(params["DatabaseName"], name)
        except (EntityNotFoundError, InvalidInputError) as error:
            errors.append({"TableName": name, "ErrorDetail": error_detail(error)})
    return {"Errors": errors}


_NEWEST_FIRST: Ordering[TableVersion] = Ordering(
    key=lambda v: -v.version_id, cursor=lambda v: v.version_id, resume=lambda c: -int(c)
)


def _version_to_wire(version: TableVersion, catalog_id: str) -> Wire:
    return {"Table": table_to_wire(version.table, catalog_id), "VersionId": str(version.version_id)}


@_operation("GetTableVersions")
def get_table_versions(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetTableVersions: every version of a table, newest first, paged."""
    versions = _store(ctx).list_table_versions(params["DatabaseName"], params["TableName"])
    page, token = paginate(versions, _NEWEST_FIRST, "GetTableVersions", params, CATALOG_PAGE)
    wires = [_version_to_wire(v, _account(ctx)) for v in page]
    return _with_token({"TableVersions": wires}, token)


@_operation("GetTableVersion")
def get_table_version(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetTableVersion: one version of a table; the current one without VersionId."""
    versions = _store(ctx).list_table_versions(params["DatabaseName"], params["TableName"])
    wanted = params.get("VersionId")
    if wanted is not None:
        number = version_number(wanted)
        versions = [v for v in versions if v.version_id == number]
    if not versions:
        raise EntityNotFoundError(
            f"version {wanted} of table {params['DatabaseName']}.{params['TableName']} not found"
        )
    return {"TableVersion": _version_to_wire(versions[0], _account(ctx))}


@_operation("DeleteTableVersion")
def delete_table_version(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """DeleteTableVersion: forget one past version (the current one stays)."""
    number = version_number(params["VersionId"])
    _store(ctx).delete_table_version(params["DatabaseName"], params["TableName"], number)
    return {}


@_operation("BatchDeleteTableVersion")
def batch_delete_table_version(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """BatchDeleteTableVersion: delete versions one by one; failures go to Errors."""
    store, database, name = _store(ctx), params["DatabaseName"], params["TableName"]
    store.get_table(database, name)  # a missing table fails the whole call
    errors = []
    for version in params["VersionIds"]:
        try:
            store.delete_table_version(database, name, version_number(version))
        except (EntityNotFoundError, InvalidInputError) as error:
            errors.append(
                {"TableName": name, "VersionId": version, "ErrorDetail": error_detail(error)}
            )
    return {"Errors": errors}


# --- partitions ----------------------------------------------------------------------------


def _partition_ordering(table: Table) -> Ordering[Partition]:
    order = partition_order_key(table.partition_keys)

    def resume(cursor: Any) -> Any:
        if not isinstance(cursor, list) or not all(isinstance(v, str) for v in cursor):
            raise TypeError("expected partition values")
        return order(cursor)

    return Ordering(key=lambda p: order(p.values), cursor=lambda p: list(p.values), resume=resume)


def _in_segment(partition: Partition, segment: dict[str, int] | None) -> bool:
    """Segments split partitions by a stable hash of their values: every partition is
    in exactly one segment, whatever is added or removed between calls."""
    if segment is None:
        return True
    digest = zlib.crc32("\x1f".join(partition.values).encode())
    return digest % segment["TotalSegments"] == segment["SegmentNumber"]


def _check_segment(segment: dict[str, int] | None) -> None:
    if segment is not None and not 0 <= segment["SegmentNumber"] < segment["TotalSegments"]:
        raise InvalidInputError("Segment.SegmentNumber must be below Segment.TotalSegments")


def _partition_error(values: Sequence[str], error: ShoalError) -> Wire:
    return {"PartitionValues": list(values), "ErrorDetail": error_detail(error)}


@_operation("CreatePartition")
def create_partition(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """CreatePartition: one partition from PartitionInput."""
    db, table = params["DatabaseName"], params["TableName"]
    _store(ctx).create_partitions([partition_from_input(db, table, params["PartitionInput"])])
    return {}


@_operation("BatchCreatePartition")
def batch_create_partition(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """BatchCreatePartition: up to 100 partitions; each that fails is listed in Errors."""
    store, db, name = _store(ctx), params["DatabaseName"], params["TableName"]
    store.get_table(db, name)  # a missing table fails the whole call
    partitions, errors = [], []
    for data in params["PartitionInputList"]:
        try:
            partitions.append(partition_from_input(db, name, data))
        except InvalidInputError as error:
            errors.append(_partition_error(data.get("Values") or [], error))
    try:
        store.create_partitions(partitions)  # all at once: the common case, one transaction
    except (AlreadyExistsError, InvalidInputError):
        for partition in partitions:  # then one by one, to say which ones failed
            try:
                store.create_partitions([partition])
            except (AlreadyExistsError, InvalidInputError) as error:
                errors.append(_partition_error(partition.values, error))
    return {"Errors": errors}


@_operation("GetPartition")
def get_partition(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetPartition: one partition by its values."""
    partition = _store(ctx).get_partition(
        params["DatabaseName"], params["TableName"], params["PartitionValues"]
    )
    return {"Partition": partition_to_wire(partition, _account(ctx))}


@_operation("GetPartitions", refused=("TransactionId", "QueryAsOfTime"))
def get_partitions(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetPartitions: partitions matching Expression, in value order, in one Segment, paged."""
    store, db, name = _store(ctx), params["DatabaseName"], params["TableName"]
    segment = params.get("Segment")
    _check_segment(segment)
    table = store.get_table(db, name)
    found = store.list_partitions(db, name, params.get("Expression"))
    chosen = [p for p in found if _in_segment(p, segment)]
    ordering = _partition_ordering(table)
    page, token = paginate(chosen, ordering, "GetPartitions", params, PARTITION_PAGE)
    columns = not params.get("ExcludeColumnSchema", False)
    wires = [partition_to_wire(p, _account(ctx), columns=columns) for p in page]
    return _with_token({"Partitions": wires}, token)


@_operation("BatchGetPartition", refused=("QuerySessionContext",))
def batch_get_partition(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """BatchGetPartition: the partitions that exist among PartitionsToGet."""
    store, db, name = _store(ctx), params["DatabaseName"], params["TableName"]
    store.get_table(db, name)  # a missing table fails the whole call
    found = []
    wanted = dict.fromkeys(tuple(entry["Values"]) for entry in params["PartitionsToGet"])
    for values in wanted:
        try:
            found.append(store.get_partition(db, name, values))
        except EntityNotFoundError:
            continue  # Glue leaves missing partitions out of the answer
    wires = [partition_to_wire(p, _account(ctx)) for p in found]
    return {"Partitions": wires, "UnprocessedKeys": []}


@_operation("UpdatePartition")
def update_partition(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """UpdatePartition: replace a partition; new Values in PartitionInput move it."""
    store, db, name = _store(ctx), params["DatabaseName"], params["TableName"]
    old_values = tuple(params["PartitionValueList"])
    partition = partition_from_input(db, name, params["PartitionInput"], old_values)
    if partition.values == old_values:
        store.update_partition(partition)
        return {}
    store.get_partition(db, name, old_values)  # the one to move must exist
    store.create_partitions([partition])  # AlreadyExists leaves everything as it was
    store.delete_partitions(db, name, [old_values], missing_ok=True)
    return {}


@_operation("DeletePartition")
def delete_partition(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """DeletePartition: one partition by its values."""
    _store(ctx).delete_partitions(
        params["DatabaseName"], params["TableName"], [params["PartitionValues"]]
    )
    return {}


@_operation("BatchDeletePartition")
def batch_delete_partition(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """BatchDeletePartition: up to 25 partitions; the missing ones are listed in Errors."""
    store, db, name = _store(ctx), params["DatabaseName"], params["TableName"]
    store.get_table(db, name)
    existing, errors = [], []
    for entry in params["PartitionsToDelete"]:
        try:
            existing.append(store.get_partition(db, name, entry["Values"]).values)
        except (EntityNotFoundError, InvalidInputError) as error:
            errors.append(_partition_error(entry["Values"], error))
    store.delete_partitions(db, name, existing, missing_ok=True)
    return {"Errors": errors}


# --- crawlers ------------------------------------------------------------------------------


def _runs(store: CatalogStore, name: str) -> list[CrawlRun]:
    """A crawler's runs, newest first, without dry runs (Glue has none)."""
    return [r for r in store.list_runs(name, limit=RUN_HISTORY) if not r.dry_run]


def _crawler_wire(store: CatalogStore, crawler: Crawler) -> Wire:
    return crawler_to_wire(crawler, _runs(store, crawler.name), datetime.now(UTC))


@_operation("CreateCrawler")
def create_crawler(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """CreateCrawler: a crawler over S3 targets; Role is accepted and not used."""
    if not params.get("DatabaseName"):
        raise InvalidInputError("DatabaseName is required: the database the crawler writes to")
    base = Crawler(name=params["Name"], database=params["DatabaseName"], targets=())
    _store(ctx).create_crawler(crawler_from_input(params, base))
    return {}


@_operation("GetCrawler")
def get_crawler(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetCrawler: a crawler with its state and last crawl."""
    store = _store(ctx)
    return {"Crawler": _crawler_wire(store, store.get_crawler(params["Name"]))}


@_operation("GetCrawlers")
def get_crawlers(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetCrawlers: every crawler, paged."""
    store = _store(ctx)
    page, token = paginate(store.list_crawlers(), BY_NAME, "GetCrawlers", params, PARTITION_PAGE)
    return _with_token({"Crawlers": [_crawler_wire(store, c) for c in page]}, token)


@_operation("ListCrawlers")
def list_crawlers(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """ListCrawlers: crawler names, paged. shoal keeps no tags, so a Tags filter
    matches no crawler."""
    crawlers = [] if params.get("Tags") else _store(ctx).list_crawlers()
    page, token = paginate(crawlers, BY_NAME, "ListCrawlers", params, CATALOG_PAGE)
    return _with_token({"CrawlerNames": [c.name for c in page]}, token)


@_operation("UpdateCrawler")
def update_crawler(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """UpdateCrawler: change the fields named; CrawlerRunningException unless READY."""
    store = _store(ctx)
    current = store.get_crawler(params["Name"])
    store.update_crawler(crawler_from_input(params, current))
    return {}


@_operation("DeleteCrawler")
def delete_crawler(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """DeleteCrawler: a crawler and its run history; CrawlerRunningException unless READY."""
    _store(ctx).delete_crawler(params["Name"])
    return {}


@_operation("StartCrawler")
def start_crawler_op(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """StartCrawler: run a crawler in the background; CrawlerRunningException if running."""
    start_crawler(_store(ctx), ctx.app.storage, params["Name"])
    return {}


@_operation("StopCrawler")
def stop_crawler_op(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """StopCrawler: the run ends CANCELLED unless it is already writing the catalog."""
    stop_crawler(_store(ctx), params["Name"])
    return {}


@_operation("StartCrawlerSchedule")
def start_crawler_schedule(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """StartCrawlerSchedule: resume a paused schedule (``shoal serve`` fires it)."""
    store = _store(ctx)
    crawler = store.get_crawler(params["CrawlerName"])
    if not crawler.schedule:
        raise NoScheduleError(f"crawler {crawler.name!r} has no schedule")
    if not crawler.schedule_paused:
        raise SchedulerRunningError(f"the schedule of crawler {crawler.name!r} is running")
    store.set_crawler_schedule(crawler.name, crawler.schedule, paused=False)
    return {}


@_operation("StopCrawlerSchedule")
def stop_crawler_schedule(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """StopCrawlerSchedule: pause a schedule; a run in progress goes on."""
    store = _store(ctx)
    crawler = store.get_crawler(params["CrawlerName"])
    if not crawler.schedule or crawler.schedule_paused:
        raise SchedulerNotRunningError(f"the schedule of crawler {crawler.name!r} is not running")
    store.set_crawler_schedule(crawler.name, crawler.schedule, paused=True)
    return {}


@_operation("UpdateCrawlerSchedule")
def update_crawler_schedule(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """UpdateCrawlerSchedule: a new cron expression (empty removes the schedule); a
    paused schedule stays paused."""
    store = _store(ctx)
    crawler = store.get_crawler(params["CrawlerName"])
    schedule = params.get("Schedule") or None
    store.set_crawler_schedule(crawler.name, schedule, paused=crawler.schedule_paused)
    return {}


@_operation("GetCrawlerMetrics")
def get_crawler_metrics(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetCrawlerMetrics: runtimes and table counts from stored runs; unknown names are
    left out."""
    store = _store(ctx)
    crawlers = store.list_crawlers()
    if names := params.get("CrawlerNameList"):
        wanted = {n.lower() for n in names}  # crawler names are stored lowercase
        crawlers = [c for c in crawlers if c.name in wanted]
    page, token = paginate(crawlers, BY_NAME, "GetCrawlerMetrics", params, PARTITION_PAGE)
    now = datetime.now(UTC)
    metrics = [crawler_metrics_to_wire(c.name, _runs(store, c.name), now) for c in page]
    return _with_token({"CrawlerMetricsList": metrics}, token)


def _with_token(body: Wire, token: str | None) -> Wire:
    if token is not None:
        body["NextToken"] = token
    return body
