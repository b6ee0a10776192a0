"""`kravflyt company connect kravia`, `kravia webhook`, `sandbox kravia`, `handoff ...`,
`claim dispute|undispute|hold|limitation`, `reconcile`."""

from __future__ import annotations

import json
from datetime import datetime

import click
import uvicorn
from rich.console import Console
from rich.table import Table

from adapter import bootstrap
from adapter.commands import groups
from adapter.commands.context import (
    actor,
    company_option,
    database,
    echo_json,
    json_option,
    read_token,
    token_option,
)
from adapter.domain import Money
from adapter.flows import agency_steps, connections
from adapter.services import claims, handoff
from adapter.services import reconcile as reconcile_service
from adapter.services.clients import Clients
from adapter.settings import get_settings
from connectors.kravia.client import PRODUCTION_URL
from connectors.kravia.sandbox import DEFAULT_TOKEN, KraviaSandbox
from policies.rates import half_year_text

DATE = click.DateTime(["%Y-%m-%d"])


@groups.connect.command("kravia")
@company_option
@click.option(
    "--base-url",
    default=PRODUCTION_URL,
    show_default=True,
    help="Kravia API base URL (staging: a setting).",
)
@token_option("--token", "KRAVFLYT_KRAVIA_TOKEN", "The secret token Kravia issued")
@click.option(
    "--creditor-id",
    type=int,
    required=True,
    help="Kravia's id of the creditor to act for (the sandbox's is 10759).",
)
@click.option("--by", help="Who is acting (default: the OS user).")
def connect_kravia(
    company_id: int,
    base_url: str,
    token_source: str | None,
    creditor_id: int,
    by: str | None,
) -> None:
    """Store the company's Kravia connection (encrypted) after checking the token (read from
    stdin, a file or the environment, never from the command line)."""
    token = read_token(token_source, "--token", "KRAVFLYT_KRAVIA_TOKEN")
    creditor = connections.connect_kravia(
        database(),
        company_id,
        base_url=base_url,
        token=token,
        creditor_id=creditor_id,
        actor=actor(by),
    )
    click.echo(
        f"company {company_id} connected to Kravia at {base_url.rstrip('/')} as creditor {creditor}"
    )


@click.group()
def kravia() -> None:
    """Kravia webhooks and status."""


@kravia.command("webhook")
@company_option
@click.option(
    "--url", required=True, help="Public base URL of `kravflyt web` (or the full webhook URL)."
)
@click.option("--by", help="Who is acting (default: the OS user).")
def kravia_webhook(company_id: int, url: str, by: str | None) -> None:
    """Point Kravia's case webhooks at us, with a new shared secret for the signature."""
    db = database()
    click.echo(
        f"Kravia webhooks go to {connections.kravia_webhook(db, Clients(db), company_id, url=url, actor=actor(by))}"
    )


@kravia.command("poll")
@company_option
def kravia_poll(company_id: int) -> None:
    """Read the cases Kravia updated since the last poll and store their status."""
    ctx = bootstrap.work_context(database(), get_settings())
    click.echo(f"{agency_steps.poll(ctx, company_id)} claims read")


@kravia.command("settlements")
@company_option
def kravia_settlements(company_id: int) -> None:
    """Read Kravia's payouts not yet bookkept (GET /settlements), so a bank file's payout from
    Kravia is told apart from a debtor's payment (the bank pickup does this by itself)."""
    ctx = bootstrap.work_context(database(), get_settings())
    click.echo(f"{agency_steps.sync_settlements(ctx, company_id)} new Kravia payouts stored")


