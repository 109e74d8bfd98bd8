"""The audit trail as a table: ``shoal_audit.cloudtrail``, partitioned by day (``dt``).

The table is defined here rather than crawled: the record shape is known, and a
crawler would guess types from whichever records it sampled. Its columns are
Athena's CloudTrail table (request and response elements as JSON text) plus
``additionaleventdata`` as a struct of shoal's own fields, so usage questions are
plain SQL::

    SELECT useridentity.username, dt, sum(additionaleventdata.bytesscanned)
    FROM shoal_audit.cloudtrail GROUP BY 1, 2

Each day's partition points at CloudTrail's ``YYYY/MM/DD/`` folder of that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from shoal.catalog.formats import DiscoveredFormat, format_parameters, storage_descriptor
from shoal.catalog.model import Column, Database, Partition, Table
from shoal.catalog.store import CatalogStore
from shoal.errors import AlreadyExistsError, ConcurrentModificationError, EntityNotFoundError

AUDIT_DATABASE = "shoal_audit"
AUDIT_TABLE = "cloudtrail"
_FORMAT = DiscoveredFormat("json", compression="gzip")

COLUMNS = (
    Column("eventversion", "string"),
    Column(
        "useridentity",
        "struct<type:string,principalid:string,arn:string,accountid:string,"
        "accesskeyid:string,username:string>",
    ),
    Column("eventtime", "string"),
    Column("eventsource", "string"),
    Column("eventname", "string"),
    Column("awsregion", "string"),
    Column("sourceipaddress", "string"),
    Column("useragent", "string"),
    Column("requestparameters", "string", "JSON text"),
    Column("responseelements", "string", "JSON text"),
    Column(
        "additionaleventdata",
        "struct<role:string,rolemapping:string,bytesscanned:bigint,queryexecutionid:string,"
        "enginetimems:bigint,workgroup:string,database:string,state:string,"
        "deniedaction:string,deniedresource:string,deniedtable:string>",
        "shoal: role, role mapping; for finished queries their id, bytes scanned, engine "
        "time, workgroup, database and final state; for refusals the action, resource "
        "and table refused",
    ),
    Column("errorcode", "string"),
    Column("errormessage", "string"),
    Column("requestid", "string"),
    Column("eventid", "string"),
    Column("readonly", "boolean"),
    Column("eventtype", "string"),
    Column("recipientaccountid", "string"),
)
PARTITION_KEYS = (Column("dt", "string", "event date, YYYY-MM-DD (UTC)"),)


def audit_table(location: str) -> Table:
    """The definition of the audit table whose log files live under ``location``."""
    return Table(
        database=AUDIT_DATABASE,
        name=AUDIT_TABLE,
        storage=storage_descriptor(_FORMAT, location, COLUMNS),
        partition_keys=PARTITION_KEYS,
        parameters={**format_parameters(_FORMAT), "shoal.system": "audit"},
        description="shoal's audit trail: one CloudTrail record per API request.",
    )


def ensure_audit_table(catalog: CatalogStore, location: str) -> None:
    """Create the audit database and table unless they exist (a racing creator wins)."""
    try:
        catalog.get_database(AUDIT_DATABASE)
    except EntityNotFoundError:
        try:
            catalog.create_database(
                Database(AUDIT_DATABASE, description="shoal's audit trail (system database).")
            )
        except AlreadyExistsError:
            pass
    try:
        table = catalog.get_table(AUDIT_DATABASE, AUDIT_TABLE)
    except EntityNotFoundError:
        try:
            catalog.create_table(audit_table(location))
        except AlreadyExistsError:
            pass
        return
    if table.columns != COLUMNS:  # a trail catalogued by an older shoal: widen it
        storage = replace(table.storage, columns=COLUMNS)
        try:
            catalog.update_table(replace(table, storage=storage), table.version_id)
        except ConcurrentModificationError:
            pass  # another process updated it first


def add_day_partitions(catalog: CatalogStore, days: Iterable[tuple[str, str]]) -> None:
    """Register ``(dt, location)`` partitions of the audit table that are missing."""
    table = catalog.get_table(AUDIT_DATABASE, AUDIT_TABLE)
    existing = {p.values for p in catalog.list_partitions(AUDIT_DATABASE, AUDIT_TABLE)}
    for day, location in sorted(set(days)):
        if (day,) in existing:
            continue
        partition = Partition(
            AUDIT_DATABASE,
            AUDIT_TABLE,
            (day,),
            storage_descriptor(_FORMAT, location, table.columns),
            parameters=format_parameters(_FORMAT),
        )
        try:
            catalog.create_partitions([partition])
        except AlreadyExistsError:
            pass  # another process registered it first
