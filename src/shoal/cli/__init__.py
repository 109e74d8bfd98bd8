"""The ``shoal`` command: a thin click layer over the library.

Every command opens the same ``Shoal`` application object the API uses. Errors
shoal raises on purpose become one line on stderr and exit code 1.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from shoal.cli.context import (
    AppContext,
    GroupWithErrors,
    accept_global_options,
    audit_command,
    global_options,
)


@click.group(cls=GroupWithErrors, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="shoal")
@click.pass_context
def main(ctx: click.Context, /, **settings: Any) -> None:
    """shoal: crawl a data lake into a catalog and query it with Athena SQL."""
    ctx.obj = AppContext(settings)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from shoal.cli import (
        audit,
        catalog,
        crawl,
        governance,
        queries,
        samples,
        serve,
        settings,
        usage,
        users,
    )

    modules = (
        audit,
        catalog,
        crawl,
        samples,
        settings,
        queries,
        serve,
        users,
        governance,
        usage,
    )
    for command in (c for module in modules for c in module.COMMANDS):
        accept_global_options(command)
        audit_command(command)
        main.add_command(command)


_register()


def run() -> None:  # pragma: no cover - console entry point helper
    sys.exit(main())
