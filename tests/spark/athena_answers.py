"""One Athena query through boto3 in a workgroup, waited for and its rows read: what
the Spark routing tests share."""

from __future__ import annotations

import time
from typing import Any


def athena_answer(athena: Any, sql: str, workgroup: str) -> tuple[dict[str, Any], list[Any]]:
    """Run ``sql`` in ``workgroup`` (database ``default``) until it succeeds: its
    QueryExecution and its rows, the header row first, as tuples of text."""
    query_id = athena.start_query_execution(
        QueryString=sql, WorkGroup=workgroup, QueryExecutionContext={"Database": "default"}
    )["QueryExecutionId"]
    deadline = time.monotonic() + 600
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        assert time.monotonic() < deadline, "the query never finished"
        time.sleep(0.1)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    return execution, [tuple(d.get("VarCharValue") for d in r["Data"]) for r in rows]
