"""The query service's values: executions, their statistics, workgroups, named
queries and prepared statements, as Athena models them.

Plain frozen dataclasses whose field names are Athena's in snake_case
(``QueryExecutionStatistics.DataScannedInBytes`` -> ``data_scanned_in_bytes``), so the
API layer maps them one to one. The store persists them; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# QueryExecutionState
QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
ACTIVE_STATES = (QUEUED, RUNNING)
FINISHED_STATES = (SUCCEEDED, FAILED, CANCELLED)

# What a RUNNING execution is doing (QueryService.phase, QueryService.on_phase), in
# order: PLANNING, then the engine's EXECUTING and FETCHING (shoal.engine.base), for
# CTAS, INSERT and UNLOAD WRITING_DATA, then WRITING its result files. Not part of
# Athena's API: shoal's own view of a run.
PLANNING = "planning"
WRITING_DATA = "writing data"
WRITING = "writing results"

# WorkGroupState
ENABLED = "ENABLED"
DISABLED = "DISABLED"

# AthenaError.ErrorCategory
ERROR_SYSTEM = 1
ERROR_USER = 2
ERROR_OTHER = 3

# AthenaError.ErrorType, from Athena's error catalog.
ERROR_TYPE_INTERNAL = 100
ERROR_TYPE_TIMEOUT = 206
ERROR_TYPE_RESULT_WRITE = 401
ERROR_TYPE_USER = 1000

PRIMARY = "primary"
ENGINE_VERSION = "Athena engine version 3"
AUTO_ENGINE_VERSION = "AUTO"
# Athena's name for its Spark-enabled workgroups: a workgroup selecting it runs its
# queries on Apache Spark (through Spark Connect); "Athena engine version 3" on DuckDB;
# AUTO on DuckDB, or on Spark when a query is estimated big enough (queries/routing.py).
SPARK_ENGINE_VERSION = "PySpark engine version 3"
ENGINE_VERSIONS = (AUTO_ENGINE_VERSION, ENGINE_VERSION, SPARK_ENGINE_VERSION)
# The engines a workgroup can be pinned to, by the name ``Shoal.engine_for`` knows, and
# AUTO: the engine chosen per query once it is planned (``StatementTools.route``).
DUCKDB = "duckdb"
SPARK = "spark"
AUTO = "auto"
ENGINE_VERSIONS_BY_ENGINE = {
    DUCKDB: ENGINE_VERSION,
    SPARK: SPARK_ENGINE_VERSION,
    AUTO: AUTO_ENGINE_VERSION,
}
# ``SparkEngine.name``: an AUTO query recorded as run by it reports Spark's version.
SPARK_ENGINE_NAME = "Spark"
# Athena's lower bound for BytesScannedCutoffPerQuery (10 MB).
MIN_BYTES_SCANNED_CUTOFF = 10_000_000

RESTARTED_REASON = "shoal restarted while the query was running"
CUTOFF_REASON = "Query cancelled! Bytes scanned limit was exceeded"


@dataclass(frozen=True)
class Refusal:
    """What authorization refused a statement: the check that failed, the role it was
    judged as and the mapping that chose it, and the table (``db.table``) involved."""

    action: str
    resource: str
    role: str | None = None
    role_mapping: str | None = None
    table: str | None = None


@dataclass(frozen=True)
class AthenaError:
    """Why an execution FAILED: Athena's category (1 system, 2 user, 3 other) and type.

    ``error_code`` (the error's code, ``InvalidRequestException`` …) and ``refusal``
    (set when authorization refused the statement) are shoal's, for the audit record;
    Athena's API shows neither.
    """

    error_category: int
    error_type: int
    retryable: bool
    error_message: str
    error_code: str | None = None
    refusal: Refusal | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AthenaError:
        """The inverse of ``dataclasses.asdict`` (how the store keeps it)."""
        refusal = data.get("refusal")
        return cls(**{**data, "refusal": Refusal(**refusal) if refusal else None})


@dataclass(frozen=True)
class QueryStatistics:
    """Athena's ``QueryExecutionStatistics``; times in milliseconds, all measured."""

    engine_execution_time_in_millis: int = 0
    data_scanned_in_bytes: int = 0
    total_execution_time_in_millis: int = 0
    query_queue_time_in_millis: int = 0
    query_planning_time_in_millis: int = 0
    service_pre_processing_time_in_millis: int = 0
    service_processing_time_in_millis: int = 0
    data_manifest_location: str | None = None
    reused_previous_result: bool = False
    # shoal's: the engine that ran the statement's query (its ``Engine.name``); None when
    # none did (DDL, SHOW, a reused result). Athena's API shows it as the execution's
    # EffectiveEngineVersion (``execution_engine_version``).
    engine: str | None = None


@dataclass(frozen=True)
class QueryExecution:
    """One query execution (Athena's ``QueryExecution``).

    ``output_location`` is the full path of the result file (``…/<id>.csv`` or
    ``…/<id>.txt``), known from submission on. ``result_reuse_max_age_minutes`` is
    None when the request did not ask for result reuse.
    """

    query_execution_id: str
    query: str
    workgroup: str
    state: str
    submission_date_time: datetime
    database: str | None = None
    catalog: str = "AwsDataCatalog"
    statement_type: str | None = None
    substatement_type: str | None = None
    output_location: str | None = None
    execution_parameters: tuple[str, ...] = ()
    state_change_reason: str | None = None
    completion_date_time: datetime | None = None
    athena_error: AthenaError | None = None
    statistics: QueryStatistics = field(default_factory=QueryStatistics)
    result_reuse_max_age_minutes: int | None = None
    update_count: int | None = None
    engine_version: str = ENGINE_VERSION
    user: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


@dataclass(frozen=True)
class WorkGroupConfiguration:
    """Athena's ``WorkGroupConfiguration`` (the fields shoal honours)."""

    output_location: str | None = None
    enforce_work_group_configuration: bool = False
    bytes_scanned_cutoff_per_query: int | None = None
    publish_cloud_watch_metrics_enabled: bool = False
    requester_pays_enabled: bool = False
    selected_engine_version: str = ENGINE_VERSION

    @property
    def effective_engine_version(self) -> str:
        return effective_engine_version(self.selected_engine_version)

    @property
    def engine(self) -> str:
        """The engine this workgroup's queries run on: ``SPARK``, ``DUCKDB`` or ``AUTO``."""
        return engine_of(self.selected_engine_version)


def engine_of(engine_version: str) -> str:
    """The engine a selected EngineVersion runs queries on: Spark for Athena's
    "PySpark engine version 3", ``AUTO`` (chosen per query) for "AUTO", the embedded
    DuckDB for "Athena engine version 3"."""
    return {SPARK_ENGINE_VERSION: SPARK, AUTO_ENGINE_VERSION: AUTO}.get(engine_version, DUCKDB)


def effective_engine_version(selected: str) -> str:
    """The EffectiveEngineVersion Athena reports for a workgroup selecting ``selected``
    (AUTO: Athena engine version 3, the engine a query runs on unless it is big)."""
    return SPARK_ENGINE_VERSION if engine_of(selected) == SPARK else ENGINE_VERSION


def execution_engine_version(execution: QueryExecution) -> str:
    """The EffectiveEngineVersion of one execution: its workgroup's choice, except that
    an AUTO query reports the version of the engine that ran it, as Athena's AUTO
    reports the version it chose."""
    if engine_of(execution.engine_version) == AUTO:
        if execution.statistics.engine == SPARK_ENGINE_NAME:
            return SPARK_ENGINE_VERSION
    return effective_engine_version(execution.engine_version)


@dataclass(frozen=True)
class WorkGroup:
    """A workgroup: where its results go, its limits, and whether it takes queries."""

    name: str
    state: str = ENABLED
    description: str | None = None
    configuration: WorkGroupConfiguration = field(default_factory=WorkGroupConfiguration)
    creation_time: datetime | None = None


@dataclass(frozen=True)
class NamedQuery:
    """A saved query (Athena's ``NamedQuery``)."""

    named_query_id: str
    name: str
    query_string: str
    database: str | None = None
    description: str | None = None
    workgroup: str = PRIMARY


@dataclass(frozen=True)
class PreparedStatement:
    """A statement with ``?`` parameters, run with ``EXECUTE name USING …``."""

    statement_name: str
    query_statement: str
    workgroup_name: str = PRIMARY
    description: str | None = None
    last_modified_time: datetime | None = None


@dataclass(frozen=True)
class ColumnInfo:
    """Athena's ``ColumnInfo``: base type name, Precision/Scale always set."""

    name: str
    type: str
    precision: int = 0
    scale: int = 0
    catalog_name: str = "hive"
    schema_name: str = ""
    table_name: str = ""
    nullable: str = "UNKNOWN"
    case_sensitive: bool = False

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class ResultSet:
    """One page of results: column info and rows of VarCharValue strings (None = NULL).

    ``next_token`` is None on the last page.
    """

    columns: tuple[ColumnInfo, ...]
    rows: tuple[tuple[str | None, ...], ...]
    next_token: str | None = None
    update_count: int | None = None
