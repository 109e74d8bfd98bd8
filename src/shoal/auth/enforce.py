"""Enforcement: decide a request's (action, resource) checks for one caller.

The API (``shoal.api.authorize``) and the SQL path (``StatementContext.authorize``)
both turn what a request touches into ``Check`` values and hand them to an
``Authorizer``, which:

* lets an admin user (the bootstrap ``root`` and users created with ``is_admin``)
  do everything, as an AWS account root may — the verdicts still say so, for the
  audit record;
* for everyone else chooses a role **per resource** through the role mappings (user
  and group mappings see the caller, prefix mappings see the resource's storage
  location when it has one; no match is the weak base role) and evaluates that
  role's policies together with the user's own and its groups' policies (inline and
  attached), as IAM combines identity policies: an explicit Deny in any of them
  wins, else an Allow in any of them allows;
* refuses the whole request when any check is denied (``NotAuthorizedError`` naming
  the action, the resource and why).

Mappings, groups and policies are read from the governance store on every call, so
a change takes effect on the next request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shoal.auth.bucket_policies import POLICY_ACTIONS, BucketPolicy, bucket_of
from shoal.auth.conditions import ContextValue, request_context
from shoal.auth.policy import Decision, Policy, evaluate
from shoal.auth.role_mappings import RoleChoice
from shoal.auth.store import GovernanceStore
from shoal.errors import NotAuthorizedError

__all__ = ["ADMIN_REASON", "Authorizer", "Caller", "Check", "Verdict", "denial_message"]

ADMIN_REASON = "allowed: admin user (not subject to policies)"


@dataclass(frozen=True)
class Caller:
    """Who is asking: the authenticated user, as the policies see them."""

    user_name: str
    arn: str
    is_admin: bool = False
    source_ip: str | None = None


@dataclass(frozen=True)
class Check:
    """One action on one resource ARN; ``location`` (``s3://…``) feeds prefix mappings."""

    action: str
    resource: str
    location: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: the role it was judged as and the decision.

    ``role`` and ``decision`` are None for an admin caller (no policy was consulted).
    """

    check: Check
    role: RoleChoice | None
    decision: Decision | None

    @property
    def allowed(self) -> bool:
        """Whether the check passed."""
        return self.decision is None or self.decision.allowed

    @property
    def reason(self) -> str:
        """One line for errors and the audit record."""
        if self.decision is None:
            return ADMIN_REASON
        if self.role is None:  # an admin caller, judged by a bucket policy's Deny
            return self.decision.reason
        return f"{self.decision.reason} (role {self.role.role}, {self.role.reason})"


def _with_bucket_policy(
    caller: Caller,
    verdict: Verdict,
    policies: Mapping[str, BucketPolicy],
    context: Mapping[str, ContextValue],
) -> Verdict:
    """Combine an identity verdict with the bucket policy, as S3 does in one account:
    an explicit Deny anywhere wins, an Allow in either is enough."""
    check = verdict.check
    policy = policies.get(bucket_of(check.resource) or "")
    if policy is None:
        return verdict
    account = caller.arn.split(":")[4] if caller.arn.count(":") >= 5 else ""
    decision = policy.decide(caller.arn, account, check.action, check.resource, context)
    if decision is None:
        return verdict
    if not decision.allowed:
        if caller.is_admin and check.action.lower() in POLICY_ACTIONS:
            return verdict  # the owner can always fix a policy that locks them out
        return Verdict(check, verdict.role, decision)
    if verdict.allowed or (verdict.decision and verdict.decision.kind == "explicit-deny"):
        return verdict
    return Verdict(check, verdict.role, decision)


def denial_message(caller: Caller, verdict: Verdict) -> str:
    """AWS's wording: ``User: ARN is not authorized to perform: ACTION on resource: R …``."""
    check = verdict.check
    return (
        f"User: {caller.arn} is not authorized to perform: {check.action} "
        f"on resource: {check.resource} because {verdict.reason}"
    )


class Authorizer:
    """Judges checks against the governance store's mappings, groups and policies.

    Args:
        governance: Where roles, policies, groups and role mappings are kept.
    """

    def __init__(self, governance: GovernanceStore) -> None:
        self.governance = governance

    def judge(self, caller: Caller, checks: Iterable[Check]) -> list[Verdict]:
        """A verdict for every check, in order (nothing is raised).

        Checks on S3 resources are then judged by their bucket's policy too, if it
        has one (see ``shoal.auth.bucket_policies``).
        """
        checks = list(checks)
        if not checks:
            return []
        verdicts = self._identity_verdicts(caller, checks)
        buckets = {b for c in checks if (b := bucket_of(c.resource)) is not None}
        if not buckets:
            return verdicts
        policies = self.governance.bucket_policies.get_many(buckets)
        if not policies:
            return verdicts
        context = request_context(
            user_name=caller.user_name, principal_arn=caller.arn, source_ip=caller.source_ip
        )
        return [_with_bucket_policy(caller, v, policies, context) for v in verdicts]

    def _identity_verdicts(self, caller: Caller, checks: list[Check]) -> list[Verdict]:
        if caller.is_admin:
            return [Verdict(check, None, None) for check in checks]
        mappings = self.governance.role_mappings()
        groups = self.governance.groups_for_user(caller.user_name)
        choices = mappings.choose_each(caller.user_name, groups, [c.location for c in checks])
        context = request_context(
            user_name=caller.user_name, principal_arn=caller.arn, source_ip=caller.source_ip
        )
        # The user's and its groups' own policies count for every check, whichever
        # role was chosen: IAM evaluates all identity policies together.
        own = self.governance.policies_for_user(caller.user_name)
        policies: dict[str, list[Policy]] = {}  # one store read per role per call
        verdicts = []
        for check, choice in zip(checks, choices, strict=True):
            if choice.role not in policies:
                policies[choice.role] = self.governance.policies_for_role(choice.role) + own
            decision = evaluate(policies[choice.role], check.action, check.resource, context)
            verdicts.append(Verdict(check, choice, decision))
        return verdicts

    def authorize(self, caller: Caller, checks: Iterable[Check]) -> list[Verdict]:
        """Every verdict if all checks pass.

        Raises:
            NotAuthorizedError: for the first denied check, naming its action,
                resource, role and the deciding statement.
        """
        verdicts = self.judge(caller, checks)
        for verdict in verdicts:
            if not verdict.allowed:
                raise NotAuthorizedError(
                    denial_message(caller, verdict),
                    verdict.check.action,
                    verdict.check.resource,
                    verdict.role.role if verdict.role else None,
                    verdict.role.reason if verdict.role else None,
                )
        return verdicts

    def permitted(self, caller: Caller, checks: Sequence[Check]) -> list[bool]:
        """For list filtering: whether each check passes, in order."""
        return [v.allowed for v in self.judge(caller, checks)]
