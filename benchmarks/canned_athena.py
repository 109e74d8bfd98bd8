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
    "AmazonAthena.StartQueryExecution": {"QueryExecutionId": QUERY_ID},
    "AmazonAthena.GetQueryExecution": {
        "QueryExecution": {
            "QueryExecutionId": QUERY_ID,
            "Query": "SELECT 1",
            "Status": {"State": "SUCCEEDED"},
            "Statistics": {"TotalExecutionTimeInMillis": 0},
        }
    },
    "AmazonAthena.GetQueryResults": {
        "ResultSet": {
            "Rows": [{"Data": [{"VarCharValue": "_col0"}]}, {"Data": [{"VarCharValue": "1"}]}],
            "ResultSetMetadata": {
                "ColumnInfo": [{"Name": "_col0", "Type": "integer", "Precision": 10}]
            },
        },
        "UpdateCount": 0,
    },
}


class CannedAthena(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(ANSWERS.get(self.headers.get("X-Amz-Target", ""), {})).encode()
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
