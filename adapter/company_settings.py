"""Per-company settings: sections of named, typed, validated fields stored as JSON rows.

`kravflyt company set --company 1 bank.unknown_kid_policy=auto_book` changes one field
(`dunning.reminder_1.fee=38` one field of a nested group); the whole section is validated
before anything is written, and a wrong name or value is refused with a message naming the
setting. Amounts are given in kroner ("10", "10,00") and stored as integer øre.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from adapter.domain import Money
from adapter.errors import InputError
from adapter.i18n.catalogue import N_, Message
from adapter.settings_dunning import DunningSettings
from adapter.settings_kravia import KraviaSettings
from adapter.settings_sections import (
    BankSettings,
    LetterSettings,
    ScheduleSettings,
    TripletexSettings,
)
from adapter.settings_types import MONEY_VALIDATOR, Section
from policies.errors import SettingError
from policies.rates import Rates

SECTIONS: dict[str, type[Section]] = {
    "bank": BankSettings,
    "schedule": ScheduleSettings,
    "tripletex": TripletexSettings,
    "dunning": DunningSettings,
    "letters": LetterSettings,
    "kravia": KraviaSettings,
}
__all__ = [
    "SECTIONS",
    "BankSettings",
    "DunningSettings",
    "KraviaSettings",
    "ScheduleSettings",
    "Section",
    "TripletexSettings",
]


def _leaves(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _leaves(annotation, f"{prefix}.{name}")
        else:
            yield f"{prefix}.{name}", info


def _fields() -> dict[str, FieldInfo]:
    return {
        name: info for section, model in SECTIONS.items() for name, info in _leaves(model, section)
    }


def field_infos() -> dict[str, FieldInfo]:
    """Every setting's pydantic field (type, limits, description), by full name."""
    return _fields()


def _get(values: dict[str, Any], path: list[str]) -> Any:
    for part in path:
        values = values[part]
    return values


def is_money(name: str) -> bool:
    """Whether a setting is an amount (stored in øre, shown and typed in kroner)."""
    info = _fields()[name]
    return any(getattr(m, "func", None) is MONEY_VALIDATOR for m in info.metadata)


def display(name: str, value: Any) -> str:
    """A setting's value as a person reads it: amounts in kroner, lists comma-separated."""
    if value is not None and is_money(name):
        return f"{Money(int(value))} kr"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def flatten(section: str, values: dict[str, Any]) -> list[tuple[str, Any]]:
    """A section's values as (full setting name, value) pairs."""
    return [
        (name, _get(values, name.split(".")[1:])) for name, _ in _leaves(SECTIONS[section], section)
    ]


def setting_names() -> list[str]:
    """Every settable name, e.g. `bank.write_off_limit`, `dunning.reminder_1.fee`."""
    return list(_fields())


def describe() -> list[tuple[str, str, str]]:
    """(name, default, description) of every setting, for `--help` and the README."""
    rows = []
    for section, model in SECTIONS.items():
        defaults = model().model_dump(mode="json")
        for name, info in _leaves(model, section):
            rows.append(
                (name, display(name, _get(defaults, name.split(".")[1:])), info.description or "")
            )
    return rows


def load(section: str, stored: dict[str, Any] | None) -> Section:
    """A section's effective values: the stored ones over the defaults."""
    return SECTIONS[section].model_validate(stored or {})


S = TypeVar("S", bound=Section)


def effective(model: type[S], stored: dict[str, Any] | None) -> S:
    """A section's effective values, typed as its model."""
    return model.model_validate(stored or {})


def _parse_name(name: str) -> list[str]:
    if name in _fields():
        return name.split(".")
    close = difflib.get_close_matches(name, setting_names(), n=1)
    hint = (
        f"; did you mean {close[0]}?" if close else "; `kravflyt company settings` lists them all"
    )
    raise InputError(f"setting {name!r}", f"no such setting{hint}")


def _parse_value(text: str, info: FieldInfo) -> Any:
    # A text setting takes the text as written: empty, or beginning with a {placeholder}.
    if info.annotation is str:
        return text
    # Lists and objects may be given as JSON; everything else stays text for pydantic.
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError("value", f"{text!r} is not valid JSON ({exc.msg})") from exc
    return None if text == "" else text


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        # A JSON object where a single value belongs replaces it (and is then refused by name).
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if nested else value
    return out


# pydantic's own errors in words a person reads (the English msg is kept for logs and the API).
_PYDANTIC_SAID = {
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "bool_parsing": N_("must be yes or no"),
    "decimal_parsing": N_("must be a number, e.g. 12,5"),
    "date_from_datetime_parsing": N_("must be a date, e.g. 2027-01-01"),
    "date_parsing": N_("must be a date, e.g. 2027-01-01"),
    "literal_error": N_("must be one of the choices"),
    "string_too_long": N_("is too long"),
}


def _said(error: Any) -> Message | None:
    """The person's words for a pydantic error, with its limit when it has one."""
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("error"), InputError):
        return ctx["error"].said
    kind = error["type"]
    if kind in ("greater_than_equal", "greater_than"):
        return N_("must be at least %(limit)s", limit=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return N_("must be at most %(limit)s", limit=ctx.get("le", ctx.get("lt")))
    return _PYDANTIC_SAID.get(kind)


def apply_changes(
    current: dict[str, dict[str, Any]],
    assignments: list[str],
    *,
    today: date | None = None,
    rates: Rates | None = None,
) -> dict[str, Section]:
    """Validate `name=value` assignments against the stored sections (legal limits as on `today`,
    with the dated `rates` in force: the packaged tables when None).

    Returns the changed sections, fully validated; raises `InputError` naming the first
    wrong setting. Nothing is written here.
    """
    changes: dict[str, dict[str, Any]] = {}
    first: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise InputError(f"setting {assignment!r}", "expected name=value")
        path = _parse_name(name.strip())
        target = changes.setdefault(path[0], {})
        for part in path[1:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = _parse_value(value.strip(), _fields()[".".join(path)])
        first.setdefault(path[0], name.strip())
    result: dict[str, Section] = {}
    for section, fields in changes.items():
        merged = _merge(load(section, current.get(section)).model_dump(mode="json"), fields)
        try:
            result[section] = SECTIONS[section].model_validate(
                merged, context={"today": today, "rates": rates}
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = (
                ".".join(str(p) for p in (section, *error["loc"]))
                if error["loc"]
                else first[section]
            )
            message = error["msg"].removeprefix("Value error, ")
            said = _said(error)
            original = (error.get("ctx") or {}).get("error")
            if isinstance(original, SettingError):  # a legal limit, named by the ladder's field
                where, message = f"{section}.{original.field.replace('_ore', '')}", original.message
                said = Message(original.msgid, original.params) if original.msgid else None
            raise InputError(f"setting {where}", message, said=said) from exc
    return result
