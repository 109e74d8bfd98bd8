"""Fixtures for audit tests: a trail on local storage and a real catalog."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clients.server import ShoalServer, start_server, stop_server
from shoal.audit.records import ApiCall, Caller, build_record
from shoal.audit.trail import AuditTrail, TrailLayout
from shoal.catalog.store import CatalogStore
from shoal.storage.local import LocalStorage

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "shoal-audit"


@dataclass
class TrailEnv:
    """A trail over a temporary data folder."""

    data: Path
    storage: LocalStorage
    catalog: CatalogStore
    layout: TrailLayout

    def trail(self, **options: Any) -> AuditTrail:
        return AuditTrail(self.storage, self.catalog, self.data, self.layout, **options)

    def log_keys(self) -> list[str]:
        return [o.key for o in self.storage.walk(BUCKET, self.layout.log_prefix)]

    def digest_keys(self) -> list[str]:
        return [o.key for o in self.storage.walk(BUCKET, self.layout.digest_prefix)]

    def delivered(self) -> list[dict[str, Any]]:
        """Every record in the lake's log files."""
        records = []
        for key in self.log_keys():
            document = json.loads(gzip.decompress(self.storage.read(BUCKET, key)))
            assert set(document) == {"Records"}, "a CloudTrail log file holds Records only"
            records += document["Records"]
        return records


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShoalServer]:
    """A server of this test's own, so every audit record in it is this test's."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    running = start_server(tmp_path / "data")
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            stop_server(running)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TrailEnv]:
    data = tmp_path / "data"
    data.mkdir()
    storage = LocalStorage(data / "lake")
    catalog = CatalogStore(f"sqlite:///{data / 'catalog.db'}")
    yield TrailEnv(data, storage, catalog, TrailLayout(BUCKET, ACCOUNT, REGION))
    catalog.close()


def s3_record(user: str = "alice", when: datetime | None = None, key: str = "k") -> dict[str, Any]:
    """The record of a GetObject by ``user``."""
    call = ApiCall(
        protocol="s3",
        method="GET",
        path=f"/data/{key}",
        query=[],
        operation="GetObject",
        request_id="req-1",
        event_time=when or datetime.now(UTC),
        region=REGION,
        account_id=ACCOUNT,
        caller=Caller(
            user, f"AKIA{user.upper():0<16}", f"arn:aws:iam::{ACCOUNT}:user/{user}", ACCOUNT
        ),
    )
    return build_record(call)
