"""What every command shares: settings, the database, the acting person, output helpers."""

from __future__ import annotations

import getpass
import json
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import click

from adapter.settings import get_settings
from adapter.store.database import Database, open_database


@lru_cache(maxsize=1)
def database() -> Database:
    """The configured database, checked to be at this code's schema revision."""
    return open_database(get_settings())


def actor(by: str | None = None) -> str:
    """Who is acting: the given name, else the logged-in operating-system user."""
    return by or f"cli:{getpass.getuser()}"


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def echo_json(value: Any) -> None:
    """Print `value` as indented JSON (dates as ISO text, Decimal as text, never float)."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=_default))


company_option = click.option(
    "--company",
    "company_id",
    type=int,
    required=True,
    help="Company id (see `kravflyt company list`).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
