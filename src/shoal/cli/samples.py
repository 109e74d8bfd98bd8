"""``shoal sample-data``: write the sample lake and crawl it."""

from __future__ import annotations

import click

from shoal.cli.context import AppContext, pass_app
from shoal.crawler import crawl_path
from shoal.samples import SAMPLE_BUCKET, SAMPLE_DATABASE, write_sample_data


@click.command("sample-data")
@click.option("--crawl/--no-crawl", default=True, show_default=True, help="Crawl it afterwards.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@pass_app
def sample_data(ctx: AppContext, crawl: bool, seed: int) -> None:
    """Write a small sample lake (taxi trips, zones, CloudTrail events) and catalog it."""
    app = ctx.app
    summary = write_sample_data(app.storage, seed=seed)
    total = sum(summary.rows.values())
    click.echo(f"wrote {len(summary.keys)} files ({total} rows) to s3://{summary.bucket}/")
    if not crawl:
        return
    run = crawl_path(app.catalog, app.storage, f"s3://{SAMPLE_BUCKET}/", SAMPLE_DATABASE)
    if run.state != "SUCCEEDED":
        raise click.ClickException(run.error_message or f"crawl {run.state.lower()}")
    click.echo(
        f"crawled into database {SAMPLE_DATABASE!r}: {run.tables_created} tables created, "
        f"{run.tables_updated} updated, {run.partitions_added} partitions added"
    )


COMMANDS = [sample_data]
