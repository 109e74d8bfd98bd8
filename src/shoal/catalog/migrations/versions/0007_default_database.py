"""The catalog has the database ``default``, as Athena's and Glue's do.

Athena runs a query with no database context in ``default``, and its users create
tables there first; a fresh shoal answered "database 'default' not found".

Made once, when a catalog is created or upgraded to this revision, and only if no
database of that name exists yet. It is an ordinary database afterwards: ``DROP
DATABASE default`` is refused as Athena refuses it, while Glue's DeleteDatabase
removes it as Glue does, and it is not made again.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None

NAME = "default"
DESCRIPTION = "Default Hive database"  # what Glue's own default database says

# The table as it is at this revision (see 0001 for why not ``catalog.schema``).
_databases = sa.table(
    "databases",
    sa.column("name", sa.String(255)),
    sa.column("description", sa.Text),
    sa.column("location_uri", sa.Text),
    sa.column("parameters", sa.JSON),
    sa.column("create_time", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    conn = op.get_bind()
    found = conn.execute(sa.select(_databases.c.name).where(_databases.c.name == NAME)).first()
    if found is not None:  # someone made their own before this revision: keep it
        return
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC, as schema.UTCDateTime does
    conn.execute(
        sa.insert(_databases).values(
            name=NAME, description=DESCRIPTION, location_uri=None, parameters={}, create_time=now
        )
    )


def downgrade() -> None:
    # Left in place: by now it may hold tables, or be one the user made before 0007.
    pass
