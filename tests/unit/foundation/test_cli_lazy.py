"""The command line imports a command's module only when that command runs (start-up time of
`kravflyt company list` during a bank import, issue 22): its tables of which module makes
which command must name every command and subcommand, or the command would go missing."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

from adapter import cli

COMMANDS = Path(cli.__file__).with_name("commands")


def test_every_top_level_command_names_its_module() -> None:
    made_by = {
        command.name: module
        for module in cli.COMMAND_MODULES
        for command in import_module(f"adapter.commands.{module}").commands
    }
    assert made_by == cli.MODULE_OF


def test_every_subcommand_of_a_shared_group_names_its_module() -> None:
    added = re.compile(r'@groups\.(\w+)\.(?:command|group)\("([\w-]+)"\)')
    found: dict[str, dict[str, str]] = {}
    for path in sorted(COMMANDS.glob("*.py")):
        for group, name in added.findall(path.read_text(encoding="utf-8")):
            found.setdefault(group, {})[name] = path.stem
    assert found == cli.SUBCOMMAND_MODULE_OF


def test_a_command_imports_only_its_own_modules() -> None:
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from adapter.cli import main; "
            "main(['company', 'connect', '--help'], standalone_mode=False); "
            "print(sorted(m for m in sys.modules if m.startswith('adapter.commands.')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "smtp" in shown.stdout and "tripletex" in shown.stdout  # every connect subcommand
    imported = shown.stdout.strip().splitlines()[-1]
    for heavy in ("demo", "runtime", "dunning", "work"):
        assert f"adapter.commands.{heavy}'" not in imported
