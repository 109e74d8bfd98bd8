"""Catalog fixtures: every store test runs against SQLite and PostgreSQL.

PostgreSQL comes from ``SHOAL_TEST_POSTGRES_URL`` (``scripts/postgres-up`` prints
one); each test gets a fresh schema of its own, dropped afterwards. Without the
variable the PostgreSQL runs are skipped, except on CI (``CI=true``) where they fail:
CI must not go green without having exercised PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from shoal.catalog.store import CatalogStore

POSTGRES_ENV = "SHOAL_TEST_POSTGRES_URL"


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = f"{POSTGRES_ENV} is not set (start a server with scripts/postgres-up)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the PostgreSQL catalog tests", pytrace=False)
    pytest.skip(message)


def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections live in a new, empty schema; the schema is dropped after."""
    base = _postgres_base_url()
    schema = f"shoal_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of an empty catalog database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('catalog') / 'catalog.db'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def store(catalog_url: str) -> Iterator[CatalogStore]:
    """A migrated, empty catalog store on each backend."""
    catalog = CatalogStore(catalog_url)
    yield catalog
    catalog.close()
