"""``shoal serve``'s command line, run as a user runs it: real processes, real ports."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from clients.server import start_server, stop_server


def test_options_after_the_command_name(tmp_path: Path) -> None:
    # `shoal serve --data DIR --host H --port P`, as people type it; the server must
    # use that folder, not ./shoal-data in the working directory.
    data = tmp_path / "elsewhere"
    args = ["serve", "--data", str(data), "--host", "127.0.0.1", "--port", "0"]
    server = start_server(data, cli_args=args)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url + "/healthz", timeout=5) as answer:
            assert answer.status == 200
        assert (data / "catalog.db").is_file()
    finally:
        stop_server(server)


def test_option_after_the_name_wins(tmp_path: Path) -> None:
    # Given both before and after the command name, the later, more specific one counts.
    before, after = tmp_path / "before", tmp_path / "after"
    result = _shoal(tmp_path, "--data", str(before), "catalog", "create-database", "x",
                    "--data", str(after))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (after / "catalog.db").is_file() and not before.exists()
    listed = _shoal(tmp_path, "catalog", "databases", "--data", str(after), "-o", "json")
    assert '"x"' in listed.stdout


@pytest.mark.parametrize(
    ("port", "complaint"),
    [
        ("70000", "70000 is not in the range 0<=x<=65535"),
        ("-1", "-1 is not in the range 0<=x<=65535"),
        ("eighty", "'eighty' is not a valid port number"),
    ],
)
def test_bad_port_is_a_one_line_error(tmp_path: Path, port: str, complaint: str) -> None:
    result = _shoal(tmp_path, "serve", "--data", str(tmp_path / "data"), "--port", port)
    assert result.returncode == 2  # click's usage error
    assert "Traceback" not in result.stderr
    assert f"Error: Invalid value for '--port': {complaint}." in result.stderr.splitlines()


def _shoal(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    command = [sys.executable, "-m", "shoal.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=cwd, env=env)
