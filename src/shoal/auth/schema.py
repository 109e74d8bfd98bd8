"""Tables of the identity service in the state database: users and access keys.

They live on the catalog's one SQLAlchemy ``metadata``, so Alembic migrations and
the schema-drift test see every table of the state database.

Secrets are stored encrypted (``secret_encrypted``), not hashed: SigV4 verifies a
request by recomputing its HMAC, which needs the raw secret on the server.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text

from shoal.catalog.schema import NAME_LENGTH, UTCDateTime, metadata

__all__ = ["access_keys", "metadata", "users"]

ACCESS_KEY_ID_LENGTH = 128  # AKIA + 16 today; room for keys imported from elsewhere

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("create_time", UTCDateTime, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("access_key_id", String(ACCESS_KEY_ID_LENGTH), nullable=False, unique=True),
    Column("secret_encrypted", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("create_time", UTCDateTime, nullable=False),
    Column("last_used_time", UTCDateTime),
)
