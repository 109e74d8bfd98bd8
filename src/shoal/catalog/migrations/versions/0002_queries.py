"""Query executions, workgroups, named queries and prepared statements.

Revision ID: 0002
Revises: 0001

Spelled out in full rather than importing ``queries.schema``: a migration records
what the schema was at its revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String(255)
TIME = sa.DateTime(timezone=True)
ID = sa.String(36)
WORKGROUP = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "query_executions",
        sa.Column("id", ID, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("workgroup", WORKGROUP, nullable=False),
        sa.Column("catalog", NAME, nullable=False),
        sa.Column("database", NAME),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_change_reason", sa.Text),
        sa.Column("statement_type", sa.String(16)),
        sa.Column("substatement_type", sa.String(64)),
        sa.Column("output_location", sa.Text),
        sa.Column("execution_parameters", sa.JSON, nullable=False),
        sa.Column("submission_time", TIME, nullable=False),
        sa.Column("completion_time", TIME),
        sa.Column("statistics", sa.JSON, nullable=False),
        sa.Column("athena_error", sa.JSON),
        sa.Column("update_count", sa.BigInteger),
        sa.Column("result_columns", sa.JSON),
        sa.Column("reuse_max_age_minutes", sa.Integer),
        sa.Column("reuse_key", sa.String(64)),
        sa.Column("reuse_fingerprint", sa.JSON),
        sa.Column("client_request_token", sa.String(128)),
        sa.Column("request_hash", sa.String(64)),
        sa.Column("user_name", NAME),
        sa.Column("owner", sa.String(255)),
        sa.Column("heartbeat_time", TIME),
        sa.PrimaryKeyConstraint("id", name="pk_query_executions"),
    )
    op.create_index(
        "ix_query_executions_workgroup_submission_time",
        "query_executions",
        ["workgroup", "submission_time"],
    )
    op.create_index("ix_query_executions_state", "query_executions", ["state"])
    op.create_index("ix_query_executions_reuse_key", "query_executions", ["reuse_key"])
    op.create_index(
        "ix_query_executions_client_request_token",
        "query_executions",
        ["client_request_token"],
        unique=True,
    )
    op.create_table(
        "workgroups",
        sa.Column("name", WORKGROUP, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("configuration", sa.JSON, nullable=False),
        sa.Column("creation_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_workgroups"),
    )
    op.create_table(
        "named_queries",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("database", NAME),
        sa.Column("query_string", sa.Text, nullable=False),
        sa.Column("workgroup", WORKGROUP, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_named_queries"),
    )
    op.create_index("ix_named_queries_workgroup", "named_queries", ["workgroup"])
    op.create_table(
        "prepared_statements",
        sa.Column("workgroup", WORKGROUP, nullable=False),
        sa.Column("statement_name", sa.String(256), nullable=False),
        sa.Column("query_statement", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("last_modified_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("workgroup", "statement_name", name="pk_prepared_statements"),
    )


def downgrade() -> None:
    op.drop_table("prepared_statements")
    op.drop_index("ix_named_queries_workgroup", "named_queries")
    op.drop_table("named_queries")
    op.drop_table("workgroups")
    for index in (
        "ix_query_executions_client_request_token",
        "ix_query_executions_reuse_key",
        "ix_query_executions_state",
        "ix_query_executions_workgroup_submission_time",
    ):
        op.drop_index(index, "query_executions")
    op.drop_table("query_executions")
