"""``shoal config``: the settings in force, secrets masked."""

from __future__ import annotations

import click

from shoal.cli.context import AppContext, output_option, pass_app
from shoal.cli.output import emit
from shoal.config import SETTINGS


@click.command("config")
@output_option
@pass_app
def show_config(ctx: AppContext, output: str) -> None:
    """Show every setting and its value (secrets masked)."""
    config = ctx.config()
    described = config.describe()
    rows = [
        {
            "setting": s.name,
            "value": described[s.name],
            "env": f"SHOAL_{s.name.upper()}",
            "help": s.help,
        }
        for s in SETTINGS
    ]
    emit(rows, output, ["setting", "value", "env"])


COMMANDS = [show_config]
