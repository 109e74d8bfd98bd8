"""S3 bucket policies, kept as the text the client put.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bucket_policies",
        sa.Column("bucket", sa.String(63), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bucket_policies")
