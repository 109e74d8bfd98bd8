"""The initial catalog schema: databases, tables, versions, partitions, crawlers, runs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Spelled out in full rather than importing ``catalog.schema``: a migration records
what the schema was at its revision, and must not change when the models do.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String(255)
TIME = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    # The key is named by a PrimaryKeyConstraint below, as the naming convention does.
    return sa.Column("id", sa.Integer, nullable=False)


def _parent(table: str, column: str, target: str, *, nullable: bool = False) -> sa.Column[int]:
    ref_table = target.split(".")[0]
    return sa.Column(
        column,
        sa.Integer,
        sa.ForeignKey(target, ondelete="CASCADE", name=f"fk_{table}_{column}_{ref_table}"),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "databases",
        _id(),
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("location_uri", sa.Text),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_databases"),
        sa.UniqueConstraint("name", name="uq_databases_name"),
    )
    op.create_table(
        "tables",
        _id(),
        _parent("tables", "database_id", "databases.id"),
        sa.Column("name", NAME, nullable=False),
        sa.Column("table_type", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("storage", sa.JSON, nullable=False),
        sa.Column("partition_keys", sa.JSON, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("owner", sa.Text),
        sa.Column("view_original_text", sa.Text),
        sa.Column("view_expanded_text", sa.Text),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tables"),
        sa.UniqueConstraint("database_id", "name", name="uq_tables_database_id_name"),
    )
    op.create_table(
        "table_versions",
        _id(),
        _parent("table_versions", "table_id", "tables.id"),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_table_versions"),
        sa.UniqueConstraint("table_id", "version_id", name="uq_table_versions_table_id_version_id"),
    )
    op.create_table(
        "partitions",
        _id(),
        _parent("partitions", "table_id", "tables.id"),
        sa.Column("values", sa.JSON, nullable=False),
        sa.Column("values_key", sa.Text, nullable=False),
        sa.Column("storage", sa.JSON, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("last_access_time", TIME),
        sa.PrimaryKeyConstraint("id", name="pk_partitions"),
        sa.UniqueConstraint("table_id", "values_key", name="uq_partitions_table_id_values_key"),
    )
    op.create_table(
        "crawlers",
        _id(),
        sa.Column("name", NAME, nullable=False),
        sa.Column("database_name", NAME, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_crawlers"),
        sa.UniqueConstraint("name", name="uq_crawlers_name"),
    )
    op.create_table(
        "crawl_runs",
        _id(),
        sa.Column("run_id", NAME, nullable=False),
        _parent("crawl_runs", "crawler_id", "crawlers.id", nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("start_time", TIME, nullable=False),
        sa.Column("end_time", TIME),
        sa.Column("tables_created", sa.Integer, nullable=False),
        sa.Column("tables_updated", sa.Integer, nullable=False),
        sa.Column("tables_deleted", sa.Integer, nullable=False),
        sa.Column("partitions_added", sa.Integer, nullable=False),
        sa.Column("partitions_updated", sa.Integer, nullable=False),
        sa.Column("partitions_deleted", sa.Integer, nullable=False),
        sa.Column("files_read", sa.BigInteger, nullable=False),
        sa.Column("bytes_read", sa.BigInteger, nullable=False),
        sa.Column("error_message", sa.Text),
        sa.Column("log", sa.JSON, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_crawl_runs"),
        sa.UniqueConstraint("run_id", name="uq_crawl_runs_run_id"),
    )
    op.create_index(
        "ix_crawl_runs_crawler_id_start_time", "crawl_runs", ["crawler_id", "start_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_crawl_runs_crawler_id_start_time", "crawl_runs")
    for table in ("crawl_runs", "crawlers", "partitions", "table_versions", "tables", "databases"):
        op.drop_table(table)
