"""Crawler schedules: Glue's ``cron(…)`` form and plain five-field cron, validated.

Glue writes schedules as ``cron(minutes hours day-of-month month day-of-week year)``
with ``?`` for "any" and day-of-week 1–7 meaning SUN–SAT. People also write classic
five-field cron. Both are accepted and stored as given; ``next_run`` works on either.
"""

from __future__ import annotations

import re
from datetime import datetime

from croniter import croniter

from shoal.errors import InvalidInputError

_AWS_CRON_RE = re.compile(r"^cron\((.*)\)$", re.IGNORECASE)
# A day-of-week number not preceded by '/' (a step count is not a day).
_DOW_NUMBER_RE = re.compile(r"(?<![/\d])(\d+)")


def to_five_field(schedule: str) -> str:
    """Translate a schedule into classic five-field cron. Raises InvalidInputError."""
    text = schedule.strip()
    match = _AWS_CRON_RE.match(text)
    if match:
        fields = match.group(1).split()
        if len(fields) != 6:
            raise InvalidInputError(f"invalid schedule {schedule!r}: cron() needs six fields")
        minute, hour, dom, month, dow, _year = (f.replace("?", "*") for f in fields)
        dow = _DOW_NUMBER_RE.sub(lambda m: str((int(m.group(1)) - 1) % 7), dow)
        text = " ".join((minute, hour, dom, month, dow))
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise InvalidInputError(
            f"invalid schedule {schedule!r}: use five-field cron ('0 2 * * *') "
            "or Glue's cron(0 2 * * ? *)"
        )
    return text


def validate_schedule(schedule: str | None) -> str | None:
    """Return ``schedule`` unchanged when it is valid (or None); raise otherwise."""
    if schedule is not None:
        to_five_field(schedule)
    return schedule


def next_run(schedule: str, after: datetime) -> datetime:
    """The first time after ``after`` at which the schedule fires."""
    result: datetime = croniter(to_five_field(schedule), after).get_next(datetime)
    return result
