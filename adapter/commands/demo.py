"""`kravflyt demo`: the whole story end to end on the embedded default (SQLite)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from adapter import log
from adapter.clock import FixedClock
from adapter.settings import get_settings
from adapter.store import migrate
from adapter.store.database import open_database
from adapter.store.engine import make_engine, shown_url, sqlite_file


def _show(title: str, report: dict[str, Any]) -> None:
    click.secho(f"\n== {title}", bold=True)
    for key, value in report.items():
        if isinstance(value, list) and value and isinstance(value[0], str):
            click.echo(f"  {key}:")
            for line in value:
                click.echo(f"    {line}")
        else:
            text = (
                value
                if isinstance(value, str | int | float)
                else json.dumps(value, ensure_ascii=False, default=str)
            )
            click.echo(f"  {key}: {text}")


DEMO_DATABASE = "sqlite:///demo.db"  # the demo's own file: never the installation's kravflyt.db


def demo_database(settings: Any, *, fresh: bool, yes: bool) -> str:
    """The database the demo fills: its own demo.db unless KRAVFLYT_DATABASE_URL names one.
    A database that is not a file called demo.db is used (and with --fresh deleted) only with
    --fresh --yes: the demo never overwrites an installation's data by mistake."""
    chosen = "database_url" in settings.model_fields_set
    target = settings.database_url if chosen else DEMO_DATABASE
    own = Path(sqlite_file(target) or "").name == "demo.db"
    if not own and not (fresh and yes):
        raise click.UsageError(
            f"the demo writes its own data into {shown_url(target)}, "
            "which is not a demo.db: give --fresh --yes to replace what is there"
        )
    return target


@click.command()
@click.option(
    "--fresh",
    is_flag=True,
    help="Start from an empty SQLite database (deletes the demo's file, demo.db).",
)
@click.option(
    "--yes",
    is_flag=True,
    help="With --fresh: also replace a database that is not a demo.db (KRAVFLYT_DATABASE_URL).",
)
@click.option(
    "--customers", default=2000, show_default=True, help="Customers in the Tripletex sandbox."
)
@click.option(
    "--invoices", default=10_000, show_default=True, help="Invoices in the Tripletex sandbox."
)
@click.option(
    "--weeks", default=12, show_default=True, help="Simulated weeks of nightly dunning runs."
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("demo.log"),
    show_default=True,
    help="Where the demo's logs go (the terminal shows the report).",
)
def demo(fresh: bool, yes: bool, customers: int, invoices: int, weeks: int, log_file: Path) -> None:
    """Run the whole flow end to end against the sandboxes, printing a report at each step:
    sync, a webhook, a bank import, dunning over simulated weeks, hand-off, a forwarded
    payment and reconciliation. The database stays for `kravflyt web`."""
    from adapter import demo as story  # the web app and the sandboxes: slow to import

    began = time.perf_counter()
    settings = get_settings()
    target = demo_database(settings, fresh=fresh, yes=yes)
    settings = settings.model_copy(update={"database_url": target})
    log.configure(fmt="json", level=settings.log_level, stream=log_file.open("a", encoding="utf-8"))
    database_file = sqlite_file(settings.database_url)
    if fresh:
        if not database_file:
            raise click.UsageError("--fresh only deletes a SQLite database file")
        for suffix in ("", "-wal", "-shm"):
            Path(database_file + suffix).unlink(missing_ok=True)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    engine.dispose()
    _show(
        "Database",
        {"url": shown_url(settings.database_url), "revision": migrate.head_revision()},
    )

    clock = FixedClock(
        datetime(story.START.year, story.START.month, story.START.day, 8, tzinfo=UTC)
    )
    db = open_database(settings, clock=clock)
    result = story.run(
        db, clock, settings, say=_show, customers_n=customers, invoices_n=invoices, weeks=weeks
    )
    facts = result.facts
    click.secho("\n== Summary", bold=True)
    click.echo(
        f"  {facts['invoices']} invoices synced, {facts['bank payments']} bank payments imported, "
        f"{facts['letters']} letters, {facts['cases']} cases at Kravia, {facts['forwarded']} payment(s) forwarded, "
        f"{facts['differences']} reconciliation differences, {facts['sends sent']} sends made, "
        f"{facts['sends failed']} failed, {facts['unmatched payments']} payments waiting for a person."
    )
    click.echo(
        f"  Done in {time.perf_counter() - began:.0f} s. Look at it: "
        f"KRAVFLYT_DATABASE_URL={settings.database_url} kravflyt web, then http://127.0.0.1:8000/ "
        f"({story.DEMO_USER} / {story.DEMO_PASSWORD})."
    )


commands = [demo]
