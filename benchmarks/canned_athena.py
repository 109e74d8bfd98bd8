"""A stand-in Athena endpoint that answers canned JSON and does nothing else.

``api_latency.py`` runs it as a separate process and sends it the same boto3 calls as
a ``SELECT 1`` (start, poll, results): what that costs is the client's floor — boto3's
own work per call plus a bare HTTP exchange — which no server can go under.

    .venv/bin/python benchmarks/canned_athena.py     # prints "listening on <url>"
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

QUERY_ID = "00000000-0000-4000-8000-000000000001"
ANSWERS = {
    "StartQueryExecution": {"QueryExecutionId": QUERY_ID},
    "GetQueryExecution": {
        "QueryExecution": {
            "QueryExecutionId": QUERY_ID,
            "Query": "SELECT 1",
            "Status": {"State": "SUCCEEDED"},
            "Statistics": {"TotalExecutionTimeInMillis": 0},
        }
    },
    "GetQueryResults": {
        "ResultSet": {
            "Rows": [{"Data": [{"VarCharValue": "_col0"}]}, {"Data": [{"VarCharValue": "1"}]}],
            "ResultSetMetadata": {
                "ColumnInfo": [{"Name": "_col0", "Type": "integer", "Precision": 10}]
            },
        },
        "UpdateCount": 0,
    },
}


# rest-json (botocore >= 1.44.18) names an operation by method and path: the model's
# URI templates, e.g. GET /query-executions/{QueryExecutionId}/results.
REST_PATHS = {
    ("POST", "/query-executions"): "StartQueryExecution",
    ("GET", f"/query-executions/{QUERY_ID}"): "GetQueryExecution",
    ("GET", f"/query-executions/{QUERY_ID}/results"): "GetQueryResults",
}


class CannedAthena(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._answer("GET")

    def _answer(self, method: str) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")  # JSON 1.1: AmazonAthena.<operation>
        path = self.path.split("?", 1)[0]
        operation = target.rpartition(".")[2] if target else REST_PATHS.get((method, path), "")
        body = json.dumps(ANSWERS.get(operation, {})).encode()
        # One write: headers and body in separate segments would meet Nagle's delay.
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode() + body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedAthena)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
