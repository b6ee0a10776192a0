"""`kravflyt db`: create and migrate the database."""

from __future__ import annotations

import click

from adapter.settings import get_settings
from adapter.store import migrate
from adapter.store.engine import make_engine


@click.group()
def db() -> None:
    """Create and migrate the database (KRAVFLYT_DATABASE_URL; SQLite file by default)."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (creates the SQLite file if needed)."""
    engine = make_engine(get_settings().database_url)
    migrate.upgrade(engine, revision)
    click.echo(f"database at revision {migrate.current_revision(engine)}")


@db.command()
@click.option("--revision", required=True, help='Target revision ("base" removes every table).')
def downgrade(revision: str) -> None:
    """Undo migrations down to REVISION."""
    engine = make_engine(get_settings().database_url)
    migrate.downgrade(engine, revision)
    click.echo(f"database at revision {migrate.current_revision(engine) or 'base'}")


@db.command()
def current() -> None:
    """Show the database's revision and the newest one this version knows."""
    engine = make_engine(get_settings().database_url)
    click.echo(
        f"database: {migrate.current_revision(engine) or 'empty'}; code: {migrate.head_revision()}"
    )


commands = [db]
