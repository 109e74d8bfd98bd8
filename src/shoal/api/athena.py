"""The Amazon Athena API: query executions, work groups, named queries, prepared
statements and the data catalog's metadata.

``OPERATIONS`` maps each Athena operation name to a handler (see ``api.context``):
the request body comes in validated against the botocore model, the response body
goes out as a dict. Handlers translate with ``api.athena_shapes`` and call the query
service (``app.queries``) and the catalog; they hold no query logic of their own.

Callers only ever see Athena's own error codes: an error of another service's
vocabulary (Glue's InvalidInputException, say) is answered as InvalidRequestException
with its message. Operations not in ``OPERATIONS`` (Spark sessions, notebooks,
capacity reservations, tags, data catalog creation…) are not supported.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from shoal.api.athena_shapes import (
    DATA_CATALOG,
    Wire,
    apply_configuration_updates,
    check_catalog,
    configuration_from_input,
    data_catalog_to_wire,
    database_to_wire,
    execution_to_wire,
    fingerprint,
    named_query_to_wire,
    output_location,
    prepared_statement_to_wire,
    refuse,
    result_set_to_wire,
    reuse_minutes,
    table_metadata_to_wire,
    unprocessed,
    unwrap_token,
    workgroup_summary,
    workgroup_to_wire,
    wrap_token,
)
from shoal.api.authorize import (
    check_execution_visible,
    sql_authorizer,
    sql_visibility,
    visible_databases,
    visible_executions,
    visible_tables,
)
from shoal.api.context import JsonHandler, RequestContext
from shoal.api.glue_shapes import BY_NAME, Ordering, paginate
from shoal.catalog.model import Database, Table
from shoal.errors import (
    EntityNotFoundError,
    InvalidRequestError,
    MetadataError,
    ShoalError,
)
from shoal.queries.model import FAILED, PRIMARY, NamedQuery, PreparedStatement, WorkGroup
from shoal.queries.results import MAX_PAGE
from shoal.queries.service import QueryService
from shoal.queries.workgroups import WorkGroupStore

OPERATIONS: dict[str, JsonHandler] = {}

LIST_PAGE = 50  # Athena's MaxResults ceiling for its listings
MAX_BATCH = 50
# The codes botocore's Athena model knows, plus AccessDeniedException, which every AWS
# service answers to a denied caller; anything else is said as InvalidRequestException.
ATHENA_CODES = frozenset(
    {
        "AccessDeniedException",
        "InvalidRequestException",
        "InternalServerException",
        "MetadataException",
        "ResourceNotFoundException",
        "TooManyRequestsException",
    }
)


def _operation(name: str, refused: Sequence[str] = ()) -> Callable[[JsonHandler], JsonHandler]:
    """Register a handler as Athena operation ``name``; ``refused`` are request fields
    shoal cannot honour (refused when set, never silently ignored)."""

    def register(handler: JsonHandler) -> JsonHandler:
        @functools.wraps(handler)
        def checked(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
            try:
                refuse(params, refused, name)
                return handler(ctx, params)
            except ShoalError as error:
                if error.status >= 500 or error.code in ATHENA_CODES:
                    raise
                raise InvalidRequestError(error.message) from error

        OPERATIONS[name] = checked
        return checked

    return register


def _queries(ctx: RequestContext) -> QueryService:
    return ctx.app.queries


def _groups(ctx: RequestContext) -> WorkGroupStore:
    return ctx.app.queries.workgroups


def _with_token(body: Wire, token: str | None) -> Wire:
    if token is not None:
        body["NextToken"] = token
    return body


# --- query executions ----------------------------------------------------------------------


@_operation("StartQueryExecution", refused=("EngineConfiguration",))
def start_query_execution(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """StartQueryExecution: queue a statement; the same ClientRequestToken with the
    same request answers the first execution's id."""
    context = params.get("QueryExecutionContext") or {}
    query_id = _queries(ctx).start(
        params["QueryString"],
        database=context.get("Database"),
        workgroup=params.get("WorkGroup") or PRIMARY,
        output_location=output_location(
            params.get("ResultConfiguration"), ctx.principal.account_id
        ),
        parameters=params.get("ExecutionParameters") or (),
        client_request_token=params.get("ClientRequestToken"),
        result_reuse_max_age_minutes=reuse_minutes(params.get("ResultReuseConfiguration")),
        user=ctx.principal.user_name,
        catalog=check_catalog(context.get("Catalog")),
        authorize=sql_authorizer(ctx),  # every table and location, checked before it runs
        visible=sql_visibility(ctx),  # SHOW TABLES lists only what GetTables would
    )
    return {"QueryExecutionId": query_id}


