"""The JSON API under /api/v1: the same figures and actions as the pages, for scripts and
integrations. HTTP Basic (e-mail and password) or the session cookie with `X-CSRF-Token`.
Amounts are integers in øre; dates are ISO 8601."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from adapter.services import claims, companies, handoff, letters, overview, payments, work
from adapter.services.dunning import decision_json
from adapter.web.ids import Id, Page
from adapter.web.pages.html import company_names, database, settings_rows
from adapter.web.pages.security import Admin, Reader, Writer, require_user

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Refused input: `{error: {where, message}}`; nothing was changed."},
    401: {"description": "No or wrong credentials."},
    403: {"description": "The role does not allow it, or the CSRF token is missing."},
    404: {"description": "No such company (or not one the user serves), or no such record."},
}

router = APIRouter(prefix="/api/v1", tags=["api"], responses=_ERRORS)


def invoice_number(request: Request, company_id: Id, invoice_id: Id) -> str:
    """The number of an invoice of the company (the API's URLs carry ids, the services take
    numbers)."""
    with database(request).uow(company_id, read_only=True) as uow:
        return uow.invoices.get(invoice_id).number


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisputeBody(_Body):
    """Dispute or undispute a claim."""

    disputed: bool
    reason: str = Field(min_length=1, max_length=1000)


class ConfirmBody(_Body):
    """The accountant's confirmation that the debtor's claims are not disputed."""

    not_disputed: bool


class MatchBody(_Body):
    """The invoice a payment belongs to."""

    invoice: str = Field(min_length=1, max_length=50)
    # A match to a closed invoice, another customer's invoice or one leaving a credit is
    # refused (400 saying what would happen) unless confirmed.
    confirmed: bool = False


class HoldBody(_Body):
    """Stop dunning of an invoice, postpone it until a date, or resume it."""

    action: Literal["stop", "postpone", "resume"]
    reason: str = Field(min_length=1, max_length=1000)
    until: date | None = None


class LetterBody(_Body):
    """Manual follow-up of one invoice (the legal guards decide)."""

    step: Literal["reminder", "inkassovarsel", "betalingsoppfordring", "rentenota"]
    with_fee: bool = False
    with_interest: bool = False


class SetAsideBody(_Body):
    """The unknown-KID choice for one waiting payment."""

    action: Literal["on_account", "ignore"]
    reason: str = Field(default="", max_length=300)  # required to ignore


class SettingsBody(_Body):
    """Settings to change, by name, as typed in `kravflyt company set` (amounts in kroner)."""

    changes: dict[str, str] = Field(min_length=1)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


@router.get("/companies")
def my_companies(request: Request) -> list[dict[str, Any]]:
    """The companies the caller serves, with the caller's role in each."""
    who = require_user(request)
    names = company_names(database(request), list(who.user.roles))
    return [{"id": cid, "name": name, "role": who.user.roles[cid]} for cid, name in names.items()]


@router.get("/companies/{company_id}/overview")
def get_overview(request: Request, company_id: Id, who: Reader) -> dict[str, Any]:
    """Outstanding, overdue, at the agency, collected this month, aging and today's plan."""
    figures = overview.overview(
        database(request).uow(company_id, read_only=True), database(request).clock.today()
    )
    return _jsonable(figures)


@router.get("/companies/{company_id}/worklist")
def get_worklist(request: Request, company_id: Id, who: Reader) -> dict[str, Any]:
    """What needs a person."""
    w = overview.worklist(
        database(request).uow(company_id, read_only=True), database(request).clock.today()
    )
    return _jsonable(dataclasses.asdict(w)) | {"count": w.count}


@router.get("/companies/{company_id}/claims/{invoice_id}")
def get_claim(request: Request, company_id: Id, who: Reader, invoice_id: Id) -> dict[str, Any]:
    """A claim's timeline and its next decisions, each with rules and reasons."""
    page = overview.claim_page(
        database(request).uow(company_id, read_only=True),
        invoice_id,
        database(request).clock.today(),
    )
    return {
        "invoice": _jsonable(page.invoice),
        "customer": page.customer,
        "claim": _jsonable(page.claim),
        "timeline": _jsonable(
            [{k: v for k, v in e.items() if k != "letter"} for e in page.timeline]
        ),
        "next": [decision_json(d) for d in page.decisions],
    }


@router.post("/companies/{company_id}/claims/{invoice_id}/dispute")
def post_dispute(
    request: Request, company_id: Id, who: Writer, invoice_id: Id, body: DisputeBody
) -> dict[str, Any]:
    """Mark a claim disputed (dunning and hand-off stop) or undisputed again."""
    db = database(request)
    number = invoice_number(request, company_id, invoice_id)
    claim = claims.set_dispute(
        db.uow(company_id),
        number,
        disputed=body.disputed,
        reason=body.reason,
        actor=f"api:{who.user.email}",
    )
    return {"invoice": number, "disputed": claim.disputed, "reason": claim.dispute_reason}


