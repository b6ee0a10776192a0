"""What every command shares: settings, the database, the acting person, output helpers."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import click

from adapter import log as logs
from adapter.errors import InputError
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


def _log_company(ctx: click.Context, _param: click.Parameter, value: int | None) -> int | None:
    """Bind the command's company to the log context for as long as the command runs, so
    the services it calls need not pass it to every log line."""
    if value is not None:
        bound = logs.context(company_id=value)
        bound.__enter__()
        ctx.call_on_close(lambda: bound.__exit__(None, None, None))
    return value


company_option = click.option(
    "--company",
    "company_id",
    type=int,
    required=True,
    callback=_log_company,
    help="Company id (see `kravflyt company list`).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")

F = TypeVar("F", bound=Callable[..., Any])

SOURCE_HELP = (
    "where it comes from: '-' (a line of stdin), 'file:PATH' or 'env:NAME'; default: "
    "${env}, else stdin. Never the token itself."
)


def token_option(flag: str, env: str, what: str) -> Callable[[F], F]:
    """`--flag SOURCE`: where a token comes from (see `read_token`), into `<name>_source`."""
    name = flag.removeprefix("--").replace("-", "_")
    dest = name.removesuffix("_token") + "_source" if name != "token" else "token_source"
    return click.option(
        flag, dest, metavar="SOURCE", help=f"{what}, " + SOURCE_HELP.format(env=env)
    )


tripletex_url_option = click.option(
    "--base-url",
    required=True,
    help="e.g. https://tripletex.no/v2 or https://api-test.tripletex.tech/v2",
)


def read_token(source: str | None, option: str, env: str) -> str:
    """A token from stdin, a file or the environment: a token on the command line would show in
    the process list and the shell history, so one given there is refused."""
    if source is None:
        source = f"env:{env}" if os.environ.get(env) else "-"
    if source.startswith("env:"):
        value = os.environ.get(source[4:], "").strip()
        if not value:
            raise InputError(option, f"the environment variable {source[4:]} is not set")
        return value
    if source.startswith("file:"):
        try:
            value = Path(source[5:]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(option, f"cannot read {source[5:]}: {exc.strerror or exc}") from exc
        if not value:
            raise InputError(option, f"{source[5:]} is empty")
        return value
    if source != "-":
        raise InputError(
            option,
            "give '-' (read from stdin), 'file:PATH' or 'env:NAME' (an environment variable), "
            "not the token itself: a command line shows in the process list and the shell history",
        )
    what = option.removeprefix("--").replace("-", " ")
    if sys.stdin.isatty():
        return str(click.prompt(what, hide_input=True)).strip()
    value = sys.stdin.readline().strip()
    if not value:
        raise InputError(option, f"expected the {what} as a line on stdin; got none")
    return value
