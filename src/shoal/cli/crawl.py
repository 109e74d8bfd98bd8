"""``shoal crawl`` and ``shoal crawlers …``: discover data into the catalog."""

from __future__ import annotations

from typing import Any

import click

from shoal.catalog.model import (
    CRAWL_EVERYTHING,
    CRAWL_NEW_FOLDERS_ONLY,
    DELETE_FROM_DATABASE,
    DEPRECATE_IN_DATABASE,
    LOG,
    UPDATE_IN_DATABASE,
    Crawler,
    CrawlRun,
    CrawlTarget,
    SchemaChangePolicy,
)
from shoal.cli.context import AppContext, output_option, pass_app
from shoal.cli.output import emit, emit_object
from shoal.crawler import crawl_path, run_crawler


@click.command("crawl")
@click.argument("path", required=False)
@click.option("--database", "-d", help="Target database (created if missing).")
@click.option("--crawler", "crawler_name", help="Run this stored crawler instead of PATH.")
@click.option("--table-prefix", default="", help="Prefix for the names of new tables.")
@click.option("--exclude", multiple=True, help="Glob of keys to skip (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--verbose", "-v", is_flag=True, help="Print the crawl log.")
@output_option
@pass_app
def crawl(
    ctx: AppContext,
    path: str | None,
    database: str | None,
    crawler_name: str | None,
    table_prefix: str,
    exclude: tuple[str, ...],
    dry_run: bool,
    verbose: bool,
    output: str,
) -> None:
    """Crawl PATH (s3://bucket/prefix/) into DATABASE, or run a stored crawler."""
    app = ctx.app
    if crawler_name:
        if path or database:
            raise click.UsageError("give either --crawler NAME or PATH --database DB")
        crawler = app.catalog.get_crawler(crawler_name)
        run = run_crawler(app.catalog, app.storage, crawler, dry_run=dry_run)
    else:
        if not path or not database:
            raise click.UsageError("give PATH and --database DB (or --crawler NAME)")
        run = crawl_path(
            app.catalog,
            app.storage,
            path,
            database,
            table_prefix=table_prefix,
            exclusions=exclude,
            dry_run=dry_run,
        )
    _report_run(run, output, verbose)


def _report_run(run: CrawlRun, output: str, verbose: bool) -> None:
    view = run_view(run)
    if output == "json":
        emit_object(view, output)
    else:
        prefix = "dry run: would have " if run.dry_run else ""
        click.echo(
            f"crawl {run.state.lower()}: {prefix}created {run.tables_created} tables, "
            f"updated {run.tables_updated}, deleted {run.tables_deleted}; "
            f"added {run.partitions_added} partitions; read {run.files_read} files "
            f"({run.bytes_read} bytes)"
        )
        if verbose or run.dry_run:
            for line in run.log:
                click.echo(f"  {line}")
    if run.state == "FAILED":
        raise click.ClickException(run.error_message or "crawl failed")


def run_view(run: CrawlRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "crawler": run.crawler,
        "state": run.state,
        "dry_run": run.dry_run,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "tables_created": run.tables_created,
        "tables_updated": run.tables_updated,
        "tables_deleted": run.tables_deleted,
        "partitions_added": run.partitions_added,
        "partitions_updated": run.partitions_updated,
        "partitions_deleted": run.partitions_deleted,
        "files_read": run.files_read,
        "bytes_read": run.bytes_read,
        "error_message": run.error_message,
        "log": list(run.log),
    }


@click.group("crawlers")
def crawlers_group() -> None:
    """Stored crawler definitions and their runs."""


