"""Quotas on bytes scanned per user or workgroup per hour, day or month.

Each quota has laddered thresholds (``80:warn,100:block``). Usage is what
``audit.usage`` meters: bytes scanned by executions of the user (or workgroup) that
finished in the current period (UTC hour, day or calendar month).

Admission (``QuotaService.admit``, called by ``QueryService.start`` before an
execution is stored): a query is refused with ``QuotaExceededError`` when usage has
reached a blocking threshold. Guarantee under concurrency: a query is admitted only
if usage, as committed in the state database at that moment, was below every
blocking level. Usage only grows when admitted queries finish, so the final usage
of a period exceeds the blocking level by at most the bytes of the queries that
were already admitted (running) when the level was reached; none admitted after
that runs. Bytes a query will scan are unknown before it runs, so no check can do
better without refusing queries that would have fitted.

Notifications (``after_query``, a ``QueryService`` listener): when a finished query
brings usage past a threshold, a row in ``quota_crossings`` (primary key quota,
period, percent) records it, so each threshold fires once per period across
threads and processes; then the crossing is heard by ``on_crossing`` (``Shoal``
records it in the audit trail: ``crossing_record``), and the webhook, if any, gets a
JSON POST from a background thread, retried with exponential backoff, each attempt
logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from shoal.audit.records import SOURCE_SHOAL, format_time, service_event
from shoal.audit.schema import quota_crossings, quotas
from shoal.audit.usage import scanned_since
from shoal.catalog.connection import StateDatabase
from shoal.errors import (
    AlreadyExistsError,
    EntityNotFoundError,
    InvalidInputError,
    QuotaExceededError,
)
from shoal.queries.model import QueryExecution

log = logging.getLogger("shoal.quotas")

SCOPES = ("user", "workgroup")
PERIODS = ("hour", "day", "month")
ACTIONS = ("warn", "block")
DEFAULT_THRESHOLDS = "80:warn,100:block"
_ALL_QUOTAS = select(quotas).order_by(quotas.c.name)


@dataclass(frozen=True)
class Threshold:
    """A rung of a quota's ladder: at ``percent`` of the limit, warn or block."""

    percent: int
    action: str


@dataclass(frozen=True)
class Quota:
    """A limit on bytes scanned by one user or workgroup (``principal``) per period."""

    name: str
    scope: str
    principal: str
    period: str
    limit_bytes: int
    thresholds: tuple[Threshold, ...]
    webhook_url: str | None = None
    create_time: datetime | None = None

    def applies_to(self, user: str | None, workgroup: str) -> bool:
        """Whether a query of ``user`` in ``workgroup`` counts against this quota."""
        return self.principal == (user if self.scope == "user" else workgroup)

    def reached(self, usage: int, threshold: Threshold) -> bool:
        return usage * 100 >= self.limit_bytes * threshold.percent


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    """``"80:warn,100:block"`` as thresholds, sorted by percent."""
    found = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        percent, _, action = part.partition(":")
        try:
            found.append(Threshold(int(percent), action.strip() or "warn"))
        except ValueError:
            raise InvalidInputError(f"threshold {part!r} is not PERCENT:ACTION") from None
    return _checked_thresholds(found)


def _checked_thresholds(found: list[Threshold]) -> tuple[Threshold, ...]:
    if not found:
        raise InvalidInputError("a quota needs at least one threshold")
    for rung in found:
        if rung.action not in ACTIONS or not 1 <= rung.percent <= 1000:
            raise InvalidInputError(
                f"threshold {rung.percent}:{rung.action}: percent 1-1000, action warn|block"
            )
    if len({rung.percent for rung in found}) != len(found):
        raise InvalidInputError("threshold percents must differ")
    return tuple(sorted(found, key=lambda rung: rung.percent))


