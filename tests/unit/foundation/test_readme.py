"""The README stays true: every setting and every command is documented there."""

from __future__ import annotations

from pathlib import Path

import click

from adapter import company_settings
from adapter.cli import main
from adapter.settings import AppSettings

README = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:400]
    assert "make demo" in head and "make test" in head


def test_every_environment_setting_is_documented() -> None:
    missing = [
        f"KRAVFLYT_{name.upper()}"
        for name in AppSettings.model_fields
        if f"KRAVFLYT_{name.upper()}" not in README
    ]
    assert missing == []


def test_every_company_setting_is_documented() -> None:
    missing = [name for name in company_settings.setting_names() if f"`{name}`" not in README]
    assert missing == []


def _leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[str]:
    found: list[str] = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            found += _leaf_commands(cmd, (*path, name))
        else:
            found.append(" ".join(("kravflyt", *path, name)))
    return found


def test_every_command_is_documented() -> None:
    missing = [cmd for cmd in _leaf_commands(main) if cmd not in README]
    assert missing == []
