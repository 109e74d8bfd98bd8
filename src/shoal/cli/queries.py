"""``shoal sql``, ``shoal queries``, ``shoal workgroups``, ``shoal named-queries`` and
``shoal prepared``: the query service from the command line."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from shoal.cli.context import AppContext, output_option, pass_app
from shoal.cli.output import emit, emit_object
from shoal.queries.model import (
    AUTO,
    DISABLED,
    DUCKDB,
    ENABLED,
    ENGINE_VERSIONS_BY_ENGINE,
    PRIMARY,
    SPARK,
    SPARK_ENGINE_VERSION,
    SUCCEEDED,
    PreparedStatement,
    QueryExecution,
    WorkGroup,
    WorkGroupConfiguration,
)
from shoal.queries.results import csv_bytes

if TYPE_CHECKING:
    from shoal.queries.service import QueryService

SQL_OUTPUT = click.Choice(["table", "json", "csv"])


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count} B"  # pragma: no cover - the loop always returns


def _run(service: QueryService, query_id: str) -> QueryExecution:
    """Wait for ``query_id``; Ctrl-C stops it rather than leaving it running."""
    try:
        return service.wait(query_id)
    except KeyboardInterrupt:
        service.stop(query_id)
        raise


def _print_result(service: QueryService, execution: QueryExecution, output: str) -> None:
    stats = execution.statistics
    seconds = stats.total_execution_time_in_millis / 1000
    reused = ", reused previous result" if stats.reused_previous_result else ""
    engine = f", Engine: {stats.engine}" if stats.engine else ""
    click.echo(
        f"Run time: {seconds:.1f} s, Data scanned: {_size(stats.data_scanned_in_bytes)}"
        f"{engine}{reused}",
        err=True,
    )
    if execution.state != SUCCEEDED:
        raise click.ClickException(f"{execution.state}: {execution.state_change_reason}")
    result = service.result(execution.query_execution_id)
    rows = result.rows(0, result.row_count)
    names = [c.name for c in result.columns]
    if output == "csv":
        sys.stdout.write(csv_bytes(result.columns, rows).decode("utf-8"))
        return
    records = [dict(zip(names, row, strict=True)) for row in rows]
    emit(records, output, names)
    if output == "table" and execution.update_count is not None:
        click.echo(f"({execution.update_count} rows affected)")


@click.command("sql")
@click.argument("query")
@click.option("--database", "-d", help="Database unqualified table names belong to.")
@click.option("--workgroup", "-w", default=PRIMARY, show_default=True)
@click.option("--param", "params", multiple=True, help="A value for '?', as a SQL literal: 'a'.")
@click.option("--output-location", help="s3:// folder for the result files.")
@click.option("--reuse-minutes", type=int, help="Reuse a result up to this many minutes old.")
@click.option("--output", "-o", type=SQL_OUTPUT, default="table", show_default=True)
@click.option(
    "--estimate",
    is_flag=True,
    help="Print the bytes QUERY would scan (pruning and projection) without running it.",
)
@pass_app
def sql(
    ctx: AppContext,
    query: str,
    database: str | None,
    workgroup: str,
    params: tuple[str, ...],
    output_location: str | None,
    reuse_minutes: int | None,
    output: str,
    estimate: bool,
) -> None:
    """Run QUERY (Athena SQL), wait for it and print its rows; statistics go to stderr."""
    service = ctx.app.queries
    if estimate:
        click.echo(service.estimate(query, database=database))
        return
    query_id = service.start(
        query,
        database=database,
        workgroup=workgroup,
        output_location=output_location,
        parameters=params,
        result_reuse_max_age_minutes=reuse_minutes,
    )
    _print_result(service, _run(service, query_id), output)


# --- shoal queries ------------------------------------------------------------------------


@click.group("queries")
def queries_group() -> None:
    """Query executions: history, results, stopping."""


def _execution_row(execution: QueryExecution) -> dict[str, Any]:
    row = asdict(execution)
    row["run_ms"] = execution.statistics.total_execution_time_in_millis
    row["scanned"] = execution.statistics.data_scanned_in_bytes
    return row


@queries_group.command("list")
@click.option("--workgroup", "-w", default=PRIMARY, show_default=True)
@click.option("--limit", type=click.IntRange(1, 50), default=20, show_default=True)
@output_option
@pass_app
def list_queries(ctx: AppContext, workgroup: str, limit: int, output: str) -> None:
    """Recent executions, newest first."""
    found, _ = ctx.app.queries.list_executions(workgroup, limit)
    rows = [_execution_row(e) for e in found]
    columns = ["query_execution_id", "state", "submission_date_time", "run_ms", "scanned", "query"]
    emit(rows, output, columns)


@queries_group.command("show")
@click.argument("query_id")
@output_option
@pass_app
def show_query(ctx: AppContext, query_id: str, output: str) -> None:
    """One execution with its status and statistics."""
    emit_object(_execution_row(ctx.app.queries.get(query_id)), output)


@queries_group.command("results")
@click.argument("query_id")
@click.option("--output", "-o", type=SQL_OUTPUT, default="table", show_default=True)
@pass_app
def query_results(ctx: AppContext, query_id: str, output: str) -> None:
    """The rows of a finished execution."""
    service = ctx.app.queries
    _print_result(service, service.get(query_id), output)


@queries_group.command("stop")
@click.argument("query_id")
@pass_app
def stop_query(ctx: AppContext, query_id: str) -> None:
    """Cancel a queued or running execution."""
    ctx.app.queries.stop(query_id)
    click.echo(f"{query_id}: {ctx.app.queries.get(query_id).state}")


# --- shoal workgroups ---------------------------------------------------------------------


@click.group("workgroups")
def workgroups_group() -> None:
    """Workgroups: result location, limits, enabled or not."""


def _workgroup_row(group: WorkGroup) -> dict[str, Any]:
    return {**asdict(group), **asdict(group.configuration), "engine": group.configuration.engine}


@workgroups_group.command("list")
@output_option
@pass_app
def list_workgroups(ctx: AppContext, output: str) -> None:
    """Every workgroup."""
    rows = [_workgroup_row(g) for g in ctx.app.queries.workgroups.list_workgroups()]
    columns = ["name", "state", "engine", "output_location", "bytes_scanned_cutoff_per_query"]
    emit(rows, output, columns)


@workgroups_group.command("show")
@click.argument("name")
@output_option
@pass_app
def show_workgroup(ctx: AppContext, name: str, output: str) -> None:
    """One workgroup."""
    emit_object(_workgroup_row(ctx.app.queries.workgroups.get_workgroup(name)), output)


def _workgroup_options(func: Any) -> Any:
    options = [
        click.option("--description"),
        click.option("--output-location", help="s3:// folder for result files."),
        click.option("--enforce/--no-enforce", default=None, help="Override clients' settings."),
        click.option("--cutoff-bytes", type=int, help="Bytes-scanned limit per query (>= 10 MB)."),
        click.option("--state", type=click.Choice([ENABLED, DISABLED])),
        click.option(
            "--engine",
            type=click.Choice([DUCKDB, SPARK, AUTO]),
            help="Engine its queries run on: sets EngineVersion (spark: "
            f"{SPARK_ENGINE_VERSION!r}, needs spark_connect_url; auto: AUTO, Spark from "
            "spark_auto_min_bytes estimated bytes on).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@workgroups_group.command("create")
@click.argument("name")
@_workgroup_options
@pass_app
def create_workgroup(ctx: AppContext, /, name: str, **settings: Any) -> None:
    """Create a workgroup."""
    group = _apply(WorkGroup(name), settings)
    ctx.app.queries.workgroups.create_workgroup(group)
    click.echo(f"created workgroup {name}")


@workgroups_group.command("update")
@click.argument("name")
@_workgroup_options
@pass_app
def update_workgroup(ctx: AppContext, /, name: str, **settings: Any) -> None:
    """Change a workgroup's settings (only those given)."""
    store = ctx.app.queries.workgroups
    store.update_workgroup(_apply(store.get_workgroup(name), settings))
    click.echo(f"updated workgroup {name}")


