"""`kravflyt bank parse|generate|import`, `kravflyt kid check`, `kravflyt payment ...`."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from adapter.clock import SystemClock
from adapter.commands import groups
from adapter.commands.context import actor, company_option, database, echo_json, json_option
from adapter.commands.progress import progress, shown
from adapter.domain import Money
from adapter.errors import InputError
from adapter.flows import bank_import
from adapter.i18n import N_, _, current, kr, ngettext
from adapter.i18n.labels import label
from adapter.services import payments
from adapter.services.bank_import import ImportSummary, file_totals
from connectors.bank import kid as kids
from connectors.bank.files import parse_path
from connectors.bank.generate import Target, plan_payments, write_file
from connectors.bank.transactions import BankFileError, ParsedFile


@groups.bank.command("parse")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def parse(file: Path, as_json: bool) -> None:
    """Read an OCR Giro, camt.054 or camt.053 file and print its incoming payments, control
    totals, what was skipped (debit entries ...) and warnings. A file that is refused ends with
    exit code 2 and the error (line or element, field) on stderr."""
    parsed = bank_file(a_file(file), SystemClock().today())
    if as_json:
        echo_json(
            {
                "format": parsed.format,
                "transactions": [t.as_json() for t in parsed.transactions],
                "control": parsed.control,
                "skipped": parsed.skipped,
                "warnings": parsed.warnings,
            }
        )
        return
    table = Table(
        _("date"),
        _("amount"),
        _("currency"),
        _("references"),
        _("payer account"),
        _("payer"),
        _("bank ref."),
        _("message"),
    )
    for t in parsed.transactions:
        table.add_row(
            str(t.booking_date),
            Money(t.amount_ore).format(),
            t.currency,
            ", ".join(map(str, t.structured())),
            t.payer_account or "",
            t.payer_name or "",
            t.bank_reference,
            t.message or "",
        )
    Console(width=200).print(table)
    totals: dict[str, int] = {}
    for t in parsed.transactions:
        totals[t.currency] = totals.get(t.currency, 0) + t.amount_ore
    amounts = ", ".join(
        f"{Money(ore)} {'kr' if currency == 'NOK' else currency}"
        for currency, ore in sorted(totals.items())
    )
    click.echo(
        ngettext(
            "%(format)s: %(num)s transaction, %(amounts)s; control: %(control)s",
            "%(format)s: %(num)s transactions, %(amounts)s; control: %(control)s",
            len(parsed.transactions),
            format=parsed.format,
            amounts=amounts or "0,00 kr",
            control=parsed.control,
        )
    )
    for line in skipped_words(parsed.skipped):
        click.echo(line)
    for warning in parsed.warnings:
        click.echo(_("warning: %(text)s", text=warning), err=True)


def a_file(path: Path) -> Path:
    """`path`, when it is a file; else one line (InputError: exit code 2) saying what it is.
    Click's own check printed its usage text around the error, four lines."""
    if path.is_dir():
        raise InputError(path.name, "is a folder, not a file", said=N_("is a folder, not a file"))
    if not path.exists():
        raise InputError(path.name, "no such file", said=N_("no such file"))
    return path


def bank_file(file: Path, today: date) -> ParsedFile:
    """The file read whole, or one line on stderr and exit code 2 (whatever is wrong with it:
    broken, empty, binary, unreadable or another kind of file)."""
    try:
        return parse_path(file, today=today)
    except BankFileError as exc:
        click.echo(f"error: {exc}", err=True)
    except UnicodeDecodeError as exc:  # pragma: no cover - Latin-1 decodes every byte
        click.echo(f"error: {file.name}: not a text file ({exc.reason})", err=True)
    except OSError as exc:
        click.echo(f"error: {file.name}: cannot be read ({exc.strerror or exc})", err=True)
    sys.exit(2)


