"""Rendering CLI answers: aligned text tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click

OUTPUT_CHOICES = click.Choice(["table", "json"])


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def emit(rows: Sequence[Mapping[str, Any]], output: str, columns: Sequence[str]) -> None:
    """Print ``rows`` as JSON (every field) or as a text table of ``columns``."""
    if output == "json":
        click.echo(json.dumps([_plain(row) for row in rows], indent=2, sort_keys=False))
        return
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(c[i]) for c in cells)) for i, col in enumerate(columns)]
    click.echo("  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def emit_object(obj: Mapping[str, Any], output: str) -> None:
    """Print one object: JSON, or ``key: value`` lines."""
    if output == "json":
        click.echo(json.dumps(_plain(obj), indent=2))
        return
    for key, value in obj.items():
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            click.echo(f"{key}:")
            for item in value:
                click.echo("  " + "  ".join(f"{k}={_cell(v)}" for k, v in item.items()))
        else:
            click.echo(f"{key}: {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)
