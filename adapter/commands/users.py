"""`kravflyt user add|grant|revoke|list`."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from adapter.commands.context import company_option, database, echo_json, json_option
from adapter.services import users


@click.group()
def user() -> None:
    """People who use the web app, and their roles per company."""


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(password)


@user.command("add")
@click.option("--email", required=True)
@click.option("--name", default="", help="Full name.")
@company_option
@click.option("--role", type=click.Choice(users.ROLES), required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (never from the command line).",
)
def add(email: str, name: str, company_id: int, role: str, password_stdin: bool) -> None:
    """Create a user with a role in a company (the password is asked for, or read from stdin)."""
    user_id = users.add_user(
        database(),
        email=email,
        name=name,
        password=_password(password_stdin),
        company_id=company_id,
        role=role,
    )
    click.echo(f"user {user_id} ({email}) added as {role} in company {company_id}")


@user.command("grant")
@click.option("--email", required=True)
@company_option
@click.option("--role", type=click.Choice(users.ROLES), required=True)
def grant(email: str, company_id: int, role: str) -> None:
    """Give an existing user a role in another company (or change it)."""
    users.grant(database(), email=email, company_id=company_id, role=role)
    click.echo(f"{email} is {role} in company {company_id}")


@user.command("revoke")
@click.option("--email", required=True)
@company_option
def revoke(email: str, company_id: int) -> None:
    """Take a user's access to a company away."""
    users.grant(database(), email=email, company_id=company_id, role=None)
    click.echo(f"{email} no longer serves company {company_id}")


@user.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Users, their companies and roles."""
    rows = users.list_users(database())
    if as_json:
        echo_json(rows)
        return
    table = Table("e-mail", "name", "company", "role")
    for r in rows:
        table.add_row(
            str(r["email"]), str(r["name"]), str(r["company"] or ""), str(r["role"] or "")
        )
    Console().print(table)


commands = [user]
