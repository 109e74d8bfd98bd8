"""IAM over the query protocol: users, groups, access keys, roles and policies.

Requests are form-encoded ``POST /`` bodies (``Action=CreateUser&UserName=…``)
signed for service ``iam``; answers are XML in IAM's namespace, shaped as botocore's
``iam`` model reads them. Users and keys map onto ``IdentityStore``; everything else
onto ``GovernanceStore``. Policy documents arrive URL-encoded JSON in the form and go
back URL-encoded, as IAM sends them (botocore decodes them into dicts).

List operations page with ``Marker`` (an opaque offset) and ``MaxItems``. Paths are
always ``/``: shoal accepts a ``Path`` parameter but does not organise by it.

Authorization happens before dispatch, as for every service
(``shoal.api.authorize``): each action needs ``iam:<Action>`` on the user, group,
role or policy it names. Admin users pass everything. Granting IAM writes is
granting power: whoever may attach policies or create keys may grant themselves
anything.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.responses import Response

from shoal.api.authorize import caller
from shoal.api.context import RequestContext
from shoal.api.errors import ApiError
from shoal.api.sts import parse_form
from shoal.auth.keys import ROOT_USER, AccessKey, User, user_arn
from shoal.auth.store import Group, ManagedPolicy, PolicyVersion, Role, parse_version_id
from shoal.errors import DeleteConflictError, InvalidInputError, NoSuchEntityError

NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
DEFAULT_MAX_ITEMS = 100
MAX_ITEMS = 1000
Params = dict[str, str]
Handler = Callable[[RequestContext, Params], str | None]
KIND_PARAM = {"user": "UserName", "group": "GroupName", "role": "RoleName"}
_ID_PREFIX = {"user": "AIDA", "group": "AGPA", "role": "AROA", "policy": "ANPA"}


# --- request helpers ---------------------------------------------------------------


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if not value:
        raise ApiError("ValidationError", f"1 validation error detected: {name} is required")
    return value


def _caller_or(ctx: RequestContext, params: Params) -> str:
    """``UserName`` if given, else the caller (IAM's rule for keys and GetUser)."""
    return params.get("UserName") or ctx.principal.user_name


def _policy_name(ctx: RequestContext, arn: str) -> str:
    """The managed policy an ARN names; policies of other accounts do not exist here."""
    prefix, sep, rest = arn.partition(":policy/")
    if not sep or not prefix.startswith("arn:aws:iam::") or not rest:
        raise ApiError("InvalidInput", f"ARN {arn[:200]} is not valid.")
    if prefix != f"arn:aws:iam::{ctx.principal.account_id}":
        raise NoSuchEntityError(f"Policy {arn[:200]} does not exist or is not attachable.")
    return rest.rsplit("/", 1)[-1]


def _bounds(params: Params) -> tuple[int, int]:
    """The slice of a list one page covers, from ``Marker`` and ``MaxItems``."""
    marker = params.get("Marker", "0")
    max_items = params.get("MaxItems", str(DEFAULT_MAX_ITEMS))
    if not marker.isdigit() or not max_items.isdigit() or not 1 <= int(max_items) <= MAX_ITEMS:
        raise ApiError("ValidationError", f"Marker or MaxItems (1-{MAX_ITEMS}) is invalid")
    return int(marker), int(marker) + int(max_items)


def _list(tag: str, params: Params, items: Sequence[str]) -> str:
    """``<tag><member>…</member></tag>`` for one page of rendered ``items``, then
    ``IsTruncated`` and the ``Marker`` of the next page."""
    start, end = _bounds(params)
    members = "".join(f"<member>{item}</member>" for item in items[start:end])
    more = (
        f"<IsTruncated>true</IsTruncated><Marker>{end}</Marker>"
        if end < len(items)
        else ("<IsTruncated>false</IsTruncated>")
    )
    return f"<{tag}>{members}</{tag}>{more}"


# --- rendering ---------------------------------------------------------------------


def _x(tag: str, value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return f"<{tag}>{escape(text)}</{tag}>"


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(text: str) -> str:
    return quote(text, safe="")  # IAM's encoding; botocore unquotes and parses it


def _entity_id(kind: str, name: str, created: datetime) -> str:
    """A stable IAM-style unique id (``AIDA…``) derived from the entity itself."""
    digest = hashlib.sha256(f"{kind}\0{name}\0{created.isoformat()}".encode()).digest()
    return _ID_PREFIX[kind] + base64.b32encode(digest).decode()[:17]


def _iam_arn(ctx: RequestContext, kind: str, name: str) -> str:
    return f"arn:aws:iam::{ctx.principal.account_id}:{kind}/{name}"


def _user(ctx: RequestContext, user: User) -> str:
    return (
        f"<Path>/</Path>{_x('UserName', user.name)}"
        f"{_x('UserId', _entity_id('user', user.name, user.create_time))}"
        f"{_x('Arn', user_arn(ctx.principal.account_id, user.name))}"
        f"{_x('CreateDate', _date(user.create_time))}"
    )


def _group(ctx: RequestContext, group: Group) -> str:
    return (
        f"<Path>/</Path>{_x('GroupName', group.name)}"
        f"{_x('GroupId', _entity_id('group', group.name, group.create_time))}"
        f"{_x('Arn', _iam_arn(ctx, 'group', group.name))}"
        f"{_x('CreateDate', _date(group.create_time))}"
    )


def _role(ctx: RequestContext, role: Role) -> str:
    trust = _document(role.assume_role_policy) if role.assume_role_policy else None
    return (
        f"<Path>/</Path>{_x('RoleName', role.name)}"
        f"{_x('RoleId', _entity_id('role', role.name, role.create_time))}"
        f"{_x('Arn', _iam_arn(ctx, 'role', role.name))}"
        f"{_x('CreateDate', _date(role.create_time))}"
        f"{_x('AssumeRolePolicyDocument', trust)}{_x('Description', role.description)}"
        "<MaxSessionDuration>3600</MaxSessionDuration>"
    )


def _policy(ctx: RequestContext, policy: ManagedPolicy) -> str:
    return (
        f"{_x('PolicyName', policy.name)}"
        f"{_x('PolicyId', _entity_id('policy', policy.name, policy.create_time))}"
        f"{_x('Arn', _iam_arn(ctx, 'policy', policy.name))}<Path>/</Path>"
        f"{_x('DefaultVersionId', policy.default_version_id)}"
        f"{_x('AttachmentCount', policy.attachment_count)}"
        "<PermissionsBoundaryUsageCount>0</PermissionsBoundaryUsageCount>"
        f"<IsAttachable>true</IsAttachable>{_x('Description', policy.description)}"
        f"{_x('CreateDate', _date(policy.create_time))}"
        f"{_x('UpdateDate', _date(policy.update_time))}"
    )


def _version(version: PolicyVersion) -> str:
    return (
        f"{_x('Document', _document(version.document))}{_x('VersionId', version.version_id)}"
        f"{_x('IsDefaultVersion', str(version.is_default).lower())}"
        f"{_x('CreateDate', _date(version.create_time))}"
    )


def _access_key(key: AccessKey) -> str:
    return (
        f"{_x('UserName', key.user_name)}{_x('AccessKeyId', key.access_key_id)}"
        f"{_x('Status', 'Active' if key.enabled else 'Inactive')}"
        f"{_x('CreateDate', _date(key.create_time))}"
    )


# --- users and access keys ---------------------------------------------------------


def _find_user(ctx: RequestContext, name: str) -> User:
    for user in ctx.app.identities.list_users():
        if user.name == name:
            return user
    raise NoSuchEntityError(f"The user with name {name} cannot be found.")


def create_user(ctx: RequestContext, params: Params) -> str:
    user = ctx.app.identities.create_user(_required(params, "UserName"))
    return f"<User>{_user(ctx, user)}</User>"


def get_user(ctx: RequestContext, params: Params) -> str:
    return f"<User>{_user(ctx, _find_user(ctx, _caller_or(ctx, params)))}</User>"


def list_users(ctx: RequestContext, params: Params) -> str:
    users = [_user(ctx, u) for u in ctx.app.identities.list_users()]
    return _list("Users", params, users)


def delete_user(ctx: RequestContext, params: Params) -> None:
    """As IAM: refused while the user has keys, groups or policies."""
    name = _required(params, "UserName")
    _find_user(ctx, name)
    if name == ROOT_USER:
        raise DeleteConflictError("Cannot delete the admin user root.")
    conflicts = ctx.app.governance.user_conflicts(name)
    if ctx.app.identities.list_keys(name):
        conflicts.insert(0, "access keys")
    if conflicts:
        raise DeleteConflictError(f"Cannot delete entity, must remove {conflicts[0]} first.")
    ctx.app.identities.delete_user(name)


def create_access_key(ctx: RequestContext, params: Params) -> str:
    key = ctx.app.identities.create_key(_caller_or(ctx, params))
    stored = next(k for k in ctx.app.identities.list_keys(key.user_name)
                  if k.access_key_id == key.access_key_id)  # fmt: skip
    return (
        f"<AccessKey>{_access_key(stored)}"
        f"{_x('SecretAccessKey', key.secret_access_key)}</AccessKey>"
    )


def list_access_keys(ctx: RequestContext, params: Params) -> str:
    name = _caller_or(ctx, params)
    keys = [_access_key(k) for k in ctx.app.identities.list_keys(name)]
    return _list("AccessKeyMetadata", params, keys) + _x("UserName", name)


def _owned_key(ctx: RequestContext, params: Params) -> str:
    """The key id, after checking it belongs to the named (or calling) user."""
    key_id = _required(params, "AccessKeyId")
    owner = _caller_or(ctx, params)
    if not any(k.access_key_id == key_id for k in ctx.app.identities.list_keys(owner)):
        raise NoSuchEntityError(f"The Access Key with id {key_id} cannot be found.")
    return key_id


def update_access_key(ctx: RequestContext, params: Params) -> None:
    status = _required(params, "Status")
    if status not in ("Active", "Inactive"):
        raise ApiError("ValidationError", "Status must be Active or Inactive")
    ctx.app.identities.set_key_enabled(_owned_key(ctx, params), status == "Active")


def delete_access_key(ctx: RequestContext, params: Params) -> None:
    ctx.app.identities.delete_key(_owned_key(ctx, params))


# --- groups ------------------------------------------------------------------------


def create_group(ctx: RequestContext, params: Params) -> str:
    group = ctx.app.governance.create_group(_required(params, "GroupName"))
    return f"<Group>{_group(ctx, group)}</Group>"


def get_group(ctx: RequestContext, params: Params) -> str:
    gov = ctx.app.governance
    group = gov.get_group(_required(params, "GroupName"))
    members = set(gov.group_members(group.name))
    users = [_user(ctx, u) for u in ctx.app.identities.list_users() if u.name in members]
    return f"<Group>{_group(ctx, group)}</Group>" + _list("Users", params, users)


def list_groups(ctx: RequestContext, params: Params) -> str:
    groups = [_group(ctx, g) for g in ctx.app.governance.list_groups()]
    return _list("Groups", params, groups)


def list_groups_for_user(ctx: RequestContext, params: Params) -> str:
    gov = ctx.app.governance
    name = _find_user(ctx, _required(params, "UserName")).name
    groups = [_group(ctx, gov.get_group(g)) for g in gov.groups_for_user(name)]
    return _list("Groups", params, groups)


def delete_group(ctx: RequestContext, params: Params) -> None:
    ctx.app.governance.delete_group(_required(params, "GroupName"))


def add_user_to_group(ctx: RequestContext, params: Params) -> None:
    group, user = _required(params, "GroupName"), _required(params, "UserName")
    ctx.app.governance.add_user_to_group(group, user)


def remove_user_from_group(ctx: RequestContext, params: Params) -> None:
    group, user = _required(params, "GroupName"), _required(params, "UserName")
    ctx.app.governance.remove_user_from_group(group, user)


# --- roles -------------------------------------------------------------------------


def create_role(ctx: RequestContext, params: Params) -> str:
    role = ctx.app.governance.create_role(
        _required(params, "RoleName"),
        description=params.get("Description"),
        assume_role_policy=_required(params, "AssumeRolePolicyDocument"),
    )
    return f"<Role>{_role(ctx, role)}</Role>"


def get_role(ctx: RequestContext, params: Params) -> str:
    return f"<Role>{_role(ctx, ctx.app.governance.get_role(_required(params, 'RoleName')))}</Role>"


def list_roles(ctx: RequestContext, params: Params) -> str:
    return _list("Roles", params, [_role(ctx, r) for r in ctx.app.governance.list_roles()])


def delete_role(ctx: RequestContext, params: Params) -> None:
    ctx.app.governance.delete_role(_required(params, "RoleName"))


# --- managed policies --------------------------------------------------------------


def create_policy(ctx: RequestContext, params: Params) -> str:
    policy = ctx.app.governance.create_policy(
        _required(params, "PolicyName"),
        _required(params, "PolicyDocument"),
        description=params.get("Description"),
    )
    return f"<Policy>{_policy(ctx, policy)}</Policy>"


def get_policy(ctx: RequestContext, params: Params) -> str:
    name = _policy_name(ctx, _required(params, "PolicyArn"))
    return f"<Policy>{_policy(ctx, ctx.app.governance.get_policy(name))}</Policy>"


def list_policies(ctx: RequestContext, params: Params) -> str:
    if params.get("Scope") == "AWS":  # shoal has no AWS-managed policies
        return _list("Policies", params, [])
    only_attached = params.get("OnlyAttached", "false").lower() == "true"
    policies = ctx.app.governance.list_policies(only_attached=only_attached)
    return _list("Policies", params, [_policy(ctx, p) for p in policies])


def delete_policy(ctx: RequestContext, params: Params) -> None:
    ctx.app.governance.delete_policy(_policy_name(ctx, _required(params, "PolicyArn")))


def get_policy_version(ctx: RequestContext, params: Params) -> str:
    name = _policy_name(ctx, _required(params, "PolicyArn"))
    version = parse_version_id(_required(params, "VersionId"))
    found = ctx.app.governance.policy_version(name, version)
    return f"<PolicyVersion>{_version(found)}</PolicyVersion>"


def create_policy_version(ctx: RequestContext, params: Params) -> str:
    name = _policy_name(ctx, _required(params, "PolicyArn"))
    default = params.get("SetAsDefault", "false").lower() == "true"
    created = ctx.app.governance.create_policy_version(
        name, _required(params, "PolicyDocument"), set_as_default=default
    )
    return f"<PolicyVersion>{_version(created)}</PolicyVersion>"


def list_policy_versions(ctx: RequestContext, params: Params) -> str:
    name = _policy_name(ctx, _required(params, "PolicyArn"))
    versions = [_version(v) for v in ctx.app.governance.list_policy_versions(name)]
    return _list("Versions", params, versions)


def set_default_policy_version(ctx: RequestContext, params: Params) -> None:
    name = _policy_name(ctx, _required(params, "PolicyArn"))
    version = parse_version_id(_required(params, "VersionId"))
    ctx.app.governance.set_default_policy_version(name, version)


def delete_policy_version(ctx: RequestContext, params: Params) -> None:
    name = _policy_name(ctx, _required(params, "PolicyArn"))
    version = parse_version_id(_required(params, "VersionId"))
    ctx.app.governance.delete_policy_version(name, version)


# --- attached and inline policies of users, groups and roles -------------------------


def _attach(kind: str) -> Handler:
    def handler(ctx: RequestContext, params: Params) -> None:
        policy = _policy_name(ctx, _required(params, "PolicyArn"))
        ctx.app.governance.attach_policy(kind, _required(params, KIND_PARAM[kind]), policy)

    return handler


def _detach(kind: str) -> Handler:
    def handler(ctx: RequestContext, params: Params) -> None:
        policy = _policy_name(ctx, _required(params, "PolicyArn"))
        ctx.app.governance.detach_policy(kind, _required(params, KIND_PARAM[kind]), policy)

    return handler


def _list_attached(kind: str) -> Handler:
    def handler(ctx: RequestContext, params: Params) -> str:
        names = ctx.app.governance.attached_policies(kind, _required(params, KIND_PARAM[kind]))
        items = [
            f"{_x('PolicyName', n)}{_x('PolicyArn', _iam_arn(ctx, 'policy', n))}" for n in names
        ]
        return _list("AttachedPolicies", params, items)

    return handler


def _put_inline(kind: str) -> Handler:
    def handler(ctx: RequestContext, params: Params) -> None:
        principal, name = _required(params, KIND_PARAM[kind]), _required(params, "PolicyName")
        document = _required(params, "PolicyDocument")
        ctx.app.governance.put_inline_policy(kind, principal, name, document)

    return handler


def _get_inline(kind: str) -> Handler:
    def handler(ctx: RequestContext, params: Params) -> str:
        principal, name = _required(params, KIND_PARAM[kind]), _required(params, "PolicyName")
        document = ctx.app.governance.get_inline_policy(kind, principal, name)
        return (
            f"{_x(KIND_PARAM[kind], principal)}{_x('PolicyName', name)}"
            f"{_x('PolicyDocument', _document(document))}"
        )

    return handler


def _list_inline(kind: str) -> Handler:
    def handler(ctx: RequestContext, params: Params) -> str:
        names = ctx.app.governance.inline_policies(kind, _required(params, KIND_PARAM[kind]))
        return _list("PolicyNames", params, [escape(n) for n in names])

    return handler


def _delete_inline(kind: str) -> Handler:
    def handler(ctx: RequestContext, params: Params) -> None:
        principal, name = _required(params, KIND_PARAM[kind]), _required(params, "PolicyName")
        ctx.app.governance.delete_inline_policy(kind, principal, name)

    return handler


def _principal_actions() -> dict[str, Handler]:
    actions: dict[str, Handler] = {}
    for kind in KIND_PARAM:
        noun = kind.capitalize()
        actions |= {
            f"Attach{noun}Policy": _attach(kind),
            f"Detach{noun}Policy": _detach(kind),
            f"ListAttached{noun}Policies": _list_attached(kind),
            f"Put{noun}Policy": _put_inline(kind),
            f"Get{noun}Policy": _get_inline(kind),
            f"List{noun}Policies": _list_inline(kind),
            f"Delete{noun}Policy": _delete_inline(kind),
        }
    return actions


ACTIONS: dict[str, Handler] = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "DeleteUser": delete_user,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "CreateGroup": create_group,
    "GetGroup": get_group,
    "ListGroups": list_groups,
    "ListGroupsForUser": list_groups_for_user,
    "DeleteGroup": delete_group,
    "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group,
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "DeleteRole": delete_role,
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "GetPolicyVersion": get_policy_version,
    "CreatePolicyVersion": create_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "DeletePolicyVersion": delete_policy_version,
    **_principal_actions(),
}


# --- dispatch ----------------------------------------------------------------------


def _guard_admin_targets(ctx: RequestContext, action: str, params: dict[str, str]) -> None:
    """Only an admin may act on an admin user.

    A policy allowing ``iam:CreateAccessKey`` on ``user/*`` would otherwise let its
    holder mint a key for ``root`` and become admin. Reads stay with the policies.
    """
    target = params.get("UserName")
    if not target or action.startswith(("Get", "List")):
        return
    admins = {u.name for u in ctx.app.identities.list_users() if u.is_admin}
    if target.lower() in {a.lower() for a in admins} and not caller(ctx).is_admin:
        raise ApiError(
            "AccessDenied",
            f"User: {ctx.principal.arn} is not authorized to perform: iam:{action} on "
            f"admin user {target}: only an admin may change an admin user",
            403,
        )


def dispatch(ctx: RequestContext, body: bytes) -> Response:
    """Run the IAM action named in the form body and render IAM's XML answer."""
    params = parse_form(body)
    action = params.get("Action", "")
    handler = ACTIONS.get(action)
    if handler is None:
        raise ApiError("InvalidAction", f"Could not find operation {action[:100]!r} for IAM")
    _guard_admin_targets(ctx, action, params)
    try:
        result = handler(ctx, params)
    except InvalidInputError as exc:
        if exc.code != InvalidInputError.code:
            raise  # MalformedPolicyDocument and friends keep their own code
        raise ApiError("ValidationError", exc.message) from None
    inner = "" if result is None else f"<{action}Result>{result}</{action}Result>"
    xml = (
        f'<{action}Response xmlns="{NAMESPACE}">{inner}'
        f"<ResponseMetadata><RequestId>{ctx.request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return Response(xml, media_type="text/xml", headers={"x-amzn-RequestId": ctx.request_id})