@workgroups_group.command("delete")
@click.argument("name")
@click.option("--recursive", is_flag=True, help="Also delete its named queries and statements.")
@pass_app
def delete_workgroup(ctx: AppContext, name: str, recursive: bool) -> None:
    """Delete a workgroup."""
    ctx.app.queries.workgroups.delete_workgroup(name, recursive)
    click.echo(f"deleted workgroup {name}")


def _apply(group: WorkGroup, settings: dict[str, Any]) -> WorkGroup:
    config = asdict(group.configuration)
    if settings["output_location"] is not None:
        config["output_location"] = settings["output_location"]
    if settings["enforce"] is not None:
        config["enforce_work_group_configuration"] = settings["enforce"]
    if settings["cutoff_bytes"] is not None:
        config["bytes_scanned_cutoff_per_query"] = settings["cutoff_bytes"] or None
    if settings["engine"] is not None:
        config["selected_engine_version"] = ENGINE_VERSIONS_BY_ENGINE[settings["engine"]]
    return WorkGroup(
        name=group.name,
        state=settings["state"] or group.state,
        description=settings["description"] or group.description,
        configuration=WorkGroupConfiguration(**config),
        creation_time=group.creation_time,
    )


# --- shoal named-queries ------------------------------------------------------------------


@click.group("named-queries")
def named_group() -> None:
    """Saved queries."""


