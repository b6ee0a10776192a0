"""The settings page: grouped fields with Norwegian labels, check boxes, dropdowns and units;
a save checks every changed field, and refused ones come back in a banner at the top that
links to each field."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from adapter.errors import InputError
from adapter.i18n import _
from adapter.services import companies
from adapter.web import settings_form
from adapter.web.ids import Id
from adapter.web.pages.html import database, settings_rows
from adapter.web.pages.security import Admin, Caller, Reader
from adapter.web.pages.views import flash, render

router = APIRouter(include_in_schema=False)
SHOWN = "_shown"  # the check boxes a form showed: an unticked box sends nothing


def _current(request: Request, company_id: int) -> dict[str, str]:
    """Each setting's value as the form holds it (yes/no as true/false)."""
    values = {r["name"]: r["value"] for r in settings_rows(database(request), company_id)}
    return {k: v.lower() if v in ("True", "False") else v for k, v in values.items()}


def _page(
    request: Request,
    who: Caller,
    company_id: int,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    with database(request).uow(company_id, read_only=True) as uow:
        connected = uow.connections.configured()
    values = {**_current(request, company_id), **(typed or {})}
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in settings_form.fields():
        groups.setdefault(f.group, []).append(
            {"f": f, "value": values.get(f.name, ""), "error": (errors or {}).get(f.name)}
        )
    labels = {f.name: f.label for f in settings_form.fields()}
    return render(
        request,
        "settings.html.j2",
        who=who,
        company_id=company_id,
        groups=[(settings_form.group_title(g), rows) for g, rows in groups.items()],
        refused=[(name, labels.get(name, name), text) for name, text in (errors or {}).items()],
        connected=connected,
        status=400 if errors else 200,
    )


@router.get("/c/{company_id}/settings", response_class=HTMLResponse)
def settings_page(request: Request, company_id: Id, who: Reader) -> Response:
    """The company's settings (administrators may change them) and connections."""
    return _page(request, who, company_id)


def _typed(form: Any, current: dict[str, str]) -> dict[str, str]:
    """What the form says for each setting it carried: a shown check box that is absent is
    "false"; other fields as typed."""
    shown = set(form.getlist(SHOWN))
    typed = {name: str(form[name]).strip() for name in current if name in form}
    for name in shown & set(current):
        typed[name] = "true" if name in form else "false"
    return typed


@router.post("/c/{company_id}/settings")
async def save_settings(request: Request, company_id: Id, who: Admin) -> Response:
    """Store the changed settings together: every changed field is checked first, and when one
    is wrong none is written and the page comes back with what was typed and a banner. Async
    only to read the form; the database work runs in the thread pool."""
    form = await request.form()
    return await run_in_threadpool(_save, request, company_id, who, form)


def _save(request: Request, company_id: int, who: Caller, form: Any) -> Response:
    current = _current(request, company_id)
    typed = _typed(form, current)
    changed = {n: v for n, v in typed.items() if v != current[n]}
    if not changed:
        flash(request, _("Nothing was changed"))
        return RedirectResponse(f"/c/{company_id}/settings", status_code=303)
    db = database(request)
    assignments = [f"{n}={v}" for n, v in changed.items()]
    refused = companies.check_settings(db.uow(company_id, read_only=True), assignments)
    if not refused:
        try:
            companies.set_settings(db.uow(company_id), assignments, actor=f"web:{who.user.email}")
        except InputError as exc:  # several fields together break a rule
            refused = {exc.where.removeprefix("setting "): exc}
    if refused:
        # A rule may name another field than the one typed (a fee refused for the step's days).
        errors = {
            where if (where := e.where.removeprefix("setting ")) in current else name: e.text()
            for name, e in refused.items()
        }
        return _page(request, who, company_id, typed=typed, errors=errors)
    names = {f.name: f.label for f in settings_form.fields()}
    flash(request, _("Saved: %(names)s", names=", ".join(names.get(n, n) for n in changed)))
    return RedirectResponse(f"/c/{company_id}/settings", status_code=303)
