"""`kravflyt company connect tripletex`, `sync tripletex`, `tripletex subscribe`, `sandbox tripletex`."""

from __future__ import annotations

from datetime import date

import click
import uvicorn
from rich.console import Console

from adapter.commands import groups
from adapter.commands.context import (
    actor,
    company_option,
    database,
    echo_json,
    json_option,
    read_token,
    token_option,
    tripletex_url_option,
)
from adapter.commands.progress import progress, shown
from adapter.flows import connections, tripletex_sync
from adapter.i18n import N_
from adapter.services.clients import Clients
from connectors.tripletex.sandbox import (
    DEFAULT_CONSUMER_TOKEN,
    DEFAULT_EMPLOYEE_TOKEN,
    create_sandbox,
)
from connectors.tripletex.sandbox.office import (
    DEFAULT_ACCOUNTANT_TOKEN,
    create_office,
    office_clients,
)


@groups.connect.command("tripletex")
@company_option
@tripletex_url_option
@token_option(
    "--consumer-token", "KRAVFLYT_TRIPLETEX_CONSUMER_TOKEN", "The integration's consumer token"
)
@token_option(
    "--employee-token",
    "KRAVFLYT_TRIPLETEX_EMPLOYEE_TOKEN",
    "The employee token created in the customer's Tripletex",
)
@click.option(
    "--client-company-id", type=int, help="Accountant token: the client company to act for."
)
@click.option("--by", help="Who is acting (default: the OS user).")
def connect_tripletex(
    company_id: int,
    base_url: str,
    consumer_source: str | None,
    employee_source: str | None,
    client_company_id: int | None,
    by: str | None,
) -> None:
    """Store the company's Tripletex tokens (encrypted) after checking them by creating a session.

    Tokens are read from stdin (consumer token first, then employee token, one a line), a file
    or the environment, never from the command line."""
    consumer_token = read_token(
        consumer_source, "--consumer-token", "KRAVFLYT_TRIPLETEX_CONSUMER_TOKEN"
    )
    employee_token = read_token(
        employee_source, "--employee-token", "KRAVFLYT_TRIPLETEX_EMPLOYEE_TOKEN"
    )
    connections.connect_tripletex(
        database(),
        company_id,
        base_url=base_url,
        consumer_token=consumer_token,
        employee_token=employee_token,
        client_company_id=client_company_id,
        actor=actor(by),
    )
    click.echo(f"company {company_id} connected to Tripletex at {base_url.rstrip('/')}")


@click.group()
def sync() -> None:
    """Read data from a remote system into Kravflyt."""


@sync.command("tripletex")
@company_option
@click.option(
    "--full",
    is_flag=True,
    help="Read every invoice again (no shortcuts); converges to the same state.",
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "incremental", "rescan", "full"]),
    default="auto",
    show_default=True,
    help="auto: full the first time, a digest rescan daily, incremental otherwise.",
)
@json_option
def sync_tripletex(company_id: int, full: bool, mode: str, as_json: bool) -> None:
    """Sync customers and invoices (with payments Tripletex booked itself) from Tripletex."""
    db = database()
    client = Clients(db).tripletex(company_id)
    mode = "full" if full else mode
    with progress(N_("records"), enabled=shown(as_json)) as display:
        # Tripletex pages tell no total (fullResultSize is deprecated): count and rate only.
        tasks = {s: display.task(s) for s in ("customers", "invoices")}
        seen = {"customers": 0, "invoices": 0}

        def read(stream: str, n: int) -> None:
            seen[stream] += n
            tasks[stream](seen[stream], None)

        summary = tripletex_sync.sync_company(db, client, company_id, mode=mode, progress=read)
    if as_json:
        echo_json(summary.as_json())
        return
    c, i = summary.customers, summary.invoices
    click.echo(f"{summary.mode} sync of company {company_id}:")
    click.echo(f"  customers: {c.new} new, {c.changed} changed, {c.unchanged} unchanged")
    click.echo(f"  invoices:  {i.new} new, {i.changed} changed, {i.unchanged} unchanged")
    click.echo(f"  payments booked in Tripletex recorded: {summary.ledger_payments}")
    click.echo(f"  requests made: {summary.requests}")


