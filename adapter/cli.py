"""The `kravflyt` command line.

Each feature keeps its commands in `adapter/commands/<area>.py` and is registered here.
Errors a user can act on (`InputError`, `NotFoundError`, a connector's `FatalError`, a bank
file that is refused) are
printed as one line on stderr and end the command with exit code 2; nothing is written. A
database held by another writer beyond the busy timeout gives one "busy, try again" line.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from importlib import import_module
from typing import Any, cast

import click

from adapter import i18n, log
from adapter.commands import groups
from adapter.errors import BUSY, InputError, NotFoundError, SchemaOutOfDate, is_busy
from adapter.settings import get_settings
from adapter.store.errors import DatabaseUnavailable
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
# Which module makes each command: a command imports only its own module (and `groups`), so
# `kravflyt company list` does not start by importing the web app, the demo and every
# connector (a second of CPU, several under load). Top-level commands by name; the shared
# groups' subcommands by group. Kept true by tests/unit/foundation/test_cli_lazy.py.
MODULE_OF: dict[str, str] = {
    "sandbox": "groups",
    "bank": "groups",
    "dunning": "groups",
    "handoff": "groups",
    "db": "db",
    "company": "company",
    "demo": "demo",
    "worker": "runtime",
    "scheduler": "runtime",
    "web": "runtime",
    "run": "runtime",
    "jobs": "work",
    "outbox": "work",
    "inbox": "work",
    "audit": "work",
    "sync": "tripletex",
    "tripletex": "tripletex",
    "interest": "interest",
    "rates": "rates",
    "kid": "bank",
    "payment": "bank",
    "kravia": "kravia",
    "claim": "kravia",
    "reconcile": "kravia",
    "letter": "letters",
    "customer": "letters",
    "user": "users",
    "key": "users",
}
SUBCOMMAND_MODULE_OF: dict[str, dict[str, str]] = {
    "sandbox": {"kravia": "kravia", "tripletex": "tripletex"},
    "bank": {"parse": "bank", "generate": "bank", "import": "bank"},
    "dunning": {"plan": "dunning", "simulate": "dunning", "run": "dunning", "send": "letters"},
    "handoff": {"preview": "kravia", "confirm": "kravia", "list": "kravia", "manual": "letters"},
    "connect": {"kravia": "kravia", "smtp": "letters", "tripletex": "tripletex"},
}

# Each command's first sentence, as `kravflyt --help` lists it: the list imports none of the
# commands' modules (they import the web app, the letters and every connector: over a second
# of CPU). Kept equal to the commands' own help by tests/unit/foundation/test_cli_lazy.py.
SHORT_HELP: dict[str, str] = {
    "audit": "Show the audit log: every decision and action, newest first, with its rule and numbers.",
    "bank": "Bank payment files: parse, generate and import OCR Giro and camt.054.",
    "claim": "One claim: dispute, undispute, stop or postpone dunning, its limitation.",
    "company": "Companies (creditors) and their settings.",
    "customer": "Per-customer dunning controls.",
    "db": "Create and migrate the database (KRAVFLYT_DATABASE_URL; SQLite file by default).",
    "demo": "Run the whole flow end to end against the sandboxes, printing a report at each step: sync, a webhook, a bank import, dunning over simulated weeks, hand-off, a forwarded payment and reconciliation.",
    "dunning": "Dunning: plan, simulate, run and send reminders and inkassovarsel.",
    "handoff": "Hand-off of undisputed overdue claims to the collection agency.",
    "inbox": "Stored webhooks: list those that need a person, and retry them.",
    "interest": "Late-payment interest (forsinkelsesrenteloven): simple, split at 1 January, 1 July and each partial payment, actual days / 365 or 366, rounded to øre once.",
    "jobs": "Background jobs: list those that need a person, and retry them.",
    "key": "The installation's keys: the session-signing key and the credential key.",
    "kid": "KID check digits (MOD10, MOD11).",
    "kravia": "Kravia webhooks and status.",
    "letter": "Dunning letters as PDFs: preview one, print the waiting ones.",
    "outbox": "Sends to Tripletex and Kravia: list those that need a person, and retry them.",
    "payment": "Payments: list, match by hand, move, unmatch, register.",
    "rates": "Interest rates, inkassosats and § 3a compensation: list them, add a new one.",
    "reconcile": "Compare every claim with the ledger (Tripletex: outstanding without and with reminders) and, for handed-off claims, with Kravia; list every difference and what to do.",
    "run": "Web, worker and scheduler in one process (a small installation).",
    "sandbox": "Run a local server that behaves like a remote API (for the demo and tests).",
    "scheduler": "Queue each company's scheduled work: sync, bank pick-up, nightly dunning, Kravia poll.",
    "sync": "Read data from a remote system into Kravflyt.",
    "tripletex": "Tripletex webhooks.",
    "user": "People who use the web app, and their roles per company.",
    "web": "Serve the web app: webhooks, /healthz, /metrics, the accountant pages and API.",
    "worker": "Run jobs, outbox sends and webhook handling until SIGTERM (finishes the work in hand).",
}


class _Commands(dict[str, click.Command]):
    """A group's commands, their modules imported when first asked for: by name, only the
    module that makes that command; all of them when listed (`--help`, or code walking the
    commands)."""

    def __init__(self, modules: dict[str, str]):
        super().__init__()
        self.modules = modules

    def _need(self, name: object) -> None:
        if isinstance(name, str) and not super().__contains__(name) and name in self.modules:
            _load(self.modules[name])

    def loaded(self, name: str) -> click.Command | None:
        """The command when its module is imported, else None (imports nothing)."""
        return super().get(name)

    def _all(self) -> None:
        for module in self.modules.values():
            _load(module)

    def get(self, name: str, default: Any = None) -> Any:
        self._need(name)
        return super().get(name, default)

    def __getitem__(self, name: str) -> click.Command:
        self._need(name)
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        self._need(name)
        return super().__contains__(name)

    def __iter__(self) -> Iterator[str]:
        self._all()
        return super().__iter__()

    def __len__(self) -> int:
        self._all()
        return super().__len__()

    def keys(self) -> Any:
        self._all()
        return super().keys()

    def values(self) -> Any:
        self._all()
        return super().values()

    def items(self) -> Any:
        self._all()
        return super().items()


_loaded: set[str] = set()


def _load(name: str) -> None:
    """Import a command module once; its top-level commands join `main`."""
    if name in _loaded:
        return
    _loaded.add(name)
    for command in import_module(f"adapter.commands.{name}").commands:
        if command.name and not dict.__contains__(main.commands, command.name):
            main.add_command(command)


def _lazy(group: click.Group, modules: dict[str, str]) -> None:
    lazy = _Commands(modules)
    dict.update(lazy, group.commands)
    group.commands = lazy


class KravflytGroup(click.Group):
    """Turns actionable errors into one clear line and exit code 2; lists its commands
    without importing them."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's list of commands, each not yet loaded standing in by its `SHORT_HELP`."""
        commands = cast(_Commands, self.commands)  # made lazy by `_lazy` below
        listed = [
            commands.loaded(name) or click.Command(name, help=SHORT_HELP[name])
            for name in SHORT_HELP
        ]
        click.Group.format_commands(click.Group(commands=listed), ctx, formatter)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {said(exc)}", err=True)
            sys.exit(2)
        except (NotFoundError, SchemaOutOfDate, ConnectorError, BankFileError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except DatabaseUnavailable as exc:
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
    if not gc.isenabled():  # started by `kravflyt` (adapter/__main__.py), the command loaded
        gc.freeze()
        gc.enable()
    settings = get_settings()
    log.configure(fmt=settings.log_format, level=settings.log_level)
    # for this command only (the language goes back when the command ends)
    click.get_current_context().with_resource(i18n.use(language or settings.language))


_lazy(main, MODULE_OF)
for _group, _modules in SUBCOMMAND_MODULE_OF.items():
    _lazy(getattr(groups, _group), _modules)
