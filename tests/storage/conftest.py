"""Storage fixtures: one behaviour suite, every implementation.

``storage_case`` is parametrized over ``MAKERS``; adding an implementation (shoal's
own S3 API server, say) is one more entry there. Each case carries the
implementation's declared capabilities, so tests of a gap assert the error it raises
instead of being skipped silently.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shoal.storage import LocalStorage, S3Storage, Storage

MOTO_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Capabilities:
    """What an implementation can store, where S3 and a filesystem differ."""

    listing_etags: bool  # list/walk report ETags
    # An opened object keeps answering from its version after a put replaces it (a
    # file's inode); without it, reading a replaced object fails (ETag, If-Match).
    snapshot_reads: bool


S3_CAPS = Capabilities(listing_etags=True, snapshot_reads=False)
LOCAL_CAPS = Capabilities(listing_etags=False, snapshot_reads=True)


@dataclass
class StorageCase:
    """One implementation under test, and a source of bucket names unique to the test."""

    name: str
    storage: Storage
    caps: Capabilities

    def new_bucket(self, create: bool = True) -> str:
        # Unique names: servers such as moto outlive one test.
        bucket = f"t-{uuid.uuid4().hex[:16]}"
        if create:
            self.storage.create_bucket(bucket)
        return bucket


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_answers(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is up
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto server did not answer at {url} in {MOTO_START_TIMEOUT}s")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto S3 server in a subprocess, shared by the session."""
    port = _free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answers(url + "/", proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def _isolate_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the user's own AWS profile, endpoint and credentials out of the tests."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def _local_case(request: pytest.FixtureRequest, tmp_path: Path) -> StorageCase:
    return StorageCase("local", LocalStorage(tmp_path / "lake"), LOCAL_CAPS)


@pytest.fixture(scope="session")
def moto_storage(moto_endpoint: str) -> S3Storage:
    """An S3Storage on the moto server; shared, as building a boto3 client is slow."""
    return S3Storage(moto_endpoint, "testing", "testing")


def _s3_case(request: pytest.FixtureRequest, tmp_path: Path) -> StorageCase:
    # Asked for lazily, so a run of local tests never starts moto.
    return StorageCase("s3", request.getfixturevalue("moto_storage"), S3_CAPS)


@pytest.fixture(scope="session")
def shoal_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Storage]:
    """An S3Storage on a real ``shoal serve`` (its own S3 API over local folders)."""
    from clients.server import ROOT_KEY_ID, ROOT_SECRET, served

    with served(tmp_path_factory.mktemp("shoal-storage") / "data") as server:
        yield S3Storage(server.url, ROOT_KEY_ID, ROOT_SECRET)


# shoal serves local folders and reports ETags in listings.
SHOAL_CAPS = Capabilities(listing_etags=True, snapshot_reads=False)  # S3Storage over shoal


def _shoal_case(request: pytest.FixtureRequest, tmp_path: Path) -> StorageCase:
    return StorageCase("shoal", request.getfixturevalue("shoal_storage"), SHOAL_CAPS)


MAKERS: dict[str, Callable[[pytest.FixtureRequest, Path], StorageCase]] = {
    "local": _local_case,
    "s3": _s3_case,
    "shoal": _shoal_case,
}


@pytest.fixture(params=sorted(MAKERS))
def storage_case(request: pytest.FixtureRequest, tmp_path: Path) -> StorageCase:
    """Each storage implementation in turn."""
    return MAKERS[request.param](request, tmp_path)


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    """A LocalStorage rooted in a fresh folder ``tmp_path/lake``."""
    return LocalStorage(tmp_path / "lake")
