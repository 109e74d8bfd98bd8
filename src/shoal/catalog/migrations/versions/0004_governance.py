"""Governance: groups, roles, managed and inline policies, attachments, role mappings.

Revision ID: 0004
Revises: 0003

Spelled out rather than importing ``auth.schema``: a migration records the schema at
its revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
NAME = sa.String(255)
POLICY_NAME = sa.String(128)


def _fk(table: str, column: str, target: str) -> sa.Column[int]:
    return sa.Column(
        column,
        sa.Integer,
        sa.ForeignKey(f"{target}.id", ondelete="CASCADE", name=f"fk_{table}_{column}_{target}"),
    )


def _principals(table: str) -> list[sa.Column[int]]:
    return [_fk(table, f"{kind}_id", f"{kind}s") for kind in ("user", "group", "role")]


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
        sa.UniqueConstraint("name", name="uq_groups_name"),
    )
    op.create_table(
        "group_members",
        _fk("group_members", "group_id", "groups"),
        _fk("group_members", "user_id", "users"),
        sa.PrimaryKeyConstraint("group_id", "user_id", name="pk_group_members"),
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("assume_role_policy", sa.Text),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        sa.UniqueConstraint("name", name="uq_roles_name"),
    )
    op.create_table(
        "managed_policies",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", POLICY_NAME, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("default_version", sa.Integer, nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_managed_policies"),
        sa.UniqueConstraint("name", name="uq_managed_policies_name"),
    )
    op.create_table(
        "policy_versions",
        _fk("policy_versions", "policy_id", "managed_policies"),
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "version", name="pk_policy_versions"),
    )
    op.create_table(
        "policy_attachments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column(
            "policy_id",
            sa.Integer,
            sa.ForeignKey(
                "managed_policies.id",
                ondelete="CASCADE",
                name="fk_policy_attachments_policy_id_managed_policies",
            ),
            nullable=False,
        ),
        *_principals("policy_attachments"),
        sa.PrimaryKeyConstraint("id", name="pk_policy_attachments"),
    )
    op.create_table(
        "inline_policies",
        sa.Column("id", sa.Integer, nullable=False),
        *_principals("inline_policies"),
        sa.Column("name", POLICY_NAME, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inline_policies"),
    )
    op.create_table(
        "role_mappings",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("base_role", NAME, nullable=False),
        sa.Column("mappings", sa.JSON, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_role_mappings"),
    )


def downgrade() -> None:
    for table in (
        "role_mappings",
        "inline_policies",
        "policy_attachments",
        "policy_versions",
        "managed_policies",
        "roles",
        "group_members",
        "groups",
    ):
        op.drop_table(table)
