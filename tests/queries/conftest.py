"""Fixtures for statement tests: the sample lake on real storage, catalog and engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shoal.catalog.store import CatalogStore
from shoal.crawler.runner import crawl_path
from shoal.engine.duckdb import DuckDBEngine
from shoal.queries.context import StatementContext, StatementOutcome
from shoal.queries.runner import StatementRunner
from shoal.samples import write_sample_data
from shoal.storage.local import LocalStorage

# CloudTrail events are dated relative to this; queries use now(), so it must be today.
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Lake:
    """The sample lake, crawled, and a runner over it."""

    root: Path
    storage: LocalStorage
    catalog: CatalogStore
    engine: DuckDBEngine
    runner: StatementRunner

    def path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def run(self, sql: str, **context: Any) -> StatementOutcome:
        context.setdefault("query_id", "q0001")
        context.setdefault("database", "sample")
        context.setdefault("output_location", "s3://results/out/")
        return self.runner.run(sql, StatementContext(**context))

    def rows(self, sql: str, **context: Any) -> list[dict[str, Any]]:
        return self.run(sql, **context).rows.to_pylist()


def _make_lake(tmp: Path) -> Iterator[Lake]:
    root = tmp / "lake"
    storage = LocalStorage(root)
    catalog = CatalogStore(f"sqlite:///{tmp / 'catalog.db'}")
    write_sample_data(storage, now=NOW)
    storage.create_bucket("results")
    crawl_path(catalog, storage, "s3://samples/", "sample")
    engine = DuckDBEngine([str(root)], str(tmp / "spill"), memory_limit="1GB", threads=2)
    yield Lake(root, storage, catalog, engine, StatementRunner(catalog, storage, engine))
    engine.close()
    catalog.close()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    """A lake shared by a module's read-only tests."""
    yield from _make_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture
def fresh_lake(tmp_path: Path) -> Iterator[Lake]:
    """A lake of one's own, for tests that write."""
    yield from _make_lake(tmp_path)