@click.group()
def tripletex() -> None:
    """Tripletex webhooks."""


@tripletex.command("subscribe")
@company_option
@click.option(
    "--url", required=True, help="Public base URL of `kravflyt web` (or the full webhook URL)."
)
@click.option("--by", help="Who is acting (default: the OS user).")
def subscribe(company_id: int, url: str, by: str | None) -> None:
    """Subscribe to Tripletex's invoice and customer events with a generated auth header value."""
    db = database()
    events = connections.subscribe_tripletex(db, Clients(db), company_id, url=url, actor=actor(by))
    click.echo(f"subscribed to {', '.join(events)}")


@groups.sandbox.command("tripletex")
@click.option("--port", default=8081, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--customers", default=2000, show_default=True)
@click.option("--invoices", default=10000, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--today", type=click.DateTime(["%Y-%m-%d"]), help="The sandbox's date (default: today)."
)
@click.option("--consumer-token", default=DEFAULT_CONSUMER_TOKEN, show_default=True)
@click.option("--employee-token", default=DEFAULT_EMPLOYEE_TOKEN, show_default=True)
@click.option(
    "--latency-ms", default=0.0, show_default=True, help="Every API answer waits this long."
)
@click.option(
    "--rate-limit",
    default=100_000,
    show_default=True,
    help="Requests per period (per client company with --clients), then 429.",
)
@click.option("--rate-period", default=60.0, show_default=True, help="The period, in seconds.")
@click.option(
    "--clients",
    default=0,
    show_default=True,
    help="Serve an accounting office instead: this many client companies behind one "
    "accountant login (--customers/--invoices each).",
)
def sandbox_tripletex(
    port: int,
    host: str,
    customers: int,
    invoices: int,
    seed: int,
    today: object,
    consumer_token: str,
    employee_token: str,
    latency_ms: float,
    rate_limit: int,
    rate_period: float,
    clients: int,
) -> None:
    """Serve a Tripletex look-alike under /v2 with generated Norwegian data (for demos and tests)."""
    day = today.date() if today is not None else None  # type: ignore[attr-defined]
    if clients:
        specs = office_clients(clients, seed=seed, sizes=lambda _rng, _n: invoices)
        the_office = create_office(
            specs,
            today=day or date.today(),
            seed=seed,
            consumer_token=consumer_token,
            limit=rate_limit,
            period_s=rate_period,
            latency_ms=latency_ms,
        )
        Console(stderr=True).print(
            f"Tripletex office sandbox on http://{host}:{port}/v2: {clients} client companies "
            f"(ids {min(the_office.clients)}-{max(the_office.clients)}) behind one accountant "
            f"login\n  consumer token: {consumer_token}\n  employee token: {DEFAULT_ACCOUNTANT_TOKEN}"
        )
        uvicorn.run(the_office.app(), host=host, port=port, log_level="warning")
        return
    sb = create_sandbox(
        customers=customers,
        invoices=invoices,
        seed=seed,
        today=day,
        consumer_token=consumer_token,
        employee_token=employee_token,
    )
    sb.latency_s = latency_ms / 1000
    sb.rate_limit.limit, sb.rate_limit.period_s = rate_limit, rate_period
    Console(stderr=True).print(
        f"Tripletex sandbox on http://{host}:{port}/v2 with {customers} customers and {len(sb.ledger.invoices)} invoices "
        f"(date {sb.today().isoformat()})\n  consumer token: {consumer_token}\n  employee token: {employee_token}"
    )
    uvicorn.run(sb.app(), host=host, port=port, log_level="warning")


commands = [sync, tripletex]
