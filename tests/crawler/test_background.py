"""Crawls interrupted by a dying process are released on the next start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from shoal.catalog.model import RUN_FAILED, RUN_RUNNING, Crawler, CrawlRun, CrawlTarget
from shoal.catalog.store import CatalogStore
from shoal.crawler.background import INTERRUPTED, recover_interrupted_crawls


def test_recover_releases_crawlers_and_fails_their_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    with CatalogStore(url) as store:
        for name in ("dead", "stopping", "idle"):
            store.create_crawler(Crawler(name, "db", (CrawlTarget("s3://lake/x/"),)))
        store.set_crawler_state("dead", "READY", "RUNNING")
        store.set_crawler_state("stopping", "READY", "STOPPING")
        started = datetime(2026, 1, 1, tzinfo=UTC)
        store.save_run(CrawlRun("r1", "dead", RUN_RUNNING, started))
    # A new process opens the same catalog after the old one was killed.
    with CatalogStore(url) as store:
        assert sorted(recover_interrupted_crawls(store)) == ["dead", "stopping"]
        assert {c.name: c.state for c in store.list_crawlers()} == {
            "dead": "READY",
            "idle": "READY",
            "stopping": "READY",
        }
        run = store.get_run("r1")
        assert (run.state, run.error_message) == (RUN_FAILED, INTERRUPTED)
        assert run.end_time is not None
        assert recover_interrupted_crawls(store) == []