@groups.bank.command("generate")
@click.argument("fmt", metavar="ocr|camt054", type=click.Choice(["ocr", "camt054"]))
@click.option("--transactions", "count", type=int, required=True, help="How many payments.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write."
)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--company",
    "company_id",
    type=int,
    help="Pay this company's open invoices (their KIDs and amounts).",
)
@click.option(
    "--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Booking date (default: today)."
)
@click.option(
    "--version",
    default="02",
    show_default=True,
    type=click.Choice(["02", "04", "08"]),
    help="camt.054 version.",
)
@click.option(
    "--wrong-kid-share",
    default=0.03,
    show_default=True,
    help="Share of payments with a KID no invoice has.",
)
@click.option(
    "--message-share",
    default=0.03,
    show_default=True,
    help="Share of payments with only a message.",
)
@click.option(
    "--credit-note-share",
    default=0.0,
    show_default=True,
    help="Share of credit notes (half the invoice; camt: CREN listed with the payment of the rest).",
)
def generate(
    fmt: str,
    count: int,
    out: Path,
    seed: int,
    company_id: int | None,
    on: datetime | None,
    version: str,
    wrong_kid_share: float,
    message_share: float,
    credit_note_share: float,
) -> None:
    """Write a test file with valid control totals: KIDs of existing invoices (with --company),
    plus a share of wrong and missing KIDs."""
    if count < 1:
        raise InputError("--transactions", "at least 1")
    targets: list[Target] = []
    day = on.date() if on else None
    if company_id is not None:
        from adapter.services.bank_import import open_targets

        db = database()
        targets = open_targets(db.uow(company_id, read_only=True))
        day = day or db.clock.today()
    written = write_file(
        out,
        fmt,
        plan_payments(
            targets,
            count=count,
            seed=seed,
            wrong_kid_share=wrong_kid_share,
            message_only_share=message_share,
            credit_note_share=credit_note_share,
        ),
        on=day or SystemClock().today(),
        version=version,
    )
    click.echo(f"{out}: {written} transactions ({fmt})")


@groups.bank.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@company_option
@click.option("--by", help="Who is acting (default: the OS user).")
@json_option
def import_(file: Path, company_id: int, by: str | None, as_json: bool) -> None:
    """Import an OCR Giro, camt.054 or camt.053 file: all of it or nothing; the same file or
    payment twice adds nothing. A file that is refused ends with exit code 2 and one line."""
    a_file(file)
    db = database()
    with progress(N_("payments"), enabled=shown(as_json)) as display:
        summary = bank_import.import_file(
            db, company_id, file, actor=actor(by), progress=display.task(file.name)
        )
    if as_json:
        echo_json(summary.as_json())
        return
    if summary.already_imported:
        click.echo(_("%(file)s was imported before: nothing added", file=file.name))
        return
    totals = file_totals(db.uow(company_id, read_only=True), summary.sha256)
    for line in import_report(summary, totals):
        click.echo(line)


def import_report(summary: ImportSummary, totals: dict[str, int]) -> list[str]:
    """What an import did, in the command's language: the file's line (its amounts by currency,
    `totals`), then indented how many were matched by each method and unmatched for each
    reason, what was skipped, warnings."""
    amounts = ", ".join(
        kr(ore, current()) if currency == "NOK" else f"{kr(ore, current(), unit=False)} {currency}"
        for currency, ore in sorted(totals.items(), key=lambda t: (t[0] != "NOK", t[0]))
    )
    head = ngettext(
        "%(file)s (%(format)s): %(num)s payment, %(amounts)s",
        "%(file)s (%(format)s): %(num)s payments, %(amounts)s",
        summary.payments,
        file=summary.file,
        format=summary.format,
        amounts=amounts or kr(0, current()),
    )
    if summary.duplicates:
        head += ", " + _("%(count)s already known", count=summary.duplicates)
    lines = [head]
    for method, n in sorted(summary.matched.items()):
        lines.append(
            _("matched by %(method)s: %(count)s", method=label("match_method", method), count=n)
        )
    for reason, n in sorted(summary.unmatched.items()):
        lines.append(
            _("unmatched, %(reason)s: %(count)s", reason=label("unmatched_reason", reason), count=n)
        )
    if summary.written_off_ore:
        lines.append(_("residuals written off: %(amount_ore)s", amount_ore=summary.written_off_ore))
    lines += skipped_words(summary.skipped)
    lines += [_("warning: %(text)s", text=warning) for warning in summary.warnings]
    lines += [
        _(
            "to book by hand: %(paid_date)s %(amount_ore)s KID %(kid)s %(message)s",
            paid_date=date.fromisoformat(item["date"]),
            amount_ore=item["amount_ore"],
            kid=item["kid"] or "-",
            message=item["message"] or "",
        ).rstrip()
        for item in summary.ignored
    ]
    return [lines[0], *(f"  {line}" for line in lines[1:])]


def skipped_words(skipped: dict[str, int]) -> list[str]:
    """What a reader skipped ("2 debit entries skipped"), in the command's language."""
    words = {
        "debit": lambda n: ngettext(
            "%(num)s debit entry skipped", "%(num)s debit entries skipped", n
        ),
        "not_booked": lambda n: ngettext(
            "%(num)s entry not booked yet skipped", "%(num)s entries not booked yet skipped", n
        ),
        "batch_without_details": lambda n: ngettext(
            "%(num)s batch entry without its payments skipped (import the OCR or camt.054 file "
            "that lists them)",
            "%(num)s batch entries without their payments skipped (import the OCR or camt.054 "
            "files that list them)",
            n,
        ),
    }
    return [words[what](n) for what, n in skipped.items() if n]


