"""`kravflyt interest`: late-payment interest with its segments (with the rates operators added
when a database is configured; no database needed otherwise)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

import click
from rich.console import Console
from rich.table import Table

from adapter.commands.context import echo_json, json_option
from adapter.domain import Money
from adapter.errors import InputError
from adapter.services import rates
from adapter.settings import get_settings
from policies.errors import RateNotKnown
from policies.interest import RateRule, late_interest
from policies.rates import half_year_text


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(where, f"{text!r} is not a date (YYYY-MM-DD)") from exc


@click.command()
@click.option(
    "--principal", required=True, help="Outstanding principal, e.g. 10000.00 or '10 000,00'."
)
@click.option("--due", required=True, help="Due date (YYYY-MM-DD).")
@click.option("--paid", required=True, help="Payment date, or the date to compute to (YYYY-MM-DD).")
@click.option(
    "--payment",
    "payments",
    multiple=True,
    metavar="DATE:AMOUNT",
    help="A partial payment before --paid, e.g. 2025-07-01:2500.00 (repeatable).",
)
@click.option(
    "--contract-rate", help="An agreed yearly rate in percent instead of the statutory one."
)
@click.option(
    "--business/--private",
    default=False,
    help="Debtor kind: an agreed rate above the statutory one applies to businesses only.",
)
@click.option(
    "--until-known",
    is_flag=True,
    help="Past the last published interest rate: count up to its last day instead of refusing.",
)
@json_option
def interest(
    principal: str,
    due: str,
    paid: str,
    payments: tuple[str, ...],
    contract_rate: str | None,
    business: bool,
    until_known: bool,
    as_json: bool,
) -> None:
    """Late-payment interest (forsinkelsesrenteloven): simple, split at 1 January, 1 July and each
    partial payment, actual days / 365 or 366, rounded to øre once."""
    amount = Money.parse(principal, where="--principal").ore
    due_date, until = _date(due, "--due"), _date(paid, "--paid")
    reductions = []
    for item in payments:
        day, sep, value = item.partition(":")
        if not sep:
            raise InputError("--payment", f"{item!r}: expected DATE:AMOUNT")
        reductions.append((_date(day, "--payment"), Money.parse(value, where="--payment").ore))
    rule = RateRule()
    if contract_rate:
        try:
            rule = RateRule(
                contract_rate=Decimal(contract_rate.replace(",", ".")), business=business
            )
        except InvalidOperation as exc:
            raise InputError("--contract-rate", f"{contract_rate!r} is not a number") from exc
    in_force = rates.configured(get_settings())
    try:
        result = late_interest(amount, due_date, until, in_force, reductions=reductions, rule=rule)
    except RateNotKnown as exc:
        raise InputError("--paid", str(exc)) from exc
    if result.unknown_from is not None and not until_known:
        raise InputError(
            "--paid",
            f"the late-payment interest rate for {half_year_text(result.unknown_from)} "
            f"(from {result.unknown_from}) is not published yet; the last known day is "
            f"{in_force.interest.known_until}. Give --until-known to count up to it, or add "
            "the rate with `kravflyt rates add`",
        )
    segments = [
        {
            "from": s.start,
            "to": s.end,
            "days": s.days,
            "rate": str(s.rate),
            "divisor": s.divisor,
            "principal_ore": s.principal_ore,
            "amount_ore": s.amount_ore,
        }
        for s in result.segments
    ]
    if as_json:
        echo_json(
            {
                "principal_ore": amount,
                "due": due_date,
                "paid": until,
                "total_ore": result.total_ore,
                "counted_to": result.to_date,
                "rate_missing_from": result.unknown_from,
                "segments": segments,
            }
        )
        return
    table = Table("from", "to", "days", "rate %", "divisor", "principal", "interest")
    for s in result.segments:
        table.add_row(
            str(s.start),
            str(s.end),
            str(s.days),
            str(s.rate),
            str(s.divisor),
            Money(s.principal_ore).format(),
            Money(s.amount_ore).format(),
        )
    Console().print(table)
    click.echo(f"interest: {Money(result.total_ore)} kr")
    if result.unknown_from is not None:
        click.echo(
            f"counted to {result.to_date}: the rate for {half_year_text(result.unknown_from)} "
            "is not published yet"
        )


commands = [interest]
