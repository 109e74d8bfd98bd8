"""Fixtures every test shares."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from shoal.config import ENV_PREFIX, SETTINGS
from spark.spark_server import SparkProcesses, start_cluster, start_local

POSTGRES_ENV = "SHOAL_TEST_POSTGRES_URL"
ROOT = Path(__file__).resolve().parents[1]
SPARK_JARS_ENV = "SHOAL_SPARK_JARS"
SPARK_URL_ENV = "SHOAL_SPARK_URL"


@pytest.fixture(autouse=True)
def _isolate_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own SHOAL_* settings or config file."""
    monkeypatch.delenv(f"{ENV_PREFIX}CONFIG", raising=False)
    for setting in SETTINGS:
        monkeypatch.delenv(ENV_PREFIX + setting.name.upper(), raising=False)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections live in a new, empty schema, dropped after.

    The server comes from ``SHOAL_TEST_POSTGRES_URL`` (``scripts/postgres-up`` prints
    one). Without it the test is skipped, except on CI (``CI=true``), where it fails:
    CI must not go green without having exercised PostgreSQL.
    """
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


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = f"{POSTGRES_ENV} is not set (start a server with scripts/postgres-up)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(message)


# Spark Connect servers (tests marked spark: `make spark`), started once per session on
# first use from the pip-installed pyspark (tests/spark/spark_server.py).


@pytest.fixture(scope="session")
def spark_jars() -> Path:
    """The folder of hadoop-aws and its AWS SDK bundle (``SHOAL_SPARK_JARS`` or fetched)."""
    if os.environ.get(SPARK_JARS_ENV):
        return Path(os.environ[SPARK_JARS_ENV])
    script = ROOT / "scripts" / "spark-jars"
    env = dict(os.environ, PYTHON=sys.executable)
    out = subprocess.run([str(script)], check=True, capture_output=True, text=True, env=env)
    return ROOT / out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def spark_local(
    tmp_path_factory: pytest.TempPathFactory, spark_jars: Path
) -> Iterator[SparkProcesses]:
    workdir = tmp_path_factory.mktemp("spark-local")
    if os.environ.get(SPARK_URL_ENV):
        yield SparkProcesses(os.environ[SPARK_URL_ENV], workdir, "given")
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
