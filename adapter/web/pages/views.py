"""Rendering pages: the Jinja2 environment, the words of the user's language, money and dates."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from adapter import i18n
from adapter.i18n.labels import agency_said, event, label, who
from adapter.services import workers
from adapter.web.pages.security import Caller, csrf_token

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def kr(ore: int | None, unit: bool = True) -> str:
    """Øre as an amount in the page's language: "1 250,50 kr" ("1 250,50" without the unit)."""
    return i18n.kr(ore, i18n.current(), unit=unit)


def day(value: date | datetime | None) -> str:
    """A date as 15.03.2026 (a point in time with its time of day, in Oslo time)."""
    return i18n.day(value, i18n.current())


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html", "j2")),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["kr"] = kr
_env.filters["day"] = day


def said(item: Any) -> str:
    """A stored reason or message in the page's language: its `msgid` and `params` through the
    catalogue when it has them (see README, the message catalogue), else its stored text."""
    if not isinstance(item, dict) and isinstance(getattr(item, "msgid", None), str):
        item = {"msgid": item.msgid, "params": getattr(item, "params", None)}
    found = i18n.Message.from_json(item)
    if found is not None:
        return found.text(i18n.current())
    if isinstance(item, dict):
        return str(item.get("text") or item.get("message") or "")
    return str(getattr(item, "text", item))


# Text on the pages comes from the one catalogue: {{ _("Saved") }}, {{ label("stage", code) }}.
_env.globals.update(
    _=i18n.gettext,
    gettext=i18n.gettext,
    ngettext=i18n.ngettext,
    label=label,
    said=said,
    event=event,
    actor=who,
    agency=agency_said,
)


def language(request: Request) -> str:
    """The user's language: the session's choice, bokmål by default."""
    return str(request.session.get("lang") or i18n.DEFAULT)


def render(
    request: Request,
    template: str,
    *,
    who: Caller | None = None,
    company_id: int | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page, with the words, the user, the company menu, the CSRF token and any message."""
    flash = request.session.pop("flash", None)
    db = getattr(request.app.state, "db", None)
    # A company's pages warn when no worker has run lately: its work waits for one.
    worker_idle = (
        bool(who and company_id) and db is not None and workers.idle(db.uow(read_only=True))
    )
    with i18n.use(language(request)) as lang:
        body = _env.get_template(template).render(
            request=request,
            lang=lang,
            who=who,
            company_id=company_id,
            role=who.user.role(company_id) if who and company_id else None,
            can_write=bool(who and company_id and who.user.can_write(company_id)),
            csrf=csrf_token(request),
            flash=flash,
            worker_idle=worker_idle,
            **context,
        )
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


class PageNotFound(LookupError):
    """What a page is about is not there (an invoice number nobody has): a 404 page that
    says so in the person's words."""


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message shown once on the next page."""
    request.session["flash"] = {"kind": kind, "text": text}


def same_site_path(referer: str | None) -> str:
    """The path (and query) of the page a form came from: never a URL of another site."""
    ref = urlsplit(referer or "/")
    path = ref.path + (f"?{ref.query}" if ref.query else "")
    return path if path.startswith("/") and not path.startswith("//") else "/"


def inline_file(name: str) -> str:
    """A Content-Disposition value for a download named `name`, safe in a header whatever the
    name holds (an invoice number with a line break or quote cannot end the header early):
    a plain ASCII `filename` and the exact name as RFC 6266 `filename*`."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"inline; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
