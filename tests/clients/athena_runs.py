"""One Athena query through boto3, waited for: what the client tests' helpers share."""

from __future__ import annotations

import time
from typing import Any

FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


def run_query(
    athena: Any, sql: str, output: str, database: str = "sample", timeout: float = 30.0
) -> dict[str, Any]:
    """Start ``sql`` with results under ``output`` and poll until it ends: its
    QueryExecution, whatever its final state."""
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": output},
    )["QueryExecutionId"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in FINAL_STATES:
            return dict(execution)
        time.sleep(0.05)
    raise AssertionError(f"query {query_id} did not finish")
