"""Per-company settings: sections of named, typed, validated fields stored as JSON rows.

`kravflyt company set --company 1 bank.unknown_kid_policy=auto_book` changes one field;
the whole section is validated before anything is written, and a wrong name or value is
refused with a message naming the setting. Amounts are given in kroner ("10", "10,00")
and stored as integer øre.
"""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from adapter.domain import Money
from adapter.errors import InputError


def _ore(value: Any) -> Any:
    # Text is kroner as a person writes it; an int is øre as stored.
    if isinstance(value, str):
        return Money.parse(value, where="amount").ore
    if isinstance(value, float):
        raise ValueError("amounts are never floats: write them as text, e.g. '10.00'")
    return value


def _csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Ore = Annotated[int, BeforeValidator(_ore)]


class Section(BaseModel):
    """A settings section: unknown fields refused, values checked on every write."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class BankSettings(Section):
    """Incoming payments: matching, booking and allocation."""

    unknown_kid_policy: Literal["voucher_inbox", "auto_book", "ignore"] = Field(
        "voucher_inbox",
        description="What happens to a payment no invoice matches: voucher_inbox (wait in the "
        "worklist for a person), auto_book (book on the payer's customer, or on the fictitious "
        "customer 'Betaling med ukjent KID'), ignore (list it in the import report only).",
    )
    allocation_order: Annotated[
        tuple[Literal["fees", "interest", "principal"], ...], BeforeValidator(_csv)
    ] = Field(
        ("fees", "interest", "principal"),
        description="Order in which a payment settles a claim's parts (comma-separated).",
    )
    write_off_limit: Ore = Field(
        1000,
        description="A residual below this (NOK, at most 100) is written off and logged; "
        "Tripletex's own limit is NOK 10.",
    )
    payment_type_id: int | None = Field(
        None, description="Tripletex payment type used when registering payments (:payment)."
    )

    @field_validator("write_off_limit")
    @classmethod
    def _write_off_in_range(cls, value: int) -> int:
        if not 0 <= value <= 10000:
            raise ValueError(f"must be between 0 and 100,00 kr, got {Money(value)} kr")
        return value

    @field_validator("allocation_order")
    @classmethod
    def _each_part_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if sorted(value) != ["fees", "interest", "principal"]:
            raise ValueError("must list fees, interest and principal once each")
        return value


class ScheduleSettings(Section):
    """When the scheduler runs this company's work (times in Europe/Oslo)."""

    enabled: bool = Field(True, description="Run this company's schedules at all.")
    sync_every_minutes: int = Field(15, ge=1, le=1440, description="Tripletex sync interval.")
    bank_pickup_every_minutes: int = Field(
        5, ge=1, le=1440, description="How often the incoming bank folder is read."
    )
    dunning_hour: int = Field(2, ge=0, le=23, description="Hour of the nightly dunning run.")
    kravia_poll_every_minutes: int = Field(
        60, ge=1, le=1440, description="Kravia status poll interval."
    )


class TripletexSettings(Section):
    """How the company's Tripletex ledger is read and written."""

    history_days: int = Field(
        1100,
        ge=30,
        le=3700,
        description="How far back (days of invoice date) a full sync reads invoices.",
    )
    rescan_every_days: int = Field(
        1,
        ge=1,
        le=30,
        description="Every N days a sync rescans every invoice window (cheap: unchanged pages "
        "answer 304) to catch what the incremental pass cannot see.",
    )
    reminder_dispatch: Literal["API", "EMAIL", "OWN_PRINTER", "NETS_PRINT"] = Field(
        "API",
        description="How Tripletex sends reminders created through it (:createReminder dispatchTypes): API "
        "creates them without sending.",
    )


SECTIONS: dict[str, type[Section]] = {
    "bank": BankSettings,
    "schedule": ScheduleSettings,
    "tripletex": TripletexSettings,
}


def is_money(section: str, field: str) -> bool:
    """Whether a setting is an amount (stored in øre, shown and typed in kroner)."""
    info = SECTIONS[section].model_fields[field]
    return any(getattr(m, "func", None) is _ore for m in info.metadata)


def display(section: str, field: str, value: Any) -> str:
    """A setting's value as a person reads it: amounts in kroner, lists comma-separated."""
    if value is not None and is_money(section, field):
        return f"{Money(int(value))} kr"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def setting_names() -> list[str]:
    """Every settable name as `section.field`."""
    return [f"{name}.{field}" for name, model in SECTIONS.items() for field in model.model_fields]


def describe() -> list[tuple[str, str, str]]:
    """(name, default, description) of every setting, for `--help` and the README."""
    rows = []
    for name, model in SECTIONS.items():
        defaults = model().model_dump(mode="json")
        for field, info in model.model_fields.items():
            rows.append(
                (f"{name}.{field}", display(name, field, defaults[field]), info.description or "")
            )
    return rows


def load(section: str, stored: dict[str, Any] | None) -> Section:
    """A section's effective values: the stored ones over the defaults."""
    return SECTIONS[section].model_validate(stored or {})


S = TypeVar("S", bound=Section)


def effective(model: type[S], stored: dict[str, Any] | None) -> S:
    """A section's effective values, typed as its model."""
    return model.model_validate(stored or {})


def _parse_name(name: str) -> tuple[str, str]:
    section, _, field = name.partition(".")
    if section in SECTIONS and field in SECTIONS[section].model_fields:
        return section, field
    close = difflib.get_close_matches(name, setting_names(), n=1)
    hint = (
        f"; did you mean {close[0]}?"
        if close
        else f"; known settings: {', '.join(setting_names())}"
    )
    raise InputError(f"setting {name!r}", f"no such setting{hint}")


def _parse_value(text: str) -> Any:
    # Lists and objects may be given as JSON; everything else stays text for pydantic.
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError("value", f"{text!r} is not valid JSON ({exc.msg})") from exc
    return text


def apply_changes(current: dict[str, dict[str, Any]], assignments: list[str]) -> dict[str, Section]:
    """Validate `name=value` assignments against the stored sections.

    Returns the changed sections, fully validated; raises `InputError` naming the first
    wrong setting. Nothing is written here.
    """
    changes: dict[str, dict[str, Any]] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise InputError(f"setting {assignment!r}", "expected name=value")
        section, field = _parse_name(name.strip())
        changes.setdefault(section, {})[field] = _parse_value(value.strip())
    result: dict[str, Section] = {}
    for section, fields in changes.items():
        merged = {**(current.get(section) or {}), **fields}
        try:
            result[section] = SECTIONS[section].model_validate(merged)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in (section, *error["loc"]))
            if not error["loc"]:
                where = f"{section}.{next(iter(fields))}"
            raise InputError(
                f"setting {where}", error["msg"].removeprefix("Value error, ")
            ) from exc
        except InputError as exc:
            raise InputError(f"setting {section}.{next(iter(fields))}", exc.message) from exc
    return result
