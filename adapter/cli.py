"""The `kravflyt` command line.

Each feature keeps its commands in `adapter/commands/<area>.py` and is registered here.
Errors a user can act on (`InputError`, `NotFoundError`, a connector's `FatalError`, a bank
file that is refused) are
printed as one line on stderr and end the command with exit code 2; nothing is written. A
database held by another writer beyond the busy timeout gives one "busy, try again" line.
"""

from __future__ import annotations

import sys
from importlib import import_module

import click
from sqlalchemy.exc import OperationalError

from adapter import i18n, log
from adapter.errors import BUSY, InputError, NotFoundError, SchemaOutOfDate, is_busy
from adapter.settings import get_settings
from connectors.bank.transactions import BankFileError
from connectors.errors import ConnectorError

# Modules under adapter/commands/, each exposing `commands`: a list of click commands/groups.
# Shared groups (sandbox, bank, dunning, handoff, company connect) live in `groups`; a feature
# adds its subcommands to them with e.g. `@groups.sandbox.command("tripletex")`.
COMMAND_MODULES: list[str] = [
    "groups",
    "db",
    "company",
    "demo",
    "runtime",
    "work",
    "tripletex",
    "interest",
    "rates",
    "dunning",
    "bank",
    "kravia",
    "letters",
    "users",
]


class KravflytGroup(click.Group):
    """Turns actionable errors into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {said(exc)}", err=True)
            sys.exit(2)
        except (NotFoundError, SchemaOutOfDate, ConnectorError, BankFileError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OperationalError as exc:
            if not is_busy(exc):
                raise
            click.echo(f"error: {BUSY}", err=True)
            sys.exit(2)


def said(exc: InputError) -> str:
    """The refusal in the command's language: the catalogue's words when the error has them
    and the language is not English, else the English message."""
    if exc.said is None or i18n.current() == "en":
        return str(exc)
    return f"{exc.where}: {exc.text()}" if exc.where else exc.text()


@click.group(cls=KravflytGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kravflyt")
@click.option(
    "--language",
    type=click.Choice(i18n.LANGUAGES),
    default=None,
    help="Language of the messages: nb (bokmål, the default) or en [KRAVFLYT_LANGUAGE].",
)
def main(language: str | None) -> None:
    """Kravflyt: receivables follow-up for Norwegian companies.

    Syncs customers and invoices from Tripletex, matches bank payments by KID,
    runs dunning under Norwegian law and hands undisputed claims to Kravia.
    Settings come from KRAVFLYT_* environment variables or a .env file (see README).
    """
    settings = get_settings()
    log.configure(fmt=settings.log_format, level=settings.log_level)
    # for this command only (the language goes back when the command ends)
    click.get_current_context().with_resource(i18n.use(language or settings.language))


for _name in COMMAND_MODULES:
    for _command in import_module(f"adapter.commands.{_name}").commands:
        main.add_command(_command)
