"""``shoal audit``: deliver, inspect and verify the audit trail."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import click

from shoal.audit import digest as digests
from shoal.audit.trail import AuditTrail, read_log_records
from shoal.audit.verify import verify_trail
from shoal.cli.context import AppContext, output_option, pass_app
from shoal.cli.output import emit, emit_object
from shoal.errors import NoSuchBucketError


@click.group("audit")
def audit() -> None:
    """The audit trail: one CloudTrail record per API request."""


@audit.command("flush")
@output_option
@pass_app
def flush(ctx: AppContext, output: str) -> None:
    """Deliver every journaled record to the audit bucket now and write a digest.

    Safe while `shoal serve` runs on the same data folder.
    """
    summary = ctx.app.audit.roll(force_digest=True)
    emit_object(
        {"records": summary.records, "log_files": summary.log_files, "digest": summary.digest},
        output,
    )


@audit.command("verify")
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key digests must be signed with (default: the service's own key).",
)
@output_option
@pass_app
def verify(ctx: AppContext, public_key: Path | None, output: str) -> None:
    """Check log files against the signed digest chain; exit 1 on any problem."""
    app = ctx.app
    trail = app.audit
    key_path = public_key or app.config.data_path / digests.KEY_FILE
    key = digests.load_public_key(key_path) if key_path.exists() else None
    state = digests.DigestState.load(trail.state_path) if trail.state_path.exists() else None
    report = verify_trail(app.storage, trail.layout, key, state)
    if output == "json":
        emit_object(
            {
                "ok": report.ok,
                "problems": report.problems,
                "digests": report.digests,
                "log_files": report.log_files,
                "not_yet_digested": report.not_yet_digested,
            },
            output,
        )
    else:
        for key_name in report.not_yet_digested:
            click.echo(f"not yet digested: {key_name}")
        for problem in report.problems:
            click.echo(problem)
        if report.ok:
            click.echo(
                f"audit trail intact: {report.digests} digests, {report.log_files} log files"
            )
    if not report.ok:
        raise click.exceptions.Exit(1)


@audit.command("tail")
@click.option("--lines", "-n", type=int, default=20, show_default=True, help="How many records.")
@output_option
@pass_app
def tail(ctx: AppContext, lines: int, output: str) -> None:
    """Show the newest audit records (journaled and delivered)."""
    trail = ctx.app.audit
    records = trail.pending_records()
    if len(records) < lines:
        records = _delivered(ctx, trail, lines - len(records)) + records
    rows = [_row(r) for r in records[-lines:]] if lines > 0 else []
    columns = ["time", "user", "source", "event", "error", "request_id"]
    emit(rows if output == "table" else records[-lines:], output, columns)


def _delivered(ctx: AppContext, trail: AuditTrail, count: int) -> list[dict[str, Any]]:
    """The last ``count`` records of the newest log files in the lake."""
    storage, layout = ctx.app.storage, trail.layout
    try:
        infos = list(storage.walk(layout.bucket, layout.log_prefix))
    except NoSuchBucketError:
        return []
    infos.sort(key=lambda o: (o.key.rsplit("_", 2)[-2], o.key))  # delivery time in the name
    found: list[dict[str, Any]] = []
    for info in reversed(infos):
        found = _log_records(storage.read(info.bucket, info.key)) + found
        if len(found) >= count:
            break
    return found[-count:]


def _log_records(stored: bytes) -> list[dict[str, Any]]:
    """A log file's records: CloudTrail's ``{"Records": [...]}``, or the JSON lines
    (lowercase keys) shoal wrote before it used CloudTrail's format."""
    try:
        return read_log_records(stored)
    except ValueError:
        text = gzip.decompress(stored)
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _row(record: dict[str, Any]) -> dict[str, Any]:
    # Keys compared in lowercase: log files of older shoal spelled them so.
    lowered = {k.lower(): v for k, v in record.items()}
    identity = {k.lower(): v for k, v in (lowered.get("useridentity") or {}).items()}
    return {
        "time": lowered.get("eventtime"),
        "user": identity.get("username") or identity.get("accesskeyid") or "-",
        "source": lowered.get("eventsource"),
        "event": lowered.get("eventname"),
        "error": lowered.get("errorcode") or "",
        "request_id": lowered.get("requestid"),
    }


COMMANDS = [audit]
