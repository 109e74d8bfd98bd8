"""Which action on which resource each API operation needs, checked before it runs.

The router calls ``check_request`` after authentication and before dispatch, so
a denied request has no side effect. Every operation needs the action of its own
name (Glue ``GetTables`` -> ``glue:GetTables``; docs/governance.md); the tables
below say which resource ARN(s) it acts on, built from the request parameters. An
operation not listed is checked on resource ``*``, so nothing slips through
unchecked.

Denials are the protocol's AccessDenied: ``AccessDeniedException`` (HTTP 400) for
Athena and Glue, ``AccessDenied`` (HTTP 403) for S3 and IAM. STS needs no
permission (``GetCallerIdentity`` never does in AWS).

Also here: ``sql_authorizer`` (what every SQL statement must be allowed, wired
into ``QueryService.start``) and the list filters ``visible_tables`` /
``visible_databases`` (listings show only what the caller may get), which
``sql_visibility`` applies to ``SHOW TABLES|VIEWS|DATABASES`` as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

from shoal.api import s3_xml
from shoal.api.context import RequestContext, Route
from shoal.api.errors import ApiError
from shoal.api.json_protocol import ServiceCall
from shoal.api.s3 import split_path
from shoal.api.sigv4 import HttpRequest
from shoal.api.sts import parse_form
from shoal.audit.records import SQL_REFUSED, annotate
from shoal.auth.enforce import Authorizer, Caller, Check, Verdict
from shoal.auth.resources import Arns, bucket_arn, location_arn, object_arn, statement_requests
from shoal.catalog.model import Database, Table
from shoal.errors import NotAuthorizedError, ShoalError
from shoal.queries.classify import Statement
from shoal.queries.context import LocationAccess, TableAccess, Visibility
from shoal.queries.live import StatementAuthorizer
from shoal.queries.model import PRIMARY, QueryExecution
from shoal.storage.base import parse_uri

__all__ = [
    "caller",
    "check_execution_visible",
    "check_request",
    "enforced_caller",
    "json_checks",
    "refusal_facts",
    "result_check",
    "s3_checks",
    "sql_authorizer",
    "sql_visibility",
    "visible_databases",
    "visible_executions",
    "visible_tables",
]

Params = dict[str, Any]
Rule = Callable[[RequestContext, Arns, Params], list[tuple[str, str | None]]]
"""(resource ARN, storage location or None) pairs an operation acts on."""
EVERYTHING = "*"
# The caller of the request being handled: set by ``check_request`` in the context
# copy the router's worker-thread call runs in, where the handler then runs too.
_CALLER: ContextVar[Caller | None] = ContextVar("shoal_caller", default=None)


# --- who and how ------------------------------------------------------------------------


def caller(ctx: RequestContext) -> Caller:
    """The request's principal as the authorizer sees it: the admin flag as read when
    the request was authenticated (read now when the principal does not say)."""
    admin = ctx.principal.is_admin
    if admin is None:
        identity = ctx.app.identities.signing_identity(ctx.principal.access_key_id)
        admin = identity is not None and identity.is_admin
    return Caller(ctx.principal.user_name, ctx.principal.arn, admin, ctx.source_ip)


def _arns(ctx: RequestContext) -> Arns:
    return Arns(ctx.app.config.region, ctx.app.config.account_id)


def enforced_caller(ctx: RequestContext) -> Caller | None:
    """The caller the router authorized for this request; None outside the router.

    Handlers use it to filter listings and check SQL. A handler called directly (an
    in-process test, no router) has no enforced caller and filters nothing: only
    requests that came through ``check_request`` are subject to policies.
    """
    who = _CALLER.get()
    return who if who is not None and who.arn == ctx.principal.arn else None


def check_request(
    ctx: RequestContext,
    route: Route,
    http: HttpRequest,
    body: bytes,
    call: ServiceCall | None = None,
) -> list[Verdict]:
    """Check an authenticated request before its handler runs; the verdicts, for audit.

    ``call`` is the decoded operation of a JSON-shaped request (Athena, Glue), in
    whichever protocol it came. Also records the caller for the handler
    (``enforced_caller``) in the current context: call it in the context (worker
    thread) the handler then runs in.

    Raises:
        NotAuthorizedError: (JSON-shaped protocols) some check is denied.
        ApiError: ``AccessDenied`` 403 (S3, IAM) some check is denied.
    """
    who = caller(ctx)
    verdicts = _judge(ctx, who, route, http, body, call)
    _CALLER.set(who)
    return verdicts


def _judge(
    ctx: RequestContext,
    who: Caller,
    route: Route,
    http: HttpRequest,
    body: bytes,
    call: ServiceCall | None,
) -> list[Verdict]:
    authorizer = Authorizer(ctx.app.governance)
    if call is not None:
        checks = json_checks(ctx, call.service.model_name, call.operation, call.params)
        return authorizer.authorize(who, checks)
    if route.protocol == "query" and route.service != "iam":
        return []  # STS: GetCallerIdentity needs no permission
    if route.protocol == "query":
        checks = _iam_checks(ctx, parse_form(body))
    else:
        checks = s3_checks(http, body, route.operation)
    try:
        return authorizer.authorize(who, checks)
    except NotAuthorizedError as exc:
        raise ApiError("AccessDenied", exc.message, 403) from exc


# --- Athena and Glue --------------------------------------------------------------------


def _text(params: Params, *path: str) -> str | None:
    """A string member of the (not yet validated) request, or None."""
    value: Any = params
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


def _table_location(ctx: RequestContext, database: str, name: str) -> str | None:
    """Where a table's data lives (None for a view or an unknown table)."""
    try:
        table = ctx.app.catalog.get_table(database, name)
    except ShoalError:  # unknown table (or database): nothing to map by prefix
        return None
    return table.storage.location or None


