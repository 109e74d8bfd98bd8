"""Fixtures for tests that drive a real ``shoal serve`` with unmodified clients.

One server per test session (``shoal_server``), started as a subprocess on a free
port with a temporary data folder and the root key from ``server.py``. Use:

- ``shoal_server``: url, access_key_id, secret_access_key, data_dir, ``env()`` for
  CLI subprocesses, ``client(service)`` for boto3;
- ``boto3_client``: a factory, ``boto3_client("athena")``, cached per service;
- ``new_bucket``: a fresh, empty bucket name created on the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import ShoalServer, served


@pytest.fixture(scope="session")
def shoal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShoalServer]:
    """A real ``shoal serve`` process shared by the session."""
    with pytest.MonkeyPatch.context() as patch:
        # The user's own AWS profile and endpoints must not leak into any client.
        base = tmp_path_factory.mktemp("aws-isolation")
        patch.setenv("AWS_CONFIG_FILE", str(base / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(base / "credentials"))
        for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
            patch.delenv(var, raising=False)
        with served(tmp_path_factory.mktemp("shoal") / "data") as server:
            yield server


@pytest.fixture(scope="session")
def boto3_client(shoal_server: ShoalServer) -> Callable[..., Any]:
    """``boto3_client(service, **overrides)``: a client on the shared server."""
    cache: dict[str, Any] = {}

    def make(service: str, **overrides: Any) -> Any:
        if overrides:
            return shoal_server.client(service, **overrides)
        if service not in cache:
            cache[service] = shoal_server.client(service)
        return cache[service]

    return make


@pytest.fixture
def new_bucket(boto3_client: Callable[..., Any]) -> str:
    """A fresh bucket on the server (names are unique: the server outlives tests)."""
    name = f"t-{uuid.uuid4().hex[:16]}"
    boto3_client("s3").create_bucket(Bucket=name)
    return name
