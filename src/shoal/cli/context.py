"""What every command shares: global options, the lazily opened app, error handling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from shoal.app import Shoal
from shoal.config import load_config
from shoal.errors import ShoalError

F = TypeVar("F", bound=Callable[..., Any])


def global_options(func: F) -> F:
    """Options every command accepts before its name (``shoal --data DIR tables``)."""
    options = [
        click.option("--config", "config_file", help="TOML config file ($SHOAL_CONFIG)."),
        click.option("--data", "data_dir", help="Data folder ($SHOAL_DATA_DIR)."),
        click.option("--catalog-url", help="Catalog database URL ($SHOAL_CATALOG_URL)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class AppContext:
    """Opens ``Shoal`` on first use, so ``--help`` and config errors stay cheap."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._config_file = settings.pop("config_file", None)
        self._overrides = settings
        self._app: Shoal | None = None

    @property
    def app(self) -> Shoal:
        if self._app is None:
            config = load_config(self._config_file, overrides=self._overrides)
            self._app = Shoal(config)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


class GroupWithErrors(click.Group):
    """A click group that turns ShoalError into a one-line error and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShoalError as exc:
            raise click.ClickException(exc.message) from None


def output_option(func: F) -> F:
    """``--output table|json`` for commands people script."""
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="Output format.",
    )(func)


pass_app = click.make_pass_decorator(AppContext)