@groups.sandbox.command("kravia")
@click.option("--port", default=8082, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--token", default=DEFAULT_TOKEN, show_default=True)
@click.option("--today", type=DATE, help="The sandbox's date (default: today).")
def sandbox_kravia(port: int, host: str, token: str, today: datetime | None) -> None:
    """Serve a Kravia look-alike under /api/v2 (cases, payments, credit notes, lifecycle, webhooks)."""
    sb = KraviaSandbox(token=token, today=today.date() if today else None)
    Console(stderr=True).print(
        f"Kravia sandbox on http://{host}:{port}/api/v2 (creditor {next(iter(sb.creditors))})\n  token: {token}"
    )
    uvicorn.run(sb.app(), host=host, port=port, log_level="warning")


@groups.handoff.command("preview")
@company_option
@click.option("--date", "on", type=DATE, help="As of this day (default: today).")
@json_option
def preview(company_id: int, on: datetime | None, as_json: bool) -> None:
    """Each debtor's bundle of claims eligible for hand-off, with principal, interest, fees and partial payments."""
    db = database()
    bundles = handoff.candidates(
        db.uow(company_id, read_only=True), on.date() if on else db.clock.today()
    )
    if as_json:
        echo_json([b.as_json() for b in bundles])
        return
    if not bundles:
        click.echo("no claims are eligible for hand-off")
    for b in bundles:
        table = Table(
            "invoice",
            "original",
            "paid",
            "principal",
            "fees",
            "interest",
            title=f"{b.customer_name} (customer {b.customer_id})",
        )
        for item in b.as_json()["invoices"]:
            table.add_row(
                item["invoice"],
                *(
                    Money(item[k]).format()
                    for k in (
                        "original_ore",
                        "paid_ore",
                        "principal_ore",
                        "fees_ore",
                        "interest_ore",
                    )
                ),
            )
        Console().print(table)
        click.echo(
            f"  total: principal {Money(b.principal_ore)} kr, fees {Money(b.fees_ore)} kr, interest {Money(b.interest_ore)} kr"
        )
        cut = [
            (c.decision.interest.to_date, missing)
            for c in b.claims
            if (missing := c.decision.interest.unknown_from) is not None
        ]
        if cut:
            click.echo(
                f"  interest counted to {cut[0][0]}: the rate for {half_year_text(cut[0][1])} "
                "is not published yet"
            )


@groups.handoff.command("confirm")
@company_option
@click.option("--debtor", required=True, help="Customer id or number.")
@click.option(
    "--not-disputed", is_flag=True, help="Confirm that the claims are not disputed (required)."
)
@click.option("--by", required=True, help="Your name: the confirmation is logged with it.")
@click.option("--date", "on", type=DATE, help="As of this day (default: today).")
def confirm(company_id: int, debtor: str, not_disputed: bool, by: str, on: datetime | None) -> None:
    """Hand a debtor's eligible claims to Kravia as one case (sent by a worker)."""
    db = database()
    case_id = handoff.confirm(
        db.uow(company_id),
        debtor,
        not_disputed=not_disputed,
        by=by,
        on=on.date() if on else db.clock.today(),
    )
    click.echo(f"hand-off case {case_id} confirmed by {by}; a worker sends it to Kravia")


@groups.handoff.command("list")
@company_option
@json_option
def handoff_list(company_id: int, as_json: bool) -> None:
    """Hand-off cases with their status and Kravia's references."""
    cases = handoff.handed_off(database().uow(company_id, read_only=True))
    if as_json:
        echo_json(cases)
        return
    table = Table("case", "debtor", "status", "confirmed by", "principal", "agency claims")
    for c in cases:
        table.add_row(
            str(c["case_id"]),
            c["customer"],
            c["status"],
            c["confirmed_by"],
            Money(c["principal_ore"]).format(),
            ", ".join(str(i["agency_claim_id"] or "-") for i in c["items"]),
        )
    Console().print(table)


@click.group()
def claim() -> None:
    """One claim: dispute, undispute, stop or postpone dunning, its limitation."""


def _dispute_command(name: str, disputed: bool) -> None:
    @claim.command(name)
    @company_option
    @click.option("--invoice", required=True, help="Invoice number.")
    @click.option("--reason", required=True, help="Why (logged).")
    @click.option("--by", help="Who is acting (default: the OS user).")
    def command(company_id: int, invoice: str, reason: str, by: str | None) -> None:
        claims.set_dispute(
            database().uow(company_id), invoice, disputed=disputed, reason=reason, actor=actor(by)
        )
        click.echo(
            f"invoice {invoice} {'disputed: dunning and hand-off stop' if disputed else 'undisputed: dunning resumes'}"
        )

    command.__doc__ = (
        "Mark a claim disputed: no letters, fees or hand-off until undisputed."
        if disputed
        else "Mark a disputed claim undisputed again: dunning resumes."
    )


_dispute_command("dispute", True)
_dispute_command("undispute", False)


@claim.command("hold")
@company_option
@click.option("--invoice", required=True, help="Invoice number.")
@click.option("--stop", is_flag=True, help="Stop dunning of this invoice.")
@click.option("--until", type=DATE, help="Postpone dunning until this day.")
@click.option("--resume", is_flag=True, help="Lift a stop or postponement.")
@click.option("--reason", required=True, help="Why (shown on the claim page and logged).")
@click.option("--by", help="Who is acting (default: the OS user).")
def hold(
    company_id: int,
    invoice: str,
    stop: bool,
    until: datetime | None,
    resume: bool,
    reason: str,
    by: str | None,
) -> None:
    """Stop or postpone dunning of one invoice (purrestopp), or resume it."""
    if sum((stop, until is not None, resume)) != 1:
        raise click.UsageError("give exactly one of --stop, --until or --resume")
    claims.set_hold(
        database().uow(company_id),
        invoice,
        stopped=stop,
        until=until.date() if until else None,
        reason=reason,
        actor=actor(by),
    )
    click.echo(
        f"invoice {invoice}: {'stopped' if stop else f'postponed until {until.date()}' if until else 'resumed'}"
    )


@claim.command("limitation")
@company_option
@click.option("--invoice", required=True, help="Invoice number.")
@click.option(
    "--renewed",
    type=DATE,
    help="The day the debtor acknowledged the claim, or a legal step was taken: a new "
    "three-year period runs from it (foreldelsesloven §§ 14-15).",
)
@click.option("--reason", help="What renewed the period (with --renewed; logged).")
@click.option("--date", "on", type=DATE, help="Today (default: the clock).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--by", help="Who is acting (default: the OS user).")
def limitation(
    company_id: int,
    invoice: str,
    renewed: datetime | None,
    reason: str | None,
    on: datetime | None,
    as_json: bool,
    by: str | None,
) -> None:
    """When a claim is time-barred (three years from the due date), and from when dunning and
    hand-off stop; or record an acknowledgement that starts a new period."""
    db = database()
    found = claims.limitation(
        db.uow(company_id),
        invoice,
        on.date() if on else db.clock.today(),
        renewed_on=renewed.date() if renewed else None,
        reason=reason,
        actor=actor(by),
    )
    if as_json:
        click.echo(json.dumps(found))
        return
    start = (
        f"the renewal on {found['renewed_on']} ({found['renewed_reason']})"
        if found["renewed_on"]
        else f"the due date {found['due_date']}"
    )
    click.echo(
        f"invoice {invoice}: time-barred {'since' if found['time_barred'] else 'on'} "
        f"{found['limitation_date']} (three years from {start}); automatic dunning and "
        f"hand-off stop from {found['stop_from']}; the worklist warns from {found['warn_from']}"
    )


@click.command()
@company_option
@json_option
def reconcile(company_id: int, as_json: bool) -> None:
    """Compare every claim with the ledger (Tripletex: outstanding without and with reminders)
    and, for handed-off claims, with Kravia; list every difference and what to do."""
    db = database()
    rows = [r.as_json() for r in reconcile_service.ledger(db.uow(company_id, read_only=True))]
    with db.uow(company_id, read_only=True) as uow:
        kravia_connected = "kravia" in uow.connections.configured()
    at_agency = (
        {
            r["invoice"]: r
            for r in agency_steps.reconcile(bootstrap.work_context(db, get_settings()), company_id)
        }
        if kravia_connected
        else {}
    )
    for r in rows:
        found = at_agency.pop(r["invoice"], None)
        r["agency_ore"] = found["agency_ore"] if found else None
        r["agency_status"] = found["agency_status"] if found else None
        if found:
            r["differences"] += [d for d in found["differences"] if not d.startswith("ledger ")]
    if as_json:
        echo_json(rows)
        return
    table = Table(
        "invoice",
        "customer",
        "status",
        "ours",
        "ledger",
        "ours with notices",
        "ledger total",
        "agency",
        "differences",
    )
    for r in rows:
        table.add_row(
            r["invoice"],
            r["customer"],
            r["status"],
            Money(r["ours_ore"]).format(),
            Money(r["ledger_ore"]).format() if r["ledger_ore"] is not None else "",
            Money(r["ours_total_ore"]).format(),
            Money(r["ledger_total_ore"]).format() if r["ledger_total_ore"] is not None else "",
            Money(r["agency_ore"]).format() if r["agency_ore"] is not None else "",
            "; ".join(r["differences"]) or "none",
        )
    Console(width=220).print(table)
    different = sum(1 for r in rows if r["differences"])
    click.echo(f"{len(rows)} claims compared with the ledger, {different} with differences")


commands = [kravia, claim, reconcile]