def period_start(period: str, moment: datetime) -> datetime:
    """The start (UTC) of the hour, day or month containing ``moment``."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if period == "hour":
        return moment
    moment = moment.replace(hour=0)
    return moment if period == "day" else moment.replace(day=1)


class Notifier:
    """Delivers webhook POSTs from background threads, retried with backoff.

    Attempt ``n`` (from 1) that fails (no answer, or a status other than 2xx) is
    followed by a wait of ``base_delay * 2 ** (n - 1)`` seconds, up to ``attempts``
    tries. Every attempt is logged on ``shoal.quotas``.
    """

    def __init__(self, attempts: int = 6, base_delay: float = 1.0, timeout: float = 10.0) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self.timeout = timeout
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def send(self, url: str, body: dict[str, Any]) -> None:
        """POST ``body`` as JSON to ``url`` in the background."""
        thread = threading.Thread(target=self.deliver, args=(url, body), daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def deliver(self, url: str, body: dict[str, Any]) -> bool:
        """POST now, retrying; True once the webhook answered 2xx."""
        data = json.dumps(body).encode()
        for attempt in range(1, self.attempts + 1):
            outcome = self._post(url, data)
            log.info("quota webhook %s attempt %d: %s", url, attempt, outcome)
            if outcome == "delivered":
                return True
            if attempt < self.attempts:
                time.sleep(self.base_delay * 2 ** (attempt - 1))
        log.warning("quota webhook %s: gave up after %d attempts", url, self.attempts)
        return False

    def _post(self, url: str, data: bytes) -> str:
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:
            return f"failed: {exc}"
        return "delivered" if 200 <= status < 300 else f"failed: HTTP {status}"

    def join(self, timeout: float | None = None) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


CrossingListener = Callable[["Quota", "Threshold", int, datetime], None]


class QuotaService:
    """Quota definitions, admission of new queries and threshold notifications.

    Args:
        state: the state database (quotas, crossings and executions live there).
        notifier: delivers webhooks (default: a ``Notifier`` with default backoff).
        on_crossing: told of each threshold crossed, once (quota, threshold, usage
            in bytes, when).
    """

    def __init__(
        self,
        state: StateDatabase,
        notifier: Notifier | None = None,
        on_crossing: CrossingListener | None = None,
    ) -> None:
        self.state = state
        self.notifier = notifier or Notifier()
        self.on_crossing = on_crossing

    # -- definitions

    def create(
        self,
        name: str,
        scope: str,
        principal: str,
        period: str,
        limit_bytes: int,
        thresholds: str | tuple[Threshold, ...] = DEFAULT_THRESHOLDS,
        webhook_url: str | None = None,
    ) -> Quota:
        """Define a quota. Raises InvalidInputError, AlreadyExistsError."""
        if isinstance(thresholds, str):
            thresholds = parse_thresholds(thresholds)
        quota = Quota(
            name,
            scope,
            principal,
            period,
            limit_bytes,
            _checked_thresholds(list(thresholds)),
            webhook_url,
            datetime.now(UTC),
        )
        _validate(quota)
        values = asdict(quota)
        values["thresholds"] = [asdict(t) for t in quota.thresholds]
        try:
            with self.state.write() as conn:
                conn.execute(insert(quotas).values(**values))
        except IntegrityError:
            raise AlreadyExistsError(f"Quota {name} already exists.") from None
        return quota

    def list(self) -> list[Quota]:
        """Every quota, by name."""
        # Asked before every query starts and after it finishes.
        return [_quota(row) for row in self.state.rows(_ALL_QUOTAS, {})]

    def get(self, name: str) -> Quota:
        """One quota; EntityNotFoundError when unknown."""
        for quota in self.list():
            if quota.name == name:
                return quota
        raise EntityNotFoundError(f"Quota {name} not found.")

    def delete(self, name: str) -> None:
        """Remove a quota (and its crossings). EntityNotFoundError when unknown."""
        with self.state.write() as conn:
            if conn.execute(delete(quotas).where(quotas.c.name == name)).rowcount != 1:
                raise EntityNotFoundError(f"Quota {name} not found.")

    def usage(self, quota: Quota, moment: datetime | None = None) -> int:
        """Bytes counted against ``quota`` in the period containing ``moment`` (now)."""
        start = period_start(quota.period, moment or datetime.now(UTC))
        return scanned_since(self.state, quota.scope, quota.principal, start)

    # -- admission

    def admit(self, user: str | None, workgroup: str) -> None:
        """Refuse a new query of ``user`` in ``workgroup`` (QuotaExceededError) when a
        blocking threshold of a quota it counts against is reached."""
        for quota in self.list():
            blocks = [t for t in quota.thresholds if t.action == "block"]
            if not blocks or not quota.applies_to(user, workgroup):
                continue
            used = self.usage(quota)
            if quota.reached(used, blocks[0]):
                raise QuotaExceededError(
                    _refusal(quota, used, blocks[0]), quota.name, used, quota.limit_bytes
                )

    # -- notifications

    def after_query(self, execution: QueryExecution) -> None:
        """Record and notify thresholds that ``execution``'s usage crossed."""
        for quota in self.list():
            if quota.applies_to(execution.user, execution.workgroup):
                self._check_thresholds(quota)

    def _check_thresholds(self, quota: Quota) -> None:
        moment = datetime.now(UTC)
        start = period_start(quota.period, moment)
        used = scanned_since(self.state, quota.scope, quota.principal, start)
        for threshold in quota.thresholds:
            if quota.reached(used, threshold) and self._record_crossing(
                quota, start, threshold, used
            ):
                self._notify(quota, threshold, used, moment)

    def _record_crossing(
        self, quota: Quota, start: datetime, threshold: Threshold, used: int
    ) -> bool:
        """Store the crossing; False when it was stored before (notified already)."""
        try:
            with self.state.write() as conn:
                quota_id = conn.execute(
                    select(quotas.c.id).where(quotas.c.name == quota.name)
                ).scalar_one()
                conn.execute(
                    insert(quota_crossings).values(
                        quota_id=quota_id,
                        period_start=start,
                        percent=threshold.percent,
                        usage_bytes=used,
                        crossing_time=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            return False
        return True

    def _notify(self, quota: Quota, threshold: Threshold, used: int, moment: datetime) -> None:
        log.warning(
            "quota %s: %s %s reached %d%% (%d of %d bytes this %s)",
            quota.name,
            quota.scope,
            quota.principal,
            threshold.percent,
            used,
            quota.limit_bytes,
            quota.period,
        )
        if self.on_crossing is not None:
            self.on_crossing(quota, threshold, used, moment)
        if quota.webhook_url:
            self.notifier.send(quota.webhook_url, notification(quota, threshold, used, moment))


def notification(quota: Quota, threshold: Threshold, used: int, moment: datetime) -> dict[str, Any]:
    """The JSON body a webhook receives when ``quota`` crosses ``threshold``."""
    return {
        "quota": quota.name,
        "scope": quota.scope,
        "name": quota.principal,
        "period": quota.period,
        "threshold": threshold.percent,
        "action": threshold.action,
        "usage_bytes": used,
        "limit_bytes": quota.limit_bytes,
        "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


CROSSED_EVENT = "QuotaThresholdCrossed"


def crossing_record(
    quota: Quota,
    threshold: Threshold,
    used: int,
    moment: datetime,
    account_id: str,
    region: str,
    request_id: str,
) -> dict[str, Any]:
    """The CloudTrail record of ``quota`` crossing ``threshold`` (a service event of
    eventSource ``shoal``), on behalf of the user the quota limits, if it limits one."""
    return service_event(
        source=SOURCE_SHOAL,
        name=CROSSED_EVENT,
        event_time=moment,
        region=region,
        account_id=account_id,
        request_id=request_id,
        user_name=quota.principal if quota.scope == "user" else None,
        details={
            "quotaName": quota.name,
            "scope": quota.scope,
            "principal": quota.principal,
            "period": quota.period,
            "periodStart": format_time(period_start(quota.period, moment)),
            "thresholdPercent": threshold.percent,
            "action": threshold.action,
            "usageBytes": used,
            "limitBytes": quota.limit_bytes,
        },
    )


def _refusal(quota: Quota, used: int, threshold: Threshold) -> str:
    return (
        f"Quota {quota.name} exceeded: {quota.scope} {quota.principal} scanned {used} bytes "
        f"this {quota.period}, limit {quota.limit_bytes} bytes (queries are refused at "
        f"{threshold.percent}%); try again next {quota.period}"
    )


def _validate(quota: Quota) -> None:
    if quota.scope not in SCOPES:
        raise InvalidInputError(f"quota scope must be one of {', '.join(SCOPES)}")
    if quota.period not in PERIODS:
        raise InvalidInputError(f"quota period must be one of {', '.join(PERIODS)}")
    if quota.limit_bytes <= 0:
        raise InvalidInputError("quota limit must be a positive number of bytes")
    if not quota.name or len(quota.name) > 128 or not quota.principal:
        raise InvalidInputError("quota name (1-128 characters) and principal are required")
    url = quota.webhook_url
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInputError("webhook URL must be http:// or https://")


def _quota(row: Any) -> Quota:
    return Quota(
        name=row["name"],
        scope=row["scope"],
        principal=row["principal"],
        period=row["period"],
        limit_bytes=row["limit_bytes"],
        thresholds=tuple(Threshold(**t) for t in row["thresholds"]),
        webhook_url=row["webhook_url"],
        create_time=row["create_time"],
    )
