"""Many writers at once: threads on every backend, processes on one SQLite file.

Every writer opens a fresh catalog itself, so the first-open migration races too.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from shoal.catalog.model import Column, Crawler, Database, Partition, StorageDescriptor, Table
from shoal.catalog.store import CatalogStore
from shoal.errors import AlreadyExistsError, ConcurrentModificationError, CrawlerRunningError

WORKERS = 4
# Each spawned interpreter spends seconds importing; three still collide plenty.
PROCESSES = 3
PARTITIONS_EACH = 8


def _table(name: str) -> Table:
    storage = StorageDescriptor(f"s3://lake/{name}/", (Column("id", "bigint"),))
    return Table("lake", name, storage, (Column("n", "int"),))


def _partition(table: str, value: str) -> Partition:
    return Partition("lake", table, (value,), StorageDescriptor(f"s3://lake/{table}/{value}/"))


def write_catalog(url: str, worker: int, ready: Callable[[], object] = lambda: None) -> None:
    """One writer: open the catalog, add a table, then partitions to it and to a shared one.

    ``ready`` blocks until every writer is ready, so that they collide from the start.
    """
    ready()
    with CatalogStore(url) as store:
        for create in (
            lambda: store.create_database(Database("lake")),
            lambda: store.create_table(_table("shared")),
        ):
            try:
                create()
            except AlreadyExistsError:
                pass  # another writer got there first
        store.create_table(_table(f"t{worker}"))
        for i in range(PARTITIONS_EACH):
            store.create_partitions([_partition(f"t{worker}", str(i))])
            store.create_partitions([_partition("shared", str(worker * 100 + i))])
            table = store.get_table("lake", "shared")
            store.update_table(replace(table, description=f"{worker}-{i}"))


def _process_writer(url: str, worker: int, barrier: Any) -> None:
    write_catalog(url, worker, barrier.wait)


def assert_everything_written(url: str, writers: int = WORKERS) -> None:
    with CatalogStore(url) as store:
        names = [t.name for t in store.list_tables("lake")]
        assert names == ["shared"] + [f"t{w}" for w in range(writers)]
        for worker in range(writers):
            assert len(store.list_partitions("lake", f"t{worker}")) == PARTITIONS_EACH
        assert len(store.list_partitions("lake", "shared")) == writers * PARTITIONS_EACH
        # Unconditional updates never lose a version: one per update, plus creation.
        versions = store.list_table_versions("lake", "shared")
        assert [v.version_id for v in versions] == list(range(writers * PARTITIONS_EACH + 1, 0, -1))


def test_processes_write_one_sqlite_catalog(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES, timeout=60)
    processes = [
        context.Process(target=_process_writer, args=(url, w, barrier)) for w in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    # A failing writer prints its traceback and exits with 1.
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    assert_everything_written(url, PROCESSES)


def test_threads_write_one_catalog(catalog_url: str) -> None:
    barrier = threading.Barrier(WORKERS, timeout=60)
    run_all(lambda w: write_catalog(catalog_url, w, barrier.wait))
    assert_everything_written(catalog_url)


def test_threads_share_one_store(store: CatalogStore) -> None:
    store.create_database(Database("lake"))
    store.create_table(_table("shared"))

    def work(worker: int) -> None:
        for i in range(PARTITIONS_EACH):
            store.create_partitions([_partition("shared", str(worker * 100 + i))])
            store.list_partitions("lake", "shared", "n >= 0")

    run_all(work)
    assert len(store.list_partitions("lake", "shared")) == WORKERS * PARTITIONS_EACH


def test_racing_updates_with_one_expected_version(store: CatalogStore) -> None:
    store.create_database(Database("lake"))
    seen = store.create_table(_table("t"))
    barrier = threading.Barrier(WORKERS)

    def update(worker: int) -> str:
        barrier.wait()
        try:
            store.update_table(replace(seen, description=str(worker)), expected_version=1)
        except ConcurrentModificationError:
            return "lost"
        return "won"

    assert sorted(run_all(update)) == ["lost"] * (WORKERS - 1) + ["won"]
    assert store.get_table("lake", "t").version_id == 2


def test_racing_crawler_starts(store: CatalogStore) -> None:
    store.create_crawler(Crawler("nightly", "lake", ()))
    barrier = threading.Barrier(WORKERS)

    def start(worker: int) -> str:
        barrier.wait()
        try:
            store.set_crawler_state("nightly", "READY", "RUNNING")
        except CrawlerRunningError:
            return "refused"
        return "started"

    assert sorted(run_all(start)) == ["refused"] * (WORKERS - 1) + ["started"]


T = TypeVar("T")


def run_all(work: Callable[[int], T]) -> list[T]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(work, range(WORKERS)))
