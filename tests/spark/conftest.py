"""Spark Connect servers for the Spark tests (``make spark``; marker ``spark``).

Every test module under tests/spark is marked ``spark`` (``pytestmark``), which the
main suite deselects (pyproject's addopts): starting Spark takes tens of seconds. The
servers are started once per session, on first use, from the pip-installed pyspark:

- ``spark_local``: a Connect server on ``local[2]``;
- ``spark_cluster``: a standalone master, two one-core workers and a Connect server;
- ``spark_jars``: the hadoop-aws folder from ``scripts/spark-jars`` (fetched once).

``SHOAL_SPARK_URL=sc://host:port`` runs the ``local`` tests on a server already up
(``scripts/spark-up``, or a real cluster whose nodes see the test's temp folders).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .spark_server import SparkProcesses, start_cluster, start_local

ROOT = Path(__file__).resolve().parents[2]
JARS_ENV = "SHOAL_SPARK_JARS"
URL_ENV = "SHOAL_SPARK_URL"


@pytest.fixture(scope="session")
def spark_jars() -> Path:
    """The folder of hadoop-aws and its AWS SDK bundle (``SHOAL_SPARK_JARS`` or fetched)."""
    if os.environ.get(JARS_ENV):
        return Path(os.environ[JARS_ENV])
    script = ROOT / "scripts" / "spark-jars"
    env = dict(os.environ, PYTHON=sys.executable)
    out = subprocess.run([str(script)], check=True, capture_output=True, text=True, env=env)
    return ROOT / out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def spark_local(
    tmp_path_factory: pytest.TempPathFactory, spark_jars: Path
) -> Iterator[SparkProcesses]:
    workdir = tmp_path_factory.mktemp("spark-local")
    if os.environ.get(URL_ENV):
        yield SparkProcesses(os.environ[URL_ENV], workdir, "given")
        return
    server = start_local(workdir, jars=spark_jars)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def spark_cluster(
    tmp_path_factory: pytest.TempPathFactory, spark_jars: Path
) -> Iterator[SparkProcesses]:
    server = start_cluster(tmp_path_factory.mktemp("spark-cluster"), jars=spark_jars)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["local", "cluster"])
def spark_server(request: pytest.FixtureRequest) -> SparkProcesses:
    """Each Spark shape in turn: a test using this runs on ``local[2]`` and on the cluster."""
    server: SparkProcesses = request.getfixturevalue(f"spark_{request.param}")
    return server
