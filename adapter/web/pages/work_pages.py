"""The worklist in sections (counts first, each section paged and filterable, failed sends
resent, marked sent or cancelled after a confirmation) and the hand-off page (debtors told
apart by number, many confirmed at once)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapter.flows import handoffs
from adapter.i18n import _, ngettext
from adapter.services import handoff, letters, overview, work
from adapter.store.database import Database
from adapter.web.ids import Id, Page
from adapter.web.pages.security import Caller, Reader, Writer
from adapter.web.pages.views import flash, render

router = APIRouter(include_in_schema=False)
HANDOFF_PAGE = 25  # debtors per page: a big ledger has hundreds ready at once
SEND_DECISIONS = ("resend", "mark_sent", "cancel")


def database(request: Request) -> Database:
    """The app's database."""
    return request.app.state.db


def _today(request: Request) -> date:
    return database(request).clock.today()


def _actor(who: Caller) -> str:
    return f"web:{who.user.email}"


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ------------------------------------------------------------------ worklist


@router.get("/c/{company_id}/worklist", response_class=HTMLResponse)
def worklist_page(
    request: Request,
    company_id: Id,
    who: Reader,
    section: str = "",
    page: Page = 0,
    q: str = "",
) -> Response:
    """What needs a person, in sections with their counts at the top; one section paged or
    filtered at a time (?section=payments&page=2&q=olsen)."""
    db = database(request)
    w, sections = overview.worklist_sections(
        db.uow(company_id, read_only=True), _today(request), section=section, page=page, q=q[:100]
    )
    return render(
        request,
        "worklist.html.j2",
        who=who,
        company_id=company_id,
        w=w,
        sections=sections,
        by_key={s.key: s for s in sections},
        letters=overview.letters_of(db.uow(company_id, read_only=True), w.failed_sends),
        link=lambda key, **more: "?" + urlencode({"section": key, **more}) + f"#{key}",
    )


@router.get("/c/{company_id}/worklist/sends/{item_id}/{decision}", response_class=HTMLResponse)
def send_confirm_page(
    request: Request, company_id: Id, who: Reader, item_id: Id, decision: str
) -> Response:
    """What resending, marking sent or cancelling a failed send will do, and the button that
    does it."""
    if decision not in SEND_DECISIONS:
        raise HTTPException(404, _("No such action"))
    db = database(request)
    item = _failed_send(db, company_id, item_id)
    return render(
        request,
        "send_confirm.html.j2",
        who=who,
        company_id=company_id,
        item=item,
        decision=decision,
        letter=overview.letters_of(db.uow(company_id, read_only=True), [item]).get(item.id),
    )


def _failed_send(db: Database, company_id: int, item_id: int) -> work.WorkItem:
    for item in overview.failed_sends(db.uow(company_id, read_only=True)):
        if item.id == item_id:
            return item
    raise HTTPException(404, _("This send no longer waits for a person"))


@router.post("/c/{company_id}/worklist/sends/{item_id}/{decision}")
def send_decide(
    request: Request,
    company_id: Id,
    who: Writer,
    item_id: Id,
    decision: str,
    confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """Send a failed send again without a lookup, mark it sent, or cancel its letter: the
    same service calls as `kravflyt outbox retry ID --resend|--mark-sent` and `kravflyt letter
    cancel`, each written to the audit log. Only after the confirmation page."""
    if decision not in SEND_DECISIONS:
        raise HTTPException(404, _("No such action"))
    here = f"/c/{company_id}/worklist/sends/{item_id}/{decision}"
    if not confirmed:
        return _back(here)
    db = database(request)
    item = _failed_send(db, company_id, item_id)
    if decision == "cancel":
        letter_id = item.payload.get("letter_id")
        if not letter_id:
            raise HTTPException(404, _("This send carries no letter"))
        letters.cancel(db.uow(company_id), int(letter_id), actor=_actor(who))
        flash(request, _("The letter is cancelled: the next run decides the claim again"))
    else:
        work.retry(db.uow(company_id), "outbox", item_id, actor=_actor(who), decision=decision)
        flash(
            request,
            _("Queued to be sent again, without a lookup")
            if decision == "resend"
            else _("Marked sent"),
        )
    return _back(f"/c/{company_id}/worklist#sends")


# ------------------------------------------------------------------ hand-off


def matches(bundle: dict[str, Any], asked: str) -> bool:
    """Whether a debtor's bundle has `asked` (casefolded) in its name, numbers or invoices."""
    text = f"{bundle['customer']} {bundle['customer_number']} {bundle['org_number']} " + " ".join(
        i["invoice"] for i in bundle["invoices"]
    )
    return asked in text.casefold()


@router.get("/c/{company_id}/handoff", response_class=HTMLResponse)
def handoff_page(
    request: Request,
    company_id: Id,
    who: Reader,
    page: Page = 0,
    q: str = "",
    customer: int | None = None,
    all: str = "",
) -> Response:
    """Per debtor, the bundle to hand off (largest first, a page at a time, filtered by name,
    number or invoice), and the cases already handed off. ?customer=ID goes to the page the
    debtor is on (a link from the worklist lands on the debtor wherever it is)."""
    db = database(request)
    bundles = sorted(
        (
            b.as_json()
            for b in handoff.candidates(db.uow(company_id, read_only=True), _today(request))
        ),
        key=lambda b: -b["summary"]["principal_ore"],
    )
    asked = q.strip().casefold()[:100]
    if asked:
        bundles = [b for b in bundles if matches(b, asked)]
    if customer is not None:
        at = next((i for i, b in enumerate(bundles) if b["customer_id"] == customer), None)
        if at is not None:
            where = urlencode({k: v for k, v in {"page": at // HANDOFF_PAGE, "q": q}.items() if v})
            return _back(f"/c/{company_id}/handoff{'?' if where else ''}{where}#d{customer}")
        flash(
            request,
            _("The debtor is no longer ready for collection (handed off, paid or changed)"),
            "error",
        )
        return _back(f"/c/{company_id}/handoff")
    shown = bundles[page * HANDOFF_PAGE : (page + 1) * HANDOFF_PAGE]
    return render(
        request,
        "handoff.html.j2",
        who=who,
        company_id=company_id,
        bundles=shown,
        debtors=len(bundles),
        page=page,
        pages=max(1, -(-len(bundles) // HANDOFF_PAGE)),
        more=(page + 1) * HANDOFF_PAGE < len(bundles),
        q=q,
        choose_all=all == "1",
        cases=handoff.handed_off(db.uow(company_id, read_only=True)),
    )


@router.post("/c/{company_id}/handoff/confirm")
def handoff_confirm_many(
    request: Request,
    company_id: Id,
    who: Writer,
    customer: Annotated[list[int] | None, Form()] = None,
    not_disputed: Annotated[bool, Form()] = False,
) -> Response:
    """Hand the chosen debtors to the agency: the "not disputed" confirmation counts for each
    and is logged for each; every case waits for the worker that sends it."""
    done = handoffs.confirm_many(
        database(request),
        company_id,
        list(customer or []),
        not_disputed=not_disputed,
        by=_actor(who),
        on=_today(request),
    )
    told = []
    if done.cases:
        told.append(
            ngettext(
                "%(num)s hand-off case is made and waits for the worker that sends it to the agency",
                "%(num)s hand-off cases are made and wait for the worker that sends them to the agency",
                len(done.cases),
            )
        )
    told += list(done.refused.values())
    flash(request, " ".join(told), "error" if done.refused else "ok")
    return _back(f"/c/{company_id}/handoff")
