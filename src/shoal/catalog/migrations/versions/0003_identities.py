"""Identities: users and access keys.

Revision ID: 0003
Revises: 0002

Spelled out rather than importing ``auth.schema``: a migration records the schema at
its revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "access_keys",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_access_keys_user_id_users"),
            nullable=False,
        ),
        sa.Column("access_key_id", sa.String(128), nullable=False),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("last_used_time", TIME),
        sa.PrimaryKeyConstraint("id", name="pk_access_keys"),
        sa.UniqueConstraint("access_key_id", name="uq_access_keys_access_key_id"),
    )


def downgrade() -> None:
    op.drop_table("access_keys")
    op.drop_table("users")
