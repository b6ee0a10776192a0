"""`kravflyt dunning plan|simulate|run`: the ladder for a company's open claims."""

from __future__ import annotations

from datetime import date, datetime

import click
from rich.console import Console
from rich.table import Table

from adapter.commands import groups
from adapter.commands.context import actor, company_option, database, echo_json, json_option
from adapter.commands.progress import progress, shown
from adapter.domain import Money
from adapter.flows import dunning_run
from adapter.i18n import N_
from adapter.services import dunning as service
from policies.decisions import Action

DATE = click.DateTime(["%Y-%m-%d"])


def _day(value: datetime | None) -> date:
    return value.date() if value else database().clock.today()


def _kr(ore: int) -> str:
    return Money(ore).format()


@groups.dunning.command("plan")
@company_option
@click.option("--date", "on", type=DATE, help="The day to plan for (default: today).")
@click.option(
    "--all", "show_all", is_flag=True, help="Also list claims where nothing is done, with why."
)
@json_option
def plan(company_id: int, on: datetime | None, show_all: bool, as_json: bool) -> None:
    """What would be done today for every open claim, with amounts and reasons; nothing is sent."""
    day = _day(on)
    summary = service.PlanSummary()
    rows = []
    db = database()
    with progress(N_("claims"), enabled=shown(as_json)) as display:
        done, total, update = (
            0,
            service.open_claims(db.uow(company_id, read_only=True)),
            display.task("claims"),
        )
        for row, _facts, decisions in service.plan(db.uow(company_id, read_only=True), day):
            summary.add(decisions)
            if show_all or as_json or any(d.action is not Action.NOTHING for d in decisions):
                rows.append((row, decisions))
            done += 1
            if done % 1000 == 0:
                update(done, total)
    if as_json:
        echo_json(
            {
                "date": day,
                "claims": [
                    {
                        "invoice": r.invoice_number,
                        "invoice_id": r.invoice_id,
                        "customer": r.customer_name,
                        "decisions": [service.decision_json(d) for d in ds],
                    }
                    for r, ds in rows
                ],
                "summary": summary.as_json(),
            }
        )
        return
    table = Table("invoice", "customer", "action", "fee", "interest", "total", "deadline", "why")
    for r, ds in rows:
        for d in ds:
            table.add_row(
                r.invoice_number,
                r.customer_name,
                d.action.value,
                _kr(d.fee_ore),
                _kr(d.interest.total_ore),
                _kr(d.total_ore) if d.stage else "",
                str(d.deadline or ""),
                d.explain(),
            )
    Console(width=220).print(table)
    _print_summary(summary)


def _print_summary(summary: service.PlanSummary) -> None:
    click.echo(
        f"{summary.claims} open claims: "
        + ", ".join(f"{n} {a}" for a, n in sorted(summary.actions.items()))
    )
    click.echo(
        f"fees {_kr(summary.fees_ore)} kr, interest {_kr(summary.interest_ore)} kr, "
        f"compensation {_kr(summary.compensation_ore)} kr, written off {_kr(summary.written_off_ore)} kr"
    )


@groups.dunning.command("simulate")
@company_option
@click.option("--from", "start", type=DATE, required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", type=DATE, required=True, help="Last day (YYYY-MM-DD).")
@json_option
def simulate(company_id: int, start: datetime, end: datetime, as_json: bool) -> None:
    """Run the ladder day by day over a period on the current book, assuming nothing more is
    paid; prints what would be sent when, and the totals of fees and interest."""
    if end < start:
        raise click.BadParameter("--to is before --from")
    steps, summary = service.simulate_company(
        database().uow(company_id, read_only=True), start.date(), end.date()
    )
    if as_json:
        echo_json(
            {
                "from": start.date(),
                "to": end.date(),
                "steps": [
                    {
                        "date": s.on,
                        "invoice": s.invoice_number,
                        "customer": s.customer_name,
                        **service.decision_json(s.decision),
                    }
                    for s in steps
                ],
                "summary": summary.as_json(),
            }
        )
        return
    table = Table("date", "invoice", "customer", "action", "fee", "interest", "deadline")
    for s in steps:
        table.add_row(
            str(s.on),
            s.invoice_number,
            s.customer_name,
            s.decision.action.value,
            _kr(s.decision.fee_ore),
            _kr(s.decision.interest.total_ore),
            str(s.decision.deadline or ""),
        )
    Console(width=200).print(table)
    _print_summary(summary)


@groups.dunning.command("run")
@company_option
@click.option("--date", "on", type=DATE, help="Run as of this day (default: today).")
@click.option("--by", help="Who is acting (default: the OS user).")
@json_option
def run(company_id: int, on: datetime | None, by: str | None, as_json: bool) -> None:
    """Turn today's decisions into letters and outbox rows (one per claim and stage, never twice);
    workers send them. Every decision and its reasons go into the audit log."""
    with progress(N_("claims"), enabled=shown(as_json)) as display:
        summary = dunning_run.run(
            database(), company_id, _day(on), actor=actor(by), progress=display.task("decisions")
        )
    if as_json:
        echo_json(summary.as_json())
        return
    _print_summary(summary)
    if summary.skipped:
        click.echo(f"{summary.skipped} decisions were done before and were not repeated")


commands: list[click.Command] = []
