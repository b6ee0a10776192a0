"""`kravflyt jobs|outbox|inbox list|retry` and `kravflyt audit`: the operator's view."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from adapter.commands.context import actor, database, echo_json, json_option
from adapter.i18n.labels import label
from adapter.services import work


def _group(table: str, what: str) -> click.Group:
    @click.group(name=table, help=f"{what}: list those that need a person, and retry them.")
    def group() -> None:
        pass

    @group.command("list")
    @click.option("--company", "company_id", type=int, help="Only this company.")
    @click.option("--status", help="Only rows with this status (default: the stuck ones).")
    @json_option
    def list_(company_id: int | None, status: str | None, as_json: bool) -> None:
        """List rows, newest first; by default the dead or failed ones with their error."""
        items = work.list_items(database().uow(company_id, read_only=True), table, status=status)
        if as_json:
            echo_json([{**item.__dict__, "reason": item.reason} for item in items])
            return
        out = Table("id", "company", "what", "status", "attempts", "why", "error")
        for i in items:
            out.add_row(
                str(i.id),
                str(i.company_id or ""),
                i.name,
                label("send_status", i.status),  # in words ("i kø"), the code in --json
                str(i.attempts),
                i.reason,
                i.last_error or "",
            )
        Console().print(out)

    @group.command("retry")
    @click.argument("item_id", type=int)
    @click.option("--by", help="Who is acting (default: the OS user).")
    @click.option(
        "--resend",
        "decision",
        flag_value="resend",
        help="Outbox: it did not arrive, send it again without a lookup (logged).",
    )
    @click.option(
        "--mark-sent",
        "decision",
        flag_value="mark_sent",
        help="Outbox: it arrived, mark it sent without sending (logged).",
    )
    def retry(item_id: int, by: str | None, decision: str | None) -> None:
        """Put one stuck row back in the queue (an outbox row is looked up remotely first)."""
        item = work.retry(
            database().uow(), table, item_id, actor=actor(by), decision=decision or "lookup"
        )
        click.echo(
            f"{table} {item.id} {'queued again' if item.status != 'sent' else 'marked'} ({item.status})"
        )

    return group


@click.command()
@click.option("--company", "company_id", type=int, required=True, help="Company id.")
@click.option("--subject", help="Only entries about this subject, e.g. invoice:10001.")
@click.option("--action", help="Only actions starting with this, e.g. dunning.")
@click.option("--search", help="Only entries whose message contains this text.")
@click.option("--limit", default=100, show_default=True)
@json_option
def audit(
    company_id: int,
    subject: str | None,
    action: str | None,
    search: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the audit log: every decision and action, newest first, with its rule and numbers."""
    subj = tuple(subject.split(":", 1)) if subject else None
    with database().uow(company_id, read_only=True) as uow:
        entries = uow.audit.entries(subject=subj, action=action, text=search, limit=limit)  # type: ignore[arg-type]
    if as_json:
        echo_json([e.__dict__ for e in entries])
        return
    out = Table("when", "who", "action", "subject", "rules", "message")
    for e in entries:
        out.add_row(
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            f"{e.subject_type}:{e.subject_id}" if e.subject_type else "",
            ", ".join(e.rules),
            e.message,
        )
    Console(width=200).print(out)


commands = [
    _group("jobs", "Background jobs"),
    _group("outbox", "Sends to Tripletex and Kravia"),
    _group("inbox", "Stored webhooks"),
    audit,
]
