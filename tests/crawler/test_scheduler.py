"""Crawler schedules fire once per slot, skip a crawler still running, and never
make up slots from before the scheduler started."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shoal.catalog.model import Crawler, CrawlTarget
from shoal.catalog.store import CatalogStore
from shoal.crawler.scheduler import CrawlerScheduler
from shoal.storage.local import LocalStorage


class Clock:
    """A clock the test moves by hand, starting 90 s ago: the latest minute slot then
    lies after the scheduler's start, and crawl runs (stamped with the real time) start
    after that slot, as they would in a real server."""

    def __init__(self) -> None:
        self.real = datetime.now(UTC)
        self.now = self.real - timedelta(seconds=90)

    def __call__(self) -> datetime:
        return self.now


def _slot(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[tuple[CatalogStore, LocalStorage]]:
    storage = LocalStorage(tmp_path / "lake")
    storage.create_bucket("lake")
    storage.put("lake", "events/part-0.csv", b"id,name\n1,a\n2,b\n")
    with CatalogStore(f"sqlite:///{tmp_path / 'catalog.db'}") as store:
        yield store, storage


def _crawler(store: CatalogStore, name: str, schedule: str | None) -> None:
    store.create_crawler(Crawler(name, "db", (CrawlTarget("s3://lake/"),), schedule=schedule))


def _wait_ready(store: CatalogStore, name: str) -> None:
    done = threading.Event()
    for _ in range(200):
        if store.get_crawler(name).state == "READY":
            return
        done.wait(0.05)
    raise AssertionError(f"crawler {name} never finished")


def test_due_schedules_fire_once_per_slot(lake: tuple[CatalogStore, LocalStorage]) -> None:
    store, storage = lake
    clock = Clock()
    # A slot in the future, far enough that the runs started now begin before it.
    later = _slot(clock.real) + timedelta(minutes=2)
    _crawler(store, "every_minute", "* * * * *")
    _crawler(store, "once", f"cron({later.minute} {later.hour} * * ? *)")  # Glue's form
    _crawler(store, "manual", None)
    scheduler = CrawlerScheduler(store, storage, clock)

    assert scheduler.tick() == []  # nothing came due since the start
    clock.now = clock.real
    assert scheduler.tick() == ["every_minute"]
    _wait_ready(store, "every_minute")
    assert store.get_table("db", "lake") is not None  # the run really crawled
    assert scheduler.tick() == []  # the same minute: fired already
    clock.now = later + timedelta(seconds=1)
    assert sorted(scheduler.tick()) == ["every_minute", "once"]
    _wait_ready(store, "every_minute")
    _wait_ready(store, "once")
    assert store.list_runs("manual") == []
    assert len(store.list_runs("every_minute")) == 2


def test_a_running_crawler_skips_its_slot(lake: tuple[CatalogStore, LocalStorage]) -> None:
    store, storage = lake
    _crawler(store, "busy", "* * * * *")
    clock = Clock()
    scheduler = CrawlerScheduler(store, storage, clock)
    store.set_crawler_state("busy", "READY", "RUNNING")  # a run in progress
    clock.now = clock.real
    assert scheduler.tick() == []
    store.set_crawler_state("busy", "RUNNING", "READY")
    assert scheduler.tick() == []  # that slot was skipped, not postponed
    assert store.list_runs("busy") == []


def test_a_slot_fired_by_another_server_is_not_fired_again(
    lake: tuple[CatalogStore, LocalStorage],
) -> None:
    store, storage = lake
    _crawler(store, "shared", "* * * * *")
    clock = Clock()
    first = CrawlerScheduler(store, storage, clock)
    second = CrawlerScheduler(store, storage, clock)
    clock.now = clock.real
    assert first.tick() == ["shared"]
    _wait_ready(store, "shared")
    assert second.tick() == []  # this minute's run exists already
    assert len(store.list_runs("shared")) == 1


def test_a_paused_schedule_does_not_fire(lake: tuple[CatalogStore, LocalStorage]) -> None:
    store, storage = lake
    _crawler(store, "paused", "* * * * *")
    store.set_crawler_schedule("paused", "* * * * *", paused=True)  # StopCrawlerSchedule
    clock = Clock()
    scheduler = CrawlerScheduler(store, storage, clock)
    clock.now = clock.real
    assert scheduler.tick() == []
    store.set_crawler_schedule("paused", "* * * * *", paused=False)  # StartCrawlerSchedule
    assert scheduler.tick() == []  # this minute's slot was looked at while paused
    clock.now = _slot(clock.real) + timedelta(minutes=2, seconds=1)
    assert scheduler.tick() == ["paused"]
    _wait_ready(store, "paused")
