"""`kravflyt rates`: the dated legal numbers (interest rate per half-year, inkassosats, § 3a
compensation) as the engine uses them, and adding a newly published one without a release."""

from __future__ import annotations

from datetime import date

import click
from rich.console import Console
from rich.table import Table

from adapter.commands.context import actor, database, echo_json, json_option
from adapter.errors import InputError
from adapter.services import rates as service
from policies.rates import KINDS

_KIND = click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="interest",
    show_default=True,
    help="interest: late-payment interest in % a year; inkassosats and compensation (EUR 40 "
    "in NOK): kroner.",
)


@click.group()
def rates() -> None:
    """Interest rates, inkassosats and § 3a compensation: list them, add a new one."""


@rates.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind (default: all).")
@json_option
def list_(kind: str | None, as_json: bool) -> None:
    """Every dated value in force, with its source and who added it (packaged or added)."""
    rows = service.listing(database().uow(read_only=True), kind)
    if as_json:
        echo_json(rows)
        return
    table = Table("kind", "from", "value", "source", "origin")
    for r in rows:
        origin = r["origin"]
        if r["added_by"]:
            origin += f" by {r['added_by']} {r['added_at']:%Y-%m-%d %H:%M}"
        if r["reason"]:
            origin += f" ({r['reason']})"
        table.add_row(r["kind"], str(r["from"]), f"{r['value']} {r['unit']}", r["source"], origin)
    Console(width=200).print(table)


@rates.command("add")
@_KIND
@click.option("--from", "valid_from", required=True, help="1 January or 1 July (YYYY-MM-DD).")
@click.option("--rate", "value", required=True, help="The value: 12.00 (%), or 750 (kroner).")
@click.option("--source", required=True, help="Where it is published, e.g. FOR-2026-12-18-2658.")
@click.option("--correct", is_flag=True, help="Change a value already in the table.")
@click.option("--reason", help="Why (required with --correct).")
@click.option("--by", help="Who is acting (default: the OS user).")
def add(
    kind: str,
    valid_from: str,
    value: str,
    source: str,
    correct: bool,
    reason: str | None,
    by: str | None,
) -> None:
    """Add a newly published value (validated; written to the audit log)."""
    try:
        day = date.fromisoformat(valid_from)
    except ValueError as exc:
        raise InputError("--from", f"{valid_from!r} is not a date (YYYY-MM-DD)") from exc
    done = service.add(
        database().uow(), kind, day, value, source, actor=actor(by), correct=correct, reason=reason
    )
    if not done.changed:
        click.echo(f"{kind} from {day} is {done.value} already: nothing changed")
    elif done.replaced is not None:
        click.echo(
            f"{kind} from {day} corrected: {done.replaced} -> {done.value} "
            f"({done.letters_using} letters made with the earlier value keep it)"
        )
    else:
        click.echo(f"{kind} from {day}: {done.value} added")


commands = [rates]
