"""Use cases around companies: add one, change its settings, show it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapter import company_settings
from adapter.domain import Company, org_number
from adapter.errors import InputError
from adapter.i18n import N_
from adapter.services import rates
from adapter.services.customers import keep_ladder_for_existing
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class CompanyView:
    """A company with its effective settings and connections, for display."""

    company: Company
    settings: dict[str, dict[str, Any]]
    connections: list[str]


def add_company(uow: UnitOfWork, *, name: str, org_no: str, actor: str) -> Company:
    """Register a company (organisation number validated) and log it."""
    name = name.strip()
    if not name:
        raise InputError("name", "a company needs a name")
    number = org_number(org_no, where="--org-number")
    with uow:
        company = register_company(uow, name=name, number=number, actor=actor)
        uow.commit()
    return company


def register_company(uow: UnitOfWork, *, name: str, number: str, actor: str) -> Company:
    """Insert a company in the open unit of work and record its event (written when the
    caller commits)."""
    company = uow.companies.add(name, number)
    uow.record(
        Event(
            company_id=company.id,
            actor=actor,
            action="company.add",
            subject=("company", company.id),
            message=f"company {name} ({number}) added",
            data={"name": name, "org_number": number},
        )
    )
    return company


def set_settings(
    uow: UnitOfWork, assignments: list[str], *, actor: str, keep_for_existing: bool = False
) -> dict[str, Any]:
    """Validate and store `section.field=value` assignments together, or none of them."""
    if not assignments:
        raise InputError("settings", "give at least one name=value")
    with uow:
        uow.companies.get(uow.require_company())
        stored = uow.settings.all()
        changed = company_settings.apply_changes(
            stored, assignments, today=uow.clock.today(), rates=rates.current(uow)
        )
        result: dict[str, Any] = {}
        for section, values in changed.items():
            dumped = values.model_dump(mode="json")
            before = company_settings.load(section, stored.get(section)).model_dump(mode="json")
            diff = {k: {"from": before[k], "to": v} for k, v in dumped.items() if before[k] != v}
            if section == "dunning" and keep_for_existing:
                keep_ladder_for_existing(uow, stored.get("dunning"), actor=actor)
            uow.settings.put(section, dumped, by=actor)
            uow.record(
                Event(
                    actor=actor,
                    action="company.settings",
                    subject=("company", uow.company_id),
                    message=f"settings {section} changed: {', '.join(diff) or 'no change'}",
                    said=N_("Settings changed: %(names)s", names=", ".join(diff) or "-"),
                    data={"section": section, "changes": diff},
                )
            )
            result[section] = dumped
        uow.commit()
    return result


def check_settings(uow: UnitOfWork, assignments: list[str]) -> dict[str, InputError]:
    """Each `name=value` checked on its own against the stored settings (nothing written): the
    refused ones by name, so a form can show every wrong field at once."""
    refused: dict[str, InputError] = {}
    with uow:
        stored = uow.settings.all()
        in_force = rates.current(uow)
        for assignment in assignments:
            try:
                company_settings.apply_changes(
                    stored, [assignment], today=uow.clock.today(), rates=in_force
                )
            except InputError as exc:
                refused[assignment.partition("=")[0].strip()] = exc
    return refused


def show_company(uow: UnitOfWork) -> CompanyView:
    """The company with every settings section (stored values over defaults)."""
    with uow:
        company = uow.companies.get(uow.require_company())
        stored = uow.settings.all()
        settings = {
            name: company_settings.load(name, stored.get(name)).model_dump(mode="json")
            for name in company_settings.SECTIONS
        }
        return CompanyView(
            company=company, settings=settings, connections=uow.connections.configured()
        )
