"""Command groups that several features add subcommands to."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Run a local server that behaves like a remote API (for the demo and tests)."""


@click.group()
def bank() -> None:
    """Bank payment files: parse, generate and import OCR Giro and camt.054."""


@click.group()
def dunning() -> None:
    """Dunning: plan, simulate, run and send reminders and inkassovarsel."""


@click.group()
def handoff() -> None:
    """Hand-off of undisputed overdue claims to the collection agency."""


# `kravflyt company connect <remote>`: attached to the `company` group by adapter.commands.company.
@click.group()
def connect() -> None:
    """Store and check a company's connection to a remote system."""


commands = [sandbox, bank, dunning, handoff]
