"""The command line imports a command's module only when that command runs (start-up time of
`kravflyt company list` during a bank import, issue 22): its tables of which module makes
which command must name every command and subcommand, or the command would go missing."""

from __future__ import annotations

import ast
import os
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


# What `kravflyt company list` must not import: migrations (the schema check reads the
# version table and the revision files itself), the web app, HTTP clients, letters, the
# translation catalogue's compiler (the listing has no translated text) and the company
# settings' models. Each is tens of milliseconds of CPU in a command probed again and again
# during a bank import (issue 22).
NOT_FOR_A_LISTING = (
    "alembic",
    "mako",
    "babel",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "jinja2",
    "weasyprint",
    "adapter.company_settings",
    "adapter.services",
)


def test_company_list_imports_no_migrations_web_or_letters(sqlite_url: str, tmp_path: Path) -> None:
    env = os.environ | {
        "KRAVFLYT_DATABASE_URL": sqlite_url,
        "KRAVFLYT_KEY_FILE": str(tmp_path / "kravflyt.key"),
        "KRAVFLYT_LOG_FORMAT": "json",
    }
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from adapter.cli import main; "
            "main(['company', 'list'], standalone_mode=False); "
            "print(sorted(sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    )
    imported = ast.literal_eval(shown.stdout.strip().splitlines()[-1])
    assert "id" in shown.stdout  # the table was printed
    unwanted = {
        name for name in NOT_FOR_A_LISTING for m in imported if f"{m}.".startswith(f"{name}.")
    }
    assert not unwanted, sorted(unwanted)


def test_kravflyt_loads_without_the_garbage_collector_and_runs_the_command_with_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Start-up's objects are made with the collector off (an eighth of a short command's CPU)
    and set aside; the command itself runs with it on (a long import or a worker needs it)."""
    script = (
        "import atexit, gc, sys\n"
        "walks = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and walks.append(1))\n"
        "import adapter.cli as cli, adapter.commands.company as company\n"
        "seen = {}\n"
        "settings, listing = cli.get_settings, company.list_.callback\n"
        "def loaded():\n"  # the first thing the command line does once the command is loaded
        "    seen.update(walks=len(walks), kept=gc.get_freeze_count())\n"
        "    return settings()\n"
        "def command(**kw):\n"
        "    seen.update(on=gc.isenabled())\n"
        "    return listing(**kw)\n"
        "cli.get_settings, company.list_.callback = loaded, command\n"
        "atexit.register(lambda: print(seen))\n"
        "sys.argv = ['kravflyt', 'company', 'list']\n"
        "from adapter.__main__ import main\n"
        "walks.clear()\n"
        "main()\n"
    )
    env = os.environ | {
        "KRAVFLYT_DATABASE_URL": sqlite_url,
        "KRAVFLYT_KEY_FILE": str(tmp_path / "kravflyt.key"),
        "KRAVFLYT_LOG_FORMAT": "json",
    }
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    seen = ast.literal_eval((shown.stdout.strip().splitlines() or [shown.stderr])[-1])
    assert seen == {"walks": 0, "kept": seen["kept"], "on": True}, seen
    assert seen["kept"] > 10_000, seen


def test_help_lists_every_command_as_before_without_importing_them() -> None:
    """`kravflyt --help` lists each command's one line from `cli.SHORT_HELP`: the same text
    as once every command's module is loaded (at two widths), without importing the modules
    (the web app, the letters and every connector: over a second of CPU)."""
    script = (
        "import sys; from adapter.cli import main\n"
        "def shown():\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "shown()\n"
        "print(repr(sorted(m for m in sys.modules if m.startswith('adapter.commands.'))))\n"
        "print(repr(sorted({m.split('.')[0] for m in sys.modules})))\n"
        "list(main.commands.items())\n"  # every module loaded: the commands' own help
        "shown()\n"
    )
    for columns in ("80", "200"):
        shown = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ | {"COLUMNS": columns},
        )
        lazy, rest = shown.stdout.split("\n['", 1)
        commands_line, packages_line, loaded = rest.split("\n", 2)
        assert ast.literal_eval("['" + commands_line) == ["adapter.commands.groups"]
        assert set(ast.literal_eval(packages_line)).isdisjoint(NOT_FOR_A_LISTING)
        assert lazy + "\n" == loaded and "worker " in loaded
    assert set(cli.SHORT_HELP) == set(cli.MODULE_OF)
