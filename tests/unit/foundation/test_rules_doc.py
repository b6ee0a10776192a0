"""docs/rules.md and the code stay in step: every rule id and house tag the code cites in a
decision's reasons is listed in the page, and the README links to it (issue 23)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "docs" / "rules.md"
# A rule id (A1 ... H4, C3a) or a range of them (A1-A6, D1-D3).
_ID = re.compile(r"\b([A-H])(\d{1,2}[a-z]?)(?:-\1?(\d{1,2}))?\b")
_TAG = re.compile(r"^[A-Z]{4,}$")  # LADDER, HOLD ...: the whole rule is a house tag
_LAW = re.compile(r"^(INKF|INKL|FRL|foreldelsesloven)\b")


def _rule_strings(tree: ast.AST) -> Iterator[str]:
    """The rule texts a module cites: the first argument of Reason(...) and the helpers that
    make one, "rule" values of reason dicts, *RULE constants, and law references in dicts."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
            if name in ("Reason", "reason", "said", "_nothing", "_refuse") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield first.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "rule"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and not _LAW.match(value.value)  # yielded below, with every law reference
                ):
                    yield value.value
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _LAW.match(node.value)
        ):
            yield node.value  # a law reference anywhere: a rule picked from a table or a default
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            value = node.value.value
            if any(n.endswith("RULE") for n in names) and isinstance(value, str):
                if not _LAW.match(value):  # else yielded as a law reference
                    yield value


def cited() -> dict[str, set[str]]:
    """Every rule id and house tag cited in policies/ and adapter/, with the files citing it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "policies").rglob("*.py")) + sorted(
        (ROOT / "adapter").rglob("*.py")
    ):
        for text in _rule_strings(ast.parse(path.read_text(encoding="utf-8"))):
            for i in ids_in(text):
                found.setdefault(i, set()).add(str(path.relative_to(ROOT)))
    return found


def ids_in(text: str) -> set[str]:
    """The rule ids and house tag in one rule text, ranges written out."""
    ids = set(_TAG.findall(text))
    for letter, first, last in _ID.findall(text):
        if last and first.isdigit():
            ids |= {f"{letter}{n}" for n in range(int(first), int(last) + 1)}
        else:
            ids.add(f"{letter}{first}")
    return ids


def documented() -> set[str]:
    """The ids in the first column of docs/rules.md's tables."""
    ids = set()
    for line in RULES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 2 and re.fullmatch(r"[A-H]\d{1,2}[a-z]?|[A-Z]{4,}", cells[1]):
            ids.add(cells[1])
    return ids


def test_every_rule_the_code_cites_is_in_docs_rules() -> None:
    found = cited()
    missing = {i: sorted(files) for i, files in found.items() if i not in documented()}
    assert missing == {}
    # The scan finds what it should: the fee, limitation, contact and house rules.
    assert {"C3", "C4", "E2", "E3", "H1", "H4", "D7", "LADDER", "HOLD"} <= set(found)


def test_the_page_has_every_reference_rule_and_is_linked_from_the_readme() -> None:
    expected = (
        {f"A{n}" for n in range(1, 9)}
        | {f"B{n}" for n in range(1, 4)}
        | {f"C{n}" for n in range(1, 11)}
        | {"C3a", "C3b"}
        | {f"D{n}" for n in range(1, 10)}
        | {f"E{n}" for n in range(1, 4)}
        | {f"F{n}" for n in range(1, 4)}
        | {f"G{n}" for n in range(1, 5)}
        | {f"H{n}" for n in range(1, 5)}
    )
    assert expected <= documented()
    assert "(docs/rules.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_scan_reads_ids_ranges_and_tags_as_the_code_writes_them() -> None:
    tree = ast.parse(
        'Reason("INKF § 1-3, H9", "x"); _nothing("NEWTAG", "y"); '
        'x = {"rule": "FRL §§ 2-3, A1-A3"}; RULE = "foreldelsesloven § 2, H1"; '
        'y = {"a": "b"}.get(stage, "INKF § 1-2, C3")'
    )
    texts = set(_rule_strings(tree))
    assert texts == {
        "FRL §§ 2-3, A1-A3",
        "INKF § 1-3, H9",
        "INKF § 1-2, C3",
        "NEWTAG",
        "foreldelsesloven § 2, H1",
    }
    assert set().union(*(ids_in(t) for t in texts)) == {
        "A1", "A2", "A3", "C3", "H1", "H9", "NEWTAG"
    }  # fmt: skip
    assert "H9" not in documented()  # so a code citing it would fail the first test
