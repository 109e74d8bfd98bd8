"""Crawler schedules, fired by ``shoal serve`` as Glue fires a crawler's Schedule.

Once a minute (cron's resolution), every crawler with a schedule whose latest fire
time has passed since the last look starts a run through ``start_crawler``, the
same compare-and-set StartCrawler uses. As in Glue, a crawler still running when
its time comes skips that run, and times missed while no server was up are not
made up afterwards.

Several processes may serve one catalog; each has a scheduler. A slot is fired once:
a scheduler skips it when the crawler has a run that started at or after the slot's
time (another process fired it), and the READY -> RUNNING claim settles a race.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from croniter import croniter

from shoal.catalog.schedule import to_five_field
from shoal.catalog.store import CatalogStore
from shoal.crawler.background import start_crawler
from shoal.errors import CrawlerRunningError, EntityNotFoundError, ShoalError
from shoal.storage.base import Storage

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CrawlerScheduler:
    """Starts scheduled crawler runs; ``start`` runs it in a daemon thread.

    Args:
        store, storage: what the crawls read and write.
        clock: the current time (UTC); schedules fire for slots after the time the
            scheduler was made, never for earlier ones.
    """

    def __init__(self, store: CatalogStore, storage: Storage, clock: Clock = _utc_now) -> None:
        self._store = store
        self._storage = storage
        self._clock = clock
        self._since = clock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[str]:
        """Start every crawler whose schedule came due since the last tick; their names."""
        now = self._clock()
        started = []
        for crawler in self._store.list_crawlers():
            if crawler.schedule is None or crawler.schedule_paused:
                continue
            slot = _latest_slot(crawler.schedule, now)
            if slot is None or slot <= self._since or self._fired_elsewhere(crawler.name, slot):
                continue
            try:
                start_crawler(self._store, self._storage, crawler.name)
                started.append(crawler.name)
                log.info("crawler %s: scheduled run started (%s)", crawler.name, slot.isoformat())
            except CrawlerRunningError:
                log.info("crawler %s: still running at %s, run skipped", crawler.name, slot)
            except EntityNotFoundError:
                pass  # deleted since it was listed
        self._since = now
        return started

    def _fired_elsewhere(self, name: str, slot: datetime) -> bool:
        runs = [r for r in self._store.list_runs(name, limit=1) if not r.dry_run]
        return bool(runs) and runs[0].start_time >= slot  # the store's times are UTC-aware

    def start(self) -> None:
        """Tick at the start of every minute until ``stop``."""
        self._thread = threading.Thread(target=self._loop, name="crawler-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (runs already started go on)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stopped.wait(_seconds_to_next_minute(self._clock())):
            try:
                self.tick()
            except ShoalError as exc:  # the catalog is unreachable: try again next minute
                log.warning("crawler schedules: %s", exc)
            except Exception:  # a scheduler thread has nobody to raise to
                log.exception("crawler schedules: tick failed")


def _latest_slot(schedule: str, now: datetime) -> datetime | None:
    """The latest time at or before ``now`` when ``schedule`` fires (UTC)."""
    try:
        cron = to_five_field(schedule)
    except ShoalError:
        return None  # stored before validation was stricter: never fires
    naive = now.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    # croniter steps back to a slot strictly before its start: from now + 1 s, "now" counts.
    previous: datetime = croniter(cron, naive + timedelta(seconds=1)).get_prev(datetime)
    return previous.replace(tzinfo=UTC)


def _seconds_to_next_minute(now: datetime) -> float:
    # A little past the minute, so the minute's slot has come when the tick looks.
    return 60.5 - now.second - now.microsecond / 1_000_000
