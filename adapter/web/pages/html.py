"""The accountant's pages (server-rendered HTML, forms with CSRF tokens)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from adapter import company_settings
from adapter.domain import Money
from adapter.errors import InputError, NotFoundError
from adapter.i18n import _
from adapter.i18n.labels import label
from adapter.services import (
    claims,
    companies,
    customer_page,
    handoff,
    letters,
    overview,
    payments,
    search,
    tonight,
    users,
    work,
)
from adapter.services.users import LoginRefused
from adapter.store.database import Database
from adapter.web.ids import Id, Number, Page
from adapter.web.pages import connection_check
from adapter.web.pages.security import (
    Admin,
    Caller,
    Reader,
    Writer,
    check_csrf,
    require_csrf_token,
    require_user,
    sign_in,
)
from adapter.web.pages.views import PageNotFound, flash, inline_file, render, same_site_path
from policies.ladder import Stage
from policies.manual import STEPS

router = APIRouter(include_in_schema=False)


def database(request: Request) -> Database:
    """The app's database."""
    return request.app.state.db


def _today(request: Request) -> date:
    return database(request).clock.today()


def _actor(who: Caller) -> str:
    return f"web:{who.user.email}"


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def company_names(db: Database, ids: list[int]) -> dict[int, str]:
    """Names of the companies a user serves."""
    with db.uow(read_only=True) as uow:
        return uow.companies.names(ids)


# ------------------------------------------------------------------ signing in


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """The sign-in form."""
    return render(request, "login.html.j2")


@router.post("/login")
async def login(
    request: Request, email: Annotated[str, Form()], password: Annotated[str, Form()]
) -> Response:
    """Check the password and start a session (a new session id: no fixation). Async only to
    read the form's CSRF token; the password check runs in the thread pool."""
    await require_csrf_token(request)  # the pre-session token: no login CSRF
    try:
        user = await run_in_threadpool(sign_in, request, email, password)
    except LoginRefused:
        return render(request, "login.html.j2", status=401, failed=True, email=email)
    except HTTPException as exc:  # too many failures from this address
        page = render(request, "login.html.j2", status=exc.status_code, throttled=True, email=email)
        page.headers.update(exc.headers or {})
        return page
    lang = request.session.get("lang")
    request.session.clear()
    request.session.update({"uid": user.id, "gen": user.generation, "lang": lang or "nb"})
    return _back("/")


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (async only to read the form's CSRF token; the database work runs in
    the thread pool)."""
    who = await run_in_threadpool(require_user, request)
    await check_csrf(request, who)
    # A copy of the cookie ends too.
    await run_in_threadpool(lambda: users.end_sessions(database(request).uow(), who.user.id))
    request.session.clear()
    return _back("/login")


@router.get("/lang/{code}")
def set_language(request: Request, code: str) -> Response:
    """Switch between bokmål and English."""
    request.session["lang"] = "en" if code == "en" else "nb"
    return _back(same_site_path(request.headers.get("referer")))


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The companies the user serves (straight to the one when there is only one)."""
    who = require_user(request)
    names = company_names(database(request), list(who.user.roles))
    if len(names) == 1:
        return _back(f"/c/{next(iter(names))}/")
    return render(request, "home.html.j2", who=who, companies=names)


# ------------------------------------------------------------------ overview and worklist


@router.get("/c/{company_id}/", response_class=HTMLResponse)
def overview_page(request: Request, company_id: Id, who: Reader) -> Response:
    """Outstanding, overdue, at the agency, collected; aging chart; today's plan."""
    db = database(request)
    figures = overview.overview(db.uow(company_id, read_only=True), _today(request))
    labels = {b: (_("Not due") if b == "current" else f"{b} d") for b in overview.BUCKETS}
    svg = overview.aging_svg(figures.aging, {**labels, "title": _("Aging")})
    return render(
        request,
        "overview.html.j2",
        who=who,
        company_id=company_id,
        company=company_names(db, [company_id])[company_id],
        figures=figures,
        aging_svg=svg,
    )


@router.post("/c/{company_id}/work/{table}/{item_id}/retry")
def retry_item(request: Request, company_id: Id, who: Writer, table: str, item_id: Id) -> Response:
    """Put a dead job, failed send or dead webhook back in the queue."""
    if table not in ("jobs", "outbox", "inbox"):
        raise HTTPException(404, "no such queue")
    work.retry(database(request).uow(company_id), table, item_id, actor=_actor(who))
    flash(request, _("Put back in the queue"))
    return _back(f"/c/{company_id}/worklist")


