"""Tripletex's published OpenAPI description (version 2.72.00, `SOURCE.md` beside it), read as
the sandbox and the contract tests need it: the models' fields, which of them are related
objects, and the record model each operation answers with.

A related object is a property that refers to a schema with an `id`: without `fields` asking
for its own fields Tripletex sends it as an `{id, url}` stub (SPEC-INFO, "fields"). A property
referring to a schema without an `id` (CompanyBankAccountPresentation) is a plain value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SPEC_FILE = Path(__file__).with_name("tripletex-openapi-2.72.00.json")
VERSION = "2.72.00"


@dataclass(frozen=True)
class Field:
    """One property of a model: its JSON schema, and the model it relates to, if any."""

    name: str
    schema: dict[str, Any]
    target: str | None = None  # the schema named by a $ref (directly or as list items)
    is_list: bool = False
    read_only: bool = False

    @property
    def related(self) -> bool:
        """Whether the field holds related objects (stubs unless expanded)."""
        return self.target is not None and "id" in model(self.target)


@cache
def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    return dict(json.loads(SPEC_FILE.read_text(encoding="utf-8")))


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


@cache
def model(name: str) -> dict[str, Field]:
    """The fields of schema `name` by property name."""
    schema = document()["components"]["schemas"][name]
    out = {}
    for prop, sub in (schema.get("properties") or {}).items():
        items = sub.get("items") if sub.get("type") == "array" else None
        target = _ref_name(items) if items else _ref_name(sub)
        out[prop] = Field(
            prop, sub, target, is_list=items is not None, read_only=bool(sub.get("readOnly"))
        )
    return out


def operation(path: str, method: str) -> dict[str, Any]:
    """The operation object of `method` on the path template `path` (as in the spec)."""
    return dict(document()["paths"][path][method.lower()])


@cache
def record_model(path: str, method: str) -> str | None:
    """The model of the records an operation answers with: `X` for `ListResponseX` (the list's
    values) and `ResponseWrapperX` (the value); None when the answer has no object model."""
    responses = operation(path, method)["responses"]
    answer = responses.get("200") or responses.get("201") or responses.get("default") or {}
    schema = (answer.get("content") or {}).get("application/json", {}).get("schema") or {}
    wrapper = _ref_name(schema)
    if wrapper is None:
        return None
    inner = model(wrapper).get("values") or model(wrapper).get("value")
    if inner is None or inner.target is None:
        return None
    return inner.target


def unknown_fields(tree: dict[str, Any] | None, name: str, prefix: str = "") -> list[str]:
    """The names in a `fields` selection tree (see the sandbox's `fields.parse_fields`) that
    model `name` does not have, dotted from the top (`customer.nmae`)."""
    if tree is None:
        return []
    fields = model(name)
    bad = []
    for key, sub in tree.items():
        if key == "*":
            continue
        field = fields.get(key)
        if field is None:
            bad.append(prefix + key)
        elif sub is not None and field.target is not None:
            bad += unknown_fields(sub, field.target, f"{prefix}{key}.")
        elif sub is not None and "*" not in sub:
            bad.append(f"{prefix}{key}(...)")  # a plain value has no fields of its own
    return bad