@click.group()
def payment() -> None:
    """Payments: list, match by hand, move, unmatch, register."""


@payment.command("list")
@company_option
@click.option(
    "--status",
    type=click.Choice(["matched", "unmatched", "on_account", "ignored"]),
    help="Only this status.",
)
@json_option
def payment_list(company_id: int, status: str | None, as_json: bool) -> None:
    """Payments, newest first (the unmatched ones wait for a person)."""
    with database().uow(company_id, read_only=True) as uow:
        rows = uow.payments.recent(status=status)
    if as_json:
        echo_json(
            [
                {
                    "id": p.id,
                    "date": p.payment_date,
                    "amount_ore": p.amount.ore,
                    "kid": p.kid,
                    "message": p.message,
                    "payer_name": p.payer_name,
                    "status": p.status.value,
                    "method": p.match_method,
                    "reason": p.unmatched_reason,
                    "customer_id": p.customer_id,
                    "currency": p.currency,
                    "references": p.references,
                }
                for p in rows
            ]
        )
        return
    table = Table("id", "date", "amount", "references", "payer", "message", "status", "why")
    for p in rows:
        table.add_row(
            str(p.id),
            str(p.payment_date),
            p.amount.format() + ("" if p.currency == "NOK" else f" {p.currency}"),
            p.references or p.kid or "",
            p.payer_name or "",
            p.message or "",
            p.status.value,
            label("match_method", p.match_method) or label("unmatched_reason", p.unmatched_reason),
        )
    Console(width=200).print(table)


@payment.command("match")
@company_option
@click.option(
    "--payment",
    "payment_id",
    type=int,
    required=True,
    help="Payment id (see `kravflyt payment list`).",
)
@click.option("--invoice", required=True, help="Invoice number.")
@click.option(
    "--confirm",
    is_flag=True,
    help="Match even to a closed invoice, another customer's invoice, or leaving a credit.",
)
@click.option("--by", help="Who is acting (default: the OS user).")
def payment_match(
    company_id: int, payment_id: int, invoice: str, confirm: bool, by: str | None
) -> None:
    """Allocate a payment to an invoice by hand (and register it in Tripletex)."""
    payments.match_payment(
        database().uow(company_id), payment_id, invoice, actor=actor(by), confirmed=confirm
    )
    click.echo(f"payment {payment_id} matched to invoice {invoice}")


@payment.command("move")
@company_option
@click.option("--payment", "payment_id", type=int, required=True, help="Payment id.")
@click.option("--customer", required=True, help="Customer id, number or external id.")
@click.option("--by", help="Who is acting (default: the OS user).")
def payment_move(company_id: int, payment_id: int, customer: str, by: str | None) -> None:
    """Move an unallocated payment to another customer (e.g. off "Betaling med ukjent KID")."""
    moved = payments.move_payment(database().uow(company_id), payment_id, customer, actor=actor(by))
    click.echo(f"payment {payment_id} moved to customer {moved.customer_id}")


@payment.command("unmatch")
@company_option
@click.option("--payment", "payment_id", type=int, required=True, help="Payment id.")
@click.option("--by", help="Who is acting (default: the OS user).")
def payment_unmatch(company_id: int, payment_id: int, by: str | None) -> None:
    """Undo a payment's allocation (refused once Tripletex has registered it)."""
    payments.unmatch_payment(database().uow(company_id), payment_id, actor=actor(by))
    click.echo(f"payment {payment_id} unmatched")


@payment.command("register")
@company_option
@click.option("--invoice", required=True, help="Invoice number.")
@click.option("--amount", required=True, help="Amount, e.g. 1250.00.")
@click.option(
    "--date", "on", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Payment date."
)
@click.option("--by", help="Who is acting (default: the OS user).")
def payment_register(
    company_id: int, invoice: str, amount: str, on: datetime, by: str | None
) -> None:
    """Register a payment that never came through a bank file."""
    made = payments.register_payment(
        database().uow(company_id),
        invoice,
        Money.parse(amount, where="--amount"),
        on.date(),
        actor=actor(by),
    )
    click.echo(f"payment {made.id} of {made.amount} kr registered on invoice {invoice}")


@click.group()
def kid() -> None:
    """KID check digits (MOD10, MOD11)."""


@kid.command("check")
@click.argument("value")
def kid_check(value: str) -> None:
    """Print which scheme the KID's check digit satisfies: MOD10, MOD11 or invalid (exit 1)."""
    scheme = kids.detect_scheme(value)
    click.echo(scheme or "invalid")
    sys.exit(0 if scheme else 1)


commands = [kid, payment]
