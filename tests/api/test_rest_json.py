"""rest-json on the wire: routing by credential scope and URI template, members read
from where the model puts them, errors in rest-json's shape (raw signed requests, so
what a client library would smooth over shows)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.testclient import TestClient

import shoal
from shoal.api.app import create_app
from shoal.api.json_protocol import MODELS_DIR, service_model
from shoal.api.uri_routes import Routes

KEY, SECRET = "AKIARESTJSONTEST0001", "r" * 40


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = shoal.open(data_dir=str(tmp_path_factory.mktemp("rest-json") / "data"))
    app.identities.ensure_root(KEY, SECRET)
    with TestClient(create_app(app, audit=False)) as test_client:
        yield test_client
    app.close()


def send(
    client: TestClient,
    method: str,
    path: str,
    body: bytes = b"",
    service: str = "athena",
    secret: str = SECRET,
) -> Any:
    """A request signed for ``service`` as botocore signs it."""
    headers = {"Content-Type": "application/json"} if body else {}
    request = AWSRequest(method, f"http://testserver{path}", data=body, headers=headers)
    SigV4Auth(Credentials(KEY, secret), service, "us-east-1").add_auth(request)
    return client.request(method, path, content=body, headers=dict(request.headers))


def error_of(answer: Any) -> tuple[int, str, str]:
    assert answer.headers["content-type"].startswith("application/json")
    return answer.status_code, answer.headers["x-amzn-errortype"], answer.json()["message"]


def test_templates_choose_the_most_specific_operation() -> None:
    routes = Routes(service_model("athena"))

    def operation(method: str, path: str) -> str | None:
        match = routes.match(method, path, ())
        return match.operation if match else None

    assert operation("POST", "/query-executions") == "StartQueryExecution"
    assert operation("GET", "/query-executions") == "ListQueryExecutions"
    assert operation("GET", "/query-executions/q-1") == "GetQueryExecution"
    assert operation("GET", "/query-executions/q-1/results") == "GetQueryResults"
    assert operation("POST", "/query-executions/q-1/stop") == "StopQueryExecution"
    assert operation("GET", "/query-executions/q-1/nope") is None
    assert operation("PUT", "/query-executions") is None
    match = routes.match("GET", "/workgroups/team%2Da", ())
    assert match is not None and match.labels == {"WorkGroup": "team-a"}


def test_a_query_runs_over_raw_rest_json(client: TestClient) -> None:
    started = send(client, "POST", "/query-executions", b'{"QueryString": "SELECT 40 + 2"}')
    assert started.status_code == 200, started.text
    query_id = started.json()["QueryExecutionId"]
    execution = send(client, "GET", f"/query-executions/{query_id}").json()["QueryExecution"]
    assert execution["QueryExecutionId"] == query_id
    assert isinstance(execution["Status"]["SubmissionDateTime"], float)  # epoch seconds
    results = send(client, "GET", f"/query-executions/{query_id}/results?MaxResults=5")
    assert results.status_code == 200, results.text
    rows = results.json()["ResultSet"]["Rows"]
    assert rows[-1]["Data"][0]["VarCharValue"] == "42"


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("MaxResults=ten", "MaxResults is not a valid integer"),
        ("MaxResults=5000", "MaxResults must be at most 1000"),
        ("MaxResults=99999999999999999999999", "MaxResults is not a valid integer"),
    ],
)
def test_query_string_members_are_typed(client: TestClient, query: str, fragment: str) -> None:
    status, code, message = error_of(send(client, "GET", f"/query-executions/q-1/results?{query}"))
    assert (status, code) == (400, "InvalidRequestException")
    assert fragment in message


def test_body_holds_only_body_members(client: TestClient) -> None:
    # QueryExecutionId travels in the URI; in the body it is not a field of this call.
    answer = send(client, "POST", "/query-executions/q-1/stop", b'{"QueryExecutionId": "q-2"}')
    status, code, message = error_of(answer)
    assert (status, code) == (400, "InvalidRequestException")
    assert "QueryExecutionId" in message
    status, code, _ = error_of(send(client, "POST", "/query-executions", b"[1"))
    assert (status, code) == (400, "SerializationException")


def test_unknown_paths_and_bad_signatures_answer_in_rest_json(client: TestClient) -> None:
    status, code, message = error_of(send(client, "GET", "/no/such/thing"))
    assert (status, code) == (404, "UnknownOperationException")
    assert "GET /no/such/thing" in message
    status, code, _ = error_of(send(client, "GET", "/workgroups/primary", secret="x" * 40))
    assert (status, code) == (403, "InvalidSignatureException")
    workgroup = send(client, "GET", "/workgroups/primary")
    assert workgroup.status_code == 200 and workgroup.json()["WorkGroup"]["Name"] == "primary"


def test_the_credential_scope_not_the_path_tells_s3_apart(client: TestClient) -> None:
    # A bucket may be named like an Athena path: signed for S3, it is S3's.
    answer = send(client, "GET", "/query-executions", service="s3")
    assert answer.status_code == 404
    assert "<Code>NoSuchBucket</Code>" in answer.text
    # Glue speaks JSON 1.1 only: a rest-json-looking request for it names no operation.
    status, code, _ = error_of(send(client, "GET", "/databases", service="glue"))
    assert (status, code) == (404, "UnknownOperationException")


def test_the_server_knows_athena_rest_json_whatever_botocore_it_runs_with() -> None:
    snapshot = Path(MODELS_DIR, "athena", "2017-05-18")
    assert (snapshot / "service-2.json.gz").is_file()
    assert "rest-json" in service_model("athena").metadata["protocols"]
