from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shoal.catalog.schedule import next_run, to_five_field, validate_schedule
from shoal.errors import InvalidInputError


@pytest.mark.parametrize(
    ("schedule", "five"),
    [
        ("0 2 * * *", "0 2 * * *"),
        ("cron(15 12 * * ? *)", "15 12 * * *"),
        ("cron(0 18 ? * 2-6 *)", "0 18 * * 1-5"),  # Glue MON-FRI is cron 1-5
        ("cron(0/15 * * * ? *)", "0/15 * * * *"),
        ("cron(0 8 ? * 1,7 *)", "0 8 * * 0,6"),  # SUN and SAT
    ],
)
def test_glue_and_classic_cron(schedule: str, five: str) -> None:
    assert to_five_field(schedule) == five
    assert validate_schedule(schedule) == schedule


@pytest.mark.parametrize("bad", ["", "not a cron", "* * *", "cron(0 2 * *)", "61 * * * *"])
def test_invalid_schedules(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid schedule"):
        to_five_field(bad)


def test_next_run() -> None:
    start = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert next_run("cron(0 12 * * ? *)", start) == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    # 2026-11-25 is a Wednesday; Glue day 2 is Monday.
    assert next_run("cron(0 9 ? * 2 *)", start) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
