"""Tables of the identity service in the state database: users and access keys,
groups, roles, managed and inline policies, attachments and role mappings.

They live on the catalog's one SQLAlchemy ``metadata``, so Alembic migrations and
the schema-drift test see every table of the state database.

Secrets are stored encrypted (``secret_encrypted``), not hashed: SigV4 verifies a
request by recomputing its HMAC, which needs the raw secret on the server.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Table, Text

from shoal.catalog.schema import NAME_LENGTH, UTCDateTime, metadata

__all__ = [
    "access_keys",
    "bucket_policies",
    "group_members",
    "groups",
    "inline_policies",
    "managed_policies",
    "metadata",
    "policy_attachments",
    "policy_versions",
    "role_mappings",
    "roles",
    "users",
]

ACCESS_KEY_ID_LENGTH = 128  # AKIA + 16 today; room for keys imported from elsewhere
POLICY_NAME_LENGTH = 128  # IAM's limit for managed and inline policy names

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


groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("create_time", UTCDateTime, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

roles = Table(
    "roles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False, unique=True),
    Column("description", Text),
    Column("assume_role_policy", Text),  # kept verbatim: IAM hands it back as given
    Column("create_time", UTCDateTime, nullable=False),
)

managed_policies = Table(
    "managed_policies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(POLICY_NAME_LENGTH), nullable=False, unique=True),
    Column("description", Text),
    Column("default_version", Integer, nullable=False),
    Column("next_version", Integer, nullable=False),  # IAM never reuses a version id
    Column("create_time", UTCDateTime, nullable=False),
    Column("update_time", UTCDateTime, nullable=False),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column(
        "policy_id",
        Integer,
        ForeignKey("managed_policies.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("document", Text, nullable=False),  # the text as given, validated
    Column("create_time", UTCDateTime, nullable=False),
)


def _principal_columns() -> list[Column[int]]:
    """Exactly one of user_id / group_id / role_id is set on each row.

    Real foreign keys (rather than a kind and a name) so deleting a user, group or
    role drops its policies too, and a new user of the same name inherits nothing.
    """
    return [
        Column(f"{kind}_id", Integer, ForeignKey(f"{kind}s.id", ondelete="CASCADE"))
        for kind in ("user", "group", "role")
    ]


policy_attachments = Table(
    "policy_attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "policy_id",
        Integer,
        ForeignKey("managed_policies.id", ondelete="CASCADE"),
        nullable=False,
    ),
    *_principal_columns(),
)

inline_policies = Table(
    "inline_policies",
    metadata,
    Column("id", Integer, primary_key=True),
    *_principal_columns(),
    Column("name", String(POLICY_NAME_LENGTH), nullable=False),
    Column("document", Text, nullable=False),
)

# One row (id 1): the ordered mappings are one document, replaced as a whole, so a
# reader never sees half of an edit.
role_mappings = Table(
    "role_mappings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("base_role", String(NAME_LENGTH), nullable=False),
    Column("mappings", JSON, nullable=False),
    Column("update_time", UTCDateTime, nullable=False),
)

# S3 bucket policies, as the exact text the client put (GetBucketPolicy answers it).
bucket_policies = Table(
    "bucket_policies",
    metadata,
    Column("bucket", String(63), primary_key=True),
    Column("document", Text, nullable=False),
    Column("update_time", UTCDateTime, nullable=False),
)
