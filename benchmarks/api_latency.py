"""API overhead of ``shoal serve``: a trivial query through boto3 next to a bare HTTP
round trip, and TPC-H through PyAthena next to raw DuckDB, in one run.

    .venv/bin/python benchmarks/api_latency.py                      # latency only
    .venv/bin/python benchmarks/api_latency.py --tpch --scale 1     # and TPC-H SF1

Starts a real ``shoal serve`` (subprocess, free port, temporary data folder) and
measures, on one keep-alive connection each:

- bare: ``GET /healthz`` with ``http.client`` (p50/p90 of ``--bare-runs``);
- the client floor: the same boto3 calls as ``SELECT 1`` answered with canned JSON by
  ``canned_athena.py`` (another process), i.e. what boto3 alone costs;
- ``SELECT 1`` through boto3: StartQueryExecution, GetQueryExecution in a tight loop
  until SUCCEEDED, GetQueryResults (p50/p90 of ``--runs``); the ratio of the p50s is
  the API's overhead (target: under 10x);
- with ``--tpch``: the 22 TPC-H queries over Parquet (data generated and cached by
  ``benchmarks/tpch.py``, hard-linked into the server's lake and crawled), each run
  through PyAthena's default cursor (``fetchall``: rows paged by GetQueryResults,
  1,000 at a time), through its ``PandasCursor`` (``as_pandas``: the result CSV read
  through S3), both with poll interval ``--poll``, and on a plain DuckDB connection
  with views over the same files (``fetchall``), alternately, best of ``--repeat``,
  same threads and memory limit (target: total within 1.15x).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parent))
import tpch  # noqa: E402  (the TPC-H data, queries and raw-DuckDB side)

KEY_ID = "AKIABENCHMARK0000001"
SECRET = "benchmarkSecret00000000000000000000000000"
REGION = "us-east-1"
LISTENING = "shoal listening on "


@dataclass
class Server:
    url: str
    data_dir: Path
    proc: subprocess.Popen[str]

    def client(self, service: str) -> Any:
        return client(self.url, service)


def client(url: str, service: str) -> Any:
    """A boto3 client of ``service`` at ``url``, with the benchmark's key, no retries."""
    return boto3.session.Session().client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}),
    )


