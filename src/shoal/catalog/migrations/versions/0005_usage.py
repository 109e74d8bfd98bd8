"""Usage metering and quotas: quota definitions, threshold crossings, and an index
on executions' completion time (usage windows and quota periods).

Revision ID: 0005
Revises: 0004

Spelled out rather than importing ``audit.schema``: a migration records the schema
at its revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("limit_bytes", sa.BigInteger, nullable=False),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("webhook_url", sa.Text),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quotas"),
        sa.UniqueConstraint("name", name="uq_quotas_name"),
    )
    op.create_table(
        "quota_crossings",
        sa.Column("quota_id", sa.Integer, nullable=False),
        sa.Column("period_start", TIME, nullable=False),
        sa.Column("percent", sa.Integer, nullable=False),
        sa.Column("usage_bytes", sa.BigInteger, nullable=False),
        sa.Column("crossing_time", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["quota_id"],
            ["quotas.id"],
            ondelete="CASCADE",
            name="fk_quota_crossings_quota_id_quotas",
        ),
        sa.PrimaryKeyConstraint("quota_id", "period_start", "percent", name="pk_quota_crossings"),
    )
    op.create_index("ix_query_executions_completion_time", "query_executions", ["completion_time"])


def downgrade() -> None:
    op.drop_index("ix_query_executions_completion_time", table_name="query_executions")
    op.drop_table("quota_crossings")
    op.drop_table("quotas")
