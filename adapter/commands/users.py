"""`kravflyt user add|grant|revoke|list|passwd|disable|enable|unlock` and `kravflyt key`."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from adapter.commands.context import (
    actor,
    company_option,
    database,
    echo_json,
    json_option,
    read_token,
    token_option,
)
from adapter.services import installation, users
from adapter.store import keys
from adapter.store.events import Event


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
        database().uow(),
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
    users.grant(database().uow(), email=email, company_id=company_id, role=role)
    click.echo(f"{email} is {role} in company {company_id}")


@user.command("revoke")
@click.option("--email", required=True)
@company_option
def revoke(email: str, company_id: int) -> None:
    """Take a user's access to a company away."""
    users.grant(database().uow(), email=email, company_id=company_id, role=None)
    click.echo(f"{email} no longer serves company {company_id}")


@user.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Users, their companies and roles."""
    rows = users.list_users(database().uow())
    if as_json:
        echo_json(rows)
        return
    table = Table("e-mail", "name", "company", "role")
    for r in rows:
        table.add_row(
            str(r["email"]), str(r["name"]), str(r["company"] or ""), str(r["role"] or "")
        )
    Console().print(table)


email_option = click.option("--email", required=True)


@user.command("passwd")
@email_option
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from standard input (never from the command line).",
)
def passwd(email: str, password_stdin: bool) -> None:
    """Set a user's password; every session of the user ends and a lock is lifted."""
    users.change_password(database().uow(), email, _password(password_stdin))
    click.echo(f"{email}: password changed; every session ended")


@user.command("disable")
@email_option
def disable(email: str) -> None:
    """Stop a user from signing in; every session of the user ends at once."""
    users.set_disabled(database().uow(), email, True)
    click.echo(f"{email} disabled; every session ended")


@user.command("enable")
@email_option
def enable(email: str) -> None:
    """Let a disabled user sign in again."""
    users.set_disabled(database().uow(), email, False)
    click.echo(f"{email} enabled")


@user.command("unlock")
@email_option
def unlock(email: str) -> None:
    """Lift the lock that wrong passwords put on an account, at once."""
    users.unlock(database().uow(), email)
    click.echo(f"{email} unlocked")


@click.group()
def key() -> None:
    """The installation's keys: the session-signing key and the credential key."""


@key.command("rotate-session")
def rotate_session() -> None:
    """A new key signs web sessions; every web session ends (the credential key is untouched)."""
    installation.rotate_session_key(database().uow(), actor=actor())
    click.echo("a new session-signing key is in use: every web session has ended")


@key.command("rotate-credentials")
@token_option("--new-key", "KRAVFLYT_NEW_SECRET_KEY", "The new credential key (Fernet)")
def rotate_credentials(new_key_source: str | None) -> None:
    """Seal every stored credential with a new key (the session key is untouched). Stop the web
    app and workers first; then give every host the new key and start them again."""
    db = database()
    new = read_token(new_key_source, "--new-key", "KRAVFLYT_NEW_SECRET_KEY").encode()
    count, fingerprint = keys.rotate(db.engine, db.box.key, new, db.clock)
    with db.uow() as uow:
        uow.record(
            Event(
                actor=actor(),
                action="key.rotate_credentials",
                message=f"{count} stored credentials sealed with a new key ({fingerprint})",
            )
        )
        uow.commit()
    click.echo(
        f"{count} stored credential{'s' if count != 1 else ''} sealed with the new key "
        f"(fingerprint {fingerprint}): put it on every host (KRAVFLYT_SECRET_KEY or "
        "KRAVFLYT_KEY_FILE) and start the processes again; a process with the old key now "
        "refuses to start"
    )


commands = [user, key]
