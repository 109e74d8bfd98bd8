"""Resource names (ARNs) and action names that shoal's policies speak about.

ARNs mirror AWS where AWS has the resource (Glue catalog, databases, tables and
crawlers; S3 buckets and objects; Athena workgroups; IAM users, groups, roles and
policies) and use the ``shoal`` partition for what only shoal has (the audit trail,
usage, quotas, role mappings). docs/governance.md is the reference.

Names go into ARNs literally: a table called ``a*b`` is the text ``a*b``, and the
evaluator never reads a requested resource as a pattern. Catalog names may contain
``/`` (Glue allows it), which would let ``db "a/b", table "c"`` and ``db "a", table
"b/c"`` share one ARN; so ``%`` and ``/`` in database, table, workgroup and crawler
names are percent-encoded (``a%2Fb``). S3 keys keep their ``/``: it is their path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shoal.queries.context import LocationAccess, TableAccess
from shoal.queries.show import ALL_TABLES
from shoal.storage.base import parse_uri

__all__ = [
    "ACTIONS",
    "READ",
    "WRITE",
    "AccessRequest",
    "Arns",
    "bucket_arn",
    "is_read_only",
    "location_arn",
    "object_arn",
    "shoal_arn",
    "statement_requests",
]

READ, WRITE = "read", "write"


@dataclass(frozen=True)
class AccessRequest:
    """One thing to authorize: an action on a resource ARN."""

    action: str
    resource: str


def _segment(name: str) -> str:
    return name.replace("%", "%25").replace("/", "%2F")


@dataclass(frozen=True)
class Arns:
    """ARN builders for one shoal (its region and account id, as in its config)."""

    region: str
    account_id: str

    def _regional(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def catalog(self) -> str:
        """``arn:aws:glue:REGION:ACCOUNT:catalog`` — the one data catalog."""
        return self._regional("glue", "catalog")

    def database(self, database: str) -> str:
        """``arn:aws:glue:REGION:ACCOUNT:database/DB``."""
        return self._regional("glue", f"database/{_segment(database)}")

    def table(self, database: str, table: str) -> str:
        """``arn:aws:glue:REGION:ACCOUNT:table/DB/TABLE`` (views too, as in Glue)."""
        return self._regional("glue", f"table/{_segment(database)}/{_segment(table)}")

    def crawler(self, name: str) -> str:
        """``arn:aws:glue:REGION:ACCOUNT:crawler/NAME``."""
        return self._regional("glue", f"crawler/{_segment(name)}")

    def workgroup(self, name: str) -> str:
        """``arn:aws:athena:REGION:ACCOUNT:workgroup/NAME``."""
        return self._regional("athena", f"workgroup/{_segment(name)}")

    def data_catalog(self, name: str = "AwsDataCatalog") -> str:
        """``arn:aws:athena:REGION:ACCOUNT:datacatalog/NAME`` (Athena's view of the catalog)."""
        return self._regional("athena", f"datacatalog/{_segment(name)}")

    def iam(self, kind: str, name: str) -> str:
        """``arn:aws:iam::ACCOUNT:KIND/NAME`` for a user, group, role or policy."""
        if kind not in ("user", "group", "role", "policy"):
            raise ValueError(f"not an IAM resource kind: {kind!r}")
        return f"arn:aws:iam::{self.account_id}:{kind}/{name}"


def bucket_arn(bucket: str) -> str:
    """``arn:aws:s3:::BUCKET`` (bucket operations: ListBucket, CreateBucket, …)."""
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    """``arn:aws:s3:::BUCKET/KEY`` (object operations: GetObject, PutObject, …)."""
    return f"arn:aws:s3:::{bucket}/{key}"


def location_arn(location: str) -> str:
    """The ARN a folder ``s3://bucket/prefix`` is checked as: ``arn:aws:s3:::bucket/prefix/``.

    A table or output location is a folder, so it gets a trailing ``/``: a policy on
    ``arn:aws:s3:::b/sales/*`` covers ``s3://b/sales``, one on ``…:::b/sales2/*`` does not.
    """
    bucket, key = parse_uri(location)
    key = key.rstrip("/")
    return object_arn(bucket, f"{key}/" if key else "")


def shoal_arn(resource: str) -> str:
    """``arn:shoal:shoal:::RESOURCE`` for what only shoal has (``audit``, ``usage/user/x``)."""
    return f"arn:shoal:shoal:::{resource}"


# --- actions ---------------------------------------------------------------------------

ACTIONS: dict[str, str] = {
    # Athena
    **dict.fromkeys(
        (
            "athena:GetQueryExecution athena:BatchGetQueryExecution athena:ListQueryExecutions "
            "athena:GetQueryResults athena:GetQueryRuntimeStatistics athena:GetWorkGroup "
            "athena:ListWorkGroups athena:GetNamedQuery athena:BatchGetNamedQuery "
            "athena:ListNamedQueries athena:GetPreparedStatement athena:ListPreparedStatements "
            "athena:GetDataCatalog athena:ListDataCatalogs athena:GetDatabase "
            "athena:ListDatabases athena:GetTableMetadata athena:ListTableMetadata"
        ).split(),
        READ,
    ),
    **dict.fromkeys(
        (
            "athena:StartQueryExecution athena:StopQueryExecution athena:CreateWorkGroup "
            "athena:UpdateWorkGroup athena:DeleteWorkGroup athena:CreateNamedQuery "
            "athena:DeleteNamedQuery athena:CreatePreparedStatement "
            "athena:UpdatePreparedStatement athena:DeletePreparedStatement"
        ).split(),
        WRITE,
    ),
    # Glue
    **dict.fromkeys(
        (
            "glue:GetDatabase glue:GetDatabases glue:GetTable glue:GetTables "
            "glue:GetTableVersion glue:GetTableVersions glue:GetPartition glue:GetPartitions "
            "glue:BatchGetPartition glue:GetCrawler glue:GetCrawlers glue:ListCrawlers "
            "glue:GetCrawlerMetrics"
        ).split(),
        READ,
    ),
    **dict.fromkeys(
        (
            "glue:CreateDatabase glue:UpdateDatabase glue:DeleteDatabase glue:CreateTable "
            "glue:UpdateTable glue:DeleteTable glue:BatchDeleteTable glue:DeleteTableVersion "
            "glue:BatchDeleteTableVersion glue:CreatePartition "
            "glue:BatchCreatePartition glue:UpdatePartition glue:DeletePartition "
            "glue:BatchDeletePartition glue:CreateCrawler glue:UpdateCrawler "
            "glue:DeleteCrawler glue:StartCrawler glue:StopCrawler glue:StartCrawlerSchedule "
            "glue:StopCrawlerSchedule glue:UpdateCrawlerSchedule"
        ).split(),
        WRITE,
    ),
    # S3
    **dict.fromkeys(
        (
            "s3:ListAllMyBuckets s3:ListBucket s3:GetBucketLocation s3:GetObject "
            "s3:ListBucketMultipartUploads s3:ListMultipartUploadParts"
        ).split(),
        READ,
    ),
    **dict.fromkeys(
        (
            "s3:CreateBucket s3:DeleteBucket s3:PutObject s3:DeleteObject s3:AbortMultipartUpload"
        ).split(),
        WRITE,
    ),
    # IAM (the admin API) and shoal's own
    **dict.fromkeys(
        (
            "iam:GetUser iam:ListUsers iam:ListGroupsForUser iam:ListAccessKeys iam:GetRole "
            "iam:ListRoles iam:GetPolicy iam:GetPolicyVersion iam:ListPolicies "
            "iam:ListAttachedRolePolicies iam:ListAttachedUserPolicies "
            "iam:ListAttachedGroupPolicies shoal:GetRoleMappings shoal:GetUsage "
            "shoal:GetQuotas shoal:VerifyAuditTrail shoal:ReadAuditTrail"
        ).split(),
        READ,
    ),
    **dict.fromkeys(
        (
            "iam:CreateUser iam:DeleteUser iam:CreateGroup iam:AddUserToGroup "
            "iam:RemoveUserFromGroup iam:CreateAccessKey iam:UpdateAccessKey "
            "iam:DeleteAccessKey iam:CreateRole iam:DeleteRole iam:CreatePolicy "
            "iam:DeletePolicy iam:AttachRolePolicy iam:DetachRolePolicy iam:PutRolePolicy "
            "iam:AttachUserPolicy iam:DetachUserPolicy iam:PutUserPolicy "
            "iam:AttachGroupPolicy iam:DetachGroupPolicy iam:PutGroupPolicy "
            "shoal:PutRoleMappings shoal:PutQuota shoal:DeleteQuota"
        ).split(),
        WRITE,
    ),
}
"""Every action shoal checks, and whether it only reads (CloudTrail's ``readOnly``)."""

_ACTIONS_FOLDED = {name.lower(): level for name, level in ACTIONS.items()}


def is_read_only(action: str) -> bool:
    """Whether ``action`` changes nothing; unknown actions count as writes."""
    return _ACTIONS_FOLDED.get(action.lower()) == READ


# --- SQL statements ----------------------------------------------------------------------

# The Glue action a statement's table write needs, by statement kind (queries.classify).
TABLE_WRITE_ACTIONS: dict[str, str] = {
    "CREATE_TABLE": "glue:CreateTable",
    "CREATE_TABLE_AS_SELECT": "glue:CreateTable",
    "CREATE_VIEW": "glue:CreateTable",  # CREATE OR REPLACE VIEW included: one rule
    "DROP_TABLE": "glue:DeleteTable",
    "DROP_VIEW": "glue:DeleteTable",
    "INSERT": "glue:UpdateTable",
    "ALTER_TABLE_ADD_PARTITION": "glue:BatchCreatePartition",
    "MSCK_REPAIR_TABLE": "glue:BatchCreatePartition",
    "ALTER_TABLE_DROP_PARTITION": "glue:BatchDeletePartition",
}
DATABASE_WRITE_ACTIONS: dict[str, str] = {
    "CREATE_DATABASE": "glue:CreateDatabase",
    "DROP_DATABASE": "glue:DeleteDatabase",
}
# Any other (or unknown) write: the conservative "update" of what it names.
DEFAULT_TABLE_WRITE, DEFAULT_DATABASE_WRITE = "glue:UpdateTable", "glue:UpdateDatabase"

TableLocation = Callable[[str, str], str | None]


def statement_requests(
    accesses: Iterable[TableAccess | LocationAccess],
    arns: Arns,
    statement_kind: str | None = None,
    table_location: TableLocation | None = None,
) -> list[AccessRequest]:
    """What one SQL statement must be allowed, from what it reports it touches.

    The ``athena:StartQueryExecution`` on the workgroup is the API call's own check
    and is not repeated here.

    Args:
        accesses: The statement's ``TableAccess`` / ``LocationAccess`` values
            (``StatementContext.authorize`` receives them).
        arns: ARN builders of this shoal.
        statement_kind: ``queries.classify.Statement.kind``; picks the Glue write action.
        table_location: ``(database, table) -> s3 location`` (None for a view), to
            check ``s3:GetObject`` on the data of every table read; None skips it.

    Returns:
        Requests in order, without repeats: every one must be allowed.
    """
    out: list[AccessRequest] = []
    for access in accesses:
        if isinstance(access, LocationAccess):
            out.append(AccessRequest("s3:PutObject", location_arn(access.location)))
        elif access.mode == READ:
            out.extend(_read_requests(access, arns, table_location))
        else:
            out.append(_write_request(access, arns, statement_kind))
    return list(dict.fromkeys(out))


def _read_requests(
    access: TableAccess, arns: Arns, table_location: TableLocation | None
) -> list[AccessRequest]:
    if access.table == ALL_TABLES:  # SHOW TABLES / SHOW VIEWS of a database
        return [AccessRequest("glue:GetTables", arns.database(access.database))]
    out = [AccessRequest("glue:GetTable", arns.table(access.database, access.table))]
    location = table_location(access.database, access.table) if table_location else None
    if location:
        out.append(AccessRequest("s3:GetObject", location_arn(location)))
    return out


def _write_request(access: TableAccess, arns: Arns, statement_kind: str | None) -> AccessRequest:
    kind = statement_kind or ""
    if access.table == ALL_TABLES:
        action = DATABASE_WRITE_ACTIONS.get(kind, DEFAULT_DATABASE_WRITE)
        return AccessRequest(action, arns.database(access.database))
    action = TABLE_WRITE_ACTIONS.get(kind, DEFAULT_TABLE_WRITE)
    return AccessRequest(action, arns.table(access.database, access.table))
