"""Request bodies against a real ``shoal serve``: nothing held for a stranger, no wait
for a body that never comes, bounded memory under a burst, object data streamed and
checked before it is committed.

Each test starts its own server: they change its settings and measure its memory.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .rawhttp import (
    STREAMING_SIGNED,
    Answer,
    chunk_signature,
    connect,
    read_answer,
    rss_bytes,
    signed_head,
    signing_key,
)
from .server import ShoalServer, served

MiB = 1024 * 1024
JSON_TARGET = {
    "X-Amz-Target": "AmazonAthena.StartQueryExecution",
    "Content-Type": "application/x-amz-json-1.1",
}
QUERY = json.dumps({"QueryString": "SELECT 1"}).encode()


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ShoalServer]:
    """A server of its own; ``@pytest.mark.parametrize("server", [{...}], indirect=True)``
    passes settings."""
    settings = getattr(request, "param", None) or {}
    with served(tmp_path / "data", settings=settings) as started:
        yield started


def _warm_up(server: ShoalServer) -> None:
    """Bring the server to its working size (imports, pools, the first query)."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="warm")
    s3.put_object(Bucket="warm", Key="k", Body=b"x" * MiB)
    s3.get_object(Bucket="warm", Key="k")["Body"].read()
    athena = server.client("athena")
    athena.start_query_execution(
        QueryString="SELECT 1", ResultConfiguration={"OutputLocation": "s3://warm/r/"}
    )


def _send_stalled(server: ShoalServer, head: bytes, size: int) -> socket.socket:
    """Send ``head`` and ``size`` bytes of body, then nothing more."""
    sock = connect(server)
    sock.sendall(head)
    sock.sendall(b" " * size)
    return sock


# -- nothing buffered for a stranger ------------------------------------------------------


@pytest.mark.parametrize(
    "server", [{"BODY_TIMEOUT_SECONDS": "5", "BODY_BYTES_IN_FLIGHT": str(64 * MiB)}], indirect=True
)
def test_stalled_uploads_leave_memory_bounded(server: ShoalServer) -> None:
    """40 connections each send 15 MiB of a body and stall: with an unknown access key
    the server holds none of it; with a known key and a wrong signature it holds at
    most ``body_bytes_in_flight`` (64 MiB here) and refuses the rest with 503. Memory
    returns to its baseline once they are gone.

    Bounds, over the RSS after a first burst of 40 connections (the server's own
    working set for them): strangers, at most 16 MiB; known key, at most 64 MiB (the
    budget) + 48 MiB; after each round, at most 24 MiB, and a second round the same.
    """
    _warm_up(server)
    pid = server.proc.pid
    declared = {**JSON_TARGET, "Content-Length": str(16 * MiB)}
    stranger, _ = signed_head(
        server, "POST", "/", "athena", declared, QUERY, key_id="AKIANOSUCHKEY0000000"
    )
    forged, _ = signed_head(server, "POST", "/", "athena", declared, QUERY)

    def burst(head: bytes) -> tuple[int, list[int]]:
        """40 stalled uploads: the server's peak RSS while they stall, their answers."""
        socks = [_send_stalled(server, head, 15 * MiB) for _ in range(40)]
        time.sleep(0.5)
        peak = rss_bytes(pid)
        statuses = []
        for sock in socks:
            sock.settimeout(15)
            statuses.append(read_answer(sock).status)
            sock.close()
        return peak, statuses

    burst(stranger)  # the server's working set for 40 connections at once
    baseline = rss_bytes(pid)
    for round_number in range(2):
        peak, statuses = burst(stranger)
        assert statuses == [403] * 40  # refused from the headers alone
        assert peak - baseline <= 16 * MiB, (round_number, baseline, peak)
        peak, statuses = burst(forged)
        # Some held up to the budget and waited for until the body timeout (408), the
        # rest refused once the budget was spent (503).
        assert set(statuses) == {408, 503}, statuses
        assert peak - baseline <= 112 * MiB, (round_number, baseline, peak)
        time.sleep(0.5)
        after = rss_bytes(pid)
        assert after - baseline <= 24 * MiB, (round_number, baseline, peak, after)
    server.client("s3").head_bucket(Bucket="warm")  # still serving


