"""Tables of the query service in the state database: executions, workgroups,
named queries and prepared statements.

They live on the catalog's one SQLAlchemy ``metadata``, so Alembic migrations and
the schema-drift test see every table of the state database.
"""

from __future__ import annotations

from shoal.catalog.schema import metadata

__all__ = ["metadata"]