def shoal_env(threads: int, memory: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOAL_", "AWS_"))}
    env.update(
        SHOAL_ROOT_ACCESS_KEY_ID=KEY_ID,
        SHOAL_ROOT_SECRET_ACCESS_KEY=SECRET,
        SHOAL_ENGINE_THREADS=str(threads),
        SHOAL_ENGINE_MEMORY_LIMIT=memory,
    )
    return env


def shoal_cli(data_dir: Path, *args: str, env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "shoal.cli", "--data", str(data_dir), *args]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


def start_server(data_dir: Path, env: dict[str, str]) -> Server:
    cmd = [sys.executable, "-m", "shoal.cli", "--data", str(data_dir), "serve", "--port", "0",
           "--log-level", "warning"]  # fmt: skip
    log = open(data_dir.parent / "server.log", "w")  # noqa: SIM115 (lives with the server)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(LISTENING):
            url = line[len(LISTENING) :].strip()
            break
    else:
        raise RuntimeError(f"shoal serve exited with {proc.wait()}; see {log.name}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            bare_round_trips(url, 1)
            return Server(url, data_dir, proc)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("shoal serve did not answer /healthz")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bare_round_trips(url: str, runs: int, fresh: bool = False) -> list[float]:
    """Seconds per ``GET /healthz`` on one keep-alive connection (or a new one each)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    times = []
    for _ in range(runs):
        if fresh:
            conn.close()
        start = time.perf_counter()
        conn.request("GET", "/healthz")
        answer = conn.getresponse()
        answer.read()
        times.append(time.perf_counter() - start)
        if answer.status != 200:
            raise RuntimeError(f"/healthz answered {answer.status}")
    conn.close()
    return times


def select_one(athena: Any, calls: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """One ``SELECT 1`` through the Athena API; its server-side statistics.

    With ``calls``, the seconds of each call are appended to ``calls[operation]``.
    """
    timed_call = _timer(calls)
    start = athena.start_query_execution
    query_id = timed_call("StartQueryExecution", start, QueryString="SELECT 1")["QueryExecutionId"]
    while True:  # tight loop: the poll interval is the client's choice, not shoal's
        execution = timed_call(
            "GetQueryExecution", athena.get_query_execution, QueryExecutionId=query_id
        )["QueryExecution"]
        state = execution["Status"]["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"SELECT 1 {state}: {execution['Status']}")
    results = timed_call("GetQueryResults", athena.get_query_results, QueryExecutionId=query_id)
    rows = results["ResultSet"]["Rows"]
    assert rows[-1]["Data"][0]["VarCharValue"] == "1", rows
    stats: dict[str, Any] = execution["Statistics"]
    return stats


def _timer(calls: dict[str, list[float]] | None) -> Callable[..., Any]:
    def timed_call(operation: str, call: Callable[..., Any], **params: Any) -> Any:
        start = time.perf_counter()
        answer = call(**params)
        if calls is not None:
            calls.setdefault(operation, []).append(time.perf_counter() - start)
        return answer

    return timed_call


def client_floor(runs: int) -> float:
    """p50 seconds of the ``SELECT 1`` calls against ``canned_athena.py`` (canned JSON,
    another process): boto3's own cost, which no server can go under."""
    script = Path(__file__).parent / "canned_athena.py"
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("listening on ")
        athena = client(url, "athena")
        select_one(athena)  # warm
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            select_one(athena)
            times.append(time.perf_counter() - start)
        return percentile(times, 0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def latency(server: Server, runs: int, bare_runs: int) -> dict[str, float]:
    floor = client_floor(runs)
    bare = bare_round_trips(server.url, bare_runs)
    fresh = bare_round_trips(server.url, max(20, bare_runs // 4), fresh=True)
    athena = server.client("athena")
    select_one(athena)  # warm: connection, work group, engine
    times, totals = [], []
    calls: dict[str, list[float]] = {}
    for _ in range(runs):
        start = time.perf_counter()
        stats = select_one(athena, calls)
        times.append(time.perf_counter() - start)
        totals.append(stats["TotalExecutionTimeInMillis"] / 1000)
    figures = {
        "floor_p50": floor,
        "bare_p50": percentile(bare, 0.5),
        "bare_p90": percentile(bare, 0.9),
        "fresh_p50": percentile(fresh, 0.5),
        "select_p50": percentile(times, 0.5),
        "select_p90": percentile(times, 0.9),
        "server_total_p50": percentile(totals, 0.5),
    }
    print(
        f"bare GET /healthz (keep-alive) p50 {figures['bare_p50'] * 1000:8.2f} ms  "
        f"p90 {figures['bare_p90'] * 1000:8.2f} ms  ({bare_runs} runs)\n"
        f"bare GET /healthz (new conn.)  p50 {figures['fresh_p50'] * 1000:8.2f} ms\n"
        f"SELECT 1 via boto3 (start, poll, results) p50 {figures['select_p50'] * 1000:8.2f} ms"
        f"  p90 {figures['select_p90'] * 1000:8.2f} ms  ({runs} runs)\n"
        f"  server TotalExecutionTime p50 {figures['server_total_p50'] * 1000:.1f} ms\n"
        f"the same boto3 calls answered with canned JSON (client floor) p50 "
        f"{floor * 1000:8.2f} ms = {floor / figures['bare_p50']:.1f}x bare",
        flush=True,
    )
    for operation, seconds in calls.items():
        print(
            f"  {operation:<20} p50 {percentile(seconds, 0.5) * 1000:7.2f} ms  "
            f"p90 {percentile(seconds, 0.9) * 1000:7.2f} ms  ({len(seconds) / runs:.2f} per query)",
            flush=True,
        )
    print(
        f"ratio SELECT 1 / bare (p50): {figures['select_p50'] / figures['bare_p50']:.1f}x"
        f"  (target < 10x); shoal's share, SELECT 1 minus the client floor: "
        f"{(figures['select_p50'] - floor) * 1000:.2f} ms = "
        f"{(figures['select_p50'] - floor) / figures['bare_p50']:.1f}x bare",
        flush=True,
    )
    return figures


def link_tree(source: Path, target: Path) -> None:
    """Hard-link (or copy, across file systems) every file of ``source`` into ``target``."""
    for path in source.rglob("*"):
        if path.is_file():
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except OSError:
                shutil.copy2(path, dest)


def prepare_tpch(data_dir: Path, scale: float, env: dict[str, str]) -> Path:
    """Generate (cached) TPC-H Parquet, put it in the server's lake, crawl it."""
    root = tpch.DATA / f"sf{scale:g}"
    start = time.perf_counter()
    tpch.generate(root, scale)
    link_tree(root / "tpch-parquet", data_dir / "lake" / "tpch-parquet")
    shoal_cli(data_dir, "crawl", "s3://tpch-parquet/", "--database", "tpch_parquet", env=env)
    print(f"TPC-H SF{scale:g} ready and crawled in {time.perf_counter() - start:.1f} s",
          flush=True)  # fmt: skip
    return root


def raw_duckdb(data_dir: Path, root: Path, threads: int, memory: str) -> Any:
    """tpch.py's raw side: plain DuckDB views over the same Parquet files."""
    from shoal.catalog.store import CatalogStore
    from shoal.storage.local import LocalStorage

    catalog = CatalogStore(f"sqlite:///{data_dir / 'catalog.db'}")
    lake = tpch.Lake(catalog, LocalStorage(root), root, data_dir)
    return tpch.raw_connection(lake, "parquet", threads, memory)


@dataclass(frozen=True)
class Measured:
    """One query through one cursor: its best wall time, raw DuckDB's, and the least
    CPU time the client process spent on it (boto3, PyAthena, pandas: the server and
    its engine run in another process), which no server can take away."""

    wall: float
    raw: float
    client_cpu: float


def tpch_run(
    server: Server, raw: Any, repeat: int, poll: float, bucket: str
) -> dict[str, list[Measured]]:
    """Each query through PyAthena's default cursor (rows paged by GetQueryResults) and
    its PandasCursor (the result file read through S3), next to raw DuckDB."""
    import pyathena
    from pyathena.pandas.cursor import PandasCursor

    os.environ["AWS_ENDPOINT_URL"] = server.url  # PandasCursor's S3 reads go to shoal
    conn = pyathena.connect(
        s3_staging_dir=f"s3://{bucket}/pyathena/",
        region_name=REGION,
        endpoint_url=server.url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        schema_name="tpch_parquet",
        poll_interval=poll,
    )
    cursors = {"default": conn.cursor(), "pandas": conn.cursor(PandasCursor)}
    runs: dict[str, Callable[[str], Any]] = {
        "default": lambda sql: cursors["default"].execute(sql).fetchall(),
        "pandas": lambda sql: cursors["pandas"].execute(sql).as_pandas(),
        "raw": lambda sql: raw.execute(sql).fetchall(),
    }
    results: dict[str, list[Measured]] = {"default": [], "pandas": []}
    for number, sql in enumerate(tpch.queries(), start=1):
        best = dict.fromkeys(runs, float("inf"))
        cpu = dict.fromkeys(runs, float("inf"))
        rows: dict[str, int] = {}
        for _ in range(repeat):  # alternate, so all see the same cache state
            for side, run in runs.items():
                seconds, cpu_seconds, answer = timed(run, sql)
                best[side], rows[side] = min(best[side], seconds), len(answer)
                cpu[side] = min(cpu[side], cpu_seconds)
        if len(set(rows.values())) != 1:
            raise RuntimeError(f"Q{number}: row counts differ: {rows}")
        for cursor in results:
            results[cursor].append(Measured(best[cursor], best["raw"], cpu[cursor]))
        print(
            f"Q{number:02d}  default {best['default'] * 1000:8.1f} ms  pandas "
            f"{best['pandas'] * 1000:8.1f} ms  raw {best['raw'] * 1000:8.1f} ms  ratios "
            f"{best['default'] / best['raw']:5.2f} {best['pandas'] / best['raw']:5.2f}"
            f"  client CPU {cpu['default'] * 1000:6.1f} / {cpu['pandas'] * 1000:6.1f} ms"
            f"  ({rows['raw']} rows)",
            flush=True,
        )
    conn.close()
    return results


def timed(run: Callable[[str], Any], sql: str) -> tuple[float, float, Any]:
    """Wall seconds, this process's CPU seconds, and the answer of ``run(sql)``."""
    start, cpu = time.perf_counter(), time.process_time()
    value = run(sql)
    return time.perf_counter() - start, time.process_time() - cpu, value


def report_tpch(cursor: str, results: list[Measured]) -> None:
    """Totals, and the floor the client alone sets: raw DuckDB plus the client's CPU."""
    shoal = sum(m.wall for m in results)
    raw = sum(m.raw for m in results)
    client = sum(m.client_cpu for m in results)
    print(
        f"TOTAL {cursor:7} cursor {shoal:.2f} s  raw {raw:.2f} s  ratio {shoal / raw:.3f}  "
        f"(target < 1.15; median per-query ratio "
        f"{statistics.median(m.wall / m.raw for m in results):.2f})\n"
        f"      {cursor:7} client CPU {client:.2f} s: even a server answering in no time "
        f"leaves raw + client = {(raw + client) / raw:.3f}x raw",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="SELECT 1 round trips")
    parser.add_argument("--bare-runs", type=int, default=200, help="GET /healthz round trips")
    parser.add_argument("--tpch", action="store_true", help="also TPC-H via PyAthena vs raw")
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="4GB")
    parser.add_argument("--repeat", type=int, default=2, help="runs per query; best counts")
    parser.add_argument("--poll", type=float, default=0.02, help="PyAthena poll interval, s")
    args = parser.parse_args(argv)
    env = shoal_env(args.threads, args.memory)
    with tempfile.TemporaryDirectory(prefix="shoal-bench-") as work:
        data_dir = Path(work) / "data"
        data_dir.mkdir()
        root = prepare_tpch(data_dir, args.scale, env) if args.tpch else None
        raw = raw_duckdb(data_dir, root, args.threads, args.memory) if root else None
        server = start_server(data_dir, env)
        try:
            latency(server, args.runs, args.bare_runs)
            if raw is not None:
                bucket = "bench-results"
                server.client("s3").create_bucket(Bucket=bucket)
                by_cursor = tpch_run(server, raw, args.repeat, args.poll, bucket)
                for cursor, results in by_cursor.items():
                    report_tpch(cursor, results)
        finally:
            stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
