"""Crawl runs: list, sample, group, reconcile — and record what happened.

A run is recorded (``store.save_run``) when it starts and when it ends. A defined
crawler moves READY -> RUNNING -> READY with compare-and-set, so two runs of one
crawler never overlap (``CrawlerRunningError``). Bad files never fail a run: they
are skipped and logged. Anything unexpected fails the run with its message, and
the crawler is made READY again. A ``stop`` callable lets a caller cancel a run
cooperatively: it is asked between targets and before the catalog is touched, and a
run stopped there ends CANCELLED with the catalog unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from shoal.catalog.model import (
    CRAWL_NEW_FOLDERS_ONLY,
    LOG,
    RUN_CANCELLED,
    RUN_FAILED,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    Crawler,
    CrawlRun,
    CrawlTarget,
    Database,
    SchemaChangePolicy,
    Table,
)
from shoal.catalog.store import CatalogStore
from shoal.crawler.grouping import group_files
from shoal.crawler.incremental import split_known
from shoal.crawler.listing import ReadTally, list_target, sample_files, target_prefix
from shoal.crawler.reconcile import CatalogSync, existing_tables, owned_tables
from shoal.crawler.tables import DesiredTable, build_table, folder_uri
from shoal.errors import CrawlerRunningError, EntityNotFoundError
from shoal.storage.base import Storage, parse_uri

READY = "READY"
RUNNING = "RUNNING"
STOPPING = "STOPPING"

StopCheck = Callable[[], bool]
"""Asked at safe points of a run; True cancels it."""


class _Stopped(Exception):
    """Raised inside a run when its stop check says so."""


@dataclass
class _Crawl:
    """One run in progress: its record, log and tallies."""

    run: CrawlRun
    log_lines: list[str] = field(default_factory=list)
    tally: ReadTally = field(default_factory=ReadTally)

    def log(self, line: str) -> None:
        self.log_lines.append(line)


def run_crawler(
    store: CatalogStore,
    storage: Storage,
    crawler: Crawler,
    dry_run: bool = False,
    stop: StopCheck | None = None,
) -> CrawlRun:
    """Run a defined crawler once and return its finished run record.

    Raises CrawlerRunningError when the crawler is already running. A dry run
    leaves the crawler's state and the catalog untouched (its run record is saved
    with ``dry_run=True``). ``stop`` cancels the run when it returns True.
    """
    if dry_run:
        return _execute(store, storage, crawler, dry_run, stop)
    store.set_crawler_state(crawler.name, READY, RUNNING)
    return run_claimed_crawler(store, storage, crawler, stop)


def run_claimed_crawler(
    store: CatalogStore, storage: Storage, crawler: Crawler, stop: StopCheck | None = None
) -> CrawlRun:
    """Run a crawler the caller already moved from READY to RUNNING; make it READY after.

    For callers that must claim the crawler before handing the run to a thread.
    """
    try:
        return _execute(store, storage, crawler, False, stop)
    finally:
        _release(store, crawler.name)


def _release(store: CatalogStore, name: str) -> None:
    """READY again, from RUNNING or from STOPPING (a stop request that came too late)."""
    try:
        store.set_crawler_state(name, RUNNING, READY)
    except CrawlerRunningError:
        store.set_crawler_state(name, STOPPING, READY)


def crawl_path(
    store: CatalogStore,
    storage: Storage,
    path: str,
    database: str,
    table_prefix: str = "",
    dry_run: bool = False,
    *,
    exclusions: Sequence[str] = (),
    sample_size: int | None = None,
    schema_change_policy: SchemaChangePolicy | None = None,
) -> CrawlRun:
    """Crawl one ``s3://bucket/prefix`` path ad hoc into ``database`` (created if missing).

    Without a stored crawler the run has ``crawler=None`` and tables carry no
    ``UPDATED_BY_CRAWLER``; vanished tables are only logged unless
    ``schema_change_policy`` says otherwise.
    """
    policy = schema_change_policy or SchemaChangePolicy(delete_behavior=LOG)
    target = CrawlTarget(path, tuple(exclusions), sample_size)
    crawler = Crawler(
        name="",
        database=database,
        targets=(target,),
        table_prefix=table_prefix,
        schema_change_policy=policy,
    )
    return _execute(store, storage, crawler, dry_run)


def _execute(
    store: CatalogStore,
    storage: Storage,
    crawler: Crawler,
    dry_run: bool,
    stop: StopCheck | None = None,
) -> CrawlRun:
    name = crawler.name or None
    start = datetime.now(UTC)
    crawl = _Crawl(CrawlRun(uuid.uuid4().hex, name, RUN_RUNNING, start, dry_run=dry_run))
    store.save_run(crawl.run)
    try:
        _crawl(store, storage, crawler, crawl, dry_run, stop or _never)
        state, error = RUN_SUCCEEDED, None
    except _Stopped:
        state, error = RUN_CANCELLED, None
        crawl.log("run cancelled before the catalog was changed")
    except Exception as exc:  # the run must end FAILED with the reason, never hang RUNNING
        state, error = RUN_FAILED, f"{type(exc).__name__}: {exc}"
        crawl.log(f"run failed: {error}")
    run = replace(
        crawl.run,
        state=state,
        end_time=datetime.now(UTC),
        files_read=crawl.tally.files_read,
        bytes_read=crawl.tally.bytes_read,
        error_message=error,
        log=tuple(crawl.log_lines),
    )
    return store.save_run(run)


def _never() -> bool:
    return False


def _crawl(
    store: CatalogStore,
    storage: Storage,
    crawler: Crawler,
    crawl: _Crawl,
    dry_run: bool,
    stop: StopCheck,
) -> None:
    name = crawler.name or None
    incremental = crawler.recrawl_behavior == CRAWL_NEW_FOLDERS_ONLY
    roots = [_root_uri(t.path) for t in crawler.targets]
    owned = owned_tables(existing_tables(store, crawler.database), roots, name)
    desired: list[DesiredTable] = []
    for target in crawler.targets:
        _check(stop)
        desired += _discover(store, storage, crawler, target, owned, incremental, crawl)
    _check(stop)  # the last point at which stopping leaves the catalog as it was
    _ensure_database(store, crawler.database, dry_run, crawl)
    sync = CatalogSync(
        store, crawler.database, name, crawler.schema_change_policy, dry_run, crawl.log
    )
    counts = sync.sync(desired, roots, incremental)
    crawl.run = replace(crawl.run, **vars(counts))


def _check(stop: StopCheck) -> None:
    if stop():
        raise _Stopped


def _discover(
    store: CatalogStore,
    storage: Storage,
    crawler: Crawler,
    target: CrawlTarget,
    owned: list[Table],
    incremental: bool,
    crawl: _Crawl,
) -> list[DesiredTable]:
    bucket, key = parse_uri(target.path)
    prefix = target_prefix(key)
    files = list_target(storage, bucket, prefix, target.exclusions, crawl.log)
    anchored: list[DesiredTable] = []
    if incremental:
        files, anchored = split_known(
            store,
            storage,
            crawler,
            bucket,
            prefix,
            files,
            owned,
            target.sample_size,
            crawl.tally,
            crawl.log,
        )
    files = sample_files(storage, files, target.sample_size, crawl.tally, crawl.log)
    root_name = prefix.rstrip("/").rpartition("/")[2] or bucket
    known_roots = _known_roots(owned, folder_uri(bucket, prefix))
    groups = group_files(files, root_name, crawler.table_prefix, crawl.log, known_roots)
    name = crawler.name or None
    return anchored + [build_table(g, crawler.database, bucket, prefix, name) for g in groups]


def _known_roots(owned: Sequence[Table], target_uri: str) -> frozenset[str]:
    """Locations of tables already under the target, relative to it, without '/'."""
    return frozenset(
        t.storage.location[len(target_uri) :].strip("/")
        for t in owned
        if t.storage.location.startswith(target_uri)
    )


def _root_uri(path: str) -> str:
    bucket, key = parse_uri(path)
    return folder_uri(bucket, key)


def _ensure_database(store: CatalogStore, name: str, dry_run: bool, crawl: _Crawl) -> None:
    try:
        store.get_database(name)
    except EntityNotFoundError:
        crawl.log(f"created database {name}")
        if not dry_run:
            store.create_database(Database(name))
