"""Alembic environment for the catalog schema.

At runtime ``catalog.migrate.upgrade`` passes an open connection, already inside the
transaction that holds the migration lock, in ``config.attributes["connection"]``.
For development (``alembic revision --autogenerate``) a ``sqlalchemy.url`` option
works too. Logging is left alone: this runs inside the application.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from shoal.catalog.schema import metadata
from shoal.state_schema import register_all_tables

register_all_tables()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("catalog migrations need a connection or sqlalchemy.url")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    raise RuntimeError("catalog migrations run online only")
run_migrations_online()
