"""`kravflyt worker|scheduler|web|run`: the long-running processes."""

from __future__ import annotations

import threading

import click
import uvicorn

from adapter import bootstrap
from adapter.commands.context import database
from adapter.i18n import _
from adapter.jobs import scheduler as scheduling
from adapter.jobs.handlers import TASKS
from adapter.settings import get_settings
from adapter.store.database import open_database
from adapter.store.engine import shown_url


@click.command()
@click.option("--concurrency", default=2, show_default=True, help="Threads taking work.")
@click.option(
    "--poll", default=0.5, show_default=True, help="Seconds to wait when there is no work."
)
@click.option(
    "--until-idle",
    is_flag=True,
    help="Run what is due now, then exit (for cron, and the crash tests); prints how many ran.",
)
@click.option(
    "--lease-seconds",
    default=300,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="How long a taken row stays reserved; a dead worker's rows are taken again after it.",
)
@click.option(
    "--lookup-grace-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="How long after an unknown outcome (or a dead worker's lease) the remote is asked "
    "whether the send arrived: a write still under way on the remote's side lands first.",
)
@click.option(
    "--senders",
    default=None,
    type=click.IntRange(1, 256),
    help="Outbox rows on their way at once, sent by a pool of threads and taken and recorded "
    "in batches (default: KRAVFLYT_WORKER_SENDERS, 16); 1: each thread sends one row.",
)
@click.option(
    "--retry-base-seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="The first wait before a failed send, lookup or job is tried again (doubled each "
    "try, up to an hour), unless the remote named its own wait.",
)
def worker(
    concurrency: int,
    poll: float,
    until_idle: bool,
    lease_seconds: int,
    lookup_grace_seconds: float,
    senders: int | None,
    retry_base_seconds: float,
) -> None:
    """Run jobs, outbox sends and webhook handling until SIGTERM (finishes the work in hand)."""
    settings = get_settings()
    senders = senders or settings.worker_senders
    # Each sender thread holds a connection only for a moment (its row's reads; the lease's
    # compare-and-set and the records are batched) between answers that take a tenth of a
    # second or more: a connection for every sixteenth sender is plenty, and two worker
    # processes of 96 senders stay well inside PostgreSQL's default of 100 connections
    # (a pool for every fourth sender held 84 each and refused every other client).
    threads = concurrency + (senders // 16 if senders > 1 else 0)
    db = open_database(settings, threads=threads) if threads > 5 else database()
    work = bootstrap.worker(
        db,
        settings,
        lease_s=lease_seconds,
        lookup_grace_s=lookup_grace_seconds,
        senders=senders,
        backoff_base_s=retry_base_seconds,
    )
    if until_idle:
        click.echo(work.run_until_idle())
        return
    work.serve(concurrency, poll_s=poll)


@click.command()
@click.option("--every", default=30.0, show_default=True, help="Seconds between ticks.")
@click.option("--once", is_flag=True, help="Queue what is due now and exit.")
def scheduler(every: float, once: bool) -> None:
    """Queue each company's scheduled work: sync, bank pick-up, nightly dunning, Kravia poll."""
    db = database()
    if once:
        click.echo(f"{scheduling.tick(db, TASKS)} jobs queued")
        return
    scheduling.serve(db, lambda: TASKS, every_s=every)


def announce(host: str, port: int) -> None:
    """Say where the pages are, and which database they show, before serving."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 (a listen address, shown)
    url = shown_url(get_settings().database_url)
    click.echo(
        _(
            "Kravflyt serves the pages at http://%(host)s:%(port)s/ (database %(db)s)",
            host=shown,
            port=port,
            db=url,
        )
    )
    click.echo(_("Stop with Ctrl+C."))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (one per core on PostgreSQL; 1 on SQLite).",
)
def web(host: str, port: int, processes: int) -> None:
    """Serve the web app: webhooks, /healthz, /metrics, the accountant pages and API."""
    announce(host, port)
    if processes > 1:
        uvicorn.run(
            "adapter.bootstrap:web_app_from_environment",
            factory=True,
            workers=processes,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
        return
    uvicorn.run(
        bootstrap.web_app(database(), get_settings()),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--concurrency", default=2, show_default=True, help="Worker threads.")
def run(host: str, port: int, concurrency: int) -> None:
    """Web, worker and scheduler in one process (a small installation)."""
    db, settings = database(), get_settings()
    work = bootstrap.worker(db, settings)
    stop = work.stop
    threads = [
        threading.Thread(
            target=work.serve, args=(concurrency,), kwargs={"install_signals": False}, daemon=True
        ),
        threading.Thread(
            target=scheduling.serve, args=(db, lambda: TASKS), kwargs={"stop": stop}, daemon=True
        ),
    ]
    for t in threads:
        t.start()
    announce(host, port)
    try:
        uvicorn.run(bootstrap.web_app(db, settings), host=host, port=port, log_level="warning")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)


commands = [worker, scheduler, web, run]