def _workgroup(key: str = "WorkGroup") -> Rule:
    return lambda ctx, arns, p: [(arns.workgroup(_text(p, key) or PRIMARY), None)]


def _execution_workgroups(ctx: RequestContext, arns: Arns, params: Params) -> list[Any]:
    ids = params.get("QueryExecutionIds") or [params.get("QueryExecutionId")]
    found = []
    for query_id in ids if isinstance(ids, list) else []:
        try:
            found.append(ctx.app.queries.workgroup_of(str(query_id)))
        except ShoalError:
            found.append(PRIMARY)  # unknown id: the handler answers not-found
    return [(arns.workgroup(w), None) for w in dict.fromkeys(found or [PRIMARY])]


def _named_query_workgroups(ctx: RequestContext, arns: Arns, params: Params) -> list[Any]:
    ids = params.get("NamedQueryIds") or [params.get("NamedQueryId")]
    found = []
    for query_id in ids if isinstance(ids, list) else []:
        try:
            found.append(ctx.app.queries.workgroups.get_named_query(str(query_id)).workgroup)
        except ShoalError:
            found.append(PRIMARY)
    return [(arns.workgroup(w), None) for w in dict.fromkeys(found or [PRIMARY])]


def _database(key: str = "DatabaseName", *nested: str) -> Rule:
    return lambda ctx, arns, p: [(arns.database(_text(p, *nested, key) or ""), None)]


def _table(name_key: str) -> Rule:
    def rule(ctx: RequestContext, arns: Arns, params: Params) -> list[Any]:
        database, name = _text(params, "DatabaseName") or "", _text(params, name_key) or ""
        return [(arns.table(database, name), _table_location(ctx, database, name))]

    return rule


def _table_input(ctx: RequestContext, arns: Arns, params: Params) -> list[Any]:
    database, name = _text(params, "DatabaseName") or "", _text(params, "TableInput", "Name") or ""
    new = _text(params, "TableInput", "StorageDescriptor", "Location")
    # Judged where the data is now and where it would be: no moving out of reach.
    locations = dict.fromkeys([_table_location(ctx, database, name), new])
    return [(arns.table(database, name), loc) for loc in locations]


def _tables_to_delete(ctx: RequestContext, arns: Arns, params: Params) -> list[Any]:
    database, names = _text(params, "DatabaseName") or "", params.get("TablesToDelete")
    names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    return [(arns.table(database, n), _table_location(ctx, database, n)) for n in names]


def _fixed(build: Callable[[Arns], str]) -> Rule:
    return lambda ctx, arns, p: [(build(arns), None)]


def _crawler(key: str = "Name") -> Rule:
    return lambda ctx, arns, p: [(arns.crawler(_text(p, key) or ""), None)]


_CATALOG = _fixed(lambda a: a.catalog())
_DATA_CATALOG = _fixed(lambda a: a.data_catalog())
_ANY = _fixed(lambda a: EVERYTHING)

