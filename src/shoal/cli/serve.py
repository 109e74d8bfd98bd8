"""``shoal serve``: the Athena, Glue, S3 and STS APIs on one port."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

import click

from shoal.cli.context import AppContext, override_setting, pass_app

LISTENING = "shoal listening on {url}"


class PortNumber(click.IntRange):
    """0 to 65535, checked by click: a bad port is a one-line usage error, where
    ``bind()`` would raise OverflowError with a traceback."""

    name = "port number"

    def __init__(self) -> None:
        super().__init__(0, 65535)


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on ($SHOAL_HOST, 127.0.0.1).")
@click.option(
    "--port",
    type=PortNumber(),
    default=None,
    help="Port, 0 to 65535; 0 picks a free one ($SHOAL_PORT).",
)
@click.option("--log-level", default="info", show_default=True, help="uvicorn log level.")
@click.option(
    "--spark-connect",
    "spark_connect_url",
    expose_value=False,
    callback=override_setting,
    help="Spark Connect address, sc://host:port, for workgroups pinned to Spark and "
    "big queries of AUTO ones ($SHOAL_SPARK_CONNECT_URL).",
)
@click.option(
    "--spark-auto-min-bytes",
    "spark_auto_min_bytes",
    expose_value=False,
    callback=override_setting,
    help="AUTO workgroups run a query on Spark from this estimated size on (500MB, 2GiB; "
    "$SHOAL_SPARK_AUTO_MIN_BYTES). Unset: AUTO stays on DuckDB.",
)
@pass_app
def serve(ctx: AppContext, host: str | None, port: int | None, log_level: str) -> None:
    """Serve the AWS-compatible APIs until interrupted.

    The admin key comes from $SHOAL_ROOT_ACCESS_KEY_ID / $SHOAL_ROOT_SECRET_ACCESS_KEY,
    or is generated on first start into DATA/root-credentials (owner-only).
    """
    from shoal.api.app import create_app
    from shoal.crawler.background import recover_interrupted_crawls
    from shoal.crawler.scheduler import CrawlerScheduler

    app = ctx.app
    config = app.config
    root_key = app.identities.ensure_root(config.root_access_key_id, config.root_secret_access_key)
    for name in recover_interrupted_crawls(app.catalog):
        click.echo(f"crawler {name}: its run was interrupted by a stop; marked FAILED")
    sock = _bind(host or config.host, config.port if port is None else port)
    bound_host, bound_port = sock.getsockname()[:2]
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    click.echo(f"admin access key id: {root_key}")
    click.echo(LISTENING.format(url=f"http://{bound_host}:{bound_port}"), nl=True)
    asgi = create_app(app)
    trail = asgi.state.audit
    schedules = CrawlerScheduler(app.catalog, app.storage)
    schedules.start()

    def shut_down() -> None:
        schedules.stop()
        if trail is not None:
            trail.close()

    _run(asgi, sock, log_level, on_shutdown=shut_down)


def _run(
    asgi: Any, sock: socket.socket, log_level: str, on_shutdown: Callable[[], None] | None
) -> None:
    """Serve ``asgi`` on ``sock`` with uvicorn until stopped; then ``on_shutdown``.

    It is called from uvicorn's own shutdown: after a SIGTERM uvicorn re-raises the
    signal, so nothing after ``run()`` would run.
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets)
            if on_shutdown is not None:
                on_shutdown()  # the audit journal's last records reach the disk

    config = uvicorn.Config(asgi, log_level=log_level, access_log=False, lifespan="off")
    Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """Bind before starting uvicorn, so port 0 can be reported once it is known."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio disables Nagle only for sockets that name TCP, and
    # with Nagle on every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    sock.set_inheritable(True)
    return sock


COMMANDS = [serve]
