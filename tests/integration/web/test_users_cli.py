"""`kravflyt user`: accounts and roles from the command line, the password never in argv."""

from __future__ import annotations

import json

from adapter.services import users


def test_add_grant_revoke_and_list(cli, db, company_id) -> None:
    r = cli("company", "add", "--name", "Annen AS", "--org-number", "974760673")
    assert r.exit_code == 0
    r = cli(
        "user",
        "add",
        "--email",
        "Kari@Regnskap.no",
        "--name",
        "Kari Nordmann",
        "--company",
        str(company_id),
        "--role",
        "accountant",
        "--password-stdin",
        input="et-langt-passord\n",
    )
    assert r.exit_code == 0 and "added as accountant" in r.output
    assert (
        cli(
            "user", "grant", "--email", "kari@regnskap.no", "--company", "2", "--role", "read_only"
        ).exit_code
        == 0
    )
    listed = json.loads(cli("user", "list", "--json").output)
    assert [(u["email"], u["company_id"], u["role"]) for u in listed] == [
        ("kari@regnskap.no", company_id, "accountant"),
        ("kari@regnskap.no", 2, "read_only"),
    ]
    assert users.login(db.uow(), "kari@regnskap.no", "et-langt-passord").roles == {
        company_id: "accountant",
        2: "read_only",
    }
    assert cli("user", "revoke", "--email", "kari@regnskap.no", "--company", "2").exit_code == 0
    assert users.login(db.uow(), "kari@regnskap.no", "et-langt-passord").roles == {
        company_id: "accountant"
    }


def test_short_passwords_and_duplicates_are_refused(cli, company_id) -> None:
    args = [
        "user",
        "add",
        "--email",
        "ola@regnskap.no",
        "--company",
        str(company_id),
        "--role",
        "admin",
        "--password-stdin",
    ]
    short = cli(*args, input="kort\n")
    assert short.exit_code == 2 and "password: at least 10 characters" in short.stderr
    assert cli(*args, input="et-langt-passord\n").exit_code == 0
    again = cli(*args, input="et-langt-passord\n")
    assert again.exit_code == 2 and "a user ola@regnskap.no exists" in again.stderr
