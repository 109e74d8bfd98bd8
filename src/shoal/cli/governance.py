"""``shoal groups|roles|policies|role-mappings``: who may do what.

A thin layer over ``GovernanceStore``; the same changes are available through the
IAM API (``aws iam …``). Positions of role mappings are 1-based here, as people
count them, and 0-based in the library.
"""

from __future__ import annotations

import json
from typing import IO, Any

import click

from shoal.auth.role_mappings import RoleMapping, RoleMappings, dump_emr_security_configuration
from shoal.auth.store import ManagedPolicy, Role
from shoal.cli.context import AppContext, output_option, pass_app
from shoal.cli.output import emit, emit_object

# --- groups ---------------------------------------------------------------------------


@click.group("groups")
def groups() -> None:
    """Manage groups of users."""


@groups.command("create")
@click.argument("name")
@pass_app
def create_group(ctx: AppContext, name: str) -> None:
    """Create group NAME."""
    ctx.app.governance.create_group(name)
    click.echo(f"created group {name}")


@groups.command("list")
@output_option
@pass_app
def list_groups(ctx: AppContext, output: str) -> None:
    """List groups and their members."""
    gov = ctx.app.governance
    rows = [
        {"name": g.name, "members": gov.group_members(g.name), "created": g.create_time}
        for g in gov.list_groups()
    ]
    emit(rows, output, ["name", "members", "created"])


@groups.command("add-user")
@click.argument("group")
@click.argument("user")
@pass_app
def add_user(ctx: AppContext, group: str, user: str) -> None:
    """Add USER to GROUP."""
    ctx.app.governance.add_user_to_group(group, user)
    click.echo(f"added {user} to group {group}")


@groups.command("remove-user")
@click.argument("group")
@click.argument("user")
@pass_app
def remove_user(ctx: AppContext, group: str, user: str) -> None:
    """Remove USER from GROUP."""
    ctx.app.governance.remove_user_from_group(group, user)
    click.echo(f"removed {user} from group {group}")


@groups.command("delete")
@click.argument("name")
@pass_app
def delete_group(ctx: AppContext, name: str) -> None:
    """Delete group NAME (it must have no members and no policies)."""
    ctx.app.governance.delete_group(name)
    click.echo(f"deleted group {name}")


# --- roles ----------------------------------------------------------------------------


@click.group("roles")
def roles() -> None:
    """Manage roles: what requests act as."""


def _role_json(ctx: AppContext, role: Role) -> dict[str, Any]:
    gov = ctx.app.governance
    return {
        "name": role.name,
        "description": role.description,
        "attached_policies": gov.attached_policies("role", role.name),
        "inline_policies": gov.inline_policies("role", role.name),
        "created": role.create_time,
    }


@roles.command("create")
@click.argument("name")
@click.option("--description", help="What the role is for.")
@pass_app
def create_role(ctx: AppContext, name: str, description: str | None) -> None:
    """Create role NAME (with no policies: it may do nothing yet)."""
    ctx.app.governance.create_role(name, description=description)
    click.echo(f"created role {name}")


@roles.command("list")
@output_option
@pass_app
def list_roles(ctx: AppContext, output: str) -> None:
    """List roles and their policies."""
    rows = [_role_json(ctx, r) for r in ctx.app.governance.list_roles()]
    emit(rows, output, ["name", "attached_policies", "inline_policies", "description"])


@roles.command("show")
@click.argument("name")
@output_option
@pass_app
def show_role(ctx: AppContext, name: str, output: str) -> None:
    """Show role NAME and its policies."""
    emit_object(_role_json(ctx, ctx.app.governance.get_role(name)), output)


@roles.command("delete")
@click.argument("name")
@pass_app
def delete_role(ctx: AppContext, name: str) -> None:
    """Delete role NAME (no policies attached, no role mapping naming it)."""
    ctx.app.governance.delete_role(name)
    click.echo(f"deleted role {name}")


@roles.command("attach-policy")
@click.argument("role")
@click.argument("policy")
@pass_app
def attach_policy(ctx: AppContext, role: str, policy: str) -> None:
    """Attach managed POLICY to ROLE."""
    ctx.app.governance.attach_policy("role", role, policy)
    click.echo(f"attached policy {policy} to role {role}")


@roles.command("detach-policy")
@click.argument("role")
@click.argument("policy")
@pass_app
def detach_policy(ctx: AppContext, role: str, policy: str) -> None:
    """Detach managed POLICY from ROLE."""
    ctx.app.governance.detach_policy("role", role, policy)
    click.echo(f"detached policy {policy} from role {role}")


# --- policies -------------------------------------------------------------------------


@click.group("policies")
def policies() -> None:
    """Manage managed policies (IAM JSON documents)."""


def _policy_json(policy: ManagedPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "default_version": policy.default_version_id,
        "attachments": policy.attachment_count,
        "description": policy.description,
        "updated": policy.update_time,
    }


@policies.command("create")
@click.argument("name")
@click.option("--document", "document", type=click.File("r"), required=True,
              help="The policy JSON: a file, or - for standard input.")  # fmt: skip