@router.get("/companies/{company_id}/handoff")
def get_handoff(request: Request, company_id: Id, who: Reader) -> dict[str, Any]:
    """Bundles ready for the agency (per debtor) and the cases handed off."""
    db = database(request)
    return {
        "candidates": [
            b.as_json()
            for b in handoff.candidates(db.uow(company_id, read_only=True), db.clock.today())
        ],
        "cases": _jsonable(handoff.handed_off(db.uow(company_id, read_only=True))),
    }


@router.post("/companies/{company_id}/handoff/{customer_id}/confirm")
def post_handoff(
    request: Request, company_id: Id, who: Writer, customer_id: Id, body: ConfirmBody
) -> dict[str, Any]:
    """Hand a debtor's bundle to the agency (refused unless `not_disputed` is true)."""
    db = database(request)
    case_id = handoff.confirm(
        db.uow(company_id),
        str(customer_id),
        not_disputed=body.not_disputed,
        by=f"api:{who.user.email}",
        on=db.clock.today(),
    )
    return {"case_id": case_id}


@router.post("/companies/{company_id}/payments/{payment_id}/match")
def post_match(
    request: Request, company_id: Id, who: Writer, payment_id: Id, body: MatchBody
) -> dict[str, Any]:
    """Match an unmatched payment to an invoice and allocate it."""
    p = payments.match_payment(
        database(request).uow(company_id),
        payment_id,
        body.invoice,
        actor=f"api:{who.user.email}",
        confirmed=body.confirmed,
    )
    return {"payment": payment_id, "status": p.status.value, "method": p.match_method}


@router.post("/companies/{company_id}/claims/{invoice_id}/hold")
def post_hold(
    request: Request, company_id: Id, who: Writer, invoice_id: Id, body: HoldBody
) -> dict[str, Any]:
    """Stop, postpone or resume dunning of one invoice (purrestopp), with a reason."""
    claim = claims.hold(
        database(request).uow(company_id),
        invoice_number(request, company_id, invoice_id),
        body.action,
        until=body.until,
        reason=body.reason,
        actor=f"api:{who.user.email}",
    )
    return {"stopped": claim.stopped, "hold_until": _jsonable(claim.hold_until)}


@router.post("/companies/{company_id}/claims/{invoice_id}/letters")
def post_letter(
    request: Request, company_id: Id, who: Writer, invoice_id: Id, body: LetterBody
) -> dict[str, Any]:
    """Send a letter for one invoice now, if the law allows it today (else 400 with why)."""
    db = database(request)
    letter_id = letters.send_manual(
        db.uow(company_id),
        invoice_number(request, company_id, invoice_id),
        body.step,
        db.clock.today(),
        with_fee=body.with_fee,
        with_interest=body.with_interest,
        actor=f"api:{who.user.email}",
    )
    return {"letter_id": letter_id}


@router.post("/companies/{company_id}/payments/{payment_id}/set-aside")
def post_set_aside(
    request: Request, company_id: Id, who: Writer, payment_id: Id, body: SetAsideBody
) -> dict[str, Any]:
    """Book a waiting payment on its customer as unallocated, or ignore it."""
    p = payments.set_aside(
        database(request).uow(company_id),
        payment_id,
        body.action,
        actor=f"api:{who.user.email}",
        reason=body.reason,
    )
    return {"payment": payment_id, "status": p.status.value, "customer_id": p.customer_id}


@router.get("/companies/{company_id}/settings")
def get_settings(request: Request, company_id: Id, who: Reader) -> dict[str, str]:
    """Every setting with its value as typed (amounts in kroner)."""
    return {r["name"]: r["value"] for r in settings_rows(database(request), company_id)}


@router.patch("/companies/{company_id}/settings")
def patch_settings(
    request: Request, company_id: Id, who: Admin, body: SettingsBody
) -> dict[str, str]:
    """Change settings together (administrators; one wrong value and none is saved)."""
    companies.set_settings(
        database(request).uow(company_id),
        [f"{k}={v}" for k, v in body.changes.items()],
        actor=f"api:{who.user.email}",
    )
    return {r["name"]: r["value"] for r in settings_rows(database(request), company_id)}


@router.post("/companies/{company_id}/work/{table}/{item_id}/retry")
def post_retry(
    request: Request,
    company_id: Id,
    who: Writer,
    table: Literal["jobs", "outbox", "inbox"],
    item_id: Id,
) -> dict[str, Any]:
    """Put a dead job, failed send or dead webhook back in the queue."""
    item = work.retry(
        database(request).uow(company_id), table, item_id, actor=f"api:{who.user.email}"
    )
    return {"table": table, "id": item.id, "status": item.status}


@router.get("/companies/{company_id}/audit")
def get_audit(
    request: Request, company_id: Id, who: Reader, q: str = "", action: str = "", page: Page = 0
) -> dict[str, Any]:
    """Audit entries newest first (50 a page)."""
    rows, more = overview.audit_page(
        database(request).uow(company_id, read_only=True),
        text=q or None,
        action=action or None,
        page=page,
    )
    return {
        "entries": [
            {
                "at": r.at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "subject": f"{r.subject_type}:{r.subject_id}" if r.subject_type else None,
                "message": r.message,
                "rules": list(r.rules or []),
            }
            for r in rows
        ],
        "more": more,
    }
