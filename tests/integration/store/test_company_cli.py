"""The foundation's CLI on SQLite and PostgreSQL: db upgrade, company add/list/show/set."""

from __future__ import annotations

import json

from tests.conftest import Cli


def test_add_list_show_set(cli: Cli) -> None:
    assert cli("db", "upgrade").exit_code == 0
    added = cli("company", "add", "--name", "Demo AS", "--org-number", "923609016", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"id": 1, "name": "Demo AS", "org_number": "923609016"}

    listed = json.loads(cli("company", "list", "--json").stdout)
    assert [(c["id"], c["name"], c["org_number"]) for c in listed] == [(1, "Demo AS", "923609016")]

    result = cli(
        "company",
        "set",
        "--company",
        "1",
        "bank.unknown_kid_policy=auto_book",
        "bank.write_off_limit=9,50",
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("company", "show", "--company", "1", "--json").stdout)
    assert shown["settings"]["bank"]["unknown_kid_policy"] == "auto_book"
    assert shown["settings"]["bank"]["write_off_limit"] == 950
    assert shown["settings"]["schedule"]["dunning_hour"] == 2


def test_bad_input_one_line_exit_2_nothing_written(cli: Cli) -> None:
    cli("company", "add", "--name", "Demo AS", "--org-number", "923609016")

    bad_org = cli("company", "add", "--name", "Feil AS", "--org-number", "923609017")
    assert bad_org.exit_code == 2
    assert bad_org.stderr.strip().splitlines() == [
        "error: --org-number: '923609017' is not a valid organisation number "
        "(The number's checksum or check digit is invalid.)"
    ]

    bad_name = cli(
        "company", "set", "--company", "1", "bank.unknown_kid_policy=ignore", "bank.wrong=1"
    )
    assert bad_name.exit_code == 2
    assert len(bad_name.stderr.strip().splitlines()) == 1
    assert "setting 'bank.wrong': no such setting" in bad_name.stderr

    bad_amount = cli("company", "set", "--company", "1", "bank.write_off_limit=ti")
    assert bad_amount.exit_code == 2
    assert "setting bank.write_off_limit: «ti» er ikke et beløp" in bad_amount.stderr  # bokmål
    in_english = cli(
        "--language", "en", "company", "set", "--company", "1", "bank.write_off_limit=ti"
    )
    assert "setting bank.write_off_limit: amount: 'ti' is not an amount" in in_english.stderr

    listed = json.loads(cli("company", "list", "--json").stdout)
    assert [c["org_number"] for c in listed] == ["923609016"]
    shown = json.loads(cli("company", "show", "--company", "1", "--json").stdout)
    assert (
        shown["settings"]["bank"]["unknown_kid_policy"] == "voucher_inbox"
    )  # first assignment not applied


def test_unknown_company(cli: Cli) -> None:
    result = cli("company", "show", "--company", "42")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: company 42 does not exist"


def test_every_command_has_help(cli: Cli) -> None:
    import click

    from adapter.cli import main

    def walk(group: click.Group, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                found += walk(cmd, [*path, name])
            else:
                found.append([*path, name])
        return found

    for path in walk(main, []):
        result = cli(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.stdout
