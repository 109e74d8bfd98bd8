"""Each query execution's EngineVersion: the engine its workgroup was pinned to.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("query_executions") as batch:
        batch.add_column(sa.Column("engine_version", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("query_executions") as batch:
        batch.drop_column("engine_version")
