"""Executions remember whether their finished-listeners (the audit record, quota
checks) have all run, so a server that starts after a crash can run them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("query_executions") as batch:
        batch.add_column(
            sa.Column("listeners_pending", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_query_executions_listeners_pending", ["listeners_pending"])


def downgrade() -> None:
    with op.batch_alter_table("query_executions") as batch:
        batch.drop_index("ix_query_executions_listeners_pending")
        batch.drop_column("listeners_pending")
