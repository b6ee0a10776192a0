"""Per-customer controls (seed 000, 002): exclude from automatic dunning, an own ladder or
minimum amount, a private/business correction, consent to electronic delivery, blocks."""

from __future__ import annotations

from typing import Any

from adapter import company_settings
from adapter.domain import Customer, DebtorKind
from adapter.errors import InputError
from adapter.services import rates
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork


def _nested(assignments: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise InputError(
                f"--ladder {assignment!r}", "expected name=value, e.g. minimum_amount=500"
            )
        parts = name.strip().removeprefix("dunning.").split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value.strip()
    return out


def set_customer(
    uow: UnitOfWork,
    ref: str,
    *,
    actor: str,
    excluded: bool | None = None,
    kind: str | None = None,
    ladder: list[str] | None = None,
    clear_ladder: bool = False,
    electronic_consent: bool | None = None,
    blocked: bool | None = None,
    reason: str | None = None,
) -> Customer:
    """Change one customer's dunning controls; the ladder override is validated against the law."""
    with uow:
        customer = uow.customers.find(ref)
        assert customer.id is not None
        values: dict[str, Any] = {}
        changes: list[str] = []
        if excluded is not None:
            values["dunning_excluded"] = excluded
            changes.append(
                "excluded from automatic dunning" if excluded else "included in automatic dunning"
            )
        if kind is not None:
            values["kind"] = DebtorKind(kind).value
            if kind == "private":
                values["org_number"] = None
            changes.append(f"now a {kind} debtor")
        if electronic_consent is not None:
            values["electronic_consent"] = electronic_consent
            changes.append(
                "accepts electronic delivery"
                if electronic_consent
                else "does not accept electronic delivery"
            )
        if blocked is not None:
            values["blocked"] = blocked
            values["blocked_reason"] = (reason or "blocked by hand") if blocked else None
            changes.append("blocked from new sales" if blocked else "unblocked")
        if clear_ladder:
            values["ladder_override"] = None
            changes.append("uses the company's ladder")
        elif ladder:
            stored = uow.customers.ladder_override(customer.id) or {}
            override = _merge(stored, _nested(ladder))
            company = uow.settings.get("dunning")
            base = company_settings.effective(company_settings.DunningSettings, company).model_dump(
                mode="json"
            )
            names = [
                f"dunning.{a.partition('=')[0].strip().removeprefix('dunning.')}={a.partition('=')[2]}"
                for a in ladder
            ]
            company_settings.apply_changes(
                {"dunning": _merge(base, stored)},
                names,
                today=uow.clock.today(),
                rates=rates.current(uow),
            )
            values["ladder_override"] = override
            changes.append(f"own ladder: {', '.join(ladder)}")
        if not values:
            raise InputError("customer", "nothing to change")
        uow.customers.set_fields(customer.id, **values)
        uow.record(
            Event(
                actor=actor,
                action="customer.set",
                subject=("customer", customer.id),
                message=f"{customer.name}: {'; '.join(changes)}"
                + (f" ({reason})" if reason else ""),
                data={k: v for k, v in values.items() if k != "ladder_override"}
                | {"ladder": ladder or []},
            )
        )
        uow.commit()
        return uow.customers.get(customer.id)


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def blocked(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Customers blocked from new sales, with the reason."""
    with uow:
        return uow.customers.blocked_rows()


def keep_ladder_for_existing(uow: UnitOfWork, old: dict[str, Any] | None, *, actor: str) -> int:
    """Before the company's ladder changes: existing customers keep the ladder they had (seed 000
    step 3, "choose whether the settings apply to customers already created")."""
    snapshot = company_settings.effective(company_settings.DunningSettings, old).model_dump(
        mode="json"
    )
    rows = uow.customers.without_own_ladder()
    for customer_id in rows:
        uow.customers.set_fields(customer_id, ladder_override=snapshot)
    uow.record(
        Event(
            actor=actor,
            action="customer.keep_ladder",
            subject=("company", uow.require_company()),
            message=f"{len(rows)} existing customers keep the previous ladder",
        )
    )
    return len(rows)