# Athena: work groups own executions, named queries and prepared statements.
ATHENA_RULES: dict[str, Rule] = {
    **dict.fromkeys(
        "StartQueryExecution ListQueryExecutions GetWorkGroup UpdateWorkGroup DeleteWorkGroup "
        "CreateNamedQuery ListNamedQueries CreatePreparedStatement UpdatePreparedStatement "
        "GetPreparedStatement BatchGetPreparedStatement ListPreparedStatements "
        "DeletePreparedStatement".split(),
        _workgroup(),
    ),
    "CreateWorkGroup": _workgroup("Name"),
    **dict.fromkeys(
        "GetQueryExecution BatchGetQueryExecution StopQueryExecution GetQueryResults "
        "GetQueryRuntimeStatistics".split(),
        _execution_workgroups,
    ),
    **dict.fromkeys(
        "GetNamedQuery BatchGetNamedQuery UpdateNamedQuery DeleteNamedQuery".split(),
        _named_query_workgroups,
    ),
    "ListWorkGroups": _ANY,
    **dict.fromkeys(
        "ListDataCatalogs GetDataCatalog ListDatabases GetDatabase ListTableMetadata "
        "GetTableMetadata".split(),
        _DATA_CATALOG,
    ),
}
# Athena's metadata calls also need the Glue permission on what they show (as in AWS).
ATHENA_GLUE: dict[str, tuple[str, Rule]] = {
    "GetDatabase": ("glue:GetDatabase", _database()),
    "ListTableMetadata": ("glue:GetTables", _database()),
    "GetTableMetadata": ("glue:GetTable", _table("TableName")),
}
GLUE_RULES: dict[str, Rule] = {
    "CreateDatabase": _database("Name", "DatabaseInput"),
    **dict.fromkeys("GetDatabase UpdateDatabase DeleteDatabase".split(), _database("Name")),
    "GetDatabases": _CATALOG,
    **dict.fromkeys("GetTable DeleteTable".split(), _table("Name")),
    **dict.fromkeys("CreateTable UpdateTable".split(), _table_input),
    "BatchDeleteTable": _tables_to_delete,
    "GetTables": _database(),
    **dict.fromkeys(
        "GetTableVersions GetTableVersion DeleteTableVersion BatchDeleteTableVersion "
        "CreatePartition BatchCreatePartition GetPartition "
        "GetPartitions BatchGetPartition UpdatePartition DeletePartition "
        "BatchDeletePartition".split(),
        _table("TableName"),
    ),
    **dict.fromkeys(
        "CreateCrawler GetCrawler UpdateCrawler DeleteCrawler StartCrawler StopCrawler".split(),
        _crawler(),
    ),
    **dict.fromkeys(
        "StartCrawlerSchedule StopCrawlerSchedule UpdateCrawlerSchedule".split(),
        _crawler("CrawlerName"),
    ),
    **dict.fromkeys("GetCrawlers ListCrawlers GetCrawlerMetrics".split(), _ANY),
}
_RULES = {"athena": ATHENA_RULES, "glue": GLUE_RULES}


def json_checks(ctx: RequestContext, service: str, operation: str, params: Params) -> list[Check]:
    """The checks an Athena or Glue operation needs (``service`` is botocore's name)."""
    action = f"{service}:{operation}"
    rule = _RULES.get(service, {}).get(operation, _ANY)
    arns = _arns(ctx)
    checks = [Check(action, arn, loc) for arn, loc in rule(ctx, arns, params)]
    if service == "athena" and operation in ATHENA_GLUE:
        glue_action, glue_rule = ATHENA_GLUE[operation]
        checks += [Check(glue_action, arn, loc) for arn, loc in glue_rule(ctx, arns, params)]
    if service == "athena" and operation == "StartQueryExecution":
        if output := _text(params, "ResultConfiguration", "OutputLocation"):
            checks.append(Check("s3:PutObject", _folder_arn(output), output))
    if service == "athena" and operation == "GetQueryResults":
        checks += _result_checks(ctx, _text(params, "QueryExecutionId"))
    return checks


def _result_checks(ctx: RequestContext, query_id: str | None) -> list[Check]:
    """Reading an execution's rows needs ``s3:GetObject`` on its result file, as Athena
    requires (none for an unknown id: the handler answers that it is not found)."""
    try:
        execution = ctx.app.queries.get(query_id or "")
    except ShoalError:
        return []
    return [result_check(execution)]


