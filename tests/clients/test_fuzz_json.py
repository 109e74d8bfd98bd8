"""Hostile and malformed Athena and Glue requests, signed correctly: never a 5xx, every
4xx a ``{"__type", "message"}`` document, and no file outside the data folder.

Requests come from botocore's own service models: a minimal valid body for each
operation, then one mutation (a wrong type, a missing required member, a value past
its limit, an unknown member, a bad enum, a hostile string), plus hand-made cases
that pass validation and carry hostile locations and SQL into the handlers. They are
signed with botocore's SigV4 signer, so they pass authentication and reach the
validators and handlers. The RNG is seeded: a failure names its case and reproduces.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ServiceModel, Shape

from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]

SEED = 20240607
MARK = "shoalfuzz"  # every hostile path names it, so an escaped file is easy to find
CONTENT_TYPE = "application/x-amz-json-1.1"
PREFIXES = {"athena": "AmazonAthena", "glue": "AWSGlue"}
HOSTILE = [
    f"../{MARK}", f"../../../../{MARK}", f"%2e%2e/{MARK}", f"%2e%2e%2f{MARK}", f"..\\{MARK}",
    f"s3://../{MARK}/", f"s3://samples/../../{MARK}/", f"s3://samples/%2e%2e/%2e%2e/{MARK}/",
    f"s3://A_B/{MARK}", f"s3://-bad-/{MARK}", "s3://" + "b" * 70 + f"/{MARK}", f"s3:///{MARK}",
    f"s3://xn--a/{MARK}", f"s3://1.2.3.4/{MARK}", f"/tmp/{MARK}", f"file:///tmp/{MARK}",
    f"{MARK}\x00x", f"s3://samples/{MARK}\x00/", "\x00", f"s3://samples/./{MARK}/../../..",
    "s3://", "s3:/", "s3://samples", f"hdfs://x/{MARK}", "'; DROP TABLE trips; --",
]  # fmt: skip
HOSTILE_SQL = [
    "SELECT * FROM read_csv('/etc/passwd')",
    f"COPY (SELECT 1) TO '/tmp/{MARK}.csv'",
    f"ATTACH '/tmp/{MARK}.db' AS x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    f"SELECT * FROM read_parquet('s3://../{MARK}/*.parquet')",
    f"CREATE TABLE {MARK}_ctas WITH (external_location = 's3://../{MARK}/', format = 'PARQUET')"
    " AS SELECT 1 AS a",
    f"CREATE TABLE {MARK}_ctas2 WITH (external_location = 's3://samples/../../{MARK}/') AS "
    "SELECT 1 AS a",
    f"CREATE EXTERNAL TABLE {MARK}_ext (a int) LOCATION 's3://samples/../../{MARK}/'",
    f"CREATE EXTERNAL TABLE {MARK}_ext2 (a int) LOCATION 'file:///tmp/{MARK}/'",
    f"UNLOAD (SELECT 1 AS a) TO 's3://../{MARK}/' WITH (format = 'PARQUET')",
    f"INSERT INTO {MARK}_ext SELECT 1",
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "SELECT 1; SELECT 2",
    "\x00",
]
NOT_JSON = [
    b"{", b"[]", b"null", b"42", b'"x"', b"\xff\xfe\x00", b"{'a': 1}", b'{"a": 1,}',
    b'{"MaxResults": NaN}', b'{"MaxResults": 1e400}',
    b'{"MaxResults": ' + b"9" * 5000 + b"}", b'{"Name": "a", "Name": {"x": 1}}',
    b"\x00" * 32, b"<xml/>", b"Action=GetCallerIdentity&Version=2011-06-15",
]  # fmt: skip
DEEP = [  # nesting past Python's recursion limit, truncated and complete
    b'{"a":' * 20000, b"[" * 100000, b'{"a":' * 900 + b"1" + b"}" * 900,
    b'{"Name": ' + b"[" * 900 + b"]" * 900 + b"}",
]  # fmt: skip
WRONG_CONTENT_TYPES = [
    "text/plain", "application/json", "application/x-www-form-urlencoded", "", "multipart/x",
]  # fmt: skip
BAD_TARGETS = [
    "AmazonAthena.NoSuchOperation", "AWSGlue.", "AmazonAthena", "Nope.GetTables", ".",
    "AWSGlue.GetTables.Extra", "AmazonAthena.startQueryExecution", "AWSGlue.../x",
    "AmazonAthena.%2e%2e", "AWSGlue." + "A" * 5000,
]  # fmt: skip
FOCUS = {
    "athena": [
        "StartQueryExecution", "GetQueryExecution", "GetQueryResults", "BatchGetQueryExecution",
        "ListQueryExecutions", "StopQueryExecution", "CreateWorkGroup", "GetWorkGroup",
        "UpdateWorkGroup", "CreateNamedQuery", "CreatePreparedStatement", "GetTableMetadata",
        "ListTableMetadata", "GetDatabase", "GetDataCatalog",
    ],
    "glue": [
        "CreateDatabase", "GetDatabase", "CreateTable", "GetTable", "GetTables", "UpdateTable",
        "DeleteTable", "BatchCreatePartition", "GetPartitions", "GetPartition",
        "BatchGetPartition", "CreateCrawler", "StartCrawler", "GetCrawler", "UpdateCrawler",
    ],
}  # fmt: skip
MUTATIONS = ("wrong_type", "missing", "huge", "unknown", "bad_enum", "hostile", "hostile", "range")


@dataclass
class Case:
    """One request to send, and what produced it (for failure messages)."""

    label: str
    service: str
    target: str
    body: bytes
    content_type: str = CONTENT_TYPE


@dataclass
class Answer:
    status: int
    body: bytes


class Client:
    """Keep-alive HTTP to the server; each request signed with SigV4 for its service."""

    def __init__(self, server: ShoalServer) -> None:
        self.server = server
        parts = urlsplit(server.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.credentials = Credentials(server.access_key_id, server.secret_access_key)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def send(self, case: Case) -> Answer:
        headers = {"X-Amz-Target": case.target}
        if case.content_type:
            headers["Content-Type"] = case.content_type
        request = AWSRequest(method="POST", url=self.server.url + "/", data=case.body,
                             headers=headers)  # fmt: skip
        SigV4Auth(self.credentials, case.service, self.server.region).add_auth(request)
        prepared = request.prepare()
        for attempt in range(2):  # the server may close an idle keep-alive connection
            try:
                self.conn.request("POST", "/", body=case.body, headers=dict(prepared.headers))
                response = self.conn.getresponse()
                return Answer(response.status, response.read())
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(self, service: str, operation: str, params: dict[str, Any]) -> Answer:
        body = json.dumps(params).encode()
        return self.send(Case(operation, service, f"{PREFIXES[service]}.{operation}", body))


# -- generation from the models ---------------------------------------------------


class Generator:
    """Minimal valid values for botocore shapes, and one-spot mutations of them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def value(self, shape: Shape, depth: int = 0) -> Any:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            return self.structure(shape, depth)
        if kind == "list":
            count = max(int(meta.get("min", 0)), 1 if depth < 3 else 0)
            return [self.value(shape.member, depth + 1) for _ in range(count)]  # type: ignore[attr-defined]
        if kind == "map":
            if depth >= 3:
                return {}
            return {"k": self.value(shape.value, depth + 1)}  # type: ignore[attr-defined]
        if kind == "string":
            if shape.enum:  # type: ignore[attr-defined]
                return self.rng.choice(shape.enum)  # type: ignore[attr-defined]
            low, high = int(meta.get("min", 1)), int(meta.get("max", 64))
            text = f"{MARK}{self.rng.randrange(10**6)}"
            return (text * (low // len(text) + 1))[: max(low, min(high, len(text)))]
        if kind in ("integer", "long"):
            return max(int(meta.get("min", 1)), 1)
        if kind in ("double", "float"):
            return float(meta.get("min", 1.0))
        if kind == "boolean":
            return False
        if kind == "timestamp":
            return 1_700_000_000
        if kind == "blob":
            return "QUE="
        return {}

    def structure(self, shape: Shape, depth: int) -> dict[str, Any]:
        members = shape.members  # type: ignore[attr-defined]
        if shape.metadata.get("union"):
            name = self.rng.choice(list(members))
            return {name: self.value(members[name], depth + 1)}
        names = list(shape.required_members)
        if depth < 3:  # some optional members too, to reach deeper fields
            names += [n for n in members if n not in names and self.rng.random() < 0.3]
        return {name: self.value(members[name], depth + 1) for name in names}

    def mutate(self, shape: Shape, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """One mutation at a random spot of ``params`` (changed in place and returned)."""
        spots = list(walk(shape, params, ()))
        kind = self.rng.choice(MUTATIONS)
        for _ in range(20):
            spot_shape, container, key = self.rng.choice(spots)
            label = self.apply(kind, spot_shape, container, key)
            if label:
                return label, params
        params["ShoalFuzzUnknownMember"] = 1
        return "unknown member at top", params

    def apply(self, kind: str, shape: Shape, container: Any, key: Any) -> str | None:
        where = f"{kind} at {key!r}"
        current = container[key] if key is not None else container
        meta = shape.metadata
        if kind == "wrong_type":
            wrong = {"string": 7, "integer": "7", "long": [7], "boolean": "true",
                     "double": "1.5", "list": {"a": 1}, "map": ["x"], "structure": "x",
                     "timestamp": "yesterday", "blob": 12}  # fmt: skip
            if key is None or shape.type_name not in wrong:
                return None
            container[key] = wrong[shape.type_name]
        elif kind == "missing":
            if shape.type_name != "structure" or not shape.required_members:
                return None
            current.pop(self.rng.choice(shape.required_members), None)
        elif kind == "huge":
            if key is None or shape.type_name not in ("string", "list"):
                return None
            size = int(meta.get("max", 100_000)) + 1
            if shape.type_name == "string":
                container[key] = "x" * min(size, 2_000_000)
            else:
                item = current[0] if current else "x"
                container[key] = [item] * min(size, 20_000)
        elif kind == "unknown":
            if shape.type_name != "structure":
                return None
            current["ShoalFuzzUnknownMember"] = {"nested": [1, 2]}
        elif kind == "bad_enum":
            if key is None or not getattr(shape, "enum", None):
                return None
            container[key] = "NOT_A_" + str(current)
        elif kind == "hostile":
            if key is None or shape.type_name != "string" or getattr(shape, "enum", None):
                return None
            container[key] = self.rng.choice(HOSTILE)
            where = f"hostile {container[key]!r} at {key!r}"
        elif kind == "range":
            if key is None or shape.type_name not in ("integer", "long", "double"):
                return None
            container[key] = self.rng.choice([-1, 0, 2**63, -(2**63) - 1, 10**30, 1.5])
        return where


def walk(shape: Shape, value: Any, path: tuple[Any, ...]) -> Iterator[tuple[Shape, Any, Any]]:
    """(shape, container, key) of every node; the root has container=value, key=None."""
    if not path:
        yield shape, value, None
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        for name, item in value.items():
            if name in members:
                yield members[name], value, name
                yield from walk(members[name], item, (*path, name))
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            yield shape.member, value, index  # type: ignore[attr-defined]
            yield from walk(shape.member, item, (*path, index))  # type: ignore[attr-defined]


def model_cases(rng: random.Random, count: int) -> list[Case]:
    session = botocore.session.get_session()
    generator = Generator(rng)
    cases: list[Case] = []
    models: dict[str, ServiceModel] = {s: session.get_service_model(s) for s in PREFIXES}
    for index in range(count):
        service = "athena" if index % 2 else "glue"
        model = models[service]
        names = FOCUS[service] if rng.random() < 0.7 else list(model.operation_names)
        operation = rng.choice(names)
        shape = model.operation_model(operation).input_shape
        if shape is None:
            continue
        label, params = generator.mutate(shape, generator.value(shape))
        body = json.dumps(params).encode()
        cases.append(Case(f"{operation}: {label}", service, f"{PREFIXES[service]}.{operation}",
                          body))  # fmt: skip
    return cases


def protocol_cases(rng: random.Random) -> list[Case]:
    cases = []
    for body in NOT_JSON:
        service = rng.choice(list(PREFIXES))
        operation = "GetTables" if service == "glue" else "ListWorkGroups"
        target = f"{PREFIXES[service]}.{operation}"
        cases.append(Case(f"not JSON {body[:20]!r}", service, target, body))
    for content_type in WRONG_CONTENT_TYPES:
        body = json.dumps({"DatabaseName": "sample"}).encode()
        cases.append(Case(f"content type {content_type!r}", "glue", "AWSGlue.GetTables", body,
                          content_type))  # fmt: skip
    for target in BAD_TARGETS:
        service = "glue" if target.startswith("AWSGlue") else "athena"
        cases.append(Case(f"target {target[:40]!r}", service, target, b"{}"))
    # signed for one service, addressed to the other
    cases.append(Case("scope mismatch", "athena", "AWSGlue.GetDatabases", b"{}"))
    huge = json.dumps({"QueryString": "SELECT 1 " + " " * (17 * 1024 * 1024)}).encode()
    cases.append(Case("17 MB body", "athena", "AmazonAthena.StartQueryExecution", huge))
    return cases


def hostile_cases(rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """Requests that pass validation and carry hostile values into the handlers: each
    hostile location goes through a seeded half of the calls that store or use one."""
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("glue", "CreateDatabase", {"DatabaseInput": {"Name": f"{MARK}_db"}}),
    ]
    for i, location in enumerate(HOSTILE):
        group: list[tuple[str, str, dict[str, Any]]] = [
            ("glue", "CreateDatabase",
             {"DatabaseInput": {"Name": f"{MARK}_loc{i}", "LocationUri": location}}),
            ("glue", "CreateTable", {"DatabaseName": f"{MARK}_db", "TableInput": {
                "Name": f"t{i}", "StorageDescriptor": {
                    "Location": location, "Columns": [{"Name": "a", "Type": "int"}]},
                "PartitionKeys": [{"Name": "p", "Type": "string"}]}}),
            ("glue", "BatchCreatePartition", {
                "DatabaseName": f"{MARK}_db", "TableName": f"t{i}",
                "PartitionInputList": [{"Values": [location[:1024] or "x"],
                                        "StorageDescriptor": {"Location": location}}]}),
            ("glue", "CreateCrawler", {"Name": f"{MARK}_crawler{i}", "Role": "r",
                                       "DatabaseName": f"{MARK}_db",
                                       "Targets": {"S3Targets": [{"Path": location}]}}),
            ("glue", "StartCrawler", {"Name": f"{MARK}_crawler{i}"}),
            ("athena", "StartQueryExecution", {
                "QueryString": "SELECT 1 AS a",
                "ResultConfiguration": {"OutputLocation": location}}),
            ("athena", "CreateWorkGroup", {
                "Name": f"{MARK}_wg{i}",
                "Configuration": {"ResultConfiguration": {"OutputLocation": location}}}),
            ("athena", "StartQueryExecution", {"QueryString": "SELECT 2 AS b",
                                               "WorkGroup": f"{MARK}_wg{i}"}),
            ("athena", "StartQueryExecution", {
                "QueryString": f"SELECT * FROM t{i}",
                "QueryExecutionContext": {"Database": f"{MARK}_db"}}),
            ("athena", "GetTableMetadata", {"CatalogName": "AwsDataCatalog",
                                            "DatabaseName": location[:128] or "x",
                                            "TableName": location[:128] or "x"}),
            ("athena", "GetQueryResults", {"QueryExecutionId": location[:128] or "x"}),
        ]  # fmt: skip
        # Keep the order (a crawler is created before it is started), drop half.
        calls += [call for call in group if rng.random() < 0.5]
    for sql in HOSTILE_SQL:
        calls.append(("athena", "StartQueryExecution", {
            "QueryString": sql, "QueryExecutionContext": {"Database": "sample"},
        }))  # fmt: skip
        calls.append(("athena", "StartQueryExecution", {
            "QueryString": "SELECT ?", "ExecutionParameters": [sql[:1024]],
        }))  # fmt: skip
    return calls


# -- checks -----------------------------------------------------------------------


def check_answer(case: Case, answer: Answer) -> str | None:
    """Why ``answer`` is wrong for ``case``, or None."""
    if answer.status >= 500:
        return f"{answer.status}: {answer.body[:300]!r}"
    if answer.status >= 400:
        try:
            body = json.loads(answer.body)
        except ValueError:
            return f"{answer.status} with a non-JSON body {answer.body[:200]!r}"
        if not isinstance(body, dict) or set(body) != {"__type", "message"}:
            return f"{answer.status} with body {body!r:.300}"
        if not all(isinstance(body[k], str) and body[k] for k in ("__type", "message")):
            return f"{answer.status} with empty or non-string fields {body!r:.300}"
    return None


def escaped_files(server: ShoalServer) -> list[str]:
    """Files named after the fuzz marker anywhere near the server but outside its data."""
    data = server.data_dir.resolve()
    roots = [data.parent.parent, Path("/tmp"), Path.cwd(), Path.home()]
    found = []
    for root in roots:
        pattern = "*" if root in (Path("/tmp"), Path.home()) else "**/*"
        for path in root.glob(f"{pattern}{MARK}*"):
            if not path.resolve().is_relative_to(data):
                found.append(str(path))
    return sorted(found)


def outside_links(server: ShoalServer) -> list[str]:
    """Anything in the data folder that resolves to a place outside it."""
    data = server.data_dir.resolve()
    bad = []
    for folder, dirs, files in os.walk(data):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink() or not path.resolve().is_relative_to(data):
                bad.append(str(path))
    return bad


def wait_for_queries(client: Client, ids: list[str], timeout: float = 15.0) -> None:
    """Let started queries finish, so whatever they would write has been written."""
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        answer = client.call("athena", "BatchGetQueryExecution",
                             {"QueryExecutionIds": pending[:50]})  # fmt: skip
        if answer.status != 200:
            return
        states = {
            q["QueryExecutionId"]: q["Status"]["State"]
            for q in json.loads(answer.body).get("QueryExecutions", [])
        }
        pending = [q for q in pending if states.get(q) in ("QUEUED", "RUNNING")]
        if pending:
            time.sleep(0.1)


def test_fuzz_json_requests(sample_server: ShoalServer) -> None:
    rng = random.Random(SEED)
    client = Client(sample_server)
    parents_before = set(sample_server.data_dir.parent.iterdir())
    assert not escaped_files(sample_server)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    started: list[str] = []
    began = time.monotonic()
    cases = protocol_cases(rng) + model_cases(rng, 200)
    for case in cases:
        answer = client.send(case)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        problem = check_answer(case, answer)
        if problem:
            failures.append(f"{case.label} [{case.target[:60]}]: {problem}")
    for service, operation, params in hostile_cases(rng):
        answer = client.call(service, operation, params)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        case = Case(f"hostile {operation} {json.dumps(params)[:200]}", service, operation, b"")
        problem = check_answer(case, answer)
        if problem:
            failures.append(f"{case.label}: {problem}")
        elif answer.status == 200 and operation == "StartQueryExecution":
            started.append(json.loads(answer.body)["QueryExecutionId"])
    wait_for_queries(client, started)
    elapsed = time.monotonic() - began
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:40])
    assert set(statuses) - {200} and all(s < 500 for s in statuses), statuses
    assert not escaped_files(sample_server)
    assert not outside_links(sample_server)
    assert set(sample_server.data_dir.parent.iterdir()) == parents_before
    assert elapsed < 60, f"fuzzing took {elapsed:.1f} s"
    # The server is still healthy and still answers real work.
    answer = client.call("glue", "GetDatabase", {"Name": "sample"})
    assert answer.status == 200, answer.body


@pytest.mark.parametrize("body", DEEP, ids=["object-truncated", "list-truncated",
                                            "object-900", "list-900"])  # fmt: skip
def test_deeply_nested_json_is_a_4xx(sample_server: ShoalServer, body: bytes) -> None:
    client = Client(sample_server)
    for service, target in (
        ("glue", "AWSGlue.GetDatabase"),
        ("athena", "AmazonAthena.GetWorkGroup"),
    ):
        case = Case("deep", service, target, body)
        answer = client.send(case)
        problem = check_answer(case, answer)
        assert problem is None, problem
        assert answer.status == 400


# -- bodies: declared sizes, payload hashes, 100-continue -------------------------------

BODY_CASES = [
    # (label, extra headers, body sent, expected status, expected __type)
    ("declared 2 GiB", {"Content-Length": str(2 * 1024**3)}, b"{}", 413, "EntityTooLarge"),
    ("declared 17 MiB", {"Content-Length": str(17 * 1024**2)}, b"{}", 413, "EntityTooLarge"),
    ("payload mode unknown", {"X-Amz-Content-SHA256": "nonsense"}, b"{}", 400,
     "IncompleteSignatureException"),
    ("declared hash wrong", {"X-Amz-Content-SHA256": "0" * 64}, b"{}", 400,
     "InvalidSignatureException"),
    ("Content-Length not a number", {"X-Amz-Decoded-Content-Length": "x"}, b"{}", 400,
     "InvalidArgument"),
    ("100-continue, 100 KB", {"Expect": "100-continue"},
     b'{"MaxResults": 5' + b" " * 100_000 + b"}", 200, ""),
]  # fmt: skip


@pytest.mark.parametrize("case", BODY_CASES, ids=[c[0] for c in BODY_CASES])
def test_json_bodies_are_bounded(
    sample_server: ShoalServer, case: tuple[str, dict[str, str], bytes, int, str]
) -> None:
    """Refused from the headers where they allow it (413 at once, before the body),
    in the JSON 1.1 shape; a body after 100-continue is read once the key is known."""
    from .rawhttp import connect, read_answer, signed_head

    label, extra, body, status, code = case
    headers = {"X-Amz-Target": "AmazonAthena.ListWorkGroups", "Content-Type": CONTENT_TYPE}
    head, _ = signed_head(sample_server, "POST", "/", "athena", {**headers, **extra}, body)
    sock = connect(sample_server, timeout=10)
    sock.sendall(head)
    if "Expect" in extra:
        interim = sock.recv(100)
        assert interim.startswith(b"HTTP/1.1 100"), interim
    sock.sendall(body)
    answer = read_answer(sock)
    sock.close()
    assert answer.status == status, (label, answer)
    if status == 200:
        assert "WorkGroups" in json.loads(answer.body), answer
    else:
        assert json.loads(answer.body)["__type"] == code, (label, answer)
