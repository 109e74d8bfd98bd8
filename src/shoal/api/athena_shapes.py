"""Athena's wire shapes and the query service's dataclasses, both ways; page tokens.

Inputs arrive already validated against the botocore model, so these functions only
decide meaning: what maps onto the query service, and what shoal refuses because it
cannot honour it. Those refusals raise ``InvalidRequestError`` naming the field.

Decisions about result encryption and ownership, which clients send often:

* ``EncryptionConfiguration`` ``SSE_S3`` is accepted and changes nothing: S3 has
  encrypted every object with SSE-S3 by default since 2023, readers never notice it,
  and at-rest encryption of shoal's storage belongs to its disks or its S3-compatible
  backend. ``SSE_KMS`` and ``CSE_KMS`` are refused: shoal has no KMS, and a caller
  asking for its own key must not get results written without it.
* ``ExpectedBucketOwner`` must be the server's account, which owns every bucket.
* ``AclConfiguration`` ``BUCKET_OWNER_FULL_CONTROL`` is accepted: the writer is the
  bucket owner already.

Outputs carry every field real clients read by key (``EnforceWorkGroupConfiguration``,
``ColumnInfo.Precision``, ``Statistics.DataManifestLocation`` …).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from shoal.api.glue_shapes import given
from shoal.api.json_protocol import WireList
from shoal.catalog.model import Column, Database, Table
from shoal.errors import InvalidRequestError
from shoal.queries.model import (
    AUTO_ENGINE_VERSION,
    ENGINE_VERSIONS,
    ColumnInfo,
    NamedQuery,
    PreparedStatement,
    QueryExecution,
    ResultSet,
    WorkGroup,
    WorkGroupConfiguration,
    execution_engine_version,
)

Wire = dict[str, Any]

DATA_CATALOG = "AwsDataCatalog"
DEFAULT_REUSE_MINUTES = 60  # Athena's MaxAgeInMinutes when reuse is enabled without one

# WorkGroupConfiguration members shoal cannot honour (Spark, KMS, Identity Center …).
_CONFIGURATION_REFUSED = (
    "ManagedQueryResultsConfiguration",
    "AdditionalConfiguration",
    "ExecutionRole",
    "MonitoringConfiguration",
    "EngineConfiguration",
    "CustomerContentEncryptionConfiguration",
    "EnableMinimumEncryptionConfiguration",
    "IdentityCenterConfiguration",
    "QueryResultsS3AccessGrantsConfiguration",
    "SystemTableStatuses",
)
_UPDATES_REFUSED = (
    "ManagedQueryResultsConfigurationUpdates",
    "AdditionalConfiguration",
    "ExecutionRole",
    "MonitoringConfiguration",
    "EngineConfiguration",
    "CustomerContentEncryptionConfiguration",
    "RemoveCustomerContentEncryptionConfiguration",
    "EnableMinimumEncryptionConfiguration",
    "QueryResultsS3AccessGrantsConfiguration",
)


# --- refusing what shoal cannot honour ------------------------------------------------------


def refuse(params: Mapping[str, Any], fields: Iterable[str], where: str) -> None:
    """Raise InvalidRequestError naming the first of ``fields`` that ``params`` sets."""
    for name in fields:
        if given(params.get(name)):
            raise InvalidRequestError(f"{where}.{name} is not supported by shoal")


def check_catalog(name: str | None) -> str:
    """``AwsDataCatalog`` (any case) when ``name`` is it or absent; else refuse."""
    if name is None or name.lower() == DATA_CATALOG.lower():
        return DATA_CATALOG
    raise InvalidRequestError(f"Catalog {name} was not found: shoal has only {DATA_CATALOG}")


def _check_encryption(config: Mapping[str, Any] | None, where: str) -> None:
    if config and config["EncryptionOption"] != "SSE_S3":
        raise InvalidRequestError(
            f"{where}.EncryptionConfiguration: {config['EncryptionOption']} is not supported "
            "(shoal has no KMS); use SSE_S3 or leave it out"
        )


def _check_owner(owner: str | None, account_id: str, where: str) -> None:
    if owner is not None and owner != account_id:
        raise InvalidRequestError(
            f"{where}.ExpectedBucketOwner {owner} does not own the bucket: every bucket "
            f"on this server belongs to account {account_id}"
        )


def output_location(config: Mapping[str, Any] | None, account_id: str) -> str | None:
    """The OutputLocation of a ``ResultConfiguration``, after checking its other
    members (see the module docstring)."""
    if not config:
        return None
    _check_encryption(config.get("EncryptionConfiguration"), "ResultConfiguration")
    _check_owner(config.get("ExpectedBucketOwner"), account_id, "ResultConfiguration")
    location: str | None = config.get("OutputLocation")
    return location


def reuse_minutes(config: Mapping[str, Any] | None) -> int | None:
    """MaxAgeInMinutes of an enabled ``ResultReuseConfiguration``; None when off."""
    by_age = (config or {}).get("ResultReuseByAgeConfiguration") or {}
    if not by_age.get("Enabled"):
        return None
    minutes: int = by_age.get("MaxAgeInMinutes", DEFAULT_REUSE_MINUTES)
    return minutes


# --- query executions ------------------------------------------------------------------------


def execution_to_wire(execution: QueryExecution) -> Wire:
    """Athena's ``QueryExecution``."""
    wire: Wire = {
        "QueryExecutionId": execution.query_execution_id,
        "Query": execution.query,
        "StatementType": execution.statement_type,
        "ResultConfiguration": _result_configuration(execution.output_location),
        "ResultReuseConfiguration": _reuse_to_wire(execution.result_reuse_max_age_minutes),
        "QueryExecutionContext": {"Database": execution.database, "Catalog": execution.catalog},
        "Status": _status_to_wire(execution),
        "Statistics": _statistics_to_wire(execution),
        "WorkGroup": execution.workgroup,
        "EngineVersion": {
            "SelectedEngineVersion": execution.engine_version,
            "EffectiveEngineVersion": execution_engine_version(execution),
        },
        "SubstatementType": execution.substatement_type,
    }
    if execution.execution_parameters:
        wire["ExecutionParameters"] = list(execution.execution_parameters)
    return wire


