"""Hand-off of many debtors at once: a case per debtor, each confirmed in its own unit of work
(`services/handoff.py` `confirm`), so a debtor no longer eligible is refused and the others
go on; and the automatic hand-off of every eligible debtor (`dunning.auto_handoff`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adapter import company_settings
from adapter.errors import InputError, NotFoundError
from adapter.i18n import N_
from adapter.services import handoff
from adapter.store.database import Database


@dataclass(frozen=True)
class Confirmed:
    """What became of each debtor of a confirmation of many: the case made, or why not."""

    cases: dict[int, int]  # customer id -> hand-off case id
    refused: dict[int, str]  # customer id -> why not, in the current language


def confirm_many(
    db: Database,
    company_id: int,
    customer_ids: list[int],
    *,
    not_disputed: bool,
    by: str,
    on: date,
) -> Confirmed:
    """Hand off several debtors with one "not disputed" confirmation, which counts for each
    of them and is logged for each (a case per debtor, each in its own transaction: a debtor
    that is no longer eligible is refused and the others go on)."""
    if not not_disputed:
        raise InputError(
            "not_disputed",
            "confirm that the claims are not disputed (Kravet er ikke omtvistet)",
            said=handoff.NOT_CONFIRMED,
        )
    if not customer_ids:
        raise InputError(
            "customer", "choose at least one debtor", said=N_("Choose at least one debtor")
        )
    cases: dict[int, int] = {}
    refused: dict[int, str] = {}
    for customer_id in dict.fromkeys(customer_ids):  # each once, in the order chosen
        try:
            cases[customer_id] = handoff.confirm(
                db.uow(company_id), str(customer_id), not_disputed=True, by=by, on=on
            )
        except (InputError, NotFoundError) as exc:
            refused[customer_id] = exc.text() if isinstance(exc, InputError) else str(exc)
    return Confirmed(cases, refused)


def auto_handoff(db: Database, company_id: int, on: date) -> list[int]:
    """With `dunning.auto_handoff`: hand off every eligible debtor, the system confirming."""
    with db.uow(company_id, read_only=True) as uow:
        settings = company_settings.effective(
            company_settings.DunningSettings, uow.settings.get("dunning")
        )
        connected = "kravia" in uow.connections.configured()
    if not settings.auto_handoff or not connected:
        return []
    return [
        handoff.confirm(
            db.uow(company_id),
            str(b.customer_id),
            not_disputed=True,
            by="system:auto-handoff",
            on=on,
            automatic=True,
        )
        for b in handoff.candidates(db.uow(company_id, read_only=True), on)
    ]