@_operation("GetQueryExecution")
def get_query_execution(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetQueryExecution: state, statistics and where the result file is (the router
    holds the request while the execution runs here: ``api/long_poll.py``)."""
    execution = _queries(ctx).get(params["QueryExecutionId"])
    check_execution_visible(ctx, execution)  # another user's: only with its results
    return {"QueryExecution": execution_to_wire(execution)}


@_operation("BatchGetQueryExecution")
def batch_get_query_execution(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """BatchGetQueryExecution: up to 50 executions; unknown ids are listed apart."""
    found, missing = _queries(ctx).batch_get(params["QueryExecutionIds"])
    shown = visible_executions(ctx, found)  # another user's only with its results
    kept = {e.query_execution_id for e in shown}
    missing += [
        (i, "AccessDeniedException", _hidden(i))
        for i in (e.query_execution_id for e in found)
        if i not in kept
    ]
    return {
        "QueryExecutions": [execution_to_wire(e) for e in shown],
        "UnprocessedQueryExecutionIds": [
            unprocessed("QueryExecutionId", i, code, message) for i, code, message in missing
        ],
    }


def _hidden(query_id: str) -> str:
    return (
        f"not authorized to see QueryExecution {query_id}: it is another user's and "
        "s3:GetObject on its result file is not allowed"
    )


@_operation("ListQueryExecutions")
def list_query_executions(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """ListQueryExecutions: ids of a work group's executions (``primary`` by default),
    newest first, paged."""
    workgroup = params.get("WorkGroup") or PRIMARY
    request = fingerprint("ListQueryExecutions", {"WorkGroup": workgroup})
    found, token = _queries(ctx).list_executions(
        workgroup,
        params.get("MaxResults") or LIST_PAGE,
        unwrap_token(params.get("NextToken"), request),
    )
    ids = [e.query_execution_id for e in visible_executions(ctx, found)]
    return _with_token({"QueryExecutionIds": ids}, wrap_token(token, request))


@_operation("StopQueryExecution")
def stop_query_execution(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """StopQueryExecution: cancel a queued or running execution (a finished one stays)."""
    _queries(ctx).stop(params["QueryExecutionId"])
    return {}


@_operation("GetQueryResults")
def get_query_results(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetQueryResults: one page of a SUCCEEDED execution's rows; a SELECT's first page
    starts with the header row."""
    if params.get("QueryResultType", "DATA_ROWS") != "DATA_ROWS":
        raise InvalidRequestError(
            "QueryResultType DATA_MANIFEST is not supported: read the file at "
            "Statistics.DataManifestLocation"
        )
    service, query_id = _queries(ctx), params["QueryExecutionId"]
    try:
        page = service.get_results(
            query_id, params.get("MaxResults") or MAX_PAGE, params.get("NextToken")
        )
    except InvalidRequestError:
        _raise_if_failed(service, query_id)
        raise
    return result_set_to_wire(page)


def _raise_if_failed(service: QueryService, query_id: str) -> None:
    """A FAILED execution's results are its error, as Athena answers."""
    execution = service.get(query_id)
    if execution.state == FAILED:
        reason = execution.athena_error.error_message if execution.athena_error else None
        raise InvalidRequestError(reason or execution.state_change_reason or "Query failed")


# --- work groups ---------------------------------------------------------------------------


@_operation("CreateWorkGroup", refused=("Tags",))
def create_work_group(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """CreateWorkGroup: a work group, ENABLED, with the configuration given."""
    configuration = configuration_from_input(params.get("Configuration"), ctx.principal.account_id)
    _groups(ctx).create_workgroup(
        WorkGroup(
            params["Name"], description=params.get("Description"), configuration=configuration
        )
    )
    return {}


@_operation("GetWorkGroup")
def get_work_group(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetWorkGroup: a work group with its whole configuration."""
    return {"WorkGroup": workgroup_to_wire(_groups(ctx).get_workgroup(params["WorkGroup"]))}


@_operation("UpdateWorkGroup")
def update_work_group(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """UpdateWorkGroup: change the description, state and configuration fields named."""
    store = _groups(ctx)
    current = store.get_workgroup(params["WorkGroup"])
    configuration = current.configuration
    if updates := params.get("ConfigurationUpdates"):
        configuration = apply_configuration_updates(
            configuration, updates, ctx.principal.account_id
        )
    description = params.get("Description", current.description)
    store.update_workgroup(
        WorkGroup(
            current.name,
            state=params.get("State", current.state),
            description=description,
            configuration=configuration,
        )
    )
    return {}


@_operation("DeleteWorkGroup")
def delete_work_group(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """DeleteWorkGroup: with RecursiveDeleteOption also its named queries and prepared
    statements; ``primary`` cannot be deleted."""
    _groups(ctx).delete_workgroup(params["WorkGroup"], params.get("RecursiveDeleteOption", False))
    return {}


@_operation("ListWorkGroups")
def list_work_groups(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """ListWorkGroups: summaries of every work group, by name, paged."""
    groups = _groups(ctx).list_workgroups()
    page, token = paginate(groups, BY_NAME, "ListWorkGroups", params, LIST_PAGE)
    return _with_token({"WorkGroups": [workgroup_summary(g) for g in page]}, token)


# --- named queries -------------------------------------------------------------------------


def _text(cursor: Any) -> str:
    if not isinstance(cursor, str):
        raise TypeError("expected text")
    return cursor


_BY_ID: Ordering[NamedQuery] = Ordering(
    key=lambda q: q.named_query_id, cursor=lambda q: q.named_query_id, resume=_text
)


@_operation("CreateNamedQuery")
def create_named_query(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """CreateNamedQuery: save a query in a work group. ClientRequestToken is accepted
    but not remembered: a retried create may save a second copy."""
    query = _groups(ctx).create_named_query(
        params["Name"],
        params["QueryString"],
        database=params["Database"],
        description=params.get("Description"),
        workgroup=params.get("WorkGroup") or PRIMARY,
    )
    return {"NamedQueryId": query.named_query_id}


@_operation("GetNamedQuery")
def get_named_query(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetNamedQuery: one saved query by id."""
    return {"NamedQuery": named_query_to_wire(_groups(ctx).get_named_query(params["NamedQueryId"]))}


@_operation("BatchGetNamedQuery")
def batch_get_named_query(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """BatchGetNamedQuery: up to 50 saved queries; unknown ids are listed apart."""
    store = _groups(ctx)
    found, missing = [], []
    for query_id in dict.fromkeys(params["NamedQueryIds"]):
        try:
            found.append(named_query_to_wire(store.get_named_query(query_id)))
        except InvalidRequestError as error:
            missing.append(unprocessed("NamedQueryId", query_id, error.code, error.message))
    return {"NamedQueries": found, "UnprocessedNamedQueryIds": missing}


@_operation("ListNamedQueries")
def list_named_queries(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """ListNamedQueries: ids of a work group's saved queries (``primary`` by default)."""
    store = _groups(ctx)
    workgroup = params.get("WorkGroup") or PRIMARY
    store.get_workgroup(workgroup)
    queries = sorted(store.list_named_queries(workgroup), key=_BY_ID.key)
    request = {**params, "WorkGroup": workgroup}
    page, token = paginate(queries, _BY_ID, "ListNamedQueries", request, LIST_PAGE)
    return _with_token({"NamedQueryIds": [q.named_query_id for q in page]}, token)


@_operation("UpdateNamedQuery")
def update_named_query(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """UpdateNamedQuery: replace a saved query's name, text and description."""
    _groups(ctx).update_named_query(
        params["NamedQueryId"],
        params["Name"],
        params["QueryString"],
        description=params.get("Description"),
    )
    return {}


@_operation("DeleteNamedQuery")
def delete_named_query(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """DeleteNamedQuery: forget a saved query."""
    _groups(ctx).delete_named_query(params["NamedQueryId"])
    return {}


# --- prepared statements -------------------------------------------------------------------

_BY_STATEMENT: Ordering[PreparedStatement] = Ordering(
    key=lambda s: s.statement_name, cursor=lambda s: s.statement_name, resume=_text
)


def _put_statement(ctx: RequestContext, params: dict[str, Any], *, create: bool) -> Wire:
    statement = PreparedStatement(
        statement_name=params["StatementName"],
        query_statement=params["QueryStatement"],
        workgroup_name=params["WorkGroup"],
        description=params.get("Description"),
    )
    _groups(ctx).put_prepared_statement(statement, create=create)
    return {}


@_operation("CreatePreparedStatement")
def create_prepared_statement(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """CreatePreparedStatement: a statement with ``?`` parameters, for EXECUTE … USING."""
    return _put_statement(ctx, params, create=True)


@_operation("UpdatePreparedStatement")
def update_prepared_statement(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """UpdatePreparedStatement: replace an existing prepared statement."""
    return _put_statement(ctx, params, create=False)


@_operation("GetPreparedStatement")
def get_prepared_statement(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetPreparedStatement: one prepared statement of a work group."""
    statement = _groups(ctx).get_prepared_statement(params["WorkGroup"], params["StatementName"])
    return {"PreparedStatement": prepared_statement_to_wire(statement)}


@_operation("BatchGetPreparedStatement")
def batch_get_prepared_statement(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """BatchGetPreparedStatement: up to 50 statements; unknown names are listed apart."""
    store, workgroup = _groups(ctx), params["WorkGroup"]
    names = list(dict.fromkeys(params["PreparedStatementNames"]))
    if len(names) > MAX_BATCH:
        raise InvalidRequestError(f"give at most {MAX_BATCH} prepared statement names")
    store.get_workgroup(workgroup)
    found, missing = [], []
    for name in names:
        try:
            found.append(prepared_statement_to_wire(store.get_prepared_statement(workgroup, name)))
        except ShoalError as error:
            missing.append(unprocessed("StatementName", name, error.code, error.message))
    return {"PreparedStatements": found, "UnprocessedPreparedStatementNames": missing}


@_operation("ListPreparedStatements")
def list_prepared_statements(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """ListPreparedStatements: a work group's statements by name, paged."""
    store = _groups(ctx)
    store.get_workgroup(params["WorkGroup"])
    statements = store.list_prepared_statements(params["WorkGroup"])
    page, token = paginate(statements, _BY_STATEMENT, "ListPreparedStatements", params, LIST_PAGE)
    summaries = [
        {"StatementName": s.statement_name, "LastModifiedTime": s.last_modified_time} for s in page
    ]
    return _with_token({"PreparedStatements": summaries}, token)


@_operation("DeletePreparedStatement")
def delete_prepared_statement(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """DeletePreparedStatement: forget a prepared statement."""
    _groups(ctx).delete_prepared_statement(params["WorkGroup"], params["StatementName"])
    return {}


# --- data catalogs and metadata ------------------------------------------------------------


def _check_workgroup(ctx: RequestContext, params: dict[str, Any]) -> None:
    if workgroup := params.get("WorkGroup"):
        _groups(ctx).get_workgroup(workgroup)


def _metadata_catalog(name: str) -> None:
    if name.lower() != DATA_CATALOG.lower():
        raise MetadataError(f"Catalog {name} was not found: shoal has only {DATA_CATALOG}")


@_operation("ListDataCatalogs")
def list_data_catalogs(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """ListDataCatalogs: the one catalog, ``AwsDataCatalog`` (type GLUE)."""
    _check_workgroup(ctx, params)
    if params.get("NextToken"):
        raise InvalidRequestError("invalid NextToken: the listing has one page")
    return {"DataCatalogsSummary": [{"CatalogName": DATA_CATALOG, "Type": "GLUE"}]}


@_operation("GetDataCatalog")
def get_data_catalog(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetDataCatalog: ``AwsDataCatalog``; shoal has no other catalogs."""
    _check_workgroup(ctx, params)
    check_catalog(params["Name"])
    return {"DataCatalog": data_catalog_to_wire(ctx.principal.account_id)}


def _database(ctx: RequestContext, name: str) -> Database:
    try:
        return ctx.app.catalog.get_database(name)
    except EntityNotFoundError:
        raise MetadataError(f"Database {name} was not found") from None


@_operation("ListDatabases")
def list_databases(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """ListDatabases: the catalog's databases, by name, paged."""
    _check_workgroup(ctx, params)
    _metadata_catalog(params["CatalogName"])
    databases = ctx.app.catalog.list_databases()
    databases = visible_databases(ctx, databases)  # governance: only what the caller may get
    page, token = paginate(databases, BY_NAME, "ListDatabases", params, LIST_PAGE)
    wires = [database_to_wire(d) for d in page]
    if params.get("AttributesToGet") == ["NAME"]:
        wires = [{"Name": w["Name"]} for w in wires]
    return _with_token({"DatabaseList": wires}, token)


@_operation("GetDatabase")
def get_database(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetDatabase: one database; MetadataException when it does not exist."""
    _check_workgroup(ctx, params)
    _metadata_catalog(params["CatalogName"])
    return {"Database": database_to_wire(_database(ctx, params["DatabaseName"]))}


def _tables(ctx: RequestContext, database: str, pattern: str | None) -> list[Table]:
    try:
        return ctx.app.catalog.list_tables(database, pattern)
    except EntityNotFoundError:
        raise MetadataError(f"Database {database} was not found") from None


@_operation("ListTableMetadata")
def list_table_metadata(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """ListTableMetadata: a database's tables whose names match Expression, paged."""
    _check_workgroup(ctx, params)
    _metadata_catalog(params["CatalogName"])
    pattern = (params.get("Expression") or "").strip() or None
    tables = _tables(ctx, params["DatabaseName"], pattern)
    tables = visible_tables(ctx, tables)  # governance: only what the caller may get
    page, token = paginate(tables, BY_NAME, "ListTableMetadata", params, LIST_PAGE)
    wires = [table_metadata_to_wire(t) for t in page]
    if (attributes := params.get("AttributesToGet")) is not None:
        keep = {"Name"} | ({"TableType"} if "TABLE_TYPE" in attributes else set())
        wires = [{k: v for k, v in w.items() if k in keep} for w in wires]
    return _with_token({"TableMetadataList": wires}, token)


@_operation("GetTableMetadata")
def get_table_metadata(ctx: RequestContext, params: dict[str, Any]) -> Wire:
    """GetTableMetadata: one table's columns, partition keys and parameters."""
    _check_workgroup(ctx, params)
    _metadata_catalog(params["CatalogName"])
    database, name = params["DatabaseName"], params["TableName"]
    _database(ctx, database)
    try:
        table = ctx.app.catalog.get_table(database, name)
    except EntityNotFoundError:
        raise MetadataError(f"Table {name} was not found in database {database}") from None
    return {"TableMetadata": table_metadata_to_wire(table)}
