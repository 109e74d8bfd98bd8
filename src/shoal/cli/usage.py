"""``shoal usage`` and ``shoal quotas``: metered usage and quotas on bytes scanned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from shoal.audit.quotas import DEFAULT_THRESHOLDS, PERIODS, Quota
from shoal.audit.usage import DIMENSIONS
from shoal.cli.context import AppContext, output_option, pass_app
from shoal.cli.output import emit
from shoal.errors import InvalidInputError

DATE = click.DateTime(formats=["%Y-%m-%d"])
_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}


@click.command("usage")
@click.option("--by", type=click.Choice(DIMENSIONS), default="user", show_default=True)
@click.option("--since", type=DATE, help="First day counted (UTC), YYYY-MM-DD.")
@click.option("--until", type=DATE, help="Last day counted (UTC, inclusive), YYYY-MM-DD.")
@click.option("--daily", is_flag=True, help="One row per day as well.")
@output_option
@pass_app
def usage(
    ctx: AppContext,
    by: str,
    since: datetime | None,
    until: datetime | None,
    daily: bool,
    output: str,
) -> None:
    """Queries run, bytes scanned and engine time of finished queries."""
    start = since.replace(tzinfo=UTC) if since else None
    end = until.replace(tzinfo=UTC) + timedelta(days=1) if until else None
    rows = [row.to_dict() for row in ctx.app.usage.report(by, start, end, per_day=daily)]
    columns = ["key", "day", "queries", "bytes_scanned", "engine_time_ms"]
    emit(rows, output, columns if daily else [c for c in columns if c != "day"])


@click.group("quotas")
def quotas() -> None:
    """Quotas on bytes scanned per user or workgroup per hour, day or month."""


@quotas.command("create")
@click.argument("name")
@click.option("--user", help="The user the quota limits.")
@click.option("--workgroup", help="The workgroup the quota limits.")
@click.option("--period", type=click.Choice(PERIODS), default="day", show_default=True)
@click.option("--limit", "limit", required=True, help="Bytes per period (suffix KB/MB/GB/TB).")
@click.option(
    "--thresholds",
    default=DEFAULT_THRESHOLDS,
    show_default=True,
    help="PERCENT:warn|block, comma separated.",
)
@click.option("--webhook", help="URL a JSON POST is sent to when a threshold is crossed.")
@output_option
@pass_app
def create(
    ctx: AppContext,
    name: str,
    user: str | None,
    workgroup: str | None,
    period: str,
    limit: str,
    thresholds: str,
    webhook: str | None,
    output: str,
) -> None:
    """Create quota NAME on one user (--user) or workgroup (--workgroup)."""
    if (user is None) == (workgroup is None):
        raise InvalidInputError("give exactly one of --user and --workgroup")
    scope, principal = ("user", user) if user else ("workgroup", workgroup)
    quota = ctx.app.quotas.create(
        name, scope, principal or "", period, parse_bytes(limit), thresholds, webhook
    )
    emit([_row(quota)], output, _COLUMNS)


@quotas.command("list")
@output_option
@pass_app
def list_quotas(ctx: AppContext, output: str) -> None:
    """Every quota with its usage in the current period."""
    service = ctx.app.quotas
    rows = [{**_row(q), "usage_bytes": service.usage(q)} for q in service.list()]
    emit(rows, output, [*_COLUMNS, "usage_bytes"])


@quotas.command("delete")
@click.argument("name")
@pass_app
def delete(ctx: AppContext, name: str) -> None:
    """Delete quota NAME."""
    ctx.app.quotas.delete(name)
    click.echo(f"deleted quota {name}")


_COLUMNS = ["name", "scope", "principal", "period", "limit_bytes", "thresholds", "webhook_url"]


def _row(quota: Quota) -> dict[str, Any]:
    return {
        "name": quota.name,
        "scope": quota.scope,
        "principal": quota.principal,
        "period": quota.period,
        "limit_bytes": quota.limit_bytes,
        "thresholds": [f"{t.percent}:{t.action}" for t in quota.thresholds],
        "webhook_url": quota.webhook_url,
    }


def parse_bytes(text: str) -> int:
    """``"10GB"`` -> 10_000_000_000 (decimal units, as Athena bills)."""
    cleaned = text.strip().upper()
    digits = cleaned.rstrip("KMGTB")
    unit = cleaned[len(digits) :]
    if unit not in _UNITS or not digits.strip().isdigit():
        raise InvalidInputError(f"{text!r} is not a number of bytes (e.g. 500MB, 10GB)")
    return int(digits) * _UNITS[unit]


COMMANDS = [usage, quotas]
