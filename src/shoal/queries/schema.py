"""Tables of the query service in the state database: executions, workgroups,
named queries and prepared statements.

They live on the catalog's one SQLAlchemy ``metadata``, so Alembic migrations and
the schema-drift test see every table of the state database. Nested values
(statistics, errors, workgroup configuration, result columns) are JSON.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Table, Text, false

from shoal.catalog.schema import NAME_LENGTH, UTCDateTime, metadata

__all__ = [
    "metadata",
    "named_queries",
    "prepared_statements",
    "query_executions",
    "workgroups",
]

ID_LENGTH = 36  # a UUID in text
WORKGROUP_LENGTH = 128

query_executions = Table(
    "query_executions",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("query", Text, nullable=False),
    Column("workgroup", String(WORKGROUP_LENGTH), nullable=False),
    Column("catalog", String(NAME_LENGTH), nullable=False),
    Column("database", String(NAME_LENGTH)),
    Column("state", String(16), nullable=False),
    Column("state_change_reason", Text),
    Column("statement_type", String(16)),
    Column("substatement_type", String(64)),
    Column("output_location", Text),
    Column("execution_parameters", JSON, nullable=False),
    Column("submission_time", UTCDateTime, nullable=False),
    Column("completion_time", UTCDateTime),
    Column("statistics", JSON, nullable=False),
    Column("athena_error", JSON),
    Column("update_count", BigInteger),
    Column("result_columns", JSON),  # ColumnInfo list, for paging after a restart
    Column("reuse_max_age_minutes", Integer),
    Column("reuse_key", String(64)),  # reuse.reuse_key of the request
    Column("reuse_fingerprint", JSON),  # tables read, as reuse.fingerprint saw them
    Column("client_request_token", String(128)),
    Column("request_hash", String(64)),
    Column("user_name", String(NAME_LENGTH)),
    Column("engine_version", String(64)),  # the workgroup's, when submitted (NULL: Athena 3)
    # Which live service runs it, and when it last said so: restart recovery.
    Column("owner", String(255)),
    Column("heartbeat_time", UTCDateTime),
    # Final, but its finished-listeners (the audit record …) have not all run yet.
    Column("listeners_pending", Boolean, nullable=False, server_default=false()),
    Index("ix_query_executions_workgroup_submission_time", "workgroup", "submission_time"),
    Index("ix_query_executions_state", "state"),
    Index("ix_query_executions_reuse_key", "reuse_key"),
    Index("ix_query_executions_client_request_token", "client_request_token", unique=True),
    Index("ix_query_executions_listeners_pending", "listeners_pending"),
)

workgroups = Table(
    "workgroups",
    metadata,
    Column("name", String(WORKGROUP_LENGTH), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("description", Text),
    Column("configuration", JSON, nullable=False),
    Column("creation_time", UTCDateTime, nullable=False),
)

named_queries = Table(
    "named_queries",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("description", Text),
    Column("database", String(NAME_LENGTH)),
    Column("query_string", Text, nullable=False),
    Column("workgroup", String(WORKGROUP_LENGTH), nullable=False),
    Column("create_time", UTCDateTime, nullable=False),
    Index("ix_named_queries_workgroup", "workgroup"),
)

prepared_statements = Table(
    "prepared_statements",
    metadata,
    Column("workgroup", String(WORKGROUP_LENGTH), primary_key=True),
    Column("statement_name", String(256), primary_key=True),
    Column("query_statement", Text, nullable=False),
    Column("description", Text),
    Column("last_modified_time", UTCDateTime, nullable=False),
)