# ------------------------------------------------------------------ claims


@router.get("/c/{company_id}/search", response_class=HTMLResponse)
def search_page(request: Request, company_id: Id, who: Reader, q: str = "") -> Response:
    """The search box: straight to the claim when the text is one invoice's number or KID,
    else the invoices that match (by customer, customer or organisation number, amount)."""
    hits = search.find(database(request).uow(company_id, read_only=True), q[:200])
    exact = [h for h in hits if h.exact]
    if len(exact) == 1:
        return _back(f"/c/{company_id}/claims/{quote(exact[0].number)}")
    return render(request, "search.html.j2", who=who, company_id=company_id, q=q, hits=hits)


@router.get("/c/{company_id}/customers/{customer_id}", response_class=HTMLResponse)
def customer_view(request: Request, company_id: Id, who: Reader, customer_id: Id) -> Response:
    """A customer: contact, blocks and overrides, all claims, payments and letters."""
    try:
        page = customer_page.customer_page(
            database(request).uow(company_id, read_only=True), customer_id
        )
    except NotFoundError as exc:
        raise PageNotFound(_("Could not find the customer")) from exc
    return render(request, "customer.html.j2", who=who, company_id=company_id, p=page)


@router.get("/c/{company_id}/claims/{number}", response_class=HTMLResponse)
def claim_view(request: Request, company_id: Id, who: Reader, number: Number) -> Response:
    """The invoice's whole history, with the rule behind each step and the next step."""
    page = overview.claim_page(
        database(request).uow(company_id, read_only=True),
        invoice_id(request, company_id, number),
        _today(request),
    )
    return render(
        request,
        "claim.html.j2",
        who=who,
        company_id=company_id,
        c=page,
        steps=STEPS,
        stages=[s.value for s in Stage],
    )


def invoice_id(request: Request, company_id: Id, number: str) -> int:
    """The id of the company's invoice with this number (URLs carry the number a person
    knows; a number that is not there is a page saying so, 404)."""
    with database(request).uow(company_id, read_only=True) as uow:
        try:
            return int(uow.invoices.by_number(number).id or 0)
        except NotFoundError as exc:
            raise PageNotFound(_("Could not find invoice %(number)s", number=number)) from exc