def test_declared_length_over_the_limit_is_refused_at_once(server: ShoalServer) -> None:
    """A signed request declaring 2 GiB (JSON: limit 16 MiB) or 100 GiB (S3: 5 GiB) with
    a short body is answered 413 within a second, in its protocol's shape."""
    cases = [
        ("POST", "/", "athena", {**JSON_TARGET, "Content-Length": str(2 * 1024 * MiB)}),
        ("PUT", "/warm/big", "s3", {"Content-Length": str(100 * 1024 * 1024 * MiB),
                                    "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}),
    ]  # fmt: skip
    server.client("s3").create_bucket(Bucket="warm")
    for method, path, service, headers in cases:
        head, _ = signed_head(server, method, path, service, headers, QUERY)
        sock = connect(server, timeout=5)
        began = time.monotonic()
        sock.sendall(head + QUERY)
        answer = read_answer(sock)
        elapsed = time.monotonic() - began
        sock.close()
        assert answer.status == 413 and elapsed < 1.0, (path, answer, elapsed)
        if service == "s3":
            assert b"<Code>EntityTooLarge</Code>" in answer.body
        else:
            assert json.loads(answer.body)["__type"] == "EntityTooLarge"
    with pytest.raises(Exception, match="404|Not Found"):
        server.client("s3").head_object(Bucket="warm", Key="big")


@pytest.mark.parametrize("server", [{"BODY_TIMEOUT_SECONDS": "1"}], indirect=True)
def test_a_body_that_stops_arriving_ends_the_request(server: ShoalServer) -> None:
    """A body that stalls for body_timeout_seconds (1 s here) gets 408 RequestTimeout,
    JSON and S3 alike, and an S3 PUT so cut short stores nothing."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="slow")
    json_head, _ = signed_head(
        server, "POST", "/", "athena", {**JSON_TARGET, "Content-Length": str(100_000)}, QUERY
    )
    s3_headers = {"Content-Length": str(2 * 1024 * MiB), "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    s3_head, _ = signed_head(server, "PUT", "/slow/object", "s3", s3_headers)
    answers: list[tuple[Answer, float]] = []
    for head in (json_head, s3_head):
        sock = connect(server, timeout=10)
        began = time.monotonic()
        sock.sendall(head + b"x" * 70_000)  # more than comes with the headers, then nothing
        answer = read_answer(sock)
        answers.append((answer, time.monotonic() - began))
        sock.close()
    (json_answer, json_wait), (s3_answer, s3_wait) = answers
    assert json_answer.status == 408 and 0.9 <= json_wait < 5, (json_answer, json_wait)
    assert json.loads(json_answer.body)["__type"] == "RequestTimeout"
    assert s3_answer.status == 408 and 0.9 <= s3_wait < 5, (s3_answer, s3_wait)
    assert b"<Code>RequestTimeout</Code>" in s3_answer.body
    assert s3.list_objects_v2(Bucket="slow").get("KeyCount") == 0
    assert not list((server.lake / ".shoal-staging").iterdir())


# -- aws-chunked bodies, checked as they stream ----------------------------------------------


def _chunked_put(
    server: ShoalServer, path: str, chunks: list[bytes], forge: int | None = None
) -> Answer:
    """PUT ``chunks`` as a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body; chunk ``forge``
    (an index) carries a wrong signature."""
    framed_size = 0
    total = sum(len(c) for c in chunks)
    for data in [*chunks, b""]:
        framed_size += len(f"{len(data):x};chunk-signature=".encode()) + 64 + 2 + len(data) + 2
    headers = {
        "X-Amz-Content-SHA256": STREAMING_SIGNED,
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(total),
        "Content-Length": str(framed_size),
    }
    head, request = signed_head(server, "PUT", path, "s3", headers)
    key = signing_key(server.secret_access_key, request)
    previous = request.headers["Authorization"].split("Signature=")[1]
    sock = connect(server)
    sock.sendall(head)
    for i, data in enumerate([*chunks, b""]):
        previous = chunk_signature(key, request, previous, data)
        shown = "0" * 64 if i == forge else previous
        sock.sendall(f"{len(data):x};chunk-signature={shown}\r\n".encode() + data + b"\r\n")
    answer = read_answer(sock)
    sock.close()
    return answer


def test_chunked_upload_with_a_bad_chunk_signature_stores_nothing(server: ShoalServer) -> None:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="chunks")
    chunks = [bytes([65 + i]) * (3 * MiB) for i in range(3)]  # 9 MiB in three chunks
    bad = _chunked_put(server, "/chunks/forged", chunks, forge=1)
    assert bad.status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in bad.body, bad
    with pytest.raises(Exception, match="404|Not Found"):
        s3.head_object(Bucket="chunks", Key="forged")
    assert not list((server.lake / ".shoal-staging").iterdir())
    good = _chunked_put(server, "/chunks/signed", chunks)
    assert good.status == 200, good
    assert s3.get_object(Bucket="chunks", Key="signed")["Body"].read() == b"".join(chunks)


def test_a_large_put_and_get_keep_memory_flat(server: ShoalServer) -> None:
    """A 256 MiB PutObject and GetObject through boto3 raise the server's RSS by at
    most 48 MiB (they used to hold the whole object, twice)."""
    _warm_up(server)
    pid = server.proc.pid
    baseline = rss_bytes(pid)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    data = bytes(range(256)) * (MiB // 256) * 256  # 256 MiB
    s3 = server.client("s3")
    try:
        s3.put_object(Bucket="warm", Key="large", Body=data)
        got = s3.get_object(Bucket="warm", Key="large")["Body"].read()
    finally:
        done.set()
        sampler.join()
    assert got == data
    assert peak[0] - baseline <= 48 * MiB, (baseline, peak[0])


def test_an_early_answer_to_expect_continue_ends_the_connection(server: ShoalServer) -> None:
    """A PutObject awaiting ``100 Continue`` that is answered at once (an empty body and a
    failed If-Match: 404) closes its connection: some clients would take that early
    answer's status for the next response on it."""
    bucket = f"expect-{uuid.uuid4().hex[:12]}"
    server.client("s3").create_bucket(Bucket=bucket)
    head, _ = signed_head(
        server,
        "PUT",
        f"/{bucket}/k",
        "s3",
        {"Expect": "100-continue", "If-Match": "*", "Content-Length": "0"},
    )
    with connect(server) as sock:
        sock.sendall(head)
        answer = read_answer(sock)
    assert answer.status == 404
    assert answer.headers.get("connection") == "close"