def result_check(execution: QueryExecution) -> Check:
    """``s3:GetObject`` on the execution's output location object (its ``.csv`` or
    ``.txt``); on ``*`` if it has none, which only a policy on everything allows."""
    location = execution.output_location
    try:
        bucket, key = parse_uri(location or "")
    except ShoalError:
        return Check("s3:GetObject", EVERYTHING)
    return Check("s3:GetObject", object_arn(bucket, key), location)


def _folder_arn(location: str) -> str:
    try:
        return location_arn(location)
    except ShoalError:
        return location  # not an s3:// URI: matched by no policy, refused later anyway


# --- S3 ---------------------------------------------------------------------------------

# The action each S3 operation needs where it is not ``s3:<Operation>`` (AWS's list).
_S3_ACTIONS = {
    "ListBuckets": "s3:ListAllMyBuckets",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListParts": "s3:ListMultipartUploadParts",
    "HeadObject": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
}
_READS_A_SOURCE = frozenset({"CopyObject", "UploadPartCopy"})


def s3_checks(http: HttpRequest, body: bytes, operation: str | None) -> list[Check]:
    """The checks an S3 request needs: the action of ``operation`` (what S3's model
    names the request; None: none) on the bucket or object it names."""
    action = _S3_ACTIONS.get(operation or "", f"s3:{operation or 'UnknownOperation'}")
    bucket, key = split_path(http.raw_path)
    if not bucket:
        return [Check(action, EVERYTHING)]
    if operation == "DeleteObjects":
        return [
            Check("s3:DeleteObject", object_arn(bucket, k), f"s3://{bucket}/{k}")
            for k in _keys_to_delete(body)
        ]
    if not key:
        place = f"s3://{bucket}"
        query = dict(reversed(http.query_pairs()))  # first value wins, as the handler reads it
        if operation in ("ListObjects", "ListObjectsV2") and (prefix := query.get("prefix")):
            place = f"{place}/{prefix}"
        return [Check(action, bucket_arn(bucket), place)]
    checks = [Check(action, object_arn(bucket, key), f"s3://{bucket}/{key}")]
    if operation in _READS_A_SOURCE and (source := http.header("x-amz-copy-source")):
        checks.append(_copy_source_check(source))
    return checks


def _keys_to_delete(body: bytes) -> list[str]:
    try:
        return list(s3_xml.parse_delete(body)[1])
    except ShoalError:
        return []  # the handler refuses the malformed body before deleting anything


def _copy_source_check(header: str) -> Check:
    path = unquote(header.split("?", 1)[0]).lstrip("/")
    bucket, _, key = path.partition("/")
    return Check("s3:GetObject", object_arn(bucket, key), f"s3://{bucket}/{key}")


# --- IAM --------------------------------------------------------------------------------

_IAM_KINDS = (("UserName", "user"), ("GroupName", "group"), ("RoleName", "role"))


def _iam_checks(ctx: RequestContext, params: dict[str, str]) -> list[Check]:
    action = f"iam:{params.get('Action', '')}"
    if policy := params.get("PolicyArn"):
        return [Check(action, policy)]
    arns = _arns(ctx)
    for param, kind in _IAM_KINDS:
        if name := params.get(param):
            return [Check(action, arns.iam(kind, name))]
    return [Check(action, EVERYTHING)]


# --- SQL --------------------------------------------------------------------------------


def sql_authorizer(ctx: RequestContext) -> StatementAuthorizer | None:
    """``(statement, accesses) -> None`` for ``QueryService.start``: raises to refuse a statement.

    Every table read needs ``glue:GetTable`` and ``s3:GetObject`` on its data folder,
    every write its Glue action and ``s3:PutObject`` on the written folder
    (``statement_requests``); each judged under the role chosen for that resource.
    None when the request was not authorized by the router (``enforced_caller``).
    """
    who, arns, governance = enforced_caller(ctx), _arns(ctx), ctx.app.governance
    if who is None:
        return None

    def authorize(statement: Statement, accesses: Sequence[TableAccess | LocationAccess]) -> None:
        places: dict[str, str | None] = {}
        tables: dict[str, str] = {}  # resource ARN -> the table it belongs to, for audit
        for access in accesses:
            if isinstance(access, TableAccess):
                location = _table_location(ctx, access.database, access.table)
                table_arn = arns.table(access.database, access.table)
                places[table_arn] = location
                tables[table_arn] = f"{access.database}.{access.table}"
                if location:
                    places[_folder_arn(location)] = location
                    tables.setdefault(_folder_arn(location), tables[table_arn])
            else:
                places[_folder_arn(access.location)] = access.location
        requests = statement_requests(accesses, arns, statement.kind, places_location(places))
        checks = [Check(r.action, r.resource, places.get(r.resource)) for r in requests]
        try:
            Authorizer(governance).authorize(who, checks)
        except NotAuthorizedError as refusal:
            refusal.table = tables.get(refusal.resource)
            # Refused while StartQueryExecution is answered (a query's reads are checked
            # then): its record says so. A no-op on a query worker, later.
            facts = {k: v for k, v in refusal_facts(refusal).items() if v is not None}
            annotate(**facts, errorCode=SQL_REFUSED, errorMessage=refusal.message)
            raise

    def places_location(places: dict[str, str | None]) -> Callable[[str, str], str | None]:
        return lambda database, table: places.get(arns.table(database, table))

    return authorize