@named_group.command("create")
@click.argument("name")
@click.argument("query")
@click.option("--database", "-d")
@click.option("--description")
@click.option("--workgroup", "-w", default=PRIMARY, show_default=True)
@pass_app
def create_named(
    ctx: AppContext,
    name: str,
    query: str,
    database: str | None,
    description: str | None,
    workgroup: str,
) -> None:
    """Save QUERY as NAME; prints its id."""
    saved = ctx.app.queries.workgroups.create_named_query(
        name, query, database, description, workgroup
    )
    click.echo(saved.named_query_id)


@named_group.command("list")
@click.option("--workgroup", "-w", default=PRIMARY, show_default=True)
@output_option
@pass_app
def list_named(ctx: AppContext, workgroup: str, output: str) -> None:
    """Saved queries of a workgroup."""
    rows = [asdict(q) for q in ctx.app.queries.workgroups.list_named_queries(workgroup)]
    emit(rows, output, ["named_query_id", "name", "database", "query_string"])


@named_group.command("delete")
@click.argument("named_query_id")
@pass_app
def delete_named(ctx: AppContext, named_query_id: str) -> None:
    """Delete a saved query."""
    ctx.app.queries.workgroups.delete_named_query(named_query_id)
    click.echo(f"deleted named query {named_query_id}")


@named_group.command("run")
@click.argument("named_query_id")
@click.option("--output", "-o", type=SQL_OUTPUT, default="table", show_default=True)
@pass_app
def run_named(ctx: AppContext, named_query_id: str, output: str) -> None:
    """Run a saved query and print its rows."""
    service = ctx.app.queries
    saved = service.workgroups.get_named_query(named_query_id)
    query_id = service.start(saved.query_string, saved.database, saved.workgroup)
    _print_result(service, _run(service, query_id), output)


# --- shoal prepared -----------------------------------------------------------------------


@click.group("prepared")
def prepared_group() -> None:
    """Prepared statements (run them with: shoal sql "EXECUTE name USING …")."""


@prepared_group.command("create")
@click.argument("name")
@click.argument("query")
@click.option("--workgroup", "-w", default=PRIMARY, show_default=True)
@click.option("--description")
@click.option("--replace", is_flag=True, help="Update the statement if it exists.")
@pass_app
def create_prepared(
    ctx: AppContext,
    name: str,
    query: str,
    workgroup: str,
    description: str | None,
    replace: bool,
) -> None:
    """Create prepared statement NAME with '?' parameters."""
    statement = PreparedStatement(name, query, workgroup, description)
    ctx.app.queries.workgroups.put_prepared_statement(statement, create=not replace)
    click.echo(f"prepared {name}")


@prepared_group.command("list")
@click.option("--workgroup", "-w", default=PRIMARY, show_default=True)
@output_option
@pass_app
def list_prepared(ctx: AppContext, workgroup: str, output: str) -> None:
    """Prepared statements of a workgroup."""
    rows = [asdict(s) for s in ctx.app.queries.workgroups.list_prepared_statements(workgroup)]
    emit(rows, output, ["statement_name", "query_statement", "last_modified_time"])


@prepared_group.command("delete")
@click.argument("name")
@click.option("--workgroup", "-w", default=PRIMARY, show_default=True)
@pass_app
def delete_prepared(ctx: AppContext, name: str, workgroup: str) -> None:
    """Delete a prepared statement."""
    ctx.app.queries.workgroups.delete_prepared_statement(workgroup, name)
    click.echo(f"deleted prepared statement {name}")


COMMANDS = (sql, queries_group, workgroups_group, named_group, prepared_group)