@crawlers_group.command("create")
@click.argument("name")
@click.option("--database", "-d", required=True, help="Database the crawler writes to.")
@click.option("--target", "targets", multiple=True, required=True, help="s3:// path (repeatable).")
@click.option("--exclude", multiple=True, help="Glob of keys to skip (repeatable).")
@click.option("--sample-size", type=click.IntRange(1, 249), help="Files sampled per folder.")
@click.option("--table-prefix", default="")
@click.option(
    "--update-behavior",
    type=click.Choice([UPDATE_IN_DATABASE, LOG]),
    default=UPDATE_IN_DATABASE,
    show_default=True,
)
@click.option(
    "--delete-behavior",
    type=click.Choice([DELETE_FROM_DATABASE, DEPRECATE_IN_DATABASE, LOG]),
    default=DEPRECATE_IN_DATABASE,
    show_default=True,
)
@click.option(
    "--recrawl",
    type=click.Choice([CRAWL_EVERYTHING, CRAWL_NEW_FOLDERS_ONLY]),
    default=CRAWL_EVERYTHING,
    show_default=True,
)
@click.option(
    "--schedule",
    help="When `shoal serve` runs it (UTC): five-field cron, e.g. '0 * * * *', "
    "or Glue's cron(0 * * * ? *).",
)
@click.option("--description")
@pass_app
def create_crawler(
    ctx: AppContext,
    name: str,
    database: str,
    targets: tuple[str, ...],
    exclude: tuple[str, ...],
    sample_size: int | None,
    table_prefix: str,
    update_behavior: str,
    delete_behavior: str,
    recrawl: str,
    schedule: str | None,
    description: str | None,
) -> None:
    """Define a crawler NAME over one or more targets."""
    crawler = Crawler(
        name=name,
        database=database,
        targets=tuple(CrawlTarget(t, tuple(exclude), sample_size) for t in targets),
        table_prefix=table_prefix,
        schema_change_policy=SchemaChangePolicy(update_behavior, delete_behavior),
        recrawl_behavior=recrawl,
        schedule=schedule,
        description=description,
    )
    created = ctx.app.catalog.create_crawler(crawler)
    click.echo(f"created crawler {created.name}")


@crawlers_group.command("list")
@output_option
@pass_app
def list_crawlers(ctx: AppContext, output: str) -> None:
    """List crawlers."""
    rows = [crawler_view(c) for c in ctx.app.catalog.list_crawlers()]
    emit(rows, output, ["name", "database", "state", "targets", "schedule"])


@crawlers_group.command("show")
@click.argument("name")
@output_option
@pass_app
def show_crawler(ctx: AppContext, name: str, output: str) -> None:
    """Show one crawler."""
    emit_object(crawler_view(ctx.app.catalog.get_crawler(name)), output)


@crawlers_group.command("delete")
@click.argument("name")
@pass_app
def delete_crawler(ctx: AppContext, name: str) -> None:
    """Delete a crawler definition (its tables stay)."""
    ctx.app.catalog.delete_crawler(name)
    click.echo(f"deleted crawler {name}")


@crawlers_group.command("runs")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@output_option
@pass_app
def runs(ctx: AppContext, name: str | None, limit: int, output: str) -> None:
    """List crawl runs, newest first (of crawler NAME, or all)."""
    rows = [run_view(r) for r in ctx.app.catalog.list_runs(name, limit=limit)]
    columns = ["id", "crawler", "state", "start_time", "tables_created", "partitions_added"]
    emit(rows, output, columns)


def crawler_view(crawler: Crawler) -> dict[str, Any]:
    policy = crawler.schema_change_policy
    return {
        "name": crawler.name,
        "database": crawler.database,
        "state": crawler.state,
        "targets": [t.path for t in crawler.targets],
        "exclusions": sorted({e for t in crawler.targets for e in t.exclusions}),
        "table_prefix": crawler.table_prefix,
        "update_behavior": policy.update_behavior,
        "delete_behavior": policy.delete_behavior,
        "recrawl_behavior": crawler.recrawl_behavior,
        "schedule": crawler.schedule,
        "description": crawler.description,
        "created": crawler.create_time,
    }


COMMANDS = [crawl, crawlers_group]
