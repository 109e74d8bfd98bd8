"""Large objects through ``shoal serve``: throughput and the server's memory, next to a
plain file write and read of the same bytes on the same disk, in one run.

    .venv/bin/python benchmarks/object_transfer.py                  # 2 GiB, and 4 at once
    .venv/bin/python benchmarks/object_transfer.py --size-mib 256   # a quick check

Starts a real ``shoal serve`` (subprocess, free port, temporary data folder on the
disk of ``--dir``) and, on one file of ``--size-mib`` random bytes:

- raw: writes the bytes to a new file on the same disk (1 MiB writes, fsync), then
  reads them back (1 MiB reads), as the floor any server must stand on;
- PutObject: boto3 ``put_object`` with the open file as body (one streamed PUT);
- upload_file: boto3's managed multipart upload (8 MiB parts, 10 threads);
- GetObject: ``get_object`` with the body read 1 MiB at a time into a file;
- download_file: boto3's managed ranged download;
- then ``--concurrent`` PutObjects and as many GetObjects at once (one thread each).

The server's RSS is sampled every 10 ms (``/proc/<pid>/status``); growth is its peak
during a transfer minus its RSS just before, per transfer when several run at once
(target: at most 64 MiB). Throughput is bytes over wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

sys.path.insert(0, str(Path(__file__).parent))
from api_latency import Server, shoal_env, start_server, stop_server  # noqa: E402

MiB = 1024 * 1024
PIECE = MiB


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakRss:
    """The highest RSS of ``pid`` while the block runs (sampled every 10 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.before


def make_source(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // PIECE):
            f.write(os.urandom(PIECE))
        f.write(os.urandom(size % PIECE))


def raw_write_read(source: Path, target: Path) -> tuple[float, float]:
    """Seconds to copy ``source`` to ``target`` (fsynced), then to read ``target``."""
    start = time.perf_counter()
    with open(source, "rb") as src, open(target, "wb") as dst:
        while piece := src.read(PIECE):
            dst.write(piece)
        dst.flush()
        os.fsync(dst.fileno())
    written = time.perf_counter() - start
    start = time.perf_counter()
    with open(target, "rb") as f:
        while f.read(PIECE):
            pass
    return written, time.perf_counter() - start


def get_to_file(s3: Any, key: str, target: Path) -> None:
    body = s3.get_object(Bucket="bench", Key=key)["Body"]
    with open(target, "wb") as f:
        while piece := body.read(PIECE):
            f.write(piece)


def timed(server: Server, action: Callable[[], object]) -> tuple[float, int]:
    with PeakRss(server.proc.pid) as memory:
        start = time.perf_counter()
        action()
        elapsed = time.perf_counter() - start
    return elapsed, memory.growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the files go")
    args = parser.parse_args()
    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="shoal-transfer-", dir=args.dir))
    server = start_server(work / "data", shoal_env(2, "1GB"))
    try:
        run(server, work, size, args.concurrent)
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


def run(server: Server, work: Path, size: int, concurrent: int) -> None:
    source = work / "source.bin"
    make_source(source, size)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="warm", Body=b"w" * MiB)
    get_to_file(s3, "warm", work / "warm.bin")
    raw_write, raw_read = raw_write_read(source, work / "raw-copy.bin")
    (work / "raw-copy.bin").unlink()
    rows = [("raw file write (fsync)", raw_write, 0, 1), ("raw file read", raw_read, 0, 1)]

    def put() -> None:
        with open(source, "rb") as f:
            s3.put_object(Bucket="bench", Key="one", Body=f)

    multipart = TransferConfig(multipart_chunksize=8 * MiB)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("PutObject (one streamed PUT)", put),
        ("upload_file (multipart, 8 MiB parts)",
         lambda: s3.upload_file(str(source), "bench", "multi", Config=multipart)),
        ("GetObject (1 MiB reads)", lambda: get_to_file(s3, "one", work / "got.bin")),
        ("download_file (ranged GETs)",
         lambda: s3.download_file("bench", "multi", str(work / "got.bin"), Config=multipart)),
    ]  # fmt: skip
    for label, action in cases:
        elapsed, growth = timed(server, action)
        rows.append((label, elapsed, growth, 1))
    (work / "got.bin").unlink()
    rows += concurrent_rows(server, source, work, concurrent)
    report(rows, size)


def concurrent_rows(
    server: Server, source: Path, work: Path, concurrent: int
) -> list[tuple[str, float, int, int]]:
    clients = [server.client("s3") for _ in range(concurrent)]

    def put(i: int) -> None:
        with open(source, "rb") as f:
            clients[i].put_object(Bucket="bench", Key=f"c{i}", Body=f)

    def get(i: int) -> None:
        target = work / f"got-{i}.bin"
        get_to_file(clients[i], f"c{i}", target)
        target.unlink()

    rows = []
    for label, action in (("PutObject", put), ("GetObject", get)):
        with ThreadPoolExecutor(concurrent) as pool:
            elapsed, growth = timed(server, lambda a=action: list(pool.map(a, range(concurrent))))
        rows.append((f"{concurrent} x {label} at once", elapsed, growth, concurrent))
    return rows


def report(rows: list[tuple[str, float, int, int]], size: int) -> None:
    raw_write, raw_read = rows[0][1], rows[1][1]
    print(f"object size: {size / MiB:,.0f} MiB")
    print("| transfer | time | throughput | vs raw | server RSS growth per transfer |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, elapsed, growth, count in rows:
        throughput = size * count / elapsed / MiB
        floor = (
            raw_read if ("Get" in label or "download" in label or "read" in label) else raw_write
        )
        ratio = elapsed / count / floor
        memory = "–" if label.startswith("raw") else f"{growth / count / MiB:.1f} MiB"
        print(f"| {label} | {elapsed:.2f} s | {throughput:,.0f} MiB/s | {ratio:.2f}x | {memory} |")


if __name__ == "__main__":
    main()
