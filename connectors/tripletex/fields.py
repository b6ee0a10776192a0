"""Tripletex's `fields` parameter (SPEC-INFO "fields"): `id,customer(id,name),orders(*)`; `*` means
every field of its level."""

from __future__ import annotations

from typing import Any

Tree = dict[str, "Tree | None"]


def parse_fields(spec: str | None) -> Tree | None:
    """The selection tree of a `fields` value (None selects everything)."""
    if not spec or spec.strip() == "*":
        return None
    tree: Tree = {}
    pos = 0

    def parse_level(end: str | None) -> Tree:
        nonlocal pos
        level: Tree = {}
        name = ""
        while pos < len(spec):
            ch = spec[pos]
            pos += 1
            if ch == "(":
                level[name.strip()] = parse_level(")")
                name = ""
            elif ch == ",":
                if name.strip():
                    level[name.strip()] = None
                name = ""
            elif ch == ")" and end == ")":
                if name.strip():
                    level[name.strip()] = None
                return level
            else:
                name += ch
        if end == ")":
            raise ValueError(f"unbalanced parentheses in fields {spec!r}")
        if name.strip():
            level[name.strip()] = None
        return level

    tree = parse_level(None)
    return tree


def select(obj: Any, tree: Tree | None) -> Any:
    """`obj` with only the selected fields (lists are selected item by item)."""
    if tree is None or obj is None:
        return obj
    if isinstance(obj, list):
        return [select(item, tree) for item in obj]
    if not isinstance(obj, dict):
        return obj
    if "*" in tree:
        out = dict(obj)
        for key, sub in tree.items():
            if key != "*" and key in obj:
                out[key] = select(obj[key], sub)
        return out
    return {key: select(obj[key], sub) for key, sub in tree.items() if key in obj}