def _result_configuration(location: str | None) -> Wire:
    return {"OutputLocation": location} if location else {}


def _reuse_to_wire(minutes: int | None) -> Wire:
    by_age: Wire = {"Enabled": minutes is not None}
    if minutes is not None:
        by_age["MaxAgeInMinutes"] = minutes
    return {"ResultReuseByAgeConfiguration": by_age}


def _status_to_wire(execution: QueryExecution) -> Wire:
    status: Wire = {
        "State": execution.state,
        "StateChangeReason": execution.state_change_reason,
        "SubmissionDateTime": execution.submission_date_time,
        "CompletionDateTime": execution.completion_date_time,
    }
    if error := execution.athena_error:
        status["AthenaError"] = {
            "ErrorCategory": error.error_category,
            "ErrorType": error.error_type,
            "Retryable": error.retryable,
            "ErrorMessage": error.error_message,
        }
    return status


def _statistics_to_wire(execution: QueryExecution) -> Wire:
    stats = execution.statistics
    return {
        "EngineExecutionTimeInMillis": stats.engine_execution_time_in_millis,
        "DataScannedInBytes": stats.data_scanned_in_bytes,
        "DataManifestLocation": stats.data_manifest_location,
        "TotalExecutionTimeInMillis": stats.total_execution_time_in_millis,
        "QueryQueueTimeInMillis": stats.query_queue_time_in_millis,
        "ServicePreProcessingTimeInMillis": stats.service_pre_processing_time_in_millis,
        "QueryPlanningTimeInMillis": stats.query_planning_time_in_millis,
        "ServiceProcessingTimeInMillis": stats.service_processing_time_in_millis,
        "ResultReuseInformation": {"ReusedPreviousResult": stats.reused_previous_result},
    }


def result_set_to_wire(result: ResultSet) -> Wire:
    """GetQueryResults' answer: rows of Datums (NULL is a Datum without VarCharValue)."""
    rows = WireList(
        {"Data": [{} if value is None else {"VarCharValue": value} for value in row]}
        for row in result.rows
    )
    wire: Wire = {
        "UpdateCount": result.update_count or 0,
        "ResultSet": {
            "Rows": rows,
            "ResultSetMetadata": {"ColumnInfo": [_column_info(c) for c in result.columns]},
        },
    }
    if result.next_token is not None:
        wire["NextToken"] = result.next_token
    return wire


