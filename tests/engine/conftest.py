"""Fixtures for engine tests: a locked-down engine over a temporary storage root."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoal.engine.duckdb import DuckDBEngine
from shoal.storage.s3 import S3Storage


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "lake"
    path.mkdir()
    return path


@pytest.fixture
def wide(root: Path) -> Path:
    """A 200,000-row Parquet file of three columns in four row groups."""
    rows = 200_000
    table = pa.table(
        {
            "a": pa.array(range(rows), pa.int64()),
            "b": pa.array([i * 7919 % 100_003 / 3 for i in range(rows)], pa.float64()),
            "s": pa.array([f"value-{i * 31 % 99_991}" for i in range(rows)]),
        }
    )
    path = root / "wide.parquet"
    pq.write_table(table, path, row_group_size=50_000, compression="snappy")
    return path


@pytest.fixture
def engine(root: Path, tmp_path: Path) -> Iterator[DuckDBEngine]:
    eng = DuckDBEngine([str(root)], str(tmp_path / "spill"), memory_limit="1GB", threads=2)
    yield eng
    eng.close()


MOTO_START_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def moto_storage() -> Iterator[S3Storage]:
    """An S3Storage on a real moto S3 server in a subprocess (port 0: a free one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answers(url, proc)
        yield S3Storage(url, "testing", "testing")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_answers(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is up
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto server did not answer at {url} in {MOTO_START_TIMEOUT}s")
