"""`kravflyt letter show|print`, `dunning send`, `customer ...`, `handoff manual`, `company connect smtp`."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from adapter.commands import groups
from adapter.commands.context import actor, company_option, database, echo_json, json_option
from adapter.domain import Money
from adapter.errors import InputError
from adapter.services import customers, letters
from adapter.services.manual_claims import NewDebtor, create_manual_claim
from adapter.store.events import Event
from policies.ladder import Stage

DATE = click.DateTime(["%Y-%m-%d"])


@click.group()
def letter() -> None:
    """Dunning letters as PDFs: preview one, print the waiting ones."""


@letter.command("show")
@company_option
@click.option("--invoice", required=True, help="Invoice number.")
@click.option(
    "--stage", required=True, type=click.Choice([s.value for s in Stage]), help="Which letter."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="PDF file to write.",
)
@click.option(
    "--date", "on", type=DATE, help="Letter date for a letter not sent yet (default: today)."
)
def show(company_id: int, invoice: str, stage: str, out: Path, on: datetime | None) -> None:
    """Render a letter without sending it: the one sent for that stage, or the one the law allows today."""
    db = database()
    out.write_bytes(
        letters.preview(
            db.uow(company_id, read_only=True),
            invoice,
            Stage(stage),
            on.date() if on else db.clock.today(),
        )
    )
    click.echo(f"{out}: {Stage(stage).label} for invoice {invoice}")


@letter.command("print")
@company_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="PDF file to write.",
)
@click.option("--by", help="Who is acting (default: the OS user).")
def print_(company_id: int, out: Path, by: str | None) -> None:
    """Every letter waiting to be printed (letters.delivery=print) in one PDF; they count as sent."""
    document, count = letters.print_batch(database().uow(company_id), actor=actor(by))
    out.write_bytes(document)
    click.echo(f"{out}: {count} letters to print and post")


@letter.command("cancel")
@company_option
@click.argument("letter_id", type=int)
@click.option("--by", help="Who is acting (default: the OS user).")
def cancel(company_id: int, letter_id: int, by: str | None) -> None:
    """Cancel a letter that was not sent (queued, failed or unknown); the ladder decides again."""
    letters.cancel(database().uow(company_id), letter_id, actor=actor(by))
    click.echo(f"letter {letter_id} cancelled")


@groups.dunning.command("send")
@company_option
@click.option("--invoice", required=True, help="Invoice number.")
@click.option(
    "--type",
    "step",
    required=True,
    type=click.Choice(["reminder", "inkassovarsel", "betalingsoppfordring", "rentenota"]),
)
@click.option("--date", "on", type=DATE, required=True, help="Letter date.")
@click.option(
    "--with-fee",
    is_flag=True,
    help="Add the fee (refused, with the first allowed date, when the law does not allow it yet).",
)
@click.option("--with-interest", is_flag=True, help="State the late interest.")
@click.option(
    "--override-limitation",
    is_flag=True,
    help="Send although the claim is (nearly) time-barred; logged with who did it.",
)
@click.option("--by", help="Who is acting (default: the OS user).")
def send(
    company_id: int,
    invoice: str,
    step: str,
    on: datetime,
    with_fee: bool,
    with_interest: bool,
    override_limitation: bool,
    by: str | None,
) -> None:
    """Follow up one invoice by hand; the legal guards still apply."""
    letter_id = letters.send_manual(
        database().uow(company_id),
        invoice,
        step,
        on.date(),
        with_fee=with_fee,
        with_interest=with_interest,
        actor=actor(by),
        override_limitation=override_limitation,
    )
    click.echo(f"letter {letter_id} ({step}) for invoice {invoice} queued")


@click.group()
def customer() -> None:
    """Per-customer dunning controls."""


@customer.command("set")
@company_option
@click.option("--customer", "ref", required=True, help="Customer id or number.")
@click.option(
    "--exclude/--include", default=None, help="Exclude from (or include in) automatic dunning."
)
@click.option("--kind", type=click.Choice(["private", "business"]), help="Correct the debtor kind.")
@click.option(
    "--ladder",
    "ladder",
    multiple=True,
    metavar="NAME=VALUE",
    help="An own ladder setting, e.g. minimum_amount=500 or reminder_1.days=20 (repeatable).",
)
@click.option("--company-ladder", is_flag=True, help="Drop the customer's own ladder.")
@click.option(
    "--email-consent/--no-email-consent",
    default=None,
    help="The customer accepted electronic delivery of letters.",
)
@click.option("--block/--unblock", default=None, help="Block from new sales (or lift the block).")
@click.option("--reason", help="Why (logged).")
@click.option("--by", help="Who is acting (default: the OS user).")
def customer_set(
    company_id: int,
    ref: str,
    exclude: bool | None,
    kind: str | None,
    ladder: tuple[str, ...],
    company_ladder: bool,
    email_consent: bool | None,
    block: bool | None,
    reason: str | None,
    by: str | None,
) -> None:
    """Change one customer's dunning controls (validated against the law like the company's)."""
    changed = customers.set_customer(
        database().uow(company_id),
        ref,
        actor=actor(by),
        excluded=exclude,
        kind=kind,
        ladder=list(ladder),
        clear_ladder=company_ladder,
        electronic_consent=email_consent,
        blocked=block,
        reason=reason,
    )
    click.echo(f"customer {changed.name} changed")


@customer.command("blocked")
@company_option
@json_option
def customer_blocked(company_id: int, as_json: bool) -> None:
    """Customers blocked from new sales (by the ladder, at hand-off, or by hand), with the reason."""
    rows = customers.blocked(database().uow(company_id, read_only=True))
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "number", "customer", "reason")
    for r in rows:
        table.add_row(str(r["id"]), r["customer_number"] or "", r["name"], r["reason"] or "")
    Console().print(table)


@groups.handoff.command("manual")
@company_option
@click.option("--customer", "customer_ref", help="An existing customer (id or number).")
@click.option("--name", help="A new debtor's name.")
@click.option(
    "--private/--business", default=None, help="A new debtor: private person or business."
)
@click.option("--org-number", help="A new business debtor's organisation number.")
@click.option(
    "--national-id-stdin",
    is_flag=True,
    help="Read a new private debtor's national id from stdin (never on the command line).",
)
@click.option("--address", default="", help="A new debtor's street address.")
@click.option("--postal-code", default="")
@click.option("--city", default="")
@click.option("--email")
@click.option("--invoice-number", required=True)
@click.option("--amount", required=True, help="The invoice amount, e.g. 12500.00.")
@click.option("--due-date", type=DATE, required=True, help="The original due date.")
@click.option("--invoice-date", type=DATE)
@click.option("--kid", help="The invoice's KID, if it had one.")
@click.option(
    "--fees",
    "fees",
    multiple=True,
    metavar="DATE:AMOUNT",
    help="A letter with a fee already sent, its date and fee (repeatable); checked against the law.",
)
@click.option(
    "--paid",
    "paid",
    multiple=True,
    metavar="DATE:AMOUNT",
    help="A partial payment already made (repeatable).",
)
@click.option(
    "--inkassovarsel-sent",
    type=DATE,
    help="The day an inkassovarsel was sent (the agency then starts with a betalingsoppfordring).",
)
@click.option(
    "--pdf",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The invoice as a PDF.",
)
@click.option("--by", help="Who is acting (default: the OS user).")
def manual(
    company_id: int,
    customer_ref: str | None,
    name: str | None,
    private: bool | None,
    org_number: str | None,
    national_id_stdin: bool,
    address: str,
    postal_code: str,
    city: str,
    email: str | None,
    invoice_number: str,
    amount: str,
    due_date: datetime,
    invoice_date: datetime | None,
    kid: str | None,
    fees: tuple[str, ...],
    paid: tuple[str, ...],
    inkassovarsel_sent: datetime | None,
    pdf: Path | None,
    by: str | None,
) -> None:
    """Register a claim that is not in the ledger, for hand-off through preview and confirm."""
    new = None
    if name:
        if private is None:
            raise InputError(
                "--private/--business",
                "say whether the new debtor is a private person or a business",
            )
        new = NewDebtor(
            name,
            private,
            org_number,
            sys.stdin.readline().strip() if national_id_stdin else None,
            address,
            postal_code,
            city,
            email,
        )
    invoice_id = create_manual_claim(
        database().uow(company_id),
        customer_ref=customer_ref,
        new_debtor=new,
        invoice_number=invoice_number,
        amount=Money.parse(amount, where="--amount"),
        due_date=due_date.date(),
        invoice_date=invoice_date.date() if invoice_date else None,
        kid=kid,
        fees=_dated_amounts(fees, "--fees", "each letter's date and fee"),
        payments=_dated_amounts(paid, "--paid", "each payment's date and amount"),
        varsel_sent=inkassovarsel_sent.date() if inkassovarsel_sent else None,
        pdf=pdf.read_bytes() if pdf else None,
        actor=actor(by),
    )
    click.echo(
        f"claim {invoice_number} registered (invoice id {invoice_id}); see `kravflyt handoff preview`"
    )


def _dated_amounts(items: tuple[str, ...], where: str, what: str) -> list[tuple[date, Money]]:
    """DATE:AMOUNT options as (date, amount) pairs; anything else names the option."""
    out = []
    for item in items:
        day, sep, value = item.partition(":")
        if not sep:
            raise InputError(where, f"{item!r}: give {what} as DATE:AMOUNT, e.g. 2026-02-01:38.00")
        try:
            on = datetime.strptime(day, "%Y-%m-%d").date()
        except ValueError as exc:
            raise InputError(where, f"{day!r} is not a date") from exc
        out.append((on, Money.parse(value, where=where)))
    return out


@groups.connect.command("smtp")
@company_option
@click.option("--by", help="Who is acting (default: the OS user).")
def connect_smtp(company_id: int, by: str | None) -> None:
    """Store the SMTP password for e-mailed letters (read from stdin, kept encrypted)."""
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise InputError("stdin", "give the SMTP password on standard input")
    db = database()
    with db.uow(company_id) as uow:
        uow.connections.put("smtp", {}, {"password": password}, checked=False)
        uow.record(
            Event(
                actor=actor(by),
                action="connection.smtp",
                subject=("company", company_id),
                message="SMTP password stored",
            )
        )
        uow.commit()
    click.echo("SMTP password stored")


commands = [letter, customer]
