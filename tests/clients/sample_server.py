"""A second ``shoal serve`` for client tests that need data: the sample lake, crawled.

Register it from a test module with::

    pytest_plugins = [f"{__package__}.sample_server"]

``sample_server`` is session-scoped: ``python -m shoal.cli sample-data`` writes the
sample lake (bucket ``samples``, database ``sample``) into a fresh data folder before
the server starts, so every client sees the same tables. ``sample_lake`` is where the
sample files are on disk, for computing expected answers without shoal;
``results_bucket`` is a bucket on that server for ``s3_staging_dir`` / ``s3_output``;
``sample_trips`` and ``sample_csv`` read the sample tables with pyarrow alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds
import pytest

from .server import ShoalServer, served

RESULTS_BUCKET = "client-results"


@pytest.fixture(scope="session")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    """A real ``shoal serve`` whose data folder already holds the crawled sample lake."""
    with pytest.MonkeyPatch.context() as patch:
        base = tmp_path_factory.mktemp("aws-isolation-samples")
        patch.setenv("AWS_CONFIG_FILE", str(base / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(base / "credentials"))
        for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
            patch.delenv(var, raising=False)
        data = tmp_path_factory.mktemp("shoal-samples") / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOAL_", "AWS_"))}
        cmd = [sys.executable, "-m", "shoal.cli", "--data", str(data), "sample-data"]
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
        with served(data) as server:
            server.client("s3").create_bucket(Bucket=RESULTS_BUCKET)
            yield server


@pytest.fixture(scope="session")
def sample_lake(sample_server: ShoalServer) -> Path:
    """The folder of bucket ``samples`` on disk (read it directly for expected values)."""
    return sample_server.lake / "samples"


@pytest.fixture(scope="session")
def results_bucket(sample_server: ShoalServer) -> str:
    """A bucket on ``sample_server`` for query results."""
    return RESULTS_BUCKET


@pytest.fixture(scope="session")
def sample_trips(sample_lake: Path) -> pa.Table:
    """Every sample trip, read by pyarrow alone (``year``/``month`` as strings)."""
    partitions = pa_ds.partitioning(
        pa.schema([("year", pa.string()), ("month", pa.string())]), flavor="hive"
    )
    dataset = pa_ds.dataset(sample_lake / "trips", format="parquet", partitioning=partitions)
    return dataset.to_table()


@pytest.fixture(scope="session")
def sample_csv(sample_lake: Path) -> Callable[[str], pa.Table]:
    """``sample_csv("zones")``: that sample CSV table read by pyarrow alone, with the
    column names lowercased as the crawler (like Glue) catalogs them."""

    def read(table: str) -> pa.Table:
        found = pa_csv.read_csv(sample_lake / table / f"{table}.csv")
        return found.rename_columns([name.lower() for name in found.column_names])

    return read
