"""The Spark tests' shapes (``make spark``; marker ``spark``).

Every test module under tests/spark is marked ``spark`` (``pytestmark``), which the
main suite deselects (pyproject's addopts): starting Spark takes tens of seconds. The
servers are fixtures of tests/conftest.py (the behaviour suite runs on Spark too),
started once per session, on first use, from the pip-installed pyspark:

- ``spark_local``: a Connect server on ``local[2]``;
- ``spark_cluster``: a standalone master, two one-core workers and a Connect server;
- ``spark_jars``: the hadoop-aws folder from ``scripts/spark-jars`` (fetched once).

``SHOAL_SPARK_URL=sc://host:port`` runs the ``local`` tests on a server already up
(``scripts/spark-up``, or a real cluster whose nodes see the test's temp folders).
"""

from __future__ import annotations

import pytest

from .spark_server import SparkProcesses


@pytest.fixture(params=["local", "cluster"])
def spark_server(request: pytest.FixtureRequest) -> SparkProcesses:
    """Each Spark shape in turn: a test using this runs on ``local[2]`` and on the cluster."""
    server: SparkProcesses = request.getfixturevalue(f"spark_{request.param}")
    return server
