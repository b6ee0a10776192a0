"""Accountant controls on one claim: dispute and undispute, stop or postpone dunning, its
limitation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from adapter.domain import Claim, ClaimStatus
from adapter.errors import InputError
from adapter.i18n import N_
from adapter.services.claim_facts import company_context
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork
from policies.limitation import RULE as LIMITATION_RULE
from policies.limitation import limitation_date


def set_dispute(
    uow: UnitOfWork, invoice_number: str, *, disputed: bool, reason: str, actor: str
) -> Claim:
    """Mark a claim disputed (no letters, fees or hand-off: INKL § 17, C9) or undisputed again."""
    reason = reason.strip()
    if not reason:
        raise InputError("--reason", "say why (it goes into the audit log)")
    with uow:
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        claim = uow.claims.for_invoice(invoice.id)
        if claim.disputed == disputed:
            raise InputError(
                "--invoice",
                f"invoice {invoice_number} is {'already' if disputed else 'not'} disputed",
            )
        uow.claims.set_dispute(invoice.id, disputed, reason if disputed else None)
        uow.record(
            Event(
                actor=actor,
                action="claim.dispute" if disputed else "claim.undispute",
                subject=("invoice", invoice.id),
                rules=["INKL § 17 (2), C9"],
                message=(
                    f"invoice {invoice_number} disputed: {reason}. Dunning and hand-off stop until undisputed"
                    if disputed
                    else f"invoice {invoice_number} undisputed: {reason}. Dunning resumes"
                ),
                data={"reason": reason, "at_agency": claim.status is ClaimStatus.HANDED_OFF},
                said=(
                    N_(
                        "Invoice %(number)s disputed: %(reason)s. Dunning and hand-off stop until it is no longer disputed",
                        number=invoice_number,
                        reason=reason,
                    )
                    if disputed
                    else N_(
                        "Invoice %(number)s no longer disputed: %(reason)s. Dunning resumes",
                        number=invoice_number,
                        reason=reason,
                    )
                ),
            )
        )
        uow.commit()
        return uow.claims.for_invoice(invoice.id)


def hold(
    uow: UnitOfWork,
    invoice_number: str,
    action: str,
    *,
    until: date | None,
    reason: str,
    actor: str,
) -> Claim:
    """Stop, postpone (until a date) or resume dunning of one invoice, as the web app's form
    and API say it: their words for `set_hold`."""
    if action not in ("stop", "postpone", "resume"):
        raise InputError("action", "stop, postpone or resume")
    if action == "postpone" and until is None:
        raise InputError("until", "give the date dunning may resume")
    return set_hold(
        uow,
        invoice_number,
        stopped=action == "stop",
        until=until if action == "postpone" else None,
        reason=reason,
        actor=actor,
    )


def set_hold(
    uow: UnitOfWork,
    invoice_number: str,
    *,
    stopped: bool,
    until: date | None,
    reason: str,
    actor: str,
) -> Claim:
    """Stop dunning of one invoice, postpone it until a date, or lift both (stopped=False, until=None)."""
    reason = reason.strip()
    if not reason:
        raise InputError("--reason", "say why (it is shown on the claim page and logged)")
    with uow:
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        uow.claims.set_hold(
            invoice.id, stopped=stopped, until=until, reason=reason if (stopped or until) else None
        )
        what = "stopped" if stopped else (f"postponed until {until}" if until else "resumed")
        uow.record(
            Event(
                actor=actor,
                action="claim.hold",
                subject=("invoice", invoice.id),
                message=f"dunning of invoice {invoice_number} {what}: {reason}",
                said=(
                    N_(
                        "Dunning of invoice %(number)s stopped: %(reason)s",
                        number=invoice_number,
                        reason=reason,
                    )
                    if stopped
                    else N_(
                        "Dunning of invoice %(number)s postponed until %(until_date)s: %(reason)s",
                        number=invoice_number,
                        until_date=until,
                        reason=reason,
                    )
                    if until
                    else N_(
                        "Dunning of invoice %(number)s resumed: %(reason)s",
                        number=invoice_number,
                        reason=reason,
                    )
                ),
                data={
                    "stopped": stopped,
                    "until": until.isoformat() if until else None,
                    "reason": reason,
                },
            )
        )
        uow.commit()
        return uow.claims.for_invoice(invoice.id)


def limitation(
    uow: UnitOfWork,
    invoice_number: str,
    on: date,
    *,
    renewed_on: date | None = None,
    reason: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """A claim's limitation (H1): when it is time-barred, and from when dunning and hand-off
    stop. With `renewed_on`, first record the debtor's acknowledgement or a legal step on that
    day (foreldelsesloven §§ 14-15), from which a new three-year period runs; logged."""
    with uow:
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        ladder = company_context(uow.settings.all()).ladder
        current, why = uow.claims.limitation_renewal(invoice.id)
        if renewed_on is not None:
            reason = (reason or "").strip()
            if not reason:
                raise InputError("--reason", "say what renewed the period (it is logged)")
            if renewed_on < invoice.due_date or renewed_on > on:
                raise InputError(
                    "--renewed",
                    f"between the due date {invoice.due_date} and today {on}, got {renewed_on}",
                )
            uow.claims.renew_limitation(invoice.id, renewed_on, reason)
            barred = limitation_date(invoice.due_date, renewed_on)
            uow.record(
                Event(
                    actor=actor,
                    action="claim.limitation",
                    subject=("invoice", invoice.id),
                    rules=[LIMITATION_RULE],
                    message=f"invoice {invoice_number}: a new limitation period runs from "
                    f"{renewed_on} ({reason}); time-barred on {barred}",
                    data={"renewed_on": renewed_on.isoformat(), "reason": reason},
                )
            )
            uow.commit()
            current, why = renewed_on, reason
    barred = limitation_date(invoice.due_date, current)
    return {
        "invoice": invoice_number,
        "due_date": invoice.due_date.isoformat(),
        "renewed_on": current.isoformat() if current else None,
        "renewed_reason": why,
        "limitation_date": barred.isoformat(),
        "stop_from": (barred - timedelta(days=ladder.limitation_stop_days)).isoformat(),
        "warn_from": (barred - timedelta(days=ladder.limitation_warn_days)).isoformat(),
        "time_barred": on >= barred,
    }
