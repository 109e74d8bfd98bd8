"""Crawl 10,000 small CSV files in 100 partitions, next to a plain Python loop.

The loop lists the same files and reads the first 64 KiB of each: the least any
crawler must do. The target is a crawl within 3x of that loop. Both run in the same
process on the same tree, so the ratio is what counts on a noisy machine.

    .venv/bin/python benchmarks/crawl_many_files.py [--files 10000] [--partitions 100]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from shoal.catalog.store import CatalogStore
from shoal.crawler import crawl_path
from shoal.storage.local import LocalStorage

SAMPLE_BYTES = 64 * 1024


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


def best_of(repeats: int, func: object) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lake"
        build_tree(root, args.files, args.partitions)
        storage = LocalStorage(root)
        loop_s = best_of(args.repeats, lambda: plain_loop(root))
        crawl_times = []
        for attempt in range(args.repeats):
            store = CatalogStore(f"sqlite:///{tmp}/catalog-{attempt}.db")
            start = time.perf_counter()
            run = crawl_path(store, storage, "s3://bench/events/", "bench")
            crawl_times.append(time.perf_counter() - start)
            assert run.state == "SUCCEEDED", run.error_message
            assert run.partitions_added == args.partitions, run.partitions_added
            store.close()
        crawl_s = min(crawl_times)
    print(f"files: {args.files} in {args.partitions} partitions (best of {args.repeats})")
    print(f"plain loop (list + read 64 KiB): {loop_s:.3f} s  {args.files / loop_s:,.0f} files/s")
    print(f"shoal crawl (new catalog):       {crawl_s:.3f} s  {args.files / crawl_s:,.0f} files/s")
    print(f"ratio crawl / loop: {crawl_s / loop_s:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
