"""The layers as import contracts (pyproject.toml [tool.importlinter], run by `make lint`).

Each test copies the code into a temporary folder, adds one import that breaks a layer, and
checks that `lint-imports` with the project's own contracts refuses it and names it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def run_contracts(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the packages in `tree`, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the three packages and pyproject.toml."""
    for package in ("adapter", "connectors", "policies"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_as_it_is_keeps_every_contract(tree: Path) -> None:
    result = run_contracts(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert f"Contracts: {len(contracts['contracts'])} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract", "line"),
    [
        (
            "policies/_layer_probe.py",
            "from adapter.settings import AppSettings\n",
            "connectors and policies never import the application (adapter)",
            "policies._layer_probe -> adapter.settings (l.1)",
        ),
        (
            "connectors/_layer_probe.py",
            "import adapter.store.database\n",
            "connectors and policies never import the application (adapter)",
            "connectors._layer_probe -> adapter.store.database (l.1)",
        ),
        (
            "policies/_layer_probe.py",
            "import httpx\n",
            "policies do no I/O",
            "policies._layer_probe -> httpx (l.1)",
        ),
        (
            "policies/_layer_probe.py",
            "\n\nfrom pathlib import Path\n",
            "policies do no I/O",
            "policies._layer_probe -> pathlib (l.3)",
        ),
        (
            "connectors/_layer_probe.py",
            "from sqlalchemy import select\n",
            "connectors hold no database code",
            "connectors._layer_probe -> sqlalchemy (l.1)",
        ),
        (
            "adapter/services/_layer_probe.py",
            "from adapter.web import app\n",
            "services never import the entry points above them",
            "adapter.services._layer_probe -> adapter.web.app (l.1)",
        ),
        (
            "adapter/web/_layer_probe.py",
            "from adapter.store.tables import claims\n",
            "see no table definitions",
            "adapter.web._layer_probe -> adapter.store.tables (l.1)",
        ),
        (
            "adapter/services/_layer_probe.py",
            "\nfrom sqlalchemy import select\n",
            "only adapter/store runs SQL",
            "adapter.services._layer_probe -> sqlalchemy (l.2)",
        ),
        (
            "adapter/services/reconcile.py",
            (ROOT / "adapter/services/reconcile.py").read_text(encoding="utf-8")
            + "\nfrom adapter.store.tables import invoices  # noqa\n",
            "only adapter/store runs SQL",
            "adapter.services.reconcile -> adapter.store.tables",
        ),
    ],
)
def test_an_import_across_a_layer_is_refused_by_name(
    tree: Path, module: str, source: str, contract: str, line: str
) -> None:
    (tree / module).write_text(source)
    result = run_contracts(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken
    assert line in broken
