"""docs/architecture.md stays true: every module it names exists, and the README links to it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_module_path_the_map_names_exists() -> None:
    named = set(re.findall(r"`((?:adapter|connectors|policies)/[\w/]*?(?:\.py|/))`", DOC))
    assert len(named) > 40
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == []


def test_every_dotted_module_the_map_names_imports_from_an_existing_file() -> None:
    dotted = set(re.findall(r"`((?:adapter|connectors|policies)(?:\.\w+)+)`", DOC))
    missing = []
    for name in dotted:
        parts = name.split(".")
        # `policies.facts.ClaimFacts`: the longest prefix that is a file or package must exist.
        if not any(
            (ROOT / Path(*parts[:n])).with_suffix(".py").exists()
            or (ROOT / Path(*parts[:n])).is_dir()
            for n in range(len(parts), 1, -1)
        ):
            missing.append(name)
    assert missing == []


def test_the_readme_links_to_the_map() -> None:
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
