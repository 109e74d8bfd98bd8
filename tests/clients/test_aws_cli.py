"""The AWS CLI, unmodified, against a real ``shoal serve`` (endpoint URL + credentials)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .server import ShoalServer


def aws(server: ShoalServer, *args: str) -> str:
    cmd = [sys.executable, "-m", "awscli", "--endpoint-url", server.url, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=server.env(), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_s3_cp_ls_and_sts(shoal_server: ShoalServer, new_bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "data file.csv"
    source.write_text("id,name\n1,a\n")
    aws(shoal_server, "s3", "cp", str(source), f"s3://{new_bucket}/in/data file.csv")
    listing = aws(shoal_server, "s3", "ls", f"s3://{new_bucket}/in/")
    assert "data file.csv" in listing
    assert new_bucket in aws(shoal_server, "s3", "ls")
    back = tmp_path / "back.csv"
    aws(shoal_server, "s3", "cp", f"s3://{new_bucket}/in/data file.csv", str(back))
    assert back.read_text() == "id,name\n1,a\n"
    identity = json.loads(aws(shoal_server, "sts", "get-caller-identity", "--output", "json"))
    assert identity["Account"] == "123456789012"
