"""Catalog fixtures: every store test runs against SQLite and PostgreSQL.

PostgreSQL comes from the shared ``postgres_schema_url`` fixture (tests/conftest.py):
each test gets a fresh schema of its own, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shoal.catalog.store import CatalogStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of an empty catalog database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('catalog') / 'catalog.db'}"
    else:
        yield request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def store(catalog_url: str) -> Iterator[CatalogStore]:
    """A migrated, empty catalog store on each backend."""
    catalog = CatalogStore(catalog_url)
    yield catalog
    catalog.close()
