"""An accounting office's pages: every company the user serves with what needs a person in
it (problems first), and the import of an office's client companies from an accountant's
Tripletex login, for an administrator. The tokens are sent in the form's body only (never in
a URL) and are not shown again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from adapter.flows import office
from adapter.i18n import _
from adapter.store.database import Database
from adapter.web.pages.security import Caller, check_csrf, require_user
from adapter.web.pages.views import render

router = APIRouter(include_in_schema=False)


def _db(request: Request) -> Database:
    return request.app.state.db


@router.get("/office", response_class=HTMLResponse)
def office_page(request: Request) -> Response:
    """Every company the user serves, with what needs a person, problems first."""
    who = require_user(request)
    db = _db(request)
    rows = office.office_overview(db, list(who.user.roles), db.clock.today())
    return render(
        request,
        "office.html.j2",
        who=who,
        rows=rows,
        may_import=office.may_import(db, who.user.id),
    )


def _administrator(request: Request) -> Caller:
    who = require_user(request)
    if not office.may_import(_db(request), who.user.id):
        raise HTTPException(403, _("only an administrator may import client companies"))
    return who


@router.get("/office/import", response_class=HTMLResponse)
def import_form(request: Request) -> Response:
    """The form: the accountant's Tripletex address and tokens."""
    who = _administrator(request)
    return render(request, "office_import.html.j2", who=who, outcomes=None)


async def _checked_administrator(request: Request) -> Caller:
    # A dependency, so who is asking and the CSRF token are checked before the form's fields.
    who = await run_in_threadpool(_administrator, request)
    await check_csrf(request, who)
    return who


@router.post("/office/import", response_class=HTMLResponse)
def import_clients(
    request: Request,
    who: Annotated[Caller, Depends(_checked_administrator)],
    base_url: Annotated[str, Form()],
    consumer_token: Annotated[str, Form()],
    employee_token: Annotated[str, Form()],
) -> Response:
    """Add and connect every client company the tokens reach (the same service as
    `kravflyt company import-clients`); what was done with each. Importing again adds
    nothing."""

    outcomes = office.import_for_admin(
        _db(request),
        user_id=who.user.id,
        email=who.user.email,
        base_url=base_url.strip(),
        consumer_token=consumer_token.strip(),
        employee_token=employee_token.strip(),
    )
    return render(request, "office_import.html.j2", who=who, outcomes=outcomes, base_url=base_url)