# --- other users' executions ------------------------------------------------------------


def visible_executions(
    ctx: RequestContext, executions: Sequence[QueryExecution]
) -> list[QueryExecution]:
    """The executions the caller may see (GetQueryExecution, BatchGet, List).

    The rule (docs/governance.md): the router has already checked the Athena action
    on the execution's workgroup; a caller always sees the executions it started,
    and another user's only where it may also ``s3:GetObject`` that execution's
    result file — whoever may read the rows may see the query that made them.
    Everything is visible to a handler called outside the router (no enforced caller).
    """
    who = enforced_caller(ctx)
    if who is None:
        return list(executions)
    others = [e for e in executions if not _started_by(e, who)]
    allowed = Authorizer(ctx.app.governance).permitted(who, [result_check(e) for e in others])
    hidden = {id(e) for e, ok in zip(others, allowed, strict=True) if not ok}
    return [e for e in executions if id(e) not in hidden]


def _started_by(execution: QueryExecution, who: Caller) -> bool:
    return execution.user is not None and execution.user == who.user_name


def check_execution_visible(ctx: RequestContext, execution: QueryExecution) -> None:
    """Refuse (AccessDeniedException) another user's execution the caller may not see."""
    who = enforced_caller(ctx)
    if who is None or _started_by(execution, who):
        return
    Authorizer(ctx.app.governance).authorize(who, [result_check(execution)])


# --- audit -------------------------------------------------------------------------------


def refusal_facts(refusal: NotAuthorizedError) -> dict[str, str | None]:
    """What the audit record of a refused request or statement names (additionalEventData)."""
    return {
        "role": refusal.role,
        "roleMapping": refusal.role_mapping,
        "deniedAction": refusal.action,
        "deniedResource": refusal.resource,
        "deniedTable": refusal.table,
    }


# --- list filtering ---------------------------------------------------------------------


def visible_tables(ctx: RequestContext, tables: Sequence[Table]) -> list[Table]:
    """The tables the caller may ``glue:GetTable`` (listings show nothing else)."""
    who = enforced_caller(ctx)
    return list(tables) if who is None else _visible_tables(ctx, who, tables)


def visible_databases(ctx: RequestContext, databases: Sequence[Database]) -> list[Database]:
    """The databases the caller may ``glue:GetDatabase``."""
    who = enforced_caller(ctx)
    return list(databases) if who is None else _visible_databases(ctx, who, databases)


def sql_visibility(ctx: RequestContext) -> Visibility | None:
    """The same filters for SHOW statements, bound to this request's caller now: the
    statement runs later on a query worker, outside the request's context."""
    who = enforced_caller(ctx)
    if who is None:
        return None
    return Visibility(
        tables=lambda tables: _visible_tables(ctx, who, tables),
        databases=lambda databases: _visible_databases(ctx, who, databases),
    )


def _visible_tables(ctx: RequestContext, who: Caller, tables: Sequence[Table]) -> list[Table]:
    arns = _arns(ctx)
    checks = [
        Check("glue:GetTable", arns.table(t.database, t.name), t.storage.location or None)
        for t in tables
    ]
    allowed = Authorizer(ctx.app.governance).permitted(who, checks)
    return [t for t, ok in zip(tables, allowed, strict=True) if ok]


def _visible_databases(
    ctx: RequestContext, who: Caller, databases: Sequence[Database]
) -> list[Database]:
    arns = _arns(ctx)
    checks = [Check("glue:GetDatabase", arns.database(d.name), d.location_uri) for d in databases]
    allowed = Authorizer(ctx.app.governance).permitted(who, checks)
    return [d for d, ok in zip(databases, allowed, strict=True) if ok]
