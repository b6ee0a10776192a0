"""The JSON API under /api/v1: the same figures and actions as the pages, for scripts and
integrations. HTTP Basic (e-mail and password) or the session cookie with `X-CSRF-Token`.
Amounts are integers in øre; dates are ISO 8601."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from adapter.services import claims, handoff, overview, payments
from adapter.services.dunning import decision_json
from adapter.store.database import Database
from adapter.web.pages.html import company_names
from adapter.web.pages.security import Reader, Writer, require_user

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Refused input: `{error: {where, message}}`; nothing was changed."},
    401: {"description": "No or wrong credentials."},
    403: {"description": "The role does not allow it, or the CSRF token is missing."},
    404: {"description": "No such company (or not one the user serves), or no such record."},
}

router = APIRouter(prefix="/api/v1", tags=["api"], responses=_ERRORS)


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


def _db(request: Request) -> Database:
    return request.app.state.db


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
    names = company_names(_db(request), list(who.user.roles))
    return [{"id": cid, "name": name, "role": who.user.roles[cid]} for cid, name in names.items()]


@router.get("/companies/{company_id}/overview")
def get_overview(request: Request, company_id: int, who: Reader) -> dict[str, Any]:
    """Outstanding, overdue, at the agency, collected this month, aging and today's plan."""
    figures = overview.overview(_db(request), company_id, _db(request).clock.today())
    return _jsonable(figures)


@router.get("/companies/{company_id}/worklist")
def get_worklist(request: Request, company_id: int, who: Reader) -> dict[str, Any]:
    """What needs a person."""
    w = overview.worklist(_db(request), company_id, _db(request).clock.today())
    return _jsonable(dataclasses.asdict(w)) | {"count": w.count}


@router.get("/companies/{company_id}/claims/{invoice_id}")
def get_claim(request: Request, company_id: int, who: Reader, invoice_id: int) -> dict[str, Any]:
    """A claim's timeline and its next decisions, each with rules and reasons."""
    page = overview.claim_page(_db(request), company_id, invoice_id, _db(request).clock.today())
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
async def post_dispute(
    request: Request, company_id: int, who: Writer, invoice_id: int, body: DisputeBody
) -> dict[str, Any]:
    """Mark a claim disputed (dunning and hand-off stop) or undisputed again."""
    db = _db(request)
    with db.uow(company_id, read_only=True) as uow:
        number = uow.invoices.get(invoice_id).number
    claim = claims.set_dispute(
        db.uow(company_id),
        number,
        disputed=body.disputed,
        reason=body.reason,
        actor=f"api:{who.user.email}",
    )
    return {"invoice": number, "disputed": claim.disputed, "reason": claim.dispute_reason}


@router.get("/companies/{company_id}/handoff")
def get_handoff(request: Request, company_id: int, who: Reader) -> dict[str, Any]:
    """Bundles ready for the agency (per debtor) and the cases handed off."""
    db = _db(request)
    return {
        "candidates": [b.as_json() for b in handoff.candidates(db, company_id, db.clock.today())],
        "cases": _jsonable(handoff.handed_off(db, company_id)),
    }


@router.post("/companies/{company_id}/handoff/{customer_id}/confirm")
async def post_handoff(
    request: Request, company_id: int, who: Writer, customer_id: int, body: ConfirmBody
) -> dict[str, Any]:
    """Hand a debtor's bundle to the agency (refused unless `not_disputed` is true)."""
    db = _db(request)
    case_id = handoff.confirm(
        db,
        company_id,
        str(customer_id),
        not_disputed=body.not_disputed,
        by=f"api:{who.user.email}",
        on=db.clock.today(),
    )
    return {"case_id": case_id}


@router.post("/companies/{company_id}/payments/{payment_id}/match")
async def post_match(
    request: Request, company_id: int, who: Writer, payment_id: int, body: MatchBody
) -> dict[str, Any]:
    """Match an unmatched payment to an invoice and allocate it."""
    p = payments.match_payment(
        _db(request).uow(company_id), payment_id, body.invoice, actor=f"api:{who.user.email}"
    )
    return {"payment": payment_id, "status": p.status.value, "method": p.match_method}


@router.get("/companies/{company_id}/audit")
def get_audit(
    request: Request, company_id: int, who: Reader, q: str = "", action: str = "", page: int = 0
) -> dict[str, Any]:
    """Audit entries newest first (50 a page)."""
    rows, more = overview.audit_page(
        _db(request), company_id, text=q or None, action=action or None, page=max(page, 0)
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
