"""Start a real ``shoal serve`` process for client tests (and the storage suite).

The server binds port 0 and prints the URL it got; the helper reads that line, then
polls ``/healthz`` until it answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT_KEY_ID = "AKIATESTROOT00000001"
ROOT_SECRET = "rootSecretForTests0000000000000000000000"
REGION = "us-east-1"
START_TIMEOUT = 30.0
LISTENING = "shoal listening on "


@dataclass
class ShoalServer:
    """A running ``shoal serve``: where it listens and how to sign in."""

    url: str
    access_key_id: str
    secret_access_key: str
    data_dir: Path
    proc: subprocess.Popen[str] = field(repr=False)
    region: str = REGION

    @property
    def lake(self) -> Path:
        return self.data_dir / "lake"

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for client subprocesses (AWS CLI): this server's credentials
        and no trace of the developer's own AWS configuration."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SHOAL_"))}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.secret_access_key,
            AWS_DEFAULT_REGION=self.region,
            AWS_CONFIG_FILE=str(self.data_dir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.data_dir / "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
        )
        env.update(extra)
        return env

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client of ``service`` pointed at this server (root credentials)."""
        import boto3
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4" if service == "s3" else None,  # presigned URLs: SigV4
            retries={"max_attempts": 1, "mode": "standard"},
        )
        params: dict[str, Any] = {
            "endpoint_url": self.url,
            "region_name": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "config": config,
        }
        params.update(kwargs)
        return boto3.session.Session().client(service, **params)


def start_server(
    data_dir: Path,
    cli_args: Sequence[str] | None = None,
    settings: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> ShoalServer:
    """Start ``shoal serve`` on a free port with a fresh data folder; wait for it.

    ``cli_args``: the command line after ``shoal`` (default: ``--data DIR serve --port
    0``); it must name ``data_dir`` and port 0. ``settings``: ``SHOAL_*`` variables
    (``{"BODY_TIMEOUT_SECONDS": "1"}``). ``wrapper``: a command the server runs under
    (it ends with the server's own command line).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOAL_", "AWS_"))}
    env.update(SHOAL_ROOT_ACCESS_KEY_ID=ROOT_KEY_ID, SHOAL_ROOT_SECRET_ACCESS_KEY=ROOT_SECRET)
    env.update({f"SHOAL_{name}": value for name, value in (settings or {}).items()})
    log = open(data_dir.parent / f"{data_dir.name}-server.log", "w")  # noqa: SIM115
    if cli_args is None:
        cli_args = ["--data", str(data_dir), "serve", "--port", "0"]
    cmd = [*wrapper, sys.executable, "-m", "shoal.cli", *cli_args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    url = _read_url(proc)
    _wait_healthy(url, proc)
    return ShoalServer(url, ROOT_KEY_ID, ROOT_SECRET, data_dir, proc)


@contextmanager
def served(
    data_dir: Path,
    cli_args: Sequence[str] | None = None,
    settings: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> Iterator[ShoalServer]:
    """``start_server`` for the length of a ``with`` block (or a fixture's yield)."""
    server = start_server(data_dir, cli_args, settings, wrapper)
    try:
        yield server
    finally:
        stop_server(server)


def stop_server(server: ShoalServer) -> None:
    """Terminate the server (SIGTERM, then SIGKILL after 10 s)."""
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


def _read_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"shoal serve exited with {proc.wait()} before listening")
        if line.startswith(LISTENING):
            return line[len(LISTENING) :].strip()
    raise RuntimeError("shoal serve did not report its URL")


def _wait_healthy(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"shoal serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"shoal serve did not answer at {url} in {START_TIMEOUT}s")