@click.option("--description", help="What the policy is for.")
@pass_app
def create_policy(ctx: AppContext, name: str, document: IO[str], description: str | None) -> None:
    """Create managed policy NAME from a JSON document (checked before it is stored)."""
    ctx.app.governance.create_policy(name, document.read(), description=description)
    click.echo(f"created policy {name}")


@policies.command("list")
@output_option
@pass_app
def list_policies(ctx: AppContext, output: str) -> None:
    """List managed policies."""
    rows = [_policy_json(p) for p in ctx.app.governance.list_policies()]
    emit(rows, output, ["name", "default_version", "attachments", "description"])


@policies.command("show")
@click.argument("name")
@output_option
@pass_app
def show_policy(ctx: AppContext, name: str, output: str) -> None:
    """Show policy NAME with its default document."""
    gov = ctx.app.governance
    shown = _policy_json(gov.get_policy(name))
    shown["document"] = json.loads(gov.policy_version(name).document)
    if output == "json":
        emit_object(shown, output)
        return
    document = shown.pop("document")
    emit_object(shown, output)
    click.echo(json.dumps(document, indent=2))


@policies.command("delete")
@click.argument("name")
@pass_app
def delete_policy(ctx: AppContext, name: str) -> None:
    """Delete policy NAME (it must not be attached anywhere)."""
    ctx.app.governance.delete_policy(name)
    click.echo(f"deleted policy {name}")


# --- role mappings --------------------------------------------------------------------


@click.group("role-mappings")
def role_mappings() -> None:
    """Show and edit the ordered role mappings (first match wins)."""


def _mappings_json(mappings: RoleMappings) -> dict[str, Any]:
    rows = [
        {"position": i + 1, "role": m.role, "type": m.identifier_type,
         "identifiers": list(m.identifiers)}
        for i, m in enumerate(mappings.mappings)
    ]  # fmt: skip
    return {"base_role": mappings.base_role, "mappings": rows}


def _show_mappings(mappings: RoleMappings, output: str) -> None:
    shown = _mappings_json(mappings)
    if output == "json":
        emit_object(shown, output)
        return
    emit(shown["mappings"], output, ["position", "role", "type", "identifiers"])
    click.echo(f"base role (no match): {mappings.base_role}")


@role_mappings.command("show")
@output_option
@click.option("--emr", is_flag=True, help="As an EMR security configuration document.")
@pass_app
def show_mappings(ctx: AppContext, output: str, emr: bool) -> None:
    """Show the mappings in order, and the base role."""
    mappings = ctx.app.governance.role_mappings()
    if emr:
        click.echo(json.dumps(dump_emr_security_configuration(mappings), indent=2))
        return
    _show_mappings(mappings, output)


@role_mappings.command("load")
@click.argument("document", type=click.File("r"))
@output_option
@pass_app
def load_mappings(ctx: AppContext, document: IO[str], output: str) -> None:
    """Replace every mapping with those of an EMR security configuration (FILE or -)."""
    mappings = ctx.app.governance.load_emr_security_configuration(document.read())
    _show_mappings(mappings, output)


@role_mappings.command("add")
@click.option("--role", required=True, help="The role the mapping chooses.")
@click.option("--user", "users", multiple=True, help="A user name (repeatable).")
@click.option("--group", "groups_", multiple=True, help="A group name (repeatable).")
@click.option("--prefix", "prefixes", multiple=True, help="An s3://bucket/prefix (repeatable).")
@click.option("--position", type=click.IntRange(min=1), help="1-based place (default: last).")
@output_option
@pass_app
def add_mapping(
    ctx: AppContext,
    role: str,
    users: tuple[str, ...],
    groups_: tuple[str, ...],
    prefixes: tuple[str, ...],
    position: int | None,
    output: str,
) -> None:
    """Add a mapping of --user, --group or --prefix identifiers (one kind) to --role."""
    given = [(kind, ids) for kind, ids in
             (("user", users), ("group", groups_), ("prefix", prefixes)) if ids]  # fmt: skip
    if len(given) != 1:
        raise click.UsageError("give --user, --group or --prefix (one kind per mapping)")
    kind, identifiers = given[0]
    index = None if position is None else position - 1
    mappings = ctx.app.governance.add_role_mapping(RoleMapping(role, kind, identifiers), index)
    _show_mappings(mappings, output)


@role_mappings.command("remove")
@click.argument("position", type=click.IntRange(min=1))
@output_option
@pass_app
def remove_mapping(ctx: AppContext, position: int, output: str) -> None:
    """Remove the mapping at 1-based POSITION."""
    _show_mappings(ctx.app.governance.remove_role_mapping(position - 1), output)


@role_mappings.command("clear")
@pass_app
def clear_mappings(ctx: AppContext) -> None:
    """Remove every mapping: all requests act as the base role."""
    base = ctx.app.governance.role_mappings().base_role
    ctx.app.governance.set_role_mappings(RoleMappings((), base))
    click.echo(f"cleared role mappings; every request acts as {base}")


@role_mappings.command("set-base-role")
@click.argument("role")
@pass_app
def set_base_role(ctx: AppContext, role: str) -> None:
    """Use ROLE when no mapping matches (keep it weak)."""
    ctx.app.governance.set_base_role(role)
    click.echo(f"base role is now {role}")


COMMANDS = [groups, roles, policies, role_mappings]