def _column_info(column: ColumnInfo) -> Wire:
    return {
        "CatalogName": column.catalog_name,
        "SchemaName": column.schema_name,
        "TableName": column.table_name,
        "Name": column.name,
        "Label": column.label,
        "Type": column.type,
        "Precision": column.precision,
        "Scale": column.scale,
        "Nullable": column.nullable,
        "CaseSensitive": column.case_sensitive,
    }


# --- work groups -----------------------------------------------------------------------------


def _engine_version(data: Mapping[str, Any] | None, current: str) -> str:
    selected = (data or {}).get("SelectedEngineVersion") or current
    if selected not in ENGINE_VERSIONS:
        raise InvalidRequestError(
            f"EngineVersion {selected!r} is not available: use {' or '.join(ENGINE_VERSIONS)}"
        )
    return str(selected)


def configuration_from_input(
    data: Mapping[str, Any] | None, account_id: str
) -> WorkGroupConfiguration:
    """A ``WorkGroupConfiguration`` from CreateWorkGroup's ``Configuration``.

    EnforceWorkGroupConfiguration defaults to true, as Athena's does.
    """
    data = data or {}
    refuse(data, _CONFIGURATION_REFUSED, "Configuration")
    results = data.get("ResultConfiguration")
    return WorkGroupConfiguration(
        output_location=output_location(results, account_id),
        enforce_work_group_configuration=data.get("EnforceWorkGroupConfiguration", True),
        bytes_scanned_cutoff_per_query=data.get("BytesScannedCutoffPerQuery"),
        publish_cloud_watch_metrics_enabled=data.get("PublishCloudWatchMetricsEnabled", False),
        requester_pays_enabled=data.get("RequesterPaysEnabled", False),
        selected_engine_version=_engine_version(data.get("EngineVersion"), AUTO_ENGINE_VERSION),
    )


def apply_configuration_updates(
    current: WorkGroupConfiguration, updates: Mapping[str, Any], account_id: str
) -> WorkGroupConfiguration:
    """``current`` with UpdateWorkGroup's ``ConfigurationUpdates`` applied."""
    refuse(updates, _UPDATES_REFUSED, "ConfigurationUpdates")
    changes: dict[str, Any] = {}
    for wire_name, field_name in (
        ("EnforceWorkGroupConfiguration", "enforce_work_group_configuration"),
        ("PublishCloudWatchMetricsEnabled", "publish_cloud_watch_metrics_enabled"),
        ("RequesterPaysEnabled", "requester_pays_enabled"),
        ("BytesScannedCutoffPerQuery", "bytes_scanned_cutoff_per_query"),
    ):
        if wire_name in updates:
            changes[field_name] = updates[wire_name]
    if updates.get("RemoveBytesScannedCutoffPerQuery"):
        if "BytesScannedCutoffPerQuery" in updates:
            raise InvalidRequestError(
                "ConfigurationUpdates sets and removes BytesScannedCutoffPerQuery at once"
            )
        changes["bytes_scanned_cutoff_per_query"] = None
    if "EngineVersion" in updates:
        changes["selected_engine_version"] = _engine_version(
            updates["EngineVersion"], current.selected_engine_version
        )
    if results := updates.get("ResultConfigurationUpdates"):
        changes["output_location"] = _updated_location(current.output_location, results, account_id)
    return replace(current, **changes)


def _updated_location(
    current: str | None, updates: Mapping[str, Any], account_id: str
) -> str | None:
    where = "ConfigurationUpdates.ResultConfigurationUpdates"
    _check_encryption(updates.get("EncryptionConfiguration"), where)
    _check_owner(updates.get("ExpectedBucketOwner"), account_id, where)
    location = updates.get("OutputLocation")
    if updates.get("RemoveOutputLocation"):
        if location is not None:
            raise InvalidRequestError(f"{where} sets and removes OutputLocation at once")
        return None
    return location if location is not None else current


def workgroup_to_wire(workgroup: WorkGroup) -> Wire:
    """Athena's ``WorkGroup``; Configuration always has EnforceWorkGroupConfiguration
    (awswrangler reads it by key)."""
    config = workgroup.configuration
    return {
        "Name": workgroup.name,
        "State": workgroup.state,
        "Description": workgroup.description,
        "CreationTime": workgroup.creation_time,
        "Configuration": {
            "ResultConfiguration": _result_configuration(config.output_location),
            "EnforceWorkGroupConfiguration": config.enforce_work_group_configuration,
            "PublishCloudWatchMetricsEnabled": config.publish_cloud_watch_metrics_enabled,
            "BytesScannedCutoffPerQuery": config.bytes_scanned_cutoff_per_query,
            "RequesterPaysEnabled": config.requester_pays_enabled,
            "EngineVersion": _engine_to_wire(config),
        },
    }


