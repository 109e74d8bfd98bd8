"""``aws glue …`` (the unmodified AWS CLI) against a real ``shoal serve``."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .server import ShoalServer

pytestmark = pytest.mark.timeout(120)

AWS = str(Path(sys.executable).with_name("aws"))


def _aws(server: ShoalServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AWS, "--endpoint-url", server.url, "--output", "json", "glue", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_get_tables_pages_through_every_table(
    shoal_server: ShoalServer, boto3_client: Callable[..., Any]
) -> None:
    glue = boto3_client("glue")
    db = f"cli{uuid.uuid4().hex[:12]}"
    glue.create_database(DatabaseInput={"Name": db})
    names = [f"t{i}" for i in range(5)]
    for name in names:
        glue.create_table(
            DatabaseName=db,
            TableInput={
                "Name": name,
                "StorageDescriptor": {
                    "Columns": [{"Name": "id", "Type": "bigint"}],
                    "Location": f"s3://lake/{name}/",
                },
            },
        )
    # --page-size makes the CLI follow NextToken across three pages.
    done = _aws(shoal_server, "get-tables", "--database-name", db, "--page-size", "2")
    assert done.returncode == 0, done.stderr
    tables = json.loads(done.stdout)["TableList"]
    assert [t["Name"] for t in tables] == names
    assert tables[0]["StorageDescriptor"]["Columns"] == [{"Name": "id", "Type": "bigint"}]
    assert tables[0]["DatabaseName"] == db


def test_errors_are_reported_by_name(shoal_server: ShoalServer) -> None:
    done = _aws(shoal_server, "get-tables", "--database-name", f"no{uuid.uuid4().hex[:8]}")
    assert done.returncode != 0
    assert "EntityNotFoundException" in done.stderr
