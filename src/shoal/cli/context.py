"""What every command shares: global options, the lazily opened app, error handling."""

from __future__ import annotations

import functools
import getpass
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from shoal.app import Shoal
from shoal.audit.records import cli_record
from shoal.config import Config, load_config
from shoal.errors import ShoalError

F = TypeVar("F", bound=Callable[..., Any])


# (flag, setting, help) of the options every command takes, before or after its name.
GLOBAL_OPTIONS = (
    ("--config", "config_file", "TOML config file ($SHOAL_CONFIG)."),
    ("--data", "data_dir", "Data folder ($SHOAL_DATA_DIR)."),
    ("--catalog-url", "catalog_url", "Catalog database URL ($SHOAL_CATALOG_URL)."),
)


def global_options(func: F) -> F:
    """Options the group takes before a command's name (``shoal --data DIR serve``);
    ``accept_global_options`` lets each command take them after it too."""
    for flag, name, help_text in reversed(GLOBAL_OPTIONS):
        func = click.option(flag, name, help=help_text)(func)
    return func


def accept_global_options(command: click.Command) -> None:
    """Let ``command``, or every command under a group, take the global options after
    its name too (``shoal serve --data DIR``), where people put them; given in both
    places, the one after the name wins, as the later and more specific."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_global_options(sub)
        return
    for flag, name, help_text in GLOBAL_OPTIONS:
        option = click.Option(
            [flag, name], help=help_text, expose_value=False, callback=override_setting
        )
        command.params.append(option)


def override_setting(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """An option's callback: its value overrides the setting of its name (the app
    opens later, when the command runs)."""
    app = ctx.find_object(AppContext)  # made by the group's callback, before this parse
    if value is not None and app is not None and param.name is not None:
        app.override(param.name, value)


class AppContext:
    """Opens ``Shoal`` on first use, so ``--help`` and config errors stay cheap."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._config_file = settings.pop("config_file", None)
        self._overrides = settings
        self._app: Shoal | None = None

    def override(self, name: str, value: str) -> None:
        """Set a global option given after the command's name; the app is not open yet
        (click parses a command's options before running it)."""
        assert self._app is None, "global options must be set before the app opens"
        if name == "config_file":
            self._config_file = value
        else:
            self._overrides[name] = value

    def config(self) -> Config:
        """The configuration the app opens with (files, environment, flags)."""
        return load_config(self._config_file, overrides=self._overrides)

    @property
    def app(self) -> Shoal:
        if self._app is None:
            self._app = Shoal(self.config())
        return self._app

    @property
    def opened(self) -> Shoal | None:
        """The app, if a command opened it; None otherwise (never opens it)."""
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def audit_command(command: click.Command) -> None:
    """Record each run of ``command`` (or of every command under a group) in the audit
    trail, once, after it ran: the CLI is a door into shoal like the API. ``serve``
    is not recorded as such; the server records each request it answers."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            audit_command(sub)
        return
    callback = command.callback
    if callback is None or command.name == "serve":
        return

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        started = datetime.now(UTC)
        error: ShoalError | None = None
        try:
            return callback(*args, **kwargs)
        except ShoalError as exc:
            error = exc
            raise
        finally:
            _record(ctx, started, kwargs, error)

    command.callback = run


def _record(
    ctx: click.Context, started: datetime, arguments: dict[str, Any], error: ShoalError | None
) -> None:
    opened = ctx.find_object(AppContext)
    if opened is None or opened.opened is None:
        return  # the command never opened shoal (settings, --help): nothing happened in it
    app = opened.opened
    path = _command_words(ctx)
    app.audit.append(
        cli_record(
            command=path,
            arguments=arguments,
            os_user=_os_user(),
            event_time=started,
            region=app.config.region,
            account_id=app.config.account_id,
            request_id=str(uuid.uuid4()),
            error=(error.code, error.message) if error is not None else None,
        )
    )


def _command_words(ctx: click.Context) -> list[str]:
    """``["quotas", "create"]``: the command's names under the program's own."""
    words: list[str] = []
    while ctx.parent is not None:
        words.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return words


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return str(os.getuid())


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
