"""``shoal users``: users and their access keys."""

from __future__ import annotations

import click

from shoal.cli.context import AppContext, output_option, pass_app
from shoal.cli.output import emit, emit_object


@click.group("users")
def users() -> None:
    """Manage users and access keys."""


@users.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Give the user every permission.")
@output_option
@pass_app
def create_user(ctx: AppContext, name: str, admin: bool, output: str) -> None:
    """Create user NAME (without a key; see create-key)."""
    user = ctx.app.identities.create_user(name, is_admin=admin)
    emit_object({"name": user.name, "admin": user.is_admin, "created": user.create_time}, output)


@users.command("list")
@output_option
@pass_app
def list_users(ctx: AppContext, output: str) -> None:
    """List users."""
    rows = [
        {"name": u.name, "admin": u.is_admin, "enabled": u.enabled, "created": u.create_time}
        for u in ctx.app.identities.list_users()
    ]
    emit(rows, output, ["name", "admin", "enabled", "created"])


@users.command("delete")
@click.argument("name")
@pass_app
def delete_user(ctx: AppContext, name: str) -> None:
    """Delete user NAME and all their keys."""
    ctx.app.identities.delete_user(name)
    click.echo(f"deleted user {name}")


@users.command("create-key")
@click.argument("name")
@output_option
@pass_app
def create_key(ctx: AppContext, name: str, output: str) -> None:
    """Create an access key for user NAME; its secret is shown this once only."""
    key = ctx.app.identities.create_key(name)
    emit_object(
        {
            "user": key.user_name,
            "access_key_id": key.access_key_id,
            "secret_access_key": key.secret_access_key,
        },
        output,
    )


@users.command("keys")
@click.argument("name", required=False)
@output_option
@pass_app
def list_keys(ctx: AppContext, name: str | None, output: str) -> None:
    """List access keys (of NAME, or of everyone); secrets are never shown."""
    rows = [
        {
            "access_key_id": k.access_key_id,
            "user": k.user_name,
            "enabled": k.enabled,
            "created": k.create_time,
            "last_used": k.last_used_time,
        }
        for k in ctx.app.identities.list_keys(name)
    ]
    emit(rows, output, ["access_key_id", "user", "enabled", "created", "last_used"])


def _set_key(ctx: AppContext, key_id: str, enabled: bool) -> None:
    ctx.app.identities.set_key_enabled(key_id, enabled)
    click.echo(f"{'enabled' if enabled else 'disabled'} access key {key_id}")


@users.command("disable-key")
@click.argument("access_key_id")
@pass_app
def disable_key(ctx: AppContext, access_key_id: str) -> None:
    """Disable a key: requests signed with it are refused from now on."""
    _set_key(ctx, access_key_id, False)


@users.command("enable-key")
@click.argument("access_key_id")
@pass_app
def enable_key(ctx: AppContext, access_key_id: str) -> None:
    """Enable a disabled key again."""
    _set_key(ctx, access_key_id, True)


@users.command("delete-key")
@click.argument("access_key_id")
@pass_app
def delete_key(ctx: AppContext, access_key_id: str) -> None:
    """Delete a key for good."""
    ctx.app.identities.delete_key(access_key_id)
    click.echo(f"deleted access key {access_key_id}")


@users.command("disable")
@click.argument("name")
@pass_app
def disable_user(ctx: AppContext, name: str) -> None:
    """Disable user NAME: all their keys are refused until enabled again."""
    ctx.app.identities.set_user_enabled(name, False)
    click.echo(f"disabled user {name}")


@users.command("enable")
@click.argument("name")
@pass_app
def enable_user(ctx: AppContext, name: str) -> None:
    """Enable user NAME again."""
    ctx.app.identities.set_user_enabled(name, True)
    click.echo(f"enabled user {name}")


COMMANDS = [users]
