"""Crawler runs in the background, as Glue's StartCrawler and StopCrawler have them.

``start_crawler`` claims the crawler (READY -> RUNNING, compare-and-set in the
catalog) before it returns, so a second start fails at once with
``CrawlerRunningError``, then crawls in a daemon thread. ``stop_crawler`` moves the
crawler RUNNING -> STOPPING; the run sees that state at its next safe point and ends
CANCELLED. Both signals live in the catalog database rather than in this process,
so any process serving the same catalog can stop a run another one started.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime

from shoal.catalog.model import RUN_FAILED, RUN_RUNNING, CrawlRun
from shoal.catalog.store import CatalogStore
from shoal.crawler.runner import READY, RUNNING, STOPPING, run_claimed_crawler
from shoal.errors import CrawlerNotRunningError, CrawlerRunningError, CrawlerStoppingError
from shoal.storage.base import Storage

log = logging.getLogger(__name__)


def start_crawler(store: CatalogStore, storage: Storage, name: str) -> threading.Thread:
    """Start a run of the stored crawler ``name`` in a background thread.

    Returns the (started) thread, which callers may join; the run itself is recorded
    in the catalog. Raises EntityNotFoundError for an unknown crawler and
    CrawlerRunningError when it is not READY.
    """
    crawler = store.set_crawler_state(name, READY, RUNNING)

    def stop_requested() -> bool:
        return store.get_crawler(crawler.name).state == STOPPING

    def work() -> None:
        try:
            run = run_claimed_crawler(store, storage, crawler, stop_requested)
            log.info("crawler %s run %s ended %s", crawler.name, run.id, run.state)
        except Exception:  # a thread has nobody to raise to; the run record says the rest
            log.exception("crawler %s: background run failed", crawler.name)

    thread = threading.Thread(target=work, name=f"crawler-{crawler.name}", daemon=True)
    thread.start()
    return thread


def stop_crawler(store: CatalogStore, name: str) -> None:
    """Ask a running crawler to stop; its run ends CANCELLED at its next safe point.

    Raises EntityNotFoundError for an unknown crawler, CrawlerStoppingError when it
    is already stopping and CrawlerNotRunningError when it is not running.
    """
    try:
        store.set_crawler_state(name, RUNNING, STOPPING)
    except CrawlerRunningError:  # the compare-and-set lost: say why from the state now
        state = store.get_crawler(name).state
        if state == STOPPING:
            raise CrawlerStoppingError(f"crawler {name!r} is already stopping") from None
        raise CrawlerNotRunningError(f"crawler {name!r} is not running") from None


def current_run(store: CatalogStore, name: str) -> CrawlRun | None:
    """The run of crawler ``name`` in progress, if any (dry runs do not count)."""
    runs = [r for r in store.list_runs(name, limit=10) if not r.dry_run]
    return runs[0] if runs and runs[0].state == RUN_RUNNING else None


INTERRUPTED = "shoal stopped while the crawl was running"


def recover_interrupted_crawls(store: CatalogStore) -> list[str]:
    """Release crawlers left RUNNING or STOPPING by a process that died mid-run.

    Their unfinished runs end FAILED with ``INTERRUPTED``; the crawlers become READY
    again. Call it once when the serving process starts, before it starts crawls.
    Returns the names of the crawlers released.
    """
    released = []
    for crawler in store.list_crawlers():
        if crawler.state not in (RUNNING, STOPPING):
            continue
        for run in store.list_runs(crawler.name, limit=10):
            if run.state == RUN_RUNNING:
                store.save_run(
                    replace(
                        run, state=RUN_FAILED, end_time=datetime.now(UTC), error_message=INTERRUPTED
                    )
                )
        try:
            store.set_crawler_state(crawler.name, crawler.state, READY)
            released.append(crawler.name)
        except CrawlerRunningError:
            pass  # its state moved on meanwhile: somebody else owns it
    return released
