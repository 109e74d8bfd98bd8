"""Object storage for the lake: local folders or S3-compatible endpoints.

Both implementations are addressed by bucket and key, so every location in shoal is
an ``s3://bucket/key`` URI whatever holds the bytes.
"""

from __future__ import annotations

from shoal.storage.base import (
    Listing,
    ObjectInfo,
    ObjectReader,
    Storage,
    join_uri,
    parse_uri,
    validate_bucket_name,
    validate_key,
    validate_prefix,
)
from shoal.storage.local import LocalStorage
from shoal.storage.s3 import S3Storage

__all__ = [
    "Listing",
    "LocalStorage",
    "ObjectInfo",
    "ObjectReader",
    "S3Storage",
    "Storage",
    "join_uri",
    "parse_uri",
    "validate_bucket_name",
    "validate_key",
    "validate_prefix",
]
