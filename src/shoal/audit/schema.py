"""Tables of usage metering and quotas in the state database.

They live on the catalog's one SQLAlchemy ``metadata``, so Alembic migrations and
the schema-drift test see them. Usage itself has no table: it is computed from
``query_executions`` (the one record of what each query scanned), so the metered
figures cannot drift from the executions' statistics.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from shoal.catalog.schema import NAME_LENGTH, UTCDateTime, metadata
from shoal.queries.schema import query_executions

__all__ = ["metadata", "quota_crossings", "quotas"]

QUOTA_NAME_LENGTH = 128

quotas = Table(
    "quotas",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(QUOTA_NAME_LENGTH), nullable=False, unique=True),
    Column("scope", String(16), nullable=False),  # user | workgroup
    Column("principal", String(NAME_LENGTH), nullable=False),  # the user or workgroup name
    Column("period", String(8), nullable=False),  # hour | day | month
    Column("limit_bytes", BigInteger, nullable=False),
    Column("thresholds", JSON, nullable=False),  # [{"percent": 80, "action": "warn"}, …]
    Column("webhook_url", Text),
    Column("create_time", UTCDateTime, nullable=False),
)

# One row per threshold crossed per period: the primary key makes "notify once"
# atomic across threads and processes (a second insert fails instead of re-notifying).
quota_crossings = Table(
    "quota_crossings",
    metadata,
    Column(
        "quota_id",
        Integer,
        ForeignKey("quotas.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("period_start", UTCDateTime, primary_key=True),
    Column("percent", Integer, primary_key=True),
    Column("usage_bytes", BigInteger, nullable=False),
    Column("crossing_time", UTCDateTime, nullable=False),
)

# Usage windows and quota periods select executions by completion time.
completion_time_index = Index(
    "ix_query_executions_completion_time", query_executions.c.completion_time
)
