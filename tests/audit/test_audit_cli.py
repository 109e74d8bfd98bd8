"""The CLI records each command it runs in the data folder's trail, once, with its
outcome; a command that never opens shoal records nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import shoal as shoal_api
from shoal.cli import main


def test_each_command_is_recorded_once_with_its_outcome(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    create = ["--data", data, "quotas", "create", "q1", "--user", "alice", "--limit", "1GB"]
    runner = CliRunner()
    assert runner.invoke(main, create).exit_code == 0
    assert runner.invoke(main, create).exit_code == 1  # exists already
    assert runner.invoke(main, ["--data", data, "config"]).exit_code == 0  # opens nothing
    with shoal_api.open(data_dir=data) as app:
        records = app.audit.pending_records()
    assert [(r["eventSource"], r["eventName"], r["errorCode"]) for r in records] == [
        ("shoal", "QuotasCreate", None),
        ("shoal", "QuotasCreate", "AlreadyExistsException"),
    ]
    assert records[0]["requestParameters"]["name"] == "q1"
    assert records[0]["userAgent"] == "shoal-cli" and records[0]["readOnly"] is False
    assert len({r["requestID"] for r in records}) == 2
