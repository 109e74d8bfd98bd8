"""Tables of the identity service in the state database: users and access keys.

They live on the catalog's one SQLAlchemy ``metadata``, so Alembic migrations and
the schema-drift test see every table of the state database.
"""

from __future__ import annotations

from shoal.catalog.schema import metadata

__all__ = ["metadata"]