@router.post("/c/{company_id}/claims/{number}/dispute")
def dispute(
    request: Request,
    company_id: Id,
    who: Writer,
    number: Number,
    disputed: Annotated[bool, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Mark the claim disputed or undisputed, with a reason."""
    claims.set_dispute(
        database(request).uow(company_id),
        number,
        disputed=disputed,
        reason=reason,
        actor=_actor(who),
    )
    flash(
        request,
        _("Invoice %(number)s is marked as disputed", number=number)
        if disputed
        else _("Invoice %(number)s is no longer disputed", number=number),
    )
    return _back(f"/c/{company_id}/claims/{quote(number)}")


@router.post("/c/{company_id}/claims/{number}/hold")
def hold(
    request: Request,
    company_id: Id,
    who: Writer,
    number: Number,
    action: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
) -> Response:
    """Stop dunning of the invoice, postpone it until a date, or resume."""
    day = None
    if action == "postpone" and until:
        try:
            day = date.fromisoformat(until)
        except ValueError as exc:
            raise InputError("until", f"{until!r} is not a date (YYYY-MM-DD)") from exc
    claims.hold(
        database(request).uow(company_id),
        number,
        action,
        until=day,
        reason=reason,
        actor=_actor(who),
    )
    done = {
        "stop": _("Dunning of invoice %(number)s stopped", number=number),
        "postpone": _(
            "Dunning of invoice %(number)s postponed until %(until_date)s",
            number=number,
            until_date=day,
        ),
        "resume": _("Dunning of invoice %(number)s resumed", number=number),
    }
    flash(request, done.get(action, _("Saved")))
    return _back(f"/c/{company_id}/claims/{quote(number)}")


@router.post("/c/{company_id}/claims/{number}/send")
def send_letter(
    request: Request,
    company_id: Id,
    who: Writer,
    number: Number,
    step: Annotated[str, Form()],
    with_fee: Annotated[bool, Form()] = False,
    with_interest: Annotated[bool, Form()] = False,
) -> Response:
    """Manual follow-up of one invoice: the legal guards decide."""
    letter_id = letters.send_manual(
        database(request).uow(company_id),
        number,
        step,
        _today(request),
        with_fee=with_fee,
        with_interest=with_interest,
        actor=_actor(who),
    )
    flash(
        request,
        _(
            "%(letter)s for invoice %(number)s is queued to be sent (letter %(id)s)",
            letter=label("stage", step).capitalize(),
            number=number,
            id=letter_id,
        ),
    )
    return _back(f"/c/{company_id}/claims/{quote(number)}")


@router.get("/c/{company_id}/claims/{number}/letters/{stage}.pdf")
def letter_pdf(
    request: Request, company_id: Id, who: Reader, number: Number, stage: str
) -> Response:
    """The letter of a stage as a PDF (the one sent, or what would be sent today)."""
    try:
        which = Stage(stage)
    except ValueError as exc:
        raise HTTPException(404, "no such letter") from exc
    pdf = letters.preview(
        database(request).uow(company_id, read_only=True), number, which, _today(request)
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": inline_file(f"{number}-{stage}.pdf")},
    )


# ------------------------------------------------------------------ hand-off


@router.post("/c/{company_id}/handoff/{customer_id}/confirm")
def handoff_confirm(
    request: Request,
    company_id: Id,
    who: Writer,
    customer_id: Id,
    not_disputed: Annotated[bool, Form()] = False,
) -> Response:
    """Hand the debtor's bundle to the agency, after the not-disputed confirmation."""
    case_id = handoff.confirm(
        database(request).uow(company_id),
        str(customer_id),
        not_disputed=not_disputed,
        by=_actor(who),
        on=_today(request),
    )
    flash(
        request,
        _(
            "Hand-off case %(case)s is made and waits for the worker that sends it to the agency",
            case=case_id,
        ),
    )
    return _back(f"/c/{company_id}/handoff")


# ------------------------------------------------------------------ payments


@router.get("/c/{company_id}/payments", response_class=HTMLResponse)
def payments_page(request: Request, company_id: Id, who: Reader, page: Page = 0) -> Response:
    """Payments without an invoice, a page at a time, each with suggested invoices; and the
    payments a person ignored, to undo."""
    p = payments.payments_page(database(request).uow(company_id, read_only=True), page)
    return render(request, "payments.html.j2", who=who, company_id=company_id, p=p)


@router.get("/c/{company_id}/payments/{payment_id}/confirm", response_class=HTMLResponse)
def match_confirm_page(
    request: Request, company_id: Id, who: Writer, payment_id: Id, invoice: str
) -> Response:
    """The second step of a match that puts money anywhere but on the payer's open invoice:
    what is wrong and what will happen, and a button to do it anyway."""
    preview = payments.preview_match(database(request).uow(company_id), payment_id, invoice[:50])
    return render(request, "payment_confirm.html.j2", who=who, company_id=company_id, m=preview)


@router.post("/c/{company_id}/payments/{payment_id}/match")
def match(
    request: Request,
    company_id: Id,
    who: Writer,
    payment_id: Id,
    invoice: Annotated[str, Form()],
    confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """Match the payment to an invoice (by number) and allocate it; a match to a closed
    invoice, another customer's invoice or one that leaves a credit goes to a confirmation
    page first."""
    db = database(request)
    invoice = invoice.strip()
    if not confirmed:
        preview = payments.preview_match(db.uow(company_id), payment_id, invoice)
        if preview.needs_confirmation:
            return _back(f"/c/{company_id}/payments/{payment_id}/confirm?invoice={quote(invoice)}")
    p = payments.match_payment(
        db.uow(company_id), payment_id, invoice, actor=_actor(who), confirmed=confirmed
    )
    flash(
        request,
        _(
            "The payment of %(amount_ore)s is matched to invoice %(number)s",
            amount_ore=p.amount.ore,
            number=invoice,
        ),
    )
    return _back(f"/c/{company_id}/payments")


@router.post("/c/{company_id}/payments/{payment_id}/set-aside")
def set_aside(
    request: Request,
    company_id: Id,
    who: Writer,
    payment_id: Id,
    action: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Apply the unknown-KID choice by hand: book on the customer, or ignore (with a reason)."""
    p = payments.set_aside(
        database(request).uow(company_id), payment_id, action, actor=_actor(who), reason=reason
    )
    flash(
        request,
        _(
            "The payment of %(amount_ore)s is %(what)s",
            amount_ore=p.amount.ore,
            what=label("payment_status", p.status),
        ),
    )
    return _back(f"/c/{company_id}/payments")


@router.post("/c/{company_id}/payments/{payment_id}/ignore")
def ignore_payment(
    request: Request,
    company_id: Id,
    who: Writer,
    payment_id: Id,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Ignore the payment (booked outside Kravflyt), with the reason; undone from the page."""
    p = payments.ignore(database(request).uow(company_id), payment_id, reason, actor=_actor(who))
    flash(request, _("The payment of %(amount_ore)s is ignored", amount_ore=p.amount.ore))
    return _back(f"/c/{company_id}/payments")


@router.post("/c/{company_id}/payments/{payment_id}/unignore")
def unignore_payment(request: Request, company_id: Id, who: Writer, payment_id: Id) -> Response:
    """Undo an ignore: the payment waits for a person again."""
    p = payments.undo_ignore(database(request).uow(company_id), payment_id, actor=_actor(who))
    flash(
        request,
        _(
            "The payment of %(amount_ore)s is no longer ignored and waits for a person again",
            amount_ore=p.amount.ore,
        ),
    )
    return _back(f"/c/{company_id}/payments#p{payment_id}")


# ------------------------------------------------------------------ tonight's letters


@router.get("/c/{company_id}/letters/tonight", response_class=HTMLResponse)
def tonight_page(request: Request, company_id: Id, who: Reader, page: Page = 0) -> Response:
    """The letters the next nightly run will make, per stage with their amounts, each
    previewable and holdable before it goes."""
    t = tonight.tonight(database(request).uow(company_id, read_only=True), page)
    return render(request, "tonight.html.j2", who=who, company_id=company_id, t=t)


@router.get("/c/{company_id}/letters/tonight/{number}.pdf")
def tonight_pdf(request: Request, company_id: Id, who: Reader, number: Number) -> Response:
    """The letter the next run will make for the invoice, as the PDF it will send."""
    pdf = tonight.preview(database(request).uow(company_id, read_only=True), number)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": inline_file(f"{number}-tonight.pdf")},
    )


@router.post("/c/{company_id}/letters/tonight/{number}/hold")
def tonight_hold(
    request: Request,
    company_id: Id,
    who: Writer,
    number: Number,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Hold the invoice's letter back before it goes: the claim's dunning stops, logged."""
    tonight.hold(database(request).uow(company_id), number, reason, actor=_actor(who))
    flash(
        request,
        _(
            "The letter for invoice %(number)s is held back: dunning of the invoice is stopped until you resume it on the invoice's page",
            number=number,
        ),
    )
    return _back(f"/c/{company_id}/letters/tonight")


# ------------------------------------------------------------------ settings


def _form_value(name: str, value: Any) -> str:
    if value is not None and company_settings.is_money(name):
        return Money(int(value)).format(thousands="")
    return company_settings.display(name, value)


def settings_rows(db: Database, company_id: Id) -> list[dict[str, Any]]:
    """Every setting with its current value (as typed in the form) and meaning."""
    with db.uow(company_id, read_only=True) as uow:
        view = companies.show_company(uow)
    meaning = {name: text for name, _default, text in company_settings.describe()}
    return [
        {"name": name, "value": _form_value(name, value), "meaning": meaning[name]}
        for section, values in view.settings.items()
        for name, value in company_settings.flatten(section, values)
    ]


@router.post("/c/{company_id}/settings/test/{remote}")
def test_connection(request: Request, company_id: Id, who: Admin, remote: str) -> Response:
    """Check that a stored connection answers."""
    ok, text = connection_check.check(database(request), company_id, remote)
    flash(request, text, "ok" if ok else "error")
    return _back(f"/c/{company_id}/settings")


# ------------------------------------------------------------------ audit


@router.get("/c/{company_id}/audit", response_class=HTMLResponse)
def audit_view(
    request: Request, company_id: Id, who: Reader, q: str = "", action: str = "", page: Page = 0
) -> Response:
    """The audit log, searchable, newest first."""
    rows, more = overview.audit_page(
        database(request).uow(company_id, read_only=True),
        text=q or None,
        action=action or None,
        page=page,
    )
    return render(
        request,
        "audit.html.j2",
        who=who,
        company_id=company_id,
        rows=rows,
        more=more,
        page=page,
        q=q,
        action=action,
    )
