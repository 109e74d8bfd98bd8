"""The audit trail as a table: ``shoal_audit.cloudtrail``, declared as AWS documents a
CloudTrail table for Athena ("Create a table for CloudTrail logs in Athena using
manual partitioning").

The table is what AWS's documented DDL creates, run over shoal's own trail::

    CREATE EXTERNAL TABLE cloudtrail (eventversion STRING, useridentity STRUCT<…>, …)
    PARTITIONED BY (region string, year string, month string, day string)
    ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
    STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
    OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
    LOCATION 's3://BUCKET/AWSLogs/ACCOUNT/'

and each day the trail delivers is the partition the documented ``ALTER TABLE ADD
PARTITION (region=…, year=…, month=…, day=…) LOCATION '…/CloudTrail/REGION/YYYY/
MM/DD/'`` adds. So queries written for CloudTrail work unchanged: request
parameters, additional event data and service event details are JSON text, read
with ``json_extract_scalar``. Usage per user is::

    SELECT useridentity.username, count(*),
           sum(CAST(json_extract_scalar(serviceeventdetails, '$.dataScannedInBytes')
                    AS bigint))
    FROM shoal_audit.cloudtrail
    WHERE eventsource = 'athena.amazonaws.com' AND eventname = 'QueryExecutionCompleted'
    GROUP BY 1

The table is defined here rather than crawled: the record shape is known, and a
crawler would guess types from whichever records it sampled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from shoal.catalog.formats import TEXT_OUTPUT
from shoal.catalog.model import (
    TABLE_TYPE_EXTERNAL,
    Column,
    Database,
    Partition,
    SerDeInfo,
    StorageDescriptor,
    Table,
)
from shoal.catalog.store import CatalogStore
from shoal.catalog.types import parse_type
from shoal.errors import AlreadyExistsError, ConcurrentModificationError, EntityNotFoundError

AUDIT_DATABASE = "shoal_audit"
AUDIT_TABLE = "cloudtrail"
# The SerDe and input format of AWS's documented CloudTrail table.
CLOUDTRAIL_SERDE = "org.apache.hive.hcatalog.data.JsonSerDe"
CLOUDTRAIL_INPUT = "com.amazon.emr.cloudtrail.CloudTrailInputFormat"

_IDENTITY = """struct<type:string,principalid:string,arn:string,accountid:string,
invokedby:string,accesskeyid:string,username:string,
onbehalfof:struct<userid:string,identitystorearn:string>,
sessioncontext:struct<attributes:struct<mfaauthenticated:string,creationdate:string>,
sessionissuer:struct<type:string,principalid:string,arn:string,accountid:string,username:string>,
ec2roledelivery:string,
webidfederationdata:struct<federatedprovider:string,attributes:map<string,string>>>>"""

# (name, type) in the order of AWS's documented DDL.
_DOCUMENTED = (
    ("eventversion", "string"),
    ("useridentity", _IDENTITY),
    ("eventtime", "string"),
    ("eventsource", "string"),
    ("eventname", "string"),
    ("awsregion", "string"),
    ("sourceipaddress", "string"),
    ("useragent", "string"),
    ("errorcode", "string"),
    ("errormessage", "string"),
    ("requestparameters", "string"),
    ("responseelements", "string"),
    ("additionaleventdata", "string"),
    ("requestid", "string"),
    ("eventid", "string"),
    ("resources", "array<struct<arn:string,accountid:string,type:string>>"),
    ("eventtype", "string"),
    ("apiversion", "string"),
    ("readonly", "string"),
    ("recipientaccountid", "string"),
    ("serviceeventdetails", "string"),
    ("sharedeventid", "string"),
    ("vpcendpointid", "string"),
    ("vpcendpointaccountid", "string"),
    ("eventcategory", "string"),
    (
        "addendum",
        "struct<reason:string,updatedfields:string,originalrequestid:string,originaleventid:string>",
    ),
    ("sessioncredentialfromconsole", "string"),
    ("edgedevicedetails", "string"),
    ("tlsdetails", "struct<tlsversion:string,ciphersuite:string,clientprovidedhostheader:string>"),
)
COLUMNS = tuple(Column(name, str(parse_type(kind.replace("\n", "")))) for name, kind in _DOCUMENTED)
PARTITION_KEYS = tuple(Column(name, "string") for name in ("region", "year", "month", "day"))


def audit_storage(location: str, columns: tuple[Column, ...] = COLUMNS) -> StorageDescriptor:
    """The storage of the audit table (or one of its partitions) at ``location``."""
    return StorageDescriptor(
        location=location,
        columns=columns,
        input_format=CLOUDTRAIL_INPUT,
        output_format=TEXT_OUTPUT,
        serde=SerDeInfo(CLOUDTRAIL_SERDE, {}),
    )


def audit_table(location: str) -> Table:
    """The definition of the audit table whose account folder is ``location``
    (``s3://BUCKET/AWSLogs/ACCOUNT/``)."""
    return Table(
        database=AUDIT_DATABASE,
        name=AUDIT_TABLE,
        storage=audit_storage(location.rstrip("/")),
        partition_keys=PARTITION_KEYS,
        table_type=TABLE_TYPE_EXTERNAL,
        parameters={"EXTERNAL": "TRUE", "shoal.system": "audit"},
        description="shoal's audit trail: CloudTrail log files, one record per request.",
    )


def ensure_audit_table(catalog: CatalogStore, location: str) -> None:
    """Create the audit database and table unless they exist (a racing creator wins);
    a table an older shoal declared is replaced by the documented one."""
    try:
        catalog.get_database(AUDIT_DATABASE)
    except EntityNotFoundError:
        try:
            catalog.create_database(
                Database(AUDIT_DATABASE, description="shoal's audit trail (system database).")
            )
        except AlreadyExistsError:
            pass
    wanted = audit_table(location)
    try:
        table = catalog.get_table(AUDIT_DATABASE, AUDIT_TABLE)
    except EntityNotFoundError:
        try:
            catalog.create_table(wanted)
        except AlreadyExistsError:
            pass
        return
    if table.partition_keys != PARTITION_KEYS:
        _replace_legacy_table(catalog, wanted)
    elif table.storage != wanted.storage:
        try:
            catalog.update_table(replace(table, storage=wanted.storage), table.version_id)
        except ConcurrentModificationError:
            pass  # another process updated it first


def _replace_legacy_table(catalog: CatalogStore, wanted: Table) -> None:
    """The table of shoal's JSON-lines trail (partitioned by ``dt``) cannot describe
    CloudTrail's files: drop it and its partitions, declare the documented one."""
    try:
        catalog.delete_table(AUDIT_DATABASE, AUDIT_TABLE)
    except EntityNotFoundError:
        pass
    try:
        catalog.create_table(wanted)
    except AlreadyExistsError:
        pass


def day_values(region: str, day: str) -> tuple[str, str, str, str]:
    """The partition values of event day ``YYYY-MM-DD`` in ``region``."""
    year, month, date = day.split("-")
    return region, year, month, date


def add_day_partitions(catalog: CatalogStore, days: Iterable[tuple[str, str, str]]) -> None:
    """Register ``(region, YYYY-MM-DD, location)`` partitions of the audit table that
    are missing, as the documented ``ALTER TABLE ADD PARTITION`` does."""
    table = catalog.get_table(AUDIT_DATABASE, AUDIT_TABLE)
    existing = {p.values for p in catalog.list_partitions(AUDIT_DATABASE, AUDIT_TABLE)}
    for region, day, location in sorted(set(days)):
        values = day_values(region, day)
        if values in existing:
            continue
        partition = Partition(
            AUDIT_DATABASE,
            AUDIT_TABLE,
            values,
            audit_storage(location, table.columns),
        )
        try:
            catalog.create_partitions([partition])
        except AlreadyExistsError:
            pass  # another process registered it first
