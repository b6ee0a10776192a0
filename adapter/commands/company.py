"""`kravflyt company`: add companies, list them, show and change their settings."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

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

# The settings' models and the companies service are imported by the commands that use them:
# `company list`, asked again and again during a bank import (issue 22), needs neither.


@click.group()
def company() -> None:
    """Companies (creditors) and their settings."""


@company.command("add")
@click.option("--name", required=True, help="The company's name, e.g. 'Demo AS'.")
@click.option("--org-number", required=True, help="Norwegian organisation number (9 digits).")
@click.option("--by", help="Who is acting (default: the OS user).")
@json_option
def add(name: str, org_number: str, by: str | None, as_json: bool) -> None:
    """Add a company; its organisation number is checked (MOD11)."""
    from adapter.services import companies as service

    db = database()
    new = service.add_company(db.uow(), name=name, org_no=org_number, actor=actor(by))
    if as_json:
        echo_json({"id": new.id, "name": new.name, "org_number": new.org_number})
    else:
        click.echo(f"company {new.id} added: {new.name} ({new.org_number})")


@company.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List every company."""
    db = database()
    with db.uow(read_only=True) as uow:
        rows = uow.companies.list()
    if as_json:
        echo_json(
            [
                {"id": c.id, "name": c.name, "org_number": c.org_number, "created_at": c.created_at}
                for c in rows
            ]
        )
        return
    table = Table("id", "name", "org number", "added")
    for c in rows:
        table.add_row(
            str(c.id), c.name, c.org_number, c.created_at.date().isoformat() if c.created_at else ""
        )
    Console().print(table)


@company.command()
@company_option
@json_option
def show(company_id: int, as_json: bool) -> None:
    """Show a company with every setting (stored values over the defaults)."""
    from adapter import company_settings
    from adapter.services import companies as service

    view = service.show_company(database().uow(company_id, read_only=True))
    data = {
        "id": view.company.id,
        "name": view.company.name,
        "org_number": view.company.org_number,
        "connections": view.connections,
        "settings": view.settings,
    }
    if as_json:
        echo_json(data)
        return
    click.echo(f"{view.company.name} ({view.company.org_number}), id {view.company.id}")
    click.echo(f"connections: {', '.join(view.connections) or 'none'}")
    table = Table("setting", "value")
    for section, values in view.settings.items():
        for name, value in company_settings.flatten(section, values):
            table.add_row(name, company_settings.display(name, value))
    Console().print(table)


@company.command("set")
@company_option
@click.argument("assignments", nargs=-1, metavar="NAME=VALUE...")
@click.option("--by", help="Who is acting (default: the OS user).")
@click.option(
    "--only-new-customers",
    is_flag=True,
    help="A dunning change applies to new customers only; existing ones keep their ladder.",
)
def set_(
    company_id: int, assignments: tuple[str, ...], by: str | None, only_new_customers: bool
) -> None:
    """Change settings, e.g. `bank.unknown_kid_policy=auto_book bank.write_off_limit=10,00`.

    All assignments are checked first; if one is wrong, nothing is written.
    See `kravflyt company settings` for every name, its default and meaning.
    """
    from adapter.services import companies as service

    changed = service.set_settings(
        database().uow(company_id),
        list(assignments),
        actor=actor(by),
        keep_for_existing=only_new_customers,
    )
    for section in changed:
        click.echo(f"{section} saved")


@company.command("settings")
def settings_help() -> None:
    """List every company setting with its default and what it does."""
    from adapter import company_settings

    table = Table("setting", "default", "meaning")
    for name, default, description in company_settings.describe():
        table.add_row(name, default, description)
    Console(width=160).print(table)


@company.command("import-clients")
@tripletex_url_option
@token_option(
    "--consumer-token", "KRAVFLYT_TRIPLETEX_CONSUMER_TOKEN", "The integration's consumer token"
)
@token_option(
    "--employee-token", "KRAVFLYT_TRIPLETEX_EMPLOYEE_TOKEN", "The accountant's employee token"
)
@click.option("--by", help="Who is acting (default: the OS user).")
@json_option
def import_clients(
    base_url: str,
    consumer_source: str | None,
    employee_source: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Add and connect every client company an accountant's Tripletex login reaches.

    Tokens are read from stdin (consumer token first, then employee token, one a line) or the
    environment. Running it again adds nothing twice: clients already connected are skipped."""
    from adapter.flows import office  # the Tripletex client: not for every company command

    consumer = read_token(consumer_source, "--consumer-token", "KRAVFLYT_TRIPLETEX_CONSUMER_TOKEN")
    employee = read_token(employee_source, "--employee-token", "KRAVFLYT_TRIPLETEX_EMPLOYEE_TOKEN")
    outcomes = office.import_clients(
        database(),
        base_url=base_url,
        consumer_token=consumer,
        employee_token=employee,
        actor=actor(by),
    )
    if as_json:
        echo_json([o.as_json() for o in outcomes])
        return
    table = Table("client", "name", "org number", "company", "done")
    for o in outcomes:
        table.add_row(
            str(o.client_id),
            o.name,
            o.org_number or "",
            str(o.company_id or ""),
            f"{o.action}: {o.reason}",
        )
    Console(width=160).print(table)
    counts = {a: sum(o.action == a for o in outcomes) for a in (office.ADDED, office.CONNECTED)}
    click.echo(
        f"{len(outcomes)} client companies: {counts[office.ADDED]} added, "
        f"{counts[office.CONNECTED]} connected, "
        f"{len(outcomes) - sum(counts.values())} skipped"
    )


company.add_command(groups.connect)
commands = [company]
