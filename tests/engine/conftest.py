"""Fixtures for engine tests: a locked-down engine over a temporary storage root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.engine.duckdb import DuckDBEngine


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "lake"
    path.mkdir()
    return path


@pytest.fixture
def engine(root: Path, tmp_path: Path) -> Iterator[DuckDBEngine]:
    eng = DuckDBEngine([str(root)], str(tmp_path / "spill"), memory_limit="1GB", threads=2)
    yield eng
    eng.close()
