"""`kravflyt demo`: the whole story end to end on the embedded default (SQLite)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url

from adapter.commands.context import database, echo_json
from adapter.services import companies
from adapter.settings import get_settings
from adapter.store import migrate
from adapter.store.engine import make_engine

DEMO_ORG = "923609016"


def _step(title: str) -> None:
    click.secho(f"\n== {title}", bold=True)


@click.command()
@click.option(
    "--fresh", is_flag=True, help="Start from an empty SQLite database (deletes the file)."
)
def demo(fresh: bool) -> None:
    """Set up a demo company and run the flow end to end, printing a report at each step."""
    settings = get_settings()
    url = make_url(settings.database_url)
    if fresh:
        if url.get_backend_name() != "sqlite" or not url.database:
            raise click.UsageError("--fresh only deletes a SQLite database file")
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)

    _step("Database")
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    engine.dispose()
    click.echo(f"{url.render_as_string(hide_password=True)} at revision {migrate.head_revision()}")

    _step("Demo company")
    db = database()
    with db.uow(read_only=True) as uow:
        existing = [c for c in uow.companies.list() if c.org_number == DEMO_ORG]
    company = (
        existing[0]
        if existing
        else companies.add_company(db.uow(), name="Demo AS", org_no=DEMO_ORG, actor="demo")
    )
    view = companies.show_company(db.uow(company.id, read_only=True))
    echo_json(
        {
            "id": company.id,
            "name": company.name,
            "org_number": company.org_number,
            "settings": view.settings,
        }
    )
    click.secho("\nDemo finished.", bold=True)


commands = [demo]