def _engine_to_wire(config: WorkGroupConfiguration) -> Wire:
    return {
        "SelectedEngineVersion": config.selected_engine_version,
        "EffectiveEngineVersion": config.effective_engine_version,
    }


def workgroup_summary(workgroup: WorkGroup) -> Wire:
    """Athena's ``WorkGroupSummary`` (ListWorkGroups)."""
    return {
        "Name": workgroup.name,
        "State": workgroup.state,
        "Description": workgroup.description,
        "CreationTime": workgroup.creation_time,
        "EngineVersion": _engine_to_wire(workgroup.configuration),
    }


# --- named queries and prepared statements ---------------------------------------------------


def named_query_to_wire(query: NamedQuery) -> Wire:
    """Athena's ``NamedQuery`` (Database is required on the wire; ``default`` if unset)."""
    return {
        "Name": query.name,
        "Description": query.description or None,
        "Database": query.database or "default",
        "QueryString": query.query_string,
        "NamedQueryId": query.named_query_id,
        "WorkGroup": query.workgroup,
    }


def prepared_statement_to_wire(statement: PreparedStatement) -> Wire:
    """Athena's ``PreparedStatement``."""
    return {
        "StatementName": statement.statement_name,
        "QueryStatement": statement.query_statement,
        "WorkGroupName": statement.workgroup_name,
        "Description": statement.description or None,
        "LastModifiedTime": statement.last_modified_time,
    }


def unprocessed(key: str, name: str, code: str, message: str) -> Wire:
    """One entry of a batch call's Unprocessed… list."""
    return {key: name, "ErrorCode": code, "ErrorMessage": message}


# --- data catalog metadata -------------------------------------------------------------------


def data_catalog_to_wire(account_id: str) -> Wire:
    """The one ``DataCatalog``: the Glue catalog of the server's account."""
    return {
        "Name": DATA_CATALOG,
        "Description": "The shoal catalog (AWS Glue Data Catalog API)",
        "Type": "GLUE",
        "Parameters": {"catalog-id": account_id},
    }


def database_to_wire(database: Database) -> Wire:
    """Athena's ``Database``."""
    return {
        "Name": database.name,
        "Description": database.description or None,
        "Parameters": dict(database.parameters),
    }


def _column_to_wire(column: Column) -> Wire:
    return {"Name": column.name, "Type": column.type, "Comment": column.comment}


def table_metadata_to_wire(table: Table) -> Wire:
    """Athena's ``TableMetadata``. Parameters hold the table's own plus its storage
    (``location``, ``inputformat``, ``outputformat``, ``serde.*``) and its description
    as ``comment``, as Athena's do."""
    storage = table.storage
    parameters = {
        "comment": table.description,
        "location": storage.location or None,
        "inputformat": storage.input_format,
        "outputformat": storage.output_format,
        "serde.serialization.lib": storage.serde.serialization_library,
    }
    parameters.update({f"serde.param.{k}": v for k, v in storage.serde.parameters.items()})
    parameters.update(table.parameters)
    return {
        "Name": table.name,
        "CreateTime": table.create_time,
        "TableType": table.table_type,
        "Columns": [_column_to_wire(c) for c in storage.columns],
        "PartitionKeys": [_column_to_wire(c) for c in table.partition_keys],
        "Parameters": {k: v for k, v in parameters.items() if v is not None},
    }


# --- page tokens over the query service's own -------------------------------------------------


def fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    """A short hash of what a listing was asked for, kept in its page tokens."""
    text = json.dumps([operation, dict(request)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def wrap_token(inner: str | None, request: str) -> str | None:
    """A service page token bound to ``request`` (a fingerprint)."""
    if inner is None:
        return None
    raw = json.dumps({"t": inner, "r": request}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def unwrap_token(token: str | None, request: str) -> str | None:
    """The service token inside ``token``; refused when it belongs to another request."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        inner, owner = data["t"], data["r"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError):
        raise InvalidRequestError("invalid NextToken") from None
    if owner != request or not isinstance(inner, str):
        raise InvalidRequestError("NextToken belongs to a different request")
    return inner
