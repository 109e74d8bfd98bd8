"""Crawl 10,000 small CSV files in 100 partitions, next to a plain Python loop.

The loop lists the same files and reads the first 64 KiB of each: the least any
crawler must do. The target is a crawl within 3x of that loop. Both run in the same
process on the same tree, taking turns, so the ratio is what counts on a noisy machine.

    .venv/bin/python benchmarks/crawl_many_files.py [--files 10000] [--partitions 100]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from shoal.catalog.store import CatalogStore
from shoal.crawler import crawl_path
from shoal.storage.local import LocalStorage

SAMPLE_BYTES = 64 * 1024
T = TypeVar("T")


def build_tree(root: Path, files: int, partitions: int) -> None:
    rng = random.Random(1)
    per_partition = files // partitions
    for p in range(partitions):
        folder = root / "bench" / "events" / f"dt=2024-{1 + p // 28:02d}-{1 + p % 28:02d}"
        folder.mkdir(parents=True)
        for f in range(per_partition):
            lines = ["id,user,amount,ok"]
            lines += [
                f"{i},user{rng.randrange(100)},{rng.random() * 100:.2f},{rng.random() > 0.5}"
                for i in range(20)
            ]
            (folder / f"part-{f:04d}.csv").write_text("\n".join(lines) + "\n")


def plain_loop(root: Path) -> int:
    count = 0
    for dirpath, _dirs, names in os.walk(root / "bench"):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as handle:
                handle.read(SAMPLE_BYTES)
            count += 1
    return count


@dataclass
class Timing:
    """Best wall-clock and CPU seconds over the attempts of one contender."""

    wall: float = float("inf")
    cpu: float = float("inf")

    def add(self, wall: float, cpu: float) -> None:
        self.wall = min(self.wall, wall)
        self.cpu = min(self.cpu, cpu)


def timed(func: Callable[[], T], timing: Timing) -> T:
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    timing.add(time.perf_counter() - wall, time.process_time() - cpu)
    return result


def crawl_once(storage: LocalStorage, catalog_url: str, partitions: int, timing: Timing) -> None:
    """One crawl into a new catalog; only the crawl itself is timed."""
    store = CatalogStore(catalog_url)
    try:
        run = timed(lambda: crawl_path(store, storage, "s3://bench/events/", "bench"), timing)
    finally:
        store.close()
    assert run.state == "SUCCEEDED", run.error_message
    assert run.partitions_added == partitions, run.partitions_added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    loop, crawl = Timing(), Timing()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lake"
        build_tree(root, args.files, args.partitions)
        storage = LocalStorage(root)
        # Loop and crawl take turns, so on a shared machine both meet the same load.
        for attempt in range(args.repeats):
            timed(lambda: plain_loop(root), loop)
            catalog_url = f"sqlite:///{tmp}/catalog-{attempt}.db"
            crawl_once(storage, catalog_url, args.partitions, crawl)
    files = args.files
    print(f"files: {files} in {args.partitions} partitions (best of {args.repeats})")
    print(f"plain loop (list + read 64 KiB): {loop.wall:.3f} s  {files / loop.wall:,.0f} files/s")
    print(f"shoal crawl (new catalog):       {crawl.wall:.3f} s  {files / crawl.wall:,.0f} files/s")
    # CPU time says whether other processes skewed the wall-clock ratio, the target.
    print(f"cpu seconds: loop {loop.cpu:.3f}, crawl {crawl.cpu:.3f}")
    print(f"ratio crawl / loop: {crawl.wall / loop.wall:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
